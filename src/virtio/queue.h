/* queue.h — the split virtqueue (virtio 1.x §2.7), device side, hardened.
 *
 * Every descriptor, index and flag here is written by a hostile guest. Rules:
 *  - all guest memory goes through guest_mem.h (gmem_read/gmem_write/gmem_ptr);
 *  - each descriptor is copied once into a host struct and only the copy is
 *    validated and used (the guest may rewrite the ring concurrently);
 *  - a chain is walked at most `size` hops (loops are caught), `next` must be
 *    < size, every segment must lie in one RAM region, lengths may not be zero
 *    and may not sum past 2^32 - 1, device-readable segments must all precede
 *    device-writable ones, at most VIRTQ_MAX_SEGS segments;
 *  - the avail index may run at most `size` entries ahead of what we consumed,
 *    and a head that is still in flight may not be offered again: in-flight
 *    work is bounded by the queue size;
 *  - indirect descriptors (only when VIRTIO_RING_F_INDIRECT_DESC was
 *    negotiated): one level, table length a non-zero multiple of 16 and at most
 *    size entries, in RAM, no nested INDIRECT flag; otherwise rejected.
 * Any violation makes virtq_pop() return a negative errno and marks the queue
 * broken: it yields nothing more until virtq_reset(). The device then reports
 * DEVICE_NEEDS_RESET (virtio_dev_fail()). Other queues/devices are unaffected.
 *
 * Threading: a virtq is used by one thread at a time (the device serialises
 * with virtio_dev.lock).
 */
#ifndef BH_VIRTQ_H
#define BH_VIRTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "common/compiler.h"
#include "core/guest_mem.h"
#include "core/state_buf.h"

#define VIRTQ_MAX_SIZE 32768     /* spec limit; devices offer less (virtio_dev.queue_max) */
#define VIRTQ_MAX_SEGS 128       /* segments accepted per chain */

/* Ring layout constants (virtio 1.x §2.7). */
#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY 1

/* Feature bits the queue implements (the transport offers them per device). */
#define VIRTIO_RING_F_INDIRECT_DESC 28
#define VIRTIO_RING_F_EVENT_IDX 29

struct virtq_seg {
	uint64_t gpa;
	uint32_t len;
};

/* One validated descriptor chain: device-readable segments first
 * ([0, nout)), then device-writable ones ([nout, nout + nin)). */
struct virtq_chain {
	uint16_t head;
	unsigned nout, nin;
	uint32_t out_bytes, in_bytes;
	struct virtq_seg seg[VIRTQ_MAX_SEGS];
};

struct virtq {
	const struct guest_mem *mem;
	/* Host copies of what the driver configured (set by virtq_activate()). */
	uint16_t size;            /* power of two, 1..VIRTQ_MAX_SIZE */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	bool event_idx;           /* VIRTIO_RING_F_EVENT_IDX negotiated */
	bool indirect;            /* VIRTIO_RING_F_INDIRECT_DESC negotiated */
	bool active;
	bool broken;              /* a violation was seen; nothing more until reset */
	/* Device-side state. */
	uint16_t last_avail;      /* next avail ring slot to consume */
	uint16_t used_idx;        /* next used index to publish */
	uint16_t signalled_used;  /* used_idx at the last interrupt (event idx) */
	bool signalled_valid;
	uint16_t inflight;        /* heads popped and not yet pushed */
	uint8_t *inflight_map;    /* bitmap of in-flight heads (size bits), owned */
	uint64_t violations;      /* statistics */
};

/* Validate and start using the rings: size a power of two ≤ max_size (and
 * ≤ VIRTQ_MAX_SIZE), desc 16-byte / avail 2-byte / used 4-byte aligned, each
 * ring entirely in guest RAM (not the MMIO hole). -EINVAL / -EFAULT / -ENOMEM,
 * leaving the queue inactive. Features: VIRTIO_RING_F_* bits negotiated. */
int virtq_activate(struct virtq *q, const struct guest_mem *mem, uint16_t size,
		   uint16_t max_size, uint64_t desc_gpa, uint64_t avail_gpa, uint64_t used_gpa,
		   uint64_t features) BH_WUR;

/* Snapshot state of an ACTIVE queue: its device-side positions
 * (last_avail u16, used_idx u16, signalled_used u16, signalled_valid u8,
 * broken u8) and the heads in flight (count u16, then each head u16 in
 * ascending order: chains popped and not yet returned). The rings' size and
 * addresses are the transport's to save. The device is quiesced. */
void virtq_save_state(const struct virtq *q, struct sbuf *out);

/* Rebuild an active queue from saved state, validating it exactly like guest
 * input: virtq_activate() on the saved size/addresses (power of two,
 * <= max_size, aligned, every ring in guest RAM through the one door), then
 * the positions: `broken` a bool; the in-flight heads below the size,
 * ascending (no duplicates), as many as last_avail - used_idx, and none at
 * all unless allow_inflight (a device that never keeps chains after quiesce
 * cannot have any); the used ring's idx in guest memory equal to used_idx
 * (the device alone writes it: a mismatch means state and memory do not
 * belong together — guest RAM must already hold the snapshot's contents).
 * The avail index is the driver's: one too far ahead is found by the next
 * pop, as it would have been. `q` must be zeroed or reset; on failure it is
 * left reset and err says which field was wrong. 0, -EINVAL, -EFAULT or
 * -ENOMEM. */
int virtq_restore(struct virtq *q, const struct guest_mem *mem, uint16_t size,
		  uint16_t max_size, uint64_t desc_gpa, uint64_t avail_gpa, uint64_t used_gpa,
		  uint64_t features, bool allow_inflight, struct sreader *in, char *err,
		  size_t errlen) BH_WUR;

/* Is head in flight (popped, not yet returned)? False when out of range. */
bool virtq_head_inflight(const struct virtq *q, uint16_t head);

/* Forget everything (device reset). Safe on a zeroed or inactive queue. */
void virtq_reset(struct virtq *q);

/* Take the next available chain. 1: *c filled; 0: nothing available (or the
 * queue is inactive/broken); <0: the driver violated the protocol (see top),
 * the queue is now broken. */
int virtq_pop(struct virtq *q, struct virtq_chain *c) BH_WUR;

/* Give back the chain the LAST successful virtq_pop() returned (head), as if
 * it had not been taken: it is offered again by the next pop. For a device
 * that took several buffers for one item and then found there were not
 * enough (virtio-net's mergeable receive buffers): undo in reverse order of
 * the pops (the caller's duty). -EINVAL if head is not in flight. */
int virtq_unpop(struct virtq *q, uint16_t head) BH_WUR;

/* True if the driver has made entries available that virtq_pop() has not
 * taken yet (a peek: nothing is consumed or validated). Same thread rules as
 * virtq_pop(). */
bool virtq_has_avail(struct virtq *q);

/* Return a chain to the driver: used element {head, written}, then publish
 * the used index (with the release barrier the spec requires). -EINVAL if
 * head is not in flight. */
int virtq_push(struct virtq *q, uint16_t head, uint32_t written) BH_WUR;

/* After one or more pushes: must the driver be interrupted? Honours
 * VIRTQ_AVAIL_F_NO_INTERRUPT, or used_event with EVENT_IDX. False when
 * nothing was pushed since the previous call (no spurious interrupts). */
bool virtq_should_notify(struct virtq *q);

/* Copy [off, off+len) of the chain's readable bytes into dst. Returns bytes
 * copied (less than len if the readable part is shorter) or -EFAULT. */
int64_t virtq_chain_read(const struct virtq *q, const struct virtq_chain *c, uint64_t off,
			 void *dst, size_t len) BH_WUR;

/* Copy src into the chain's writable bytes starting at off. Returns bytes
 * copied (short if the writable part is shorter) or -EFAULT. */
int64_t virtq_chain_write(const struct virtq *q, const struct virtq_chain *c, uint64_t off,
			  const void *src, size_t len) BH_WUR;

/* Host iovecs for bytes [off, off+len) of the readable (writable=false) or
 * writable part, for preadv/pwritev/io_uring. Returns the iovec count, or
 * -EFAULT / -E2BIG (more than max entries) / -EINVAL (range past the part).
 * The pointers stay valid for the VM's lifetime (guest RAM is never unmapped
 * while the VM runs), but the guest may change the bytes at any time. */
int virtq_chain_iov(const struct virtq *q, const struct virtq_chain *c, bool writable,
		    uint64_t off, uint64_t len, struct iovec *iov, int max) BH_WUR;

#endif
