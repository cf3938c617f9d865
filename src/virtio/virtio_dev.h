/* virtio_dev.h — a virtio device, independent of its transport.
 *
 * A device model embeds `struct virtio_dev` (container_of to upcast), fills in
 * a small ops table, and is attached to a transport (pci_transport.c). The
 * transport owns the driver-facing registers (status, features, queue
 * configuration, MSI-X) and keeps host copies of all of them; the device only
 * sees validated state:
 *   - cfg_read/cfg_write get offset+len already checked against cfg_len;
 *   - activate() runs when the driver sets DRIVER_OK, with vd->features the
 *     negotiated set and vd->vq[i] activated for every queue the driver enabled
 *     (inactive queues have vq[i].active == false);
 *   - notify(q) runs on the EVENT thread when the guest kicks queue q;
 *   - reset() runs when the driver writes status 0 (or the VM ends): stop
 *     using the rings, finish or cancel in-flight work, forget negotiation.
 *     The transport calls it through virtio_dev_reset(), which also resets
 *     the queues and the base's negotiated state.
 *
 * Locking: vd->lock serialises everything about one device. The transport
 * holds it around every ops call (vCPU thread for registers, event thread for
 * notify); a backend completing I/O asynchronously takes it itself. Devices
 * never hold another device's lock.
 *
 * Errors (architecture rule 3): a malformed-but-legal request gets an error
 * status in the used ring; a protocol violation (virtq_pop() < 0, impossible
 * state) calls virtio_dev_fail(), which sets DEVICE_NEEDS_RESET and raises the
 * config interrupt — the device then does nothing until reset. A host failure
 * is reported with -errno from activate() (the transport then also fails the
 * device) and logged.
 */
#ifndef BH_VIRTIO_DEV_H
#define BH_VIRTIO_DEV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/compiler.h"
#include "core/event_loop.h"
#include "core/guest_mem.h"
#include "virtio/queue.h"

/* Device IDs (virtio 1.x §5). */
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG 4

/* Device status bits (§2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED 0x80

/* Transport-level feature bits. */
#define VIRTIO_F_VERSION_1 32

#define VIRTIO_DEV_MAX_QUEUES 8

struct virtio_dev;

/* What a device's load may check its own state against: the transport
 * state being loaded with it (not yet applied). */
struct virtio_dev_state_ctx {
	uint8_t status;     /* device status the driver will see */
	bool failed;        /* NEEDS_RESET */
	uint64_t features;  /* negotiated (0 before FEATURES_OK) */
	const struct virtq *vq; /* the queues as they will be (vq[i].active,
				 * virtq_head_inflight()): nqueues entries */
};

struct virtio_dev_ops {
	/* Device-specific feature bits offered (including VIRTIO_RING_F_* the
	 * device wants); the transport adds VIRTIO_F_VERSION_1. */
	uint64_t (*features)(struct virtio_dev *vd);
	/* Device configuration space; off + len <= vd->cfg_len, len 1/2/4/8.
	 * Either may be NULL: no configuration (reads all ones) / read-only
	 * (writes ignored). */
	void (*cfg_read)(struct virtio_dev *vd, uint32_t off, void *data, uint32_t len);
	void (*cfg_write)(struct virtio_dev *vd, uint32_t off, const void *data, uint32_t len);
	/* DRIVER_OK. 0 or -errno (the device is then failed). */
	int (*activate)(struct virtio_dev *vd);
	/* Queue q (< nqueues, active) was notified. Event thread, lock held. */
	void (*notify)(struct virtio_dev *vd, unsigned q);
	/* Driver reset. Lock held. Must leave no in-flight work touching RAM. */
	void (*reset)(struct virtio_dev *vd);
	/* Quiesce (pause, quarantine, snapshot): finish every request already
	 * handed to a backend and publish its completion, start nothing new.
	 * When it returns the device touches neither guest RAM nor any host
	 * file until resumed. Lock held; may block for in-flight backend I/O.
	 * NULL: the device has no work outside notify(). */
	void (*quiesce)(struct virtio_dev *vd);
	/* Release everything (after the VM's threads are gone), including the
	 * base (virtio_dev_deinit()) and the device object itself: vd is
	 * invalid afterwards. No lock. */
	void (*destroy)(struct virtio_dev *vd);
	/* Snapshot state of the device model itself (what the transport and the
	 * queues do not hold), in state_version; 0: the device cannot be saved
	 * yet (saving a VM with it is refused). save: quiesced, lock held;
	 * NULL when there is nothing beyond the base. Set out->err (-EBUSY) if
	 * the device is not in a state that can be saved (work in flight).
	 * load: lock held, quiesced; called twice on the same bytes — first
	 * with apply false (validate everything, change nothing), then, when
	 * the transport's part is valid too, with apply true (commit; cannot
	 * fail after a successful check). Validate like guest input, against
	 * ctx; errors name the field in err. NULL: the blob must be empty. */
	uint32_t state_version;
	/* The device may hold popped chains across quiesce by design (the
	 * balloon keeps the driver's stats buffer): the queues' in-flight heads
	 * are then saved and restored, and its load must check they are the
	 * ones its own state accounts for. false: a chain in flight after
	 * quiesce is a bug; save refuses it, and load refuses any. */
	bool keeps_chains;
	void (*save)(struct virtio_dev *vd, struct sbuf *out);
	int (*load)(struct virtio_dev *vd, struct sreader *in, uint32_t version,
		    const struct virtio_dev_state_ctx *ctx, bool apply, char *err,
		    size_t errlen) BH_WUR;
};

/* What the transport provides to the device. Any thread, lock held or not
 * (the transport serialises its own interrupt state). */
struct virtio_transport_ops {
	/* Interrupt the driver for queue q (MSI-X vector via irqfd, or INTx). */
	void (*queue_irq)(void *transport, unsigned q);
	/* Configuration change interrupt. */
	void (*config_irq)(void *transport);
};

struct virtio_dev {
	const struct virtio_dev_ops *ops;
	const char *name;               /* "virtio-blk0", for logs */
	uint16_t device_id;             /* VIRTIO_ID_* */
	uint32_t cfg_len;               /* bytes of device configuration */
	unsigned nqueues;               /* ≤ VIRTIO_DEV_MAX_QUEUES */
	uint16_t queue_max;             /* largest queue size offered (power of two) */
	const struct guest_mem *mem;
	pthread_mutex_t lock;
	/* State below is written by the transport with lock held. */
	uint64_t features;              /* negotiated, valid from FEATURES_OK */
	uint8_t status;                 /* device_status as the driver sees it */
	bool failed;                    /* NEEDS_RESET raised; nothing runs until reset */
	struct virtq vq[VIRTIO_DEV_MAX_QUEUES];
	const struct virtio_transport_ops *tops;
	void *transport;
	/* Deferred work (virtio_dev_defer()), owned by the base. */
	struct event_loop *el;          /* NULL until virtio_dev_defer_init() */
	int defer_fd;                   /* eventfd, -1 when unused */
	uint32_t defer_mask;            /* queues to run again; lock held */
	/* Quiesced (virtio_dev_quiesce()): notifications are held, not run. */
	bool quiesced;                  /* lock held */
	uint32_t held_mask;             /* queues notified while quiesced */
};

/* Initialise the base (lock, sizes). The device sets ops/name before attaching
 * it to a transport. 0 or -errno. */
int virtio_dev_init(struct virtio_dev *vd, const struct virtio_dev_ops *ops, const char *name,
		    uint16_t device_id, unsigned nqueues, uint16_t queue_max, uint32_t cfg_len,
		    const struct guest_mem *mem) BH_WUR;

/* Tear down the base (from the device's ops->destroy): closes the defer eventfd
 * (removing it from the event loop) and frees the queues' state. The VM's
 * threads must be gone. */
void virtio_dev_deinit(struct virtio_dev *vd);

/* The transport's reset path (driver wrote status 0, or the VM ends): with
 * vd->lock held, calls ops->reset() (which waits for or cancels in-flight
 * work), then resets every queue, drops pending deferred work and clears
 * features, status and failed. When it returns nothing touches guest RAM or
 * the rings on the device's behalf. */
void virtio_dev_reset(struct virtio_dev *vd);

/* Deferred work. A device stops processing a queue after a bounded budget per
 * notify (a hostile driver can refill the ring as fast as we drain it, and
 * must not monopolise the event thread); it then calls virtio_dev_defer(vd, q)
 * and the event thread calls ops->notify(vd, q) again later, lock held, if the
 * device is still live (queue active, not failed). defer_init() creates the
 * eventfd and registers it on `el`: setup thread, once, before the loop runs.
 * 0 or -errno. virtio_dev_defer(): lock held, any thread. */
int virtio_dev_defer_init(struct virtio_dev *vd, struct event_loop *el) BH_WUR;
void virtio_dev_defer(struct virtio_dev *vd, unsigned q);

/* The one way a queue's notification reaches ops->notify() (transport kicks
 * and deferred work alike): runs it if the driver is live (DRIVER_OK, not
 * failed, queue active), holds it while the device is quiesced. Lock held,
 * event thread. */
void virtio_dev_notify(struct virtio_dev *vd, unsigned q);

/* Stop all of the device's activity (see ops->quiesce): afterwards no
 * notification runs, no backend I/O is in flight, nothing touches guest RAM
 * or host files on its behalf. Idempotent. Takes vd->lock; any thread that
 * does not hold it (the event thread, with the vCPUs parked). */
void virtio_dev_quiesce(struct virtio_dev *vd);

/* Undo virtio_dev_quiesce(): notifications held meanwhile run (deferred, on
 * the event thread; at once when the device has no event loop). Takes
 * vd->lock. */
void virtio_dev_resume(struct virtio_dev *vd);

/* Process queue q: pop chains and hand each to `handle` (lock held), which
 * returns what serving it cost (bytes, say); stop after max_chains chains or
 * once the cost reaches max_cost, and defer the rest (the event thread comes
 * back: a driver refilling the ring as fast as we drain it cannot monopolise
 * it). A malformed chain fails the device. Finally interrupt the driver if it
 * asked. The loop every device's notify() would otherwise repeat. Lock held. */
void virtio_dev_process_queue(struct virtio_dev *vd, unsigned q, unsigned max_chains,
			      uint64_t max_cost,
			      uint64_t (*handle)(struct virtio_dev *vd, struct virtq_chain *c));

/* Interrupt the driver for queue q if virtq_should_notify() says so. Lock held. */
void virtio_dev_queue_done(struct virtio_dev *vd, unsigned q);

/* The driver broke the protocol: log `why` (rate-limited guest warning), set
 * NEEDS_RESET, raise the config interrupt; the device is inert until reset.
 * Lock held. */
void virtio_dev_fail(struct virtio_dev *vd, const char *why);

/* For a device's state load: is `live` (activated since the last reset)
 * consistent with the status being loaded? Activation happens when DRIVER_OK
 * is set on a device that is not failed and lasts until reset, which needs
 * FEATURES_OK first: live requires FEATURES_OK, and DRIVER_OK on a healthy
 * device requires live. 0, or -EINVAL with err naming the device. */
int virtio_dev_check_live(const struct virtio_dev *vd, const struct virtio_dev_state_ctx *ctx,
			  bool live, char *err, size_t errlen) BH_WUR;

/* True if the feature bit was negotiated. */
static inline bool virtio_dev_has(const struct virtio_dev *vd, unsigned bit)
{
	return (vd->features >> bit) & 1;
}

#endif
