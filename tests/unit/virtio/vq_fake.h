/* vq_fake.h — the driver side of a split virtqueue, written into a real
 * struct guest_mem, for the virtio unit tests (what a guest driver would do,
 * including the hostile variants), plus a recording transport. Header-only. */
#ifndef BH_TEST_VQ_FAKE_H
#define BH_TEST_VQ_FAKE_H

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <sys/eventfd.h>
#include <unistd.h>

#include "core/char_sink.h"
#include "core/event_loop.h"
#include "core/guest_mem.h"
#include "virtio/queue.h"
#include "virtio/virtio_dev.h"

/* Default ring placement inside a test RAM: 64 KiB apart, low memory. */
#define FQ_DESC 0x10000ULL
#define FQ_AVAIL 0x20000ULL
#define FQ_USED 0x30000ULL
#define FQ_DATA 0x100000ULL /* buffers from here on */

struct fake_ring {
	struct guest_mem *gm;
	uint16_t size;
	uint64_t desc, avail, used;
	uint16_t avail_idx; /* driver's next avail index */
	uint16_t used_seen; /* driver's last consumed used index */
};

static inline void fr_init(struct fake_ring *r, struct guest_mem *gm, uint16_t size,
			   uint64_t desc, uint64_t avail, uint64_t used)
{
	memset(r, 0, sizeof(*r));
	r->gm = gm;
	r->size = size;
	r->desc = desc;
	r->avail = avail;
	r->used = used;
	/* Clear the rings (fresh RAM is zero, but tests reuse it). */
	for (uint64_t i = 0; i < 16ULL * size; i += 8)
		assert_int_equal(gmem_write(gm, desc + i, &(uint64_t){ 0 }, 8), 0);
	for (uint64_t i = 0; i < 6 + 2ULL * size; i += 2)
		assert_int_equal(gmem_write(gm, avail + i, &(uint16_t){ 0 }, 2), 0);
	for (uint64_t i = 0; i < 6 + 8ULL * size; i += 2)
		assert_int_equal(gmem_write(gm, used + i, &(uint16_t){ 0 }, 2), 0);
}

static inline void fr_desc_at(struct guest_mem *gm, uint64_t table, unsigned i, uint64_t addr,
			      uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t d[16];

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
	assert_int_equal(gmem_write(gm, table + 16ULL * i, d, 16), 0);
}

static inline void fr_desc(struct fake_ring *r, unsigned i, uint64_t addr, uint32_t len,
			   uint16_t flags, uint16_t next)
{
	fr_desc_at(r->gm, r->desc, i, addr, len, flags, next);
}

/* Offer head: ring slot, then the index (a real driver fences between). */
static inline void fr_post(struct fake_ring *r, uint16_t head)
{
	uint16_t slot = r->avail_idx & (r->size - 1);

	assert_int_equal(gmem_write(r->gm, r->avail + 4 + 2ULL * slot, &head, 2), 0);
	r->avail_idx++;
	assert_int_equal(gmem_write(r->gm, r->avail + 2, &r->avail_idx, 2), 0);
}

static inline void fr_set_avail_idx(struct fake_ring *r, uint16_t idx)
{
	r->avail_idx = idx;
	assert_int_equal(gmem_write(r->gm, r->avail + 2, &idx, 2), 0);
}

static inline void fr_set_avail_flags(struct fake_ring *r, uint16_t flags)
{
	assert_int_equal(gmem_write(r->gm, r->avail, &flags, 2), 0);
}

static inline void fr_set_used_event(struct fake_ring *r, uint16_t ev)
{
	assert_int_equal(gmem_write(r->gm, r->avail + 4 + 2ULL * r->size, &ev, 2), 0);
}

static inline uint16_t fr_avail_event(struct fake_ring *r)
{
	uint16_t v;

	assert_int_equal(gmem_read(r->gm, &v, r->used + 4 + 8ULL * r->size, 2), 0);
	return v;
}

static inline uint16_t fr_used_idx(struct fake_ring *r)
{
	uint16_t v;

	assert_int_equal(gmem_read(r->gm, &v, r->used + 2, 2), 0);
	return v;
}

/* Consume the next used element; false if none. */
static inline bool fr_get_used(struct fake_ring *r, uint32_t *id, uint32_t *len)
{
	uint32_t e[2];

	if (fr_used_idx(r) == r->used_seen)
		return false;
	assert_int_equal(gmem_read(r->gm, e, r->used + 4 + 8ULL * (r->used_seen & (r->size - 1)),
				   8), 0);
	r->used_seen++;
	*id = e[0];
	*len = e[1];
	return true;
}

static inline int fr_activate(struct fake_ring *r, struct virtq *q, uint64_t features)
{
	return virtq_activate(q, r->gm, r->size, VIRTQ_MAX_SIZE, r->desc, r->avail, r->used,
			      features);
}

/* A transport that records interrupts. */
struct fake_transport {
	unsigned queue_irqs[VIRTIO_DEV_MAX_QUEUES];
	unsigned config_irqs;
};

static inline void ft_queue_irq(void *t, unsigned q)
{
	((struct fake_transport *)t)->queue_irqs[q]++;
}

static inline void ft_config_irq(void *t)
{
	((struct fake_transport *)t)->config_irqs++;
}

static const struct virtio_transport_ops ft_ops = { ft_queue_irq, ft_config_irq };

static inline void ft_attach(struct fake_transport *t, struct virtio_dev *vd)
{
	memset(t, 0, sizeof(*t));
	vd->tops = &ft_ops;
	vd->transport = t;
}

/* What the transport does on FEATURES_OK + queue enables + DRIVER_OK. */
static inline int ft_start(struct virtio_dev *vd, uint64_t features, struct fake_ring *rings,
			   unsigned n)
{
	int r = 0;

	pthread_mutex_lock(&vd->lock);
	vd->features = features;
	vd->status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK;
	for (unsigned i = 0; i < n && r == 0; i++)
		r = virtq_activate(&vd->vq[i], rings[i].gm, rings[i].size, vd->queue_max,
				   rings[i].desc, rings[i].avail, rings[i].used, features);
	if (r == 0)
		r = vd->ops->activate(vd);
	if (r == 0)
		vd->status |= VIRTIO_STATUS_DRIVER_OK;
	pthread_mutex_unlock(&vd->lock);
	return r;
}

static inline void ft_notify(struct virtio_dev *vd, unsigned q)
{
	/* The transport's path: through the base, which checks the driver's
	 * state and holds notifications while the device is quiesced. */
	pthread_mutex_lock(&vd->lock);
	virtio_dev_notify(vd, q);
	pthread_mutex_unlock(&vd->lock);
}

static inline void ft_reset(struct virtio_dev *vd)
{
	pthread_mutex_lock(&vd->lock);
	virtio_dev_reset(vd);
	pthread_mutex_unlock(&vd->lock);
}

/* A char_sink that keeps the first bytes and counts all of them. */
#define FS_KEEP 256
struct fsink {
	uint8_t buf[FS_KEEP];
	size_t kept;
	uint64_t total;
};

static inline void fsink_write(void *opaque, const uint8_t *buf, size_t len)
{
	struct fsink *s = opaque;

	s->total += len;
	for (size_t i = 0; i < len && s->kept < FS_KEEP; i++)
		s->buf[s->kept++] = buf[i];
}

/* A real event loop on its own thread (deferred work runs there). */
struct floop {
	struct event_loop el;
	int stop_fd;
	pthread_t thr;
	int rc;
};

static inline void *floop_main(void *arg)
{
	struct floop *l = arg;

	l->rc = event_loop_run(&l->el);
	return NULL;
}

static inline void floop_init(struct floop *l)
{
	l->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_true(l->stop_fd >= 0);
	assert_int_equal(event_loop_init(&l->el, l->stop_fd), 0);
}

static inline void floop_start(struct floop *l)
{
	assert_int_equal(pthread_create(&l->thr, NULL, floop_main, l), 0);
}

static inline void floop_stop(struct floop *l)
{
	uint64_t one = 1;

	assert_int_equal(write(l->stop_fd, &one, 8), 8);
	pthread_join(l->thr, NULL);
	assert_int_equal(l->rc, 0);
}

static inline void floop_destroy(struct floop *l)
{
	event_loop_destroy(&l->el);
	close(l->stop_fd);
}

#endif
