/* block_file.h — a raw disk image (regular file or block device) with
 * asynchronous I/O.
 *
 * Two engines behind one interface:
 *  - io_uring (liburing): reads, writes, flushes, discards and write-zeroes
 *    are queued on a ring whose completions signal an eventfd; the owner
 *    watches that fd on the event thread and calls block_file_reap();
 *  - synchronous fallback (preadv/pwritev/fdatasync/fallocate) when the
 *    kernel refuses io_uring (ENOSYS, EPERM from kernel.io_uring_disabled or
 *    a seccomp filter) or lacks an opcode, or when asked for (tests). The
 *    operation runs inside block_file_submit(), but its completion is still
 *    delivered through the eventfd and block_file_reap(), so callers have a
 *    single completion path.
 * Which engine is used is logged once at open.
 *
 * The file is opened by block_file_open() at VM setup, before any sandbox;
 * afterwards the backend never opens a file.
 *
 * Threading: not thread-safe; the owner serialises every call (virtio-blk
 * holds its device lock). In-flight requests are bounded by `depth`.
 */
#ifndef BH_BACKENDS_BLOCK_FILE_H
#define BH_BACKENDS_BLOCK_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "common/compiler.h"

enum block_op {
	BLOCK_OP_READ,
	BLOCK_OP_WRITE,
	BLOCK_OP_FLUSH,         /* fdatasync: completed writes reach stable storage */
	BLOCK_OP_DISCARD,       /* hole punch; advisory, "unsupported" counts as done */
	BLOCK_OP_WRITE_ZEROES,  /* zero range (or punch when unmap is allowed) */
};

enum block_mode {
	BLOCK_MODE_AUTO,        /* io_uring if the kernel allows it, else synchronous */
	BLOCK_MODE_SYNC,        /* always synchronous */
};

struct block_req {
	enum block_op op;
	uint64_t offset;        /* bytes */
	uint64_t len;           /* bytes: the iovecs' total for READ/WRITE */
	struct iovec *iov;      /* READ/WRITE; caller-owned, see block_file_submit() */
	int iovcnt;
	bool unmap;             /* WRITE_ZEROES may deallocate */
	uint64_t tag;           /* returned in the completion */
};

struct block_completion {
	uint64_t tag;
	int res;                /* 0 (all bytes done) or -errno */
};

struct block_file;

/* Open `path` (O_RDONLY when read_only, else O_RDWR; O_CLOEXEC). Regular
 * files and block devices only; size from fstat or BLKGETSIZE64. depth:
 * 1..4096 requests in flight. On failure: -errno and a message naming path
 * in err. Setup thread. */
int block_file_open(struct block_file **out, const char *path, bool read_only,
		    enum block_mode mode, unsigned depth, char *err, size_t errlen) BH_WUR;

/* Wait for in-flight work (block_file_drain()) and release everything. */
void block_file_close(struct block_file *bf);

uint64_t block_file_size(const struct block_file *bf);
bool block_file_read_only(const struct block_file *bf);
/* True when the io_uring engine is in use. */
bool block_file_async(const struct block_file *bf);
/* Readable when completions are waiting (never closed by the caller). */
int block_file_event_fd(const struct block_file *bf);
/* Requests submitted and not yet reaped. */
unsigned block_file_inflight(const struct block_file *bf);

/* Queue one request. The caller guarantees offset/len are inside the file
 * (checked again here: -EINVAL). For READ/WRITE, req->iov must stay valid
 * and untouched by the caller until the completion is reaped; the backend
 * may modify it (to resume short transfers). 0: queued, the completion
 * arrives through block_file_reap(); -EAGAIN: `depth` requests in flight;
 * -EBADF: a modifying op on a read-only file; -EINVAL. */
int block_file_submit(struct block_file *bf, struct block_req *req) BH_WUR;

/* Collect up to max finished requests (never blocks). Call again while it
 * returns max: the eventfd is only re-armed by new completions. */
unsigned block_file_reap(struct block_file *bf, struct block_completion *out, unsigned max);

/* Block until at least one in-flight request has finished (collect it with
 * block_file_reap()); returns at once when none is in flight. 0 or -errno.
 * The quiesce path: wait, reap, repeat until block_file_inflight() is 0. */
int block_file_wait(struct block_file *bf) BH_WUR;

/* Block until every in-flight request has finished (their memory is no
 * longer touched), and discard their completions. Device reset path. */
void block_file_drain(struct block_file *bf);

#endif
