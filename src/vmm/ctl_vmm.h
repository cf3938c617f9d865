/* ctl_vmm.h — the VMM end of the control channel (see ctl_proto.h).
 *
 * Requests: status, pause, resume, stop, quarantine (the VM's verbs, vm.h),
 * attach-fd (a descriptor handed in joins the named-fd table, fd_table.h)
 * and list-fds. A malformed request is answered -EPROTO (echoing its seq
 * when it had one) and the connection stays; descriptors that came with a
 * refused request are closed.
 *
 * Owns the inherited listening socket and at most one connection (a newer
 * connection replaces an older one: a restarted daemon wins). Both sit in a
 * private epoll set whose fd the VM's event thread polls; when it is
 * readable the event thread calls ctl_vmm_handle(), which serves every
 * pending request without blocking for long (a pause waits at most 2 s for
 * the vCPUs to park).
 * Threads: init/destroy on the main thread; fd/handle on the event thread. */
#ifndef BH_CTL_VMM_H
#define BH_CTL_VMM_H

#include <sys/types.h>

#include "common/compiler.h"

struct vm;
struct fd_table;

struct ctl_vmm {
	struct vm *vm;
	struct fd_table *fds; /* borrowed: the VMM's named descriptors */
	int listen_fd; /* owned (inherited from the daemon) */
	int conn_fd;   /* -1: no daemon connected */
	int ep_fd;
	uid_t uid;     /* our euid before the jail: the daemon's or its client's */
};

/* Take ownership of `listen_fd` (a listening SOCK_SEQPACKET socket); `fds`
 * (borrowed, outlives c) receives attached descriptors. 0 or -errno (the fd is
 * closed on failure too). */
int ctl_vmm_init(struct ctl_vmm *c, struct vm *vm, struct fd_table *fds,
		 int listen_fd) BH_WUR;

/* The fd to poll for readability. */
int ctl_vmm_fd(const struct ctl_vmm *c);

/* Serve whatever is pending. Event thread. */
void ctl_vmm_handle(struct ctl_vmm *c);

void ctl_vmm_destroy(struct ctl_vmm *c);

#endif
