/* queue.c — the split virtqueue, device side. See queue.h for the rules.
 *
 * Layout (virtio 1.x §2.7), all little-endian (x86 host):
 *   desc:  size × {le64 addr; le32 len; le16 flags; le16 next}
 *   avail: le16 flags; le16 idx; le16 ring[size]; le16 used_event
 *   used:  le16 flags; le16 idx; {le32 id; le32 len} ring[size]; le16 avail_event
 * Ring fields are reached with gmem_ptr() on a range validated at activation;
 * indices shared with the driver are accessed with __atomic builtins (the
 * pointers are naturally aligned: the ring bases are, and regions start on
 * page boundaries). */
#include "virtio/queue.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};
_Static_assert(sizeof(struct vring_desc) == 16, "descriptor layout");

static uint64_t avail_bytes(uint16_t size)
{
	return 6 + 2ULL * size; /* flags, idx, ring, used_event */
}

static uint64_t used_bytes(uint16_t size)
{
	return 6 + 8ULL * size; /* flags, idx, ring, avail_event */
}

/* Host pointer to a 16-bit ring field. Activation validated the whole ring,
 * so NULL means a broken invariant; callers treat it as a violation. */
static uint16_t *ring_u16(const struct virtq *q, uint64_t gpa)
{
	return gmem_ptr(q->mem, gpa, 2);
}

static void inflight_set(struct virtq *q, uint16_t head)
{
	q->inflight_map[head / 8] |= (uint8_t)(1u << (head % 8));
}

static void inflight_clear(struct virtq *q, uint16_t head)
{
	q->inflight_map[head / 8] &= (uint8_t)~(1u << (head % 8));
}

static bool inflight_test(const struct virtq *q, uint16_t head)
{
	return (q->inflight_map[head / 8] >> (head % 8)) & 1;
}

int virtq_activate(struct virtq *q, const struct guest_mem *mem, uint16_t size,
		   uint16_t max_size, uint64_t desc_gpa, uint64_t avail_gpa, uint64_t used_gpa,
		   uint64_t features)
{
	virtq_reset(q);
	if (!mem || size == 0 || (size & (size - 1)) != 0 || size > max_size ||
	    size > VIRTQ_MAX_SIZE)
		return -EINVAL;
	if ((desc_gpa & 15) || (avail_gpa & 1) || (used_gpa & 3))
		return -EINVAL;
	if (!gmem_valid(mem, desc_gpa, 16ULL * size) ||
	    !gmem_valid(mem, avail_gpa, avail_bytes(size)) ||
	    !gmem_valid(mem, used_gpa, used_bytes(size)))
		return -EFAULT;
	q->inflight_map = calloc((size + 7u) / 8u, 1);
	if (!q->inflight_map)
		return -ENOMEM;
	q->mem = mem;
	q->size = size;
	q->desc_gpa = desc_gpa;
	q->avail_gpa = avail_gpa;
	q->used_gpa = used_gpa;
	q->event_idx = (features >> VIRTIO_RING_F_EVENT_IDX) & 1;
	q->indirect = (features >> VIRTIO_RING_F_INDIRECT_DESC) & 1;
	q->active = true;
	return 0;
}

void virtq_save_state(const struct virtq *q, struct sbuf *out)
{
	sbuf_u16(out, q->last_avail);
	sbuf_u16(out, q->used_idx);
	sbuf_u16(out, q->signalled_used);
	sbuf_u8(out, q->signalled_valid);
	sbuf_u8(out, q->broken);
	sbuf_u16(out, q->inflight);
	for (uint32_t h = 0; h < q->size && q->inflight_map; h++)
		if (inflight_test(q, (uint16_t)h))
			sbuf_u16(out, (uint16_t)h);
}

bool virtq_head_inflight(const struct virtq *q, uint16_t head)
{
	return q->active && head < q->size && inflight_test(q, head);
}

int virtq_restore(struct virtq *q, const struct guest_mem *mem, uint16_t size,
		  uint16_t max_size, uint64_t desc_gpa, uint64_t avail_gpa, uint64_t used_gpa,
		  uint64_t features, bool allow_inflight, struct sreader *in, char *err,
		  size_t errlen)
{
	uint16_t last_avail, used_idx, signalled, ring_used, count, prev = 0;
	bool valid, broken;
	int ret;

	last_avail = sr_u16(in);
	used_idx = sr_u16(in);
	signalled = sr_u16(in);
	valid = sr_bool(in);
	broken = sr_bool(in);
	count = sr_u16(in);
	if (in->bad) {
		snprintf(err, errlen, "queue state truncated or a flag not 0/1");
		return -EINVAL;
	}
	ret = virtq_activate(q, mem, size, max_size, desc_gpa, avail_gpa, used_gpa, features);
	if (ret) {
		snprintf(err, errlen, "rings rejected (size %u, desc 0x%llx, driver 0x%llx, "
			 "device 0x%llx): %s", size, (unsigned long long)desc_gpa,
			 (unsigned long long)avail_gpa, (unsigned long long)used_gpa,
			 ret == -EFAULT ? "not inside guest RAM"
			 : ret == -ENOMEM ? "out of memory"
					  : "size not a power of two within the maximum, or a "
					    "ring misaligned");
		return ret;
	}
	if (count != (uint16_t)(last_avail - used_idx) || count > size) {
		snprintf(err, errlen, "%u heads in flight, but last_avail_idx %u and used idx %u "
			 "say %u", count, last_avail, used_idx, (uint16_t)(last_avail - used_idx));
		goto bad;
	}
	if (count && !allow_inflight) {
		snprintf(err, errlen, "%u requests in flight, which this device never has after "
			 "quiesce", count);
		goto bad;
	}
	for (unsigned i = 0; i < count; i++) {
		uint16_t h = sr_u16(in);

		if (in->bad) {
			snprintf(err, errlen, "queue state truncated in the in-flight heads");
			goto bad;
		}
		if (h >= size || (i && h <= prev)) {
			snprintf(err, errlen, "in-flight head %u beyond the queue size %u or not "
				 "ascending", h, size);
			goto bad;
		}
		inflight_set(q, h);
		prev = h;
	}
	if (gmem_read(mem, &ring_used, used_gpa + 2, sizeof(ring_used))) {
		snprintf(err, errlen, "used ring unreadable");
		goto bad;
	}
	if (ring_used != used_idx) {
		snprintf(err, errlen, "used idx %u in the state, %u in the used ring in guest "
			 "memory (state and memory do not belong together)", used_idx, ring_used);
		goto bad;
	}
	q->last_avail = last_avail;
	q->used_idx = used_idx;
	q->signalled_used = signalled;
	q->signalled_valid = valid;
	q->broken = broken;
	q->inflight = count;
	return 0;
bad:
	virtq_reset(q);
	return -EINVAL;
}

void virtq_reset(struct virtq *q)
{
	free(q->inflight_map);
	memset(q, 0, sizeof(*q));
}

static int violation(struct virtq *q, int err)
{
	q->broken = true;
	q->violations++;
	return err;
}

/* Append one validated direct descriptor to the chain. */
static int chain_add(struct virtq *q, struct virtq_chain *c, const struct vring_desc *d)
{
	bool writable = d->flags & VIRTQ_DESC_F_WRITE;
	uint64_t total = (uint64_t)c->out_bytes + c->in_bytes + d->len;

	if (d->len == 0)
		return -EINVAL;                 /* zero-length descriptor */
	if (!gmem_valid(q->mem, d->addr, d->len))
		return -EFAULT;                 /* outside RAM, wrapping, or across the hole */
	if (!writable && c->nin > 0)
		return -EINVAL;                 /* readable after writable */
	if (c->nout + c->nin >= VIRTQ_MAX_SEGS)
		return -E2BIG;
	if (total > UINT32_MAX)
		return -EOVERFLOW;
	c->seg[c->nout + c->nin] = (struct virtq_seg){ d->addr, d->len };
	if (writable) {
		c->nin++;
		c->in_bytes += d->len;
	} else {
		c->nout++;
		c->out_bytes += d->len;
	}
	return 0;
}

/* Walk the chain starting at head: each descriptor is copied once and only
 * the copy is used. */
static int walk_chain(struct virtq *q, uint16_t head, struct virtq_chain *c)
{
	uint64_t table = q->desc_gpa;
	uint32_t table_len = q->size;
	uint32_t idx = head, hops = 0;
	bool in_indirect = false;
	struct vring_desc d;
	int r;

	c->head = head;
	c->nout = c->nin = 0;
	c->out_bytes = c->in_bytes = 0;
	for (;;) {
		if (hops++ >= table_len)
			return -ELOOP;  /* more hops than descriptors: a loop */
		if (gmem_read(q->mem, &d, table + 16ULL * idx, sizeof(d)))
			return -EFAULT;
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			/* Only as the sole top-level descriptor, one level deep. */
			if (!q->indirect || in_indirect || hops != 1 ||
			    (d.flags & VIRTQ_DESC_F_NEXT))
				return -EINVAL;
			if (d.len == 0 || d.len % 16 != 0 || d.len / 16 > q->size)
				return -EINVAL;
			if (!gmem_valid(q->mem, d.addr, d.len))
				return -EFAULT;
			table = d.addr;
			table_len = d.len / 16;
			idx = 0;
			hops = 0;
			in_indirect = true;
			continue;
		}
		r = chain_add(q, c, &d);
		if (r)
			return r;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (d.next >= table_len)
			return -EINVAL;
		idx = d.next;
	}
}

/* Number of entries the driver has made available, after the acquire fence
 * that orders the ring reads behind the index read. */
static int avail_pending(struct virtq *q, uint16_t *pending)
{
	uint16_t *idxp = ring_u16(q, q->avail_gpa + 2);
	uint16_t idx;

	if (!idxp)
		return -EFAULT;
	idx = __atomic_load_n(idxp, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	*pending = (uint16_t)(idx - q->last_avail);
	return 0;
}

bool virtq_has_avail(struct virtq *q)
{
	uint16_t pending;

	return q->active && !q->broken && avail_pending(q, &pending) == 0 && pending != 0;
}

int virtq_pop(struct virtq *q, struct virtq_chain *c)
{
	uint16_t pending, head, *slot;
	int r;

	if (!q->active || q->broken)
		return 0;
	if (avail_pending(q, &pending))
		return violation(q, -EFAULT);
	if (pending == 0 && q->event_idx) {
		/* Ask for a kick when the next entry arrives, then look again:
		 * an entry added before the driver saw avail_event would
		 * otherwise never be kicked (store→load needs a full fence). */
		uint16_t *ev = ring_u16(q, q->used_gpa + 4 + 8ULL * q->size);

		if (!ev)
			return violation(q, -EFAULT);
		__atomic_store_n(ev, q->last_avail, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (avail_pending(q, &pending))
			return violation(q, -EFAULT);
	}
	if (pending == 0)
		return 0;
	if (pending > q->size)
		return violation(q, -EINVAL);   /* avail index ran too far ahead */
	slot = ring_u16(q, q->avail_gpa + 4 + 2ULL * (q->last_avail & (q->size - 1)));
	if (!slot)
		return violation(q, -EFAULT);
	head = __atomic_load_n(slot, __ATOMIC_RELAXED);
	if (head >= q->size)
		return violation(q, -EINVAL);
	if (inflight_test(q, head))
		return violation(q, -EBUSY);    /* offered again while in flight */
	r = walk_chain(q, head, c);
	if (r)
		return violation(q, r);
	q->last_avail++;
	inflight_set(q, head);
	q->inflight++;
	return 1;
}

int virtq_unpop(struct virtq *q, uint16_t head)
{
	/* The next pop reads the avail slot again: if the driver rewrote it
	 * meanwhile, that chain is validated like any other. */
	if (!q->active || head >= q->size || !inflight_test(q, head) || q->inflight == 0)
		return -EINVAL;
	inflight_clear(q, head);
	q->inflight--;
	q->last_avail--;
	return 0;
}

int virtq_push(struct virtq *q, uint16_t head, uint32_t written)
{
	uint32_t elem[2] = { head, written };
	uint16_t *idxp;

	if (!q->active || head >= q->size || !inflight_test(q, head))
		return -EINVAL;
	idxp = ring_u16(q, q->used_gpa + 2);
	if (!idxp ||
	    gmem_write(q->mem, q->used_gpa + 4 + 8ULL * (q->used_idx & (q->size - 1)), elem,
		       sizeof(elem)))
		return -EFAULT;
	inflight_clear(q, head);
	q->inflight--;
	q->used_idx++;
	/* The element must be visible before the index that publishes it. */
	__atomic_store_n(idxp, q->used_idx, __ATOMIC_RELEASE);
	return 0;
}

bool virtq_should_notify(struct virtq *q)
{
	uint16_t *p, old, event;
	bool need;

	if (!q->active || q->used_idx == q->signalled_used)
		return false; /* nothing published since the last check */
	/* Our used->idx store must be visible before we read the driver's
	 * suppression state (the driver does the mirror-image check). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	old = q->signalled_used;
	q->signalled_used = q->used_idx;
	if (!q->event_idx) {
		p = ring_u16(q, q->avail_gpa);
		return p && !(__atomic_load_n(p, __ATOMIC_RELAXED) & VIRTQ_AVAIL_F_NO_INTERRUPT);
	}
	p = ring_u16(q, q->avail_gpa + 4 + 2ULL * q->size);
	if (!p)
		return false;
	event = __atomic_load_n(p, __ATOMIC_RELAXED);
	/* vring_need_event(): did used_idx step over used_event since the
	 * last interrupt? The first call always interrupts. */
	need = !q->signalled_valid ||
	       (uint16_t)(q->used_idx - event - 1) < (uint16_t)(q->used_idx - old);
	q->signalled_valid = true;
	return need;
}

/* Walk the readable or writable part of c over [off, off+len), calling fn on
 * each host piece. Returns bytes covered or -EFAULT. */
typedef void (*piece_fn)(void *host, size_t n, size_t done, void *arg);

static int64_t chain_walk(const struct virtq *q, const struct virtq_chain *c, bool writable,
			  uint64_t off, size_t len, piece_fn fn, void *arg)
{
	unsigned first = writable ? c->nout : 0, n = writable ? c->nin : c->nout;
	size_t done = 0;

	for (unsigned i = first; i < first + n && done < len; i++) {
		const struct virtq_seg *s = &c->seg[i];
		uint64_t take;
		void *host;

		if (off >= s->len) {
			off -= s->len;
			continue;
		}
		take = s->len - off;
		if (take > len - done)
			take = len - done;
		host = gmem_ptr(q->mem, s->gpa + off, take);
		if (!host)
			return -EFAULT;
		fn(host, (size_t)take, done, arg);
		done += (size_t)take;
		off = 0;
	}
	return (int64_t)done;
}

static void piece_read(void *host, size_t n, size_t done, void *arg)
{
	memcpy((uint8_t *)arg + done, host, n);
}

static void piece_write(void *host, size_t n, size_t done, void *arg)
{
	memcpy(host, (const uint8_t *)arg + done, n);
}

int64_t virtq_chain_read(const struct virtq *q, const struct virtq_chain *c, uint64_t off,
			 void *dst, size_t len)
{
	return chain_walk(q, c, false, off, len, piece_read, dst);
}

int64_t virtq_chain_write(const struct virtq *q, const struct virtq_chain *c, uint64_t off,
			  const void *src, size_t len)
{
	return chain_walk(q, c, true, off, len, piece_write, (void *)(uintptr_t)src);
}

int virtq_chain_iov(const struct virtq *q, const struct virtq_chain *c, bool writable,
		    uint64_t off, uint64_t len, struct iovec *iov, int max)
{
	uint64_t part = writable ? c->in_bytes : c->out_bytes, end;
	unsigned first = writable ? c->nout : 0, n = writable ? c->nin : c->nout;
	int cnt = 0;

	if (bh_add_overflow_u64(off, len, &end) || end > part)
		return -EINVAL;
	for (unsigned i = first; i < first + n && len > 0; i++) {
		const struct virtq_seg *s = &c->seg[i];
		uint64_t take;
		void *host;

		if (off >= s->len) {
			off -= s->len;
			continue;
		}
		take = s->len - off;
		if (take > len)
			take = len;
		if (cnt >= max)
			return -E2BIG;
		host = gmem_ptr(q->mem, s->gpa + off, take);
		if (!host)
			return -EFAULT;
		iov[cnt].iov_base = host;
		iov[cnt].iov_len = (size_t)take;
		cnt++;
		len -= take;
		off = 0;
	}
	return cnt;
}
