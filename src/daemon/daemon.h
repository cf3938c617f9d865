/* daemon.h — bulkheadd's state: the VM table, the supervisor, events.
 *
 * The daemon never maps guest memory and never parses guest data: it spawns
 * one VMM process per VM (`bulkhead run --config F --control-fd 3`), watches
 * it through a pidfd and talks to it over the control channel (ctl_proto.h).
 *
 * Locking: d->lock protects the VM list and every field of every dvm except
 * those marked otherwise. Long operations (start, stop, pause, control
 * requests) run without d->lock on a VM whose `busy` flag the caller set
 * under the lock; a second conflicting request meanwhile gets 409. A dvm is
 * freed only by rm, under the lock, when it is neither busy nor running.
 *
 * Distrust: a VMM runs as its VM's owner, who can stop, trace or replace it.
 * So every control request has one overall deadline (ctl_client.c); the VM's
 * limits live in a cgroup the daemon made before the VMM ran (vm_cgroup.h),
 * which is also how the daemon freezes, kills and cleans up a VM without the
 * VMM's help; and nothing the VMM (or its owner) can write is parsed by the
 * daemon without a size bound: the daemon's config.json stays root's (the
 * VMM reads a sealed copy), the VMM's stderr comes through a pipe capped at
 * lim.vmm_log_max, the console log is capped by the daemon's maximum.
 *
 * Fair shares: per-uid caps on VMs and guest memory (here), on API
 * connections and follow streams (api/server.c); root is exempt and has
 * reserved slots. A VM another non-root user owns is indistinguishable from
 * one that does not exist (-ENOENT).
 *
 * Errors: operations return 0 or -errno and write a message naming the
 * problem; api/status.c maps -errno to an HTTP status, in one table.
 *
 * Persistence: STATE_DIR/vms/ID/ holds state.json (written atomically: tmp,
 * fsync, rename, fsync dir), config.json, ctl.sock, console.log, vmm.log.
 * A restarted daemon reloads every state.json and re-attaches to VMMs still
 * running (same pid and same process start time). */
#ifndef BH_DAEMON_H
#define BH_DAEMON_H

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/compiler.h"
#include "config/vm_config.h"
#include "daemon/cpu_alloc.h"
#include "daemon/network.h"
#include "daemon/vm_cgroup.h"

#define DVM_ID_LEN 8       /* hex characters */
#define DVM_NAME_MAX 63
#define DMN_MAX_VMS 256    /* bounded: each VM costs a process and fds */
#define DMN_ROOT_VMS 16    /* of which only root may create the last ones */
#define DMN_EVENTS 256     /* events kept in memory */

enum dvm_state {
	DVM_CREATED,      /* configured, no process */
	DVM_STARTING,     /* VMM spawned, not yet answering */
	DVM_RUNNING,
	DVM_PAUSED,
	DVM_QUARANTINED,  /* paused, device I/O and console input cut off */
	DVM_STOPPING,
	DVM_EXITED,       /* process gone; exit reason recorded */
};

struct dvm;
/* What an event on the supervisor's epoll is about (epoll data.ptr). */
struct dvm_watch {
	struct dvm *v;              /* NULL: the daemon's wake_fd */
	enum { DVM_W_PID, DVM_W_LOG, DVM_W_SWITCH } kind; /* SWITCH: v is NULL */
};

struct dvm {
	struct dvm *next;
	char id[DVM_ID_LEN + 1];
	char name[DVM_NAME_MAX + 1];
	uid_t owner;
	enum dvm_state state;
	bool busy;                  /* a long operation owns this VM */
	unsigned refs;              /* short readers outside the lock (inspect) */
	bool stop_requested;        /* a stop/kill by the API: exit is expected */
	pid_t pid;                  /* 0: none */
	uint64_t pid_start;         /* /proc/PID/stat starttime (pid reuse check) */
	int pidfd;                  /* -1: not supervised */
	bool child;                 /* spawned by this daemon instance (waitable) */
	unsigned ncpus;
	uint64_t mem_bytes;
	uint64_t console_max;       /* console log cap (<= lim.console_max; 0: that) */
	int64_t created_at, started_at; /* unix seconds */
	uint64_t started_mono_ns;   /* CLOCK_MONOTONIC when it started running */
	uint64_t start_ms;          /* start request -> running, last start */
	int exit_code;              /* -1: unknown */
	int exit_signal;            /* 0: none */
	char exit_reason[32];       /* short key: poweroff, crash, killed, ... */
	char exit_detail[256];      /* last VMM log line or why unknown */
	char quarantine_reason[256];
	/* control channel: ctl_lock, not d->lock */
	pthread_mutex_t ctl_lock;
	int ctl_fd;
	uint32_t ctl_seq;
	struct { uint64_t exits, io_exits, mmio_exits; } stats; /* last status reply */
	bool cgroup;                /* the daemon made its cgroup (remove it at exit) */
	bool cgroup_pending;        /* exited, cgroup not yet removed (still emptying) */
	bool frozen;                /* frozen from outside by the daemon */
	bool refresh;               /* re-attached: ask its VMM for its state */
	/* the VMM's stderr: a pipe the supervisor drains into vmm.log, capped */
	int log_pipe;               /* read end, -1: none */
	int log_out;                /* vmm.log, -1: none */
	uint64_t log_bytes, log_dropped;
	struct dvm_watch w_pid, w_log;
	struct dcpu cpu;            /* CPUs held for the current run (cpu_alloc.h) */
	/* NICs (network.h): the network each one is on ("" : not a switch NIC),
	 * from the config at create; persisted in state.json */
	char nets[VM_MAX_NETS][DNET_NAME_MAX + 1];
	unsigned nnics;             /* NICs of any kind in its config */
	bool on_violation_quarantine; /* config on_violation: quarantine */
	unsigned sw_gen;            /* the switch generation its ports are in (0: none) */
	uint64_t violations;        /* violation events of its ports, this daemon's life */
	char quarantine_pending[80]; /* on_violation: quarantine, not done yet ("": none):
	                             * the event thread does it once the VM is not busy */
};

struct dmn_event {
	uint64_t seq;
	int64_t time;
	uid_t owner;
	char vm[DVM_ID_LEN + 1];
	char type[24];
	char detail[256];
};

/* Daemon-wide limits (bulkheadd options; root is exempt from the per-uid ones). */
struct dmn_limits {
	unsigned vms_per_uid;       /* VMs one non-root user may have */
	uint64_t mem_per_uid;       /* their total guest memory, bytes */
	uint64_t console_max;       /* largest console log a VM may write */
	uint64_t vmm_log_max;       /* bytes of VMM stderr kept in vmm.log */
	unsigned ctl_timeout_ms;    /* one control request, connect included */
	unsigned conns_per_uid;     /* concurrent API connections per non-root uid */
	unsigned follows_per_uid;   /* concurrent follow streams per non-root uid */
	unsigned root_reserve;      /* API connections only root may use */
};

struct daemon {
	char state_dir[PATH_MAX / 2];
	char vmm_path[PATH_MAX / 2];
	pthread_mutex_t lock;
	pthread_cond_t cond;        /* broadcast on every VM state change */
	struct dvm *vms;
	unsigned nvms;
	struct dmn_event events[DMN_EVENTS];
	uint64_t event_seq;         /* last assigned */
	int events_fd;              /* STATE_DIR/events.log, O_APPEND */
	int sup_ep;                 /* epoll: pidfds + wake_fd */
	int wake_fd;                /* eventfd: stop the supervisor */
	pthread_t sup_thread;
	bool sup_started;
	unsigned stop_timeout_s;    /* default graceful-stop wait */
	uint64_t requests, refusals; /* metrics (under lock) */
	struct dmn_limits lim;
	struct dcg cg;              /* cgroup hierarchies (read-only after init) */
	pthread_t refresh_thread;   /* first control round-trips after a restart */
	bool refresh_started;
	/* networks (network.h) */
	char switch_path[PATH_MAX / 2]; /* the bulkhead binary the switch runs from */
	struct dnet *nets;
	struct dsw sw;
	struct dvm_watch sw_watch;  /* the switch's pidfd on sup_ep */
	bool shutting_down;
};

/* ---- lifecycle (main thread) ---- */
void dmn_limits_default(struct dmn_limits *l);
int dmn_init(struct daemon *d, const char *state_dir, const char *vmm_path, char *err,
	     size_t errlen) BH_WUR;
/* Load STATE_DIR/vms/ and re-attach to running VMMs; start the supervisor. */
int dmn_recover(struct daemon *d, char *err, size_t errlen) BH_WUR;
void dmn_destroy(struct daemon *d);

/* ---- table (d->lock held) ---- */
struct dvm *dmn_find(struct daemon *d, const char *id_or_name);
const char *dvm_state_name(enum dvm_state s);
/* May `uid` see and control `v`? */
bool dvm_visible(const struct dvm *v, uid_t uid);
/* Find `id_or_name` among the VMs uid may see: -ENOENT (also for another
 * user's VM: its existence is not revealed) or -EEXIST (root: a name several
 * owners use; give the ID). */
int dmn_find_for(struct daemon *d, uid_t uid, const char *id_or_name, struct dvm **out) BH_WUR;
void dmn_event(struct daemon *d, const struct dvm *v, const char *type, const char *fmt, ...)
	BH_PRINTF(4, 5);
/* Write dir/file atomically (tmp, fsync, rename, fsync dir). 0 or -errno. */
int dmn_write_atomic(const char *dir, const char *file, const char *text, size_t len) BH_WUR;
/* Write v's state.json atomically. */
int dvm_save(struct daemon *d, const struct dvm *v) BH_WUR;
void dvm_path(const struct daemon *d, const struct dvm *v, const char *file, char *buf,
	      size_t len);

/* ---- operations (d->lock NOT held; they take it) ----
 * Each returns 0 or -errno and writes a message naming the problem into err
 * on failure (api/status.c: the HTTP status of each -errno). dmn_kill returns
 * -EINPROGRESS when the VM has not exited yet after SIGKILL. Pause and
 * quarantine freeze the VM from outside too; a VMM that does not confirm
 * within the deadline is frozen anyway (err then says so: "note"). */
int dmn_create(struct daemon *d, uid_t uid, const char *name, const char *body, size_t len,
	       char *id_out, char *err, size_t errlen);
int dmn_start(struct daemon *d, uid_t uid, const char *id, char *err, size_t errlen);
int dmn_pause(struct daemon *d, uid_t uid, const char *id, char *err, size_t errlen);
int dmn_resume(struct daemon *d, uid_t uid, const char *id, char *err, size_t errlen);
int dmn_stop(struct daemon *d, uid_t uid, const char *id, unsigned timeout_s, char *err,
	     size_t errlen);
int dmn_kill(struct daemon *d, uid_t uid, const char *id, char *err, size_t errlen);
int dmn_quarantine(struct daemon *d, uid_t uid, const char *id, const char *reason, char *err,
		   size_t errlen);
int dmn_remove(struct daemon *d, uid_t uid, const char *id, char *err, size_t errlen);

/* Look `id` up for `uid` (dmn_find_for) with a message. With d->lock held;
 * 0 and *out, or -ENOENT / -EEXIST. */
int dmn_lookup(struct daemon *d, uid_t uid, const char *id, struct dvm **out, char *err,
	       size_t errlen) BH_WUR;

/* One control request to v's VMM and its reply (refreshes v->stats). Without
 * d->lock; v must stay alive (the caller set busy or holds a ref). Connects on
 * first use. Everything — waiting for another request to this VM, connecting,
 * sending, receiving — ends by timeout_ms. 0, the VMM's -errno, or -errno of
 * the channel (-EPIPE: the VMM is gone, -ETIMEDOUT, -EPROTO: a malformed or
 * out-of-turn record, after which the connection is dropped). */
int dvm_ctl(struct daemon *d, struct dvm *v, unsigned type, unsigned timeout_ms,
	    uint32_t *state_out, char *err, size_t errlen) BH_WUR;

/* dvm_ctl with the argument some requests take (CTL_BALLOON_SET: the target
 * in bytes) and, for CTL_BALLOON_INFO, the figures of the reply copied to
 * *balloon_out (validated by the codec; only ever displayed). */
struct ctl_balloon;
int dvm_ctl_ex(struct daemon *d, struct dvm *v, unsigned type, uint64_t arg,
	       struct ctl_balloon *balloon_out, unsigned timeout_ms, uint32_t *state_out,
	       char *err, size_t errlen) BH_WUR;

/* Set the balloon's target of a running (or paused) VM: 0, -ENOENT, -EBUSY
 * (no process), -ENODEV (the VM has no balloon), -ERANGE (above its
 * memory), or the channel's -errno; err names the problem (ops.c). */
int dmn_balloon(struct daemon *d, uid_t uid, const char *id, uint64_t target_bytes, char *err,
		size_t errlen);

/* What a running VM costs the host (usage.c). `pid` is the VMM the daemon
 * spawned (`bulkhead run`): with the sandbox on, a supervisor whose child is
 * the jailed VM process; the figures are the VM process's (vCPU time, guest
 * RAM touched), the supervisor's separately. Any thread, no lock needed.
 * 0 or -errno (-ESRCH/-ENOENT: the process is gone). */
struct dvm_usage {
	pid_t vm_pid;              /* host pid of the VM process; 0: none (no sandbox) */
	double cpu_seconds;        /* VM process: user + system, every thread */
	uint64_t rss_bytes;        /* VM process */
	double sup_cpu_seconds;    /* supervisor (0 without the sandbox) */
	uint64_t sup_rss_bytes;
};
int dvm_read_usage(pid_t pid, struct dvm_usage *u) BH_WUR;

/* Load STATE_DIR/vms (vmtab.c); re-attach each VM (spawn.c): adopt its
 * pidfd only — no control round-trip under d->lock (dmn_recover does those
 * afterwards, without it). Main thread, before the supervisor runs. */
int dmn_load(struct daemon *d) BH_WUR;
void dvm_reattach(struct daemon *d, struct dvm *v);

/* Spawn v's VMM in its cgroup (spawn.c). 0 or -errno with a message. */
int dvm_spawn(struct daemon *d, struct dvm *v, char *err, size_t errlen) BH_WUR;
/* Add v's pidfd (and VMM log pipe) to the supervisor. d->lock held. */
int dvm_supervise(struct daemon *d, struct dvm *v) BH_WUR;
/* v's VMM is gone (d->lock held): record why, clean up its cgroup. */
void dvm_mark_exited(struct daemon *d, struct dvm *v, const siginfo_t *si, bool known,
		     const char *why);
/* Free a dvm (no longer in the list). */
void dvm_free(struct dvm *v);

/* Wait (d->lock held) until v leaves `state` / reaches EXITED, at most secs. */
void dvm_wait_state_change(struct daemon *d, struct dvm *v, enum dvm_state state,
			   unsigned secs);
void dvm_wait_exited(struct daemon *d, struct dvm *v, unsigned secs);

uint64_t dmn_now_ns(void);

#endif
