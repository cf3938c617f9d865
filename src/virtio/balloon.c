/* balloon.c — virtio-balloon. See balloon.h. */
#include "virtio/balloon.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

/* PFNs read from one inflate/deflate chain: Linux sends 256. More is a
 * flood: the rest of the chain is counted as refused and ignored, so one
 * chain cannot carry unbounded work (its readable part may be 4 GiB). */
#define BALLOON_CHAIN_PFNS 4096u
#define PFN_BATCH 256u

enum q_role { Q_NONE, Q_INFLATE, Q_DEFLATE, Q_STATS, Q_REPORT };

const char *const virtio_balloon_stat_names[VIRTIO_BALLOON_S_NR] = {
	"swap_in", "swap_out", "major_faults", "minor_faults", "free_memory",
	"total_memory", "available_memory", "disk_caches", "hugetlb_allocations",
	"hugetlb_failures",
};

struct virtio_balloon {
	struct virtio_dev vdev;
	struct virtio_balloon_config cfg;
	bool live;                  /* DRIVER_OK, not reset since */
	enum q_role role[VIRTIO_DEV_MAX_QUEUES];
	uint32_t num_pages;         /* target, host copy */
	uint32_t actual;            /* the driver's claim */
	bool stats_held;            /* the guest's stats buffer is with us */
	uint16_t stats_head;
	unsigned stats_q;
	unsigned cur_q;             /* the queue being processed (lock held) */
	uint8_t *held;              /* bitmap: 4 KiB pages in the balloon, by gpa */
	uint64_t held_bits;         /* pages the bitmap covers (gpa end / 4 KiB) */
	struct virtio_balloon_info n; /* counters (mem_bytes, features filled on read) */
};

static struct virtio_balloon *to_b(struct virtio_dev *vd)
{
	return bh_container_of(vd, struct virtio_balloon, vdev);
}

static uint64_t b_features(struct virtio_dev *vd)
{
	const struct virtio_balloon_config *c = &to_b(vd)->cfg;

	return (1ULL << VIRTIO_RING_F_EVENT_IDX) | (1ULL << VIRTIO_RING_F_INDIRECT_DESC) |
	       ((uint64_t)c->stats << VIRTIO_BALLOON_F_STATS_VQ) |
	       ((uint64_t)c->deflate_on_oom << VIRTIO_BALLOON_F_DEFLATE_ON_OOM) |
	       ((uint64_t)c->reporting << VIRTIO_BALLOON_F_REPORTING);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void b_cfg_read(struct virtio_dev *vd, uint32_t off, void *data, uint32_t len)
{
	struct virtio_balloon *b = to_b(vd);
	uint8_t cfg[VIRTIO_BALLOON_CFG_LEN];

	put_le32(cfg, b->num_pages);
	put_le32(cfg + 4, b->actual);
	if (off <= sizeof(cfg) && len <= sizeof(cfg) - off)
		memcpy(data, cfg + off, len);
	else
		memset(data, 0, len);
}

static void b_cfg_write(struct virtio_dev *vd, uint32_t off, const void *data, uint32_t len)
{
	const uint8_t *p = data;

	/* Only `actual`, whole. num_pages is the host's. */
	if (off != 4 || len != 4)
		return;
	to_b(vd)->actual = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
			   (uint32_t)p[3] << 24;
}

static bool bit_test(const struct virtio_balloon *b, uint64_t pfn)
{
	return (b->held[pfn / 8] >> (pfn % 8)) & 1;
}

static void bit_flip(struct virtio_balloon *b, uint64_t pfn)
{
	b->held[pfn / 8] ^= (uint8_t)(1u << (pfn % 8));
}

/* Release [gpa, gpa + len) (already checked page by page) and count it. */
static void release(struct virtio_balloon *b, uint64_t gpa, uint64_t len, uint64_t *released)
{
	uint64_t rel = 0;
	int r = gmem_discard(b->vdev.mem, gpa, len, &rel);

	if (r == -EINVAL || r == -EFAULT) {
		b->n.refused_outside++;
		return;
	}
	if (r) {
		b->n.release_errors++;
		bh_warn_guest("%s: releasing 0x%llx+0x%llx: %s", b->vdev.name,
			      (unsigned long long)gpa, (unsigned long long)len, strerror(-r));
		return;
	}
	*released += rel;
	b->n.unreleasable_bytes += len - rel;
}

/* Inflate or deflate the PFNs of one chain. Returns the pages looked at. */
static uint64_t b_pages(struct virtio_balloon *b, struct virtq *q, struct virtq_chain *c,
			bool inflate)
{
	uint32_t pfns[PFN_BATCH];
	uint64_t total = c->out_bytes / 4, n = total < BALLOON_CHAIN_PFNS ? total : BALLOON_CHAIN_PFNS;
	uint64_t run_start = 0, run_len = 0;

	if (total > n || c->out_bytes % 4)
		b->n.refused_excess += total - n + (c->out_bytes % 4 != 0);
	for (uint64_t done = 0; done < n;) {
		uint64_t k = n - done < PFN_BATCH ? n - done : PFN_BATCH;
		int64_t got = virtq_chain_read(q, c, done * 4, pfns, k * 4);

		if (got != (int64_t)(k * 4)) {
			b->n.refused_outside += n - done;
			break;
		}
		for (uint64_t i = 0; i < k; i++) {
			uint32_t pfn = pfns[i]; /* le32: x86 is little-endian */
			uint64_t gpa = (uint64_t)pfn * VIRTIO_BALLOON_PAGE;

			/* copy (pfns[]), validate, act: architecture rule 2 */
			if (pfn >= b->held_bits || !gmem_valid(b->vdev.mem, gpa, VIRTIO_BALLOON_PAGE)) {
				b->n.refused_outside++;
				continue;
			}
			if (bit_test(b, pfn) == inflate) {
				b->n.refused_duplicate++;
				continue;
			}
			bit_flip(b, pfn);
			if (!inflate) {
				b->n.held_pages--;
				b->n.deflated_pages++;
				continue;
			}
			b->n.held_pages++;
			b->n.inflated_pages++;
			/* Contiguous pages go to the host as one range. */
			if (run_len && gpa == run_start + run_len) {
				run_len += VIRTIO_BALLOON_PAGE;
				continue;
			}
			if (run_len)
				release(b, run_start, run_len, &b->n.released_bytes);
			run_start = gpa;
			run_len = VIRTIO_BALLOON_PAGE;
		}
		done += k;
	}
	if (run_len)
		release(b, run_start, run_len, &b->n.released_bytes);
	return n ? n : 1;
}

/* Free page reporting: each segment is a free range the guest hands back. */
static uint64_t b_report(struct virtio_balloon *b, struct virtq_chain *c)
{
	uint64_t bytes = 0;

	for (unsigned i = 0; i < c->nout + c->nin; i++) {
		uint64_t before = b->n.refused_outside;

		release(b, c->seg[i].gpa, c->seg[i].len, &b->n.report_released_bytes);
		if (b->n.refused_outside == before)
			b->n.reported_bytes += c->seg[i].len;
		bytes += c->seg[i].len;
	}
	return bytes ? bytes : 1;
}

static void stats_return(struct virtio_balloon *b)
{
	struct virtio_dev *vd = &b->vdev;

	if (!b->stats_held)
		return;
	b->stats_held = false;
	if (virtq_push(&vd->vq[b->stats_q], b->stats_head, 0))
		bh_warn("%s: stats head %u: not in flight", vd->name, b->stats_head);
}

/* A stats buffer: {le16 tag; le64 val} packed, 10 bytes each. Kept (the
 * device returns it when it wants fresh figures). */
static uint64_t b_stats(struct virtio_balloon *b, struct virtq *q, struct virtq_chain *c)
{
	uint8_t buf[VIRTIO_BALLOON_S_MAX * 10];
	size_t want = c->out_bytes < sizeof(buf) ? c->out_bytes : sizeof(buf);
	int64_t got = virtq_chain_read(q, c, 0, buf, want);

	/* A second buffer while we hold one: hand the older one back. */
	stats_return(b);
	if (got < 0 || c->out_bytes % 10 || c->nin || c->out_bytes > sizeof(buf))
		b->n.refused_stats++;
	for (int64_t off = 0; got > 0 && off + 10 <= got; off += 10) {
		uint16_t tag = (uint16_t)(buf[off] | buf[off + 1] << 8);
		uint64_t v = 0;

		for (int i = 7; i >= 0; i--)
			v = v << 8 | buf[off + 2 + i];
		if (tag < VIRTIO_BALLOON_S_NR) {
			b->n.stats[tag] = v;
			b->n.stats_valid |= 1u << tag;
		}
	}
	b->n.stats_updates++;
	b->stats_held = true;
	b->stats_head = c->head;
	return 1;
}

/* One chain of queue b->cur_q (virtio_dev_process_queue's handler). */
static uint64_t b_handle(struct virtio_dev *vd, struct virtq_chain *c)
{
	struct virtio_balloon *b = to_b(vd);
	unsigned qi = b->cur_q;
	struct virtq *q = &vd->vq[qi];
	uint64_t cost;

	switch (b->role[qi]) {
	case Q_INFLATE: cost = b_pages(b, q, c, true); break;
	case Q_DEFLATE: cost = b_pages(b, q, c, false); break;
	case Q_REPORT: cost = b_report(b, c); break;
	case Q_STATS: return b_stats(b, q, c); /* kept: not pushed */
	default: cost = 1; break;
	}
	if (virtq_push(q, c->head, 0))
		bh_warn("%s: completing head %u: not in flight", vd->name, c->head);
	return cost;
}

static void b_notify(struct virtio_dev *vd, unsigned qi)
{
	struct virtio_balloon *b = to_b(vd);
	bool bytes;

	if (qi >= vd->nqueues || !b->live || b->role[qi] == Q_NONE)
		return;
	b->cur_q = qi;
	bytes = b->role[qi] == Q_REPORT;
	virtio_dev_process_queue(vd, qi, vd->vq[qi].size,
				 bytes ? VIRTIO_BALLOON_BUDGET_BYTES : VIRTIO_BALLOON_BUDGET_PAGES,
				 b_handle);
}

/* Queue roles for the negotiated features: the driver numbers only the
 * queues of the features it accepted. Returns the number of queues used. */
static unsigned set_roles(struct virtio_balloon *b, uint64_t features)
{
	unsigned next = 2;

	memset(b->role, 0, sizeof(b->role));
	b->role[0] = Q_INFLATE;
	b->role[1] = Q_DEFLATE;
	if ((features >> VIRTIO_BALLOON_F_STATS_VQ) & 1) {
		b->stats_q = next;
		b->role[next++] = Q_STATS;
	}
	if ((features >> VIRTIO_BALLOON_F_REPORTING) & 1)
		b->role[next++] = Q_REPORT;
	return next;
}

static int b_activate(struct virtio_dev *vd)
{
	struct virtio_balloon *b = to_b(vd);
	unsigned next = set_roles(b, vd->features);

	b->live = true;
	b->stats_held = false;
	/* Buffers posted before DRIVER_OK. */
	for (unsigned i = 0; i < next; i++)
		if (vd->vq[i].active)
			b_notify(vd, i);
	return 0;
}

static void b_reset(struct virtio_dev *vd)
{
	struct virtio_balloon *b = to_b(vd);

	/* Everything is synchronous; the queues' reset drops the stats buffer.
	 * A reset driver starts with an empty balloon (Linux re-inflates):
	 * the host's record starts over too. Released memory stays released. */
	b->live = false;
	b->stats_held = false;
	b->actual = 0;
	memset(b->held, 0, (b->held_bits + 7) / 8);
	b->n.held_pages = 0;
}

static void b_destroy(struct virtio_dev *vd)
{
	struct virtio_balloon *b = to_b(vd);

	virtio_dev_deinit(vd);
	free(b->held);
	free(b);
}

/* State: see VIRTIO_BALLOON_STATE_VERSION. */
static void b_save(struct virtio_dev *vd, struct sbuf *out)
{
	struct virtio_balloon *b = to_b(vd);

	sbuf_u8(out, b->live);
	sbuf_u32(out, b->num_pages);
	sbuf_u32(out, b->actual);
	sbuf_u8(out, b->stats_held);
	sbuf_u16(out, b->stats_held ? b->stats_head : 0);
	sbuf_u64(out, b->held_bits);
	sbuf_put(out, b->held, (b->held_bits + 7) / 8);
}

/* Does the in-flight set of every queue match what the state says (the
 * stats buffer on the stats queue, nothing else)? */
static int check_chains(struct virtio_balloon *b, const struct virtio_dev_state_ctx *ctx,
			bool held, uint16_t head, char *err, size_t errlen)
{
	struct virtio_dev *vd = &b->vdev;
	unsigned sq = 2; /* the stats queue whenever STATS_VQ was negotiated */

	if (held && (!((ctx->features >> VIRTIO_BALLOON_F_STATS_VQ) & 1) || sq >= vd->nqueues ||
		     !virtq_head_inflight(&ctx->vq[sq], head))) {
		snprintf(err, errlen, "%s: a stats buffer (head %u) is held, but the stats queue "
			 "has no such chain in flight", vd->name, head);
		return -EINVAL;
	}
	for (unsigned i = 0; i < vd->nqueues; i++) {
		unsigned want = held && i == sq;

		if (ctx->vq[i].active && ctx->vq[i].inflight != want) {
			snprintf(err, errlen, "%s: queue %u has %u chains in flight, the device "
				 "state accounts for %u", vd->name, i, ctx->vq[i].inflight, want);
			return -EINVAL;
		}
	}
	return 0;
}

static int b_load(struct virtio_dev *vd, struct sreader *in, uint32_t version,
		  const struct virtio_dev_state_ctx *ctx, bool apply, char *err, size_t errlen)
{
	struct virtio_balloon *b = to_b(vd);
	uint64_t bits, bytes = (b->held_bits + 7) / 8, pages = 0;
	uint32_t num_pages, actual;
	uint16_t head;
	const uint8_t *map;
	bool live, held;
	int ret;

	if (version != VIRTIO_BALLOON_STATE_VERSION) {
		snprintf(err, errlen, "%s: device state version %u unknown (this build: %u)",
			 vd->name, version, VIRTIO_BALLOON_STATE_VERSION);
		return -ENOTSUP;
	}
	live = sr_bool(in);
	num_pages = sr_u32(in);
	actual = sr_u32(in);
	held = sr_bool(in);
	head = sr_u16(in);
	bits = sr_u64(in);
	if (in->bad || bits != b->held_bits || in->len - in->off != bytes) {
		snprintf(err, errlen, "%s: device state truncated, a flag not 0/1, or a page "
			 "record for another memory size (%llu pages, this VM: %llu)", vd->name,
			 (unsigned long long)bits, (unsigned long long)b->held_bits);
		return -EINVAL;
	}
	map = in->p + in->off;
	in->off = in->len;
	if ((uint64_t)num_pages * VIRTIO_BALLOON_PAGE > vd->mem->size) {
		snprintf(err, errlen, "%s: target of %u pages is more than guest RAM", vd->name,
			 num_pages);
		return -EINVAL;
	}
	if (bits % 8 && (map[bytes - 1] >> (bits % 8))) {
		snprintf(err, errlen, "%s: page record has bits beyond guest RAM", vd->name);
		return -EINVAL;
	}
	for (uint64_t i = 0; i < bytes; i++) {
		for (unsigned k = 0; map[i] && k < 8; k++) {
			uint64_t gpa = (i * 8 + k) * (uint64_t)VIRTIO_BALLOON_PAGE;

			if (!((map[i] >> k) & 1))
				continue;
			if (!gmem_valid(vd->mem, gpa, VIRTIO_BALLOON_PAGE)) {
				snprintf(err, errlen, "%s: page record holds 0x%llx, which is not "
					 "guest RAM", vd->name, (unsigned long long)gpa);
				return -EINVAL;
			}
			pages++;
		}
	}
	if ((ret = virtio_dev_check_live(vd, ctx, live, err, errlen)) ||
	    (ret = check_chains(b, ctx, held, head, err, errlen)))
		return ret;
	if (held && !live) {
		snprintf(err, errlen, "%s: a stats buffer is held by a device never activated",
			 vd->name);
		return -EINVAL;
	}
	if (!apply)
		return 0;
	b->live = live;
	if (live)
		set_roles(b, ctx->features);
	else
		memset(b->role, 0, sizeof(b->role));
	b->num_pages = num_pages;
	b->actual = actual;
	b->stats_held = held;
	b->stats_head = held ? head : 0;
	memcpy(b->held, map, bytes);
	b->n.held_pages = pages;
	return 0;
}

static const struct virtio_dev_ops balloon_ops = {
	.features = b_features,
	.cfg_read = b_cfg_read,
	.cfg_write = b_cfg_write,
	.activate = b_activate,
	.notify = b_notify,
	.reset = b_reset,
	.destroy = b_destroy,
	.state_version = VIRTIO_BALLOON_STATE_VERSION,
	.keeps_chains = true,
	.save = b_save,
	.load = b_load,
};

int virtio_balloon_create(struct virtio_balloon **out, const struct guest_mem *mem,
			  struct event_loop *el, const struct virtio_balloon_config *cfg)
{
	struct virtio_balloon *b;
	uint64_t end = 0;
	int r;

	*out = NULL;
	if (cfg->target_bytes > mem->size)
		return -ERANGE;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->cfg = *cfg;
	b->num_pages = (uint32_t)(cfg->target_bytes / VIRTIO_BALLOON_PAGE);
	for (unsigned i = 0; i < mem->nregions; i++)
		if (mem->regions[i].gpa + mem->regions[i].size > end)
			end = mem->regions[i].gpa + mem->regions[i].size;
	b->held_bits = end / VIRTIO_BALLOON_PAGE;
	b->held = calloc(1, (b->held_bits + 7) / 8 + 1);
	if (!b->held) {
		free(b);
		return -ENOMEM;
	}
	r = virtio_dev_init(&b->vdev, &balloon_ops, "virtio-balloon", VIRTIO_ID_BALLOON,
			    2 + cfg->stats + cfg->reporting, VIRTIO_BALLOON_QUEUE_MAX,
			    VIRTIO_BALLOON_CFG_LEN, mem);
	if (r) {
		free(b->held);
		free(b);
		return r;
	}
	if (el && (r = virtio_dev_defer_init(&b->vdev, el))) {
		b_destroy(&b->vdev);
		return r;
	}
	*out = b;
	return 0;
}

struct virtio_dev *virtio_balloon_dev(struct virtio_balloon *b)
{
	return &b->vdev;
}

int virtio_balloon_set_target(struct virtio_balloon *b, uint64_t bytes)
{
	struct virtio_dev *vd = &b->vdev;

	if (bytes > vd->mem->size)
		return -ERANGE;
	pthread_mutex_lock(&vd->lock);
	b->num_pages = (uint32_t)(bytes / VIRTIO_BALLOON_PAGE);
	b->cfg.target_bytes = bytes;
	/* The driver re-reads num_pages on the configuration interrupt (before
	 * DRIVER_OK it reads it when it starts). */
	if (b->live && !vd->failed && vd->tops && vd->tops->config_irq)
		vd->tops->config_irq(vd->transport);
	pthread_mutex_unlock(&vd->lock);
	return 0;
}

void virtio_balloon_request_stats(struct virtio_balloon *b)
{
	struct virtio_dev *vd = &b->vdev;

	pthread_mutex_lock(&vd->lock);
	if (b->live && b->stats_held && !vd->quiesced && !vd->failed) {
		stats_return(b);
		virtio_dev_queue_done(vd, b->stats_q);
	}
	pthread_mutex_unlock(&vd->lock);
}

void virtio_balloon_info(struct virtio_balloon *b, struct virtio_balloon_info *out)
{
	struct virtio_dev *vd = &b->vdev;

	pthread_mutex_lock(&vd->lock);
	*out = b->n;
	out->mem_bytes = vd->mem->size;
	out->target_pages = b->num_pages;
	out->actual_pages = b->actual;
	out->features = b->live ? vd->features : 0;
	pthread_mutex_unlock(&vd->lock);
}
