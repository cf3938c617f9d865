/* pci.h — a conventional PCI bus 0 behind a host bridge, for the guest's
 * virtio devices.
 *
 * Guest-facing (see docs/virtio.md):
 *  - configuration mechanism #1: a 4-byte write to port 0xCF8 latches the
 *    address (bit 31 enable, bus, device, function, register); 1/2/4-byte
 *    accesses to 0xCFC-0xCFF reach the selected register. Other accesses to
 *    0xCF8-0xCFB are ignored (reads: all ones except the latch itself);
 *  - 00:00.0 is the host bridge; devices sit at 00:01.0 .. 00:1f.0, function 0;
 *  - every function has a 256-byte configuration space held here as a host
 *    copy with a per-byte writable mask: read-only bits ignore writes; reads
 *    of missing functions, other buses or functions return all ones;
 *  - 32-bit memory BARs are pre-assigned (as firmware would) inside the
 *    window [PCI_MMIO_WIN_BASE, PCI_MMIO_WIN_END) and decoded while the
 *    command register's memory bit is set. The guest may size and move them;
 *    a BAR placed outside the window or overlapping another is not decoded.
 *    The whole window is ONE range on the VM's MMIO bus owned by this module,
 *    so moving a BAR never touches the sealed io_bus table;
 *  - INTx: pin A of slot N is wired to GSI PCI_INTX_GSI(N) (also in the ACPI
 *    _PRT); lines shared by several devices are the OR of their levels.
 *
 * Threads: configuration and BAR accesses come from vCPU threads; the bus
 * lock serialises configuration space and BAR placement. Device hooks are
 * called with the bus lock held and may take their own lock (order: bus
 * lock, then device lock; never the reverse). BAR data accesses are
 * dispatched WITHOUT the bus lock. pci_intx_set() may be called from any
 * thread and takes only the INTx lock.
 */
#ifndef BH_PCI_H
#define BH_PCI_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "arch/x86/layout.h"
#include "bus/io_bus.h"
#include "common/compiler.h"
#include "core/irq.h"
#include "core/state_buf.h"

#define PCI_CONFIG_ADDR_PORT 0xcf8
#define PCI_CONFIG_PORTS 8 /* 0xcf8-0xcff */
#define PCI_CFG_SIZE 256
#define PCI_NUM_BARS 6



/* Standard header offsets used here. */
#define PCI_VENDOR_ID 0x00
#define PCI_DEVICE_ID 0x02
#define PCI_COMMAND 0x04
#define PCI_STATUS 0x06
#define PCI_REVISION_ID 0x08
#define PCI_CLASS_PROG 0x09
#define PCI_HEADER_TYPE 0x0e
#define PCI_BAR0 0x10
#define PCI_SUBSYSTEM_VENDOR_ID 0x2c
#define PCI_SUBSYSTEM_ID 0x2e
#define PCI_CAPABILITY_LIST 0x34
#define PCI_INTERRUPT_LINE 0x3c
#define PCI_INTERRUPT_PIN 0x3d
#define PCI_CAP_START 0x40

#define PCI_COMMAND_MEMORY 0x2
#define PCI_COMMAND_MASTER 0x4
#define PCI_COMMAND_INTX_DISABLE 0x400
#define PCI_STATUS_INTERRUPT 0x8
#define PCI_STATUS_CAP_LIST 0x10

#define PCI_CAP_ID_MSIX 0x11
#define PCI_CAP_ID_VNDR 0x09

struct pci_dev;

/* Hooks of one function. All optional; called with the bus lock held on the
 * vCPU thread that made the access. */
struct pci_dev_ops {
	/* A configuration write landed at [off, off+len) (already masked into
	 * dev->cfg) — e.g. MSI-X enable. off >= PCI_CAP_START or PCI_COMMAND. */
	void (*cfg_written)(struct pci_dev *dev, uint32_t off, uint32_t len);
	/* Override a configuration read in the capability area (e.g. a data
	 * window); return false to read the host copy. */
	bool (*cfg_read)(struct pci_dev *dev, uint32_t off, uint32_t len, uint32_t *val);
	/* BAR `bar` is now decoded at `addr` (enabled) or not decoded. Called at
	 * registration and on every change (move, command register). */
	void (*bar_mapped)(struct pci_dev *dev, unsigned bar, uint64_t addr, bool enabled);
};

struct pci_dev {
	uint8_t cfg[PCI_CFG_SIZE];     /* host copy: what the guest reads */
	uint8_t wmask[PCI_CFG_SIZE];   /* writable bits per byte */
	uint32_t bar_size[PCI_NUM_BARS];            /* 0: BAR unused */
	const struct io_dev_ops *bar_ops[PCI_NUM_BARS];
	void *bar_opaque[PCI_NUM_BARS];
	uint64_t bar_decoded[PCI_NUM_BARS];         /* address decoded now, 0: none */
	const struct pci_dev_ops *ops;
	void *opaque;                  /* for the owner of this function */
	const char *name;
	unsigned slot;
	struct pci_bus *bus;
	uint8_t cap_end;               /* next free capability offset */
	uint8_t cap_last;              /* offset of the last capability, 0: none */
	int intx_level;                /* pin level, under bus->intx_lock */
	int intx_eff;                  /* counted on the GSI (level && !disabled) */
	_Atomic bool intx_disabled;    /* command register bit, mirrored */
	_Atomic int intx_status;       /* pin level, for the status register */
};

struct pci_bus {
	pthread_mutex_t lock;          /* config space, BAR placement, the latch */
	pthread_mutex_t intx_lock;     /* INTx levels */
	uint32_t config_addr;          /* 0xCF8 latch */
	struct pci_dev host_bridge;
	struct pci_dev *slots[PCI_MAX_SLOTS];
	uint64_t next_bar;             /* pre-assignment cursor in the window */
	unsigned intx_count[PCI_INTX_GSI_COUNT];   /* asserted devices per GSI */
	struct irq_line intx_line;     /* set_level; gsi chosen per call */
	bool lock_ok, intx_lock_ok;
	_Atomic uint64_t bad_accesses; /* statistics: ignored guest accesses */
};

/* Initialise the bus with its host bridge. `intx` raises GSIs (its gsi field
 * is ignored). 0 or -errno. Setup thread. */
int pci_bus_init(struct pci_bus *bus, const struct irq_line *intx) BH_WUR;

/* Register 0xCF8-0xCFF on `pio` and the BAR window on `mmio`. Setup thread,
 * before the buses are sealed. */
int pci_bus_register(struct pci_bus *bus, struct io_bus *pio, struct io_bus *mmio) BH_WUR;

void pci_bus_destroy(struct pci_bus *bus);

/* Prepare a function's header: vendor/device/class/revision/subsystem ids,
 * interrupt pin A. Capabilities are added with pci_dev_add_cap(). */
void pci_dev_init(struct pci_dev *dev, const char *name, uint16_t vendor, uint16_t device,
		  uint32_t class_code, uint8_t revision, uint16_t subsys_vendor, uint16_t subsys_id);

/* Declare 32-bit memory BAR `bar` of `size` bytes (power of two, >= 4 KiB)
 * served by ops/opaque (offsets relative to the BAR). Before pci_bus_add(). */
int pci_dev_set_bar(struct pci_dev *dev, unsigned bar, uint32_t size,
		    const struct io_dev_ops *ops, void *opaque) BH_WUR;

/* Append a capability of `len` bytes (id, next pointer filled in here;
 * `body` is the rest, from byte 2). `wmask` (may be NULL) gives writable bits
 * for the whole capability. Returns the capability's offset, or -ENOSPC. */
int pci_dev_add_cap(struct pci_dev *dev, uint8_t id, const uint8_t *body, uint32_t len,
		    const uint8_t *wmask) BH_WUR;

/* Plug the function into the next free slot, pre-assign its BARs, enable
 * memory decoding. -ENOSPC when the bus or the window is full. */
int pci_bus_add(struct pci_bus *bus, struct pci_dev *dev) BH_WUR;

/* Drive the function's INTx pin (level). Any thread. No-op while the
 * command register's INTx-disable bit is set (it deasserts). */
void pci_intx_set(struct pci_dev *dev, int level);

/* Configuration access by bus/device/function/register, as the guest does it
 * through 0xCF8/0xCFC (exposed for tests). len 1/2/4; off+len <= 256. */
uint32_t pci_cfg_read(struct pci_bus *bus, unsigned devfn, uint32_t off, uint32_t len);
void pci_cfg_write(struct pci_bus *bus, unsigned devfn, uint32_t off, uint32_t val, uint32_t len);

/* Snapshot state of the bus (the device model's save/load, vmm/devices.h).
 *
 * pci_bus_save() writes, in PCI_STATE_VERSION: the 0xCF8 latch (u32), the
 * host bridge's 256-byte configuration space, the number of plugged
 * functions (u8), then per function in slot order its slot (u8) and its
 * 256-byte configuration space — BARs, command register, capabilities
 * (MSI-X control included) exactly as the guest reads them. INTx pin levels
 * are not part of it: each function's owner re-drives its pin from its own
 * state (the virtio transport from its ISR). Takes the bus lock.
 *
 * pci_bus_load() validates the blob like guest input, against THIS bus
 * (built from the same configuration, not yet running guest code): the
 * latch has only the bits 0xCF8 keeps; the same functions in the same slots;
 * every byte differs from the function's current configuration space only in
 * bits the guest can write (so identity, capability layout, read-only BAR
 * bits — a BAR's size alignment — are what this build gives); with memory
 * decoding on, every BAR lies inside [PCI_MMIO_WIN_BASE, PCI_MMIO_WIN_END)
 * and overlaps no other decoded BAR. Nothing is applied unless all of it is
 * valid (-EINVAL, or -ENOTSUP for an unknown version, with `err` naming the
 * function and field). Then it installs the configuration spaces, mirrors
 * the INTx-disable bits, and re-decodes every BAR (bar_mapped hooks: the
 * owners re-register their ioeventfds). It does NOT call cfg_written: the
 * owners re-derive what they keep from configuration space (MSI-X enable
 * and mask) in their own load, which runs after the bus's. Setup thread,
 * vCPUs not running. */
#define PCI_STATE_VERSION 1
void pci_bus_save(struct pci_bus *bus, struct sbuf *out);
int pci_bus_load(struct pci_bus *bus, struct sreader *in, uint32_t version, char *err,
		 size_t errlen) BH_WUR;

/* Little-endian helpers on a config-space copy (bounds are the caller's job). */
static inline uint16_t pci_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t pci_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}
static inline void pci_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}
static inline void pci_put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

#endif
