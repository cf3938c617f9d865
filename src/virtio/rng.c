/* rng.c — virtio-rng. See rng.h. */
#include "virtio/rng.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "common/log.h"

struct virtio_rng {
	struct virtio_dev vdev;
	bool live;  /* activated (DRIVER_OK), not reset since */
	uint64_t bytes;
	uint8_t buf[VIRTIO_RNG_MAX_REQ];
};

static struct virtio_rng *to_rng(struct virtio_dev *vd)
{
	return bh_container_of(vd, struct virtio_rng, vdev);
}

static uint64_t rng_features(struct virtio_dev *vd)
{
	(void)vd;
	return (1ULL << VIRTIO_RING_F_EVENT_IDX) | (1ULL << VIRTIO_RING_F_INDIRECT_DESC);
}

/* Fill n bytes of entropy; returns bytes obtained. */
static size_t fill(uint8_t *buf, size_t n)
{
	size_t done = 0;

	while (done < n) {
		ssize_t k = getrandom(buf + done, n - done, 0);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			bh_warn("virtio-rng: getrandom: %s", strerror(errno));
			break;
		}
		done += (size_t)k;
	}
	return done;
}

static uint64_t rng_handle(struct virtio_dev *vd, struct virtq_chain *c)
{
	struct virtio_rng *rng = to_rng(vd);
	size_t want, got = 0;
	int64_t put = 0;

	want = c->in_bytes < VIRTIO_RNG_MAX_REQ ? c->in_bytes : VIRTIO_RNG_MAX_REQ;
	if (want)
		got = fill(rng->buf, want);
	if (got)
		put = virtq_chain_write(&vd->vq[0], c, 0, rng->buf, got);
	if (put < 0)
		put = 0;
	/* Don't leave entropy handed out lying around in the host. */
	memset(rng->buf, 0, got);
	rng->bytes += (uint64_t)put;
	if (virtq_push(&vd->vq[0], c->head, (uint32_t)put))
		bh_warn("%s: completing head %u: not in flight", vd->name, c->head);
	return (uint64_t)put;
}

static void rng_notify(struct virtio_dev *vd, unsigned qi)
{
	if (qi != 0 || !to_rng(vd)->live)
		return;
	virtio_dev_process_queue(vd, 0, vd->vq[0].size, VIRTIO_RNG_BUDGET_BYTES, rng_handle);
}

static int rng_activate(struct virtio_dev *vd)
{
	/* Requests posted before DRIVER_OK. */
	to_rng(vd)->live = true;
	rng_notify(vd, 0);
	return 0;
}

static void rng_reset(struct virtio_dev *vd)
{
	/* Every request is completed synchronously: nothing is in flight. */
	to_rng(vd)->live = false;
}

static void rng_destroy(struct virtio_dev *vd)
{
	virtio_dev_deinit(vd);
	free(to_rng(vd));
}

/* State (VIRTIO_RNG_STATE_VERSION): live u8. Nothing is ever in flight. */
static void rng_save(struct virtio_dev *vd, struct sbuf *out)
{
	sbuf_u8(out, to_rng(vd)->live);
}

static int rng_load(struct virtio_dev *vd, struct sreader *in, uint32_t version,
		    const struct virtio_dev_state_ctx *ctx, bool apply, char *err, size_t errlen)
{
	bool live;
	int ret;

	if (version != VIRTIO_RNG_STATE_VERSION) {
		snprintf(err, errlen, "%s: device state version %u unknown (this build: %u)",
			 vd->name, version, VIRTIO_RNG_STATE_VERSION);
		return -ENOTSUP;
	}
	live = sr_bool(in);
	if (sr_finish(in)) {
		snprintf(err, errlen, "%s: device state is not one 0/1 byte", vd->name);
		return -EINVAL;
	}
	if ((ret = virtio_dev_check_live(vd, ctx, live, err, errlen)))
		return ret;
	if (apply)
		to_rng(vd)->live = live;
	return 0;
}

static const struct virtio_dev_ops rng_ops = {
	.features = rng_features,
	.activate = rng_activate,
	.notify = rng_notify,
	.reset = rng_reset,
	.destroy = rng_destroy,
	.state_version = VIRTIO_RNG_STATE_VERSION,
	.save = rng_save,
	.load = rng_load,
};

int virtio_rng_create(struct virtio_rng **out, const struct guest_mem *mem,
		      struct event_loop *el)
{
	struct virtio_rng *rng = calloc(1, sizeof(*rng));
	int r;

	*out = NULL;
	if (!rng)
		return -ENOMEM;
	r = virtio_dev_init(&rng->vdev, &rng_ops, "virtio-rng", VIRTIO_ID_RNG, 1,
			    VIRTIO_RNG_QUEUE_MAX, 0, mem);
	if (r) {
		free(rng);
		return r;
	}
	if (el) {
		r = virtio_dev_defer_init(&rng->vdev, el);
		if (r) {
			rng_destroy(&rng->vdev);
			return r;
		}
	}
	*out = rng;
	return 0;
}

struct virtio_dev *virtio_rng_dev(struct virtio_rng *r)
{
	return &r->vdev;
}

uint64_t virtio_rng_bytes(struct virtio_rng *r)
{
	uint64_t n;

	pthread_mutex_lock(&r->vdev.lock);
	n = r->bytes;
	pthread_mutex_unlock(&r->vdev.lock);
	return n;
}
