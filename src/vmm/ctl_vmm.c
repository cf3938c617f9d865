/* ctl_vmm.c — see ctl_vmm.h. */
#include "vmm/ctl_vmm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "vmm/vm.h"
#include "ctl/ctl_proto.h"

#define CTL_OVERFLOW_UID 65534 /* /proc/sys/kernel/overflowuid's default */

int ctl_vmm_init(struct ctl_vmm *c, struct vm *vm, int listen_fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = listen_fd };
	int type = 0;
	socklen_t len = sizeof(type);

	c->vm = vm;
	c->uid = geteuid(); /* before the jail changes (or namespaces) it */
	c->listen_fd = listen_fd;
	c->conn_fd = -1;
	c->ep_fd = -1;
	if (getsockopt(listen_fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
	    type != SOCK_SEQPACKET) {
		close(listen_fd);
		c->listen_fd = -1;
		return -ENOTSOCK;
	}
	if (fcntl(listen_fd, F_SETFL, O_NONBLOCK) < 0 ||
	    fcntl(listen_fd, F_SETFD, FD_CLOEXEC) < 0 ||
	    (c->ep_fd = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    epoll_ctl(c->ep_fd, EPOLL_CTL_ADD, listen_fd, &ev) < 0) {
		int e = errno;

		ctl_vmm_destroy(c);
		return -e;
	}
	return 0;
}

int ctl_vmm_fd(const struct ctl_vmm *c)
{
	return c->ep_fd;
}

static void drop_conn(struct ctl_vmm *c)
{
	if (c->conn_fd >= 0) {
		epoll_ctl(c->ep_fd, EPOLL_CTL_DEL, c->conn_fd, NULL);
		close(c->conn_fd);
	}
	c->conn_fd = -1;
}

static void accept_conn(struct ctl_vmm *c)
{
	int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	struct epoll_event ev = { .events = EPOLLIN };
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (fd < 0)
		return;
	/* Only the daemon may steer this VM. The socket file is the daemon's,
	 * mode 0600, so only it can connect; this check is the second lock.
	 * Peers are root or our pre-jail uid — or, when the jail put us in a
	 * user namespace (unprivileged start), the overflow uid every unmapped
	 * outside uid (the root daemon included) appears as. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 ||
	    (cr.uid != 0 && cr.uid != c->uid && cr.uid != CTL_OVERFLOW_UID)) {
		bh_warn("control: refused a connection from uid %u", (unsigned)cr.uid);
		close(fd);
		return;
	}
	drop_conn(c); /* a new daemon replaces the old connection */
	ev.data.fd = fd;
	if (epoll_ctl(c->ep_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		close(fd);
		return;
	}
	c->conn_fd = fd;
}

static void fill_status(struct vm *vm, struct ctl_msg *r)
{
	struct vm_stats st;

	vm_stats(vm, &st);
	r->state = 0;
	if (st.paused)
		r->state |= CTL_ST_PAUSED;
	if (st.quarantined)
		r->state |= CTL_ST_QUARANTINED;
	if (st.stopping)
		r->state |= CTL_ST_STOPPING;
	r->ncpus = st.ncpus;
	r->exits = st.exits;
	r->io_exits = st.io_exits;
	r->mmio_exits = st.mmio_exits;
}

static int act(struct ctl_vmm *c, unsigned type)
{
	struct vm *vm = c->vm;

	switch (type) {
	case CTL_STATUS:
		return 0;
	case CTL_PAUSE:
		return vm_pause(vm);
	case CTL_RESUME:
		return vm_resume(vm);
	case CTL_STOP:
		return vm_request_stop(vm);
	case CTL_QUARANTINE:
		return vm_quarantine(vm);
	}
	return -EPROTO;
}

static void serve(struct ctl_vmm *c)
{
	unsigned char buf[sizeof(struct ctl_msg) + 1];
	struct ctl_msg req, rep;
	char err[128];
	ssize_t n;

	for (;;) {
		n = recv(c->conn_fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			drop_conn(c);
			return;
		}
		memset(&rep, 0, sizeof(rep));
		if (ctl_msg_validate(buf, (size_t)n, false, &req, err, sizeof(err))) {
			bh_warn("control: %s", err);
			ctl_msg_request(&rep, CTL_STATUS, 0);
			rep.status = -EPROTO;
		} else {
			ctl_msg_request(&rep, (enum ctl_type)req.type, req.seq);
			rep.status = act(c, req.type);
		}
		rep.type |= CTL_REPLY;
		fill_status(c->vm, &rep);
		if (send(c->conn_fd, &rep, sizeof(rep), MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
			drop_conn(c);
			return;
		}
	}
}

void ctl_vmm_handle(struct ctl_vmm *c)
{
	struct epoll_event ev[4];
	int n = epoll_wait(c->ep_fd, ev, 4, 0);

	for (int i = 0; i < n; i++) {
		if (ev[i].data.fd == c->listen_fd)
			accept_conn(c);
		else if (ev[i].data.fd == c->conn_fd)
			serve(c);
	}
}

void ctl_vmm_destroy(struct ctl_vmm *c)
{
	drop_conn(c);
	if (c->ep_fd >= 0)
		close(c->ep_fd);
	if (c->listen_fd >= 0)
		close(c->listen_fd);
	c->ep_fd = c->listen_fd = -1;
}
