/* ctl_client.c — the daemon's end of the control channel (ctl_proto.h).
 *
 * The VMM at the other end runs as its owner, who can stop it, trace it or
 * replace its answers; so the client trusts nothing about its timing or its
 * records: one overall deadline covers waiting for the channel, connecting
 * (non-blocking, so a full listen backlog of abandoned connections cannot
 * block), sending and receiving; and the first record that is malformed or
 * is not the reply to this request (type or seq) drops the connection —
 * never skipped, since a peer that answers out of turn is not a peer whose
 * next record means anything. See daemon.h for dvm_ctl's contract. */
#include "daemon/daemon.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ctl/ctl_proto.h"
#include "daemon/usock.h"

/* Absolute CLOCK_REALTIME time `ms` from now (pthread_mutex_timedlock). */
static struct timespec realtime_in(int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

/* Wait for `events` on fd until the deadline: 0, -ETIMEDOUT or -errno. */
static int wait_fd(int fd, short events, uint64_t deadline_ns)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		int n = poll(&p, 1, usock_ms_left(deadline_ns));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ETIMEDOUT;
		return 0;
	}
}

int dvm_ctl(struct daemon *d, struct dvm *v, unsigned type, unsigned timeout_ms,
	    uint32_t *state_out, char *err, size_t errlen)
{
	uint64_t deadline = dmn_now_ns() + (uint64_t)timeout_ms * 1000000u;
	unsigned char buf[sizeof(struct ctl_msg) + 1];
	struct ctl_msg req, rep;
	struct timespec lock_by = realtime_in((int)timeout_ms);
	char path[PATH_MAX], why[128];
	ssize_t n;
	int ret;

	/* Another request to this VM may be waiting for its own deadline. */
	ret = pthread_mutex_timedlock(&v->ctl_lock, &lock_by);
	if (ret) {
		snprintf(err, errlen, "VM %s: its VMM is still busy with an earlier control request "
			 "(no answer within %u ms)", v->id, timeout_ms);
		return -ETIMEDOUT;
	}
	if (v->ctl_fd < 0) {
		dvm_path(d, v, "ctl.sock", path, sizeof(path));
		ret = usock_connect(path, SOCK_SEQPACKET, deadline);
		if (ret < 0) {
			snprintf(err, errlen, "VM %s: cannot reach its VMM%s: %s", v->id,
				 ret == -ETIMEDOUT ? " (it accepts no connection)" : "",
				 strerror(-ret));
			goto out;
		}
		v->ctl_fd = ret;
	}
	ctl_msg_request(&req, (enum ctl_type)type, ++v->ctl_seq);
	ret = wait_fd(v->ctl_fd, POLLOUT, deadline);
	if (!ret) {
		n = send(v->ctl_fd, &req, sizeof(req), MSG_NOSIGNAL | MSG_DONTWAIT);
		ret = n == (ssize_t)sizeof(req) ? 0 : n < 0 && errno == EAGAIN ? -ETIMEDOUT : -EPIPE;
	}
	if (ret) {
		if (ret == -ETIMEDOUT)
			snprintf(err, errlen, "VM %s: its VMM did not take '%s' within %u ms", v->id,
				 ctl_type_name(type), timeout_ms);
		else
			snprintf(err, errlen, "VM %s: its VMM is gone", v->id);
		goto drop;
	}
	ret = wait_fd(v->ctl_fd, POLLIN, deadline);
	if (ret) {
		snprintf(err, errlen, "VM %s: its VMM did not answer '%s' within %u ms", v->id,
			 ctl_type_name(type), timeout_ms);
		goto drop;
	}
	n = recv(v->ctl_fd, buf, sizeof(buf), MSG_TRUNC | MSG_DONTWAIT);
	if (n <= 0) {
		ret = n < 0 && errno == EAGAIN ? -ETIMEDOUT : -EPIPE;
		snprintf(err, errlen, "VM %s: its VMM exited", v->id);
		goto drop;
	}
	if (ctl_msg_validate(buf, (size_t)n, true, &rep, why, sizeof(why))) {
		ret = -EPROTO;
		snprintf(err, errlen, "VM %s: bad control reply: %s", v->id, why);
		goto drop;
	}
	if (rep.seq != req.seq || (rep.type & ~CTL_REPLY) != type) {
		ret = -EPROTO;
		snprintf(err, errlen, "VM %s: control reply out of turn ('%s' seq %u to '%s' seq %u)",
			 v->id, ctl_type_name(rep.type), rep.seq, ctl_type_name(type), req.seq);
		goto drop;
	}
	v->stats.exits = rep.exits;
	v->stats.io_exits = rep.io_exits;
	v->stats.mmio_exits = rep.mmio_exits;
	if (state_out)
		*state_out = rep.state;
	ret = rep.status;
	if (ret)
		snprintf(err, errlen, "VM %s: the VMM refused '%s': %s", v->id, ctl_type_name(type),
			 strerror(-ret));
	goto out;
drop:
	close(v->ctl_fd);
	v->ctl_fd = -1;
out:
	pthread_mutex_unlock(&v->ctl_lock);
	return ret;
}
