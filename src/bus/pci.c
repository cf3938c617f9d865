/* pci.c — see pci.h. */
#include "pci.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

#define CFG_ADDR_ENABLE 0x80000000u
#define CFG_ADDR_MASK 0x80fffffcu /* enable, bus, device, function, register */

/* Host bridge identity: Red Hat's "QEMU PCI host bridge" id, class 06/00/00. */
#define HB_VENDOR 0x1b36
#define HB_DEVICE 0x0008
#define PCI_CLASS_HOST_BRIDGE 0x060000

static struct pci_dev *lookup(struct pci_bus *bus, unsigned devfn)
{
	unsigned slot = (devfn >> 3) & 0x1f;

	if ((devfn & 7) != 0)
		return NULL; /* single-function devices only */
	return slot == 0 ? &bus->host_bridge : bus->slots[slot];
}

static void intx_apply(struct pci_dev *dev, int level, bool keep);

static uint32_t ones(uint32_t len)
{
	return len >= 4 ? 0xffffffffu : (1u << (8 * len)) - 1;
}

/* Is [addr, addr+size) free of every other decoded BAR? Bus lock held. */
static bool bar_free(struct pci_bus *bus, const struct pci_dev *self, unsigned self_bar,
		     uint64_t addr, uint64_t size)
{
	for (unsigned s = 1; s < PCI_MAX_SLOTS; s++) {
		const struct pci_dev *d = bus->slots[s];

		if (!d)
			continue;
		for (unsigned b = 0; b < PCI_NUM_BARS; b++) {
			uint64_t a = d->bar_decoded[b];

			if (!a || (d == self && b == self_bar))
				continue;
			if (addr < a + d->bar_size[b] && a < addr + size)
				return false;
		}
	}
	return true;
}

/* Recompute where each BAR of dev is decoded and tell the owner about
 * changes. Bus lock held. */
static void update_bars(struct pci_bus *bus, struct pci_dev *dev)
{
	bool mem_on = pci_get16(&dev->cfg[PCI_COMMAND]) & PCI_COMMAND_MEMORY;

	for (unsigned b = 0; b < PCI_NUM_BARS; b++) {
		uint64_t size = dev->bar_size[b];
		uint64_t addr = pci_get32(&dev->cfg[PCI_BAR0 + 4 * b]) & ~0xfull;
		uint64_t now = 0;

		if (!size)
			continue;
		if (mem_on && addr >= PCI_MMIO_WIN_BASE && addr + size <= PCI_MMIO_WIN_END &&
		    bar_free(bus, dev, b, addr, size))
			now = addr;
		else if (mem_on)
			bh_dbg_guest("pci %s: BAR%u at 0x%llx not decoded (outside the window or "
				     "overlapping)", dev->name, b, (unsigned long long)addr);
		if (now == dev->bar_decoded[b])
			continue;
		if (dev->bar_decoded[b] && dev->ops && dev->ops->bar_mapped)
			dev->ops->bar_mapped(dev, b, dev->bar_decoded[b], false);
		dev->bar_decoded[b] = now;
		if (now && dev->ops && dev->ops->bar_mapped)
			dev->ops->bar_mapped(dev, b, now, true);
	}
}

uint32_t pci_cfg_read(struct pci_bus *bus, unsigned devfn, uint32_t off, uint32_t len)
{
	struct pci_dev *dev;
	uint32_t val = 0;

	if ((len != 1 && len != 2 && len != 4) || off >= PCI_CFG_SIZE ||
	    off + len > PCI_CFG_SIZE) {
		atomic_fetch_add(&bus->bad_accesses, 1);
		return ones(len);
	}
	pthread_mutex_lock(&bus->lock);
	dev = lookup(bus, devfn);
	if (!dev) {
		pthread_mutex_unlock(&bus->lock);
		return ones(len);
	}
	for (uint32_t i = 0; i < len; i++)
		val |= (uint32_t)dev->cfg[off + i] << (8 * i);
	/* Status bit 3 mirrors the INTx level. */
	if (off <= PCI_STATUS && off + len > PCI_STATUS && atomic_load(&dev->intx_status))
		val |= (uint32_t)PCI_STATUS_INTERRUPT << (8 * (PCI_STATUS - off));
	if (off >= PCI_CAP_START && dev->ops && dev->ops->cfg_read) {
		uint32_t v;

		if (dev->ops->cfg_read(dev, off, len, &v))
			val = v & ones(len);
	}
	pthread_mutex_unlock(&bus->lock);
	return val;
}

void pci_cfg_write(struct pci_bus *bus, unsigned devfn, uint32_t off, uint32_t val, uint32_t len)
{
	struct pci_dev *dev;
	bool bars = false, cmd = false;

	if ((len != 1 && len != 2 && len != 4) || off >= PCI_CFG_SIZE ||
	    off + len > PCI_CFG_SIZE) {
		atomic_fetch_add(&bus->bad_accesses, 1);
		return;
	}
	pthread_mutex_lock(&bus->lock);
	dev = lookup(bus, devfn);
	if (!dev) {
		pthread_mutex_unlock(&bus->lock);
		return;
	}
	for (uint32_t i = 0; i < len; i++) {
		uint32_t o = off + i;
		uint8_t m = dev->wmask[o], b = (uint8_t)(val >> (8 * i));

		dev->cfg[o] = (uint8_t)((dev->cfg[o] & ~m) | (b & m));
		if (o >= PCI_BAR0 && o < PCI_BAR0 + 4 * PCI_NUM_BARS)
			bars = true;
		if (o == PCI_COMMAND || o == PCI_COMMAND + 1)
			cmd = true;
	}
	if (cmd) {
		bool dis = pci_get16(&dev->cfg[PCI_COMMAND]) & PCI_COMMAND_INTX_DISABLE;

		atomic_store(&dev->intx_disabled, dis);
	}
	if (bars || cmd)
		update_bars(bus, dev);
	if (cmd && dev != &bus->host_bridge)
		intx_apply(dev, 0, true); /* the INTx-disable bit may have changed */
	if ((off >= PCI_CAP_START || cmd) && dev->ops && dev->ops->cfg_written)
		dev->ops->cfg_written(dev, off, len);
	pthread_mutex_unlock(&bus->lock);
}

/* ---- 0xCF8-0xCFF ---- */

static void cfg_port_read(void *opaque, uint64_t offset, void *data, uint32_t len)
{
	struct pci_bus *bus = opaque;
	uint32_t addr = __atomic_load_n(&bus->config_addr, __ATOMIC_RELAXED), v;

	if (offset == 0 && len == 4) {
		v = addr;
	} else if (offset >= 4 && (offset & 3) + len <= 4 && (addr & CFG_ADDR_ENABLE) &&
		   ((addr >> 16) & 0xff) == 0) {
		v = pci_cfg_read(bus, (addr >> 8) & 0xff, (addr & 0xfc) + (uint32_t)(offset & 3),
				 len);
	} else {
		v = 0xffffffffu;
	}
	memcpy(data, &v, len > 4 ? 4 : len);
	if (len > 4)
		memset((uint8_t *)data + 4, 0xff, len - 4);
}

static void cfg_port_write(void *opaque, uint64_t offset, const void *data, uint32_t len)
{
	struct pci_bus *bus = opaque;
	uint32_t v = 0, addr;

	memcpy(&v, data, len > 4 ? 4 : len);
	if (offset == 0 && len == 4) {
		__atomic_store_n(&bus->config_addr, v & CFG_ADDR_MASK, __ATOMIC_RELAXED);
		return;
	}
	addr = __atomic_load_n(&bus->config_addr, __ATOMIC_RELAXED);
	if (offset >= 4 && (offset & 3) + len <= 4 && (addr & CFG_ADDR_ENABLE) &&
	    ((addr >> 16) & 0xff) == 0)
		pci_cfg_write(bus, (addr >> 8) & 0xff, (addr & 0xfc) + (uint32_t)(offset & 3), v,
			      len);
	/* anything else (e.g. Linux's byte probe of 0xCFB) is ignored */
}

static const struct io_dev_ops cfg_port_ops = { cfg_port_read, cfg_port_write };

/* ---- the BAR window ---- */

/* Find the BAR decoding [addr, addr+len). Copies what the access needs so it
 * runs without the bus lock. */
static bool bar_lookup(struct pci_bus *bus, uint64_t addr, uint32_t len,
		       const struct io_dev_ops **ops, void **opaque, uint64_t *off)
{
	bool found = false;

	pthread_mutex_lock(&bus->lock);
	for (unsigned s = 1; s < PCI_MAX_SLOTS && !found; s++) {
		struct pci_dev *d = bus->slots[s];

		if (!d)
			continue;
		for (unsigned b = 0; b < PCI_NUM_BARS; b++) {
			uint64_t a = d->bar_decoded[b];

			if (a && addr >= a && addr + len <= a + d->bar_size[b]) {
				*ops = d->bar_ops[b];
				*opaque = d->bar_opaque[b];
				*off = addr - a;
				found = true;
				break;
			}
		}
	}
	pthread_mutex_unlock(&bus->lock);
	return found;
}

static void win_read(void *opaque, uint64_t offset, void *data, uint32_t len)
{
	struct pci_bus *bus = opaque;
	const struct io_dev_ops *ops;
	void *dev;
	uint64_t off;

	if (bar_lookup(bus, PCI_MMIO_WIN_BASE + offset, len, &ops, &dev, &off)) {
		ops->read(dev, off, data, len);
		return;
	}
	memset(data, 0, len);
	bh_dbg_guest("pci: MMIO read of 0x%llx (%u bytes): no BAR decodes it",
		     (unsigned long long)(PCI_MMIO_WIN_BASE + offset), len);
}

static void win_write(void *opaque, uint64_t offset, const void *data, uint32_t len)
{
	struct pci_bus *bus = opaque;
	const struct io_dev_ops *ops;
	void *dev;
	uint64_t off;

	if (bar_lookup(bus, PCI_MMIO_WIN_BASE + offset, len, &ops, &dev, &off))
		ops->write(dev, off, data, len);
	else
		bh_dbg_guest("pci: MMIO write to 0x%llx (%u bytes): no BAR decodes it",
			     (unsigned long long)(PCI_MMIO_WIN_BASE + offset), len);
}

static const struct io_dev_ops win_ops = { win_read, win_write };

/* ---- setup ---- */

void pci_dev_init(struct pci_dev *dev, const char *name, uint16_t vendor, uint16_t device,
		  uint32_t class_code, uint8_t revision, uint16_t subsys_vendor, uint16_t subsys_id)
{
	memset(dev, 0, sizeof(*dev));
	dev->name = name;
	pci_put16(&dev->cfg[PCI_VENDOR_ID], vendor);
	pci_put16(&dev->cfg[PCI_DEVICE_ID], device);
	dev->cfg[PCI_REVISION_ID] = revision;
	dev->cfg[PCI_CLASS_PROG] = (uint8_t)class_code;
	dev->cfg[PCI_CLASS_PROG + 1] = (uint8_t)(class_code >> 8);
	dev->cfg[PCI_CLASS_PROG + 2] = (uint8_t)(class_code >> 16);
	pci_put16(&dev->cfg[PCI_SUBSYSTEM_VENDOR_ID], subsys_vendor);
	pci_put16(&dev->cfg[PCI_SUBSYSTEM_ID], subsys_id);
	pci_put16(&dev->wmask[PCI_COMMAND],
		  PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
	dev->cfg[PCI_INTERRUPT_PIN] = 1; /* INTA# */
	dev->wmask[PCI_INTERRUPT_LINE] = 0xff; /* scratch register for the OS */
	dev->cap_end = PCI_CAP_START;
}

int pci_dev_set_bar(struct pci_dev *dev, unsigned bar, uint32_t size,
		    const struct io_dev_ops *ops, void *opaque)
{
	if (bar >= PCI_NUM_BARS || size < 4096 || (size & (size - 1)) || !ops || dev->bus)
		return -EINVAL;
	dev->bar_size[bar] = size;
	dev->bar_ops[bar] = ops;
	dev->bar_opaque[bar] = opaque;
	/* 32-bit, non-prefetchable memory BAR: the low 4 bits read 0. */
	pci_put32(&dev->wmask[PCI_BAR0 + 4 * bar], ~(size - 1) & ~0xfu);
	return 0;
}

int pci_dev_add_cap(struct pci_dev *dev, uint8_t id, const uint8_t *body, uint32_t len,
		    const uint8_t *wmask)
{
	uint32_t off = BH_ALIGN_UP((uint32_t)dev->cap_end, 4u);

	if (len < 2 || off + len > PCI_CFG_SIZE)
		return -ENOSPC;
	dev->cfg[off] = id;
	dev->cfg[off + 1] = 0;
	if (len > 2)
		memcpy(&dev->cfg[off + 2], body, len - 2);
	if (wmask)
		memcpy(&dev->wmask[off], wmask, len);
	dev->wmask[off] = dev->wmask[off + 1] = 0; /* id and next are read-only */
	if (dev->cap_last)
		dev->cfg[dev->cap_last + 1] = (uint8_t)off;
	else
		dev->cfg[PCI_CAPABILITY_LIST] = (uint8_t)off;
	pci_put16(&dev->cfg[PCI_STATUS], pci_get16(&dev->cfg[PCI_STATUS]) | PCI_STATUS_CAP_LIST);
	dev->cap_last = (uint8_t)off;
	dev->cap_end = (uint8_t)(off + len);
	return (int)off;
}

int pci_bus_init(struct pci_bus *bus, const struct irq_line *intx)
{
	memset(bus, 0, sizeof(*bus));
	if (pthread_mutex_init(&bus->lock, NULL))
		return -ENOMEM;
	bus->lock_ok = true;
	if (pthread_mutex_init(&bus->intx_lock, NULL))
		return -ENOMEM;
	bus->intx_lock_ok = true;
	if (intx)
		bus->intx_line = *intx;
	bus->next_bar = PCI_MMIO_WIN_BASE;
	pci_dev_init(&bus->host_bridge, "host-bridge", HB_VENDOR, HB_DEVICE, PCI_CLASS_HOST_BRIDGE,
		     0, HB_VENDOR, 0x1100);
	bus->host_bridge.cfg[PCI_INTERRUPT_PIN] = 0;
	bus->host_bridge.wmask[PCI_INTERRUPT_LINE] = 0;
	pci_put16(&bus->host_bridge.cfg[PCI_COMMAND], PCI_COMMAND_MEMORY);
	bus->host_bridge.bus = bus;
	return 0;
}

int pci_bus_register(struct pci_bus *bus, struct io_bus *pio, struct io_bus *mmio)
{
	int ret = io_bus_register(pio, PCI_CONFIG_ADDR_PORT, PCI_CONFIG_PORTS, &cfg_port_ops, bus,
				  "pci-config");

	if (ret)
		return ret;
	return io_bus_register(mmio, PCI_MMIO_WIN_BASE, PCI_MMIO_WIN_END - PCI_MMIO_WIN_BASE,
			       &win_ops, bus, "pci-window");
}

int pci_bus_add(struct pci_bus *bus, struct pci_dev *dev)
{
	unsigned slot;
	uint64_t cur = bus->next_bar;

	for (slot = 1; slot < PCI_MAX_SLOTS && bus->slots[slot]; slot++)
		;
	if (slot == PCI_MAX_SLOTS)
		return -ENOSPC;
	/* Pre-assign BARs, naturally aligned, as firmware would. */
	for (unsigned b = 0; b < PCI_NUM_BARS; b++) {
		uint64_t size = dev->bar_size[b];

		if (!size)
			continue;
		cur = BH_ALIGN_UP(cur, size);
		if (cur + size > PCI_MMIO_WIN_END)
			return -ENOSPC;
		pci_put32(&dev->cfg[PCI_BAR0 + 4 * b], (uint32_t)cur);
		cur += size;
	}
	bus->next_bar = cur;
	dev->slot = slot;
	dev->bus = bus;
	dev->cfg[PCI_INTERRUPT_LINE] = (uint8_t)PCI_INTX_GSI(slot);
	pci_put16(&dev->cfg[PCI_COMMAND], PCI_COMMAND_MEMORY);
	pthread_mutex_lock(&bus->lock);
	bus->slots[slot] = dev;
	update_bars(bus, dev);
	pthread_mutex_unlock(&bus->lock);
	return 0;
}

/* Set the pin's level (keep: re-evaluate the current level after the
 * INTx-disable bit changed). The GSI is the OR of every device wired to it. */
static void intx_apply(struct pci_dev *dev, int level, bool keep)
{
	struct pci_bus *bus = dev->bus;
	unsigned idx;
	int want, eff;

	if (!bus || !dev->slot)
		return;
	idx = PCI_INTX_GSI(dev->slot) - PCI_INTX_GSI_BASE;
	pthread_mutex_lock(&bus->intx_lock);
	want = keep ? dev->intx_level : !!level;
	eff = want && !atomic_load(&dev->intx_disabled);
	dev->intx_level = want;
	atomic_store(&dev->intx_status, want);
	if (eff != dev->intx_eff) {
		unsigned before = bus->intx_count[idx];

		bus->intx_count[idx] = eff ? before + 1 : before - 1;
		dev->intx_eff = eff;
		if ((before == 0) != (bus->intx_count[idx] == 0) && bus->intx_line.set_level)
			bus->intx_line.set_level(bus->intx_line.opaque,
						 (uint32_t)PCI_INTX_GSI(dev->slot), eff);
	}
	pthread_mutex_unlock(&bus->intx_lock);
}

void pci_intx_set(struct pci_dev *dev, int level)
{
	intx_apply(dev, level, false);
}

void pci_bus_destroy(struct pci_bus *bus)
{
	if (bus->intx_lock_ok)
		pthread_mutex_destroy(&bus->intx_lock);
	if (bus->lock_ok)
		pthread_mutex_destroy(&bus->lock);
	bus->lock_ok = bus->intx_lock_ok = false;
}

/* ---- snapshot state ---- */

void pci_bus_save(struct pci_bus *bus, struct sbuf *out)
{
	uint8_t n = 0;

	pthread_mutex_lock(&bus->lock);
	sbuf_u32(out, bus->config_addr);
	sbuf_put(out, bus->host_bridge.cfg, PCI_CFG_SIZE);
	for (unsigned s = 1; s < PCI_MAX_SLOTS; s++)
		n += bus->slots[s] != NULL;
	sbuf_u8(out, n);
	for (unsigned s = 1; s < PCI_MAX_SLOTS; s++) {
		if (!bus->slots[s])
			continue;
		sbuf_u8(out, (uint8_t)s);
		sbuf_put(out, bus->slots[s]->cfg, PCI_CFG_SIZE);
	}
	pthread_mutex_unlock(&bus->lock);
}

/* What the guest calls configuration byte `off`, for error messages. */
static const char *cfg_field(uint32_t off, char *buf, size_t len)
{
	static const struct {
		uint8_t lo, hi;
		const char *name;
	} f[] = {
		{ 0x00, 0x01, "vendor id" },     { 0x02, 0x03, "device id" },
		{ 0x04, 0x05, "command" },       { 0x06, 0x07, "status" },
		{ 0x08, 0x08, "revision" },      { 0x09, 0x0b, "class code" },
		{ 0x0c, 0x0f, "header" },        { 0x28, 0x2b, "cardbus cis" },
		{ 0x2c, 0x2d, "subsystem vendor id" }, { 0x2e, 0x2f, "subsystem id" },
		{ 0x30, 0x33, "expansion ROM" }, { 0x34, 0x3b, "capability pointer" },
		{ 0x3c, 0x3c, "interrupt line" }, { 0x3d, 0x3d, "interrupt pin" },
		{ 0x3e, 0x3f, "latency" },
	};

	if (off >= PCI_BAR0 && off < PCI_BAR0 + 4 * PCI_NUM_BARS) {
		snprintf(buf, len, "BAR%u", (off - PCI_BAR0) / 4);
		return buf;
	}
	for (size_t i = 0; i < BH_ARRAY_SIZE(f); i++)
		if (off >= f[i].lo && off <= f[i].hi)
			return f[i].name;
	snprintf(buf, len, "capability area byte 0x%02x", off);
	return buf;
}

/* Is the saved configuration space `cfg` one the guest could have produced
 * from dev's: only writable bits differ. */
static int check_cfg(const struct pci_dev *dev, const uint8_t *cfg, char *err, size_t errlen)
{
	char fb[40];

	for (uint32_t i = 0; i < PCI_CFG_SIZE; i++) {
		if (!((cfg[i] ^ dev->cfg[i]) & (uint8_t)~dev->wmask[i]))
			continue;
		snprintf(err, errlen, "pci 00:%02x.0 (%s): %s (config byte 0x%02x) is 0x%02x, "
			 "this device has 0x%02x with read-only bits 0x%02x", dev->slot, dev->name,
			 cfg_field(i, fb, sizeof(fb)), i, cfg[i], dev->cfg[i],
			 (uint8_t)~dev->wmask[i]);
		return -EINVAL;
	}
	return 0;
}

/* Where BAR b of dev would be decoded with configuration space cfg (0: not). */
static uint64_t bar_target(const struct pci_dev *dev, const uint8_t *cfg, unsigned b)
{
	if (!dev->bar_size[b] || !(pci_get16(&cfg[PCI_COMMAND]) & PCI_COMMAND_MEMORY))
		return 0;
	return pci_get32(&cfg[PCI_BAR0 + 4 * b]) & ~0xfull;
}

/* With memory decoding on, every BAR in the window, no two overlapping. */
static int check_bars(struct pci_bus *bus, uint8_t (*cfg)[PCI_CFG_SIZE], char *err,
		      size_t errlen)
{
	for (unsigned s = 1; s < PCI_MAX_SLOTS; s++) {
		const struct pci_dev *d = bus->slots[s];

		for (unsigned b = 0; d && b < PCI_NUM_BARS; b++) {
			uint64_t a = bar_target(d, cfg[s], b), size = d->bar_size[b];

			if (!size || !(pci_get16(&cfg[s][PCI_COMMAND]) & PCI_COMMAND_MEMORY))
				continue;
			if (a < PCI_MMIO_WIN_BASE || a + size > PCI_MMIO_WIN_END) {
				snprintf(err, errlen, "pci 00:%02x.0 (%s): BAR%u at 0x%llx (%llu "
					 "bytes, memory decoding on) is outside the PCI window "
					 "0x%llx-0x%llx", s, d->name, b, (unsigned long long)a,
					 (unsigned long long)size,
					 (unsigned long long)PCI_MMIO_WIN_BASE,
					 (unsigned long long)PCI_MMIO_WIN_END);
				return -EINVAL;
			}
			for (unsigned s2 = 1; s2 <= s; s2++) {
				const struct pci_dev *o = bus->slots[s2];

				for (unsigned b2 = 0; o && b2 < PCI_NUM_BARS; b2++) {
					uint64_t a2 = bar_target(o, cfg[s2], b2);

					if ((s2 == s && b2 >= b) || !a2 ||
					    !(a < a2 + o->bar_size[b2] && a2 < a + size))
						continue;
					snprintf(err, errlen, "pci 00:%02x.0 (%s): BAR%u at 0x%llx "
						 "overlaps BAR%u of 00:%02x.0 (%s) at 0x%llx", s,
						 d->name, b, (unsigned long long)a, b2, s2,
						 o->name, (unsigned long long)a2);
					return -EINVAL;
				}
			}
		}
	}
	return 0;
}

/* Parse and validate everything into the caller's copies. Bus lock held. */
static int parse_state(struct pci_bus *bus, struct sreader *in, uint32_t *addr,
		       uint8_t (*cfg)[PCI_CFG_SIZE], char *err, size_t errlen)
{
	unsigned n, want = 0, prev = 0;
	int ret;

	*addr = sr_u32(in);
	sr_get(in, cfg[0], PCI_CFG_SIZE);
	n = sr_u8(in);
	for (unsigned s = 1; s < PCI_MAX_SLOTS; s++)
		want += bus->slots[s] != NULL;
	if (in->bad)
		goto truncated;
	if (*addr & ~CFG_ADDR_MASK) {
		snprintf(err, errlen, "pci: config address latch 0x%08x has bits 0xCF8 does "
			 "not keep (mask 0x%08x)", *addr, CFG_ADDR_MASK);
		return -EINVAL;
	}
	if (n != want) {
		snprintf(err, errlen, "pci: the state has %u functions, this VM's bus has %u "
			 "(a snapshot of another configuration?)", n, want);
		return -EINVAL;
	}
	if ((ret = check_cfg(&bus->host_bridge, cfg[0], err, errlen)))
		return ret;
	for (unsigned i = 0; i < n; i++) {
		unsigned s = sr_u8(in);

		if (in->bad)
			goto truncated;
		if (s <= prev || s >= PCI_MAX_SLOTS || !bus->slots[s]) {
			snprintf(err, errlen, "pci: function %u of the state is in slot %u, where "
				 "this VM's bus has %s", i, s,
				 s > prev && s < PCI_MAX_SLOTS ? "no device"
							       : "no next device (slots out of order)");
			return -EINVAL;
		}
		prev = s;
		sr_get(in, cfg[s], PCI_CFG_SIZE);
		if (in->bad)
			goto truncated;
		if ((ret = check_cfg(bus->slots[s], cfg[s], err, errlen)))
			return ret;
	}
	if (sr_finish(in)) {
		snprintf(err, errlen, "pci: %zu bytes after the last function", in->len - in->off);
		return -EINVAL;
	}
	return check_bars(bus, cfg, err, errlen);
truncated:
	snprintf(err, errlen, "pci: state truncated (%zu bytes)", in->len);
	return -EINVAL;
}

int pci_bus_load(struct pci_bus *bus, struct sreader *in, uint32_t version, char *err,
		 size_t errlen)
{
	uint8_t (*cfg)[PCI_CFG_SIZE];
	uint32_t addr;
	int ret;

	if (version != PCI_STATE_VERSION) {
		snprintf(err, errlen, "pci: state version %u unknown (this build: %u)", version,
			 PCI_STATE_VERSION);
		return -ENOTSUP;
	}
	/* Index 0: the host bridge; 1..: slots. 8 KiB: not on the stack. */
	cfg = calloc(PCI_MAX_SLOTS, sizeof(*cfg));
	if (!cfg) {
		snprintf(err, errlen, "pci: out of memory");
		return -ENOMEM;
	}
	pthread_mutex_lock(&bus->lock);
	ret = parse_state(bus, in, &addr, cfg, err, errlen);
	if (ret)
		goto out;
	/* Commit. Stop decoding BARs that move first, so no BAR is refused
	 * as overlapping the old place of another. */
	__atomic_store_n(&bus->config_addr, addr, __ATOMIC_RELAXED);
	memcpy(bus->host_bridge.cfg, cfg[0], PCI_CFG_SIZE);
	for (unsigned s = 1; s < PCI_MAX_SLOTS; s++) {
		struct pci_dev *d = bus->slots[s];

		for (unsigned b = 0; d && b < PCI_NUM_BARS; b++) {
			if (!d->bar_decoded[b] || d->bar_decoded[b] == bar_target(d, cfg[s], b))
				continue;
			if (d->ops && d->ops->bar_mapped)
				d->ops->bar_mapped(d, b, d->bar_decoded[b], false);
			d->bar_decoded[b] = 0;
		}
	}
	for (unsigned s = 1; s < PCI_MAX_SLOTS; s++) {
		struct pci_dev *d = bus->slots[s];

		if (!d)
			continue;
		memcpy(d->cfg, cfg[s], PCI_CFG_SIZE);
		atomic_store(&d->intx_disabled,
			     (pci_get16(&d->cfg[PCI_COMMAND]) & PCI_COMMAND_INTX_DISABLE) != 0);
		update_bars(bus, d);
		intx_apply(d, 0, true);
	}
out:
	pthread_mutex_unlock(&bus->lock);
	free(cfg);
	return ret;
}
