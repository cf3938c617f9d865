/* virtio.h — a minimal virtio-pci *modern* driver for the test guests
 * (virtio 1.x §4.1): find the function on bus 0, walk the vendor
 * capabilities, negotiate, set up split queues in guest RAM, submit chains,
 * notify, and poll the used ring (no interrupts: MSI-X vectors are set to
 * NO_VECTOR and IF stays 0).
 *
 * Everything works from ring 3 (IOPL=3, user-accessible identity mapping),
 * which is where the guests run their data paths. Guest virtual == guest
 * physical, so ring memory is any static or allocated buffer. No global state:
 * a struct vt_dev per device, a struct vt_queue per queue, owned by the
 * caller. The library never trusts the device more than needed to finish a
 * test: every wait is bounded and reports NEEDS_RESET.
 */
#ifndef BH_GUEST_VIRTIO_H
#define BH_GUEST_VIRTIO_H

#include <stdint.h>

#define VT_VENDOR 0x1af4
#define VT_DEVICE_BASE 0x1040 /* + virtio device ID */
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG 4

/* Capability cfg_type values. */
#define VT_CAP_COMMON 1
#define VT_CAP_NOTIFY 2
#define VT_CAP_ISR 3
#define VT_CAP_DEVICE 4
#define VT_CAP_PCI_CFG 5

/* Common configuration registers (§4.1.4.3). */
#define VT_DFSELECT 0
#define VT_DF 4
#define VT_GFSELECT 8
#define VT_GF 12
#define VT_MSIX_CONFIG 16
#define VT_NUM_QUEUES 18
#define VT_STATUS 20
#define VT_CFG_GENERATION 21
#define VT_Q_SELECT 22
#define VT_Q_SIZE 24
#define VT_Q_MSIX 26
#define VT_Q_ENABLE 28
#define VT_Q_NOTIFY_OFF 30
#define VT_Q_DESC 32
#define VT_Q_DRIVER 40
#define VT_Q_DEVICE 48

#define VT_S_ACKNOWLEDGE 1
#define VT_S_DRIVER 2
#define VT_S_DRIVER_OK 4
#define VT_S_FEATURES_OK 8
#define VT_S_NEEDS_RESET 0x40
#define VT_S_FAILED 0x80
#define VT_NO_VECTOR 0xffff

#define VT_F_VERSION_1 (1ull << 32)
#define VT_F_INDIRECT_DESC (1ull << 28)
#define VT_F_EVENT_IDX (1ull << 29)

#define VT_DESC_F_NEXT 1
#define VT_DESC_F_WRITE 2
#define VT_DESC_F_INDIRECT 4

#define VT_QMAX 256 /* largest queue this library drives */

struct vt_dev {
	int devfn;
	uint64_t common, notify, isr, device; /* absolute MMIO addresses */
	uint32_t common_len, notify_len, isr_len, device_len, notify_mul;
	uint64_t bar_size;
	unsigned msix_cap;     /* config-space offset of the MSI-X capability, or 0 */
	uint16_t num_queues;
	uint64_t offered;      /* device features (read by vt_init) */
	uint64_t features;     /* negotiated */
};

struct vt_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

struct vt_used_elem {
	uint32_t id, len;
};

struct vt_queue {
	struct vt_dev *dev;
	uint16_t idx, size;
	volatile struct vt_desc *desc;
	volatile uint16_t *avail; /* flags, idx, ring[size], used_event */
	volatile uint16_t *used;  /* flags, idx, then vt_used_elem[size] */
	uint64_t notify_addr;
	uint16_t avail_idx, last_used, num_free;
	uint16_t free_top;
	uint16_t free_stack[VT_QMAX];
	uint16_t next_shadow[VT_QMAX]; /* the driver's own copy of chain links */
	uint16_t chain_len[VT_QMAX];   /* per head */
};

struct vt_seg {
	uint64_t addr;
	uint32_t len;
};

/* Bytes of ring memory a queue of `size` entries needs (desc, avail, then used
 * at the next 4 KiB); the memory passed to vt_queue_init must be 4 KiB-aligned. */
static inline uint64_t vt_queue_mem_size(unsigned size)
{
	uint64_t used = (16ull * size + 6 + 2ull * size + 4095) & ~4095ull;
	return used + ((6 + 8ull * size + 4095) & ~4095ull);
}

/* ---- register access (exact widths; MMIO from ring 3 works) ---- */
uint8_t vt_c8(const struct vt_dev *d, unsigned off);
uint16_t vt_c16(const struct vt_dev *d, unsigned off);
uint32_t vt_c32(const struct vt_dev *d, unsigned off);
void vt_w8(const struct vt_dev *d, unsigned off, uint8_t v);
void vt_w16(const struct vt_dev *d, unsigned off, uint16_t v);
void vt_w32(const struct vt_dev *d, unsigned off, uint32_t v);
void vt_w64(const struct vt_dev *d, unsigned off, uint64_t v); /* two dword writes, low first */
uint64_t vt_r64(const struct vt_dev *d, unsigned off);
static inline uint8_t vt_status(const struct vt_dev *d) { return vt_c8(d, VT_STATUS); }
/* Device-specific configuration (cap DEVICE). */
uint8_t vt_cfg8(const struct vt_dev *d, unsigned off);
uint16_t vt_cfg16(const struct vt_dev *d, unsigned off);
uint32_t vt_cfg32(const struct vt_dev *d, unsigned off);
uint64_t vt_cfg64(const struct vt_dev *d, unsigned off); /* two dword reads */

/* Find the `index`-th function with device ID 0x1040 + id on bus 0, walk its
 * capabilities, map the BAR(s) they point to (placing them if unassigned).
 * 0, or -1 with a message printed. */
int vt_open(struct vt_dev *d, unsigned id, unsigned index);
/* Write 0 to device_status and wait (bounded) for it to read 0. 0 / -1. */
int vt_reset(struct vt_dev *d);
/* reset, ACKNOWLEDGE|DRIVER, accept (offered & want) | VERSION_1, FEATURES_OK
 * and check that it stuck. 0 / -1 (message printed). */
int vt_init(struct vt_dev *d, uint64_t want);
/* Write the driver feature words (no status change). */
void vt_write_features(struct vt_dev *d, uint64_t f);
/* Configure queue `idx` with `size` entries (≤ the device's maximum, a power
 * of two, ≤ VT_QMAX; 0 = the device's maximum capped to VT_QMAX) in `mem`
 * (vt_queue_mem_size bytes, 4 KiB aligned; zeroed here), MSI-X NO_VECTOR,
 * enable it and check queue_enable reads 1. 0 / -1. */
int vt_queue_init(struct vt_queue *q, struct vt_dev *d, unsigned idx, unsigned size, void *mem);
/* Set DRIVER_OK (keeping the other bits). */
void vt_driver_ok(struct vt_dev *d);

/* Post one chain: the `n_out` device-readable segments, then `n_in`
 * device-writable ones. Returns the head, or -1 if not enough free
 * descriptors. Does not notify. */
int vt_add(struct vt_queue *q, const struct vt_seg *segs, unsigned n_out, unsigned n_in);
/* Put `head` (descriptors written by the caller) into the avail ring. */
void vt_publish(struct vt_queue *q, uint16_t head);
/* Notify the device about queue q (16-bit write of the index). */
void vt_kick(struct vt_queue *q);
/* One used element if there is one: its id (head; the chain's descriptors
 * return to the free list when the id is a head we posted) and *len; else -1. */
int vt_get(struct vt_queue *q, uint32_t *len);
/* Poll until an element is used: its id; -2 if device_status shows
 * NEEDS_RESET first, -1 after ~`tsc_budget` TSC cycles (0 = 20e9). */
int vt_wait(struct vt_queue *q, uint32_t *len, uint64_t tsc_budget);
/* Used index as the device published it. */
static inline uint16_t vt_used_idx(const struct vt_queue *q) { return q->used[1]; }

/* ---- virtio-blk ---- */
#define VT_BLK_T_IN 0
#define VT_BLK_T_OUT 1
#define VT_BLK_T_FLUSH 4
#define VT_BLK_T_GET_ID 8
#define VT_BLK_T_DISCARD 11
#define VT_BLK_T_WRITE_ZEROES 13
#define VT_BLK_S_OK 0
#define VT_BLK_S_IOERR 1
#define VT_BLK_S_UNSUPP 2
#define VT_BLK_F_SIZE_MAX (1ull << 1)
#define VT_BLK_F_SEG_MAX (1ull << 2)
#define VT_BLK_F_RO (1ull << 5)
#define VT_BLK_F_BLK_SIZE (1ull << 6)
#define VT_BLK_F_FLUSH (1ull << 9)
#define VT_BLK_F_DISCARD (1ull << 13)
#define VT_BLK_F_WRITE_ZEROES (1ull << 14)
#define VT_BLK_CFG_CAPACITY 0 /* u64, 512-byte sectors */
#define VT_BLK_CFG_SEG_MAX 12
#define VT_BLK_CFG_BLK_SIZE 20

struct vt_blk_hdr {
	uint32_t type, reserved;
	uint64_t sector;
};

/* Post a request: header, the data segments (device-writable when `data_in`),
 * the 1-byte status. Returns the head or -1 (queue full). Does not notify. */
int vt_blk_add(struct vt_queue *q, struct vt_blk_hdr *h, const struct vt_seg *data,
	       unsigned ndata, int data_in, volatile uint8_t *status);
/* Synchronous: add, kick, wait. Returns the status byte (0..255), -2 on
 * NEEDS_RESET, -1 on timeout / full queue; *used_len gets the used length. */
int vt_blk_rw(struct vt_queue *q, uint32_t type, uint64_t sector, const struct vt_seg *data,
	      unsigned ndata, uint32_t *used_len);

#endif
