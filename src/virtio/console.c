/* console.c — virtio-console, single port. See console.h. */
#include "virtio/console.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

#define RXQ 0
#define TXQ 1

struct virtio_console {
	struct virtio_dev vdev;
	const struct char_sink *sink;
	virtio_console_rx_room_fn rx_room;
	void *rx_room_opaque;
	bool live;        /* DRIVER_OK seen, not reset since */
	bool rx_starved;  /* input was refused since the guest last posted buffers */
	struct virtio_console_stats st;
	uint8_t buf[4096];
};

static struct virtio_console *to_vc(struct virtio_dev *vd)
{
	return bh_container_of(vd, struct virtio_console, vdev);
}

static uint64_t con_features(struct virtio_dev *vd)
{
	(void)vd;
	return (1ULL << VIRTIO_RING_F_EVENT_IDX) | (1ULL << VIRTIO_RING_F_INDIRECT_DESC);
}

/* cols = 0, rows = 0 (F_SIZE not offered), max_nr_ports = 1 */
static const uint8_t con_cfg[VIRTIO_CONSOLE_CFG_LEN] = { 0, 0, 0, 0, 1, 0, 0, 0 };

static void con_cfg_read(struct virtio_dev *vd, uint32_t off, void *data, uint32_t len)
{
	const uint8_t *cfg = con_cfg;

	(void)vd;
	if (off <= sizeof(con_cfg) && len <= sizeof(con_cfg) - off)
		memcpy(data, cfg + off, len);
	else
		memset(data, 0, len);
}

static void con_cfg_write(struct virtio_dev *vd, uint32_t off, const void *data, uint32_t len)
{
	(void)vd; /* read-only (EMERG_WRITE is not offered) */
	(void)off;
	(void)data;
	(void)len;
}

static void room_signal(struct virtio_console *vc)
{
	if (vc->rx_starved && vc->rx_room) {
		vc->rx_starved = false;
		vc->rx_room(vc->rx_room_opaque);
	}
}

/* Transmit one chain: guest output to the sink (at most
 * VIRTIO_CONSOLE_TX_CHAIN_MAX bytes of it; the rest is counted as dropped). */
static uint64_t tx_handle(struct virtio_dev *vd, struct virtq_chain *c)
{
	struct virtio_console *vc = to_vc(vd);
	struct virtq *q = &vd->vq[TXQ];
	uint32_t take, off = 0;

	take = c->out_bytes < VIRTIO_CONSOLE_TX_CHAIN_MAX ? c->out_bytes
							 : VIRTIO_CONSOLE_TX_CHAIN_MAX;
	vc->st.tx_dropped += c->out_bytes - take;
	while (off < take) {
		size_t n = take - off < sizeof(vc->buf) ? take - off : sizeof(vc->buf);
		int64_t got = virtq_chain_read(q, c, off, vc->buf, n);

		if (got <= 0)
			break;
		char_sink_write(vc->sink, vc->buf, (size_t)got);
		off += (uint32_t)got;
	}
	vc->st.tx_bytes += off;
	if (virtq_push(q, c->head, 0))
		bh_warn("%s: completing head %u: not in flight", vd->name, c->head);
	return off;
}

/* Transmit within the per-notify budget. */
static void tx_run(struct virtio_console *vc)
{
	virtio_dev_process_queue(&vc->vdev, TXQ, VIRTIO_CONSOLE_TX_BUDGET_CHAINS,
				 VIRTIO_CONSOLE_TX_BUDGET_BYTES, tx_handle);
}

static void con_notify(struct virtio_dev *vd, unsigned q)
{
	struct virtio_console *vc = to_vc(vd);

	if (vd->failed)
		return;
	if (q == RXQ)
		room_signal(vc); /* the guest posted receive buffers */
	else if (q == TXQ && vc->live && vd->vq[TXQ].active)
		tx_run(vc);
}

static int con_activate(struct virtio_dev *vd)
{
	struct virtio_console *vc = to_vc(vd);

	vc->live = true;
	/* Kicks that came before DRIVER_OK. */
	room_signal(vc);
	if (vd->vq[TXQ].active)
		tx_run(vc);
	return 0;
}

static void con_reset(struct virtio_dev *vd)
{
	struct virtio_console *vc = to_vc(vd);

	vc->live = false; /* nothing is in flight: every chain is completed at once */
}

static void con_destroy(struct virtio_dev *vd)
{
	virtio_dev_deinit(vd);
	free(to_vc(vd));
}

/* State: see VIRTIO_CONSOLE_STATE_VERSION. Every chain is completed as it
 * is popped: nothing is ever in flight. */
static void con_save(struct virtio_dev *vd, struct sbuf *out)
{
	struct virtio_console *vc = to_vc(vd);

	sbuf_u8(out, vc->live);
	sbuf_u8(out, vc->rx_starved);
	sbuf_put(out, con_cfg, sizeof(con_cfg));
}

static int con_load(struct virtio_dev *vd, struct sreader *in, uint32_t version,
		    const struct virtio_dev_state_ctx *ctx, bool apply, char *err, size_t errlen)
{
	struct virtio_console *vc = to_vc(vd);
	uint8_t cfg[VIRTIO_CONSOLE_CFG_LEN];
	bool live, starved;
	int ret;

	if (version != VIRTIO_CONSOLE_STATE_VERSION) {
		snprintf(err, errlen, "%s: device state version %u unknown (this build: %u)",
			 vd->name, version, VIRTIO_CONSOLE_STATE_VERSION);
		return -ENOTSUP;
	}
	live = sr_bool(in);
	starved = sr_bool(in);
	sr_get(in, cfg, sizeof(cfg));
	if (sr_finish(in)) {
		snprintf(err, errlen, "%s: device state truncated, too long or a flag not 0/1",
			 vd->name);
		return -EINVAL;
	}
	if (memcmp(cfg, con_cfg, sizeof(cfg))) {
		snprintf(err, errlen, "%s: configuration space (cols, rows, max_nr_ports) "
			 "differs from this build's", vd->name);
		return -EINVAL;
	}
	if ((ret = virtio_dev_check_live(vd, ctx, live, err, errlen)))
		return ret;
	if (apply) {
		vc->live = live;
		vc->rx_starved = starved;
	}
	return 0;
}

static const struct virtio_dev_ops con_ops = {
	.features = con_features,
	.cfg_read = con_cfg_read,
	.cfg_write = con_cfg_write,
	.activate = con_activate,
	.notify = con_notify,
	.reset = con_reset,
	.destroy = con_destroy,
	.state_version = VIRTIO_CONSOLE_STATE_VERSION,
	.save = con_save,
	.load = con_load,
};

size_t virtio_console_input(struct virtio_console *vc, const uint8_t *buf, size_t len)
{
	struct virtio_dev *vd = &vc->vdev;
	struct virtq *q = &vd->vq[RXQ];
	struct virtq_chain c;
	size_t done = 0;
	unsigned chains = 0;
	bool pushed = false;

	pthread_mutex_lock(&vd->lock);
	/* At most one ring's worth of chains per call: a driver re-posting
	 * useless (readable-only) buffers cannot keep us here. */
	while (done < len && chains++ < q->size) {
		int64_t n;
		int r = 0;

		if (vc->live && !vd->failed && q->active)
			r = virtq_pop(q, &c);
		if (r < 0)
			virtio_dev_fail(vd, "malformed receive queue");
		if (r <= 0)
			break;
		n = virtq_chain_write(q, &c, 0, buf + done,
				      len - done < c.in_bytes ? len - done : c.in_bytes);
		if (n < 0)
			n = 0;
		done += (size_t)n;
		if (virtq_push(q, c.head, (uint32_t)n))
			bh_warn("%s: completing head %u: not in flight", vd->name, c.head);
		pushed = true;
	}
	if (done < len)
		vc->rx_starved = true; /* signal room when the guest posts more */
	vc->st.rx_bytes += done;
	if (pushed)
		virtio_dev_queue_done(vd, RXQ);
	pthread_mutex_unlock(&vd->lock);
	return done;
}

bool virtio_console_rx_has_room(struct virtio_console *vc)
{
	struct virtio_dev *vd = &vc->vdev;
	struct virtq *q = &vd->vq[RXQ];
	bool room = false;

	pthread_mutex_lock(&vd->lock);
	if (vc->live && !vd->failed && q->active)
		room = virtq_has_avail(q);
	pthread_mutex_unlock(&vd->lock);
	return room;
}

int virtio_console_create(struct virtio_console **out, const struct guest_mem *mem,
			  const struct char_sink *sink, struct event_loop *el)
{
	struct virtio_console *vc = calloc(1, sizeof(*vc));
	int r;

	*out = NULL;
	if (!vc)
		return -ENOMEM;
	r = virtio_dev_init(&vc->vdev, &con_ops, "virtio-console", VIRTIO_ID_CONSOLE, 2,
			    VIRTIO_CONSOLE_QUEUE_MAX, VIRTIO_CONSOLE_CFG_LEN, mem);
	if (r) {
		free(vc);
		return r;
	}
	vc->sink = sink;
	if (el) {
		r = virtio_dev_defer_init(&vc->vdev, el);
		if (r) {
			con_destroy(&vc->vdev);
			return r;
		}
	}
	*out = vc;
	return 0;
}

struct virtio_dev *virtio_console_dev(struct virtio_console *vc)
{
	return &vc->vdev;
}

void virtio_console_set_rx_notify(struct virtio_console *vc, virtio_console_rx_room_fn fn,
				  void *opaque)
{
	vc->rx_room = fn;
	vc->rx_room_opaque = opaque;
}

void virtio_console_get_stats(struct virtio_console *vc, struct virtio_console_stats *st)
{
	pthread_mutex_lock(&vc->vdev.lock);
	*st = vc->st;
	pthread_mutex_unlock(&vc->vdev.lock);
}
