/* jail.h — the VMM process's isolation layers (docs/security.md).
 *
 * A VM process is jailed before its first guest instruction:
 *   jail_fork()   (before vm_create) new PID namespace (+ user namespace when
 *                 started unprivileged); the parent stays outside, puts the
 *                 child in a per-VM cgroup, then only waits and forwards stop
 *                 signals; the child builds and runs the VM. KVM fds are bound
 *                 to the mm that created the VM, hence fork before vm_create.
 *                 The cgroup is set up by the parent WHILE the child builds
 *                 the VM (off the start-up path); the child waits for it in
 *                 jail_ready(), before any guest code or jail layer: until
 *                 then it runs only our own code on operator input.
 *   jail_ready()  (child; first step of jail_enter) wait for the cgroup.
 *   jail_enter()  (after vm_create: every file the VM needs is open) new
 *                 mount/net/IPC/UTS/cgroup namespaces, pivot_root into an empty
 *                 read-only tmpfs, rlimits, environment cleared, a per-VM
 *                 uid/gid, no capabilities (bounding and ambient sets too),
 *                 no_new_privs, not dumpable, Landlock, and the process-wide
 *                 seccomp filter;
 *   jail_thread_init()  first thing in every VM thread (the VM's
 *                 thread_init hook): that thread's own, narrower filter.
 *   jail_report_exit()  (child, once the VM has stopped) hand the exit code
 *                 to the supervisor, which returns it at once: the caller
 *                 does not wait while the kernel destroys the VM. The
 *                 supervisor leaves a cleaner process behind that removes the
 *                 cgroup once the VM process is gone (milliseconds).
 * Ownership: struct jail is owned by the caller (the child after fork); no
 * global state. Threads: jail_fork/jail_enter on the main thread only. */
#ifndef BH_JAIL_H
#define BH_JAIL_H

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/compiler.h"
#include "core/thread_kind.h"
#include "sandbox/seccomp_policy.h"
#include <linux/filter.h>

/* Default per-VM ids when started as root: base + host PID of the VM
 * process. PIDs of live processes are distinct, so concurrent VMs get
 * distinct ids; the range (0x70000000 + at most 2^22) is far above any
 * distribution's account or subuid ranges, so the ids own no host files. */
#define JAIL_ID_BASE 0x70000000u
/* Memory cgroup limit = guest RAM + this (VMM heap, kernel decompression
 * buffers, page cache of the images it reads, thread stacks). */
#define JAIL_MEM_OVERHEAD (256ULL << 20)

struct jail_config {
	bool enabled;            /* false only with --no-sandbox */
	bool seccomp_trap;       /* development aid: SIGSYS + syscall number, not kill */
	uint32_t uid, gid;       /* 0: default (see JAIL_ID_BASE) */
	unsigned ncpus;          /* vCPUs: CPU quota (ncpus + 1 CPUs), pids, rlimits */
	uint64_t mem_bytes;      /* guest RAM: memory cgroup limit base */
	unsigned cpu_weight;     /* cgroup cpu.weight (v1 cpu.shares); 0: leave the default */
	bool pin_supervisor;     /* --cpu-dedicated: the supervisor moves to supervisor_cpus
				  * (off the dedicated cores) once the VM process is forked */
	cpu_set_t supervisor_cpus;
	uint64_t fsize_max;      /* largest file the VM may write (console cap, disks) */
	const char *vsock_socket; /* virtio-vsock: the supervisor brokers guest→host
				   * connections to <socket>_<port> (sandbox/vsock_broker.h);
				   * NULL: no vsock */
	const char *vsock_allow;  /* the ports it may connect to (NULL: none) */
};

struct jail_cgroup {
	int version;             /* 0: none, 1: v1 controllers, 2: unified */
	char dirs[3][512];       /* created directories (v1: cpu, memory, pids) */
	unsigned ndirs;
};

struct bh_startup; /* common/startup.h */

struct jail {
	struct jail_config cfg;
	struct bh_startup *startup; /* start-up time marks, or NULL (set after jail_init) */
	bool early_exit;         /* set after jail_init: the child will call
	                          * jail_report_exit() (bulkhead run does) */
	int chan;                /* child: its end of the supervisor channel, -1 once closed */
	int broker_fd;           /* child: its end of the vsock broker channel, or -1 (the
				  * caller takes it; jail_destroy closes it otherwise) */
	int netns_fd;            /* child: the network namespace the supervisor made, or -1 */
	bool privileged;         /* started as root in the initial user namespace */
	bool userns;             /* unprivileged: a user namespace maps us to 0 */
	uid_t outer_uid;         /* who started us (the VM's ids when unprivileged) */
	gid_t outer_gid;
	bool uid_chosen;         /* --sandbox-uid given (may be shared: no NPROC cap) */
	pid_t host_pid;          /* the VM process's PID as the parent sees it */
	int landlock_abi;        /* 0: unavailable */
	struct jail_cgroup cg;   /* parent side */
	struct sock_fprog filters[SC_KIND_COUNT]; /* compiled at build time (seccomp_bpf.h) */
	char summary[256];       /* what is on, for the start-up log line */
};

void jail_init(struct jail *j, const struct jail_config *cfg);

/* Fork the VM process into a new PID namespace (see top). Returns 0 in the
 * child (continue: build and run the VM), 1 in the parent once the child has
 * ended, with *exit_code = the child's exit code (a child killed by a signal
 * is reported and mapped to 1, host failure). Errors: -errno before the fork
 * with a message in err. Stop signals (INT/TERM/HUP/QUIT) are forwarded to
 * the child; in the child they are left blocked, so one arriving before
 * vm_run() still stops the VM once it runs. */
int jail_fork(struct jail *j, int *exit_code, char *err, size_t errlen) BH_WUR;

/* The supervisor forwards a stop signal, and if the VM process has not ended
 * JAIL_STOP_GRACE_S(ncpus) seconds later (it gives up on vCPUs that ignore
 * the stop after VM_STOP_DEADLINE_MS: 5 s + 40 ms per vCPU), kills it with
 * SIGKILL; the exit code is then 4 (stopped by a signal). */
#define JAIL_STOP_GRACE_S(ncpus) (10u + (unsigned)(ncpus) / 25u)

/* Child: wait until the supervisor has put us in our cgroup (or has given
 * up: then an error, and the VM must not run); learn our host PID and the
 * default ids. Idempotent; jail_enter() calls it first. */
int jail_ready(struct jail *j, char *err, size_t errlen) BH_WUR;

/* Child, after vm_run() (only with early_exit): send `code` to the
 * supervisor, which exits with it right away, then detach from the caller's
 * stdin/stdout/stderr (so a reader of our output sees its end now, not
 * after the VM's teardown). Log nothing after this. No-op without a
 * channel. */
void jail_report_exit(struct jail *j, int code);

/* Apply every post-creation layer (see top) and load the process-wide
 * seccomp filter. The caller then installs jail_thread_init (opaque = j) as
 * the VM's thread hook (vm_set_thread_init). Call in the child once every
 * host resource the VM needs is open, before vm_run(). Errors: -errno and a message;
 * the VM must then not run. Landlock being unavailable is not an error (a
 * loud warning). */
int jail_enter(struct jail *j, char *err, size_t errlen) BH_WUR;

/* Make the C library do now, while files can still be opened, what it would
 * otherwise do on its own later (read the time zone; size malloc's arena
 * limit, which otherwise reads /sys once a process has more than 8 threads).
 * jail_enter() calls it first; main thread, before any other thread. */
void jail_prepare_libc(void);

/* The VM's thread_init hook (opaque = struct jail *): load this thread's
 * filter. Called by the thread itself, first thing. */
int jail_thread_init(void *opaque, enum vm_thread_kind kind);

/* Release what the jail holds (the loaded filters stay in force). */
void jail_destroy(struct jail *j);

/* Jail the calling single-threaded switch process (`bulkhead switch`,
 * src/switch/) once its listening/control/signal descriptors are open: a
 * user namespace when started unprivileged, then new mount/net/IPC/UTS/
 * cgroup namespaces with an empty read-only root, rlimits (no core, at most
 * SW_JAIL_NOFILE descriptors), environment wiped, a per-switch uid/gid
 * (JAIL_ID_BASE + PID as root), no capabilities, no_new_privs, Landlock,
 * and the SC_KIND_SWITCH seccomp filter (trap: SIGSYS instead of a kill).
 * No PID namespace: the switch cannot fork or signal (seccomp). Writes what
 * is on to summary. 0 or -errno with a message. */
#define SW_JAIL_NOFILE 1024u
int jail_switch_enter(bool trap, char *summary, size_t sumlen, char *err,
	size_t errlen) BH_WUR;                                      /* jail_switch.c */

/* Layers, exposed for jail.c and the sandbox tests (sandbox/jail_*.c). */
/* Unprivileged: a user namespace in which we are uid/gid 0 (jail.c). */
int jail_userns_enter(char *err, size_t errlen) BH_WUR;
/* netns_fd: a new, empty network namespace to enter (the fd is closed), or
 * -1 to create one. */
int jail_ns_enter(int netns_fd, char *err, size_t errlen) BH_WUR; /* jail_ns.c */
int jail_cgroup_create(struct jail *j, pid_t pid, char *err, size_t errlen) BH_WUR;
void jail_cgroup_remove(struct jail *j);                        /* jail_cgroup.c */
int jail_landlock_apply(int *abi, char *err, size_t errlen) BH_WUR; /* jail_landlock.c */
int jail_drop_privileges(const struct jail *j, char *err, size_t errlen) BH_WUR; /* jail_caps.c */
int jail_set_rlimits(const struct jail *j, char *err, size_t errlen) BH_WUR;     /* jail_caps.c */

#endif
