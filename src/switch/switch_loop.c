/* switch_loop.c — the switch's event loop: epoll over ports, control
 * clients, the listening socket, the rate-limit timerfd and the stop
 * signalfd (contracts in switch.h). */
#include "switch/switch_priv.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "ctl/net_port.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

enum { EV_LISTEN = 0, EV_PORT = 1, EV_CLIENT = 2, EV_TIMER = 3, EV_SIGNAL = 4, EV_CHILD = 5 };

/* A reply or event the client does not take (its socket is full, it hung
 * up) is lost: the switch never blocks on a client. */
static void send_nb(int fd, uint16_t type, int32_t status, const void *p, size_t len)
{
	if (swctl_send(fd, type, status, p, len, -1, MSG_DONTWAIT) < 0)
		return;
}

#define now_ns sw_now_ns

static int watch(struct sw *s, int fd, uint32_t kind, uint32_t idx)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = ((uint64_t)kind << 32) | idx };

	return epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int sw_init(struct sw *s, int listen_fd, int sig_fd)
{
	int ret;

	memset(s, 0, sizeof(*s));
	s->listen_fd = listen_fd;
	s->sig_fd = sig_fd;
	s->epfd = s->timerfd = -1;
	for (unsigned i = 0; i < SW_MAX_CLIENTS; i++)
		s->clients[i].fd = -1;
	for (unsigned i = 0; i < SW_MAX_CHILDREN; i++)
		s->children[i].pidfd = -1;
	s->buf = malloc(NET_PORT_MAX_MSG + 1);
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (!s->buf || s->epfd < 0 || s->timerfd < 0) {
		ret = s->buf ? -errno : -ENOMEM;
		goto fail;
	}
	if ((ret = watch(s, s->timerfd, EV_TIMER, 0)))
		goto fail;
	if (listen_fd >= 0 && (ret = watch(s, listen_fd, EV_LISTEN, 0)))
		goto fail;
	if (sig_fd >= 0 && (ret = watch(s, sig_fd, EV_SIGNAL, 0)))
		goto fail;
	return 0;
fail:
	sw_destroy(s);
	return ret;
}

int sw_add_client(struct sw *s, int fd, bool owner)
{
	for (unsigned i = 0; i < SW_MAX_CLIENTS; i++) {
		struct sw_client *c = &s->clients[i];
		if (c->fd >= 0)
			continue;
		int ret = watch(s, fd, EV_CLIENT, i);
		if (ret) {
			close(fd);
			return ret;
		}
		c->fd = fd;
		c->owner = owner;
		c->subscribed = false;
		return 0;
	}
	close(fd);
	return -EMFILE;
}

static void client_close(struct sw *s, struct sw_client *c)
{
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	if (c->owner)
		s->owner_gone = true; /* stops once its last port is gone too */
}

void sw_client_event(struct sw *s, const char *json, size_t len)
{
	for (unsigned i = 0; i < SW_MAX_CLIENTS; i++) {
		struct sw_client *c = &s->clients[i];
		/* never blocks: a subscriber that does not read loses events */
		if (c->fd >= 0 && c->subscribed)
			send_nb(c->fd, SWCTL_EVENT, 0, json, len);
	}
}

void sw_rearm_timer(struct sw *s)
{
	uint64_t due = 0;

	for (unsigned i = 0; i < SW_MAX_PORTS; i++) {
		const struct sw_port *p = &s->ports[i];
		if (p->used && p->held_len && (!due || p->due_ns < due))
			due = p->due_ns;
	}
	if (due == s->armed_ns)
		return;
	struct itimerspec its = { { 0, 0 }, { (time_t)(due / 1000000000ull),
					       (long)(due % 1000000000ull) } };
	if (due == 0)
		its.it_value.tv_nsec = 0; /* disarm */
	if (timerfd_settime(s->timerfd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
		s->armed_ns = due;
}

static void client_request(struct sw *s, struct sw_client *c)
{
	struct swctl_hdr h;
	char *buf = malloc(SWCTL_MAX_MSG);
	char reply[256] = "";
	int fd = -1, ret, status = 0;
	const char *out = reply;
	size_t outlen;

	if (!buf) {
		client_close(s, c);
		return;
	}
	ret = swctl_recv(c->fd, &h, buf, &fd, MSG_DONTWAIT);
	if (ret == -EAGAIN || ret == -EINTR)
		goto out;
	if (ret == -EPROTO) {
		/* a malformed message: answered, the connection kept */
		snprintf(reply, sizeof(reply), "malformed control message");
		send_nb(c->fd, SWCTL_REPLY, -EPROTO, reply, strlen(reply));
		goto out;
	}
	if (ret < 0) {
		client_close(s, c);
		goto out;
	}
	size_t len = (size_t)ret;
	switch (h.type) {
	case SWCTL_ADD_PORT:
		if (len != sizeof(struct swctl_port) || fd < 0) {
			status = -EINVAL;
			snprintf(reply, sizeof(reply), "ADD_PORT: needs a port record and one descriptor");
			break;
		}
		int sotype = 0;
		socklen_t sl = sizeof(sotype);
		bool stream = (((const struct swctl_port *)(void *)buf)->flags & SWCTL_F_STREAM) != 0;
		struct stat sb;
		if (((const struct swctl_port *)(void *)buf)->flags & SWCTL_F_TAP) {
			/* a tap: a character device (what it is attached to was
			 * the sender's business: it opened it, before our jail) */
			if (fstat(fd, &sb) < 0 || !S_ISCHR(sb.st_mode)) {
				status = -EINVAL;
				snprintf(reply, sizeof(reply), "ADD_PORT: a tap port's descriptor "
					 "is not a character device (/dev/net/tun)");
				break;
			}
		} else if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &sotype, &sl) < 0 ||
		    sotype != (stream ? SOCK_STREAM : SOCK_SEQPACKET)) {
			status = -EINVAL;
			snprintf(reply, sizeof(reply), "ADD_PORT: the descriptor is not a %s socket",
				 stream ? "SOCK_STREAM (a stream port)" : "SOCK_SEQPACKET");
			break;
		}
		status = sw_port_add(s, (const struct swctl_port *)(void *)buf, fd, now_ns(), reply,
				     sizeof(reply));
		fd = -1; /* sw_port_add owns it now */
		break;
	case SWCTL_DEL_PORT:
		if (len != SWCTL_NAME_LEN || !swctl_name_ok(buf, SWCTL_NAME_LEN)) {
			status = -EINVAL;
			snprintf(reply, sizeof(reply), "DEL_PORT: needs a port name");
			break;
		}
		status = sw_port_del(s, buf);
		if (status)
			snprintf(reply, sizeof(reply), "no port %.31s", buf);
		break;
	case SWCTL_SET_POLICY:
		if (len != sizeof(struct swctl_port)) {
			status = -EINVAL;
			snprintf(reply, sizeof(reply), "SET_POLICY: needs a port record");
			break;
		}
		status = sw_port_set_policy(s, (const struct swctl_port *)(void *)buf, reply,
					    sizeof(reply));
		break;
	case SWCTL_STATS:
		outlen = sw_stats_json(s, buf, SWCTL_MAX_MSG - sizeof(struct swctl_hdr));
		send_nb(c->fd, SWCTL_STATS | SWCTL_REPLY, 0, buf, outlen);
		goto out;
	case SWCTL_SUBSCRIBE:
		c->subscribed = true;
		break;
	default:
		status = -EOPNOTSUPP;
		snprintf(reply, sizeof(reply), "unknown request type %u", h.type);
		break;
	}
	outlen = strlen(out);
	send_nb(c->fd, (uint16_t)(h.type | SWCTL_REPLY), status, out, outlen);
out:
	if (fd >= 0)
		close(fd);
	free(buf);
}

static void port_readable(struct sw *s, unsigned i, uint32_t events)
{
	struct sw_port *p = &s->ports[i];

	if (!p->used)
		return;
	if (p->stream) {
		sw_stream_io(s, i, events);
		return;
	}
	for (unsigned n = 0; !(events & (EPOLLHUP | EPOLLERR)) &&
			     n < SW_BATCH && !p->held_len && !p->dead; n++) {
		/* a tap (O_NONBLOCK) gives one message per read(), never more
		 * than its MTU */
		ssize_t r = p->tap ? read(p->fd, s->buf, NET_PORT_MAX_MSG + 1)
				   : recv(p->fd, s->buf, NET_PORT_MAX_MSG + 1, MSG_DONTWAIT | MSG_TRUNC);
		if (r < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				p->dead = true;
			break;
		}
		if (r == 0) {
			/* end of file (an empty message is indistinguishable and
			 * malformed anyway) */
			p->dead = true;
			break;
		}
		p->rx_frames++;
		p->rx_bytes += (uint64_t)r;
		sw_port_message(s, i, s->buf, (size_t)r > NET_PORT_MAX_MSG ? NET_PORT_MAX_MSG + 1 :
			(size_t)r, now_ns());
	}
	if (events & (EPOLLHUP | EPOLLERR)) {
		/* the peer is gone: what it left unread (a backlog a rate limit
		 * held back) is dropped with it. Also reported while the port is
		 * paused for tokens (events 0): never left to spin. */
		p->dead = true;
	}
}

/* The ports that keep a switch whose owner hung up running: VM ports (its
 * uplinks are the switch's own). */
static unsigned sw_nports(const struct sw *s)
{
	unsigned n = 0;

	for (unsigned i = 0; i < SW_MAX_PORTS; i++)
		n += s->ports[i].used && !s->ports[i].uplink;
	return n;
}

static void timer_fired(struct sw *s)
{
	uint64_t exp, now = now_ns();

	if (read(s->timerfd, &exp, sizeof(exp)) < 0 && errno != EAGAIN)
		return;
	s->armed_ns = 0;
	for (unsigned i = 0; i < SW_MAX_PORTS; i++)
		if (s->ports[i].used && sw_port_release(s, i, now))
			port_readable(s, i, 0);
	sw_reap_dead(s);
	sw_rearm_timer(s);
}

int sw_watch_child(struct sw *s, int pidfd, int pid, const char *port)
{
	int p = -1;

	for (unsigned i = 0; i < SW_MAX_PORTS && p < 0; i++)
		if (s->ports[i].used && !strcmp(s->ports[i].name, port))
			p = (int)i;
	for (unsigned i = 0; i < SW_MAX_CHILDREN && p >= 0; i++) {
		struct sw_child *c = &s->children[i];
		if (c->pidfd >= 0)
			continue;
		int ret = watch(s, pidfd, EV_CHILD, i);
		if (ret) {
			close(pidfd);
			return ret;
		}
		c->pidfd = pidfd;
		c->pid = pid;
		c->port_idx = (unsigned)p;
		c->port_gen = s->ports[p].gen;
		snprintf(c->port, sizeof(c->port), "%s", port);
		return 0;
	}
	close(pidfd);
	return p < 0 ? -ENOENT : -ENOSPC;
}

/* Reap child c if it has exited (false: it has not). */
static bool child_reap(struct sw *s, struct sw_child *c, char *how, size_t howlen)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	if (waitid((idtype_t)P_PIDFD, (id_t)c->pidfd, &si, WEXITED | WNOHANG) < 0) {
		if (errno != ECHILD)
			return false;
		snprintf(how, howlen, "is gone (reaped elsewhere)");
	} else if (si.si_pid == 0) {
		return false;
	} else if (si.si_code == CLD_EXITED) {
		snprintf(how, howlen, "exited with status %d", si.si_status);
	} else {
		snprintf(how, howlen, "was killed by signal %d", si.si_status);
	}
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->pidfd, NULL);
	close(c->pidfd);
	c->pidfd = -1;
	return true;
}

static void child_exited(struct sw *s, struct sw_child *c)
{
	char how[64], ev[192];

	if (!child_reap(s, c, how, sizeof(how)))
		return;
	/* its port, unless that has gone already (and the name been reused) */
	struct sw_port *p = &s->ports[c->port_idx];
	bool had = p->used && p->gen == c->port_gen && !strcmp(p->name, c->port) &&
		   sw_port_del(s, c->port) == 0;
	bh_warn("switch: the uplink process of port %s (pid %d) %s%s", c->port, c->pid, how,
		had ? ": port removed" : "");
	int n = snprintf(ev, sizeof(ev), "{\"event\":\"uplink_exit\",\"port\":\"%s\",\"pid\":%d,"
			 "\"how\":\"%s\"}", c->port, c->pid, how);
	if (n > 0 && (size_t)n < sizeof(ev))
		sw_client_event(s, ev, (size_t)n);
}

int sw_run(struct sw *s)
{
	struct epoll_event evs[64];

	while (!s->stop) {
		int n = epoll_wait(s->epfd, evs, 64, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int k = 0; k < n && !s->stop; k++) {
			uint32_t kind = (uint32_t)(evs[k].data.u64 >> 32);
			uint32_t idx = (uint32_t)evs[k].data.u64;
			switch (kind) {
			case EV_PORT:
				if (idx < SW_MAX_PORTS)
					port_readable(s, idx, evs[k].events);
				break;
			case EV_CLIENT:
				if (idx < SW_MAX_CLIENTS && s->clients[idx].fd >= 0)
					client_request(s, &s->clients[idx]);
				break;
			case EV_LISTEN: {
				int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
				if (fd >= 0 && sw_add_client(s, fd, false))
					bh_warn("switch: too many control connections: one refused");
				break;
			}
			case EV_TIMER:
				timer_fired(s);
				break;
			case EV_CHILD:
				if (idx < SW_MAX_CHILDREN && s->children[idx].pidfd >= 0)
					child_exited(s, &s->children[idx]);
				break;
			case EV_SIGNAL: {
				struct signalfd_siginfo si;
				if (read(s->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
					s->stop = true;
				break;
			}
			default:
				break;
			}
		}
		sw_reap_dead(s);
		sw_rearm_timer(s);
		if (s->owner_gone && !sw_nports(s)) {
			bh_info("switch: its owner hung up and no VM port is left: stopping");
			s->stop = true;
		}
	}
	return 0;
}

void sw_destroy(struct sw *s)
{
	for (unsigned i = 0; i < SW_MAX_PORTS; i++)
		if (s->ports[i].used) {
			close(s->ports[i].fd);
			free(s->ports[i].held);
			free(s->ports[i].srx);
			free(s->ports[i].stx);
			s->ports[i].used = false;
		}
	/* the children's sockets are closed now: passt exits at end of file */
	for (int tries = 0; tries < 20; tries++) {
		struct pollfd pfd[SW_MAX_CHILDREN];
		nfds_t np = 0;
		for (unsigned i = 0; i < SW_MAX_CHILDREN; i++)
			if (s->children[i].pidfd >= 0)
				pfd[np++] = (struct pollfd){ .fd = s->children[i].pidfd, .events = POLLIN };
		if (!np)
			break;
		if (poll(pfd, np, 100) < 0 && errno != EINTR)
			break;
		for (unsigned i = 0; i < SW_MAX_CHILDREN; i++) {
			char how[64];
			if (s->children[i].pidfd >= 0)
				(void)child_reap(s, &s->children[i], how, sizeof(how));
		}
	}
	for (unsigned i = 0; i < SW_MAX_CHILDREN; i++) {
		struct sw_child *c = &s->children[i];
		char how[64];
		if (c->pidfd < 0)
			continue;
		/* still running 2 s after its socket closed: left to end on its
		 * own (the jailed switch may not signal anything) */
		if (!child_reap(s, c, how, sizeof(how))) {
			bh_warn("switch: the uplink process of port %s (pid %d) has not ended yet",
				c->port, c->pid);
			close(c->pidfd);
			c->pidfd = -1;
		}
	}
	for (unsigned i = 0; i < SW_MAX_CLIENTS; i++)
		if (s->clients[i].fd >= 0) {
			close(s->clients[i].fd);
			s->clients[i].fd = -1;
		}
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->timerfd >= 0)
		close(s->timerfd);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->sig_fd >= 0)
		close(s->sig_fd);
	s->epfd = s->timerfd = s->listen_fd = s->sig_fd = -1;
	free(s->buf);
	s->buf = NULL;
}
