/* block_file.c — see block_file.h. */
#include "backends/block_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <liburing.h>

#include "common/log.h"

#define BLOCK_MAX_DEPTH 4096

struct bf_slot {
	struct block_req req;   /* copy; iov points into the caller's array */
	uint64_t done;          /* READ/WRITE bytes transferred so far */
	bool punch;             /* WRITE_ZEROES fell back to hole punching */
};

struct block_file {
	int fd;
	int efd;                /* completions pending */
	bool read_only;
	bool async;
	bool ring_ready;
	uint64_t size;
	unsigned depth;
	unsigned inflight;
	struct io_uring ring;
	/* async: slots by user_data; free ones stacked in free_ids */
	struct bf_slot *slots;
	unsigned *free_ids;
	unsigned nfree;
	/* sync: finished requests waiting for reap (FIFO of depth) */
	struct block_completion *done;
	unsigned done_head, done_count;
};

static void signal_efd(struct block_file *bf)
{
	uint64_t one = 1;

	if (write(bf->efd, &one, sizeof(one)) < 0)
		bh_warn("block: completion eventfd: %s", strerror(errno));
}

static void drain_efd(struct block_file *bf)
{
	uint64_t v;

	if (read(bf->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		bh_warn("block: completion eventfd: %s", strerror(errno));
}

static int falloc_mode(const struct block_req *r, bool punch)
{
	if (r->op == BLOCK_OP_DISCARD || punch || r->unmap)
		return FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	return FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
}

/* Advance an iovec array past n bytes (resuming a short transfer). */
static void iov_advance(struct iovec **iov, int *cnt, uint64_t n)
{
	while (*cnt > 0 && n >= (*iov)->iov_len) {
		n -= (*iov)->iov_len;
		(*iov)++;
		(*cnt)--;
	}
	if (*cnt > 0 && n) {
		(*iov)->iov_base = (uint8_t *)(*iov)->iov_base + n;
		(*iov)->iov_len -= n;
	}
}

/* ---- synchronous engine ---- */

static int sync_rw(struct block_file *bf, struct block_req *r)
{
	struct iovec *iov = r->iov;
	int cnt = r->iovcnt;
	uint64_t done = 0;

	while (done < r->len) {
		int n = cnt > IOV_MAX ? IOV_MAX : cnt;
		ssize_t k = r->op == BLOCK_OP_READ
				    ? preadv(bf->fd, iov, n, (off_t)(r->offset + done))
				    : pwritev(bf->fd, iov, n, (off_t)(r->offset + done));

		if (k < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		if (k == 0)
			return -EIO; /* the file shrank under us */
		done += (uint64_t)k;
		iov_advance(&iov, &cnt, (uint64_t)k);
	}
	return 0;
}

static int sync_op(struct block_file *bf, struct block_req *r)
{
	switch (r->op) {
	case BLOCK_OP_READ:
	case BLOCK_OP_WRITE:
		return sync_rw(bf, r);
	case BLOCK_OP_FLUSH:
		return fdatasync(bf->fd) < 0 ? -errno : 0;
	case BLOCK_OP_DISCARD:
	case BLOCK_OP_WRITE_ZEROES:
		if (fallocate(bf->fd, falloc_mode(r, false), (off_t)r->offset, (off_t)r->len) == 0)
			return 0;
		if (errno != EOPNOTSUPP)
			return -errno;
		if (r->op == BLOCK_OP_DISCARD)
			return 0; /* advisory */
		if (fallocate(bf->fd, falloc_mode(r, true), (off_t)r->offset, (off_t)r->len) == 0)
			return 0;
		return -errno;
	}
	return -EINVAL;
}

/* ---- io_uring engine ---- */

static int uring_prep(struct block_file *bf, unsigned id)
{
	struct bf_slot *s = &bf->slots[id];
	struct block_req *r = &s->req;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&bf->ring);

	if (!sqe)
		return -EAGAIN;
	switch (r->op) {
	case BLOCK_OP_READ:
		io_uring_prep_readv(sqe, bf->fd, r->iov, (unsigned)r->iovcnt,
				    r->offset + s->done);
		break;
	case BLOCK_OP_WRITE:
		io_uring_prep_writev(sqe, bf->fd, r->iov, (unsigned)r->iovcnt,
				     r->offset + s->done);
		break;
	case BLOCK_OP_FLUSH:
		io_uring_prep_fsync(sqe, bf->fd, IORING_FSYNC_DATASYNC);
		break;
	case BLOCK_OP_DISCARD:
	case BLOCK_OP_WRITE_ZEROES:
		io_uring_prep_fallocate(sqe, bf->fd, falloc_mode(r, s->punch), (off_t)r->offset,
					(off_t)r->len);
		break;
	}
	io_uring_sqe_set_data64(sqe, id);
	return 0;
}

static int uring_submit(struct block_file *bf)
{
	int r;

	do {
		r = io_uring_submit(&bf->ring);
	} while (r == -EINTR);
	return r < 0 ? r : 0;
}

/* One CQE for slot id: 1 if the request is finished (*res set), 0 if it was
 * resubmitted (short transfer, EAGAIN, zero-range fallback). */
static int uring_complete(struct block_file *bf, unsigned id, int cres, bool resubmit, int *res)
{
	struct bf_slot *s = &bf->slots[id];
	struct block_req *r = &s->req;

	*res = cres < 0 ? cres : 0;
	switch (r->op) {
	case BLOCK_OP_READ:
	case BLOCK_OP_WRITE:
		if (cres == -EAGAIN || cres == -EINTR)
			break;
		if (cres < 0)
			return 1;
		if (cres == 0) {
			*res = -EIO;
			return 1;
		}
		s->done += (uint64_t)cres;
		if (s->done >= r->len)
			return 1;
		iov_advance(&r->iov, &r->iovcnt, (uint64_t)cres);
		break;
	case BLOCK_OP_FLUSH:
		return 1;
	case BLOCK_OP_DISCARD:
		if (cres == -EOPNOTSUPP)
			*res = 0;
		return 1;
	case BLOCK_OP_WRITE_ZEROES:
		if (cres != -EOPNOTSUPP || s->punch)
			return 1;
		s->punch = true;
		break;
	}
	if (!resubmit) {
		*res = -ECANCELED;
		return 1;
	}
	if (uring_prep(bf, id) || uring_submit(bf)) {
		*res = -EIO;
		return 1;
	}
	return 0;
}

static void slot_free(struct block_file *bf, unsigned id)
{
	bf->free_ids[bf->nfree++] = id;
	bf->inflight--;
}

/* ---- common ---- */

int block_file_submit(struct block_file *bf, struct block_req *req)
{
	uint64_t end;
	unsigned id;
	int r;

	if (bf->inflight >= bf->depth)
		return -EAGAIN;
	if (req->op > BLOCK_OP_WRITE_ZEROES)
		return -EINVAL;
	if (bf->read_only && req->op != BLOCK_OP_READ && req->op != BLOCK_OP_FLUSH)
		return -EBADF;
	if (bh_add_overflow_u64(req->offset, req->len, &end) || end > bf->size ||
	    end > (uint64_t)INT64_MAX)
		return -EINVAL;
	if ((req->op == BLOCK_OP_READ || req->op == BLOCK_OP_WRITE) &&
	    (req->iovcnt < 0 || (req->len && (!req->iov || req->iovcnt == 0))))
		return -EINVAL;
	if (!bf->async) {
		unsigned tail = (bf->done_head + bf->done_count) % bf->depth;

		bf->done[tail] = (struct block_completion){ req->tag, sync_op(bf, req) };
		bf->done_count++;
		bf->inflight++;
		signal_efd(bf);
		return 0;
	}
	id = bf->free_ids[--bf->nfree];
	bf->slots[id] = (struct bf_slot){ .req = *req };
	bf->inflight++;
	if ((req->op == BLOCK_OP_READ || req->op == BLOCK_OP_WRITE) && req->len == 0) {
		/* Nothing to transfer: complete through the normal path. */
		struct io_uring_sqe *sqe = io_uring_get_sqe(&bf->ring);

		r = sqe ? 0 : -EAGAIN;
		if (sqe) {
			io_uring_prep_nop(sqe);
			io_uring_sqe_set_data64(sqe, id);
		}
	} else {
		r = uring_prep(bf, id);
	}
	if (r == 0)
		r = uring_submit(bf);
	if (r) {
		slot_free(bf, id);
		return r;
	}
	return 0;
}

unsigned block_file_reap(struct block_file *bf, struct block_completion *out, unsigned max)
{
	unsigned n = 0;

	drain_efd(bf);
	if (!bf->async) {
		while (n < max && bf->done_count) {
			out[n++] = bf->done[bf->done_head];
			bf->done_head = (bf->done_head + 1) % bf->depth;
			bf->done_count--;
			bf->inflight--;
		}
		if (bf->done_count)
			signal_efd(bf);
		return n;
	}
	while (n < max) {
		struct io_uring_cqe *cqe;
		uint64_t id;
		int cres, res;

		if (io_uring_peek_cqe(&bf->ring, &cqe) != 0)
			break;
		id = io_uring_cqe_get_data64(cqe);
		cres = cqe->res;
		io_uring_cqe_seen(&bf->ring, cqe);
		if (id >= bf->depth)
			continue;
		if (bf->slots[id].req.len == 0 && bf->slots[id].req.op <= BLOCK_OP_WRITE)
			res = 0;
		else if (!uring_complete(bf, (unsigned)id, cres, true, &res))
			continue;
		out[n++] = (struct block_completion){ bf->slots[id].req.tag, res };
		slot_free(bf, (unsigned)id);
	}
	return n;
}

int block_file_wait(struct block_file *bf)
{
	struct io_uring_cqe *cqe;
	int r;

	/* Synchronous engine: finished requests are queued at submit time. */
	if (!bf->async || bf->inflight == 0)
		return 0;
	do
		r = io_uring_wait_cqe(&bf->ring, &cqe); /* does not consume it */
	while (r == -EINTR);
	return r < 0 ? r : 0;
}

void block_file_drain(struct block_file *bf)
{
	if (!bf->async) {
		bf->inflight -= bf->done_count;
		bf->done_count = 0;
		bf->done_head = 0;
		drain_efd(bf);
		return;
	}
	while (bf->inflight > 0) {
		struct io_uring_cqe *cqe;
		uint64_t id;
		int res, r = io_uring_wait_cqe(&bf->ring, &cqe);

		if (r == -EINTR)
			continue;
		if (r < 0) {
			/* Cannot happen with a live ring; never leave I/O that
			 * might still write guest RAM behind silently. */
			bh_err("block: waiting for in-flight I/O: %s", strerror(-r));
			break;
		}
		id = io_uring_cqe_get_data64(cqe);
		res = cqe->res;
		io_uring_cqe_seen(&bf->ring, cqe);
		if (id >= bf->depth)
			continue;
		/* Finish without resubmitting: nobody wants the data now. */
		if (bf->slots[id].req.len == 0 ||
		    uring_complete(bf, (unsigned)id, res, false, &res))
			slot_free(bf, (unsigned)id);
	}
	drain_efd(bf);
}

/* The operations the ring may ever run (also its restriction list). */
static const int uring_ops[] = { IORING_OP_READV, IORING_OP_WRITEV, IORING_OP_FSYNC,
				 IORING_OP_FALLOCATE, IORING_OP_NOP };

static bool uring_usable(struct io_uring *ring)
{
	struct io_uring_probe *p = io_uring_get_probe_ring(ring);
	bool ok = p != NULL;

	for (size_t i = 0; ok && i < BH_ARRAY_SIZE(uring_ops); i++)
		ok = io_uring_opcode_supported(p, uring_ops[i]);
	if (p)
		io_uring_free_probe(p);
	return ok;
}

/* Lock the ring down to uring_ops, with no SQE flags and no further
 * registrations: io_uring requests bypass seccomp, so even a compromised
 * VMM must not be able to turn this ring into openat/connect/... The ring
 * was created disabled; this enables it. */
static int uring_restrict(struct io_uring *ring)
{
	struct io_uring_restriction res[BH_ARRAY_SIZE(uring_ops)];
	int r;

	memset(res, 0, sizeof(res));
	for (size_t i = 0; i < BH_ARRAY_SIZE(uring_ops); i++) {
		res[i].opcode = IORING_RESTRICTION_SQE_OP;
		res[i].sqe_op = (uint8_t)uring_ops[i];
	}
	/* Raw io_uring_register(2): Debian 12's liburing 2.3 declares
	 * io_uring_register_restrictions()/io_uring_enable_rings() but does
	 * not export them. */
	r = (int)syscall(__NR_io_uring_register, ring->ring_fd, IORING_REGISTER_RESTRICTIONS, res,
			 (unsigned)BH_ARRAY_SIZE(res));
	if (r == 0)
		r = (int)syscall(__NR_io_uring_register, ring->ring_fd,
				 IORING_REGISTER_ENABLE_RINGS, NULL, 0);
	return r < 0 ? -errno : 0;
}

static int setup_engine(struct block_file *bf, enum block_mode mode, const char *path)
{
	int r;

	bf->done = calloc(bf->depth, sizeof(*bf->done));
	if (!bf->done)
		return -ENOMEM;
	if (mode == BLOCK_MODE_SYNC) {
		bh_info("disk %s: synchronous I/O (requested)", path);
		return 0;
	}
	r = io_uring_queue_init(bf->depth, &bf->ring, IORING_SETUP_R_DISABLED);
	if (r < 0) {
		bh_info("disk %s: synchronous I/O (io_uring unavailable: %s)", path, strerror(-r));
		return 0;
	}
	bf->ring_ready = true;
	if (!uring_usable(&bf->ring)) {
		bh_info("disk %s: synchronous I/O (io_uring lacks a needed operation)", path);
		return 0;
	}
	r = io_uring_register_eventfd(&bf->ring, bf->efd);
	if (r == 0)
		r = uring_restrict(&bf->ring);
	if (r < 0) {
		bh_info("disk %s: synchronous I/O (io_uring setup: %s)", path, strerror(-r));
		return 0;
	}
	bf->slots = calloc(bf->depth, sizeof(*bf->slots));
	bf->free_ids = calloc(bf->depth, sizeof(*bf->free_ids));
	if (!bf->slots || !bf->free_ids)
		return -ENOMEM;
	for (unsigned i = 0; i < bf->depth; i++)
		bf->free_ids[i] = bf->depth - 1 - i;
	bf->nfree = bf->depth;
	bf->async = true;
	bh_info("disk %s: io_uring I/O, depth %u, ring restricted to %zu operations", path,
		bf->depth, BH_ARRAY_SIZE(uring_ops));
	return 0;
}

int block_file_open(struct block_file **out, const char *path, bool read_only,
		    enum block_mode mode, unsigned depth, char *err, size_t errlen)
{
	struct block_file *bf;
	struct stat st;
	int r, flags;

	*out = NULL;
	if (!path || depth == 0 || depth > BLOCK_MAX_DEPTH) {
		snprintf(err, errlen, "disk %s: bad backend parameters", path ? path : "(null)");
		return -EINVAL;
	}
	bf = calloc(1, sizeof(*bf));
	if (!bf) {
		snprintf(err, errlen, "disk %s: out of memory", path);
		return -ENOMEM;
	}
	bf->efd = -1;
	bf->read_only = read_only;
	bf->depth = depth;
	/* O_NONBLOCK so that a FIFO cannot hang the open; cleared below. */
	bf->fd = open(path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NONBLOCK);
	if (bf->fd < 0 && errno == EISDIR) {
		r = -EINVAL;
		snprintf(err, errlen, "disk %s: not a regular file or block device", path);
		goto fail;
	}
	if (bf->fd < 0) {
		r = -errno;
		snprintf(err, errlen, "disk %s: cannot open%s: %s", path,
			 read_only ? " read-only" : " read-write", strerror(-r));
		goto fail;
	}
	if (fstat(bf->fd, &st) < 0) {
		r = -errno;
		snprintf(err, errlen, "disk %s: stat: %s", path, strerror(-r));
		goto fail;
	}
	if (S_ISREG(st.st_mode)) {
		bf->size = (uint64_t)st.st_size;
	} else if (S_ISBLK(st.st_mode)) {
		if (ioctl(bf->fd, BLKGETSIZE64, &bf->size) < 0) {
			r = -errno;
			snprintf(err, errlen, "disk %s: BLKGETSIZE64: %s", path, strerror(-r));
			goto fail;
		}
	} else {
		r = -EINVAL;
		snprintf(err, errlen, "disk %s: not a regular file or block device", path);
		goto fail;
	}
	flags = fcntl(bf->fd, F_GETFL);
	if (flags < 0 || fcntl(bf->fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
		r = -errno;
		snprintf(err, errlen, "disk %s: fcntl: %s", path, strerror(-r));
		goto fail;
	}
	bf->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (bf->efd < 0) {
		r = -errno;
		snprintf(err, errlen, "disk %s: eventfd: %s", path, strerror(-r));
		goto fail;
	}
	r = setup_engine(bf, mode, path);
	if (r) {
		snprintf(err, errlen, "disk %s: %s", path, strerror(-r));
		goto fail;
	}
	*out = bf;
	return 0;
fail:
	block_file_close(bf);
	return r;
}

void block_file_close(struct block_file *bf)
{
	if (!bf)
		return;
	if (bf->async)
		block_file_drain(bf);
	if (bf->ring_ready)
		io_uring_queue_exit(&bf->ring);
	if (bf->efd >= 0)
		close(bf->efd);
	if (bf->fd >= 0)
		close(bf->fd);
	free(bf->slots);
	free(bf->free_ids);
	free(bf->done);
	free(bf);
}

uint64_t block_file_size(const struct block_file *bf)
{
	return bf->size;
}

bool block_file_read_only(const struct block_file *bf)
{
	return bf->read_only;
}

bool block_file_async(const struct block_file *bf)
{
	return bf->async;
}

int block_file_event_fd(const struct block_file *bf)
{
	return bf->efd;
}

unsigned block_file_inflight(const struct block_file *bf)
{
	return bf->inflight;
}
