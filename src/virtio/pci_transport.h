/* pci_transport.h — virtio over PCI, modern interface only (virtio 1.x §4.1).
 *
 * One PCI function per virtio device, with one 32 KiB memory BAR (BAR0):
 *   0x0000 common configuration   (cap COMMON)
 *   0x1000 ISR status             (cap ISR; read clears, deasserts INTx)
 *   0x2000 device configuration   (cap DEVICE, vd->cfg_len bytes)
 *   0x3000 notifications          (cap NOTIFY, queue q at 0x3000 + 4*q)
 *   0x4000 MSI-X table            (one vector per queue + one for config)
 *   0x5000 MSI-X pending bits
 * plus the PCI_CFG window capability the spec requires.
 *
 * The transport keeps host copies of every driver-written register and
 * enforces docs/virtio.md: feature negotiation (FEATURES_OK refused for
 * unoffered bits or without VERSION_1), queue registers writable only between
 * FEATURES_OK and DRIVER_OK on a disabled queue, queue sizes power-of-two and
 * ≤ the device maximum, rings validated by virtq_activate() on queue_enable,
 * out-of-range vectors read back NO_VECTOR, selects out of range read 0.
 *
 * Data path: each queue's notify address is a KVM ioeventfd watched by the
 * VM's event loop, so a guest kick never exits to a vCPU thread; interrupts
 * go out through irqfds (MSI-X vectors routed by irq_route.c) or INTx while
 * MSI-X is off. A write to the notify area that KVM did not catch (other
 * width, no ioeventfd) is forwarded to the same eventfd: queues are only ever
 * processed on the event thread.
 *
 * Threads: register accesses on vCPU threads, notifications on the event
 * thread; everything about one device is under vd->lock (see virtio_dev.h).
 */
#ifndef BH_VIRTIO_PCI_TRANSPORT_H
#define BH_VIRTIO_PCI_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bus/pci.h"
#include "common/compiler.h"
#include "core/event_loop.h"
#include "core/irq_route.h"
#include "virtio/virtio_dev.h"

#define VPCI_BAR_SIZE 0x8000u
#define VPCI_COMMON_OFF 0x0000u
#define VPCI_COMMON_LEN 0x38u
#define VPCI_ISR_OFF 0x1000u
#define VPCI_DEVCFG_OFF 0x2000u
#define VPCI_NOTIFY_OFF 0x3000u
#define VPCI_NOTIFY_MULT 4u
#define VPCI_MSIX_TABLE_OFF 0x4000u
#define VPCI_MSIX_PBA_OFF 0x5000u
#define VPCI_MAX_VECTORS (VIRTIO_DEV_MAX_QUEUES + 1)
#define VPCI_NO_VECTOR 0xffff

/* What the transport needs from the VM. vm_fd < 0: no ioeventfds (notify
 * writes then exit to the vCPU thread) — unit tests. */
struct vpci_env {
	int vm_fd;
	struct pci_bus *bus;
	struct irq_router *router;
	struct event_loop *el;
};

struct vpci_queue {
	uint16_t size;
	uint16_t msix_vector;
	bool enabled;
	uint64_t desc, driver, device;
};

struct vpci_notify {
	struct virtio_pci *vp;
	unsigned q;
	int efd;
};

struct virtio_pci {
	struct pci_dev pci;
	struct virtio_dev *vd;
	struct vpci_env env;
	/* common configuration (host copies) */
	uint32_t dfselect, gfselect;
	uint64_t offered;           /* device features incl. VERSION_1 */
	uint64_t driver_features;   /* as written by the driver */
	uint16_t msix_config;
	uint16_t queue_select;
	uint8_t config_generation;
	struct vpci_queue q[VIRTIO_DEV_MAX_QUEUES];
	uint8_t isr;
	/* MSI-X */
	uint16_t nvec;
	int msix_cap;               /* offset of the MSI-X capability */
	int cfg_cap;                /* offset of the PCI_CFG capability */
	bool msix_enabled, msix_fmask;
	struct {
		uint32_t w[4];          /* address lo, address hi, data, vector control */
	} msix[VPCI_MAX_VECTORS];
	uint64_t pba;
	int vec_efd[VPCI_MAX_VECTORS];
	uint32_t vec_gsi[VPCI_MAX_VECTORS];
	/* notifications */
	struct vpci_notify notify[VIRTIO_DEV_MAX_QUEUES];
	uint64_t ioeventfd_base;    /* notify area registered with KVM, 0: none */
	uint64_t ignored_writes;    /* statistics: register writes refused */
};

/* Wrap `vd` (initialised, ops set) in a PCI function and plug it into
 * env->bus: capabilities, BAR0, MSI-X vectors bound to irqfds, notify
 * eventfds on the event loop. Setup thread, before the buses are sealed is
 * not required (the BAR lives in the PCI window). 0 or -errno. */
int virtio_pci_create(struct virtio_pci *vp, struct virtio_dev *vd, const struct vpci_env *env)
	BH_WUR;

/* Snapshot state of the transport and its device (the device model's
 * save/load for virtio rows, vmm/devices.h), in VIRTIO_PCI_STATE_VERSION:
 *   status u8, failed u8, driver features u64, device/driver feature selects
 *   u32 u32, msix_config u16, queue_select u16, config_generation u8, ISR u8;
 *   nqueues u8, per queue: size u16, msix_vector u16, enabled u8, desc,
 *   driver, device u64 — and for an enabled queue its positions and
 *   in-flight heads (virtq_save_state());
 *   nvec u16, per vector the MSI-X table entry (4 x u32), the PBA u64;
 *   held notifications u32 (queues kicked while quiesced, and queues with
 *   entries available: a kick the event thread had not read yet is not lost);
 *   the device's own state: version u32, length u32, bytes (its ops).
 * MSI-X enable/function mask live in PCI configuration space (the bus row,
 * loaded before this one).
 *
 * save: the device is quiesced (virtio_dev_quiesce()); nothing may be in
 * flight — a popped chain not yet returned, a backend request — since the
 * snapshot could not complete it, unless the device keeps chains by design
 * (ops->keeps_chains: the balloon's stats buffer), whose heads are saved:
 * -EBUSY if anything is, -ENOTSUP if the
 * device has no state_version, -EAGAIN if not quiesced (err says which);
 * -ENOMEM/-E2BIG from the buffer. 0 on success.
 *
 * load: validates EVERYTHING like guest input before applying any of it:
 * status consistent (FEATURES_OK with acked features a subset of those
 * offered and VERSION_1; DRIVER_OK only with FEATURES_OK; NEEDS_RESET
 * exactly when failed), queue sizes powers of two <= the device maximum,
 * queue registers at their reset values before FEATURES_OK, enabled queues
 * only after it with rings aligned and in guest RAM (virtq_restore()),
 * vectors < the table size or NO_VECTOR, vector control words with only the
 * mask bit, pending bits only for vectors that exist and could not have been
 * delivered, ISR bits only with MSI-X off, the device's part by its ops.
 * Then it commits and re-establishes what the state implies in KVM: the
 * MSI routes of every vector (the irqfds stay bound), the INTx level from
 * the ISR; the notify ioeventfds follow the BAR (the bus row's load).
 * Guest RAM must already hold the snapshot's memory. -EINVAL / -ENOTSUP /
 * -ENOMEM with err naming the device and field. Setup thread, vCPUs not
 * running, the device quiesced (held notifications run on resume). */
#define VIRTIO_PCI_STATE_VERSION 2
int virtio_pci_save(struct virtio_pci *vp, struct sbuf *out, char *err, size_t errlen) BH_WUR;
int virtio_pci_load(struct virtio_pci *vp, struct sreader *in, uint32_t version, char *err,
		    size_t errlen) BH_WUR;

/* Release eventfds and registrations (after the VM's threads stopped and
 * after irq_router_destroy(), which unbinds the irqfds). Does not destroy
 * vd. Idempotent. */
void virtio_pci_destroy(struct virtio_pci *vp);

#endif
