/* vm_cgroup.h — the per-VM cgroup, created, frozen, emptied and removed by
 * the daemon (root), never by the VMM it contains.
 *
 * Why the daemon: a VM of a non-root user runs as that user, who can neither
 * create a cgroup under the daemon's root-owned hierarchy nor be trusted to
 * keep one (the owner can SIGSTOP, SIGKILL or ptrace its own VMM). So the
 * daemon makes STATE-specific base BASE = <hierarchy>[/own path]/bulkheadd-N
 * (N: a random name kept in STATE_DIR/cgroup-name, so two daemons on one
 * host never touch each other's VMs) and per VM BASE/bulkhead-vm-ID with
 * memory, CPU and pids limits; the spawned child joins it (writes "0" to
 * cgroup.procs through fds opened here) before it drops to the owner's uid
 * and execs the VMM, so every process of the VM, from its first instruction,
 * is inside. The files stay root's: the VMM cannot raise a limit, leave the
 * cgroup, or thaw itself.
 *
 * Layouts: cgroup v2 (BASE under the v2 root, which can always delegate) or
 * cgroup v1 controllers cpu, memory, pids and freezer (BASE under our own
 * cgroup in each hierarchy). The memory controller is required: without it
 * no VM is started (dvm start fails naming why).
 * Threads: any; functions touch only the filesystem. */
#ifndef BH_DAEMON_VM_CGROUP_H
#define BH_DAEMON_VM_CGROUP_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/compiler.h"

enum { DCG_CPU, DCG_MEMORY, DCG_PIDS, DCG_FREEZER, DCG_NCTRL };

/* Memory limit = guest RAM + this: the VMM's heap, kernel decompression
 * buffers, page cache of the images it reads, thread stacks. The same margin
 * the VMM's own jail uses when it makes the cgroup itself (JAIL_MEM_OVERHEAD,
 * src/sandbox/jail.h; the daemon may not include the sandbox layer). */
#define DCG_MEM_OVERHEAD (256ULL << 20)

struct dcg {
	int version;                       /* 0: none usable, 1, 2 */
	bool have[DCG_NCTRL];              /* controller usable */
	char base[DCG_NCTRL][PATH_MAX / 4]; /* v2: all the same directory */
	char name[32];                     /* bulkheadd-XXXXXXXX */
	char why[200];                     /* when !have[DCG_MEMORY]: why not */
};

struct dcg_limits {
	uint64_t mem_bytes;                /* memory.max / memory.limit_in_bytes */
	uint64_t cpu_quota_us;             /* per 100 ms period */
	unsigned cpu_weight;               /* cpu.weight 1-10000 (v1: cpu.shares); 0: default */
	unsigned pids;
};

/* Find the hierarchies and make BASE in each (see top). Never fails the
 * daemon: without a usable memory controller `why` says why and every
 * dcg_vm_create() fails. */
void dcg_init(struct dcg *c, const char *state_dir);

/* Create BASE/bulkhead-vm-ID in each hierarchy with `lim`, and open the
 * cgroup.procs files a child writes "0" to to join them: fds[] gets up to
 * DCG_NCTRL close-on-exec fds, *nfds their count. 0 or -errno with a message. */
int dcg_vm_create(const struct dcg *c, const char *id, const struct dcg_limits *lim,
		  int *fds, int *nfds, char *err, size_t errlen) BH_WUR;

/* Freeze (or thaw) every process of the VM, and wait until the kernel says
 * frozen, at most timeout_ms. Without a freezer: SIGSTOP (SIGCONT) each of
 * its processes through a pidfd (weaker: the owner can SIGCONT). 0 or
 * -errno (-ETIMEDOUT: not frozen in time). */
int dcg_vm_freeze(const struct dcg *c, const char *id, bool freeze, unsigned timeout_ms) BH_WUR;

/* SIGKILL every process in the VM's cgroup, then thaw it (a frozen v1 task
 * dies only once thawed). Returns how many were signalled. */
int dcg_vm_kill(const struct dcg *c, const char *id);

/* Remove the VM's cgroup in every hierarchy, nested directories first.
 * 0, -EBUSY while processes remain, or another -errno. */
int dcg_vm_remove(const struct dcg *c, const char *id) BH_WUR;

/* Does the VM's memory cgroup directory exist? (tests, sweep) */
bool dcg_vm_exists(const struct dcg *c, const char *id);

/* At daemon exit: remove BASE where it holds no VM's cgroup any more (an
 * rmdir, which the kernel refuses while a VM's cgroup is inside, so a VM
 * still running keeps it for the next daemon, which finds it by its name).
 * A daemon started with a fresh state directory each time (tests) thus
 * leaves no empty bulkheadd-N behind. */
void dcg_fini(const struct dcg *c);

/* At daemon start: every BASE/bulkhead-vm-* whose VM `keep` does not claim
 * (no VM of that id with a live process) is emptied (SIGKILL) and removed.
 * Returns how many were removed. */
unsigned dcg_sweep(const struct dcg *c, bool (*keep)(void *opaque, const char *id),
		   void *opaque);

#endif
