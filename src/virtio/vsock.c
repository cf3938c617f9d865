/* vsock.c — virtio-vsock, the virtio side: configuration, the tx packet
 * machine (copy the header once, validate the copy, act), the rx scheduler
 * (control packets and credit-bounded data, round robin), the event queue,
 * reset and destroy. The host sockets are vsock_host.c's. See vsock.h. */
#include "virtio/vsock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "core/state_buf.h"
#include "virtio/vsock_priv.h"

static struct virtio_vsock *to_vs(struct virtio_dev *vd)
{
	return bh_container_of(vd, struct virtio_vsock, vdev);
}

static uint64_t vs_features(struct virtio_dev *vd)
{
	(void)vd; /* VIRTIO_VSOCK_F_STREAM is implied (legacy drivers know no bit) */
	return (1ULL << VIRTIO_RING_F_EVENT_IDX) | (1ULL << VIRTIO_RING_F_INDIRECT_DESC);
}

static void vs_cfg_read(struct virtio_dev *vd, uint32_t off, void *data, uint32_t len)
{
	uint64_t cid = to_vs(vd)->p.guest_cid; /* le on x86 */
	uint8_t cfg[VIRTIO_VSOCK_CFG_LEN];

	memcpy(cfg, &cid, sizeof(cfg));
	if (off <= sizeof(cfg) && len <= sizeof(cfg) - off)
		memcpy(data, cfg + off, len);
	else
		memset(data, 0xff, len);
}

/* An RST for ports no connection has (bounded; dropped beyond). */
static void rst_unknown(struct virtio_vsock *vs, const struct virtio_vsock_hdr *h)
{
	if (h->op == VSOCK_OP_RST)
		return; /* never answer an RST */
	if (vs->nrst == VSOCK_RST_QUEUE) {
		vs->st.rst_dropped++;
		return;
	}
	vs->rst[vs->nrst].host_port = h->dst_port;
	vs->rst[vs->nrst].guest_port = h->src_port;
	vs->nrst++;
}

static uint32_t conn_credit(const struct vsock_conn *c)
{
	uint32_t in_flight = c->rx_cnt - c->peer_fwd_cnt;

	/* A peer_fwd_cnt ahead of what we sent, or a shrunk buf_alloc: none. */
	return in_flight > c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

/* ---- rx: device → driver ---- */

static void hdr_fill(struct virtio_vsock *vs, struct virtio_vsock_hdr *h, uint32_t host_port,
		     uint32_t guest_port, uint16_t op)
{
	memset(h, 0, sizeof(*h));
	h->src_cid = VSOCK_HOST_CID;
	h->dst_cid = vs->p.guest_cid;
	h->src_port = host_port;
	h->dst_port = guest_port;
	h->type = VSOCK_TYPE_STREAM;
	h->op = op;
	h->buf_alloc = vs->p.buf_size;
}

/* What c would send next (0: nothing). */
static unsigned conn_next(const struct vsock_conn *c)
{
	if (c->pend & VP_RST)
		return VP_RST;
	if (c->pend & (VP_REQUEST | VP_RESPONSE))
		return c->pend & (VP_REQUEST | VP_RESPONSE);
	if (c->state != VC_OPEN)
		return 0;
	if (c->rx.len && conn_credit(c) && !c->guest_norecv)
		return 0x100; /* data */
	if (c->pend & VP_CREDIT)
		return VP_CREDIT;
	if (c->host_eof && !c->rx.len && !c->shut_sent)
		return VP_SHUTDOWN;
	return 0;
}

/* Write one packet for c into chain ch; returns bytes written (0: error). */
static uint32_t conn_emit(struct virtio_vsock *vs, struct vsock_conn *c, struct virtq_chain *ch,
			  unsigned what)
{
	struct virtq *q = &vs->vdev.vq[VSOCK_RXQ];
	struct virtio_vsock_hdr h;
	uint32_t len = 0;

	switch (what) {
	case VP_RST:
		hdr_fill(vs, &h, c->host_port, c->guest_port, VSOCK_OP_RST);
		vs->st.resets_sent++;
		break;
	case VP_REQUEST:
		hdr_fill(vs, &h, c->host_port, c->guest_port, VSOCK_OP_REQUEST);
		c->pend &= ~VP_REQUEST;
		break;
	case VP_RESPONSE:
		hdr_fill(vs, &h, c->host_port, c->guest_port, VSOCK_OP_RESPONSE);
		c->pend &= ~VP_RESPONSE;
		break;
	case VP_CREDIT:
		hdr_fill(vs, &h, c->host_port, c->guest_port, VSOCK_OP_CREDIT_UPDATE);
		break;
	case VP_SHUTDOWN:
		hdr_fill(vs, &h, c->host_port, c->guest_port, VSOCK_OP_SHUTDOWN);
		h.flags = VSOCK_SHUTDOWN_SEND;
		c->shut_sent = true;
		break;
	default: { /* data */
		uint32_t room = ch->in_bytes - VSOCK_HDR_LEN, credit = conn_credit(c), done = 0;

		len = c->rx.len;
		if (len > credit)
			len = credit;
		if (len > room)
			len = room;
		if (len > VSOCK_MAX_PKT)
			len = VSOCK_MAX_PKT;
		while (done < len) {
			uint32_t at = (c->rx.head + done) % vs->p.buf_size;
			uint32_t n = len - done;
			int64_t w;

			if (n > vs->p.buf_size - at)
				n = vs->p.buf_size - at;
			w = virtq_chain_write(q, ch, VSOCK_HDR_LEN + done, c->rx.buf + at, n);
			if (w != (int64_t)n)
				return 0;
			done += n;
		}
		c->rx.head = (c->rx.head + len) % vs->p.buf_size;
		c->rx.len -= len;
		c->rx_cnt += len;
		vs->st.rx_bytes += len;
		hdr_fill(vs, &h, c->host_port, c->guest_port, VSOCK_OP_RW);
		h.len = len;
		break;
	}
	}
	h.fwd_cnt = c->fwd_cnt;
	c->fwd_sent = c->fwd_cnt;
	c->pend &= ~VP_CREDIT;
	if (virtq_chain_write(q, ch, 0, &h, VSOCK_HDR_LEN) != VSOCK_HDR_LEN)
		return 0;
	return VSOCK_HDR_LEN + len;
}

static bool rx_ready(struct virtio_vsock *vs)
{
	struct virtio_dev *vd = &vs->vdev;

	return vs->live && !vs->teardown && !vd->failed && !vd->quiesced && vd->vq[VSOCK_RXQ].active;
}

/* Post the transport-reset event if one is pending and there is a buffer. */
static void event_flush(struct virtio_vsock *vs)
{
	struct virtio_dev *vd = &vs->vdev;
	struct virtq *q = &vd->vq[VSOCK_EVQ];
	struct virtq_chain ch;
	uint32_t id = VSOCK_EVENT_TRANSPORT_RESET;
	int r;

	if (!vs->event_pending || !vs->live || vd->failed || vd->quiesced || !q->active)
		return;
	r = virtq_pop(q, &ch);
	if (r < 0)
		virtio_dev_fail(vd, "malformed event queue");
	if (r <= 0)
		return;
	vs->event_pending = false;
	if (virtq_chain_write(q, &ch, 0, &id, sizeof(id)) != (int64_t)sizeof(id)) {
		vs->st.malformed++;
		if (virtq_push(q, ch.head, 0))
			bh_warn("%s: completing head %u: not in flight", vd->name, ch.head);
	} else if (virtq_push(q, ch.head, sizeof(id))) {
		bh_warn("%s: completing head %u: not in flight", vd->name, ch.head);
	}
	virtio_dev_queue_done(vd, VSOCK_EVQ);
}

void vsock_rx_flush(struct virtio_vsock *vs)
{
	struct virtio_dev *vd = &vs->vdev;
	struct virtq *q = &vd->vq[VSOCK_RXQ];
	unsigned budget = q->size, sent = 0;
	bool more = false;

	if (!rx_ready(vs))
		return;
	while (!vd->failed) {
		struct vsock_conn *c = NULL;
		unsigned what = 0, ci = 0;
		struct virtq_chain ch;
		uint32_t wrote = 0;
		int r;

		if (!vs->nrst) {
			for (unsigned k = 0; k < vs->n && !what; k++) {
				ci = (vs->rr + k) % vs->n;
				what = conn_next(vs->c[ci]);
			}
			if (!what)
				break;
			c = vs->c[ci];
		}
		if (sent == budget) {
			more = true;
			break;
		}
		r = virtq_pop(q, &ch);
		if (r < 0) {
			virtio_dev_fail(vd, "malformed receive queue");
			return;
		}
		if (r == 0)
			break; /* no buffers: the driver's RX kick brings us back */
		sent++;
		if (ch.in_bytes < VSOCK_HDR_LEN || ch.nout) {
			vs->st.malformed++; /* too small to hold a header: returned empty */
		} else if (!c) {
			struct virtio_vsock_hdr h;

			vs->nrst--;
			hdr_fill(vs, &h, vs->rst[vs->nrst].host_port, vs->rst[vs->nrst].guest_port,
				 VSOCK_OP_RST);
			vs->st.resets_sent++;
			if (virtq_chain_write(q, &ch, 0, &h, VSOCK_HDR_LEN) == VSOCK_HDR_LEN)
				wrote = VSOCK_HDR_LEN;
		} else {
			wrote = conn_emit(vs, c, &ch, what);
			vs->rr = ci + 1;
		}
		if (virtq_push(q, ch.head, wrote))
			bh_warn("%s: completing head %u: not in flight", vd->name, ch.head);
		if (c && what == VP_RST)
			vsock_conn_free(vs, c);
		else if (c)
			vsock_conn_pump(vs, c); /* room in rx: read more from the socket */
	}
	if (more)
		virtio_dev_defer(vd, VSOCK_RXQ);
	virtio_dev_queue_done(vd, VSOCK_RXQ);
}

/* ---- tx: driver → device ---- */

static void rw_in(struct virtio_vsock *vs, struct vsock_conn *c, struct virtq_chain *ch,
		  uint32_t len)
{
	struct virtq *q = &vs->vdev.vq[VSOCK_TXQ];
	uint32_t done = 0;

	if (c->state != VC_OPEN || c->guest_eof || len > vsock_ring_free(vs, &c->tx)) {
		/* Beyond the credit we gave (forged), or data after its own
		 * SHUTDOWN: the connection cannot be trusted any more. */
		vs->st.credit_violations++;
		bh_dbg_guest("%s: guest port %u sent %u bytes beyond its credit", vs->vdev.name,
			     c->guest_port, len);
		vsock_conn_reset(vs, c);
		return;
	}
	while (done < len) {
		uint32_t at = (c->tx.head + c->tx.len) % vs->p.buf_size;
		uint32_t n = len - done;
		int64_t got;

		if (n > vs->p.buf_size - at)
			n = vs->p.buf_size - at;
		got = virtq_chain_read(q, ch, VSOCK_HDR_LEN + done, c->tx.buf + at, n);
		if (got != (int64_t)n) {
			vs->st.malformed++;
			vsock_conn_reset(vs, c);
			return;
		}
		c->tx.len += n;
		done += n;
	}
	vs->st.tx_bytes += len;
	vsock_conn_pump(vs, c);
}

static void guest_request(struct virtio_vsock *vs, const struct virtio_vsock_hdr *h)
{
	struct vsock_conn *c = vsock_conn_find(vs, h->dst_port, h->src_port);

	vs->st.guest_requests++;
	if (c) { /* port reuse while connected: both are void */
		vsock_conn_reset(vs, c);
		return;
	}
	if (vs->p.broker_fd < 0 || !(c = vsock_conn_new(vs, -1, VC_BROKER))) {
		vs->st.guest_refused++;
		rst_unknown(vs, h);
		return;
	}
	c->host_port = h->dst_port;
	c->guest_port = h->src_port;
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	c->deadline_ms = vsock_now_ms() + VSOCK_RESPONSE_DEADLINE_MS;
	if (vsock_broker_ask(vs, c, h->dst_port)) {
		vs->st.guest_refused++;
		vsock_conn_free(vs, c);
		rst_unknown(vs, h);
	}
}

static void packet(struct virtio_vsock *vs, const struct virtio_vsock_hdr *h, struct virtq_chain *ch)
{
	struct vsock_conn *c;

	if (h->type != VSOCK_TYPE_STREAM) {
		rst_unknown(vs, h);
		return;
	}
	if (h->op == VSOCK_OP_REQUEST) {
		guest_request(vs, h);
		return;
	}
	c = vsock_conn_find(vs, h->dst_port, h->src_port);
	if (!c || (c->pend & VP_RST)) {
		if (!c)
			rst_unknown(vs, h);
		return;
	}
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	switch (h->op) {
	case VSOCK_OP_RESPONSE:
		if (c->state != VC_CONNECTING || (c->pend & VP_REQUEST)) {
			vsock_conn_reset(vs, c);
			break;
		}
		c->state = VC_OPEN;
		c->deadline_ms = 0;
		vs->st.established++;
		{
			char ok[24];
			int n = snprintf(ok, sizeof(ok), "OK %u\n", c->host_port);

			/* A fresh socket has room for these few bytes; if not, the
			 * client is gone. Ahead of any guest data (tx is empty). */
			if (send(c->fd, ok, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) != n) {
				vsock_conn_reset(vs, c);
				break;
			}
		}
		vsock_conn_pump(vs, c);
		break;
	case VSOCK_OP_RST:
		vsock_conn_free(vs, c);
		break;
	case VSOCK_OP_SHUTDOWN:
		if (h->flags & VSOCK_SHUTDOWN_SEND)
			c->guest_eof = true;
		if (h->flags & VSOCK_SHUTDOWN_RCV)
			c->guest_norecv = true;
		if (c->state != VC_OPEN) {
			vsock_conn_reset(vs, c);
			break;
		}
		vsock_conn_pump(vs, c);
		break;
	case VSOCK_OP_RW:
		rw_in(vs, c, ch, h->len);
		break;
	case VSOCK_OP_CREDIT_UPDATE:
		vsock_conn_update(vs, c); /* the new credit may let data flow */
		break;
	case VSOCK_OP_CREDIT_REQUEST:
		c->pend |= VP_CREDIT;
		break;
	default:
		vs->st.malformed++;
		vsock_conn_reset(vs, c);
		break;
	}
}

static uint64_t tx_handle(struct virtio_dev *vd, struct virtq_chain *ch)
{
	struct virtio_vsock *vs = to_vs(vd);
	struct virtq *q = &vd->vq[VSOCK_TXQ];
	struct virtio_vsock_hdr h;

	/* Copy once, validate the copy (architecture rule 2). */
	if (ch->out_bytes < VSOCK_HDR_LEN ||
	    virtq_chain_read(q, ch, 0, &h, VSOCK_HDR_LEN) != VSOCK_HDR_LEN) {
		vs->st.malformed++;
	} else if (h.src_cid != vs->p.guest_cid || h.len > VSOCK_MAX_PKT ||
		   h.len > ch->out_bytes - VSOCK_HDR_LEN ||
		   (h.op != VSOCK_OP_RW && h.len != 0)) {
		/* Spoofed source, or a length the chain does not carry. */
		vs->st.malformed++;
		if (h.src_cid == vs->p.guest_cid) {
			struct vsock_conn *c = vsock_conn_find(vs, h.dst_port, h.src_port);

			if (c && !(c->pend & VP_RST))
				vsock_conn_reset(vs, c);
			else if (!c)
				rst_unknown(vs, &h);
		}
	} else if (h.dst_cid != VSOCK_HOST_CID) {
		rst_unknown(vs, &h); /* no other peer is reachable */
	} else {
		packet(vs, &h, ch);
	}
	if (virtq_push(q, ch->head, 0))
		bh_warn("%s: completing head %u: not in flight", vd->name, ch->head);
	return ch->out_bytes;
}

static void vs_notify(struct virtio_dev *vd, unsigned q)
{
	struct virtio_vsock *vs = to_vs(vd);

	if (!vs->live || vs->teardown)
		return;
	if (q == VSOCK_TXQ)
		virtio_dev_process_queue(vd, VSOCK_TXQ, VSOCK_TX_BUDGET_CHAINS, 8u << 20, tx_handle);
	event_flush(vs); /* a transport reset owed since a restore */
	vsock_rx_flush(vs);
	vsock_timer_update(vs);
}

static int vs_activate(struct virtio_dev *vd)
{
	struct virtio_vsock *vs = to_vs(vd);

	vs->live = true;
	/* A vCPU thread (DRIVER_OK): the sockets are the event thread's. */
	if (vd->defer_fd >= 0) {
		virtio_dev_defer(vd, VSOCK_TXQ);
		virtio_dev_defer(vd, VSOCK_RXQ);
		return 0;
	}
	if (vd->vq[VSOCK_TXQ].active)
		vs_notify(vd, VSOCK_TXQ);
	vsock_rx_flush(vs);
	return 0;
}

static void teardown_all(struct virtio_vsock *vs)
{
	while (vs->n)
		vsock_conn_free(vs, vs->c[vs->n - 1]);
	vs->nrst = 0;
	vs->teardown = false;
	vsock_timer_update(vs);
}

static void vs_reset_op(struct virtio_dev *vd)
{
	struct virtio_vsock *vs = to_vs(vd);
	uint64_t one = 1;

	vs->live = false;
	vs->event_pending = false;
	if (!vs->el) {
		teardown_all(vs); /* no event thread: tests, the fuzzer */
		return;
	}
	/* Possibly a vCPU thread: the event thread closes the sockets. */
	vs->teardown = true;
	if (write(vs->kick_fd, &one, sizeof(one)) < 0) {
		/* saturated: a wake-up is pending anyway */
	}
}

/* The event thread's side of the kick (vsock_host.c registers it). */
void vsock_kick_event(void *opaque, uint32_t events);
void vsock_kick_event(void *opaque, uint32_t events)
{
	struct virtio_vsock *vs = opaque;
	uint64_t v;

	(void)events;
	if (read(vs->kick_fd, &v, sizeof(v)) < 0) {
		/* spurious */
	}
	pthread_mutex_lock(&vs->vdev.lock);
	if (vs->teardown)
		teardown_all(vs);
	pthread_mutex_unlock(&vs->vdev.lock);
}

static void vs_quiesce(struct virtio_dev *vd)
{
	struct virtio_vsock *vs = to_vs(vd);

	vs->host_paused = true;
	vsock_host_watch(vs, false);
	for (unsigned i = 0; i < vs->n; i++)
		vsock_conn_update(vs, vs->c[i]);
}

void virtio_vsock_host_resume(struct virtio_vsock *vs)
{
	pthread_mutex_lock(&vs->vdev.lock);
	if (vs->host_paused) {
		vs->host_paused = false;
		vsock_host_watch(vs, true);
		for (unsigned i = 0; i < vs->n; i++)
			vsock_conn_update(vs, vs->c[i]);
		event_flush(vs);
		vsock_rx_flush(vs);
	}
	pthread_mutex_unlock(&vs->vdev.lock);
}

void virtio_vsock_transport_reset(struct virtio_vsock *vs)
{
	pthread_mutex_lock(&vs->vdev.lock);
	teardown_all(vs);
	vs->event_pending = true;
	event_flush(vs);
	pthread_mutex_unlock(&vs->vdev.lock);
}

static void vs_destroy(struct virtio_dev *vd)
{
	struct virtio_vsock *vs = to_vs(vd);

	while (vs->n)
		vsock_conn_free(vs, vs->c[vs->n - 1]);
	vsock_host_close(vs);
	virtio_dev_deinit(vd);
	free(vs);
}

/* State (VIRTIO_VSOCK_STATE_VERSION): live u8, guest_cid u64, next_port u32,
 * next_id u32. Connections are host sockets and are not saved: a restored
 * VM starts with none and the guest is told by the transport-reset event
 * (its sockets then reset, and it re-reads its CID: the restored VM's own);
 * the listener is this VM's own. */
static void vs_save(struct virtio_dev *vd, struct sbuf *out)
{
	struct virtio_vsock *vs = to_vs(vd);

	sbuf_u8(out, vs->live);
	sbuf_u64(out, vs->p.guest_cid);
	sbuf_u32(out, vs->next_port);
	sbuf_u32(out, vs->next_id);
}

static int vs_load(struct virtio_dev *vd, struct sreader *in, uint32_t version,
		   const struct virtio_dev_state_ctx *ctx, bool apply, char *err, size_t errlen)
{
	struct virtio_vsock *vs = to_vs(vd);
	uint64_t cid;
	uint32_t next_port, next_id;
	bool live;
	int ret;

	if (version != VIRTIO_VSOCK_STATE_VERSION) {
		snprintf(err, errlen, "%s: device state version %u unknown (this build: %u)",
			 vd->name, version, VIRTIO_VSOCK_STATE_VERSION);
		return -ENOTSUP;
	}
	live = sr_bool(in);
	cid = sr_u64(in);
	next_port = sr_u32(in);
	next_id = sr_u32(in);
	if (sr_finish(in)) {
		snprintf(err, errlen, "%s: device state is not 17 bytes (live, cid, two counters)",
			 vd->name);
		return -EINVAL;
	}
	/* The saved CID is the snapshot's VM's; this VM keeps its own (a clone
	 * gets one of its own). A live driver re-reads it from config space on
	 * the transport-reset event the resume posts (Linux:
	 * virtio_vsock_update_guest_cid); one not yet started reads it at probe.
	 * The saved one must still be a CID a guest could have had. */
	if (cid < 3 || cid > 0xfffffffeu) {
		snprintf(err, errlen, "%s: the snapshot's guest CID %llu is not a guest CID "
			 "(3 to 4294967294)", vd->name, (unsigned long long)cid);
		return -EINVAL;
	}
	if ((ret = virtio_dev_check_live(vd, ctx, live, err, errlen)))
		return ret;
	if (apply) {
		teardown_all(vs);
		vs->live = live;
		vs->next_port = next_port;
		vs->next_id = next_id;
		vs->event_pending = live; /* the guest's connections are gone */
	}
	return 0;
}

static const struct virtio_dev_ops vs_ops = {
	.state_version = VIRTIO_VSOCK_STATE_VERSION,
	.save = vs_save,
	.load = vs_load,
	.features = vs_features,
	.cfg_read = vs_cfg_read,
	.activate = vs_activate,
	.notify = vs_notify,
	.reset = vs_reset_op,
	.quiesce = vs_quiesce,
	.destroy = vs_destroy,
};

int virtio_vsock_create(struct virtio_vsock **out, const struct guest_mem *mem,
			struct event_loop *el, const struct virtio_vsock_params *p)
{
	struct virtio_vsock *vs;
	int r;

	*out = NULL;
	if (p->guest_cid < 3 || p->guest_cid > 0xfffffffeu || p->max_conns < 1 ||
	    p->max_conns > VSOCK_MAX_CONNS_LIMIT || p->buf_size < 4096 ||
	    p->buf_size > (1u << 20) || (!el && (p->listen_fd >= 0 || p->broker_fd >= 0))) {
		r = -EINVAL;
		goto fail_fds;
	}
	vs = calloc(1, sizeof(*vs));
	if (!vs) {
		r = -ENOMEM;
		goto fail_fds;
	}
	vs->p = *p;
	vs->el = el;
	vs->kick_fd = vs->timer_fd = -1;
	r = virtio_dev_init(&vs->vdev, &vs_ops, "virtio-vsock", VIRTIO_ID_VSOCK, 3,
			    VIRTIO_VSOCK_QUEUE_MAX, VIRTIO_VSOCK_CFG_LEN, mem);
	if (r) {
		free(vs);
		goto fail_fds;
	}
	if (el && ((r = virtio_dev_defer_init(&vs->vdev, el)) || (r = vsock_host_init(vs)))) {
		vs_destroy(&vs->vdev); /* closes the fds */
		return r;
	}
	*out = vs;
	return 0;
fail_fds:
	if (p->listen_fd >= 0)
		close(p->listen_fd);
	if (p->broker_fd >= 0)
		close(p->broker_fd);
	return r;
}

struct virtio_dev *virtio_vsock_dev(struct virtio_vsock *vs)
{
	return &vs->vdev;
}

struct virtio_vsock *virtio_vsock_of(struct virtio_dev *vd)
{
	return to_vs(vd);
}

int virtio_vsock_host_connect(struct virtio_vsock *vs, int fd, uint32_t port)
{
	struct vsock_conn *c;

	pthread_mutex_lock(&vs->vdev.lock);
	c = vsock_conn_new(vs, fd, VC_CONNECTING);
	if (c) {
		vs->st.accepted++;
		vsock_conn_start_request(vs, c, port);
		vsock_rx_flush(vs);
		vsock_timer_update(vs);
	} else {
		vs->st.refused_cap++;
	}
	pthread_mutex_unlock(&vs->vdev.lock);
	if (!c) {
		close(fd);
		return -ENOSPC;
	}
	return 0;
}

void virtio_vsock_get_stats(struct virtio_vsock *vs, struct virtio_vsock_stats *st)
{
	pthread_mutex_lock(&vs->vdev.lock);
	*st = vs->st;
	pthread_mutex_unlock(&vs->vdev.lock);
}

void virtio_vsock_tick(struct virtio_vsock *vs, uint64_t now_ms)
{
	pthread_mutex_lock(&vs->vdev.lock);
	for (unsigned i = vs->n; i-- > 0;) {
		struct vsock_conn *c = vs->c[i];

		if (!c->deadline_ms || c->deadline_ms > now_ms)
			continue;
		vs->st.deadline_closes++;
		c->deadline_ms = 0;
		if (c->state == VC_LINE || (c->state == VC_CONNECTING && (c->pend & VP_REQUEST)))
			vsock_conn_free(vs, c); /* the guest never saw it */
		else
			vsock_conn_reset(vs, c);
	}
	vsock_rx_flush(vs);
	vsock_timer_update(vs);
	pthread_mutex_unlock(&vs->vdev.lock);
}

uint64_t virtio_vsock_cid(struct virtio_vsock *vs)
{
	return vs->p.guest_cid; /* fixed once created */
}
