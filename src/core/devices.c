/* devices.c — the VM's devices, created in one explicit order:
 *   COM1 UART (IRQ 4) -> console;  i8042 (IRQ 1/12, CPU reset);  CMOS RTC;
 *   boot timer (port 0x440);  ACPI PM registers (0x600-0x602: S5 off, reset);
 *   test device (only with --test-device);
 *   PCI host bridge (0xCF8-0xCFF, BAR window), then on PCI, in this order:
 *   virtio-blk per --disk, virtio-console (--console virtio), virtio-rng.
 * The virtio device models are built first (vm_devices_prepare) because
 * they hold operator input (disk images); their PCI transports come later.
 * The in-kernel irqchip/PIT (vm.c) provide PIC, IOAPIC, LAPIC, PIT and
 * port 0x61. Interrupt lines are wired to KVM_IRQ_LINE on the VM fd. */
#include "devices.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "bus/pci.h"
#include "common/log.h"
#include "core/vm.h"
#include "virtio/blk.h"
#include "virtio/console.h"
#include "virtio/pci_transport.h"
#include "virtio/rng.h"
#include "devices/acpi_pm.h"
#include "devices/boot_timer.h"
#include "devices/i8042.h"
#include "devices/rtc.h"
#include "devices/test_dev.h"
#include "devices/uart_8250.h"

struct vm_devices {
	struct irq_line com1_irq, kbd_irq, aux_irq;
	struct uart com1;
	struct i8042 kbd;
	struct rtc rtc;
	struct boot_timer boot_timer;
	struct test_dev test;
	struct acpi_pm acpi_pm;
	bool com1_ok, kbd_ok, rtc_ok, boot_timer_ok, test_ok;
	int rx_room_fd; /* eventfd: the console device can take input again */
	/* PCI and virtio */
	struct pci_bus pci;
	bool pci_ok;
	struct virtio_blk *blk[VM_MAX_DISKS];
	unsigned nblk;
	struct virtio_console *vcon;    /* --console virtio */
	struct virtio_rng *rng;
	struct virtio_pci *vpci[VM_MAX_DISKS + 2];
	unsigned nvpci;
};

/* vCPU/event thread, device unlocked: wake the input handler. */
static void com1_rx_room(void *opaque)
{
	struct vm_devices *d = opaque;
	uint64_t one = 1;

	if (write(d->rx_room_fd, &one, sizeof(one)) < 0) {
		/* Counter saturated or fd gone: the input thread retries anyway. */
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

static int dev_fail(struct vm *vm, int ret, const char *what)
{
	snprintf(vm->err, sizeof(vm->err), "cannot create %s: %s", what, strerror(-ret));
	return ret;
}

int vm_devices_prepare(struct vm *vm)
{
	struct vm_devices *d = calloc(1, sizeof(*d));
	char err[sizeof(vm->err) / 2];
	int ret;

	if (!d)
		return dev_fail(vm, -ENOMEM, "devices");
	vm->dev = d;
	d->rx_room_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->rx_room_fd < 0)
		return dev_fail(vm, -errno, "console input eventfd");
	for (unsigned i = 0; i < vm->cfg.ndisks; i++) {
		err[0] = '\0';
		ret = virtio_blk_create(&d->blk[i], &vm->cfg.disks[i], i, &vm->mem, &vm->el,
					BLOCK_MODE_AUTO, err, sizeof(err));
		if (ret) {
			/* A disk that cannot be used is the operator's input. */
			vm->err_is_config = ret != -ENOMEM;
			snprintf(vm->err, sizeof(vm->err), "--disk %.200s: %s", vm->cfg.disks[i].path,
				 err[0] ? err : strerror(-ret));
			return ret;
		}
		d->nblk++;
	}
	if (vm->cfg.console_device == CONSOLE_DEV_VIRTIO) {
		if ((ret = virtio_console_create(&d->vcon, &vm->mem, console_sink(&vm->console),
						 &vm->el)))
			return dev_fail(vm, ret, "virtio-console");
		virtio_console_set_rx_notify(d->vcon, com1_rx_room, d);
	}
	if (vm->cfg.rng && (ret = virtio_rng_create(&d->rng, &vm->mem, &vm->el)))
		return dev_fail(vm, ret, "virtio-rng");
	return 0;
}

/* Plug one virtio device into the PCI bus. */
static int add_virtio(struct vm *vm, struct virtio_dev *vd)
{
	struct vm_devices *d = vm->dev;
	struct vpci_env env = { vm->vm_fd, &d->pci, &vm->router, &vm->el };
	struct virtio_pci *vp = calloc(1, sizeof(*vp));
	int ret;

	if (!vp)
		return dev_fail(vm, -ENOMEM, vd->name);
	d->vpci[d->nvpci++] = vp;
	if ((ret = virtio_pci_create(vp, vd, &env)))
		return dev_fail(vm, ret, vd->name);
	bh_dbg("%s on PCI 00:%02x.0, BAR0 0x%llx", vd->name, vp->pci.slot,
	       (unsigned long long)vp->pci.bar_decoded[0]);
	return 0;
}

static int create_pci(struct vm *vm)
{
	struct vm_devices *d = vm->dev;
	struct irq_line intx = { kvm_set_irq, vm, 0 };
	int ret;

	if ((ret = pci_bus_init(&d->pci, &intx)))
		return dev_fail(vm, ret, "PCI bus");
	d->pci_ok = true;
	if ((ret = pci_bus_register(&d->pci, &vm->pio, &vm->mmio)))
		return dev_fail(vm, ret, "PCI configuration ports");
	for (unsigned i = 0; i < d->nblk; i++)
		if ((ret = add_virtio(vm, virtio_blk_dev(d->blk[i]))))
			return ret;
	if (d->vcon && (ret = add_virtio(vm, virtio_console_dev(d->vcon))))
		return ret;
	if (d->rng && (ret = add_virtio(vm, virtio_rng_dev(d->rng))))
		return ret;
	return 0;
}

int vm_devices_create(struct vm *vm)
{
	struct vm_devices *d = vm->dev;
	int ret;

	if (!d)
		return dev_fail(vm, -EINVAL, "devices (not prepared)");
	d->com1_irq = (struct irq_line){ kvm_set_irq, vm, UART_COM1_IRQ };
	d->kbd_irq = (struct irq_line){ kvm_set_irq, vm, I8042_KBD_IRQ };
	d->aux_irq = (struct irq_line){ kvm_set_irq, vm, I8042_AUX_IRQ };

	if ((ret = uart_init(&d->com1, UART_COM1_BASE, &d->com1_irq, console_sink(&vm->console))))
		return dev_fail(vm, ret, "COM1");
	d->com1_ok = true;
	uart_set_rx_notify(&d->com1, com1_rx_room, d);
	if ((ret = uart_register(&d->com1, &vm->pio)))
		return dev_fail(vm, ret, "COM1 ports");

	if ((ret = i8042_init(&d->kbd, &vm->exit, &d->kbd_irq, &d->aux_irq)))
		return dev_fail(vm, ret, "i8042");
	d->kbd_ok = true;
	if ((ret = i8042_register(&d->kbd, &vm->pio)))
		return dev_fail(vm, ret, "i8042 ports");

	if ((ret = rtc_init(&d->rtc)))
		return dev_fail(vm, ret, "RTC");
	d->rtc_ok = true;
	if ((ret = rtc_register(&d->rtc, &vm->pio)))
		return dev_fail(vm, ret, "RTC ports");

	if ((ret = boot_timer_init(&d->boot_timer, vm->cfg.start_ns)))
		return dev_fail(vm, ret, "boot timer");
	d->boot_timer_ok = true;
	if ((ret = boot_timer_register(&d->boot_timer, &vm->pio)))
		return dev_fail(vm, ret, "boot timer port");

	acpi_pm_init(&d->acpi_pm, &vm->exit);
	if ((ret = acpi_pm_register(&d->acpi_pm, &vm->pio)))
		return dev_fail(vm, ret, "ACPI PM ports");

	if (vm->cfg.test_device) {
		if ((ret = test_dev_init(&d->test, &vm->exit)))
			return dev_fail(vm, ret, "test device");
		d->test_ok = true;
		if ((ret = test_dev_register(&d->test, &vm->pio)))
			return dev_fail(vm, ret, "test device ports");
	}
	return create_pci(vm);
}

void vm_devices_destroy(struct vm *vm)
{
	struct vm_devices *d = vm->dev;

	if (!d)
		return;
	for (unsigned i = 0; i < d->nvpci; i++) {
		virtio_pci_destroy(d->vpci[i]);
		free(d->vpci[i]);
	}
	for (unsigned i = 0; i < d->nblk; i++)
		virtio_blk_dev(d->blk[i])->ops->destroy(virtio_blk_dev(d->blk[i]));
	if (d->vcon)
		virtio_console_dev(d->vcon)->ops->destroy(virtio_console_dev(d->vcon));
	if (d->rng)
		virtio_rng_dev(d->rng)->ops->destroy(virtio_rng_dev(d->rng));
	if (d->pci_ok)
		pci_bus_destroy(&d->pci);
	if (d->test_ok)
		test_dev_destroy(&d->test);
	if (d->boot_timer_ok)
		boot_timer_destroy(&d->boot_timer);
	if (d->rtc_ok)
		rtc_destroy(&d->rtc);
	if (d->kbd_ok)
		i8042_destroy(&d->kbd);
	if (d->com1_ok)
		uart_destroy(&d->com1);
	if (d->rx_room_fd >= 0)
		close(d->rx_room_fd);
	free(d);
	vm->dev = NULL;
}

size_t vm_devices_console_input(struct vm *vm, const uint8_t *buf, size_t len)
{
	if (!vm->dev)
		return 0;
	if (vm_pause_io_cut(&vm->pause))
		return len; /* quarantined: console input is discarded */
	if (vm->dev->vcon)
		return virtio_console_input(vm->dev->vcon, buf, len);
	return uart_receive(&vm->dev->com1, buf, len);
}

int vm_devices_ctrl_alt_del(struct vm *vm)
{
	return vm->dev && vm->dev->kbd_ok ? i8042_ctrl_alt_del(&vm->dev->kbd) : -ENODEV;
}

int vm_devices_console_room_fd(struct vm *vm)
{
	return vm->dev ? vm->dev->rx_room_fd : -1;
}

void vm_devices_report(struct vm *vm)
{
	struct vm_devices *d = vm->dev;

	if (!d)
		return;
	/* Only for guests that check in (smp), and quiet under -q. */
	if (d->test_ok && test_dev_checked_in(&d->test))
		bh_info("test-device: %u vCPUs checked in", test_dev_checked_in(&d->test));
	if (atomic_load(&vm->pio.unclaimed) || atomic_load(&vm->mmio.unclaimed))
		bh_info("unclaimed accesses: %llu PIO, %llu MMIO (reads gave all-ones/zero, "
			"writes were dropped; -v shows them)",
			(unsigned long long)atomic_load(&vm->pio.unclaimed),
			(unsigned long long)atomic_load(&vm->mmio.unclaimed));
	if (vm->console.dropped)
		bh_warn("console: %llu bytes of guest output dropped (cap %llu bytes)",
			(unsigned long long)vm->console.dropped,
			(unsigned long long)vm->console.max_bytes);
}
