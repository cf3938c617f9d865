/* agent.c — the guest agent's main loop: the connection, control requests
 * (clock, entropy) and copy-in/out (agent.h). Jobs: job.c. */
#include <errno.h>
#include <fcntl.h>
#include <linux/random.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "agentproto/tar_stream.h"

#define COPY_MAX_BYTES (1ull << 30)
#define COPY_MAX_ENTRIES 100000

int agent_send(struct agent *a, uint8_t stream, uint8_t type, const void *p, uint32_t len)
{
	uint8_t hdr[AP_HDR_LEN];
	struct iovec iov[2] = { { hdr, sizeof(hdr) }, { (void *)(uintptr_t)p, len } };
	size_t left = sizeof(hdr) + len;
	int r = ap_hdr_encode(hdr, stream, type, len);

	if (r)
		return r;
	while (left) {
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
		ssize_t n = sendmsg(a->conn, &mh, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct pollfd pfd = { a->conn, POLLOUT, 0 };

			poll(&pfd, 1, -1);
			continue;
		}
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		left -= (size_t)n;
		for (int i = 0; i < 2 && n; i++) {
			size_t k = (size_t)n < iov[i].iov_len ? (size_t)n : iov[i].iov_len;

			iov[i].iov_base = (uint8_t *)iov[i].iov_base + k;
			iov[i].iov_len -= k;
			n -= (ssize_t)k;
		}
	}
	return 0;
}

int agent_send_error(struct agent *a, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);

	va_end(ap);
	if (n < 1)
		n = snprintf(msg, sizeof(msg), "error");
	if ((size_t)n >= sizeof(msg))
		n = sizeof(msg) - 1;
	return agent_send(a, AP_S_CONTROL, AP_T_ERROR, msg, (uint32_t)n);
}

int agent_fill(struct agent *a)
{
	uint8_t *space;
	size_t room = ap_dec_space(a->dec, &space);

	if (!room)
		return -EPROTO; /* the caller takes frames before reading more */
	for (;;) {
		ssize_t n = read(a->conn, space, room);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct pollfd pfd = { a->conn, POLLIN, 0 };

			poll(&pfd, 1, -1);
			continue;
		}
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		ap_dec_commit(a->dec, (size_t)n);
		return 1;
	}
}

/* Next frame, blocking. 1 = frame, 0 = host gone, -errno. */
static int next_frame(struct agent *a, struct ap_frame *f)
{
	for (;;) {
		int r = ap_dec_next(a->dec, f);

		if (r)
			return r;
		r = agent_fill(a);
		if (r <= 0)
			return r;
	}
}

static int do_reseed(struct agent *a, const struct ap_frame *f)
{
	/* struct rand_pool_info ends in a flexible array: header + bytes */
	union {
		struct rand_pool_info info;
		uint8_t raw[sizeof(struct rand_pool_info) + 256];
	} rp;
	int fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return agent_send_error(a, "reseed: /dev/urandom: %s", strerror(errno));
	rp.info.entropy_count = (int)f->len * 8;
	rp.info.buf_size = (int)f->len;
	memcpy(rp.raw + sizeof(struct rand_pool_info), f->payload, f->len);
	/* RNDADDENTROPY credits the entropy (needs CAP_SYS_ADMIN: the agent has
	 * it); a plain write mixes without credit where the ioctl is refused. */
	int r = ioctl(fd, RNDADDENTROPY, &rp.info);

	if (r < 0 && write(fd, f->payload, f->len) != (ssize_t)f->len) {
		int e = errno;

		close(fd);
		return agent_send_error(a, "reseed: %s", strerror(e));
	}
	close(fd);
	return agent_send(a, AP_S_CONTROL, AP_T_OK, NULL, 0);
}

static int do_clock(struct agent *a, const struct ap_frame *f)
{
	uint64_t ns = ap_get_u64(f->payload);
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000ull),
			       .tv_nsec = (long)(ns % 1000000000ull) };

	if (clock_settime(CLOCK_REALTIME, &ts) < 0)
		return agent_send_error(a, "clock: %s", strerror(errno));
	return agent_send(a, AP_S_CONTROL, AP_T_OK, NULL, 0);
}

/* COPY_IN: extract the COPY stream that follows into the guest path. */
static int do_copy_in(struct agent *a, const struct ap_frame *f)
{
	static struct ap_untar u; /* 1 KiB of state; one copy at a time */
	const struct ap_tar_caps caps = { COPY_MAX_BYTES, COPY_MAX_ENTRIES };
	char path[AP_JOB_MAX_STR + 1];
	uint32_t uid, gid;
	int err, r;

	err = ap_copy_in_decode(f->payload, f->len, &uid, &gid, path, sizeof(path), u.err,
				sizeof(u.err));
	if (err) {
		u.parent_fd = u.root_fd = u.file_fd = -1;
	} else {
		err = ap_untar_init_at(&u, a->root_fd, path, &caps);
		u.uid = uid;
		u.gid = gid;
	}
	/* Consume the stream up to its EOF whatever happened, so the
	 * conversation stays in step. */
	for (;;) {
		struct ap_frame d;

		r = next_frame(a, &d);
		if (r <= 0)
			return r ? r : -EPIPE;
		if (d.stream != AP_S_COPY) {
			(void)!ap_untar_end(&u);
			r = agent_send_error(a, "copy-in: frame of stream %u inside the copy",
					     d.stream);
			return r ? r : -EPROTO;
		}
		if (d.type == AP_T_EOF)
			break;
		if (!err)
			err = ap_untar_feed(&u, d.payload, d.len);
	}
	r = ap_untar_end(&u); /* always: releases the descriptors */
	if (!err)
		err = r;
	if (err)
		return agent_send_error(a, "copy-in to %.200s: %s", path, u.err);
	return agent_send(a, AP_S_CONTROL, AP_T_OK, NULL, 0);
}

struct emit_ctx {
	struct agent *a;
	uint8_t buf[32 * 1024];
	size_t have;
};

static int copy_emit(void *ctx, const void *buf, size_t n)
{
	struct emit_ctx *e = ctx;
	const uint8_t *p = buf;

	while (n) {
		size_t k = sizeof(e->buf) - e->have;

		if (k > n)
			k = n;
		memcpy(e->buf + e->have, p, k);
		e->have += k;
		p += k;
		n -= k;
		if (e->have == sizeof(e->buf)) {
			int r = agent_send(e->a, AP_S_COPY, AP_T_DATA, e->buf, (uint32_t)e->have);

			if (r)
				return r;
			e->have = 0;
		}
	}
	return 0;
}

/* COPY_OUT: send the guest path as a tar stream, EOF, then OK or ERROR.
 * Resolved inside the program root: a symlink the program planted points
 * inside that root, and a symlink at the path itself is refused. */
static int do_copy_out(struct agent *a, const struct ap_frame *f)
{
	static struct emit_ctx e;
	const struct ap_tar_caps caps = { COPY_MAX_BYTES, COPY_MAX_ENTRIES };
	struct ap_tar_stats st;
	char path[AP_JOB_MAX_STR + 1], err[300] = "";
	int r;

	memcpy(path, f->payload, f->len);
	path[f->len] = 0;
	e.a = a;
	e.have = 0;
	if (memchr(path, 0, f->len) || path[0] != '/') {
		snprintf(err, sizeof(err), "'%.200s' is not an absolute path", path);
		r = -EINVAL;
	} else {
		r = ap_tar_write_at(a->root_fd, path, &caps, copy_emit, &e, &st, err, sizeof(err));
	}
	if (r == -EPIPE || r == -ECONNRESET)
		return r;
	if (!r && e.have)
		r = agent_send(a, AP_S_COPY, AP_T_DATA, e.buf, (uint32_t)e.have);
	int s = agent_send(a, AP_S_COPY, AP_T_EOF, NULL, 0);

	if (s)
		return s;
	if (r)
		return agent_send_error(a, "copy-out of %.200s: %s", path, err);
	uint8_t skipped[8];

	ap_put_u64(skipped, st.skipped);
	return agent_send(a, AP_S_CONTROL, AP_T_OK, skipped, 8);
}

static int serve(struct agent *a)
{
	static struct ap_job job;
	uint8_t hello[4];
	int r;

	ap_put_u32(hello, AP_VERSION);
	r = agent_send(a, AP_S_CONTROL, AP_T_HELLO, hello, 4);
	if (r)
		return r;
	for (;;) {
		struct ap_frame f;
		char err[200];

		r = next_frame(a, &f);
		if (r <= 0)
			return r;
		if (f.stream != AP_S_CONTROL) {
			/* late stdin after a job ended, etc.: harmless, dropped */
			continue;
		}
		switch (f.type) {
		case AP_T_RESEED:
			r = do_reseed(a, &f);
			break;
		case AP_T_CLOCK:
			r = do_clock(a, &f);
			break;
		case AP_T_COPY_IN:
			r = do_copy_in(a, &f);
			break;
		case AP_T_COPY_OUT:
			r = do_copy_out(a, &f);
			break;
		case AP_T_JOB:
			if (ap_job_decode(f.payload, f.len, &job, err, sizeof(err)))
				r = agent_send_error(a, "%s", err);
			else
				r = agent_run_job(a, &job);
			break;
		case AP_T_SIGNAL:
		case AP_T_WINSIZE:
			r = 0; /* no job running: nothing to deliver to */
			break;
		default:
			r = agent_send_error(a, "unexpected control frame type %u", f.type);
		}
		if (r)
			return r;
	}
}

/* Enable the controllers the job cgroups use and size memory.max so the
 * agent keeps room to report a guest OOM. */
static void setup_cgroups(struct agent *a)
{
	char p[300];
	int fd;
	struct sysinfo si;

	snprintf(p, sizeof(p), "%s/cgroup.subtree_control", a->cgroup);
	fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "agent: no cgroup v2 at %s: jobs run without a cgroup\n",
			a->cgroup);
		a->cgroup[0] = 0;
		return;
	}
	for (const char *const *c = (const char *const[]){ "+memory", "+pids", "+cpu", NULL };
	     *c; c++)
		if (write(fd, *c, strlen(*c)) < 0)
			fprintf(stderr, "agent: cgroup controller %s: %s\n", *c, strerror(errno));
	close(fd);
	if (!sysinfo(&si)) {
		uint64_t total = (uint64_t)si.totalram * si.mem_unit;
		uint64_t reserve = total / 8 > (24u << 20) ? total / 8 : (24u << 20);

		a->mem_max = total > 2 * reserve ? total - reserve : total / 2;
	}
}

static int listen_vsock(unsigned port, int backlog)
{
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY,
				  .svm_port = port };
	int s = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (s < 0) {
		fprintf(stderr, "agent: vsock socket: %s\n", strerror(errno));
		return -1;
	}
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s, backlog) < 0) {
		fprintf(stderr, "agent: vsock port %u: %s\n", port, strerror(errno));
		close(s);
		return -1;
	}
	printf("bulkhead-agent: listening on vsock port %u\n", port);
	fflush(stdout);
	return s;
}

/* The next connection from the host (CID 2), or -1. Connections from
 * anywhere else (a guest process over a loopback transport) are closed
 * unanswered: only the host may speak for the host. */
static int accept_host(int s)
{
	for (;;) {
		struct sockaddr_vm peer;
		socklen_t len = sizeof(peer);
		int c = accept4(s, (struct sockaddr *)&peer, &len, SOCK_CLOEXEC);

		if (c < 0 && errno == EINTR)
			continue;
		if (c < 0) {
			fprintf(stderr, "agent: accept: %s\n", strerror(errno));
			return -1;
		}
		if (len >= sizeof(peer) && peer.svm_family == AF_VSOCK &&
		    peer.svm_cid == VMADDR_CID_HOST)
			return c;
		fprintf(stderr, "agent: refused a connection from vsock CID %u (not the host)\n",
			len >= sizeof(peer) ? peer.svm_cid : 0u);
		close(c);
	}
}

int main(int argc, char **argv)
{
	static struct ap_dec dec;
	struct agent a = { .conn = -1 };
	const char *root = "/", *cg = "";
	unsigned port = AP_PORT;
	bool keep_serving = false;
	int fd = -1, ls, r;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--port") && i + 1 < argc)
			port = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--fd") && i + 1 < argc)
			fd = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--root") && i + 1 < argc)
			root = argv[++i];
		else if (!strcmp(argv[i], "--cgroup") && i + 1 < argc)
			cg = argv[++i];
		else if (!strcmp(argv[i], "--serve"))
			keep_serving = true;
		else {
			fprintf(stderr, "usage: bulkhead-agent [--port N [--serve] | --fd N] "
					"[--root DIR] [--cgroup CGROUP2_DIR]\n");
			return 2;
		}
	}
	prctl(PR_SET_DUMPABLE, 0);
	a.dec = &dec;
	a.root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (a.root_fd < 0) {
		fprintf(stderr, "agent: root %s: %s\n", root, strerror(errno));
		return 1;
	}
	a.root_is_slash = !strcmp(root, "/");
	snprintf(a.cgroup, sizeof(a.cgroup), "%s", cg);
	if (a.cgroup[0])
		setup_cgroups(&a);
	if (fd >= 0) {
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		ap_dec_init(&dec);
		a.conn = fd;
		r = serve(&a);
		goto out;
	}
	ls = listen_vsock(port, keep_serving ? 4 : 1);
	if (ls < 0)
		return 1;
	/* One host connection at a time. Without --serve, one only: the
	 * listener is closed once the host is connected, so nobody else (the
	 * program included) can connect to the agent afterwards. With --serve
	 * (a VM that runs many sessions: bulkheadd's exec), the listener stays
	 * open but only the host's connections are accepted, and each job's
	 * cgroup is killed whole when it ends, so nothing of a program outlives
	 * its session's job. */
	for (;;) {
		a.conn = accept_host(ls);
		if (a.conn < 0) {
			close(ls);
			return 1;
		}
		if (!keep_serving)
			close(ls);
		ap_dec_init(&dec);
		r = serve(&a);
		if (!keep_serving)
			break;
		if (r < 0 && r != -EPIPE && r != -ECONNRESET)
			fprintf(stderr, "agent: connection ended: %s\n", strerror(-r));
		close(a.conn);
		a.conn = -1;
	}
out:
	if (r < 0 && r != -EPIPE && r != -ECONNRESET)
		fprintf(stderr, "agent: connection ended: %s\n", strerror(-r));
	return r < 0 && r != -EPIPE && r != -ECONNRESET ? 1 : 0;
}
