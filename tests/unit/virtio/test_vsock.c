/* test_vsock.c — virtio-vsock with real host sockets and a real event loop:
 * the test is the guest driver (fake rings in a real guest_mem), the host
 * client (socat's part: a unix socket and the CONNECT line) and the broker
 * (core/vsock_broker.h: it answers with a socketpair end or a refusal).
 * Covers the hybrid handshake, data both ways, credit, the caps and
 * deadlines, and the hostile cases of hostile-guests.md 21/22. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "vq_fake.h"
#include "common/fdpass.h"
#include "core/state_buf.h"
#include "core/vsock_broker.h"
#include "virtio/vsock.h"
#include "../test_wait.h"

#define RAM (64ULL << 20)
#define CID 42
#define QS 64
#define RXBUF 0x200000ULL /* rx buffer i at RXBUF + i * 0x2000 */
#define RXLEN (4096u + VSOCK_HDR_LEN)
#define TXBUF 0x400000ULL
#define EVBUF 0x600000ULL

struct fx {
	struct guest_mem gm;
	struct fake_ring r[3];
	struct fake_transport t;
	struct floop l;
	struct virtio_vsock *vs;
	struct virtio_dev *vd;
	char path[108];
	int broker; /* the test's end of the broker channel */
	unsigned tx_next;
};

static int setup_with(void **state, unsigned max_conns, uint32_t buf)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct virtio_vsock_params p = { .guest_cid = CID, .max_conns = max_conns, .buf_size = buf };
	int sp[2];

	if (!f || gmem_create(&f->gm, RAM))
		return -1;
	snprintf(f->path, sizeof(f->path), "/tmp/bh-test-vsock-%d-%p", (int)getpid(), (void *)f);
	memcpy(sa.sun_path, f->path, strlen(f->path) + 1);
	p.listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	unlink(f->path);
	if (p.listen_fd < 0 || bind(p.listen_fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(p.listen_fd, 16))
		return -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp))
		return -1;
	p.broker_fd = sp[0];
	f->broker = sp[1];
	floop_init(&f->l);
	if (virtio_vsock_create(&f->vs, &f->gm, &f->l.el, &p))
		return -1;
	f->vd = virtio_vsock_dev(f->vs);
	ft_attach(&f->t, f->vd);
	fr_init(&f->r[0], &f->gm, QS, 0x10000, 0x20000, 0x30000);
	fr_init(&f->r[1], &f->gm, QS, 0x40000, 0x50000, 0x60000);
	fr_init(&f->r[2], &f->gm, 8, 0x70000, 0x80000, 0x90000);
	floop_start(&f->l);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_with(state, 8, 16384);
}

static int setup_cap2(void **state)
{
	return setup_with(state, 2, 16384);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	floop_stop(&f->l);
	f->vd->ops->destroy(f->vd);
	floop_destroy(&f->l);
	close(f->broker);
	unlink(f->path);
	gmem_destroy(&f->gm);
	free(f);
	return 0;
}

/* ---- the guest driver ---- */

static void post_rx(struct fx *f, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		unsigned d = (f->r[0].avail_idx) % QS;

		fr_desc(&f->r[0], d, RXBUF + 0x2000ULL * d, RXLEN, VIRTQ_DESC_F_WRITE, 0);
		fr_post(&f->r[0], (uint16_t)d);
	}
	ft_notify(f->vd, 0);
}

static void start(struct fx *f)
{
	assert_int_equal(ft_start(f->vd, 0, f->r, 3), 0);
	post_rx(f, 16);
}

/* The next packet the device put in the rx ring (waits); payload into buf. */
static void rx_pkt(struct fx *f, struct virtio_vsock_hdr *h, void *buf, size_t max)
{
	uint32_t id = 0, len = 0;

	TEST_WAIT_UNTIL(fr_used_idx(&f->r[0]) != f->r[0].used_seen, "an rx packet");
	assert_true(fr_get_used(&f->r[0], &id, &len));
	assert_true(len >= VSOCK_HDR_LEN);
	assert_int_equal(gmem_read(&f->gm, h, RXBUF + 0x2000ULL * id, VSOCK_HDR_LEN), 0);
	assert_int_equal(len, VSOCK_HDR_LEN + h->len);
	assert_true(h->len <= max);
	if (h->len)
		assert_int_equal(gmem_read(&f->gm, buf, RXBUF + 0x2000ULL * id + VSOCK_HDR_LEN,
					   h->len), 0);
	post_rx(f, 1); /* give it back */
}

static bool rx_none(struct fx *f)
{
	return fr_used_idx(&f->r[0]) == f->r[0].used_seen;
}

static void tx_pkt(struct fx *f, uint32_t src_port, uint32_t dst_port, uint16_t op,
		   uint32_t flags, const void *data, uint32_t len, uint32_t buf_alloc,
		   uint32_t fwd_cnt)
{
	struct virtio_vsock_hdr h = { .src_cid = CID, .dst_cid = VSOCK_HOST_CID,
				      .src_port = src_port, .dst_port = dst_port, .len = len,
				      .type = VSOCK_TYPE_STREAM, .op = op, .flags = flags,
				      .buf_alloc = buf_alloc, .fwd_cnt = fwd_cnt };
	unsigned d = f->tx_next++ % QS;
	uint64_t at = TXBUF + 0x20000ULL * d;

	assert_true(len <= 0x20000 - VSOCK_HDR_LEN);
	assert_int_equal(gmem_write(&f->gm, at, &h, VSOCK_HDR_LEN), 0);
	if (len)
		assert_int_equal(gmem_write(&f->gm, at + VSOCK_HDR_LEN, data, len), 0);
	fr_desc(&f->r[1], d, at, VSOCK_HDR_LEN + len, 0, 0);
	fr_post(&f->r[1], (uint16_t)d);
	ft_notify(f->vd, 1);
}

/* ---- the host client ---- */

static int client(struct fx *f)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memcpy(sa.sun_path, f->path, strlen(f->path) + 1);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Read exactly n bytes (bounded wait). */
static void read_n(int fd, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		ssize_t k;

		assert_int_equal(poll(&pf, 1, TEST_WAIT_MS), 1);
		k = read(fd, (char *)buf + got, n - got);
		assert_true(k > 0);
		got += (size_t)k;
	}
}

static bool sees_eof(int fd)
{
	struct pollfd pf = { .fd = fd, .events = POLLIN };
	char c;

	/* EOF, or ECONNRESET when it closed with our bytes unread */
	return poll(&pf, 1, TEST_WAIT_MS) == 1 && read(fd, &c, 1) <= 0;
}

/* Connect host→guest port `port`; the guest accepts. Returns the client fd
 * and the host port the device chose. */
static int connect_h2g(struct fx *f, uint32_t port, uint32_t *hport)
{
	struct virtio_vsock_hdr h;
	char line[32], ok[32];
	int fd = client(f), n;

	n = snprintf(line, sizeof(line), "CONNECT %u\n", port);
	assert_int_equal(write(fd, line, (size_t)n), n);
	rx_pkt(f, &h, NULL, 0);
	assert_int_equal(h.op, VSOCK_OP_REQUEST);
	assert_int_equal(h.src_cid, VSOCK_HOST_CID);
	assert_int_equal(h.dst_cid, CID);
	assert_int_equal(h.dst_port, port);
	assert_int_equal(h.type, VSOCK_TYPE_STREAM);
	*hport = h.src_port;
	tx_pkt(f, port, h.src_port, VSOCK_OP_RESPONSE, 0, NULL, 0, 65536, 0);
	n = snprintf(ok, sizeof(ok), "OK %u\n", h.src_port);
	read_n(fd, line, (size_t)n);
	assert_memory_equal(line, ok, (size_t)n);
	return fd;
}

/* ---- tests ---- */

static void test_config(void **state)
{
	struct fx *f = *state;
	uint64_t cid = 0;

	assert_int_equal(f->vd->device_id, VIRTIO_ID_VSOCK);
	assert_int_equal(f->vd->nqueues, 3);
	f->vd->ops->cfg_read(f->vd, 0, &cid, 8);
	assert_int_equal(cid, CID);
}

static void test_host_to_guest_echo(void **state)
{
	struct fx *f = *state;
	struct virtio_vsock_hdr h;
	char buf[64];
	uint32_t hp;
	int fd;

	start(f);
	fd = connect_h2g(f, 1024, &hp);
	assert_int_equal(write(fd, "ping", 4), 4);
	rx_pkt(f, &h, buf, sizeof(buf));
	assert_int_equal(h.op, VSOCK_OP_RW);
	assert_int_equal(h.len, 4);
	assert_memory_equal(buf, "ping", 4);
	tx_pkt(f, 1024, hp, VSOCK_OP_RW, 0, "pong", 4, 65536, 4);
	read_n(fd, buf, 4);
	assert_memory_equal(buf, "pong", 4);
	/* The client closes: the guest hears SHUTDOWN(SEND), closes, gets RST. */
	close(fd);
	rx_pkt(f, &h, NULL, 0);
	assert_int_equal(h.op, VSOCK_OP_SHUTDOWN);
	tx_pkt(f, 1024, hp, VSOCK_OP_SHUTDOWN, VSOCK_SHUTDOWN_SEND | VSOCK_SHUTDOWN_RCV, NULL, 0,
	       65536, 4);
	rx_pkt(f, &h, NULL, 0);
	assert_int_equal(h.op, VSOCK_OP_RST);
}

static void test_data_in_connect_line(void **state)
{
	struct fx *f = *state;
	struct virtio_vsock_hdr h;
	char buf[64];
	int fd = client(f);

	start(f);
	assert_int_equal(write(fd, "CONNECT 7\nearly", 15), 15);
	rx_pkt(f, &h, NULL, 0);
	assert_int_equal(h.op, VSOCK_OP_REQUEST);
	tx_pkt(f, 7, h.src_port, VSOCK_OP_RESPONSE, 0, NULL, 0, 65536, 0);
	rx_pkt(f, &h, buf, sizeof(buf));
	assert_int_equal(h.op, VSOCK_OP_RW);
	assert_memory_equal(buf, "early", 5);
	close(fd);
}

static void test_guest_refuses(void **state)
{
	struct fx *f = *state;
	struct virtio_vsock_hdr h;
	int fd = client(f);

	start(f);
	assert_int_equal(write(fd, "CONNECT 99\n", 11), 11);
	rx_pkt(f, &h, NULL, 0);
	tx_pkt(f, 99, h.src_port, VSOCK_OP_RST, 0, NULL, 0, 0, 0);
	assert_true(sees_eof(fd)); /* no "OK": the client learns it by EOF */
	close(fd);
}

static void test_bad_lines(void **state)
{
	static const char *const bad[] = { "CONNECT\n", "CONNECT x\n", "connect 1\n",
					   "CONNECT 4294967296\n", "CONNECT 1 \n",
					   "CONNECT 123456789012345678901234567890" };
	struct fx *f = *state;
	struct virtio_vsock_stats st;

	start(f);
	for (size_t i = 0; i < BH_ARRAY_SIZE(bad); i++) {
		int fd = client(f);

		assert_int_equal(write(fd, bad[i], strlen(bad[i])), (ssize_t)strlen(bad[i]));
		assert_true(sees_eof(fd));
		close(fd);
	}
	assert_true(rx_none(f)); /* the guest heard of none of them */
	virtio_vsock_get_stats(f->vs, &st);
	assert_int_equal(st.conns, 0);
}

static void test_line_deadline(void **state)
{
	struct fx *f = *state;
	struct virtio_vsock_stats st;
	int fd = client(f);

	start(f);
	assert_int_equal(write(fd, "CONN", 4), 4);
	TEST_WAIT_UNTIL((virtio_vsock_get_stats(f->vs, &st), st.accepted == 1), "the accept");
	virtio_vsock_tick(f->vs, test_now_ms() + VSOCK_CONNECT_DEADLINE_MS + 1000);
	assert_true(sees_eof(fd));
	virtio_vsock_get_stats(f->vs, &st);
	assert_int_equal(st.deadline_closes, 1);
	assert_int_equal(st.conns, 0);
	close(fd);
}

static void test_unanswered_request(void **state)
{
	struct fx *f = *state;
	struct virtio_vsock_hdr h;
	int fd = client(f);

	start(f);
	assert_int_equal(write(fd, "CONNECT 5\n", 10), 10);
	rx_pkt(f, &h, NULL, 0);
	assert_int_equal(h.op, VSOCK_OP_REQUEST);
	virtio_vsock_tick(f->vs, test_now_ms() + VSOCK_RESPONSE_DEADLINE_MS + 1000);
	assert_true(sees_eof(fd));
	rx_pkt(f, &h, NULL, 0);
	assert_int_equal(h.op, VSOCK_OP_RST); /* the guest is told it is over */
	close(fd);
}

static void test_conn_cap(void **state)
{
	struct fx *f = *state;
	struct virtio_vsock_stats st;
	int a, b, c;

	start(f);
	a = client(f);
	b = client(f);
	TEST_WAIT_UNTIL((virtio_vsock_get_stats(f->vs, &st), st.accepted == 2), "two accepts");
	c = client(f);
	assert_true(sees_eof(c));
	virtio_vsock_get_stats(f->vs, &st);
	assert_int_equal(st.refused_cap, 1);
	/* The guest's REQUEST beyond the cap: RST. */
	tx_pkt(f, 3000, 80, VSOCK_OP_REQUEST, 0, NULL, 0, 65536, 0);
	{
		struct virtio_vsock_hdr h;

		rx_pkt(f, &h, NULL, 0);
		assert_int_equal(h.op, VSOCK_OP_RST);
		assert_int_equal(h.dst_port, 3000);
	}
	close(a);
	close(b);
	close(c);
}

/* The broker's part: answer one request with a connected socket (the other
 * end returned in *peer) or with `result`. */
static uint32_t broker_answer(struct fx *f, int result, int *peer)
{
	struct vsock_broker_req req;
	struct vsock_broker_rep rep = { VSOCK_BROKER_REP, 0, result };
	struct pollfd pf = { .fd = f->broker, .events = POLLIN };
	int sp[2] = { -1, -1 };

	assert_int_equal(poll(&pf, 1, TEST_WAIT_MS), 1);
	assert_int_equal(recv(f->broker, &req, sizeof(req), 0), sizeof(req));
	assert_int_equal(req.magic, VSOCK_BROKER_REQ);
	rep.id = req.id;
	if (result == 0) {
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
					    sp), 0);
		*peer = sp[1];
	}
	assert_int_equal(fdpass_send(f->broker, &rep, sizeof(rep), sp[0], 0), sizeof(rep));
	if (result == 0)
		close(sp[0]);
	return req.port;
}

static void test_guest_to_host(void **state)
{
	struct fx *f = *state;
	struct virtio_vsock_hdr h;
	char buf[64];
	int peer = -1;

	start(f);
	tx_pkt(f, 5555, 1024, VSOCK_OP_REQUEST, 0, NULL, 0, 65536, 0);
	assert_int_equal(broker_answer(f, 0, &peer), 1024);
	rx_pkt(f, &h, NULL, 0);
	assert_int_equal(h.op, VSOCK_OP_RESPONSE);
	assert_int_equal(h.src_port, 1024);
	assert_int_equal(h.dst_port, 5555);
	tx_pkt(f, 5555, 1024, VSOCK_OP_RW, 0, "hello host", 10, 65536, 0);
	read_n(peer, buf, 10);
	assert_memory_equal(buf, "hello host", 10);
	assert_int_equal(write(peer, "hi guest", 8), 8);
	rx_pkt(f, &h, buf, sizeof(buf));
	assert_int_equal(h.op, VSOCK_OP_RW);
	assert_memory_equal(buf, "hi guest", 8);
	close(peer);
}

static void test_guest_to_host_refused(void **state)
{
	struct fx *f = *state;
	struct virtio_vsock_hdr h;

	start(f);
	tx_pkt(f, 5556, 22, VSOCK_OP_REQUEST, 0, NULL, 0, 65536, 0);
	assert_int_equal(broker_answer(f, -EACCES, NULL), 22);
	rx_pkt(f, &h, NULL, 0);
	assert_int_equal(h.op, VSOCK_OP_RST);
	assert_int_equal(h.dst_port, 5556);
}

/* Guest→host beyond the advertised credit: the connection is reset. */
static void test_forged_credit(void **state)
{
	struct fx *f = *state;
	struct virtio_vsock_hdr h;
	struct virtio_vsock_stats st;
	static char big[20000];
	int peer = -1;

	start(f);
	tx_pkt(f, 6000, 1024, VSOCK_OP_REQUEST, 0, NULL, 0, 65536, 0);
	broker_answer(f, 0, &peer);
	rx_pkt(f, &h, NULL, 0);
	assert_int_equal(h.buf_alloc, 16384);
	tx_pkt(f, 6000, 1024, VSOCK_OP_RW, 0, big, sizeof(big), 65536, 0);
	rx_pkt(f, &h, NULL, 0);
	assert_int_equal(h.op, VSOCK_OP_RST);
	virtio_vsock_get_stats(f->vs, &st);
	assert_int_equal(st.credit_violations, 1);
	assert_true(sees_eof(peer));
	close(peer);
}

/* Host→guest stops at the guest's credit, and resumes with a credit update. */
static void test_guest_credit_respected(void **state)
{
	struct fx *f = *state;
	struct virtio_vsock_hdr h;
	static char buf[8192];
	uint32_t hp, got = 0;
	int fd;

	start(f);
	fd = client(f);
	assert_int_equal(write(fd, "CONNECT 9\n", 10), 10);
	rx_pkt(f, &h, NULL, 0);
	hp = h.src_port;
	tx_pkt(f, 9, hp, VSOCK_OP_RESPONSE, 0, NULL, 0, 1000, 0); /* 1000 bytes of credit */
	read_n(fd, buf, strlen("OK \n") + (size_t)snprintf(NULL, 0, "%u", hp));
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(write(fd, buf, 5000), 5000);
	while (got < 1000) {
		rx_pkt(f, &h, buf, sizeof(buf));
		assert_int_equal(h.op, VSOCK_OP_RW);
		got += h.len;
	}
	assert_int_equal(got, 1000);
	usleep(100000);
	assert_true(rx_none(f)); /* no more without credit */
	tx_pkt(f, 9, hp, VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0, 1000, 1000);
	rx_pkt(f, &h, buf, sizeof(buf));
	assert_int_equal(h.op, VSOCK_OP_RW);
	assert_true(h.len > 0 && h.len <= 1000);
	close(fd);
}

/* Unknown operations, types and connections: RST, nothing else. */
static void test_hostile_packets(void **state)
{
	struct fx *f = *state;
	struct virtio_vsock_hdr h;
	struct virtio_vsock_stats st;

	start(f);
	tx_pkt(f, 1, 2, VSOCK_OP_RW, 0, "x", 1, 0, 0); /* no such connection */
	rx_pkt(f, &h, NULL, 0);
	assert_int_equal(h.op, VSOCK_OP_RST);
	tx_pkt(f, 1, 2, VSOCK_OP_RST, 0, NULL, 0, 0, 0); /* an RST is never answered */
	tx_pkt(f, 1, 2, 99, 0, NULL, 0, 0, 0);           /* unknown op, unknown conn */
	rx_pkt(f, &h, NULL, 0);
	assert_int_equal(h.op, VSOCK_OP_RST);
	/* A length the chain does not carry. */
	{
		struct virtio_vsock_hdr bad = { .src_cid = CID, .dst_cid = 2, .len = 5000,
						.type = 1, .op = VSOCK_OP_RW };
		unsigned d = f->tx_next++ % QS;

		assert_int_equal(gmem_write(&f->gm, TXBUF, &bad, VSOCK_HDR_LEN), 0);
		fr_desc(&f->r[1], d, TXBUF, VSOCK_HDR_LEN + 10, 0, 0);
		fr_post(&f->r[1], (uint16_t)d);
		ft_notify(f->vd, 1);
	}
	/* A spoofed source CID: dropped. */
	{
		struct virtio_vsock_hdr spoof = { .src_cid = 2, .dst_cid = 2, .type = 1,
						  .op = VSOCK_OP_REQUEST };
		unsigned d = f->tx_next++ % QS;

		assert_int_equal(gmem_write(&f->gm, TXBUF, &spoof, VSOCK_HDR_LEN), 0);
		fr_desc(&f->r[1], d, TXBUF, VSOCK_HDR_LEN, 0, 0);
		fr_post(&f->r[1], (uint16_t)d);
		ft_notify(f->vd, 1);
	}
	/* A type that is not a stream. */
	{
		struct virtio_vsock_hdr seq = { .src_cid = CID, .dst_cid = 2, .type = 2,
						.op = VSOCK_OP_REQUEST, .src_port = 8 };
		unsigned d = f->tx_next++ % QS;

		assert_int_equal(gmem_write(&f->gm, TXBUF, &seq, VSOCK_HDR_LEN), 0);
		fr_desc(&f->r[1], d, TXBUF, VSOCK_HDR_LEN, 0, 0);
		fr_post(&f->r[1], (uint16_t)d);
		ft_notify(f->vd, 1);
	}
	rx_pkt(f, &h, NULL, 0); /* the bad length's RST */
	assert_int_equal(h.op, VSOCK_OP_RST);
	rx_pkt(f, &h, NULL, 0);
	assert_int_equal(h.op, VSOCK_OP_RST);
	assert_int_equal(h.dst_port, 8);
	virtio_vsock_get_stats(f->vs, &st);
	assert_int_equal(st.malformed, 2);
	assert_int_equal(st.conns, 0);
	assert_false(f->vd->failed);
}

/* Many RSTs owed while the guest posts no buffers: a bounded queue. */
static void test_rst_flood_bounded(void **state)
{
	struct fx *f = *state;
	struct virtio_vsock_stats st;

	assert_int_equal(ft_start(f->vd, 0, f->r, 3), 0); /* no rx buffers */
	for (unsigned i = 0; i < 40; i++)
		tx_pkt(f, 100 + i, 2, VSOCK_OP_RW, 0, "x", 1, 0, 0);
	virtio_vsock_get_stats(f->vs, &st);
	assert_int_equal(st.rst_dropped, 40 - 16);
}

static void test_transport_reset_event(void **state)
{
	struct fx *f = *state;
	uint32_t hp, id, len, ev = 0xffffffffu;
	int fd;

	start(f);
	fr_desc(&f->r[2], 0, EVBUF, 4, VIRTQ_DESC_F_WRITE, 0);
	fr_post(&f->r[2], 0);
	fd = connect_h2g(f, 1024, &hp);
	/* As at a restore: with the event thread stopped. */
	floop_stop(&f->l);
	virtio_vsock_transport_reset(f->vs);
	{
		uint64_t v;

		assert_int_equal(read(f->l.stop_fd, &v, 8), 8);
	}
	floop_start(&f->l);
	assert_true(sees_eof(fd)); /* connections dropped */
	assert_true(fr_get_used(&f->r[2], &id, &len));
	assert_int_equal(len, 4);
	assert_int_equal(gmem_read(&f->gm, &ev, EVBUF, 4), 0);
	assert_int_equal(ev, VSOCK_EVENT_TRANSPORT_RESET);
	assert_int_equal(virtio_vsock_cid(virtio_vsock_of(f->vd)), CID);
	close(fd);
	/* The listener survives. */
	fd = connect_h2g(f, 1025, &hp);
	close(fd);
}

static void test_driver_reset_closes(void **state)
{
	struct fx *f = *state;
	uint32_t hp;
	int fd;

	start(f);
	fd = connect_h2g(f, 1024, &hp);
	ft_reset(f->vd);
	assert_true(sees_eof(fd));
	close(fd);
}

/* Snapshot state: validated like guest input; a restore posts the
 * transport-reset event. */
static void test_state(void **state)
{
	struct fx *f = *state;
	struct virtio_dev_state_ctx ctx = { .status = 0xf, .features = 1ULL << 32 };
	struct sbuf b;
	struct sreader r;
	char err[200];
	uint32_t id, len, ev = 7;

	start(f);
	sbuf_init(&b);
	pthread_mutex_lock(&f->vd->lock);
	f->vd->ops->save(f->vd, &b);
	pthread_mutex_unlock(&f->vd->lock);
	assert_int_equal(b.err, 0);
	assert_int_equal(b.len, 17);
	/* wrong version, truncated, another CID */
	sr_init(&r, b.data, b.len);
	assert_int_equal(f->vd->ops->load(f->vd, &r, 99, &ctx, false, err, sizeof(err)), -ENOTSUP);
	sr_init(&r, b.data, b.len - 1);
	assert_int_equal(f->vd->ops->load(f->vd, &r, VIRTIO_VSOCK_STATE_VERSION, &ctx, false, err,
					  sizeof(err)), -EINVAL);
	/* A saved CID no guest can have (2: the host's) is refused; another
	 * guest CID (the snapshot of a VM with another one) loads, and this
	 * device keeps its own: a clone's CID is its own. */
	{
		uint64_t host_cid = 2, other = (uint64_t)CID + 40, saved;

		memcpy(&saved, b.data + 1, 8);
		memcpy(b.data + 1, &host_cid, 8);
		sr_init(&r, b.data, b.len);
		assert_int_equal(f->vd->ops->load(f->vd, &r, VIRTIO_VSOCK_STATE_VERSION, &ctx,
						  false, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "CID"));
		memcpy(b.data + 1, &other, 8);
		sr_init(&r, b.data, b.len);
		assert_int_equal(f->vd->ops->load(f->vd, &r, VIRTIO_VSOCK_STATE_VERSION, &ctx,
						  false, err, sizeof(err)), 0);
		memcpy(b.data + 1, &saved, 8);
	}
	/* the real thing, with an event buffer posted: the event arrives */
	fr_desc(&f->r[2], 0, EVBUF, 4, VIRTQ_DESC_F_WRITE, 0);
	fr_post(&f->r[2], 0);
	floop_stop(&f->l);
	pthread_mutex_lock(&f->vd->lock);
	sr_init(&r, b.data, b.len);
	assert_int_equal(f->vd->ops->load(f->vd, &r, VIRTIO_VSOCK_STATE_VERSION, &ctx, true, err,
					  sizeof(err)), 0);
	virtio_dev_notify(f->vd, 2);
	pthread_mutex_unlock(&f->vd->lock);
	assert_true(fr_get_used(&f->r[2], &id, &len));
	assert_int_equal(len, 4);
	assert_int_equal(gmem_read(&f->gm, &ev, EVBUF, 4), 0);
	assert_int_equal(ev, VSOCK_EVENT_TRANSPORT_RESET);
	{
		uint64_t v;

		assert_int_equal(read(f->l.stop_fd, &v, 8), 8);
	}
	floop_start(&f->l);
	sbuf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_to_guest_echo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_data_in_connect_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guest_refuses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_deadline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unanswered_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conn_cap, setup_cap2, teardown),
		cmocka_unit_test_setup_teardown(test_guest_to_host, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guest_to_host_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forged_credit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guest_credit_respected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_packets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rst_flood_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transport_reset_event, setup, teardown),
		cmocka_unit_test_setup_teardown(test_driver_reset_closes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
