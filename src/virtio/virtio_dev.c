/* virtio_dev.c — the transport-independent base of every virtio device. */
#include "virtio/virtio_dev.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/log.h"

int virtio_dev_init(struct virtio_dev *vd, const struct virtio_dev_ops *ops, const char *name,
		    uint16_t device_id, unsigned nqueues, uint16_t queue_max, uint32_t cfg_len,
		    const struct guest_mem *mem)
{
	int r;

	if (!ops || !name || !mem || nqueues == 0 || nqueues > VIRTIO_DEV_MAX_QUEUES ||
	    queue_max == 0 || (queue_max & (queue_max - 1)) || queue_max > VIRTQ_MAX_SIZE)
		return -EINVAL;
	memset(vd, 0, sizeof(*vd));
	vd->ops = ops;
	vd->name = name;
	vd->device_id = device_id;
	vd->nqueues = nqueues;
	vd->queue_max = queue_max;
	vd->cfg_len = cfg_len;
	vd->mem = mem;
	vd->defer_fd = -1;
	r = pthread_mutex_init(&vd->lock, NULL);
	return -r;
}

void virtio_dev_deinit(struct virtio_dev *vd)
{
	if (vd->defer_fd >= 0) {
		if (vd->el)
			event_loop_del(vd->el, vd->defer_fd);
		close(vd->defer_fd);
		vd->defer_fd = -1;
	}
	for (unsigned i = 0; i < VIRTIO_DEV_MAX_QUEUES; i++)
		virtq_reset(&vd->vq[i]);
	pthread_mutex_destroy(&vd->lock);
}

void virtio_dev_reset(struct virtio_dev *vd)
{
	if (vd->ops && vd->ops->reset)
		vd->ops->reset(vd);
	for (unsigned i = 0; i < VIRTIO_DEV_MAX_QUEUES; i++)
		virtq_reset(&vd->vq[i]);
	vd->defer_mask = 0;
	vd->held_mask = 0;
	vd->features = 0;
	vd->status = 0;
	vd->failed = false;
}

void virtio_dev_queue_done(struct virtio_dev *vd, unsigned q)
{
	if (q >= vd->nqueues || vd->failed)
		return;
	if (virtq_should_notify(&vd->vq[q]) && vd->tops && vd->tops->queue_irq)
		vd->tops->queue_irq(vd->transport, q);
}

void virtio_dev_fail(struct virtio_dev *vd, const char *why)
{
	if (vd->failed)
		return;
	bh_warn_guest("%s: driver broke the virtio protocol (%s); device needs reset", vd->name,
		      why);
	vd->failed = true;
	vd->defer_mask = 0;
	vd->status |= VIRTIO_STATUS_NEEDS_RESET;
	if (vd->tops && vd->tops->config_irq)
		vd->tops->config_irq(vd->transport);
}

/* Event thread: run the deferred queues again. */
static void defer_event(void *opaque, uint32_t events)
{
	struct virtio_dev *vd = opaque;
	uint64_t v;
	uint32_t mask;

	(void)events;
	if (read(vd->defer_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		bh_warn("%s: deferred-work eventfd: %s", vd->name, strerror(errno));
	pthread_mutex_lock(&vd->lock);
	mask = vd->defer_mask;
	vd->defer_mask = 0;
	for (unsigned q = 0; q < vd->nqueues; q++)
		if ((mask >> q) & 1)
			virtio_dev_notify(vd, q);
	pthread_mutex_unlock(&vd->lock);
}

int virtio_dev_defer_init(struct virtio_dev *vd, struct event_loop *el)
{
	int r;

	if (!el || vd->defer_fd >= 0)
		return -EINVAL;
	vd->defer_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vd->defer_fd < 0) {
		vd->defer_fd = -1;
		return -errno;
	}
	r = event_loop_add(el, vd->defer_fd, EPOLLIN, defer_event, vd, vd->name);
	if (r) {
		close(vd->defer_fd);
		vd->defer_fd = -1;
		return r;
	}
	vd->el = el;
	return 0;
}

void virtio_dev_defer(struct virtio_dev *vd, unsigned q)
{
	uint64_t one = 1;

	if (q >= vd->nqueues || vd->defer_fd < 0)
		return;
	if (vd->defer_mask & (1u << q))
		return; /* already scheduled */
	vd->defer_mask |= 1u << q;
	/* Cannot fail short of a counter overflow, which the reader prevents. */
	if (write(vd->defer_fd, &one, sizeof(one)) < 0)
		bh_warn("%s: deferred-work eventfd: %s", vd->name, strerror(errno));
}

void virtio_dev_notify(struct virtio_dev *vd, unsigned q)
{
	if (q >= vd->nqueues || !(vd->status & VIRTIO_STATUS_DRIVER_OK) || vd->failed ||
	    !vd->vq[q].active || !vd->ops->notify)
		return;
	if (vd->quiesced) {
		vd->held_mask |= 1u << q;
		return;
	}
	vd->ops->notify(vd, q);
}

void virtio_dev_quiesce(struct virtio_dev *vd)
{
	pthread_mutex_lock(&vd->lock);
	if (!vd->quiesced) {
		vd->quiesced = true;
		/* Deferred passes become held notifications: same effect later. */
		vd->held_mask |= vd->defer_mask;
		vd->defer_mask = 0;
		if (vd->ops->quiesce)
			vd->ops->quiesce(vd);
	}
	pthread_mutex_unlock(&vd->lock);
}

void virtio_dev_resume(struct virtio_dev *vd)
{
	pthread_mutex_lock(&vd->lock);
	if (vd->quiesced) {
		uint32_t held = vd->held_mask;

		vd->quiesced = false;
		vd->held_mask = 0;
		/* On the event thread later; without an event loop (tests,
		 * fuzzing) right here. */
		for (unsigned q = 0; q < vd->nqueues; q++)
			if ((held >> q) & 1) {
				if (vd->defer_fd >= 0)
					virtio_dev_defer(vd, q);
				else
					virtio_dev_notify(vd, q);
			}
	}
	pthread_mutex_unlock(&vd->lock);
}

void virtio_dev_process_queue(struct virtio_dev *vd, unsigned q, unsigned max_chains,
			      uint64_t max_cost,
			      uint64_t (*handle)(struct virtio_dev *vd, struct virtq_chain *c))
{
	struct virtq_chain c;
	unsigned chains = 0;
	uint64_t cost = 0;

	if (q >= vd->nqueues || vd->failed || !vd->vq[q].active)
		return;
	while (chains < max_chains && cost < max_cost && !vd->failed) {
		int r = virtq_pop(&vd->vq[q], &c);

		if (r < 0) {
			virtio_dev_fail(vd, "malformed descriptor chain");
			return;
		}
		if (r == 0)
			break;
		chains++;
		cost += handle(vd, &c);
	}
	if (!vd->failed && (chains == max_chains || cost >= max_cost))
		virtio_dev_defer(vd, q);
	virtio_dev_queue_done(vd, q);
}

int virtio_dev_check_live(const struct virtio_dev *vd, const struct virtio_dev_state_ctx *ctx,
			  bool live, char *err, size_t errlen)
{
	if (live && !(ctx->status & VIRTIO_STATUS_FEATURES_OK)) {
		snprintf(err, errlen, "%s: activated, but the status 0x%02x lacks FEATURES_OK",
			 vd->name, ctx->status);
		return -EINVAL;
	}
	if (!live && (ctx->status & VIRTIO_STATUS_DRIVER_OK) && !ctx->failed) {
		snprintf(err, errlen, "%s: status 0x%02x has DRIVER_OK but the device was never "
			 "activated", vd->name, ctx->status);
		return -EINVAL;
	}
	return 0;
}
