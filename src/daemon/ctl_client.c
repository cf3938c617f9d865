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

int dvm_ctl(struct daemon *d, struct dvm *v, unsigned type, unsigned timeout_ms,
	    uint32_t *state_out, char *err, size_t errlen)
{
	return dvm_ctl_ex(d, v, type, 0, NULL, timeout_ms, state_out, err, errlen);
}

static int ctl_do(struct daemon *d, struct dvm *v, unsigned type, uint64_t arg, int sfd,
		  int mfd, struct ctl_balloon *balloon_out, unsigned timeout_ms,
		  uint32_t *state_out, char *err, size_t errlen);

int dvm_ctl_ex(struct daemon *d, struct dvm *v, unsigned type, uint64_t arg,
	       struct ctl_balloon *balloon_out, unsigned timeout_ms, uint32_t *state_out,
	       char *err, size_t errlen)
{
	return ctl_do(d, v, type, arg, -1, -1, balloon_out, timeout_ms, state_out, err, errlen);
}

int dvm_ctl_snapshot(struct daemon *d, struct dvm *v, uint32_t flags, int state_fd, int mem_fd,
		     unsigned timeout_ms, uint32_t *state_out, char *err, size_t errlen)
{
	return ctl_do(d, v, CTL_SNAPSHOT, flags, state_fd, mem_fd, NULL, timeout_ms, state_out,
		      err, errlen);
}

static int ctl_do(struct daemon *d, struct dvm *v, unsigned type, uint64_t arg, int sfd,
		  int mfd, struct ctl_balloon *balloon_out, unsigned timeout_ms,
		  uint32_t *state_out, char *err, size_t errlen)
{
	uint64_t deadline = dmn_now_ns() + (uint64_t)timeout_ms * 1000000u;
	struct timespec lock_by = realtime_in((int)timeout_ms);
	struct ctl_msg req, rep;
	struct ctl_status st;
	char path[PATH_MAX], why[192];
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
	if (type == CTL_BALLOON_SET)
		ctl_msg_balloon_set(&req, ++v->ctl_seq, arg);
	else if (type == CTL_SNAPSHOT)
		ctl_msg_snapshot(&req, ++v->ctl_seq, (uint32_t)arg, sfd, mfd);
	else
		ctl_msg_request(&req, (enum ctl_type)type, ++v->ctl_seq);
	ret = ctl_send_msg(v->ctl_fd, &req, deadline, why, sizeof(why));
	if (ret == -ETIMEDOUT || ret == -EAGAIN) {
		ret = -ETIMEDOUT;
		snprintf(err, errlen, "VM %s: its VMM did not take '%s' within %u ms", v->id,
			 ctl_type_name(type), timeout_ms);
		goto drop;
	}
	if (ret) {
		ret = -EPIPE;
		snprintf(err, errlen, "VM %s: its VMM is gone: %s", v->id, why);
		goto drop;
	}
	ret = ctl_recv_msg(v->ctl_fd, true, &rep, deadline, why, sizeof(why));
	if (ret == -ETIMEDOUT || ret == -EAGAIN) {
		ret = -ETIMEDOUT;
		snprintf(err, errlen, "VM %s: its VMM did not answer '%s' within %u ms", v->id,
			 ctl_type_name(type), timeout_ms);
		goto drop;
	}
	if (ret == -EPROTO) {
		snprintf(err, errlen, "VM %s: bad control reply: %s", v->id, why);
		goto drop;
	}
	if (ret) {
		ret = -EPIPE;
		snprintf(err, errlen, "VM %s: its VMM exited (%s)", v->id, why);
		goto drop;
	}
	ctl_msg_close_fds(&rep); /* a status reply carries none; never keep any */
	if (rep.hdr.seq != req.hdr.seq || (rep.hdr.type & ~CTL_REPLY) != type) {
		ret = -EPROTO;
		snprintf(err, errlen, "VM %s: control reply out of turn ('%s' seq %u to '%s' seq %u)",
			 v->id, ctl_type_name(rep.hdr.type), rep.hdr.seq, ctl_type_name(type),
			 req.hdr.seq);
		goto drop;
	}
	ctl_msg_status(&rep, &st);
	v->stats.exits = st.exits;
	v->stats.io_exits = st.io_exits;
	v->stats.mmio_exits = st.mmio_exits;
	if (state_out)
		*state_out = st.state;
	ret = rep.hdr.status;
	if (ret == 0 && balloon_out && !ctl_msg_balloon(&rep, balloon_out))
		ret = -EPROTO; /* parse checked it: cannot happen */
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
