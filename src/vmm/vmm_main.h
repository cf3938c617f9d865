/* vmm_main.h — the VMM process's body: what `bulkhead run` does once its
 * options are parsed (and what bulkheadd's spawned VMMs run).
 *
 * Order, each step undone in reverse by one unwind path:
 *   close inherited fds (stdio, the control socket and named fds excepted)
 *   -> jail_fork (the parent becomes the supervisor and returns the child's
 *   exit code) -> build the VM (vm_create: every host resource opened, i.e.
 *   each device's attach) -> take the control socket -> jail_enter -> run
 *   -> map the stop reason to an exit code (config/exit_codes.h).
 * Main thread only; returns, never exits (architecture rule 3). */
#ifndef BH_VMM_MAIN_H
#define BH_VMM_MAIN_H

#include <stdbool.h>

#include "config/vm_config.h"
#include "sandbox/jail.h"
#include "vmm/fd_table.h"

/* cfg: validated configuration (strings borrowed for the call). jcfg: the
 * jail (jcfg->enabled false only with --no-sandbox; ncpus/mem/fsize filled in
 * here). control_fd: an inherited listening control socket, or -1. Returns
 * the process exit code (BH_EXIT_*). fds: the named descriptors (`--fd`,
 * checked by fd_table_add); kept by the start-up sweep, owned by vmm_main
 * from the call on (closed when it returns, in the supervisor and the VM
 * process alike); the control channel adds to it. */
int vmm_main(const struct vm_config *cfg, const struct jail_config *jcfg, int control_fd,
	     struct fd_table *fds);

/* A restore instead of a boot (`bulkhead restore`): cfg is the snapshot's
 * configuration, `state` its parsed state file (borrowed for the call), and
 * fds holds the memory file under VMM_SNAPSHOT_MEMORY_FD (opened read-only
 * by the caller; guest RAM is mapped from it copy-on-write, so nothing is
 * read up front and clones share unchanged pages). The VM is built
 * (vm_build), the saved state loaded (vm_snapshot_restore: every field
 * checked first) and it starts paused when `paused` (resume it over the
 * control channel). */
#define VMM_SNAPSHOT_MEMORY_FD "snapshot-memory"
struct snap_state;
struct vmm_restore {
	const struct snap_state *state;
	bool paused;
};
int vmm_main_restore(const struct vm_config *cfg, const struct jail_config *jcfg,
		     int control_fd, struct fd_table *fds, const struct vmm_restore *restore);

#endif
