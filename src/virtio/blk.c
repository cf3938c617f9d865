/* blk.c — virtio-blk. See blk.h. */
#include "virtio/blk.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "common/log.h"

#define SECTOR 512ULL

/* One request per descriptor head (heads in flight are unique). */
struct blk_req {
	struct iovec iov[VIRTQ_MAX_SEGS];
	uint64_t status_gpa;
	uint32_t used_len;      /* on success */
	bool busy;
};

struct virtio_blk {
	struct virtio_dev vdev;
	char name[24];
	char serial[VIRTIO_BLK_ID_BYTES];
	struct block_file *bf;
	struct event_loop *el;
	bool read_only;
	bool live;              /* activated (DRIVER_OK), not reset since */
	uint64_t sectors;
	uint8_t cfg[VIRTIO_BLK_CFG_LEN];
	struct virtio_blk_stats st;
	struct blk_req reqs[VIRTIO_BLK_QUEUE_MAX];
};

struct blk_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

struct blk_dwz {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;
};

static struct virtio_blk *to_blk(struct virtio_dev *vd)
{
	return bh_container_of(vd, struct virtio_blk, vdev);
}

static uint64_t blk_features(struct virtio_dev *vd)
{
	struct virtio_blk *b = to_blk(vd);
	uint64_t f = (1ULL << VIRTIO_BLK_F_SEG_MAX) | (1ULL << VIRTIO_BLK_F_BLK_SIZE) |
		     (1ULL << VIRTIO_BLK_F_FLUSH) | (1ULL << VIRTIO_RING_F_EVENT_IDX) |
		     (1ULL << VIRTIO_RING_F_INDIRECT_DESC);

	if (b->read_only)
		f |= 1ULL << VIRTIO_BLK_F_RO;
	else
		f |= (1ULL << VIRTIO_BLK_F_DISCARD) | (1ULL << VIRTIO_BLK_F_WRITE_ZEROES);
	return f;
}

static void blk_cfg_read(struct virtio_dev *vd, uint32_t off, void *data, uint32_t len)
{
	struct virtio_blk *b = to_blk(vd);

	if (off <= sizeof(b->cfg) && len <= sizeof(b->cfg) - off)
		memcpy(data, b->cfg + off, len);
	else
		memset(data, 0, len);
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void build_cfg(struct virtio_blk *b)
{
	memset(b->cfg, 0, sizeof(b->cfg));
	memcpy(b->cfg + 0, &b->sectors, 8);                    /* capacity */
	put32(b->cfg + 12, VIRTIO_BLK_SEG_MAX);                /* seg_max */
	put32(b->cfg + 20, (uint32_t)SECTOR);                  /* blk_size */
	if (!b->read_only) {
		put32(b->cfg + 36, VIRTIO_BLK_MAX_DISCARD_SECTORS); /* max_discard_sectors */
		put32(b->cfg + 40, 1);                          /* max_discard_seg */
		put32(b->cfg + 44, 8);                          /* discard_sector_alignment */
		put32(b->cfg + 48, VIRTIO_BLK_MAX_DISCARD_SECTORS); /* max_write_zeroes_sectors */
		put32(b->cfg + 52, 1);                          /* max_write_zeroes_seg */
		b->cfg[56] = 1;                                 /* write_zeroes_may_unmap */
	}
}

/* Write the status byte and return the chain. */
static void finish(struct virtio_blk *b, uint16_t head, uint64_t status_gpa, uint8_t status,
		   uint32_t used_len)
{
	struct virtq *q = &b->vdev.vq[0];

	if (status == VIRTIO_BLK_S_IOERR)
		b->st.ioerr++;
	else if (status == VIRTIO_BLK_S_UNSUPP)
		b->st.unsupp++;
	if (gmem_write(b->vdev.mem, status_gpa, &status, 1))
		used_len = 0; /* validated at pop: cannot happen */
	if (virtq_push(q, head, used_len))
		bh_warn("%s: completing head %u: not in flight", b->name, head);
}

/* Range check for [sector, sector + bytes/512): overflow-safe. */
static bool range_ok(const struct virtio_blk *b, uint64_t sector, uint64_t bytes)
{
	return sector <= b->sectors && bytes / SECTOR <= b->sectors - sector;
}

/* Submit to the backend; on a refusal complete at once with IOERR. */
static void submit(struct virtio_blk *b, uint16_t head, uint64_t status_gpa, uint32_t used_len,
		   struct block_req *br)
{
	struct blk_req *r = &b->reqs[head];
	int e;

	br->tag = head;
	r->status_gpa = status_gpa;
	r->used_len = used_len;
	r->busy = true;
	e = block_file_submit(b->bf, br);
	if (e) {
		r->busy = false;
		bh_warn_guest("%s: request refused by the backend: %s", b->name, strerror(-e));
		finish(b, head, status_gpa, VIRTIO_BLK_S_IOERR, 1);
	}
}

/* Validate one chain and start (or finish) its request. */
static void handle(struct virtio_blk *b, const struct virtq_chain *c)
{
	struct virtq *q = &b->vdev.vq[0];
	struct blk_req *r = &b->reqs[c->head];
	struct block_req br = { 0 };
	struct blk_hdr h;
	struct blk_dwz dwz;
	uint64_t status_gpa, data_out, data_in;
	const struct virtq_seg *last;
	int n;

	if (c->out_bytes < sizeof(h) || c->in_bytes < 1) {
		b->st.bad_framing++;
		bh_dbg_guest("%s: request without header or status byte", b->name);
		if (virtq_push(q, c->head, 0))
			bh_warn("%s: completing head %u: not in flight", b->name, c->head);
		return;
	}
	if (virtq_chain_read(q, c, 0, &h, sizeof(h)) != (int64_t)sizeof(h)) {
		/* Cannot happen (validated at pop): return it without status. */
		if (virtq_push(q, c->head, 0))
			bh_warn("%s: completing head %u: not in flight", b->name, c->head);
		return;
	}
	last = &c->seg[c->nout + c->nin - 1];
	status_gpa = last->gpa + last->len - 1;
	data_out = c->out_bytes - sizeof(h);
	data_in = c->in_bytes - 1;

	switch (h.type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT: {
		bool in = h.type == VIRTIO_BLK_T_IN;
		uint64_t len = in ? data_in : data_out;

		if (!in && b->read_only)
			goto unsupp;
		if ((in ? data_out : data_in) != 0 || len % SECTOR || !range_ok(b, h.sector, len))
			goto ioerr;
		n = virtq_chain_iov(q, c, in, in ? 0 : sizeof(h), len, r->iov, VIRTQ_MAX_SEGS);
		if (n < 0)
			goto ioerr;
		br = (struct block_req){ .op = in ? BLOCK_OP_READ : BLOCK_OP_WRITE,
					 .offset = h.sector * SECTOR, .len = len,
					 .iov = r->iov, .iovcnt = n };
		if (in)
			b->st.reads++;
		else
			b->st.writes++;
		submit(b, c->head, status_gpa, in ? (uint32_t)len + 1 : 1, &br);
		return;
	}
	case VIRTIO_BLK_T_FLUSH:
		b->st.flushes++;
		br.op = BLOCK_OP_FLUSH;
		submit(b, c->head, status_gpa, 1, &br);
		return;
	case VIRTIO_BLK_T_GET_ID:
		b->st.get_ids++;
		if (data_in < VIRTIO_BLK_ID_BYTES ||
		    virtq_chain_write(q, c, 0, b->serial, VIRTIO_BLK_ID_BYTES) !=
			    VIRTIO_BLK_ID_BYTES)
			goto ioerr;
		finish(b, c->head, status_gpa, VIRTIO_BLK_S_OK, VIRTIO_BLK_ID_BYTES + 1);
		return;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		if (b->read_only)
			goto unsupp;
		if (data_in != 0 || data_out != sizeof(dwz) ||
		    virtq_chain_read(q, c, sizeof(h), &dwz, sizeof(dwz)) != (int64_t)sizeof(dwz))
			goto ioerr;
		if (dwz.flags & ~(uint32_t)VIRTIO_BLK_WZ_F_UNMAP)
			goto unsupp;
		if (dwz.num_sectors > VIRTIO_BLK_MAX_DISCARD_SECTORS ||
		    !range_ok(b, dwz.sector, (uint64_t)dwz.num_sectors * SECTOR))
			goto ioerr;
		br.offset = dwz.sector * SECTOR;
		br.len = (uint64_t)dwz.num_sectors * SECTOR;
		if (h.type == VIRTIO_BLK_T_DISCARD) {
			b->st.discards++;
			br.op = BLOCK_OP_DISCARD;
		} else {
			b->st.write_zeroes++;
			br.op = BLOCK_OP_WRITE_ZEROES;
			br.unmap = dwz.flags & VIRTIO_BLK_WZ_F_UNMAP;
		}
		submit(b, c->head, status_gpa, 1, &br);
		return;
	default:
		goto unsupp;
	}
ioerr:
	finish(b, c->head, status_gpa, VIRTIO_BLK_S_IOERR, 1);
	return;
unsupp:
	finish(b, c->head, status_gpa, VIRTIO_BLK_S_UNSUPP, 1);
}

static uint64_t blk_handle(struct virtio_dev *vd, struct virtq_chain *c)
{
	handle(to_blk(vd), c);
	return 0; /* bounded by chains: at most one pass over the ring per call */
}

static void blk_notify(struct virtio_dev *vd, unsigned qi)
{
	if (qi != 0 || !to_blk(vd)->live)
		return;
	virtio_dev_process_queue(vd, 0, vd->vq[0].size, UINT64_MAX, blk_handle);
}

static unsigned reap_locked(struct virtio_blk *b)
{
	struct block_completion done[32];
	unsigned n, total = 0;

	do {
		n = block_file_reap(b->bf, done, BH_ARRAY_SIZE(done));
		for (unsigned i = 0; i < n; i++) {
			uint64_t head = done[i].tag;
			struct blk_req *r;

			if (head >= VIRTIO_BLK_QUEUE_MAX || !b->reqs[head].busy)
				continue;
			r = &b->reqs[head];
			r->busy = false;
			if (done[i].res < 0)
				bh_warn_guest("%s: host I/O error: %s", b->name,
					      strerror(-done[i].res));
			finish(b, (uint16_t)head, r->status_gpa,
			       done[i].res < 0 ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK,
			       done[i].res < 0 ? 1 : r->used_len);
			total++;
		}
	} while (n == BH_ARRAY_SIZE(done));
	if (total)
		virtio_dev_queue_done(&b->vdev, 0);
	return total;
}

unsigned virtio_blk_poll(struct virtio_blk *b)
{
	unsigned n;

	pthread_mutex_lock(&b->vdev.lock);
	n = reap_locked(b);
	pthread_mutex_unlock(&b->vdev.lock);
	return n;
}

static void blk_io_event(void *opaque, uint32_t events)
{
	(void)events;
	(void)virtio_blk_poll(opaque);
}

static int blk_activate(struct virtio_dev *vd)
{
	/* Queue 0 was validated by virtq_activate(); requests posted before
	 * DRIVER_OK are picked up now. */
	to_blk(vd)->live = true;
	blk_notify(vd, 0);
	return 0;
}

static void blk_reset(struct virtio_dev *vd)
{
	struct virtio_blk *b = to_blk(vd);

	/* Every submitted request finishes before this returns; their
	 * completions are dropped: the rings are about to be forgotten. */
	b->live = false;
	block_file_drain(b->bf);
	for (unsigned i = 0; i < VIRTIO_BLK_QUEUE_MAX; i++)
		b->reqs[i].busy = false;
}

/* Quiesce: every submitted request finishes and is completed into the used
 * ring; nothing new starts (the base holds notifications meanwhile). */
static void blk_quiesce(struct virtio_dev *vd)
{
	struct virtio_blk *b = to_blk(vd);

	while (block_file_inflight(b->bf) > 0) {
		int r = block_file_wait(b->bf);

		if (r < 0) {
			bh_err("%s: waiting for in-flight I/O: %s", b->name, strerror(-r));
			break;
		}
		(void)reap_locked(b);
	}
	(void)reap_locked(b);
}

static void blk_destroy(struct virtio_dev *vd)
{
	struct virtio_blk *b = to_blk(vd);

	if (b->el && b->bf)
		event_loop_del(b->el, block_file_event_fd(b->bf));
	block_file_close(b->bf);
	virtio_dev_deinit(vd);
	free(b);
}

/* State: see VIRTIO_BLK_STATE_VERSION. */
static void blk_save(struct virtio_dev *vd, struct sbuf *out)
{
	struct virtio_blk *b = to_blk(vd);
	unsigned busy = 0;

	for (unsigned i = 0; i < VIRTIO_BLK_QUEUE_MAX; i++)
		busy += b->reqs[i].busy;
	if (busy || block_file_inflight(b->bf)) {
		bh_err("%s: %u requests in flight after quiesce: cannot save", b->name,
		       busy ? busy : block_file_inflight(b->bf));
		if (!out->err)
			out->err = -EBUSY;
		return;
	}
	sbuf_u8(out, b->live);
	sbuf_u8(out, b->read_only);
	sbuf_put(out, b->serial, sizeof(b->serial));
	sbuf_put(out, b->cfg, sizeof(b->cfg));
}

static int blk_load(struct virtio_dev *vd, struct sreader *in, uint32_t version,
		    const struct virtio_dev_state_ctx *ctx, bool apply, char *err, size_t errlen)
{
	struct virtio_blk *b = to_blk(vd);
	uint8_t cfg[VIRTIO_BLK_CFG_LEN];
	char serial[VIRTIO_BLK_ID_BYTES];
	bool live, ro;
	uint64_t cap;
	int ret;

	if (version != VIRTIO_BLK_STATE_VERSION) {
		snprintf(err, errlen, "%s: device state version %u unknown (this build: %u)",
			 b->name, version, VIRTIO_BLK_STATE_VERSION);
		return -ENOTSUP;
	}
	live = sr_bool(in);
	ro = sr_bool(in);
	sr_get(in, serial, sizeof(serial));
	sr_get(in, cfg, sizeof(cfg));
	if (sr_finish(in)) {
		snprintf(err, errlen, "%s: device state truncated, too long or a flag not 0/1",
			 b->name);
		return -EINVAL;
	}
	memcpy(&cap, cfg, sizeof(cap));
	if (ro != b->read_only) {
		snprintf(err, errlen, "%s: the guest saw a %s disk, this one is %s", b->name,
			 ro ? "read-only" : "writable", b->read_only ? "read-only" : "writable");
		return -EINVAL;
	}
	if (cap != b->sectors) {
		snprintf(err, errlen, "%s: capacity %llu sectors in the state, this disk has "
			 "%llu", b->name, (unsigned long long)cap, (unsigned long long)b->sectors);
		return -EINVAL;
	}
	if (memcmp(cfg, b->cfg, sizeof(cfg))) {
		snprintf(err, errlen, "%s: configuration space differs from this build's "
			 "(segment or discard limits)", b->name);
		return -EINVAL;
	}
	if (memcmp(serial, b->serial, sizeof(serial))) {
		snprintf(err, errlen, "%s: serial \"%.20s\" in the state, this disk's is "
			 "\"%.20s\"", b->name, serial, b->serial);
		return -EINVAL;
	}
	if ((ret = virtio_dev_check_live(vd, ctx, live, err, errlen)))
		return ret;
	if (apply)
		b->live = live;
	return 0;
}

static const struct virtio_dev_ops blk_ops = {
	.features = blk_features,
	.cfg_read = blk_cfg_read,
	/* no cfg_write: every field is read-only (CONFIG_WCE is not offered) */
	.activate = blk_activate,
	.notify = blk_notify,
	.reset = blk_reset,
	.quiesce = blk_quiesce,
	.destroy = blk_destroy,
	.state_version = VIRTIO_BLK_STATE_VERSION,
	.save = blk_save,
	.load = blk_load,
};

int virtio_blk_create(struct virtio_blk **out, const struct virtio_blk_disk *cfg, unsigned index,
		      const struct guest_mem *mem, struct event_loop *el, enum block_mode mode,
		      char *err, size_t errlen)
{
	struct virtio_blk *b;
	uint64_t size;
	int r;

	*out = NULL;
	if (!cfg || !cfg->path || !mem || index >= VIRTIO_BLK_MAX_DISKS) {
		snprintf(err, errlen, "virtio-blk: bad disk configuration");
		return -EINVAL;
	}
	b = calloc(1, sizeof(*b));
	if (!b) {
		snprintf(err, errlen, "disk %s: out of memory", cfg->path);
		return -ENOMEM;
	}
	snprintf(b->name, sizeof(b->name), "virtio-blk%u", index);
	r = virtio_dev_init(&b->vdev, &blk_ops, b->name, VIRTIO_ID_BLOCK, 1, VIRTIO_BLK_QUEUE_MAX,
			    VIRTIO_BLK_CFG_LEN, mem);
	if (r) {
		snprintf(err, errlen, "disk %s: %s", cfg->path, strerror(-r));
		free(b);
		return r;
	}
	r = block_file_open(&b->bf, cfg->path, cfg->read_only, mode, VIRTIO_BLK_QUEUE_MAX, err,
			    errlen);
	if (r)
		goto fail;
	size = block_file_size(b->bf);
	if (size == 0 || size % SECTOR) {
		snprintf(err, errlen, "disk %s: size %llu is not a non-zero multiple of 512 bytes",
			 cfg->path, (unsigned long long)size);
		r = -EINVAL;
		goto fail;
	}
	b->sectors = size / SECTOR;
	b->read_only = cfg->read_only;
	if (cfg->id[0])
		memcpy(b->serial, cfg->id, strnlen(cfg->id, sizeof(b->serial))); /* NUL-padded */
	else
		snprintf(b->serial, sizeof(b->serial), "bulkhead-vd%c", 'a' + index);
	build_cfg(b);
	if (el) {
		r = virtio_dev_defer_init(&b->vdev, el);
		if (r) {
			snprintf(err, errlen, "disk %s: event loop: %s", cfg->path, strerror(-r));
			goto fail;
		}
		r = event_loop_add(el, block_file_event_fd(b->bf), EPOLLIN, blk_io_event, b,
				   b->name);
		if (r) {
			snprintf(err, errlen, "disk %s: event loop: %s", cfg->path, strerror(-r));
			goto fail;
		}
		b->el = el;
	}
	*out = b;
	return 0;
fail:
	blk_destroy(&b->vdev);
	return r;
}

struct virtio_dev *virtio_blk_dev(struct virtio_blk *b)
{
	return &b->vdev;
}

unsigned virtio_blk_inflight(const struct virtio_blk *b)
{
	return block_file_inflight(b->bf);
}

bool virtio_blk_async(const struct virtio_blk *b)
{
	return block_file_async(b->bf);
}

void virtio_blk_get_stats(struct virtio_blk *b, struct virtio_blk_stats *st)
{
	pthread_mutex_lock(&b->vdev.lock);
	*st = b->st;
	pthread_mutex_unlock(&b->vdev.lock);
}
