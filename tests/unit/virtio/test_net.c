/* test_net.c — virtio-net over a real switch-port backend (a SOCK_SEQPACKET
 * socketpair: the test holds the switch's end): the configuration space, the
 * 12-byte header both ways, transmit checks on host copies (short, oversize,
 * bad header, spoofed MAC, ethertype: dropped and counted, nothing reaches
 * the peer), receive into one buffer and into mergeable buffers, the
 * checksum completed for a guest without GUEST_CSUM, GSO refused when not
 * acked, buffers too small, backpressure with no buffers, hostile chains. */
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "vq_fake.h"
#include "core/state_buf.h"
#include "virtio/net.h"

#define RAM (64ULL << 20)
#define RXD 0x10000ULL
#define RXA 0x20000ULL
#define RXU 0x30000ULL
#define TXD 0x40000ULL
#define TXA 0x50000ULL
#define TXU 0x60000ULL
#define TXBUF 0x100000ULL
#define RXBUF 0x200000ULL

static const uint8_t MAC[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };

#define BASE_FEATURES                                                                    \
	((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_NET_F_MAC) |                       \
	 (1ULL << VIRTIO_NET_F_STATUS) | (1ULL << VIRTIO_NET_F_MTU))

struct fx {
	bool rewrite;      /* the check plays a second vCPU rewriting the buffer */
	unsigned checks;
	bool saw_zero_tail;
	struct guest_mem gm;
	struct fake_ring r[2];
	struct fake_transport t;
	struct virtio_net *n;
	struct virtio_dev *vd;
	int peer;  /* the switch's end */
	int devfd; /* the device's end (owned by the device) */
};

/* A port-security check as the tap mode plugs in (src/net's, in dev_net.c):
 * source MAC must be MAC (reason 3), ethertype IPv4/IPv6/ARP (reason 2). */
static int check(void *ctx, const uint8_t *mac, const uint8_t *fr, size_t head_len, size_t flen)
{
	struct fx *f = ctx;

	assert_memory_equal(mac, MAC, 6);
	uint16_t type = (uint16_t)(fr[12] << 8 | fr[13]);

	f->checks++;
	assert_true(head_len <= VIRTIO_NET_TX_COPY && head_len <= flen);
	if (flen > head_len) {
		f->saw_zero_tail = true;
		for (size_t i = head_len; i < flen; i++)
			if (fr[i])
				f->saw_zero_tail = false;
	}
	if (f->rewrite) {
		/* Between the check and the send, the guest rewrites the source
		 * MAC and the first payload bytes (header at TXBUF, frame after). */
		uint8_t evil[40];

		memset(evil, 0xee, sizeof(evil));
		assert_int_equal(gmem_write(&f->gm, TXBUF + NET_PORT_HDR_LEN + 6, evil,
					    sizeof(evil)), 0);
	}
	if (memcmp(fr + 6, MAC, 6))
		return 3;
	if (type != 0x0800 && type != 0x86dd && type != 0x0806)
		return 2;
	return 0;
}

static int setup_with(void **state, bool port_security)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct virtio_net_params p = { .mtu = 1500 };
	struct net_backend be;
	char err[200];
	int sv[2];

	if (!f || gmem_create(&f->gm, RAM))
		return -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return -1;
	if (net_backend_adopt_port(&be, sv[0], "sw0", err, sizeof(err)))
		return -1;
	f->peer = sv[1];
	f->devfd = sv[0];
	memcpy(p.mac, MAC, 6);
	if (port_security) {
		p.tx_check = check;
		p.tx_check_ctx = f;
	}
	if (virtio_net_create(&f->n, &p, &be, &f->gm, NULL))
		return -1;
	f->vd = virtio_net_dev(f->n);
	ft_attach(&f->t, f->vd);
	fr_init(&f->r[0], &f->gm, 64, RXD, RXA, RXU);
	fr_init(&f->r[1], &f->gm, 64, TXD, TXA, TXU);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_with(state, false);
}

static int setup_secure(void **state)
{
	return setup_with(state, true);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	f->vd->ops->destroy(f->vd);
	close(f->peer);
	gmem_destroy(&f->gm);
	free(f);
	return 0;
}

static struct virtio_net_stats stats(struct fx *f)
{
	struct virtio_net_stats s;

	virtio_net_stats(f->n, &s);
	return s;
}

/* An Ethernet frame from src, `len` bytes, ethertype IPv4, payload pattern. */
static void frame(uint8_t *b, size_t len, const uint8_t *src)
{
	memset(b, 0xff, 6);
	memcpy(b + 6, src, 6);
	b[12] = 0x08;
	b[13] = 0x00;
	for (size_t i = 14; i < len; i++)
		b[i] = (uint8_t)(i * 7);
}

/* Send hdr + frame from the guest: one readable chain of `segs` descriptors. */
static void tx(struct fx *f, uint16_t head, const struct net_port_hdr *h, const uint8_t *fr,
	       size_t flen, unsigned segs)
{
	uint8_t buf[4096];
	size_t total = NET_PORT_HDR_LEN + flen, off = 0;

	assert_true(total <= sizeof(buf));
	memcpy(buf, h, NET_PORT_HDR_LEN);
	memcpy(buf + NET_PORT_HDR_LEN, fr, flen);
	assert_int_equal(gmem_write(&f->gm, TXBUF, buf, total), 0);
	for (unsigned i = 0; i < segs; i++) {
		size_t len = i + 1 < segs ? total / segs : total - off;

		fr_desc(&f->r[1], head + i, TXBUF + off, (uint32_t)len,
			i + 1 < segs ? VIRTQ_DESC_F_NEXT : 0, (uint16_t)(head + i + 1));
		off += len;
	}
	fr_post(&f->r[1], head);
	ft_notify(f->vd, VIRTIO_NET_TXQ);
}

/* What the switch got: the message length, or 0 if nothing. */
static ssize_t peer_recv(struct fx *f, uint8_t *buf, size_t len)
{
	ssize_t r = recv(f->peer, buf, len, MSG_DONTWAIT);

	return r < 0 ? 0 : r;
}

static void test_config(void **state)
{
	struct fx *f = *state;
	uint8_t cfg[VIRTIO_NET_CFG_LEN];
	uint16_t v;
	uint64_t feat = f->vd->ops->features(f->vd);

	assert_int_equal(f->vd->device_id, VIRTIO_ID_NET);
	assert_int_equal(f->vd->cfg_len, VIRTIO_NET_CFG_LEN);
	assert_int_equal(f->vd->nqueues, 2);
	for (unsigned i = 0; i < sizeof(cfg); i++)
		f->vd->ops->cfg_read(f->vd, i, cfg + i, 1);
	assert_memory_equal(cfg, MAC, 6);
	memcpy(&v, cfg + 6, 2);
	assert_int_equal(v, VIRTIO_NET_S_LINK_UP);
	memcpy(&v, cfg + 8, 2);
	assert_int_equal(v, 1);
	memcpy(&v, cfg + 10, 2);
	assert_int_equal(v, 1500);
	assert_true(feat & (1ULL << VIRTIO_NET_F_MRG_RXBUF));
	assert_true(feat & (1ULL << VIRTIO_NET_F_HOST_TSO4));
	assert_true(feat & (1ULL << VIRTIO_RING_F_EVENT_IDX));
	assert_false(feat & (1ULL << VIRTIO_NET_F_HOST_UFO));
	/* TSO without the checksum offload it needs: activation refused. */
	assert_int_not_equal(ft_start(f->vd, BASE_FEATURES | (1ULL << VIRTIO_NET_F_HOST_TSO4),
				      f->r, 2), 0);
}

static void test_tx(void **state)
{
	struct fx *f = *state;
	struct net_port_hdr h = { 0 };
	uint8_t fr[1514], got[2048];
	uint32_t id, len;

	assert_int_equal(ft_start(f->vd, BASE_FEATURES | (1ULL << VIRTIO_NET_F_CSUM), f->r, 2), 0);
	frame(fr, sizeof(fr), MAC);
	h.num_buffers = 7; /* the device sends 0 whatever the guest wrote */
	tx(f, 0, &h, fr, sizeof(fr), 3);
	assert_true(fr_get_used(&f->r[1], &id, &len));
	assert_int_equal(id, 0);
	assert_int_equal(peer_recv(f, got, sizeof(got)), NET_PORT_HDR_LEN + sizeof(fr));
	h.num_buffers = 0;
	assert_memory_equal(got, &h, NET_PORT_HDR_LEN);
	assert_memory_equal(got + NET_PORT_HDR_LEN, fr, sizeof(fr));
	/* NEEDS_CSUM with offsets inside the frame passes unchanged. */
	h = (struct net_port_hdr){ .flags = NET_PORT_F_NEEDS_CSUM, .csum_start = 34,
				   .csum_offset = 16 };
	tx(f, 4, &h, fr, 100, 1);
	assert_int_equal(peer_recv(f, got, sizeof(got)), NET_PORT_HDR_LEN + 100);
	assert_memory_equal(got, &h, NET_PORT_HDR_LEN);
	assert_int_equal(stats(f).tx_frames, 2);
	assert_int_equal(stats(f).tx_bytes, sizeof(fr) + 100);
	assert_int_equal(f->t.queue_irqs[1], 2);
}

static void test_tx_hostile(void **state)
{
	struct fx *f = *state;
	struct net_port_hdr h = { 0 };
	uint8_t fr[2048], got[4096];
	uint32_t id, len;

	assert_int_equal(ft_start(f->vd, BASE_FEATURES, f->r, 2), 0);
	frame(fr, sizeof(fr), MAC);
	/* Shorter than header + Ethernet header (hostile-guests.md 18). */
	tx(f, 0, &h, fr, 13, 1);
	/* Longer than the MTU allows without GSO. */
	tx(f, 0, &h, fr, 1500 + 19, 2);
	/* Flags and GSO the driver did not negotiate; unknown flags. */
	h.flags = NET_PORT_F_NEEDS_CSUM;
	tx(f, 0, &h, fr, 100, 1);
	h = (struct net_port_hdr){ .gso_type = NET_PORT_GSO_TCPV4, .gso_size = 1000 };
	tx(f, 0, &h, fr, 100, 1);
	h = (struct net_port_hdr){ .flags = 0x80 };
	tx(f, 0, &h, fr, 100, 1);
	assert_int_equal(stats(f).tx_malformed, 1);
	assert_int_equal(stats(f).tx_oversize, 1);
	assert_int_equal(stats(f).tx_bad_hdr, 3);
	assert_int_equal(stats(f).tx_frames, 0);
	assert_int_equal(peer_recv(f, got, sizeof(got)), 0); /* nothing reached the switch */
	for (int i = 0; i < 5; i++) {
		assert_true(fr_get_used(&f->r[1], &id, &len)); /* every chain completed */
		assert_int_equal(len, 0);
	}
	/* A frame over 64 KiB: dropped; a readable chain longer than that is
	 * never sent in part. */
	fr_desc(&f->r[1], 0, TXBUF, 70000, 0, 0);
	fr_post(&f->r[1], 0);
	ft_notify(f->vd, VIRTIO_NET_TXQ);
	assert_int_equal(stats(f).tx_oversize, 2);
	assert_int_equal(peer_recv(f, got, sizeof(got)), 0);
	/* A descriptor loop: the device needs a reset, nothing is sent. */
	fr_desc(&f->r[1], 1, TXBUF, 64, VIRTQ_DESC_F_NEXT, 2);
	fr_desc(&f->r[1], 2, TXBUF, 64, VIRTQ_DESC_F_NEXT, 1);
	fr_post(&f->r[1], 1);
	ft_notify(f->vd, VIRTIO_NET_TXQ);
	assert_true(f->vd->failed);
	assert_int_equal(peer_recv(f, got, sizeof(got)), 0);
}

/* Port security (tap modes): decided on the host copy of the headers. */
static void test_tx_port_security(void **state)
{
	struct fx *f = *state;
	static const uint8_t other[6] = { 0x02, 0x99, 0x22, 0x33, 0x44, 0x55 };
	struct net_port_hdr h = { 0 };
	uint8_t fr[200], got[512];

	assert_int_equal(ft_start(f->vd, BASE_FEATURES, f->r, 2), 0);
	frame(fr, sizeof(fr), other);
	tx(f, 0, &h, fr, sizeof(fr), 1);
	assert_int_equal(stats(f).tx_refused[3], 1);
	assert_int_equal(peer_recv(f, got, sizeof(got)), 0);
	frame(fr, sizeof(fr), MAC);
	fr[12] = 0x88; /* not IPv4/IPv6/ARP */
	fr[13] = 0xcc;
	tx(f, 0, &h, fr, sizeof(fr), 1);
	assert_int_equal(stats(f).tx_refused[2], 1);
	assert_int_equal(peer_recv(f, got, sizeof(got)), 0);
	fr[12] = 0x86; /* IPv6 */
	fr[13] = 0xdd;
	tx(f, 0, &h, fr, sizeof(fr), 4); /* header split over descriptors */
	assert_int_equal(peer_recv(f, got, sizeof(got)), NET_PORT_HDR_LEN + sizeof(fr));
	assert_memory_equal(got + NET_PORT_HDR_LEN, fr, sizeof(fr));
	assert_int_equal(stats(f).tx_frames, 1);
	assert_int_equal(f->checks, 3);
}

/* Copy-then-send: a guest rewriting the buffer after the check cannot
 * change what goes out — the checked copy of the first bytes is sent. The
 * check never sees guest bytes past its copy (zeros there). */
static void test_tx_toctou(void **state)
{
	struct fx *f = *state;
	struct net_port_hdr h = { 0 };
	uint8_t fr[1000], got[2048];

	assert_int_equal(ft_start(f->vd, BASE_FEATURES, f->r, 2), 0);
	frame(fr, sizeof(fr), MAC);
	f->rewrite = true;
	tx(f, 0, &h, fr, sizeof(fr), 2);
	assert_int_equal(peer_recv(f, got, sizeof(got)), NET_PORT_HDR_LEN + sizeof(fr));
	/* The source MAC and the payload bytes the guest rewrote inside the
	 * copied head went out as checked. */
	assert_memory_equal(got + NET_PORT_HDR_LEN, fr, VIRTIO_NET_TX_COPY);
	assert_true(f->saw_zero_tail);
	assert_int_equal(stats(f).tx_frames, 1);
}

/* A full backend is backpressure, not loss: the chains stay in the ring
 * until the peer reads, then every frame goes out once, in order. */
static void test_tx_backpressure(void **state)
{
	struct fx *f = *state;
	struct net_port_hdr h = { 0 };
	uint8_t buf[NET_PORT_HDR_LEN + 1000], got[2048];
	uint32_t id, len, used = 0, recvd = 0;

	int sndbuf = 4096;

	assert_int_equal(setsockopt(f->devfd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
	assert_int_equal(ft_start(f->vd, BASE_FEATURES, f->r, 2), 0);
	memcpy(buf, &h, NET_PORT_HDR_LEN);
	frame(buf + NET_PORT_HDR_LEN, 1000, MAC);
	assert_int_equal(gmem_write(&f->gm, TXBUF, buf, sizeof(buf)), 0);
	for (uint16_t i = 0; i < 60; i++) {
		fr_desc(&f->r[1], i, TXBUF, sizeof(buf), 0, 0);
		fr_post(&f->r[1], i);
	}
	ft_notify(f->vd, VIRTIO_NET_TXQ);
	while (fr_get_used(&f->r[1], &id, &len))
		used++;
	assert_true(used < 60); /* the socket filled up before all were sent */
	assert_int_equal(stats(f).tx_stalls, 1);
	assert_int_equal(stats(f).tx_frames, used);
	assert_int_equal(stats(f).tx_backend, 0);
	ft_notify(f->vd, VIRTIO_NET_TXQ); /* a kick while blocked does nothing */
	assert_false(fr_get_used(&f->r[1], &id, &len));
	for (int rounds = 0; rounds < 100 && used < 60; rounds++) {
		while (peer_recv(f, got, sizeof(got)) == (ssize_t)sizeof(buf))
			recvd++;
		virtio_net_tx_poll(f->n); /* what the "writable" event does */
		while (fr_get_used(&f->r[1], &id, &len))
			used++;
	}
	while (peer_recv(f, got, sizeof(got)) == (ssize_t)sizeof(buf))
		recvd++;
	assert_int_equal(used, 60);
	assert_int_equal(recvd, 60);
	assert_int_equal(stats(f).tx_frames, 60);
	assert_int_equal(stats(f).tx_backend, 0);
}

/* The switch sends hdr + frame. */
static void peer_send(struct fx *f, const struct net_port_hdr *h, const uint8_t *fr, size_t len)
{
	uint8_t buf[8192];

	memcpy(buf, h, NET_PORT_HDR_LEN);
	memcpy(buf + NET_PORT_HDR_LEN, fr, len);
	assert_int_equal(send(f->peer, buf, NET_PORT_HDR_LEN + len, 0),
			 (ssize_t)(NET_PORT_HDR_LEN + len));
}

static void rx_buf(struct fx *f, uint16_t head, uint64_t gpa, uint32_t len)
{
	fr_desc(&f->r[0], head, gpa, len, VIRTQ_DESC_F_WRITE, 0);
	fr_post(&f->r[0], head);
}

static void test_rx(void **state)
{
	struct fx *f = *state;
	struct net_port_hdr h = { 0 }, g;
	uint8_t fr[1000], got[2048];
	uint32_t id, len;

	assert_int_equal(ft_start(f->vd, BASE_FEATURES | (1ULL << VIRTIO_NET_F_GUEST_CSUM), f->r,
				  2), 0);
	frame(fr, sizeof(fr), MAC);
	/* No buffers yet: the frame waits (backpressure), nothing is lost. */
	peer_send(f, &h, fr, sizeof(fr));
	virtio_net_rx_poll(f->n);
	assert_int_equal(stats(f).rx_stalls, 1);
	assert_int_equal(stats(f).rx_frames, 0);
	rx_buf(f, 5, RXBUF, 2048);
	ft_notify(f->vd, VIRTIO_NET_RXQ); /* the driver's kick resumes receiving */
	assert_true(fr_get_used(&f->r[0], &id, &len));
	assert_int_equal(id, 5);
	assert_int_equal(len, NET_PORT_HDR_LEN + sizeof(fr));
	assert_int_equal(gmem_read(&f->gm, got, RXBUF, len), 0);
	memcpy(&g, got, sizeof(g));
	assert_int_equal(g.num_buffers, 1);
	assert_int_equal(g.flags, 0);
	assert_memory_equal(got + NET_PORT_HDR_LEN, fr, sizeof(fr));
	assert_int_equal(stats(f).rx_frames, 1);
	assert_int_equal(stats(f).rx_bytes, sizeof(fr));
	assert_int_equal(f->t.queue_irqs[0], 1);
	/* Buffer too small without MRG_RXBUF: dropped, buffer returned empty. */
	rx_buf(f, 6, RXBUF, 100);
	peer_send(f, &h, fr, sizeof(fr));
	virtio_net_rx_poll(f->n);
	assert_true(fr_get_used(&f->r[0], &id, &len));
	assert_int_equal(id, 6);
	assert_int_equal(len, 0);
	assert_int_equal(stats(f).rx_too_small, 1);
	/* GSO the guest did not ack: dropped. Unknown flags, a message shorter
	 * than header + Ethernet header: malformed. */
	h = (struct net_port_hdr){ .gso_type = NET_PORT_GSO_TCPV4, .gso_size = 500,
				   .flags = NET_PORT_F_NEEDS_CSUM, .csum_start = 34,
				   .csum_offset = 16 };
	peer_send(f, &h, fr, sizeof(fr));
	h = (struct net_port_hdr){ .flags = 0x40 };
	peer_send(f, &h, fr, sizeof(fr));
	h = (struct net_port_hdr){ 0 };
	peer_send(f, &h, fr, 10);
	rx_buf(f, 7, RXBUF, 2048);
	virtio_net_rx_poll(f->n);
	assert_int_equal(stats(f).rx_gso_refused, 1);
	assert_int_equal(stats(f).rx_malformed, 2);
	assert_false(fr_get_used(&f->r[0], &id, &len)); /* buffer 7 still free */
}

/* Mergeable buffers: one frame over several chains, num_buffers says how
 * many; not enough chains yet: the frame waits for more. */
static void test_rx_mergeable(void **state)
{
	struct fx *f = *state;
	struct net_port_hdr h = { 0 }, g;
	uint8_t fr[250], got[512];
	uint32_t id = 0, len = 0, total = 0;

	assert_int_equal(ft_start(f->vd, BASE_FEATURES | (1ULL << VIRTIO_NET_F_MRG_RXBUF) |
					  (1ULL << VIRTIO_RING_F_EVENT_IDX), f->r, 2), 0);
	frame(fr, sizeof(fr), MAC);
	rx_buf(f, 0, RXBUF, 100);
	rx_buf(f, 1, RXBUF + 100, 100);
	peer_send(f, &h, fr, sizeof(fr));
	virtio_net_rx_poll(f->n);
	assert_false(fr_get_used(&f->r[0], &id, &len)); /* 200 < 262: waits */
	assert_int_equal(stats(f).rx_stalls, 1);
	rx_buf(f, 2, RXBUF + 200, 100);
	ft_notify(f->vd, VIRTIO_NET_RXQ);
	for (uint32_t i = 0; i < 3; i++) {
		assert_true(fr_get_used(&f->r[0], &id, &len));
		assert_int_equal(id, i);
		total += len;
	}
	assert_int_equal(total, NET_PORT_HDR_LEN + sizeof(fr));
	assert_int_equal(gmem_read(&f->gm, got, RXBUF, total), 0);
	memcpy(&g, got, sizeof(g));
	assert_int_equal(g.num_buffers, 3);
	assert_memory_equal(got + NET_PORT_HDR_LEN, fr, sizeof(fr));
}

/* A guest without GUEST_CSUM gets a complete checksum. */
static void test_rx_csum(void **state)
{
	struct fx *f = *state;
	struct net_port_hdr h = { .flags = NET_PORT_F_NEEDS_CSUM, .csum_start = 14,
				  .csum_offset = 4 };
	uint8_t fr[64], got[128];
	uint32_t id = 0, len = 0, sum = 0;

	assert_int_equal(ft_start(f->vd, BASE_FEATURES, f->r, 2), 0);
	frame(fr, sizeof(fr), MAC);
	fr[18] = fr[19] = 0; /* the field starts as the (zero) partial sum */
	peer_send(f, &h, fr, sizeof(fr));
	rx_buf(f, 0, RXBUF, 128);
	virtio_net_rx_poll(f->n);
	assert_true(fr_get_used(&f->r[0], &id, &len));
	assert_int_equal(gmem_read(&f->gm, got, RXBUF, len), 0);
	assert_int_equal(got[0], 0); /* NEEDS_CSUM cleared */
	/* The ones' complement sum over [14, 64) including the field is 0xffff. */
	for (unsigned i = NET_PORT_HDR_LEN + 14; i < len; i += 2)
		sum += (uint32_t)(got[i] << 8 | got[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	assert_int_equal(sum, 0xffff);
	assert_int_equal(stats(f).rx_csum_filled, 1);
}

/* A hostile receive chain (readable descriptor before writable ones is
 * legal; a loop is not): the device fails, nothing is written. */
static void test_rx_hostile(void **state)
{
	struct fx *f = *state;
	struct net_port_hdr h = { 0 };
	uint8_t fr[100];

	assert_int_equal(ft_start(f->vd, BASE_FEATURES, f->r, 2), 0);
	frame(fr, sizeof(fr), MAC);
	fr_desc(&f->r[0], 0, RXBUF, 64, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	fr_desc(&f->r[0], 1, RXBUF, 64, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 0);
	fr_post(&f->r[0], 0);
	peer_send(f, &h, fr, sizeof(fr));
	virtio_net_rx_poll(f->n);
	assert_true(f->vd->failed);
	assert_int_equal(stats(f).rx_frames, 0);
	/* After a reset, the device works again. */
	ft_reset(f->vd);
	fr_init(&f->r[0], &f->gm, 64, RXD, RXA, RXU);
	fr_init(&f->r[1], &f->gm, 64, TXD, TXA, TXU);
	assert_int_equal(ft_start(f->vd, BASE_FEATURES, f->r, 2), 0);
	peer_send(f, &h, fr, sizeof(fr));
	rx_buf(f, 3, RXBUF, 2048);
	virtio_net_rx_poll(f->n);
	assert_int_equal(stats(f).rx_frames, 1);
}

/* Snapshot state: live + the MAC the driver read; a restored device keeps
 * its own MAC (every restore is a clone with its own). Hostile blobs are
 * refused before anything changes. */
static void test_state(void **state)
{
	struct fx *f = *state;
	struct virtio_net_params p = { .mtu = 1500 };
	struct virtio_dev_state_ctx ctx = { .status = VIRTIO_STATUS_ACKNOWLEDGE |
						      VIRTIO_STATUS_DRIVER |
						      VIRTIO_STATUS_FEATURES_OK |
						      VIRTIO_STATUS_DRIVER_OK,
					    .features = BASE_FEATURES };
	static const uint8_t bad[][9] = {
		{ 0x02, 0, 0, 0, 0, 1, 2, 0xdc, 0x05 }, /* live not 0/1 */
		{ 0x03, 0, 0, 0, 0, 1, 1, 0xdc, 0x05 }, /* multicast MAC */
		{ 0, 0, 0, 0, 0, 0, 1, 0xdc, 0x05 },    /* zero MAC */
		{ 0x02, 0, 0, 0, 0, 1, 1, 0xdd, 0x05 }, /* another MTU */
	};
	struct virtio_net *b;
	struct net_backend be;
	struct sbuf out;
	struct sreader r;
	uint8_t mac[6];
	char err[200];
	int sv[2];

	assert_int_equal(ft_start(f->vd, BASE_FEATURES, f->r, 2), 0);
	virtio_dev_quiesce(f->vd);
	sbuf_init(&out);
	pthread_mutex_lock(&f->vd->lock);
	f->vd->ops->save(f->vd, &out);
	pthread_mutex_unlock(&f->vd->lock);
	assert_int_equal(out.err, 0);
	assert_int_equal(out.len, 9);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(net_backend_adopt_port(&be, sv[0], "sw1", err, sizeof(err)), 0);
	p.mac[0] = 0x02;
	p.mac[5] = 0x77;
	assert_int_equal(virtio_net_create(&b, &p, &be, &f->gm, NULL), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		sr_init(&r, bad[i], 9);
		assert_int_not_equal(virtio_net_dev(b)->ops->load(virtio_net_dev(b), &r,
				     VIRTIO_NET_STATE_VERSION, &ctx, false, err, sizeof(err)), 0);
	}
	sr_init(&r, out.data, 8); /* truncated */
	assert_int_not_equal(virtio_net_dev(b)->ops->load(virtio_net_dev(b), &r,
			     VIRTIO_NET_STATE_VERSION, &ctx, false, err, sizeof(err)), 0);
	sr_init(&r, out.data, out.len);
	assert_int_equal(virtio_net_dev(b)->ops->load(virtio_net_dev(b), &r, 2, &ctx, false, err,
						      sizeof(err)), -ENOTSUP);
	for (int apply = 0; apply < 2; apply++) {
		sr_init(&r, out.data, out.len);
		assert_int_equal(virtio_net_dev(b)->ops->load(virtio_net_dev(b), &r,
				 VIRTIO_NET_STATE_VERSION, &ctx, apply, err, sizeof(err)), 0);
	}
	/* The NIC keeps its own MAC, not the saved one (a clone's is its own). */
	for (unsigned i = 0; i < 6; i++)
		virtio_net_dev(b)->ops->cfg_read(virtio_net_dev(b), i, mac + i, 1);
	assert_memory_equal(mac, p.mac, 6);
	assert_memory_not_equal(mac, MAC, 6);
	virtio_net_mac(b, mac);
	assert_memory_equal(mac, p.mac, 6);
	virtio_net_dev(b)->ops->destroy(virtio_net_dev(b));
	close(sv[1]);
	sbuf_free(&out);
	virtio_dev_resume(f->vd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_hostile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_port_security, setup_secure, teardown),
		cmocka_unit_test_setup_teardown(test_tx_toctou, setup_secure, teardown),
		cmocka_unit_test_setup_teardown(test_tx_backpressure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_mergeable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_csum, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_hostile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
