/* test_ctl_proto.c — the daemon<->VMM control protocol v2 over a real
 * SOCK_SEQPACKET socketpair: round trips with and without descriptors, and
 * every record a receiver must refuse (truncated, oversized, garbage, wrong
 * version, direction, type, flags, reserved, payload/descriptor counts that
 * disagree with the header or the type, too many descriptors = MSG_CTRUNC,
 * malformed names and lists) — with every descriptor of a refused record
 * closed (checked through pipes: the read end sees EOF only once every copy
 * of the write end is gone). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/fdpass.h"
#include "ctl/ctl_proto.h"

struct pair {
	int a, b; /* a: the sender ("daemon"), b: the receiver ("VMM") */
};

static int setup(void **state)
{
	static struct pair p;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	p.a = sv[0];
	p.b = sv[1];
	*state = &p;
	return 0;
}

static int teardown(void **state)
{
	struct pair *p = *state;

	close(p->a);
	close(p->b);
	return 0;
}

static uint64_t in_ms(unsigned ms)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec + ms * 1000000ull;
}

/* Send raw bytes and descriptors, bypassing ctl_send_msg's checks. */
static void raw_send(int sock, const void *buf, size_t len, const int *fds, unsigned nfds)
{
	struct iovec iov = { .iov_base = (void *)(uintptr_t)buf, .iov_len = len };

	assert_int_equal(fdpass_sendv(sock, &iov, 1, fds, nfds, MSG_NOSIGNAL), (ssize_t)len);
}

/* A record as bytes: header + payload. */
static size_t wire(const struct ctl_msg *m, unsigned char *buf)
{
	memcpy(buf, &m->hdr, sizeof(m->hdr));
	memcpy(buf + sizeof(m->hdr), m->payload, m->hdr.payload_len);
	return sizeof(m->hdr) + m->hdr.payload_len;
}

/* Receive on b expecting -EPROTO whose reason contains `why`. */
static void expect_refused(struct pair *p, bool reply, const char *why)
{
	struct ctl_msg m;
	char err[256] = "";

	assert_int_equal(ctl_recv_msg(p->b, reply, &m, in_ms(1000), err, sizeof(err)), -EPROTO);
	if (!strstr(err, why))
		fail_msg("refusal '%s' does not mention '%s'", err, why);
}

/* A pipe whose write end is sent away: after the receiver is done and we
 * closed our copy, EOF on the read end proves the receiver closed its copy. */
static void assert_eof(int rd)
{
	char c;

	assert_int_equal(fcntl(rd, F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(read(rd, &c, 1), 0);
	close(rd);
}

static void test_round_trip_plain(void **state)
{
	struct pair *p = *state;
	struct ctl_msg req, got, rep;
	struct ctl_status st = { .state = CTL_ST_PAUSED, .ncpus = 4, .exits = 7, .io_exits = 5,
				 .mmio_exits = 2 }, st2;
	char err[256];

	for (unsigned t = CTL_STATUS; t <= CTL_TYPE_MAX; t++) {
		if (t == CTL_ATTACH_FD || t == CTL_SNAPSHOT)
			continue; /* they take descriptors: test_round_trip_fd */
		if (t == CTL_BALLOON_SET)
			ctl_msg_balloon_set(&req, 100 + t, 3ULL << 30);
		else
			ctl_msg_request(&req, (enum ctl_type)t, 100 + t);
		assert_int_equal(ctl_send_msg(p->a, &req, CTL_NO_WAIT, err, sizeof(err)), 0);
		assert_int_equal(ctl_recv_msg(p->b, false, &got, CTL_NO_WAIT, err, sizeof(err)), 0);
		assert_int_equal(got.hdr.type, t);
		if (t == CTL_BALLOON_SET)
			assert_int_equal(ctl_msg_balloon_target(&got), 3ULL << 30);
		assert_int_equal(got.hdr.seq, 100 + t);
		assert_int_equal(got.hdr.nfds, 0);
		/* and the reply, the other way */
		ctl_msg_reply(&rep, t, got.hdr.seq, t == CTL_RESUME ? -EPERM : 0, &st);
		if (t == CTL_LIST_FDS) {
			struct ctl_fd_list l = { .count = 2 };
			struct ctl_fd_entry e[2] = { { .name = { "net0" }, .kind = CTL_FD_CHAR },
						     { .name = { "snap" }, .kind = CTL_FD_FILE } };

			assert_int_equal(ctl_msg_put(&rep, &l, sizeof(l)), 0);
			assert_int_equal(ctl_msg_put(&rep, e, sizeof(e)), 0);
		}
		if (t == CTL_BALLOON_INFO) {
			struct ctl_balloon b = { .mem_bytes = 1 << 30, .held_pages = 5,
						 .stats_valid = 0x30, .stats = { [4] = 77 } };

			assert_int_equal(ctl_msg_put(&rep, &b, sizeof(b)), 0);
		}
		assert_int_equal(ctl_send_msg(p->b, &rep, CTL_NO_WAIT, err, sizeof(err)), 0);
		assert_int_equal(ctl_recv_msg(p->a, true, &got, in_ms(1000), err, sizeof(err)), 0);
		assert_int_equal(got.hdr.type, t | CTL_REPLY);
		assert_int_equal(got.hdr.status, t == CTL_RESUME ? -EPERM : 0);
		ctl_msg_status(&got, &st2);
		assert_memory_equal(&st, &st2, sizeof(st));
		if (t == CTL_LIST_FDS) {
			struct ctl_fd_entry e;

			assert_int_equal(ctl_msg_fd_entry(&got, 1, &e), 2);
			assert_string_equal(e.name.name, "snap");
			assert_int_equal(e.kind, CTL_FD_FILE);
		}
		if (t == CTL_BALLOON_INFO) {
			struct ctl_balloon b;

			assert_true(ctl_msg_balloon(&got, &b));
			assert_int_equal(b.held_pages, 5);
			assert_int_equal(b.stats[4], 77);
		}
	}
	assert_string_equal(ctl_type_name(CTL_QUARANTINE | CTL_REPLY), "quarantine");
	assert_string_equal(ctl_type_name(CTL_ATTACH_FD), "attach-fd");
}

static void test_round_trip_fd(void **state)
{
	struct pair *p = *state;
	struct ctl_msg req, got;
	struct ctl_fd_name n;
	int pfd[2];
	char err[256], c = 0;

	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	assert_int_equal(ctl_msg_attach_fd(&req, 9, "net0", pfd[1]), 0);
	assert_int_equal(ctl_send_msg(p->a, &req, in_ms(1000), err, sizeof(err)), 0);
	close(pfd[1]);
	assert_int_equal(ctl_recv_msg(p->b, false, &got, in_ms(1000), err, sizeof(err)), 0);
	assert_int_equal(got.hdr.type, CTL_ATTACH_FD);
	assert_int_equal(got.hdr.nfds, 1);
	ctl_msg_fd_name(&got, &n);
	assert_string_equal(n.name, "net0");
	/* The descriptor that arrived is the pipe's write end, close-on-exec. */
	assert_true(fcntl(got.fds[0], F_GETFD) & FD_CLOEXEC);
	assert_int_equal(write(got.fds[0], "x", 1), 1);
	assert_int_equal(read(pfd[0], &c, 1), 1);
	assert_int_equal(c, 'x');
	ctl_msg_close_fds(&got);
	assert_int_equal(got.hdr.nfds, 0);
	assert_eof(pfd[0]);
	/* Names are checked before anything is sent. */
	/* snapshot: two descriptors and known flags, nothing else. */
	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	ctl_msg_snapshot(&req, 11, CTL_SNAP_RESUME, pfd[0], pfd[1]);
	assert_int_equal(ctl_send_msg(p->a, &req, in_ms(1000), err, sizeof(err)), 0);
	assert_int_equal(ctl_recv_msg(p->b, false, &got, in_ms(1000), err, sizeof(err)), 0);
	assert_int_equal(got.hdr.type, CTL_SNAPSHOT);
	assert_int_equal(got.hdr.nfds, 2);
	ctl_msg_close_fds(&got);
	ctl_msg_snapshot(&req, 12, 0x2, pfd[0], pfd[1]); /* unknown flag */
	assert_int_equal(ctl_send_msg(p->a, &req, in_ms(1000), err, sizeof(err)), 0);
	assert_int_equal(ctl_recv_msg(p->b, false, &got, in_ms(1000), err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "flags"));
	ctl_msg_snapshot(&req, 13, 0, pfd[0], pfd[1]);
	req.hdr.nfds = 1; /* one descriptor only */
	assert_int_equal(ctl_send_msg(p->a, &req, in_ms(1000), err, sizeof(err)), 0);
	assert_int_equal(ctl_recv_msg(p->b, false, &got, in_ms(1000), err, sizeof(err)), -EPROTO);
	close(pfd[0]);
	close(pfd[1]);
	assert_int_equal(ctl_msg_attach_fd(&req, 1, "9lives", 0), -EINVAL);
	assert_int_equal(ctl_msg_attach_fd(&req, 1, "", 0), -EINVAL);
	assert_int_equal(ctl_msg_attach_fd(&req, 1, "a=b", 0), -EINVAL);
	assert_int_equal(ctl_msg_attach_fd(&req, 1, "abcdefghijklmnopqrstuvwxyz012345", 0),
			 -EINVAL); /* 32 characters */
	assert_int_equal(ctl_msg_attach_fd(&req, 1, "abcdefghijklmnopqrstuvwxyz01234", 0), 0);
	/* Builders stay in bounds. */
	for (unsigned i = 0; i < CTL_MAX_FDS - 1; i++)
		assert_int_equal(ctl_msg_add_fd(&req, 0), 0);
	assert_int_equal(ctl_msg_add_fd(&req, 0), -E2BIG);
	ctl_msg_request(&req, CTL_STATUS, 1);
	assert_int_equal(ctl_msg_put(&req, req.payload, CTL_PAYLOAD_MAX), 0);
	assert_int_equal(ctl_msg_put(&req, "x", 1), -EMSGSIZE);
}

static void test_truncated_oversized_garbage(void **state)
{
	struct pair *p = *state;
	static unsigned char big[sizeof(struct ctl_hdr) + CTL_PAYLOAD_MAX + 64];
	unsigned char buf[sizeof(struct ctl_hdr) + 256];
	struct ctl_msg m;
	size_t len;

	ctl_msg_request(&m, CTL_PAUSE, 1);
	len = wire(&m, buf);
	for (size_t cut = 1; cut < len; cut += 7) {
		raw_send(p->a, buf, cut, NULL, 0);
		expect_refused(p, false, "header alone");
	}
	/* Header promises more payload than came. */
	m.hdr.payload_len = 8;
	len = wire(&m, buf);
	raw_send(p->a, buf, len - 8, NULL, 0);
	expect_refused(p, false, "payload_len 8, but 0 bytes");
	/* Larger than any record: refused as such, not cut and parsed. */
	ctl_msg_request(&m, CTL_STATUS, 2);
	memcpy(big, &m.hdr, sizeof(m.hdr));
	raw_send(p->a, big, sizeof(big), NULL, 0);
	expect_refused(p, false, "larger than");
	/* A full-size record that is still wrong for its type. */
	m.hdr.payload_len = CTL_PAYLOAD_MAX;
	memcpy(big, &m.hdr, sizeof(m.hdr));
	raw_send(p->a, big, sizeof(m.hdr) + CTL_PAYLOAD_MAX, NULL, 0);
	expect_refused(p, false, "4096 payload bytes (expected 0)");
	/* Garbage. */
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i * 37 + 11);
	raw_send(p->a, buf, sizeof(buf), NULL, 0);
	expect_refused(p, false, "magic");
}

static void test_version_and_fields(void **state)
{
	struct pair *p = *state;
	unsigned char buf[sizeof(struct ctl_hdr) + 256];
	struct ctl_msg m;
	struct v1 { /* the v1 record: same first 16 bytes */
		uint32_t magic;
		uint16_t version, type;
		uint32_t seq;
		int32_t status;
		uint32_t rest[12];
	} v1 = { .magic = CTL_MAGIC, .version = 1, .type = CTL_STATUS, .seq = 5 };
	struct ctl_msg out;
	char err[256];

	raw_send(p->a, &v1, sizeof(v1), NULL, 0);
	expect_refused(p, false, "control version 1 (this side speaks 2)");

	ctl_msg_request(&m, CTL_PAUSE, 1);
	m.hdr.type |= CTL_REPLY;
	raw_send(p->a, buf, wire(&m, buf), NULL, 0);
	expect_refused(p, false, "expected a request");
	ctl_msg_request(&m, CTL_PAUSE, 1);
	raw_send(p->a, buf, wire(&m, buf), NULL, 0);
	expect_refused(p, true, "expected a reply");
	for (unsigned t = 0; t < 3; t++) {
		ctl_msg_request(&m, CTL_PAUSE, 1);
		m.hdr.type = (uint16_t)(t == 0 ? 0 : t == 1 ? CTL_TYPE_MAX + 1 : 0x7fff);
		raw_send(p->a, buf, wire(&m, buf), NULL, 0);
		expect_refused(p, false, "unknown control type");
	}
	ctl_msg_request(&m, CTL_STATUS, 1);
	m.hdr.flags = 1;
	raw_send(p->a, buf, wire(&m, buf), NULL, 0);
	expect_refused(p, false, "flags");
	ctl_msg_request(&m, CTL_STATUS, 1);
	m.hdr.reserved = 1;
	raw_send(p->a, buf, wire(&m, buf), NULL, 0);
	expect_refused(p, false, "reserved");
	ctl_msg_request(&m, CTL_STATUS, 1);
	m.hdr.status = -1;
	raw_send(p->a, buf, wire(&m, buf), NULL, 0);
	expect_refused(p, false, "carries a status");
	/* Replies: status must be -errno, state bits known, payload exact. */
	{
		struct ctl_status st = { 0 };

		ctl_msg_reply(&m, CTL_STATUS, 1, 5, &st);
		raw_send(p->a, buf, wire(&m, buf), NULL, 0);
		expect_refused(p, true, "not 0 or -errno");
		ctl_msg_reply(&m, CTL_STATUS, 1, -100000, &st);
		raw_send(p->a, buf, wire(&m, buf), NULL, 0);
		expect_refused(p, true, "not 0 or -errno");
		st.state = 0x80;
		ctl_msg_reply(&m, CTL_STATUS, 1, 0, &st);
		raw_send(p->a, buf, wire(&m, buf), NULL, 0);
		expect_refused(p, true, "unknown bits");
		st.state = 0;
		ctl_msg_reply(&m, CTL_PAUSE, 1, 0, &st);
		m.hdr.payload_len = 8;
		raw_send(p->a, buf, wire(&m, buf), NULL, 0);
		expect_refused(p, true, "lacks its status block");
		ctl_msg_reply(&m, CTL_PAUSE, 1, 0, &st);
		assert_int_equal(ctl_msg_put(&m, "extra", 5), 0);
		raw_send(p->a, buf, wire(&m, buf), NULL, 0);
		expect_refused(p, true, "expected 32");
		/* Balloon: the set request's payload exact; the info reply exact
		 * and without reserved bits (a lying VMM is refused whole). */
		ctl_msg_request(&m, CTL_BALLOON_SET, 1);
		raw_send(p->a, buf, wire(&m, buf), NULL, 0);
		expect_refused(p, false, "'balloon-set' request with 0 payload bytes (expected 8)");
		{
			struct ctl_balloon b = { .reserved = 1 };

			ctl_msg_reply(&m, CTL_BALLOON_INFO, 1, 0, &st);
			assert_int_equal(ctl_msg_put(&m, &b, sizeof(b) - 8), 0);
			raw_send(p->a, buf, wire(&m, buf), NULL, 0);
			expect_refused(p, true, "'balloon-info' reply of 248 payload bytes");
			ctl_msg_reply(&m, CTL_BALLOON_INFO, 1, 0, &st);
			assert_int_equal(ctl_msg_put(&m, &b, sizeof(b)), 0);
			raw_send(p->a, buf, wire(&m, buf), NULL, 0);
			expect_refused(p, true, "reserved bits");
			b.reserved = 0;
			b.stats_valid = 1u << CTL_BALLOON_NSTATS;
			ctl_msg_reply(&m, CTL_BALLOON_INFO, 1, 0, &st);
			assert_int_equal(ctl_msg_put(&m, &b, sizeof(b)), 0);
			raw_send(p->a, buf, wire(&m, buf), NULL, 0);
			expect_refused(p, true, "reserved bits");
			/* A refusal (no balloon) is the status block alone. */
			ctl_msg_reply(&m, CTL_BALLOON_INFO, 1, -ENODEV, &st);
			raw_send(p->a, buf, wire(&m, buf), NULL, 0);
			assert_int_equal(ctl_recv_msg(p->b, true, &out, in_ms(1000), err, sizeof(err)), 0);
		}
		/* Lists: count bounded and matching, entries well-formed. */
		struct ctl_fd_list l = { .count = 1 };
		struct ctl_fd_entry e = { .name = { "ok" }, .kind = CTL_FD_FILE };

		ctl_msg_reply(&m, CTL_LIST_FDS, 1, 0, &st);
		assert_int_equal(ctl_msg_put(&m, &l, sizeof(l)), 0);
		raw_send(p->a, buf, wire(&m, buf), NULL, 0);
		expect_refused(p, true, "for 1 entries");
		l.count = CTL_FDS_MAX + 1;
		ctl_msg_reply(&m, CTL_LIST_FDS, 1, 0, &st);
		assert_int_equal(ctl_msg_put(&m, &l, sizeof(l)), 0);
		raw_send(p->a, buf, wire(&m, buf), NULL, 0);
		expect_refused(p, true, "count 17");
		l.count = 1;
		e.kind = 99;
		ctl_msg_reply(&m, CTL_LIST_FDS, 1, 0, &st);
		assert_int_equal(ctl_msg_put(&m, &l, sizeof(l)), 0);
		assert_int_equal(ctl_msg_put(&m, &e, sizeof(e)), 0);
		raw_send(p->a, buf, wire(&m, buf), NULL, 0);
		expect_refused(p, true, "entry 0 is malformed");
		e.kind = CTL_FD_FILE;
		e.name.name[5] = 'x'; /* junk after the NUL */
		ctl_msg_reply(&m, CTL_LIST_FDS, 1, 0, &st);
		assert_int_equal(ctl_msg_put(&m, &l, sizeof(l)), 0);
		assert_int_equal(ctl_msg_put(&m, &e, sizeof(e)), 0);
		raw_send(p->a, buf, wire(&m, buf), NULL, 0);
		expect_refused(p, true, "entry 0 is malformed");
	}
	/* The refusal still names what the record claimed to be. */
	ctl_msg_request(&m, CTL_STOP, 77);
	m.hdr.flags = 4;
	assert_int_equal(ctl_msg_parse(&m.hdr, sizeof(m.hdr), NULL, 0, false, &out, err,
				       sizeof(err)), -EPROTO);
	assert_int_equal(out.hdr.seq, 77);
	assert_int_equal(out.hdr.type, CTL_STOP);
	assert_int_equal(out.hdr.nfds, 0);
}

static void test_fds_refused_and_closed(void **state)
{
	struct pair *p = *state;
	unsigned char buf[sizeof(struct ctl_hdr) + 256];
	struct ctl_msg m;
	int pfd[2 * 8], wr[8];
	size_t len;

	for (int i = 0; i < 8; i++) {
		assert_int_equal(pipe2(&pfd[2 * i], O_CLOEXEC), 0);
		wr[i] = pfd[2 * i + 1];
	}
	/* More descriptors than a record may carry: MSG_CTRUNC. */
	ctl_msg_request(&m, CTL_STATUS, 1);
	m.hdr.nfds = 8;
	len = wire(&m, buf);
	raw_send(p->a, buf, len, wr, 8);
	expect_refused(p, false, "truncated");
	/* A descriptor the header does not announce. */
	ctl_msg_request(&m, CTL_STATUS, 2);
	raw_send(p->a, buf, wire(&m, buf), wr, 1);
	expect_refused(p, false, "announces 0 descriptors, 1 arrived");
	/* Announced but wrong for the type. */
	ctl_msg_request(&m, CTL_PAUSE, 3);
	m.hdr.nfds = 2;
	raw_send(p->a, buf, wire(&m, buf), wr, 2);
	expect_refused(p, false, "'pause' request with 2 descriptors (expected 0)");
	/* attach-fd: exactly one descriptor, and a valid name. */
	assert_int_equal(ctl_msg_attach_fd(&m, 4, "net0", wr[0]), 0);
	m.hdr.nfds = 2;
	m.fds[1] = wr[1];
	raw_send(p->a, buf, wire(&m, buf), wr, 2);
	expect_refused(p, false, "'attach-fd' request with 2 descriptors (expected 1)");
	assert_int_equal(ctl_msg_attach_fd(&m, 5, "net0", wr[0]), 0);
	m.hdr.nfds = 0;
	raw_send(p->a, buf, wire(&m, buf), NULL, 0);
	expect_refused(p, false, "'attach-fd' request with 0 descriptors (expected 1)");
	assert_int_equal(ctl_msg_attach_fd(&m, 6, "net0", wr[0]), 0);
	m.payload[0] = '0'; /* "0et0": starts with a digit */
	raw_send(p->a, buf, wire(&m, buf), wr, 1);
	expect_refused(p, false, "the name is not");
	assert_int_equal(ctl_msg_attach_fd(&m, 7, "net0", wr[0]), 0);
	m.payload[20] = 'z'; /* junk in the NUL padding */
	raw_send(p->a, buf, wire(&m, buf), wr, 1);
	expect_refused(p, false, "the name is not");
	/* A reply never carries descriptors. */
	{
		struct ctl_status st = { 0 };

		ctl_msg_reply(&m, CTL_STATUS, 8, 0, &st);
		m.hdr.nfds = 1;
		raw_send(p->b, buf, wire(&m, buf), wr, 1);
		struct ctl_msg got;
		char err[256];

		assert_int_equal(ctl_recv_msg(p->a, true, &got, in_ms(1000), err, sizeof(err)),
				 -EPROTO);
		assert_non_null(strstr(err, "replies carry none"));
	}
	/* Every copy the receiver got was closed with its refused record. */
	for (int i = 0; i < 8; i++) {
		close(wr[i]);
		assert_eof(pfd[2 * i]);
	}
}

static void test_deadlines_and_eof(void **state)
{
	struct pair *p = *state;
	struct ctl_msg m;
	char err[256];
	int ret, n = 0;

	assert_int_equal(ctl_recv_msg(p->b, false, &m, CTL_NO_WAIT, err, sizeof(err)), -EAGAIN);
	assert_int_equal(ctl_recv_msg(p->b, false, &m, in_ms(30), err, sizeof(err)), -ETIMEDOUT);
	/* A peer that never reads: the sender stops at its deadline. */
	ctl_msg_request(&m, CTL_STATUS, 1);
	while ((ret = ctl_send_msg(p->a, &m, CTL_NO_WAIT, err, sizeof(err))) == 0 && n < 100000)
		n++;
	assert_int_equal(ret, -EAGAIN);
	assert_int_equal(ctl_send_msg(p->a, &m, in_ms(30), err, sizeof(err)), -ETIMEDOUT);
	assert_true(n > 0);
	/* What was queued still arrives intact, then EOF. */
	assert_int_equal(ctl_recv_msg(p->b, false, &m, CTL_NO_WAIT, err, sizeof(err)), 0);
	shutdown(p->a, SHUT_WR);
	while ((ret = ctl_recv_msg(p->b, false, &m, in_ms(1000), err, sizeof(err))) == 0)
		;
	assert_int_equal(ret, -ECONNRESET);
	m.hdr.payload_len = CTL_PAYLOAD_MAX + 1;
	assert_int_equal(ctl_send_msg(p->b, &m, CTL_NO_WAIT, err, sizeof(err)), -EMSGSIZE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip_plain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_round_trip_fd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_oversized_garbage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_version_and_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fds_refused_and_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deadlines_and_eof, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
