/* vsock_host.c — virtio-vsock, the host side: the listening socket and the
 * "CONNECT <port>\n" line, the broker's replies, moving bytes between each
 * connection's socket and its two bounded rings, epoll interest that follows
 * what can make progress (nothing spins), and the deadline tick. See vsock.h.
 * Every handler runs on the event thread and takes vdev.lock. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "common/log.h"
#include "core/vsock_broker.h"
#include "virtio/vsock_priv.h"

#define ACCEPT_BATCH 16u
#define BROKER_BATCH 16u

void vsock_kick_event(void *opaque, uint32_t events); /* vsock.c */

static void conn_event(void *opaque, uint32_t events);

void vsock_conn_update(struct virtio_vsock *vs, struct vsock_conn *c)
{
	uint32_t want = 0;
	int r = 0;

	if (c->fd < 0 || vs->host_paused || (c->pend & VP_RST))
		want = 0;
	else if (c->state == VC_LINE)
		want = EPOLLIN;
	else if (c->state == VC_OPEN) {
		if (!c->host_eof && !c->guest_norecv && vsock_ring_free(vs, &c->rx))
			want |= EPOLLIN;
		if (c->tx.len)
			want |= EPOLLOUT;
	}
	if (want == c->interest || !vs->el)
		return;
	if (!want)
		event_loop_del(vs->el, c->fd);
	else if (!c->interest)
		r = event_loop_add(vs->el, c->fd, want, conn_event, c, "vsock-conn");
	else
		r = event_loop_mod(vs->el, c->fd, want);
	if (r) {
		/* The loop is full (or the fd broke): this connection cannot
		 * be served. */
		bh_warn("%s: watching a connection: %s", vs->vdev.name, strerror(-r));
		if (c->interest)
			event_loop_del(vs->el, c->fd);
		c->interest = 0;
		if (!(c->pend & VP_RST))
			vsock_conn_reset(vs, c);
		return;
	}
	c->interest = want;
}

static bool soft_err(int e)
{
	return e == EAGAIN || e == EWOULDBLOCK || e == EINTR;
}

void vsock_conn_pump(struct virtio_vsock *vs, struct vsock_conn *c)
{
	uint32_t sz = vs->p.buf_size;

	if (c->fd < 0 || c->state != VC_OPEN || (c->pend & VP_RST) || vs->host_paused)
		return;
	/* guest → host */
	while (c->tx.len) {
		uint32_t n = c->tx.len < sz - c->tx.head ? c->tx.len : sz - c->tx.head;
		ssize_t w = send(c->fd, c->tx.buf + c->tx.head, n, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (w < 0 && soft_err(errno))
			break;
		if (w <= 0) {
			vsock_conn_reset(vs, c); /* the host peer is gone */
			return;
		}
		c->tx.head = (c->tx.head + (uint32_t)w) % sz;
		c->tx.len -= (uint32_t)w;
		c->fwd_cnt += (uint32_t)w;
	}
	if (c->fwd_cnt - c->fwd_sent >= sz / 4)
		c->pend |= VP_CREDIT;
	if (c->guest_eof && !c->tx.len && !c->wr_shut) {
		c->wr_shut = true;
		(void)shutdown(c->fd, SHUT_WR); /* the host reader sees EOF */
	}
	/* host → guest, as far as the ring has room */
	while (!c->host_eof && !c->guest_norecv && vsock_ring_free(vs, &c->rx)) {
		uint32_t tail = (c->rx.head + c->rx.len) % sz;
		uint32_t n = vsock_ring_free(vs, &c->rx);
		ssize_t got;

		if (n > sz - tail)
			n = sz - tail;
		got = recv(c->fd, c->rx.buf + tail, n, MSG_DONTWAIT);
		if (got < 0 && soft_err(errno))
			break;
		if (got < 0) {
			vsock_conn_reset(vs, c);
			return;
		}
		if (got == 0) {
			c->host_eof = true;
			break;
		}
		c->rx.len += (uint32_t)got;
	}
	/* Both directions finished: done. */
	if (!c->tx.len && c->guest_eof &&
	    (c->guest_norecv || (c->host_eof && c->shut_sent && !c->rx.len))) {
		vsock_conn_reset(vs, c);
		return;
	}
	vsock_conn_update(vs, c);
}

/* "CONNECT <port>\n": the port, or -1. */
static int64_t parse_line(const char *s, size_t len)
{
	uint64_t v = 0;
	size_t i = 8;

	if (len < 10 || memcmp(s, "CONNECT ", 8) || s[len - 1] != '\n')
		return -1;
	for (; i < len - 1; i++) {
		if (s[i] < '0' || s[i] > '9' || i - 8 >= 10)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	return i == 8 || v > 0xffffffffu ? -1 : (int64_t)v;
}

static void line_read(struct virtio_vsock *vs, struct vsock_conn *c)
{
	ssize_t got = recv(c->fd, c->line + c->line_len, VSOCK_LINE_MAX - c->line_len,
			   MSG_DONTWAIT);
	char *nl;
	int64_t port;
	size_t used, rest;

	if (got < 0 && soft_err(errno))
		return;
	if (got <= 0) {
		vsock_conn_free(vs, c);
		return;
	}
	c->line_len += (unsigned)got;
	nl = memchr(c->line, '\n', c->line_len);
	if (!nl) {
		if (c->line_len == VSOCK_LINE_MAX)
			vsock_conn_free(vs, c); /* not a CONNECT line */
		return;
	}
	used = (size_t)(nl - c->line) + 1;
	port = parse_line(c->line, used);
	if (port < 0) {
		bh_dbg("%s: a host client sent a malformed CONNECT line", vs->vdev.name);
		vsock_conn_free(vs, c);
		return;
	}
	/* Bytes after the line are the stream's first data. */
	rest = c->line_len - used;
	memcpy(c->rx.buf, c->line + used, rest);
	c->rx.head = 0;
	c->rx.len = (uint32_t)rest;
	vsock_conn_start_request(vs, c, (uint32_t)port);
}

static void conn_event(void *opaque, uint32_t events)
{
	struct vsock_conn *c = opaque;
	struct virtio_vsock *vs = c->vs;

	(void)events;
	pthread_mutex_lock(&vs->vdev.lock);
	if (vs->teardown) {
		pthread_mutex_unlock(&vs->vdev.lock);
		vsock_kick_event(vs, 0); /* closes c among all the others */
		return;
	}
	if (c->state == VC_LINE)
		line_read(vs, c);
	else
		vsock_conn_pump(vs, c);
	vsock_rx_flush(vs);
	vsock_timer_update(vs);
	pthread_mutex_unlock(&vs->vdev.lock);
}

static void listen_event(void *opaque, uint32_t events)
{
	struct virtio_vsock *vs = opaque;

	(void)events;
	pthread_mutex_lock(&vs->vdev.lock);
	for (unsigned i = 0; i < ACCEPT_BATCH && !vs->host_paused; i++) {
		int fd = accept4(vs->p.listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct vsock_conn *c;

		if (fd < 0) {
			if (!soft_err(errno) && errno != ECONNABORTED) {
				/* EMFILE and the like: stop watching (no busy loop);
				 * the tick watches again. */
				bh_warn("%s: accept: %s", vs->vdev.name, strerror(errno));
				vsock_host_watch(vs, false);
				vs->listen_err = true;
			}
			break;
		}
		c = vsock_conn_new(vs, fd, VC_LINE);
		if (!c) {
			vs->st.refused_cap++;
			close(fd);
			continue;
		}
		vs->st.accepted++;
		c->deadline_ms = vsock_now_ms() + VSOCK_CONNECT_DEADLINE_MS;
		vsock_conn_update(vs, c);
	}
	vsock_timer_update(vs);
	pthread_mutex_unlock(&vs->vdev.lock);
}

int vsock_broker_ask(struct virtio_vsock *vs, struct vsock_conn *c, uint32_t port)
{
	struct vsock_broker_req req = { VSOCK_BROKER_REQ, 0, port };

	if (vs->p.broker_fd < 0)
		return -ENOTCONN;
	c->id = ++vs->next_id ? vs->next_id : ++vs->next_id;
	req.id = c->id;
	if (send(vs->p.broker_fd, &req, sizeof(req), MSG_DONTWAIT | MSG_NOSIGNAL) !=
	    (ssize_t)sizeof(req))
		return -errno ? -errno : -EIO;
	return 0;
}

static void broker_lost(struct virtio_vsock *vs)
{
	bh_warn("%s: the connection broker is gone: guest connections to the host are refused",
		vs->vdev.name);
	if (vs->broker_on && vs->el)
		event_loop_del(vs->el, vs->p.broker_fd);
	vs->broker_on = false;
	close(vs->p.broker_fd);
	vs->p.broker_fd = -1;
	for (unsigned i = 0; i < vs->n; i++)
		if (vs->c[i]->state == VC_BROKER && !(vs->c[i]->pend & VP_RST))
			vsock_conn_reset(vs, vs->c[i]);
}

static void broker_event(void *opaque, uint32_t events)
{
	struct virtio_vsock *vs = opaque;

	(void)events;
	pthread_mutex_lock(&vs->vdev.lock);
	for (unsigned i = 0; i < BROKER_BATCH && vs->p.broker_fd >= 0; i++) {
		union {
			char buf[CMSG_SPACE(sizeof(int) * 4)];
			struct cmsghdr align;
		} u;
		struct vsock_broker_rep rep;
		struct iovec iov = { &rep, sizeof(rep) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
				     .msg_controllen = sizeof(u.buf) };
		ssize_t n = recvmsg(vs->p.broker_fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		struct vsock_conn *c = NULL;
		int fd = -1;

		if (n < 0 && soft_err(errno))
			break;
		if (n <= 0) {
			broker_lost(vs);
			break;
		}
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
				continue;
			for (size_t k = 0; k < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int); k++) {
				int got;

				memcpy(&got, CMSG_DATA(cm) + k * sizeof(int), sizeof(int));
				if (fd < 0)
					fd = got;
				else
					close(got);
			}
		}
		if (n == (ssize_t)sizeof(rep) && rep.magic == VSOCK_BROKER_REP)
			for (unsigned k = 0; k < vs->n && !c; k++)
				if (vs->c[k]->state == VC_BROKER && vs->c[k]->id == rep.id &&
				    !(vs->c[k]->pend & VP_RST))
					c = vs->c[k];
		if (!c || rep.result != 0 || fd < 0) {
			if (fd >= 0)
				close(fd);
			if (c) {
				vs->st.guest_refused++;
				vsock_conn_reset(vs, c);
			}
			continue;
		}
		c->fd = fd;
		c->state = VC_OPEN;
		c->deadline_ms = 0;
		c->pend |= VP_RESPONSE;
		vs->st.established++;
		vsock_conn_update(vs, c);
	}
	vsock_rx_flush(vs);
	vsock_timer_update(vs);
	pthread_mutex_unlock(&vs->vdev.lock);
}

void vsock_timer_update(struct virtio_vsock *vs)
{
	bool want = vs->listen_err;
	struct itimerspec it;

	for (unsigned i = 0; i < vs->n && !want; i++)
		want = vs->c[i]->deadline_ms != 0;
	if (vs->timer_fd < 0 || want == vs->timer_on)
		return;
	memset(&it, 0, sizeof(it));
	if (want) {
		it.it_value.tv_nsec = VSOCK_TICK_MS * 1000000L;
		it.it_interval = it.it_value;
	}
	if (timerfd_settime(vs->timer_fd, 0, &it, NULL) == 0)
		vs->timer_on = want;
}

static void timer_event(void *opaque, uint32_t events)
{
	struct virtio_vsock *vs = opaque;
	uint64_t v;
	bool paused;

	(void)events;
	if (read(vs->timer_fd, &v, sizeof(v)) < 0) {
		/* spurious */
	}
	pthread_mutex_lock(&vs->vdev.lock);
	paused = vs->host_paused;
	if (!paused && vs->listen_err) {
		vs->listen_err = false;
		vsock_host_watch(vs, true);
	}
	pthread_mutex_unlock(&vs->vdev.lock);
	if (!paused)
		virtio_vsock_tick(vs, vsock_now_ms());
}

void vsock_host_watch(struct virtio_vsock *vs, bool on)
{
	if (!vs->el)
		return;
	if (vs->p.listen_fd >= 0 && on != vs->listen_on) {
		if (!on)
			event_loop_del(vs->el, vs->p.listen_fd);
		else if (event_loop_add(vs->el, vs->p.listen_fd, EPOLLIN, listen_event, vs,
					"vsock-listen"))
			on = false;
		vs->listen_on = on;
	}
	if (vs->p.broker_fd >= 0 && on != vs->broker_on) {
		if (!on)
			event_loop_del(vs->el, vs->p.broker_fd);
		else if (event_loop_add(vs->el, vs->p.broker_fd, EPOLLIN, broker_event, vs,
					"vsock-broker"))
			on = false;
		vs->broker_on = on;
	}
}

int vsock_host_init(struct virtio_vsock *vs)
{
	int r;

	vs->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vs->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (vs->kick_fd < 0 || vs->timer_fd < 0)
		return -errno;
	if ((r = event_loop_add(vs->el, vs->kick_fd, EPOLLIN, vsock_kick_event, vs, "vsock-kick")))
		return r;
	if ((r = event_loop_add(vs->el, vs->timer_fd, EPOLLIN, timer_event, vs, "vsock-timer"))) {
		event_loop_del(vs->el, vs->kick_fd);
		return r;
	}
	vsock_host_watch(vs, true);
	if ((vs->p.listen_fd >= 0 && !vs->listen_on) || (vs->p.broker_fd >= 0 && !vs->broker_on))
		return -ENOSPC;
	return 0;
}

void vsock_host_close(struct virtio_vsock *vs)
{
	vsock_host_watch(vs, false);
	if (vs->el && vs->kick_fd >= 0)
		event_loop_del(vs->el, vs->kick_fd);
	if (vs->el && vs->timer_fd >= 0)
		event_loop_del(vs->el, vs->timer_fd);
	if (vs->kick_fd >= 0)
		close(vs->kick_fd);
	if (vs->timer_fd >= 0)
		close(vs->timer_fd);
	if (vs->p.listen_fd >= 0)
		close(vs->p.listen_fd);
	if (vs->p.broker_fd >= 0)
		close(vs->p.broker_fd);
	vs->kick_fd = vs->timer_fd = vs->p.listen_fd = vs->p.broker_fd = -1;
}
