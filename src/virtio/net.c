/* net.c — virtio-net. See net.h for what is checked where. */
#include "virtio/net.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "common/log.h"
#include "core/state_buf.h"

#define ETH_HLEN_ 14u

struct virtio_net {
	struct virtio_dev vdev;
	struct net_backend be;
	struct event_loop *el;
	struct virtio_net_params p;
	char name[24];
	bool live;            /* activated, not reset since */
	bool offload_pending; /* tell the tap what the guest acked (event thread) */
	bool polling;         /* be.fd is on the event loop (event thread only) */
	bool tx_blocked;      /* the backend was full: TX waits for be.wfd writable */
	bool wpolling;        /* be.wfd is on the event loop (event thread only) */
	bool hup;             /* the backend's peer is gone */
	size_t pending;       /* bytes of the frame waiting in rxbuf (0: none) */
	struct virtio_net_stats st;
	struct virtq_chain rxc[VIRTIO_NET_RX_MAX_BUFS];
	struct iovec txiov[VIRTQ_MAX_SEGS + 2];
	uint8_t txcopy[NET_PORT_HDR_LEN + VIRTIO_NET_TX_COPY];
	/* What tx_check sees: the copied head, then zeros (never written past
	 * VIRTIO_NET_TX_COPY, so it stays zero). */
	uint8_t txview[NET_PORT_MAX_FRAME];
	uint8_t rxbuf[NET_PORT_MAX_MSG + 1];
};

static struct virtio_net *to_net(struct virtio_dev *vd)
{
	return bh_container_of(vd, struct virtio_net, vdev);
}

static uint64_t net_features(struct virtio_dev *vd)
{
	(void)vd;
	return (1ULL << VIRTIO_NET_F_CSUM) | (1ULL << VIRTIO_NET_F_GUEST_CSUM) |
	       (1ULL << VIRTIO_NET_F_MTU) | (1ULL << VIRTIO_NET_F_MAC) |
	       (1ULL << VIRTIO_NET_F_GUEST_TSO4) | (1ULL << VIRTIO_NET_F_GUEST_TSO6) |
	       (1ULL << VIRTIO_NET_F_HOST_TSO4) | (1ULL << VIRTIO_NET_F_HOST_TSO6) |
	       (1ULL << VIRTIO_NET_F_MRG_RXBUF) | (1ULL << VIRTIO_NET_F_STATUS) |
	       (1ULL << VIRTIO_RING_F_EVENT_IDX) | (1ULL << VIRTIO_RING_F_INDIRECT_DESC);
}

static void net_cfg_read(struct virtio_dev *vd, uint32_t off, void *data, uint32_t len)
{
	struct virtio_net *n = to_net(vd);
	uint8_t cfg[VIRTIO_NET_CFG_LEN];
	uint16_t status = VIRTIO_NET_S_LINK_UP, pairs = 1, mtu = n->p.mtu;

	memcpy(cfg, n->p.mac, 6);
	memcpy(cfg + 6, &status, 2);
	memcpy(cfg + 8, &pairs, 2);
	memcpy(cfg + 10, &mtu, 2);
	memcpy(data, cfg + off, len); /* off + len <= cfg_len: the transport checked */
}

/* ---- transmit ---- */

static bool has(const struct virtio_dev *vd, unsigned bit)
{
	return virtio_dev_has(vd, bit);
}

/* Is the (host copy of the) header acceptable for a frame of flen bytes? */
static bool tx_hdr_ok(const struct virtio_dev *vd, const struct net_port_hdr *h, uint32_t flen)
{
	unsigned gso = h->gso_type & (unsigned)~NET_PORT_GSO_ECN;

	if (h->flags & ~NET_PORT_F_NEEDS_CSUM)
		return false;
	if ((h->flags & NET_PORT_F_NEEDS_CSUM) &&
	    (!has(vd, VIRTIO_NET_F_CSUM) ||
	     (uint32_t)h->csum_start + h->csum_offset + 2u > flen))
		return false;
	if ((h->gso_type & NET_PORT_GSO_ECN) && !has(vd, VIRTIO_NET_F_HOST_ECN))
		return false;
	switch (gso) {
	case NET_PORT_GSO_NONE: return true;
	case NET_PORT_GSO_TCPV4:
		return has(vd, VIRTIO_NET_F_HOST_TSO4) && h->gso_size &&
		       (h->flags & NET_PORT_F_NEEDS_CSUM);
	case NET_PORT_GSO_TCPV6:
		return has(vd, VIRTIO_NET_F_HOST_TSO6) && h->gso_size &&
		       (h->flags & NET_PORT_F_NEEDS_CSUM);
	default: return false; /* UFO is not offered */
	}
}

/* Port security on the host copy of the frame's first bytes. */
static bool tx_port_ok(struct virtio_net *n, uint32_t copy, uint32_t flen)
{
	int why;

	memcpy(n->txview, n->txcopy + NET_PORT_HDR_LEN, copy);
	why = n->p.tx_check(n->p.tx_check_ctx, n->p.mac, n->txview, copy, flen);
	memset(n->txview, 0, copy);
	if (why == 0)
		return true;
	if (why < 0 || why >= VIRTIO_NET_TX_REASONS)
		why = VIRTIO_NET_TX_REASONS - 1;
	n->st.tx_refused[why]++;
	return false;
}

static void tx_ready(void *opaque, uint32_t events);

static void wpoll_start(struct virtio_net *n)
{
	if (n->wpolling || !n->el)
		return;
	if (event_loop_add(n->el, n->be.wfd, EPOLLOUT, tx_ready, n, n->name) == 0)
		n->wpolling = true;
	else
		bh_warn("%s: cannot wait for %s to drain", n->name, n->be.what);
}

static void wpoll_stop(struct virtio_net *n)
{
	if (!n->wpolling)
		return;
	event_loop_del(n->el, n->be.wfd);
	n->wpolling = false;
}

/* The backend can take frames again: resume transmitting. Lock held. */
static void tx_resume(struct virtio_net *n)
{
	wpoll_stop(n);
	n->tx_blocked = false;
	/* Through the base: nothing runs unless the driver is live, and a
	 * quiesced device holds it for resume. */
	virtio_dev_notify(&n->vdev, VIRTIO_NET_TXQ);
}

static void tx_ready(void *opaque, uint32_t events)
{
	struct virtio_net *n = opaque;

	(void)events;
	pthread_mutex_lock(&n->vdev.lock);
	tx_resume(n);
	pthread_mutex_unlock(&n->vdev.lock);
}

void virtio_net_tx_poll(struct virtio_net *n)
{
	pthread_mutex_lock(&n->vdev.lock);
	if (n->tx_blocked)
		tx_resume(n);
	pthread_mutex_unlock(&n->vdev.lock);
}

/* One transmit chain: decide on host copies, send the copies + the rest. */
static uint64_t net_tx(struct virtio_dev *vd, struct virtq_chain *c)
{
	struct virtio_net *n = to_net(vd);
	struct virtq *q = &vd->vq[VIRTIO_NET_TXQ];
	struct net_port_hdr h;
	uint32_t flen, copy;
	int niov = 2, k;
	ssize_t w;

	if (c->out_bytes < NET_PORT_HDR_LEN + ETH_HLEN_) {
		n->st.tx_malformed++;
		goto done;
	}
	flen = c->out_bytes - NET_PORT_HDR_LEN;
	if (flen > NET_PORT_MAX_FRAME) {
		n->st.tx_oversize++;
		goto done;
	}
	copy = flen < VIRTIO_NET_TX_COPY ? flen : VIRTIO_NET_TX_COPY;
	/* The copies: from here on the guest's bytes of header and L2-L4
	 * headers are never read again. */
	if (virtq_chain_read(q, c, 0, n->txcopy, NET_PORT_HDR_LEN + copy) !=
	    (int64_t)(NET_PORT_HDR_LEN + copy)) {
		n->st.tx_malformed++;
		goto done;
	}
	memcpy(&h, n->txcopy, sizeof(h));
	if (!tx_hdr_ok(vd, &h, flen)) {
		n->st.tx_bad_hdr++;
		goto done;
	}
	if (h.gso_type == NET_PORT_GSO_NONE && flen > (uint32_t)n->p.mtu + 18u) {
		n->st.tx_oversize++;
		goto done;
	}
	if (n->p.tx_check && !tx_port_ok(n, copy, flen))
		goto done;
	h.num_buffers = 0;
	memcpy(n->txcopy, &h, sizeof(h));
	n->txiov[0] = (struct iovec){ n->txcopy, NET_PORT_HDR_LEN };
	n->txiov[1] = (struct iovec){ n->txcopy + NET_PORT_HDR_LEN, copy };
	if (flen > copy) {
		k = virtq_chain_iov(q, c, false, NET_PORT_HDR_LEN + copy, flen - copy,
				    n->txiov + 2, (int)BH_ARRAY_SIZE(n->txiov) - 2);
		if (k < 0) {
			n->st.tx_malformed++;
			goto done;
		}
		niov += k;
	}
	w = net_backend_send(&n->be, n->txiov, niov);
	if (w == -EAGAIN && n->be.wfd >= 0 && !virtq_unpop(q, c->head)) {
		/* The peer's queue is full: the chain goes back to the ring (no
		 * host buffering) and TX waits until the backend is writable. */
		n->tx_blocked = true;
		n->st.tx_stalls++;
		wpoll_start(n);
		return VIRTIO_NET_TX_BUDGET; /* ends this pass */
	}
	if (w != (ssize_t)(NET_PORT_HDR_LEN + flen)) {
		n->st.tx_backend++;
		goto done;
	}
	n->st.tx_frames++;
	n->st.tx_bytes += flen;
done:
	if (virtq_push(q, c->head, 0))
		bh_warn("%s: completing head %u: not in flight", vd->name, c->head);
	return 1;
}

/* ---- receive ---- */

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Complete a NEEDS_CSUM frame's checksum (the partial pseudo-header sum is
 * in the field already, as the sender's stack left it). */
static bool fill_csum(uint8_t *f, uint32_t flen, const struct net_port_hdr *h)
{
	uint32_t start = h->csum_start, at = start + h->csum_offset, sum = 0;
	uint16_t v;

	if (at + 2u > flen || start >= flen)
		return false;
	for (uint32_t i = start; i + 1 < flen; i += 2)
		sum += (uint32_t)(f[i] << 8 | f[i + 1]);
	if ((flen - start) & 1)
		sum += (uint32_t)(f[flen - 1] << 8);
	v = csum_fold(sum);
	f[at] = (uint8_t)(v >> 8);
	f[at + 1] = (uint8_t)v;
	return true;
}

/* Check and adapt the frame in rxbuf (len bytes incl. header) to what the
 * guest acked. False: drop it (counted). */
static bool rx_prepare(struct virtio_net *n, size_t len)
{
	struct virtio_dev *vd = &n->vdev;
	struct net_port_hdr h;
	unsigned gso;

	if (len < NET_PORT_HDR_LEN + ETH_HLEN_) {
		n->st.rx_malformed++;
		return false;
	}
	memcpy(&h, n->rxbuf, sizeof(h));
	gso = h.gso_type & (unsigned)~NET_PORT_GSO_ECN;
	if ((h.flags & ~(NET_PORT_F_NEEDS_CSUM | NET_PORT_F_DATA_VALID)) ||
	    (gso != NET_PORT_GSO_NONE && gso != NET_PORT_GSO_TCPV4 && gso != NET_PORT_GSO_TCPV6 &&
	     gso != NET_PORT_GSO_UDP)) {
		n->st.rx_malformed++;
		return false;
	}
	if ((gso == NET_PORT_GSO_TCPV4 && !has(vd, VIRTIO_NET_F_GUEST_TSO4)) ||
	    (gso == NET_PORT_GSO_TCPV6 && !has(vd, VIRTIO_NET_F_GUEST_TSO6)) ||
	    (gso == NET_PORT_GSO_UDP && !has(vd, VIRTIO_NET_F_GUEST_UFO)) ||
	    ((h.gso_type & NET_PORT_GSO_ECN) && !has(vd, VIRTIO_NET_F_GUEST_ECN))) {
		n->st.rx_gso_refused++;
		return false;
	}
	if ((h.flags & NET_PORT_F_NEEDS_CSUM) && !has(vd, VIRTIO_NET_F_GUEST_CSUM)) {
		if (!fill_csum(n->rxbuf + NET_PORT_HDR_LEN, (uint32_t)(len - NET_PORT_HDR_LEN), &h)) {
			n->st.rx_malformed++;
			return false;
		}
		h.flags = 0; /* a plain frame now */
		n->st.rx_csum_filled++;
	}
	if (!has(vd, VIRTIO_NET_F_GUEST_CSUM))
		h.flags &= (uint8_t)~NET_PORT_F_DATA_VALID;
	h.num_buffers = 1;
	memcpy(n->rxbuf, &h, sizeof(h));
	return true;
}

/* Deliver the pending frame. 1: done (delivered or dropped); 0: not enough
 * buffers (the frame stays pending); <0: the driver broke the protocol. */
static int rx_deliver(struct virtio_net *n)
{
	struct virtio_dev *vd = &n->vdev;
	struct virtq *q = &vd->vq[VIRTIO_NET_RXQ];
	bool mrg = has(vd, VIRTIO_NET_F_MRG_RXBUF);
	size_t len = n->pending, room = 0, off = 0;
	unsigned nb = 0;
	uint16_t nbuf;
	int r;

	while (room < len && nb < (mrg ? VIRTIO_NET_RX_MAX_BUFS : 1u)) {
		r = virtq_pop(q, &n->rxc[nb]);
		if (r < 0)
			return r;
		if (r == 0)
			break;
		room += n->rxc[nb].in_bytes;
		nb++;
	}
	if (room < len && (nb == 0 || (mrg && nb < VIRTIO_NET_RX_MAX_BUFS))) {
		/* Not enough buffers yet: give them back, wait for more. */
		while (nb > 0)
			if (virtq_unpop(q, n->rxc[--nb].head))
				return -EINVAL;
		return 0;
	}
	if (room < len) {
		/* The buffers offered cannot hold it: drop, hand them back used. */
		n->st.rx_too_small++;
		for (unsigned i = 0; i < nb; i++)
			if (virtq_push(q, n->rxc[i].head, 0))
				return -EINVAL;
		n->pending = 0;
		return 1;
	}
	nbuf = (uint16_t)nb;
	memcpy(n->rxbuf + 10, &nbuf, 2); /* num_buffers */
	for (unsigned i = 0; i < nb; i++) {
		size_t take = len - off < n->rxc[i].in_bytes ? len - off : n->rxc[i].in_bytes;
		int64_t w = virtq_chain_write(q, &n->rxc[i], 0, n->rxbuf + off, take);

		if (w != (int64_t)take)
			return -EFAULT;
		if (virtq_push(q, n->rxc[i].head, (uint32_t)take))
			return -EINVAL;
		off += take;
	}
	n->st.rx_frames++;
	n->st.rx_bytes += len - NET_PORT_HDR_LEN;
	n->pending = 0;
	return 1;
}

static void rx_event(void *opaque, uint32_t events);

static void poll_start(struct virtio_net *n)
{
	if (n->polling || !n->el || n->hup)
		return;
	if (event_loop_add(n->el, n->be.fd, EPOLLIN, rx_event, n, n->name) == 0)
		n->polling = true;
	else
		bh_warn("%s: cannot poll %s", n->name, n->be.what);
}

static void poll_stop(struct virtio_net *n)
{
	if (!n->polling)
		return;
	event_loop_del(n->el, n->be.fd);
	n->polling = false;
}

/* Receive up to the budget. Lock held. */
static void rx_run(struct virtio_net *n)
{
	struct virtio_dev *vd = &n->vdev;
	bool delivered = false;

	for (unsigned i = 0; i < VIRTIO_NET_RX_BUDGET; i++) {
		int r;

		if (!n->pending) {
			bool trunc, hup;
			ssize_t got = net_backend_recv(&n->be, n->rxbuf, sizeof(n->rxbuf), &trunc,
						       &hup);

			if (hup) {
				bh_warn("%s: %s: the peer closed it; the link stays down",
					n->name, n->be.what);
				n->hup = true;
				poll_stop(n);
				break;
			}
			if (got < 0) {
				/* A persistent error (a tap whose interface is gone
				 * reads EBADFD): stop polling rather than spin. */
				bh_warn("%s: %s: %s; receiving stops", n->name, n->be.what,
					strerror((int)-got));
				n->hup = true;
				poll_stop(n);
				break;
			}
			if (got == 0)
				break;
			if (trunc || !rx_prepare(n, (size_t)got)) {
				if (trunc)
					n->st.rx_malformed++;
				continue;
			}
			n->pending = (size_t)got;
		}
		r = rx_deliver(n);
		if (r < 0) {
			virtio_dev_fail(vd, "malformed receive descriptor chain");
			break;
		}
		if (r == 0) {
			/* Backpressure: wait for the driver's next RX notify. */
			n->st.rx_stalls++;
			poll_stop(n);
			break;
		}
		delivered = true;
	}
	if (delivered)
		virtio_dev_queue_done(vd, VIRTIO_NET_RXQ);
}

static void rx_event(void *opaque, uint32_t events)
{
	struct virtio_net *n = opaque;
	struct virtio_dev *vd = &n->vdev;

	(void)events;
	pthread_mutex_lock(&vd->lock);
	if (!n->live || vd->failed || vd->quiesced || !vd->vq[VIRTIO_NET_RXQ].active) {
		/* Not ours to read now: stop, the next activation/resume
		 * restarts polling. */
		poll_stop(n);
	} else {
		rx_run(n);
	}
	pthread_mutex_unlock(&vd->lock);
}

void virtio_net_rx_poll(struct virtio_net *n)
{
	struct virtio_dev *vd = &n->vdev;

	pthread_mutex_lock(&vd->lock);
	if (n->live && !vd->failed && !vd->quiesced && vd->vq[VIRTIO_NET_RXQ].active)
		rx_run(n);
	pthread_mutex_unlock(&vd->lock);
}

/* ---- device ops ---- */

static unsigned acked_offloads(const struct virtio_dev *vd)
{
	unsigned f = 0;

	if (has(vd, VIRTIO_NET_F_GUEST_CSUM)) {
		f |= NET_OFFLOAD_CSUM;
		if (has(vd, VIRTIO_NET_F_GUEST_TSO4))
			f |= NET_OFFLOAD_TSO4;
		if (has(vd, VIRTIO_NET_F_GUEST_TSO6))
			f |= NET_OFFLOAD_TSO6;
	}
	return f;
}

static void net_notify(struct virtio_dev *vd, unsigned qi)
{
	struct virtio_net *n = to_net(vd);

	if (!n->live)
		return;
	if (qi == VIRTIO_NET_TXQ) {
		if (n->tx_blocked)
			return; /* tx_ready() resumes */
		virtio_dev_process_queue(vd, qi, VIRTIO_NET_TX_BUDGET, VIRTIO_NET_TX_BUDGET,
					 net_tx);
		return;
	}
	if (qi != VIRTIO_NET_RXQ)
		return;
	/* The event thread: tell the tap what the guest acked, then (re)start
	 * receiving — new buffers may take the frame that was waiting. */
	if (n->offload_pending) {
		int r = net_backend_set_offload(&n->be, acked_offloads(vd));

		if (r)
			bh_warn("%s: %s: TUNSETOFFLOAD: %s", n->name, n->be.what, strerror(-r));
		n->offload_pending = false;
	}
	rx_run(n);
	if (!vd->failed && !n->pending)
		poll_start(n);
}

static int net_activate(struct virtio_dev *vd)
{
	struct virtio_net *n = to_net(vd);

	/* Offloads the device needs the driver to take together (§5.1.3.1). */
	if ((has(vd, VIRTIO_NET_F_GUEST_TSO4) || has(vd, VIRTIO_NET_F_GUEST_TSO6)) &&
	    !has(vd, VIRTIO_NET_F_GUEST_CSUM))
		return -EINVAL;
	if ((has(vd, VIRTIO_NET_F_HOST_TSO4) || has(vd, VIRTIO_NET_F_HOST_TSO6)) &&
	    !has(vd, VIRTIO_NET_F_CSUM))
		return -EINVAL;
	n->live = true;
	n->offload_pending = true;
	n->pending = 0;
	/* Receiving starts on the event thread (the RX notify path). */
	if (vd->defer_fd >= 0)
		virtio_dev_defer(vd, VIRTIO_NET_RXQ);
	if (vd->vq[VIRTIO_NET_TXQ].active)
		virtio_dev_defer(vd, VIRTIO_NET_TXQ);
	return 0;
}

static void net_reset(struct virtio_dev *vd)
{
	struct virtio_net *n = to_net(vd);

	/* Everything completes synchronously; the receive handler sees !live
	 * and takes itself off the loop. The waiting frame is dropped. */
	n->live = false;
	n->pending = 0;
	n->tx_blocked = false; /* tx_ready(), if still armed, finds nothing to do */
}

static void net_quiesce(struct virtio_dev *vd)
{
	/* The receive handler checks vd->quiesced; resume re-arms it through
	 * a held RX notification. */
	if (to_net(vd)->live)
		vd->held_mask |= 1u << VIRTIO_NET_RXQ;
	/* Chains given back to the ring while the backend was full: resume
	 * (or a restore) transmits them without waiting for a new kick. */
	if (to_net(vd)->tx_blocked)
		vd->held_mask |= 1u << VIRTIO_NET_TXQ;
}

static void net_destroy(struct virtio_dev *vd)
{
	struct virtio_net *n = to_net(vd);

	poll_stop(n); /* the loop has stopped: any thread may */
	wpoll_stop(n);
	virtio_dev_deinit(vd);
	net_backend_close(&n->be);
	if (n->p.tx_ctx_free)
		n->p.tx_ctx_free(n->p.tx_check_ctx);
	free(n);
}

/* State: see VIRTIO_NET_STATE_VERSION. Nothing is ever in flight: every
 * chain is completed (or un-popped) within one call. */
static void net_save(struct virtio_dev *vd, struct sbuf *out)
{
	struct virtio_net *n = to_net(vd);

	sbuf_put(out, n->p.mac, 6);
	sbuf_u8(out, n->live);
	sbuf_u16(out, n->p.mtu);
}

static int net_load(struct virtio_dev *vd, struct sreader *in, uint32_t version,
		    const struct virtio_dev_state_ctx *ctx, bool apply, char *err, size_t errlen)
{
	struct virtio_net *n = to_net(vd);
	uint8_t mac[6], zero[6] = { 0 };
	uint16_t mtu;
	bool live;
	int ret;

	if (version != VIRTIO_NET_STATE_VERSION) {
		snprintf(err, errlen, "%s: device state version %u unknown (this build: %u)",
			 n->name, version, VIRTIO_NET_STATE_VERSION);
		return -ENOTSUP;
	}
	sr_get(in, mac, 6);
	live = sr_bool(in);
	mtu = sr_u16(in);
	if (sr_finish(in)) {
		snprintf(err, errlen, "%s: device state truncated, too long or a flag not 0/1",
			 n->name);
		return -EINVAL;
	}
	if ((mac[0] & 1) || !memcmp(mac, zero, 6)) {
		snprintf(err, errlen, "%s: the saved MAC is multicast or zero", n->name);
		return -EINVAL;
	}
	if (mtu != n->p.mtu) {
		snprintf(err, errlen, "%s: the guest saw an MTU of %u, this NIC's is %u", n->name,
			 mtu, n->p.mtu);
		return -EINVAL;
	}
	if ((ret = virtio_dev_check_live(vd, ctx, live, err, errlen)))
		return ret;
	if (apply) {
		/* The NIC keeps its own MAC (the restore's: given, or random per
		 * VM), never the saved one: clones of one snapshot must differ.
		 * The device's config space and port security use it; a guest
		 * that read the old one at probe adopts it when told (README). */
		n->live = live;
		n->pending = 0;
		n->tx_blocked = false;
		if (live) {
			/* As activation does: the (new) backend learns the acked
			 * offloads and receiving starts, on the event thread when
			 * the device resumes (a transmit paused on a full backend
			 * was saved as a held TX notification: net_quiesce). */
			n->offload_pending = true;
			vd->held_mask |= 1u << VIRTIO_NET_RXQ;
		}
	}
	return 0;
}

static const struct virtio_dev_ops net_ops = {
	.features = net_features,
	.cfg_read = net_cfg_read,
	.activate = net_activate,
	.notify = net_notify,
	.reset = net_reset,
	.quiesce = net_quiesce,
	.destroy = net_destroy,
	.state_version = VIRTIO_NET_STATE_VERSION,
	.save = net_save,
	.load = net_load,
};

int virtio_net_create(struct virtio_net **out, const struct virtio_net_params *p,
		      struct net_backend *be, const struct guest_mem *mem, struct event_loop *el)
{
	struct virtio_net *n = calloc(1, sizeof(*n));
	int r;

	*out = NULL;
	if (!n) {
		net_backend_close(be);
		if (p->tx_ctx_free)
			p->tx_ctx_free(p->tx_check_ctx);
		return -ENOMEM;
	}
	n->be = *be;
	be->fd = be->wfd = -1;
	n->p = *p;
	if (!n->p.mtu)
		n->p.mtu = 1500;
	n->el = el;
	snprintf(n->name, sizeof(n->name), "virtio-net%u", p->index);
	r = virtio_dev_init(&n->vdev, &net_ops, n->name, VIRTIO_ID_NET, 2, VIRTIO_NET_QUEUE_MAX,
			    VIRTIO_NET_CFG_LEN, mem);
	if (r) {
		net_backend_close(&n->be);
		if (p->tx_ctx_free)
			p->tx_ctx_free(p->tx_check_ctx);
		free(n);
		return r;
	}
	if (el && (r = virtio_dev_defer_init(&n->vdev, el))) {
		net_destroy(&n->vdev);
		return r;
	}
	*out = n;
	return 0;
}

struct virtio_dev *virtio_net_dev(struct virtio_net *n)
{
	return &n->vdev;
}

void virtio_net_stats(struct virtio_net *n, struct virtio_net_stats *out)
{
	pthread_mutex_lock(&n->vdev.lock);
	*out = n->st;
	pthread_mutex_unlock(&n->vdev.lock);
}

struct virtio_net *virtio_net_of(struct virtio_dev *vd)
{
	return vd && vd->ops == &net_ops ? to_net(vd) : NULL;
}

void virtio_net_mac(struct virtio_net *n, uint8_t mac[6])
{
	memcpy(mac, n->p.mac, 6); /* fixed once created: no lock needed */
}
