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
#include "ctl/ctl_proto.h"
#include "virtio/balloon.h"
#include "vmm/devices.h"
#include "vmm/fd_table.h"
#include "vmm/vm.h"
#include "vmm/vm_snapshot.h"

#define CTL_OVERFLOW_UID 65534 /* /proc/sys/kernel/overflowuid's default */
/* Requests served per wake-up: the event loop comes back for the rest, so a
 * flooding peer cannot starve the devices. */
#define CTL_BATCH 16

int ctl_vmm_init(struct ctl_vmm *c, struct vm *vm, struct fd_table *fds, int listen_fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = listen_fd };
	int type = 0;
	socklen_t len = sizeof(type);

	c->vm = vm;
	c->fds = fds;
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

static void get_status(struct vm *vm, struct ctl_status *r)
{
	struct vm_stats st;

	vm_stats(vm, &st);
	*r = (struct ctl_status){ .ncpus = st.ncpus, .exits = st.exits, .io_exits = st.io_exits,
				  .mmio_exits = st.mmio_exits };
	if (st.paused)
		r->state |= CTL_ST_PAUSED;
	if (st.quarantined)
		r->state |= CTL_ST_QUARANTINED;
	if (st.stopping)
		r->state |= CTL_ST_STOPPING;
}

/* CTL_ATTACH_FD: the record was validated (a well-formed name, exactly one
 * descriptor); the table decides the rest. The descriptor is the table's on
 * success and closed here otherwise. */
static int attach_fd(struct ctl_vmm *c, struct ctl_msg *req)
{
	struct ctl_fd_name n;
	char err[160];
	int ret;

	ctl_msg_fd_name(req, &n);
	ret = fd_table_add(c->fds, n.name, req->fds[0], err, sizeof(err));
	if (ret) {
		bh_warn("control: attach-fd refused: %s", err);
		ctl_msg_close_fds(req);
		return ret;
	}
	bh_info("control: attached descriptor '%s' (%s)", n.name,
		ctl_fd_kind_name(c->fds->e[c->fds->n - 1].kind));
	req->hdr.nfds = 0; /* the table's now */
	return 0;
}

/* CTL_LIST_FDS: the names and kinds, after the status block. */
static int list_fds(const struct ctl_vmm *c, struct ctl_msg *rep)
{
	struct ctl_fd_list l = { .count = c->fds->n };
	int ret = ctl_msg_put(rep, &l, sizeof(l));

	for (unsigned i = 0; !ret && i < c->fds->n; i++) {
		struct ctl_fd_entry e;

		memset(&e, 0, sizeof(e));
		memcpy(e.name.name, c->fds->e[i].name, sizeof(e.name.name));
		e.kind = c->fds->e[i].kind;
		ret = ctl_msg_put(rep, &e, sizeof(e));
	}
	return ret;
}

/* CTL_SNAPSHOT: pause (unless paused or quarantined already), write the
 * state and memory files the caller handed in, then resume if asked and
 * the VM was running. A failure leaves the VM as it was. The descriptors
 * are closed here either way. */
static int snapshot(struct ctl_vmm *c, struct ctl_msg *req)
{
	struct ctl_snapshot sn;
	struct vm_stats st;
	char err[512];
	bool was_paused;
	int ret = 0;

	memcpy(&sn, req->payload, sizeof(sn));
	vm_stats(c->vm, &st);
	was_paused = st.paused || st.quarantined;
	if (!was_paused && (ret = vm_pause(c->vm))) {
		bh_warn("control: snapshot: the VM did not pause: %s", strerror(-ret));
		goto out;
	}
	ret = vm_snapshot_save(c->vm, req->fds[0], req->fds[1], err, sizeof(err));
	if (ret)
		bh_warn("control: snapshot failed: %s", err);
	else
		bh_info("control: snapshot written%s", (sn.flags & CTL_SNAP_RESUME) && !was_paused
								? "; resuming" : "");
	if (!was_paused && (ret || (sn.flags & CTL_SNAP_RESUME)) && vm_resume(c->vm))
		bh_warn("control: snapshot: the VM could not be resumed");
out:
	ctl_msg_close_fds(req);
	return ret;
}

/* CTL_BALLOON_INFO: the figures after the status block; and a request for
 * fresh guest statistics (they arrive for the next call). */
static int balloon_info(struct ctl_vmm *c, struct ctl_msg *rep)
{
	struct virtio_balloon *b = vm_balloon(c->vm);
	struct virtio_balloon_info i;
	struct ctl_balloon w;

	_Static_assert(CTL_BALLOON_NSTATS == VIRTIO_BALLOON_S_NR, "the wire's stats are the device's");
	if (!b)
		return -ENODEV;
	virtio_balloon_info(b, &i);
	virtio_balloon_request_stats(b);
	memset(&w, 0, sizeof(w));
	w = (struct ctl_balloon){
		.mem_bytes = i.mem_bytes, .target_pages = i.target_pages,
		.actual_pages = i.actual_pages, .held_pages = i.held_pages,
		.inflated_pages = i.inflated_pages, .deflated_pages = i.deflated_pages,
		.released_bytes = i.released_bytes, .reported_bytes = i.reported_bytes,
		.report_released_bytes = i.report_released_bytes,
		.unreleasable_bytes = i.unreleasable_bytes, .refused_outside = i.refused_outside,
		.refused_excess = i.refused_excess, .refused_duplicate = i.refused_duplicate,
		.refused_stats = i.refused_stats, .release_errors = i.release_errors,
		.stats_updates = i.stats_updates, .features = i.features,
		.stats_valid = i.stats_valid,
	};
	memcpy(w.stats, i.stats, sizeof(w.stats));
	return ctl_msg_put(rep, &w, sizeof(w));
}

static int act(struct ctl_vmm *c, struct ctl_msg *req)
{
	struct vm *vm = c->vm;

	switch (req->hdr.type) {
	case CTL_STATUS:
	case CTL_LIST_FDS:
		return 0;
	case CTL_PAUSE:
		return vm_pause(vm);
	case CTL_RESUME:
		return vm_resume(vm);
	case CTL_STOP:
		return vm_request_stop(vm);
	case CTL_QUARANTINE:
		return vm_quarantine(vm);
	case CTL_ATTACH_FD:
		return attach_fd(c, req);
	case CTL_BALLOON_SET:
		if (!vm_balloon(vm))
			return -ENODEV;
		return virtio_balloon_set_target(vm_balloon(vm), ctl_msg_balloon_target(req));
	case CTL_BALLOON_INFO:
		return vm_balloon(vm) ? 0 : -ENODEV;
	case CTL_SNAPSHOT:
		return snapshot(c, req);
	}
	return -EPROTO;
}

/* The reply's type for a request we may not have understood. */
static unsigned reply_type(unsigned claimed)
{
	unsigned t = claimed & ~CTL_REPLY;

	return t >= CTL_STATUS && t <= CTL_TYPE_MAX ? t : CTL_STATUS;
}

static void serve(struct ctl_vmm *c)
{
	struct ctl_msg req, rep;
	struct ctl_status st;
	char err[192];
	int ret, status;

	for (int i = 0; i < CTL_BATCH; i++) {
		ret = ctl_recv_msg(c->conn_fd, false, &req, CTL_NO_WAIT, err, sizeof(err));
		if (ret == -EAGAIN)
			return;
		if (ret && ret != -EPROTO) {
			if (ret != -ECONNRESET)
				bh_warn("control: %s", err);
			drop_conn(c);
			return;
		}
		if (ret == -EPROTO) {
			bh_warn("control: %s", err);
			status = -EPROTO; /* its descriptors are closed already */
		} else {
			status = act(c, &req);
		}
		get_status(c->vm, &st);
		ctl_msg_reply(&rep, reply_type(req.hdr.type), req.hdr.seq, status, &st);
		if (status == 0 && req.hdr.type == CTL_LIST_FDS && list_fds(c, &rep)) {
			ctl_msg_reply(&rep, CTL_LIST_FDS, req.hdr.seq, -EMSGSIZE, &st);
		}
		if (status == 0 && req.hdr.type == CTL_BALLOON_INFO &&
		    (status = balloon_info(c, &rep)))
			ctl_msg_reply(&rep, CTL_BALLOON_INFO, req.hdr.seq, status, &st);
		if (ctl_send_msg(c->conn_fd, &rep, CTL_NO_WAIT, err, sizeof(err))) {
			bh_warn("control: reply not sent, dropping the connection: %s", err);
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
