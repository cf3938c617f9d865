/* exec_session.c — the host end of the agent protocol (exec_session.h). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli/exec_session.h"

#define OUT_CAP (2 * (AP_HDR_LEN + AP_MAX_PAYLOAD) + 4096)
#define STDIN_CHUNK (16 * 1024)

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t deadline_in(int ms)
{
	return ms > 0 ? now_ns() + (int64_t)ms * 1000000 : 0;
}

/* Milliseconds left until deadline (0 = none: -1 for poll). */
static int ms_left(int64_t deadline)
{
	if (!deadline)
		return -1;
	int64_t left = deadline - now_ns();

	if (left <= 0)
		return 0;
	return left / 1000000 > 0x7fffffff ? 0x7fffffff : (int)((left + 999999) / 1000000);
}

int exec_session_init(struct exec_session *s, int fd)
{
	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->dec = malloc(sizeof(*s->dec));
	s->out = malloc(OUT_CAP);
	if (!s->dec || !s->out) {
		exec_session_free(s);
		return -ENOMEM;
	}
	ap_dec_init(s->dec);
	return 0;
}

void exec_session_free(struct exec_session *s)
{
	free(s->dec);
	free(s->out);
	s->dec = NULL;
	s->out = NULL;
}

/* Write what is pending without blocking: 0, or -errno (-EPIPE: gone). */
static int out_push(struct exec_session *s)
{
	while (s->out_have) {
		ssize_t n = send(s->fd, s->out, s->out_have, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n < 0)
			return -errno;
		memmove(s->out, s->out + n, s->out_have - (size_t)n);
		s->out_have -= (size_t)n;
	}
	return 0;
}

/* Write everything pending, waiting until deadline. */
static int out_flush(struct exec_session *s, int64_t deadline)
{
	for (;;) {
		int r = out_push(s);

		if (r || !s->out_have)
			return r;
		struct pollfd p = { s->fd, POLLOUT, 0 };
		int left = ms_left(deadline);

		if (!left)
			return -ETIMEDOUT;
		if (poll(&p, 1, left) < 0 && errno != EINTR)
			return -errno;
	}
}

/* Queue one frame (flushing first if it does not fit). */
static int queue_frame(struct exec_session *s, uint8_t stream, uint8_t type, const void *p,
		       uint32_t len, int64_t deadline)
{
	if (OUT_CAP - s->out_have < AP_HDR_LEN + len) {
		int r = out_flush(s, deadline);

		if (r)
			return r;
	}
	int r = ap_hdr_encode(s->out + s->out_have, stream, type, len);

	if (r)
		return r;
	if (len)
		memcpy(s->out + s->out_have + AP_HDR_LEN, p, len);
	s->out_have += AP_HDR_LEN + len;
	return 0;
}

/* Read from the agent into the decoder once. 1 read, 0 EOF, -errno. */
static int sock_fill(struct exec_session *s)
{
	uint8_t *space;
	size_t room = ap_dec_space(s->dec, &space);

	if (!room)
		return s->dec->broken ? -EPROTO : 1;
	ssize_t n = recv(s->fd, space, room, MSG_DONTWAIT);

	if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
		return 1;
	if (n < 0)
		return -errno;
	if (n == 0)
		return 0;
	ap_dec_commit(s->dec, (size_t)n);
	return 1;
}

/* Next frame, waiting until deadline while flushing what is pending.
 * 1 = frame, -ETIMEDOUT, -EPIPE (agent gone), -EPROTO (bad frame). */
static int next_frame(struct exec_session *s, struct ap_frame *f, int64_t deadline)
{
	for (;;) {
		int r = ap_dec_next(s->dec, f);

		if (r)
			return r;
		r = out_push(s);
		if (r)
			return r;
		struct pollfd p = { s->fd, POLLIN | (s->out_have ? POLLOUT : 0), 0 };
		int left = ms_left(deadline);

		if (!left)
			return -ETIMEDOUT;
		if (poll(&p, 1, left) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			r = sock_fill(s);
			if (r == 0)
				return -EPIPE;
			if (r < 0)
				return r;
		}
	}
}

static void describe(int r, const char *what, char *err, size_t errlen)
{
	if (r == -ETIMEDOUT)
		snprintf(err, errlen, "%s: the guest agent did not answer in time", what);
	else if (r == -EPROTO)
		snprintf(err, errlen, "%s: the guest agent broke the protocol", what);
	else if (r == -EPIPE || r == -ECONNRESET)
		snprintf(err, errlen, "%s: the connection to the guest agent closed", what);
	else
		snprintf(err, errlen, "%s: %s", what, strerror(-r));
}

/* Wait for OK or ERROR on the control stream; anything else is a violation. */
static int wait_ok(struct exec_session *s, int64_t deadline, const char *what, uint64_t *val,
		   char *err, size_t errlen)
{
	struct ap_frame f;
	int r = next_frame(s, &f, deadline);

	if (r < 0) {
		describe(r, what, err, errlen);
		return r;
	}
	if (f.stream == AP_S_CONTROL && f.type == AP_T_OK) {
		if (val)
			*val = f.len == 8 ? ap_get_u64(f.payload) : 0;
		return 0;
	}
	if (f.stream == AP_S_CONTROL && f.type == AP_T_ERROR) {
		int n = (int)f.len;

		/* the agent's text, with anything unprintable replaced */
		snprintf(err, errlen, "%s: %.*s", what, n, (const char *)f.payload);
		for (char *c = err; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				*c = '?';
		return -EIO;
	}
	snprintf(err, errlen, "%s: unexpected frame (stream %u, type %u) from the guest agent",
		 what, f.stream, f.type);
	return -EPROTO;
}

int exec_session_hello(struct exec_session *s, int timeout_ms, char *err, size_t errlen)
{
	struct ap_frame f;
	int r = next_frame(s, &f, deadline_in(timeout_ms));

	if (r < 0) {
		describe(r, "hello", err, errlen);
		return r;
	}
	if (f.stream != AP_S_CONTROL || f.type != AP_T_HELLO) {
		snprintf(err, errlen, "hello: the guest agent spoke first with something else");
		return -EPROTO;
	}
	if (ap_get_u32(f.payload) != AP_VERSION) {
		snprintf(err, errlen, "the guest agent speaks protocol version %u, not %u "
			 "(rebuild the exec guest: make exec-guest)", ap_get_u32(f.payload), AP_VERSION);
		return -EPROTO;
	}
	return 0;
}

int exec_session_sync(struct exec_session *s, int timeout_ms, char *err, size_t errlen)
{
	int64_t dl = deadline_in(timeout_ms);
	uint8_t rnd[64], clk[8];
	struct timespec ts;
	int r;

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		snprintf(err, errlen, "getrandom: %s", strerror(errno));
		return -errno;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	ap_put_u64(clk, (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec);
	r = queue_frame(s, AP_S_CONTROL, AP_T_RESEED, rnd, sizeof(rnd), dl);
	if (!r)
		r = queue_frame(s, AP_S_CONTROL, AP_T_CLOCK, clk, sizeof(clk), dl);
	explicit_bzero(rnd, sizeof(rnd));
	if (r) {
		describe(r, "reseed", err, errlen);
		return r;
	}
	r = wait_ok(s, dl, "reseeding the guest's RNG", NULL, err, errlen);
	if (!r)
		r = wait_ok(s, dl, "stepping the guest's clock", NULL, err, errlen);
	return r;
}

struct copy_emit {
	struct exec_session *s;
	int64_t deadline;
	uint8_t buf[32 * 1024];
	size_t have;
};

static int copy_emit(void *ctx, const void *p, size_t n)
{
	struct copy_emit *e = ctx;
	const uint8_t *b = p;

	while (n) {
		size_t k = sizeof(e->buf) - e->have;

		if (k > n)
			k = n;
		memcpy(e->buf + e->have, b, k);
		e->have += k;
		b += k;
		n -= k;
		if (e->have == sizeof(e->buf)) {
			int r = queue_frame(e->s, AP_S_COPY, AP_T_DATA, e->buf, (uint32_t)e->have,
					    e->deadline);

			if (r)
				return r;
			e->have = 0;
		}
	}
	return 0;
}

int exec_session_copy_in(struct exec_session *s, const char *host, const char *guest,
			 uint32_t uid, uint32_t gid, const struct ap_tar_caps *caps,
			 int timeout_ms, char *err, size_t errlen)
{
	struct copy_emit *e = calloc(1, sizeof(*e));
	uint8_t hdr[8 + AP_JOB_MAX_STR];
	size_t glen = strlen(guest);
	struct ap_tar_stats st;
	char werr[300] = "";
	int r, w;

	if (!e)
		return -ENOMEM;
	e->s = s;
	e->deadline = deadline_in(timeout_ms);
	if (!glen || glen > AP_JOB_MAX_STR || guest[0] != '/') {
		snprintf(err, errlen, "--copy-in %s:%s: the guest path must be absolute", host,
			 guest);
		free(e);
		return -EINVAL;
	}
	ap_put_u32(hdr, uid);
	ap_put_u32(hdr + 4, gid);
	memcpy(hdr + 8, guest, glen);
	r = queue_frame(s, AP_S_CONTROL, AP_T_COPY_IN, hdr, (uint32_t)(8 + glen), e->deadline);
	if (r) {
		describe(r, "copy-in", err, errlen);
		free(e);
		return r;
	}
	w = ap_tar_write(host, caps, copy_emit, e, &st, werr, sizeof(werr));
	if (w == -ETIMEDOUT || w == -EPIPE || w == -ECONNRESET) {
		describe(w, "copy-in", err, errlen);
		free(e);
		return w;
	}
	/* Whatever the host side found, end the stream so both ends stay in
	 * step (a half archive is refused by the agent). */
	r = e->have && !w ? queue_frame(s, AP_S_COPY, AP_T_DATA, e->buf, (uint32_t)e->have,
					 e->deadline) : 0;
	if (!r)
		r = queue_frame(s, AP_S_COPY, AP_T_EOF, NULL, 0, e->deadline);
	if (r) {
		describe(r, "copy-in", err, errlen);
		free(e);
		return r;
	}
	char aerr[512];

	r = wait_ok(s, e->deadline, "copy-in", NULL, aerr, sizeof(aerr));
	free(e);
	if (w) {
		snprintf(err, errlen, "--copy-in %s: %s", host, werr);
		return w;
	}
	if (r)
		snprintf(err, errlen, "--copy-in %s:%s: %s", host, guest, aerr);
	return r;
}

int exec_session_copy_out(struct exec_session *s, const char *guest, const char *host,
			  const struct ap_tar_caps *caps, int timeout_ms, uint64_t *skipped,
			  char *err, size_t errlen)
{
	int64_t dl = deadline_in(timeout_ms);
	struct ap_untar *u = calloc(1, sizeof(*u));
	size_t glen = strlen(guest);
	int r, ux;

	if (!u)
		return -ENOMEM;
	if (!glen || glen > AP_JOB_MAX_STR || guest[0] != '/') {
		snprintf(err, errlen, "--copy-out %s:%s: the guest path must be absolute", guest,
			 host);
		free(u);
		return -EINVAL;
	}
	ux = ap_untar_init(u, host, caps);
	if (ux) {
		snprintf(err, errlen, "--copy-out %s:%s: %s", guest, host, u->err);
		free(u);
		return ux;
	}
	r = queue_frame(s, AP_S_CONTROL, AP_T_COPY_OUT, guest, (uint32_t)glen, dl);
	while (!r) {
		struct ap_frame f;

		r = next_frame(s, &f, dl);
		if (r < 0)
			break;
		if (f.stream != AP_S_COPY) {
			r = -EPROTO;
			break;
		}
		if (f.type == AP_T_EOF) {
			r = 0;
			break;
		}
		/* After a host-side refusal keep reading (and dropping) up to the
		 * EOF: the stream stays in step, nothing more is written. */
		if (!ux)
			ux = ap_untar_feed(u, f.payload, f.len);
		r = 0;
	}
	if (r) {
		(void)!ap_untar_end(u);
		describe(r, "copy-out", err, errlen);
		free(u);
		return r;
	}
	char aerr[512];

	r = wait_ok(s, dl, "copy-out", skipped, aerr, sizeof(aerr));
	int ue = ap_untar_end(u);

	if (r) {
		snprintf(err, errlen, "--copy-out %s:%s: %s", guest, host, aerr);
	} else if (ux || ue) {
		snprintf(err, errlen, "--copy-out %s:%s: %s", guest, host, u->err);
		r = ux ? ux : ue;
	}
	free(u);
	return r;
}

/* Write program output to the host within the cap; the rest is counted. */
static void emit_output(int fd, const uint8_t *p, size_t n, uint64_t *written,
			struct exec_result *r, uint64_t cap)
{
	uint64_t used = r->out_bytes + r->err_bytes;
	size_t k = used >= cap ? 0 : (n < cap - used ? n : (size_t)(cap - used));

	for (size_t off = 0; off < k;) {
		ssize_t w = write(fd, p + off, k - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) { /* a reader that went away: the rest is dropped */
			k = off;
			break;
		}
		off += (size_t)w;
	}
	*written += k;
	r->dropped += n - k;
}

/* The session is over: the agent (or the VM) failed; says why. Yields 0. */
#define lost(r, ...) ((r)->outcome = EXEC_LOST, snprintf((r)->msg, sizeof((r)->msg), __VA_ARGS__), 0)

/* One frame during a job. 1 = the job is over (r filled), 0 = go on. */
static int job_frame(const struct ap_frame *f, const struct exec_io *io,
		     struct exec_result *r, bool *started)
{
	if (f->stream == AP_S_STDOUT || f->stream == AP_S_STDERR) {
		if (!*started)
			return lost(r, "the guest agent sent output before the program started "
				    "(stream %u type %u)", f->stream, f->type) + 1;
		if (f->type == AP_T_DATA)
			emit_output(f->stream == AP_S_STDOUT ? io->out_fd : io->err_fd, f->payload,
				    f->len, f->stream == AP_S_STDOUT ? &r->out_bytes : &r->err_bytes,
				    r, io->output_max);
		return 0;
	}
	if (f->stream != AP_S_CONTROL)
		return lost(r, "unexpected frame (stream %u, type %u) from the guest agent",
			    f->stream, f->type) + 1;
	if (f->type == AP_T_STARTED && !*started) {
		*started = true;
		return 0;
	}
	if (f->type == AP_T_ERROR && !*started) {
		r->outcome = EXEC_SETUP_FAILED;
		snprintf(r->msg, sizeof(r->msg), "the guest agent refused the job: %.*s",
			 (int)(f->len < 400 ? f->len : 400), (const char *)f->payload);
		for (char *c = r->msg; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				*c = '?';
		return 1;
	}
	if (f->type == AP_T_EXIT) {
		struct ap_exit e;

		if (ap_exit_decode(f->payload, f->len, &e))
			return lost(r, "the guest agent sent a malformed exit status") + 1;
		bool ran = e.kind == AP_EXIT_CODE || e.kind == AP_EXIT_SIGNAL;

		/* An exit status for a program that never started is a lie
		 * (hostile-guests.md 35); a failure to start must come before. */
		if (ran != *started)
			return lost(r, "the guest agent claimed an exit status out of order") + 1;
		r->oom_kills = e.oom_kills;
		r->code = e.value;
		switch (e.kind) {
		case AP_EXIT_CODE:
			r->outcome = EXEC_EXITED;
			break;
		case AP_EXIT_SIGNAL:
			r->outcome = EXEC_SIGNALED;
			break;
		case AP_EXIT_NOT_FOUND:
			r->outcome = EXEC_NOT_FOUND;
			break;
		case AP_EXIT_CANNOT_INVOKE:
			r->outcome = EXEC_CANNOT_INVOKE;
			break;
		default:
			r->outcome = EXEC_SETUP_FAILED;
			snprintf(r->msg, sizeof(r->msg), "the guest agent could not set up the "
				 "program: %s", strerror(e.value));
		}
		if (e.kind == AP_EXIT_NOT_FOUND || e.kind == AP_EXIT_CANNOT_INVOKE)
			snprintf(r->msg, sizeof(r->msg), "cannot run the program: %s",
				 strerror(e.value));
		return 1;
	}
	return lost(r, "unexpected control frame type %u from the guest agent", f->type) + 1;
}

int exec_session_run(struct exec_session *s, const uint8_t *job, size_t job_len,
		     const struct exec_io *io, struct exec_result *r)
{
	int64_t deadline = 0;
	bool started = false, in_open = io->in_fd >= 0;
	int nsig = 0, ret;
	uint8_t chunk[STDIN_CHUNK];

	memset(r, 0, sizeof(*r));
	if (job_len > AP_MAX_PAYLOAD)
		return -E2BIG;
	ret = queue_frame(s, AP_S_CONTROL, AP_T_JOB, job, (uint32_t)job_len, 0);
	if (ret)
		return lost(r, "sending the job failed");
	if (!in_open)
		(void)!queue_frame(s, AP_S_STDIN, AP_T_EOF, NULL, 0, 0);
	if (io->timeout_ms > 0)
		deadline = now_ns() + (int64_t)io->timeout_ms * 1000000;
	for (;;) {
		struct pollfd p[4];
		int n = 0, is = 0, ii = -1, ig = -1, iv = -1;
		struct ap_frame f;

		while ((ret = ap_dec_next(s->dec, &f)) == 1)
			if (job_frame(&f, io, r, &started))
				return 0;
		if (ret < 0)
			return lost(r, "the guest agent sent a malformed frame");
		if (out_push(s))
			return lost(r, "the connection to the guest agent failed");
		p[n++] = (struct pollfd){ s->fd, POLLIN | (s->out_have ? POLLOUT : 0), 0 };
		if (in_open && started && OUT_CAP - s->out_have >= AP_HDR_LEN + STDIN_CHUNK) {
			ii = n;
			p[n++] = (struct pollfd){ io->in_fd, POLLIN, 0 };
		}
		if (io->sig_fd >= 0) {
			ig = n;
			p[n++] = (struct pollfd){ io->sig_fd, POLLIN, 0 };
		}
		if (io->boot_check_fd >= 0) {
			iv = n;
			p[n++] = (struct pollfd){ io->boot_check_fd, POLLIN, 0 };
		}
		int left = ms_left(deadline);

		if (!left) {
			r->outcome = EXEC_TIMED_OUT;
			snprintf(r->msg, sizeof(r->msg), "the program ran past --timeout (%d ms)",
				 io->timeout_ms);
			return 0;
		}
		if (poll(p, (nfds_t)n, left) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (p[is].revents & (POLLIN | POLLHUP | POLLERR)) {
			ret = sock_fill(s);
			if (ret <= 0) {
				while (ap_dec_next(s->dec, &f) == 1)
					if (job_frame(&f, io, r, &started))
						return 0;
				r->outcome = EXEC_LOST;
				snprintf(r->msg, sizeof(r->msg), "the connection to the guest agent "
					 "closed before the program's exit status came");
				return 0;
			}
		}
		if (ii >= 0 && p[ii].revents) {
			ssize_t k = read(io->in_fd, chunk, sizeof(chunk));

			if (k > 0) {
				ret = queue_frame(s, AP_S_STDIN, AP_T_DATA, chunk, (uint32_t)k, 0);
			} else if (k == 0 || (errno != EINTR && errno != EAGAIN)) {
				in_open = false;
				ret = queue_frame(s, AP_S_STDIN, AP_T_EOF, NULL, 0, 0);
			}
			if (ret)
				return lost(r, "the connection to the guest agent failed");
		}
		if (ig >= 0 && p[ig].revents) {
			struct signalfd_siginfo si;

			if (read(io->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				if (si.ssi_signo == SIGWINCH) {
					struct winsize ws;

					if (io->tty_fd >= 0 && !ioctl(io->tty_fd, TIOCGWINSZ, &ws)) {
						uint8_t b[4] = { (uint8_t)ws.ws_row,
								 (uint8_t)(ws.ws_row >> 8),
								 (uint8_t)ws.ws_col,
								 (uint8_t)(ws.ws_col >> 8) };

						(void)!queue_frame(s, AP_S_CONTROL, AP_T_WINSIZE, b,
								   4, 0);
					}
				} else if (++nsig >= 2) {
					/* the program ignored it: the user insists */
					r->outcome = EXEC_INTERRUPTED;
					r->code = (int)si.ssi_signo;
					snprintf(r->msg, sizeof(r->msg), "interrupted by signal %u "
						 "twice: the VM was stopped", si.ssi_signo);
					return 0;
				} else {
					uint8_t b[4];

					ap_put_u32(b, si.ssi_signo);
					(void)!queue_frame(s, AP_S_CONTROL, AP_T_SIGNAL, b, 4, 0);
				}
			}
		}
		if (iv >= 0 && p[iv].revents) {
			/* the VM ended; take what the agent still sent, then stop */
			for (int k = 0; k < 64; k++) {
				int fr = sock_fill(s);

				while (ap_dec_next(s->dec, &f) == 1)
					if (job_frame(&f, io, r, &started))
						return 0;
				if (fr <= 0)
					break;
			}
			r->outcome = EXEC_LOST;
			snprintf(r->msg, sizeof(r->msg), "the VM stopped before the program's exit "
				 "status came");
			return 0;
		}
	}
}
