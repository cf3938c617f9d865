/* devices.c — the device table (see devices.h). The in-kernel irqchip/PIT
 * (vm.c) provide PIC, IOAPIC, LAPIC, PIT and port 0x61; everything else a
 * guest can reach is a row below. Interrupt lines of legacy devices drive
 * KVM_IRQ_LINE on the VM fd; virtio devices interrupt through irqfds. */
#include "vmm/devices.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "bus/pci.h"
#include "common/log.h"
#include "core/state_buf.h"
#include "devices/acpi_pm.h"
#include "devices/boot_timer.h"
#include "devices/i8042.h"
#include "devices/rtc.h"
#include "devices/test_dev.h"
#include "devices/uart_8250.h"
#include "devices/vmgenid.h"
#include "virtio/console.h"
#include "virtio/net.h"
#include "virtio/vsock.h"
#include "vmm/devices_priv.h"
#include "vmm/vm.h"

/* vCPU/event thread, device unlocked: wake the input handler. */
void vm_console_rx_room(void *opaque)
{
	struct vm_devices *d = opaque;
	uint64_t one = 1;

	if (write(d->rx_room_fd, &one, sizeof(one)) < 0) {
		/* Counter saturated or fd gone: the input handler retries anyway. */
	}
}

/* KVM_IRQ_LINE drives the in-kernel PIC and IOAPIC pin for this GSI. */
static void kvm_set_irq(void *opaque, uint32_t gsi, int level)
{
	struct vm *vm = opaque;
	struct kvm_irq_level irq = { .irq = gsi, .level = (uint32_t)level };

	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq) < 0)
		bh_warn_guest("KVM_IRQ_LINE gsi %u level %d failed: %s", gsi, level,
			      strerror(errno));
}

int vm_dev_fail(struct vm *vm, const struct vm_device *d, int ret, const char *what)
{
	snprintf(vm->err, sizeof(vm->err), "cannot %s %s: %s", what, d->name, strerror(-ret));
	return ret;
}

/* ---- instance counts: what the configuration asks for ---- */

static unsigned one(const struct vm_config *cfg)
{
	(void)cfg;
	return 1;
}

static unsigned n_test(const struct vm_config *cfg)
{
	return cfg->test_device;
}

static unsigned n_disks(const struct vm_config *cfg)
{
	return cfg->ndisks;
}

static unsigned n_vcon(const struct vm_config *cfg)
{
	return cfg->console_device == CONSOLE_DEV_VIRTIO;
}

static unsigned n_rng(const struct vm_config *cfg)
{
	return cfg->rng;
}

static unsigned n_vsock(const struct vm_config *cfg)
{
	return cfg->vsock.socket != NULL;
}

static unsigned n_balloon(const struct vm_config *cfg)
{
	return cfg->balloon.enabled;
}

static unsigned n_nets(const struct vm_config *cfg)
{
	return cfg->nnets;
}

/* ---- legacy devices: the model lives in the VM's allocation ---- */


static int uart_attach(struct vm *vm, struct vm_device *d)
{
	struct vm_devices *ds = devs(vm);
	struct uart *u = calloc(1, sizeof(*u));
	int ret;

	if (!u)
		return -ENOMEM;
	ds->com1_irq = (struct irq_line){ kvm_set_irq, vm, UART_COM1_IRQ };
	if ((ret = uart_init(u, UART_COM1_BASE, &ds->com1_irq, console_sink(&vm->console)))) {
		free(u);
		return ret;
	}
	uart_set_rx_notify(u, vm_console_rx_room, ds);
	d->obj = ds->com1 = u;
	return 0;
}

static int uart_plug(struct vm *vm, struct vm_device *d)
{
	return uart_register(d->obj, &vm->pio);
}

static void uart_dev_destroy(struct vm *vm, struct vm_device *d)
{
	uart_destroy(d->obj);
	free(d->obj);
	devs(vm)->com1 = NULL;
}

static int kbd_attach(struct vm *vm, struct vm_device *d)
{
	struct vm_devices *ds = devs(vm);
	struct i8042 *k = calloc(1, sizeof(*k));
	int ret;

	if (!k)
		return -ENOMEM;
	ds->kbd_irq = (struct irq_line){ kvm_set_irq, vm, I8042_KBD_IRQ };
	ds->aux_irq = (struct irq_line){ kvm_set_irq, vm, I8042_AUX_IRQ };
	if ((ret = i8042_init(k, &vm->exit, &ds->kbd_irq, &ds->aux_irq))) {
		free(k);
		return ret;
	}
	d->obj = ds->kbd = k;
	return 0;
}

static int kbd_plug(struct vm *vm, struct vm_device *d)
{
	return i8042_register(d->obj, &vm->pio);
}

static void kbd_destroy(struct vm *vm, struct vm_device *d)
{
	i8042_destroy(d->obj);
	free(d->obj);
	devs(vm)->kbd = NULL;
}

static int rtc_attach(struct vm *vm, struct vm_device *d)
{
	struct rtc *r = calloc(1, sizeof(*r));
	int ret;

	(void)vm;
	if (!r)
		return -ENOMEM;
	if ((ret = rtc_init(r))) {
		free(r);
		return ret;
	}
	d->obj = r;
	return 0;
}

static int rtc_plug(struct vm *vm, struct vm_device *d)
{
	return rtc_register(d->obj, &vm->pio);
}

static void rtc_dev_destroy(struct vm *vm, struct vm_device *d)
{
	(void)vm;
	rtc_destroy(d->obj);
	free(d->obj);
}

static int timer_attach(struct vm *vm, struct vm_device *d)
{
	struct boot_timer *t = calloc(1, sizeof(*t));
	int ret;

	if (!t)
		return -ENOMEM;
	if ((ret = boot_timer_init(t, vm->cfg.start_ns))) {
		free(t);
		return ret;
	}
	d->obj = t;
	return 0;
}

static int timer_plug(struct vm *vm, struct vm_device *d)
{
	return boot_timer_register(d->obj, &vm->pio);
}

static void timer_destroy(struct vm *vm, struct vm_device *d)
{
	(void)vm;
	boot_timer_destroy(d->obj);
	free(d->obj);
}

static int pm_attach(struct vm *vm, struct vm_device *d)
{
	struct vm_devices *ds = devs(vm);
	struct acpi_pm *pm = calloc(1, sizeof(*pm));
	int ret;

	if (!pm)
		return -ENOMEM;
	ds->sci = (struct irq_line){ kvm_set_irq, vm, ACPI_PM_SCI_IRQ };
	if ((ret = acpi_pm_init(pm, &vm->exit, &ds->sci))) {
		free(pm);
		return ret;
	}
	d->obj = ds->pm = pm;
	return 0;
}

static int pm_plug(struct vm *vm, struct vm_device *d)
{
	return acpi_pm_register(d->obj, &vm->pio);
}

static void pm_destroy(struct vm *vm, struct vm_device *d)
{
	acpi_pm_destroy(d->obj);
	free(d->obj);
	devs(vm)->pm = NULL;
}

/* The VM generation ID: a row like any device, so a snapshot carries its
 * state and every restore (load) makes a new generation, told to the guest
 * when the VM resumes. Needs the acpi-pm row (earlier in the table). */
static int vmgenid_attach(struct vm *vm, struct vm_device *d)
{
	struct vmgenid *g = calloc(1, sizeof(*g));
	int ret;

	if (!g)
		return -ENOMEM;
	if (!devs(vm)->pm)
		ret = -ENODEV;
	else
		ret = vmgenid_init(g, &vm->mem, devs(vm)->pm);
	if (ret) {
		free(g);
		return ret;
	}
	d->obj = g;
	return 0;
}

static int vmgenid_plug(struct vm *vm, struct vm_device *d)
{
	char text[VMGENID_TEXT];
	struct vmgenid *g = d->obj;

	(void)vm;
	vmgenid_format(g->id, text);
	bh_dbg("vmgenid: generation ID %s at 0x%llx", text, (unsigned long long)g->gpa);
	return vmgenid_publish(g);
}

static void vmgenid_resume(struct vm *vm, struct vm_device *d)
{
	(void)vm;
	vmgenid_notify(d->obj);
}

static void free_obj(struct vm *vm, struct vm_device *d)
{
	(void)vm;
	free(d->obj);
}

static int test_attach(struct vm *vm, struct vm_device *d)
{
	struct test_dev *t = calloc(1, sizeof(*t));
	int ret;

	if (!t)
		return -ENOMEM;
	if ((ret = test_dev_init(t, &vm->exit))) {
		free(t);
		return ret;
	}
	d->obj = devs(vm)->test = t;
	return 0;
}

static int test_plug(struct vm *vm, struct vm_device *d)
{
	return test_dev_register(d->obj, &vm->pio);
}

static void test_destroy(struct vm *vm, struct vm_device *d)
{
	test_dev_destroy(d->obj);
	free(d->obj);
	devs(vm)->test = NULL;
}

static int pci_attach(struct vm *vm, struct vm_device *d)
{
	struct vm_devices *ds = devs(vm);
	struct pci_bus *bus = calloc(1, sizeof(*bus));
	int ret;

	if (!bus)
		return -ENOMEM;
	ds->intx = (struct irq_line){ kvm_set_irq, vm, 0 };
	if ((ret = pci_bus_init(bus, &ds->intx))) {
		free(bus);
		return ret;
	}
	d->obj = ds->pci = bus;
	return 0;
}

static int pci_plug(struct vm *vm, struct vm_device *d)
{
	return pci_bus_register(d->obj, &vm->pio, &vm->mmio);
}

static void pci_destroy(struct vm *vm, struct vm_device *d)
{
	pci_bus_destroy(d->obj);
	free(d->obj);
	devs(vm)->pci = NULL;
}

/* ---- legacy devices' state: each model saves and validates its own ---- */
#define LEGACY_STATE(prefix, type)                                                          \
	static void prefix##_dev_save(struct vm *vm, struct vm_device *d, struct sbuf *out)  \
	{                                                                                    \
		(void)vm;                                                                    \
		prefix##_save((type *)d->obj, out);                                          \
	}                                                                                    \
	static int prefix##_dev_load(struct vm *vm, struct vm_device *d, struct sreader *in, \
				     uint32_t version, char *err, size_t errlen)             \
	{                                                                                    \
		(void)vm;                                                                    \
		return prefix##_load((type *)d->obj, in, version, err, errlen);              \
	}
LEGACY_STATE(uart, struct uart)
LEGACY_STATE(i8042, struct i8042)
LEGACY_STATE(rtc, struct rtc)
LEGACY_STATE(boot_timer, struct boot_timer)
LEGACY_STATE(acpi_pm, struct acpi_pm)
LEGACY_STATE(test_dev, struct test_dev)
LEGACY_STATE(pci_bus, struct pci_bus)
LEGACY_STATE(vmgenid, struct vmgenid)
#define STATE_OPS(prefix, VERSION)                                                          \
	.state_version = VERSION, .save = prefix##_dev_save, .load = prefix##_dev_load

/* ---- THE table: creation order ---- */

static const struct vm_device_ops uart_ops = { .attach = uart_attach, .plug = uart_plug,
					       STATE_OPS(uart, UART_STATE_VERSION),
					       .destroy = uart_dev_destroy };
static const struct vm_device_ops kbd_ops = { .attach = kbd_attach, .plug = kbd_plug,
					      STATE_OPS(i8042, I8042_STATE_VERSION),
					      .destroy = kbd_destroy };
static const struct vm_device_ops rtc_ops = { .attach = rtc_attach, .plug = rtc_plug,
					      STATE_OPS(rtc, RTC_STATE_VERSION),
					      .destroy = rtc_dev_destroy };
static const struct vm_device_ops timer_ops = { .attach = timer_attach, .plug = timer_plug,
						STATE_OPS(boot_timer, BOOT_TIMER_STATE_VERSION),
						.destroy = timer_destroy };
static const struct vm_device_ops pm_ops = { .attach = pm_attach, .plug = pm_plug,
					     STATE_OPS(acpi_pm, ACPI_PM_STATE_VERSION),
					     .destroy = pm_destroy };
static const struct vm_device_ops vmgenid_ops = { .attach = vmgenid_attach,
						  .plug = vmgenid_plug,
						  .resume = vmgenid_resume,
						  STATE_OPS(vmgenid, VMGENID_STATE_VERSION),
						  .destroy = free_obj };
static const struct vm_device_ops test_ops = { .attach = test_attach, .plug = test_plug,
					       STATE_OPS(test_dev, TEST_DEV_STATE_VERSION),
					       .destroy = test_destroy };
static const struct vm_device_ops pci_ops = { .attach = pci_attach, .plug = pci_plug,
					      STATE_OPS(pci_bus, PCI_STATE_VERSION),
					      .destroy = pci_destroy };

/* Legacy devices first (COM1 IRQ 4, i8042 IRQ 1/12 with the CPU reset line,
 * CMOS RTC, boot timer port 0x440, ACPI PM 0x600-0x60b with the SCI on IRQ 9,
 * the VM generation ID (guest memory, notified through a GPE), the test device
 * 0xf0-0xfb), then the PCI host bridge (0xCF8-0xCFF and the BAR window), then
 * the virtio devices on PCI in slot order: disks (/dev/vda, ...), console,
 * rng, balloon, NICs (eth0, ...), vsock. Quiesce runs bottom-up, so the virtio devices
 * stop before their bus. */
static const struct vm_device_row device_table[] = {
	{ "com1", one, &uart_ops },
	{ "i8042", one, &kbd_ops },
	{ "rtc", one, &rtc_ops },
	{ "boot-timer", one, &timer_ops },
	{ "acpi-pm", one, &pm_ops },
	{ "vmgenid", one, &vmgenid_ops },
	{ "test-device", n_test, &test_ops },
	{ "pci", one, &pci_ops },
	{ "virtio-blk", n_disks, &vm_virtio_blk_ops },
	{ "virtio-console", n_vcon, &vm_virtio_console_ops },
	{ "virtio-rng", n_rng, &vm_virtio_rng_ops },
	{ "virtio-balloon", n_balloon, &vm_virtio_balloon_ops },
	{ "virtio-net", n_nets, &vm_virtio_net_ops },
	{ "virtio-vsock", n_vsock, &vm_virtio_vsock_ops },
};

const struct vm_device_row *vm_device_table(size_t *nrows)
{
	*nrows = BH_ARRAY_SIZE(device_table);
	return device_table;
}

int vm_devices_attach(struct vm *vm)
{
	struct vm_devices *ds = calloc(1, sizeof(*ds));
	int ret;

	if (!ds) {
		snprintf(vm->err, sizeof(vm->err), "cannot create the devices: out of memory");
		return -ENOMEM;
	}
	vm->dev = ds;
	ds->rx_room_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (ds->rx_room_fd < 0) {
		ret = -errno;
		snprintf(vm->err, sizeof(vm->err), "console input eventfd: %s", strerror(-ret));
		return ret;
	}
	for (size_t r = 0; r < BH_ARRAY_SIZE(device_table); r++) {
		const struct vm_device_row *row = &device_table[r];
		unsigned n = row->count(&vm->cfg);

		for (unsigned i = 0; i < n; i++) {
			struct vm_device *d;

			if (ds->ndev == VM_MAX_DEVICES) {
				snprintf(vm->err, sizeof(vm->err), "more than %d devices",
					 VM_MAX_DEVICES);
				return -E2BIG;
			}
			d = &ds->dev[ds->ndev++];
			d->row = row;
			d->index = i;
			if (n > 1 || !strncmp(row->name, "virtio-blk", 10))
				snprintf(d->name, sizeof(d->name), "%s%u", row->name, i);
			else
				snprintf(d->name, sizeof(d->name), "%s", row->name);
			if (row->ops->attach && (ret = row->ops->attach(vm, d))) {
				if (!vm->err[0])
					vm_dev_fail(vm, d, ret, "create");
				return ret;
			}
			d->attached = true;
		}
	}
	return 0;
}

int vm_devices_plug(struct vm *vm)
{
	struct vm_devices *ds = devs(vm);
	int ret;

	if (!ds)
		return -EINVAL;
	for (unsigned i = 0; i < ds->ndev; i++) {
		struct vm_device *d = &ds->dev[i];

		if (d->row->ops->plug && (ret = d->row->ops->plug(vm, d)))
			return vm_dev_fail(vm, d, ret, "plug in");
		d->plugged = true;
	}
	return 0;
}

void vm_devices_quiesce(struct vm *vm)
{
	struct vm_devices *ds = devs(vm);

	for (unsigned i = ds ? ds->ndev : 0; i-- > 0;) {
		struct vm_device *d = &ds->dev[i];

		if (d->plugged && !d->quiesced && d->row->ops->quiesce)
			d->row->ops->quiesce(vm, d);
		d->quiesced = true;
	}
	if (ds)
		ds->quiesced = true;
}

void vm_devices_resume(struct vm *vm)
{
	struct vm_devices *ds = devs(vm);

	for (unsigned i = 0; ds && i < ds->ndev; i++) {
		struct vm_device *d = &ds->dev[i];

		if (d->quiesced && d->row->ops->resume)
			d->row->ops->resume(vm, d);
		d->quiesced = false;
	}
	if (ds)
		ds->quiesced = false;
	/* Console input held while quiesced may flow again. */
	if (ds)
		vm_console_rx_room(ds);
}

bool vm_devices_quiesced(const struct vm *vm)
{
	const struct vm_devices *ds = vm->dev;

	return ds && ds->quiesced;
}

int vm_devices_save(struct vm *vm, struct sbuf *out)
{
	struct vm_devices *ds = devs(vm);

	if (!ds || !ds->quiesced)
		return -EBUSY;
	for (unsigned i = 0; i < ds->ndev; i++) {
		struct vm_device *d = &ds->dev[i];
		char name[VM_DEVICE_NAME_LEN] = { 0 };
		struct sbuf blob;

		if (!d->row->ops->save) {
			snprintf(vm->err, sizeof(vm->err),
				 "%s: saving its state is not supported yet", d->name);
			return -ENOTSUP;
		}
		sbuf_init(&blob);
		vm->err[0] = '\0';
		d->row->ops->save(vm, d, &blob);
		if (blob.err) {
			int ret = blob.err;

			sbuf_free(&blob);
			/* The op may have said why (it names the device). */
			if (!vm->err[0])
				snprintf(vm->err, sizeof(vm->err), "%s: saving its state: %s",
					 d->name, strerror(-ret));
			return ret;
		}
		strncpy(name, d->row->name, sizeof(name) - 1);
		sbuf_put(out, name, sizeof(name));
		sbuf_u32(out, d->index);
		sbuf_u32(out, d->row->ops->state_version);
		sbuf_u32(out, (uint32_t)blob.len);
		sbuf_put(out, blob.data, blob.len);
		sbuf_free(&blob);
	}
	return out->err;
}

int vm_devices_load(struct vm *vm, const void *buf, size_t len, char *err, size_t errlen)
{
	struct vm_devices *ds = devs(vm);
	struct sreader r;
	int ret;

	if (!ds || !ds->quiesced) {
		snprintf(err, errlen, "devices: not quiesced");
		return -EBUSY;
	}
	sr_init(&r, buf, len);
	for (unsigned i = 0; i < ds->ndev; i++) {
		struct vm_device *d = &ds->dev[i];
		char name[VM_DEVICE_NAME_LEN + 1] = { 0 };
		uint32_t index, version, blen;
		struct sreader blob;

		sr_get(&r, name, VM_DEVICE_NAME_LEN);
		index = sr_u32(&r);
		version = sr_u32(&r);
		blen = sr_u32(&r);
		if (r.bad) {
			snprintf(err, errlen, "device state: truncated before %s", d->name);
			return -EINVAL;
		}
		if (strcmp(name, d->row->name) || index != d->index) {
			snprintf(err, errlen, "device state: section %u is \"%.24s\" #%u, this VM's "
				 "device there is %s (a snapshot of another configuration?)", i,
				 name, index, d->name);
			return -EINVAL;
		}
		if (blen > SBUF_MAX || blen > r.len - r.off) {
			snprintf(err, errlen, "device state: %s: length %u beyond the data", d->name,
				 blen);
			return -EINVAL;
		}
		if (!d->row->ops->load) {
			snprintf(err, errlen, "%s: loading its state is not supported yet", d->name);
			return -ENOTSUP;
		}
		sr_init(&blob, r.p + r.off, blen);
		r.off += blen;
		if ((ret = d->row->ops->load(vm, d, &blob, version, err, errlen)))
			return ret;
	}
	if (r.off != r.len) {
		snprintf(err, errlen, "device state: %zu bytes after the last device",
			 r.len - r.off);
		return -EINVAL;
	}
	return 0;
}

void vm_devices_destroy(struct vm *vm)
{
	struct vm_devices *ds = devs(vm);

	if (!ds)
		return;
	for (unsigned i = ds->ndev; i-- > 0;) {
		struct vm_device *d = &ds->dev[i];

		if (d->attached && d->row->ops->destroy)
			d->row->ops->destroy(vm, d);
	}
	if (ds->rx_room_fd >= 0)
		close(ds->rx_room_fd);
	free(ds);
	vm->dev = NULL;
}

_Static_assert(VM_MAX_NETS == 4, "struct vm_identity's mac[]");

void vm_devices_identity(struct vm *vm, struct vm_identity *out)
{
	struct vm_devices *ds = devs(vm);

	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; ds && i < ds->ndev; i++) {
		struct vm_device *d = &ds->dev[i];

		if (!d->obj)
			continue;
		if (d->row->ops == &vm_virtio_net_ops && out->nnets < VM_MAX_NETS &&
		    virtio_net_of(d->obj))
			virtio_net_mac(virtio_net_of(d->obj), out->mac[out->nnets++]);
		else if (d->row->ops == &vm_virtio_vsock_ops)
			out->vsock_cid = virtio_vsock_cid(virtio_vsock_of(d->obj));
		else if (d->row->ops == &vmgenid_ops)
			memcpy(out->genid, ((struct vmgenid *)d->obj)->id, sizeof(out->genid));
	}
}

void vm_devices_identity_log(struct vm *vm, const char *what)
{
	struct vm_identity id;
	char text[256], gen[VMGENID_TEXT];
	size_t n;

	vm_devices_identity(vm, &id);
	vmgenid_format(id.genid, gen);
	n = (size_t)snprintf(text, sizeof(text), "%s: generation ID %s", what, gen);
	for (unsigned i = 0; i < id.nnets && n < sizeof(text); i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
				      ", virtio-net%u MAC %02x:%02x:%02x:%02x:%02x:%02x", i,
				      id.mac[i][0], id.mac[i][1], id.mac[i][2], id.mac[i][3],
				      id.mac[i][4], id.mac[i][5]);
	if (id.vsock_cid && n < sizeof(text))
		snprintf(text + n, sizeof(text) - n, ", vsock CID %llu",
			 (unsigned long long)id.vsock_cid);
	bh_info("%s", text);
}

size_t vm_devices_console_input(struct vm *vm, const uint8_t *buf, size_t len)
{
	struct vm_devices *ds = devs(vm);

	if (!ds)
		return 0;
	if (vm_pause_io_cut(&vm->pause))
		return len; /* quarantined: console input is discarded */
	if (vm_devices_quiesced(vm))
		return 0;   /* paused: held until resume (which signals room) */
	if (ds->vcon)
		return virtio_console_input(ds->vcon, buf, len);
	return ds->com1 ? uart_receive(ds->com1, buf, len) : len;
}

int vm_devices_ctrl_alt_del(struct vm *vm)
{
	return vm->dev && devs(vm)->kbd ? i8042_ctrl_alt_del(devs(vm)->kbd) : -ENODEV;
}

int vm_devices_console_room_fd(struct vm *vm)
{
	return vm->dev ? devs(vm)->rx_room_fd : -1;
}

void vm_devices_report(struct vm *vm)
{
	struct vm_devices *ds = devs(vm);

	if (!ds)
		return;
	/* Only for guests that check in (smp), and quiet under -q. */
	if (ds->test && test_dev_checked_in(ds->test))
		bh_info("test-device: %u vCPUs checked in", test_dev_checked_in(ds->test));
	if (atomic_load(&vm->pio.unclaimed) || atomic_load(&vm->mmio.unclaimed))
		bh_info("unclaimed accesses: %llu PIO, %llu MMIO (reads gave all-ones/zero, "
			"writes were dropped; -v shows them)",
			(unsigned long long)atomic_load(&vm->pio.unclaimed),
			(unsigned long long)atomic_load(&vm->mmio.unclaimed));
	vm_balloon_report(vm);
	if (vm->console.dropped)
		bh_warn("console: %llu bytes of guest output dropped (cap %llu bytes)",
			(unsigned long long)vm->console.dropped,
			(unsigned long long)vm->console.max_bytes);
}
