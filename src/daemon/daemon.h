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
 * fsync, rename, fsync dir), config.json, ctl.sock, console.log, vmm.log,
 * and snapshots/NAME/ (snap.c: root's, readable by the VM's owner).
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
	/* snapshots (snap.c) */
	char from_snap[1024];       /* created from this snapshot: "ID/NAME" or a path; "" none */
	bool restore_paused;        /* ... and starts paused */
	unsigned clone_index;       /* ... as clone N of it (1-64; 0: none): its own
	                             * vsock CID (recorded + N) and socket (".N"),
	                             * `restore --clone-index N` (config/clone_id.h) */
	char forensic[64];          /* quarantine's snapshot: its NAME; "" none */
	char forensic_error[256];   /* why the last quarantine has none */
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

/* A name the daemon accepts for a VM, a network or a snapshot: 1..max of
 * [A-Za-z0-9._-], starting with a letter or digit (one path component,
 * never "." or ".."). */
bool dmn_name_ok(const char *s, size_t max);

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

/* ---- snapshots (snap.c; created from one: snap_open.c) ----
 * A VM's snapshots live in STATE_DIR/vms/ID/snapshots/NAME/ (snap_dir.h's
 * three files), written by the daemon (root) through descriptors it hands
 * the VMM (CTL_SNAPSHOT), and made readable — never writable — by the VM's
 * owner (a POSIX ACL; where the file system has none, only through the
 * daemon). At most DSNAP_MAX per VM besides quarantine's forensic ones;
 * removing the VM removes them. */
#define DSNAP_MAX 8
#define DSNAP_NAME_MAX 63

/* Snapshot a running or paused VM into a new snapshot `name` (NULL: named
 * after the time). The VM stays paused (frozen from outside like a pause)
 * unless `resume` and it was running. 0 with the name in name_out, or
 * -errno with err: -ENOENT, -EBUSY (state), -EINVAL (name), -EEXIST (name
 * taken), -EDQUOT (DSNAP_MAX reached), the VMM's refusal (-ENOTSUP: a device
 * cannot save its state), the channel's -errno, -EIO. */
int dmn_snapshot(struct daemon *d, uid_t uid, const char *id, bool resume, const char *name,
		 char *name_out, size_t name_len, char *err, size_t errlen);

/* The forensic snapshot of quarantine (ops.c calls it with v claimed, before
 * cutting I/O; without d->lock): named quarantine-TIME, recorded in
 * v->forensic, or its failure in v->forensic_error. Leaves the VMM paused. */
void dvm_forensic_snapshot(struct daemon *d, struct dvm *v);

/* v's snapshots as a JSON array (d->lock held; a json_object *). */
struct json_object *dvm_snapshots_json(struct daemon *d, const struct dvm *v);
/* The directory of v's snapshot `name` into buf. */
void dvm_snap_path(const struct daemon *d, const struct dvm *v, const char *name, char *buf,
		   size_t len);

/* v's configuration as the VMM will read it (STATE/vms/ID/config.json,
 * parsed like the VMM parses it; strings borrowed from *root, which the
 * caller frees with config_json_free). 0, -EIO, -EINVAL (cpu_alloc.c). */
struct vm_config;
int dvm_load_config(struct daemon *d, const struct dvm *v, struct vm_config *cfg,
		    struct json_object **root, char *err, size_t errlen) BH_WUR;
/* Remove v's snapshot `name` (DELETE /v1/vms/{id}/snapshots/{name}): -EINVAL
 * a bad name, -ENOENT no such VM for uid or no such snapshot, -EBUSY the VM is
 * busy (a snapshot being written) or a VM was created from this snapshot (it
 * restores it at every start), -EACCES quarantine's evidence for a caller
 * other than root, -EIO the host failed. Takes d->lock. */
int dmn_snapshot_remove(struct daemon *d, uid_t uid, const char *id, const char *name, char *err,
			size_t errlen) BH_WUR;
/* Remove a VM's snapshots directory and everything in it (its files are
 * the daemon's own; nothing is followed). */
void dsnap_remove_all(const char *snapshots_dir);

/* Create a VM from a snapshot: `source` is "VM/NAME" (a snapshot of a VM uid
 * may see) or an absolute path of a snapshot directory, which is opened with
 * uid's permissions (a forked child with its uid, gid and groups: the daemon
 * reads nothing for a caller that the caller could not). The snapshot is
 * checked like restore checks it (manifest, state SHA-256, format, memory
 * size, the recorded configuration); its configuration becomes the VM's.
 * `paused`: the VM starts paused. Errors as dmn_create, plus -ENOENT (no such
 * snapshot, or not the caller's), -EACCES (unreadable for the caller). */
int dmn_create_from_snapshot(struct daemon *d, uid_t uid, const char *name, const char *source,
			     bool paused, char *id_out, char *err, size_t errlen);

/* Open v's snapshot source for a start (as its owner, like create) and
 * check it again: descriptors of sealed copies of the manifest and state
 * the daemon checked, and of the memory file, in fds[3]. 0 or -errno. */
int dvm_snap_open_for_start(struct daemon *d, struct dvm *v, int fds[3], char *err,
			    size_t errlen) BH_WUR;

/* Who a VM's processes run as, and whose permissions a snapshot path is
 * opened with: a non-root owner's uid and primary gid (plus the "kvm"
 * group when it exists) when the daemon is root; else no change. */
struct dmn_creds {
	bool drop;
	uid_t uid;
	gid_t gid;
	gid_t groups[1];
	int ngroups;
};
void dmn_creds_of(uid_t owner, struct dmn_creds *c);

/* A new, empty VM record, and its insertion (vmtab.c; takes d->lock):
 * name check, quota, a fresh ID, its directory with `config` as
 * config.json, state.json, the "created" event. Used by both create paths.
 * 0 and the ID in id_out, or -errno with err; on failure v is freed. */
struct dvm *dvm_new(void);
int dmn_insert(struct daemon *d, struct dvm *v, const char *name, const char *config,
	       size_t config_len, char *id_out, char *err, size_t errlen) BH_WUR;

/* Claim v (looked up for uid) for a long operation (ops.c; d->lock held,
 * kept): its state must be one of the bits `ok` (DVM_S(state)), and no other
 * operation may own it. 0 and *out (v->busy set), or -errno with err. */
#define DVM_S(x) (1u << (x))
int dvm_claim(struct daemon *d, uid_t uid, const char *id, unsigned ok, const char *op,
	      struct dvm **out, char *err, size_t errlen) BH_WUR;
/* End the claim (d->lock held; unlocks it). */
void dvm_release(struct daemon *d, struct dvm *v);
/* Freeze or thaw v's cgroup from outside (no d->lock): 0 or -errno
 * (-ENOTSUP: no cgroup). */
int dvm_freeze(struct daemon *d, struct dvm *v, bool on);

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

/* CTL_SNAPSHOT to v's VMM with the state and memory files (borrowed; see
 * ctl_proto.h); otherwise as dvm_ctl. */
int dvm_ctl_snapshot(struct daemon *d, struct dvm *v, uint32_t flags, int state_fd, int mem_fd,
		     unsigned timeout_ms, uint32_t *state_out, char *err, size_t errlen) BH_WUR;

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

/* Load STATE_DIR/vms (vm_record.c); re-attach each VM (spawn.c): adopt its
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
/* Wait (d->lock held; v claimed busy or referenced by refs, so nobody
 * removes it meanwhile) until an exited v's cgroup is removed — what its
 * VMM left behind, e.g. the VM process still tearing the VM down, is killed
 * and reaped by the supervisor — at most secs. */
void dvm_wait_cgroup_gone(struct daemon *d, struct dvm *v, unsigned secs);

uint64_t dmn_now_ns(void);

#endif
