/* spawn_fds.h — the descriptor layout handed into a VMM process, and the
 * child's side of dvm_spawn() (spawn.c) that lays it out (daemon-internal).
 *
 * In the VMM process, after exec:
 *   0     /dev/null            1, 2  the stderr pipe (vmm.log)
 *   3     the control socket's listener (`--control-fd 3`)
 *   4     a sealed memfd copy of the daemon's config.json (`--config
 *         /proc/self/fd/4`): the owner's process can neither change the
 *         daemon's copy nor make the daemon parse a file it wrote
 *   5+i   switch NIC i's port (DNET_FD_BASE, network.h), for NICs on a
 *         daemon network
 *   then  a restore's snapshot files: manifest, state, memory
 *         (`restore --snapshot-fds A,B,C`)
 * Everything else is closed at exec. Used by spawn.c only, under its rules
 * (daemon.h): no d->lock needed except where a function says so. */
#ifndef BH_DAEMON_SPAWN_FDS_H
#define BH_DAEMON_SPAWN_FDS_H

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>

#include "daemon/daemon.h"

/* What the child holds before it lays the descriptors out; -1 where unused. */
struct spawn_fds {
	int ls, cfg, logw, null, report;
	int ports[VM_MAX_NETS];     /* switch NIC ports -> fds 5, 6, ... (-1: none) */
	unsigned nports;
	int snap[3];              /* a restore: manifest, state, memory (after the ports); else -1 */
	int cg[DCG_NCTRL];
	int ncg;
	const cpu_set_t *confine; /* the process tree's CPUs, or NULL */
};

/* Between fork() and execv() the child may only make async-signal-safe calls,
 * and when a step fails it must end without running the daemon's atexit
 * handlers or flushing the stdio buffers it inherited: _exit() is the only
 * correct way out there (exit() would do both). So that the daemon still
 * observes *why* a start failed, the child first writes the failed step and
 * errno to a close-on-exec pipe (f->report); a successful exec closes the
 * pipe with nothing written. The parent reads one struct spawn_failure. */
struct spawn_failure {
	int step; /* SPAWN_* */
	int err;  /* errno */
};

enum { SPAWN_STDIO = 1, SPAWN_FDS, SPAWN_CGROUP, SPAWN_CPUS, SPAWN_CREDS, SPAWN_EXEC, SPAWN_NSTEPS };

/* What step `step` was doing, for the daemon's error message ("?" for a
 * value no child writes). */
const char *dspawn_step_name(int step);

/* True when one of v's NICs is on a daemon network (v->nets). */
bool dspawn_has_switch_nics(const struct dvm *v);

/* fd 4: read the daemon's config.json at `path` (at most CONFIG_JSON_MAX
 * bytes) into a sealed memfd. With switch NICs, the copy names their ports
 * instead (dnet_vm_ports makes them: ports[] in NIC order, -1 for other
 * NICs, *nports set; they are the caller's to close). Returns the memfd
 * (close-on-exec) or -errno with err written; on failure no port is left
 * open and *nports is 0. Takes no lock itself (dnet_vm_ports' rules apply). */
int dspawn_config_memfd(struct daemon *d, struct dvm *v, const char *path, int ports[],
			unsigned *nports, char *err, size_t errlen);

/* The child's side of dvm_spawn(), right after fork(): lays out *f as above,
 * joins the cgroup (f->cg), confines the CPUs, drops to *cr and executes
 * argv. Async-signal-safe only; never returns (on failure: a spawn_failure
 * on f->report, then _exit(127)). */
__attribute__((noreturn)) void dspawn_child(char *const argv[], const struct dmn_creds *cr,
					    const struct spawn_fds *f);

/* Close every descriptor *f holds (the parent's copies after fork, or on a
 * failed start) and set them to -1 / none. */
void dspawn_close_fds(struct spawn_fds *f);

#endif
