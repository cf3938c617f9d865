/* blk.h — virtio-blk (virtio 1.x §5.2) over a raw image (block_file.h).
 *
 * One request queue (queue 0, up to 256 entries). Offered features: SEG_MAX
 * (126 data segments), BLK_SIZE (512), FLUSH, RO for read-only disks, DISCARD
 * and WRITE_ZEROES (one segment each) for writable ones, plus the ring's
 * EVENT_IDX and INDIRECT_DESC. Every request is validated as docs/virtio.md
 * says, on host copies of the header and segments:
 *  - framing: a 16-byte device-readable header and a device-writable status
 *    byte (the chain's last byte) or the chain is completed with used length
 *    0 and no status;
 *  - IOERR: sector/length past the end (overflow-safe), data length not a
 *    multiple of 512, data in the wrong direction, GET_ID buffer < 20 bytes,
 *    a discard/write-zeroes payload that is not exactly one 16-byte segment
 *    or exceeds the advertised maximum, host I/O errors;
 *  - UNSUPP: unknown type, write/discard/write-zeroes on a read-only disk
 *    (the file is opened O_RDONLY), unknown discard/write-zeroes flags.
 * Requests in flight are bounded by the queue size (one per head).
 * Completions (io_uring or the synchronous engine) arrive on the event thread
 * through the backend's eventfd; reset() waits for every in-flight request
 * before it returns, so no completion touches RAM or the ring afterwards.
 */
#ifndef BH_VIRTIO_BLK_H
#define BH_VIRTIO_BLK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backends/block_file.h"
#include "common/compiler.h"
#include "core/event_loop.h"
#include "virtio/virtio_dev.h"

#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_BLK_F_DISCARD 13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_T_DISCARD 11
#define VIRTIO_BLK_T_WRITE_ZEROES 13

#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2

#define VIRTIO_BLK_WZ_F_UNMAP 1
#define VIRTIO_BLK_QUEUE_MAX 256
#define VIRTIO_BLK_SEG_MAX (VIRTQ_MAX_SEGS - 2)
#define VIRTIO_BLK_ID_BYTES 20
#define VIRTIO_BLK_CFG_LEN 60
#define VIRTIO_BLK_MAX_DISCARD_SECTORS 0x3fffffu /* per request, 2 GiB - 512 */
/* Snapshot state (its ops): activated u8, read-only u8, the serial (20
 * bytes), the configuration space (60 bytes: capacity, limits). Load refuses
 * a disk that differs from the one the guest saw (capacity, read-only,
 * serial). Contract: after quiesce no request is in flight (quiesce
 * completes every submitted request into the used ring); save checks it
 * and refuses (-EBUSY) otherwise, so a restored guest never loses or
 * repeats an acknowledged write. */
#define VIRTIO_BLK_STATE_VERSION 1

/* One disk as the operator configured it (the configuration schema embeds
 * this; plain data, strings borrowed). Disks are /dev/vda, /dev/vdb, ... in
 * order, at most VIRTIO_BLK_MAX_DISKS. */
#define VIRTIO_BLK_MAX_DISKS 8
#define VIRTIO_BLK_ID_MAX 20 /* the serial GET_ID reports is 20 bytes */
struct virtio_blk_disk {
	const char *path;                /* raw image file */
	bool read_only;                  /* opened O_RDONLY; writes get VIRTIO_BLK_S_UNSUPP */
	char id[VIRTIO_BLK_ID_MAX + 1];  /* serial reported by GET_ID ("" = derived) */
};

struct virtio_blk;

/* Open cfg->path (O_RDONLY if cfg->read_only, else O_RDWR) and build the
 * device "virtio-blk<index>". The serial (GET_ID) is cfg->id, or
 * "bulkhead-vd<letter>" (bulkhead-vda for index 0) when cfg->id is empty.
 * `mem` and `el` are borrowed and must outlive the device; with el == NULL
 * nothing is registered and the owner calls virtio_blk_poll() itself (tests,
 * fuzzing). mode: BLOCK_MODE_AUTO (io_uring, else synchronous) or
 * BLOCK_MODE_SYNC. Errors name the path: missing/unopenable file, not a
 * regular file or block device, empty, size not a multiple of 512 → -errno
 * (-EINVAL for bad configuration) and a message in err. Setup thread, before
 * the event loop runs and before any sandbox (this is where the file is
 * opened). Attach *out's ->vdev to the transport; free with
 * vdev.ops->destroy(). */
int virtio_blk_create(struct virtio_blk **out, const struct virtio_blk_disk *cfg, unsigned index,
		      const struct guest_mem *mem, struct event_loop *el, enum block_mode mode,
		      char *err, size_t errlen) BH_WUR;

/* The embedded base (for the transport). */
struct virtio_dev *virtio_blk_dev(struct virtio_blk *b);

/* Reap finished I/O and complete the requests (what the event handler does).
 * Takes the device lock. Returns the number of requests completed. */
unsigned virtio_blk_poll(struct virtio_blk *b);

/* Requests submitted to the backend and not yet completed. Lock held or
 * single-threaded. */
unsigned virtio_blk_inflight(const struct virtio_blk *b);

/* True when the io_uring engine is in use. */
bool virtio_blk_async(const struct virtio_blk *b);

struct virtio_blk_stats {
	uint64_t reads, writes, flushes, discards, write_zeroes, get_ids;
	uint64_t ioerr, unsupp, bad_framing;
};
void virtio_blk_get_stats(struct virtio_blk *b, struct virtio_blk_stats *st);

#endif
