/* pci_state.c — snapshot state of a virtio-pci function and its device: see
 * virtio_pci_save()/virtio_pci_load() in pci_transport.h for the format and
 * the rules. Parse into a staging copy, validate all of it, then commit:
 * a refused state changes nothing. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "virtio/pci_transport_priv.h"

#define ISR_QUEUE 1u
#define ISR_CONFIG 2u

/* Everything of one state blob, parsed, before it is applied. */
struct staged {
	uint8_t status;
	bool failed;
	uint64_t driver_features, features;
	uint32_t dfselect, gfselect;
	uint16_t msix_config, queue_select;
	uint8_t config_generation, isr;
	struct vpci_queue q[VIRTIO_DEV_MAX_QUEUES];
	struct virtq vq[VIRTIO_DEV_MAX_QUEUES]; /* enabled queues restored */
	struct {
		uint32_t w[4];
	} msix[VPCI_MAX_VECTORS];
	uint64_t pba;
	uint32_t held;
	bool msix_enabled, msix_fmask;
	uint32_t dev_version;
	const uint8_t *dev;
	uint32_t dev_len;
};

BH_PRINTF(4, 5)
static int refuse(char *err, size_t errlen, const struct virtio_dev *vd, const char *fmt, ...)
{
	char what[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(err, errlen, "%s: %s", vd->name, what);
	return -EINVAL;
}

int virtio_pci_save(struct virtio_pci *vp, struct sbuf *out, char *err, size_t errlen)
{
	struct virtio_dev *vd = vp->vd;
	struct sbuf dev;
	uint32_t held;
	int ret = 0;

	pthread_mutex_lock(&vd->lock);
	if (!vd->ops->state_version) {
		snprintf(err, errlen, "%s: saving its state is not supported yet", vd->name);
		ret = -ENOTSUP;
		goto out;
	}
	if (!vd->quiesced) {
		snprintf(err, errlen, "%s: not quiesced", vd->name);
		ret = -EAGAIN;
		goto out;
	}
	for (unsigned i = 0; i < vd->nqueues && !vd->ops->keeps_chains; i++) {
		if (vd->vq[i].active && vd->vq[i].inflight) {
			snprintf(err, errlen, "%s: queue %u has %u requests in flight after "
				 "quiesce", vd->name, i, vd->vq[i].inflight);
			ret = -EBUSY;
			goto out;
		}
	}
	sbuf_u8(out, vd->status);
	sbuf_u8(out, vd->failed);
	sbuf_u64(out, vp->driver_features);
	sbuf_u32(out, vp->dfselect);
	sbuf_u32(out, vp->gfselect);
	sbuf_u16(out, vp->msix_config);
	sbuf_u16(out, vp->queue_select);
	sbuf_u8(out, vp->config_generation);
	sbuf_u8(out, vp->isr);
	sbuf_u8(out, (uint8_t)vd->nqueues);
	held = vd->held_mask | vd->defer_mask;
	for (unsigned i = 0; i < vd->nqueues; i++) {
		const struct vpci_queue *q = &vp->q[i];

		sbuf_u16(out, q->size);
		sbuf_u16(out, q->msix_vector);
		sbuf_u8(out, q->enabled);
		sbuf_u64(out, q->desc);
		sbuf_u64(out, q->driver);
		sbuf_u64(out, q->device);
		if (q->enabled)
			virtq_save_state(&vd->vq[i], out);
		/* A kick still sitting in the ioeventfd must not be lost. */
		if (q->enabled && virtq_has_avail(&vd->vq[i]))
			held |= 1u << i;
	}
	sbuf_u16(out, vp->nvec);
	for (unsigned v = 0; v < vp->nvec; v++)
		for (unsigned w = 0; w < 4; w++)
			sbuf_u32(out, vp->msix[v].w[w]);
	sbuf_u64(out, vp->pba);
	sbuf_u32(out, held);
	sbuf_init(&dev);
	if (vd->ops->save)
		vd->ops->save(vd, &dev);
	if (dev.err) {
		snprintf(err, errlen, "%s: %s", vd->name,
			 dev.err == -EBUSY ? "device requests in flight after quiesce"
					   : strerror(-dev.err));
		ret = dev.err;
	} else {
		sbuf_u32(out, vd->ops->state_version);
		sbuf_u32(out, (uint32_t)dev.len);
		sbuf_put(out, dev.data, dev.len);
	}
	sbuf_free(&dev);
	if (!ret && out->err) {
		snprintf(err, errlen, "%s: %s", vd->name, strerror(-out->err));
		ret = out->err;
	}
out:
	pthread_mutex_unlock(&vd->lock);
	return ret;
}

static bool vector_ok(const struct virtio_pci *vp, uint16_t v)
{
	return v == VPCI_NO_VECTOR || v < vp->nvec;
}

/* The queues' part. */
static int parse_queues(struct virtio_pci *vp, struct staged *st, struct sreader *in,
			char *err, size_t errlen)
{
	struct virtio_dev *vd = vp->vd;
	bool fok = st->status & VIRTIO_STATUS_FEATURES_OK;
	char why[160];
	int ret;

	for (unsigned i = 0; i < vd->nqueues; i++) {
		struct vpci_queue *q = &st->q[i];

		q->size = sr_u16(in);
		q->msix_vector = sr_u16(in);
		q->enabled = sr_bool(in);
		q->desc = sr_u64(in);
		q->driver = sr_u64(in);
		q->device = sr_u64(in);
		if (in->bad)
			return refuse(err, errlen, vd, "queue %u: state truncated or a flag not "
				      "0/1", i);
		if (!q->size || (q->size & (q->size - 1)) || q->size > vd->queue_max)
			return refuse(err, errlen, vd, "queue %u: size %u is not a power of two "
				      "up to %u", i, q->size, vd->queue_max);
		if (!vector_ok(vp, q->msix_vector))
			return refuse(err, errlen, vd, "queue %u: MSI-X vector %u, the table "
				      "has %u", i, q->msix_vector, vp->nvec);
		if (!fok && (q->enabled || q->size != vd->queue_max || q->desc || q->driver ||
			     q->device))
			return refuse(err, errlen, vd, "queue %u is configured but the status "
				      "0x%02x lacks FEATURES_OK", i, st->status);
		if (!q->enabled)
			continue;
		ret = virtq_restore(&st->vq[i], vd->mem, q->size, vd->queue_max, q->desc,
				    q->driver, q->device, st->features, vd->ops->keeps_chains, in,
				    why, sizeof(why));
		if (ret) {
			refuse(err, errlen, vd, "queue %u: %s", i, why);
			return ret == -ENOMEM ? ret : -EINVAL;
		}
		if (st->vq[i].broken && !st->failed)
			return refuse(err, errlen, vd, "queue %u is broken but the device does "
				      "not need reset", i);
	}
	return 0;
}

/* Parse and validate the whole blob into st. */
static int parse(struct virtio_pci *vp, struct staged *st, struct sreader *in, char *err,
		 size_t errlen)
{
	struct virtio_dev *vd = vp->vd;
	unsigned nq, nvec;
	int ret;

	st->status = sr_u8(in);
	st->failed = sr_bool(in);
	st->driver_features = sr_u64(in);
	st->dfselect = sr_u32(in);
	st->gfselect = sr_u32(in);
	st->msix_config = sr_u16(in);
	st->queue_select = sr_u16(in);
	st->config_generation = sr_u8(in);
	st->isr = sr_u8(in);
	nq = sr_u8(in);
	if (in->bad)
		return refuse(err, errlen, vd, "state truncated (or the failed flag not 0/1)");
	if (nq != vd->nqueues)
		return refuse(err, errlen, vd, "the state has %u queues, this device %u", nq,
			      vd->nqueues);
	if (st->status & VIRTIO_STATUS_FEATURES_OK) {
		if (st->driver_features & ~vp->offered)
			return refuse(err, errlen, vd, "acked features 0x%llx are not a subset "
				      "of those offered, 0x%llx",
				      (unsigned long long)st->driver_features,
				      (unsigned long long)vp->offered);
		if (!(st->driver_features & (1ull << VIRTIO_F_VERSION_1)))
			return refuse(err, errlen, vd, "acked features 0x%llx lack VERSION_1",
				      (unsigned long long)st->driver_features);
		st->features = st->driver_features;
	}
	if ((st->status & VIRTIO_STATUS_DRIVER_OK) && !(st->status & VIRTIO_STATUS_FEATURES_OK))
		return refuse(err, errlen, vd, "status 0x%02x has DRIVER_OK without FEATURES_OK",
			      st->status);
	if (!!(st->status & VIRTIO_STATUS_NEEDS_RESET) != st->failed)
		return refuse(err, errlen, vd, "status 0x%02x and the failed flag %u disagree "
			      "about NEEDS_RESET", st->status, st->failed);
	if (!vector_ok(vp, st->msix_config))
		return refuse(err, errlen, vd, "msix_config vector %u, the table has %u",
			      st->msix_config, vp->nvec);
	if (st->isr & ~(ISR_QUEUE | ISR_CONFIG))
		return refuse(err, errlen, vd, "ISR 0x%02x has bits other than queue and "
			      "config", st->isr);
	if ((ret = parse_queues(vp, st, in, err, errlen)))
		return ret;
	nvec = sr_u16(in);
	if (!in->bad && nvec != vp->nvec)
		return refuse(err, errlen, vd, "the state has %u MSI-X vectors, this device %u",
			      nvec, vp->nvec);
	for (unsigned v = 0; v < vp->nvec; v++) {
		for (unsigned w = 0; w < 4; w++)
			st->msix[v].w[w] = sr_u32(in);
		if (st->msix[v].w[MSIX_W_CTRL] & ~(uint32_t)MSIX_ENTRY_MASKED)
			return refuse(err, errlen, vd, "MSI-X vector %u control 0x%x has bits "
				      "other than the mask", v, st->msix[v].w[MSIX_W_CTRL]);
	}
	st->pba = sr_u64(in);
	st->held = sr_u32(in);
	st->dev_version = sr_u32(in);
	st->dev_len = sr_u32(in);
	if (in->bad)
		return refuse(err, errlen, vd, "state truncated");
	if (st->dev_len != in->len - in->off)
		return refuse(err, errlen, vd, "device state length %u, %zu bytes follow",
			      st->dev_len, in->len - in->off);
	st->dev = in->p + in->off;
	if (st->pba >> vp->nvec)
		return refuse(err, errlen, vd, "MSI-X pending bits 0x%llx for vectors beyond "
			      "the table (%u)", (unsigned long long)st->pba, vp->nvec);
	if (st->held >> vd->nqueues)
		return refuse(err, errlen, vd, "held notifications 0x%x for queues beyond %u",
			      st->held, vd->nqueues);
	if (st->msix_enabled && st->isr)
		return refuse(err, errlen, vd, "ISR 0x%02x set while MSI-X is enabled", st->isr);
	for (unsigned v = 0; v < vp->nvec; v++) {
		bool masked = st->msix_fmask || (st->msix[v].w[MSIX_W_CTRL] & MSIX_ENTRY_MASKED);

		if (((st->pba >> v) & 1) && st->msix_enabled && !masked)
			return refuse(err, errlen, vd, "MSI-X vector %u pending although enabled "
				      "and unmasked (it would have been delivered)", v);
	}
	return 0;
}

/* The device's own part: validate (apply false) or commit. */
static int device_part(struct virtio_pci *vp, const struct staged *st, bool apply, char *err,
		       size_t errlen)
{
	struct virtio_dev *vd = vp->vd;
	struct virtio_dev_state_ctx ctx = { st->status, st->failed, st->features, st->vq };
	struct sreader r;

	if (!vd->ops->state_version) {
		snprintf(err, errlen, "%s: loading its state is not supported yet", vd->name);
		return -ENOTSUP;
	}
	if (!vd->ops->load) {
		if (st->dev_version != vd->ops->state_version)
			goto version;
		if (st->dev_len)
			return refuse(err, errlen, vd, "%u bytes of device state, this device "
				      "has none", st->dev_len);
		return 0;
	}
	sr_init(&r, st->dev, st->dev_len);
	if (apply)
		ctx.vq = vd->vq; /* committed: the staged queues moved there */
	return vd->ops->load(vd, &r, st->dev_version, &ctx, apply, err, errlen);
version:
	snprintf(err, errlen, "%s: device state version %u unknown (this build: %u)", vd->name,
		 st->dev_version, vd->ops->state_version);
	return -ENOTSUP;
}

static void commit(struct virtio_pci *vp, struct staged *st)
{
	struct virtio_dev *vd = vp->vd;

	for (unsigned i = 0; i < vd->nqueues; i++) {
		virtq_reset(&vd->vq[i]);
		vd->vq[i] = st->vq[i]; /* takes the in-flight map */
		memset(&st->vq[i], 0, sizeof(st->vq[i]));
		vp->q[i] = st->q[i];
	}
	vd->status = st->status;
	vd->failed = st->failed;
	vd->features = st->features;
	vd->defer_mask = 0;
	vd->held_mask = st->held; /* run on resume */
	vp->driver_features = st->driver_features;
	vp->dfselect = st->dfselect;
	vp->gfselect = st->gfselect;
	vp->msix_config = st->msix_config;
	vp->queue_select = st->queue_select;
	vp->config_generation = st->config_generation;
	vp->isr = st->isr;
	vp->msix_enabled = st->msix_enabled;
	vp->msix_fmask = st->msix_fmask;
	for (unsigned v = 0; v < vp->nvec; v++)
		memcpy(vp->msix[v].w, st->msix[v].w, sizeof(vp->msix[v].w));
	vp->pba = st->pba;
}

int virtio_pci_load(struct virtio_pci *vp, struct sreader *in, uint32_t version, char *err,
		    size_t errlen)
{
	struct virtio_dev *vd = vp->vd;
	struct staged st;
	uint16_t ctrl = 0;
	int ret;

	if (version != VIRTIO_PCI_STATE_VERSION) {
		snprintf(err, errlen, "%s: state version %u unknown (this build: %u)", vd->name,
			 version, VIRTIO_PCI_STATE_VERSION);
		return -ENOTSUP;
	}
	memset(&st, 0, sizeof(st));
	/* MSI-X enable and function mask: configuration space, loaded by the
	 * bus row before us. Bus lock before device lock (pci.h). */
	if (vp->pci.bus) {
		pthread_mutex_lock(&vp->pci.bus->lock);
		ctrl = pci_get16(&vp->pci.cfg[vp->msix_cap + 2]);
		pthread_mutex_unlock(&vp->pci.bus->lock);
	}
	st.msix_enabled = ctrl & MSIX_CTRL_ENABLE;
	st.msix_fmask = ctrl & MSIX_CTRL_FMASK;
	pthread_mutex_lock(&vd->lock);
	if (!vd->quiesced) {
		snprintf(err, errlen, "%s: not quiesced", vd->name);
		ret = -EBUSY;
		goto out;
	}
	if ((ret = parse(vp, &st, in, err, errlen)) ||
	    (ret = device_part(vp, &st, false, err, errlen)))
		goto out;
	commit(vp, &st);
	if ((ret = device_part(vp, &st, true, err, errlen))) {
		/* The check passed on these very bytes: a device bug. */
		bh_err("%s: device state valid but not applied: %s", vd->name, err);
		goto out;
	}
	/* What the state implies in KVM: MSI routes, the INTx level. */
	for (unsigned v = 0; v < vp->nvec; v++)
		vpci_route_vector(vp, v);
	pci_intx_set(&vp->pci, vp->isr != 0);
out:
	for (unsigned i = 0; i < VIRTIO_DEV_MAX_QUEUES; i++)
		virtq_reset(&st.vq[i]); /* what commit did not take */
	pthread_mutex_unlock(&vd->lock);
	return ret;
}
