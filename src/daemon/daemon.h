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
 * Persistence: STATE_DIR/vms/ID/ holds state.json (written atomically: tmp,
 * fsync, rename, fsync dir), config.json, ctl.sock, console.log, vmm.log.
 * A restarted daemon reloads every state.json and re-attaches to VMMs still
 * running (same pid and same process start time). */
#ifndef BH_DAEMON_H
#define BH_DAEMON_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/compiler.h"

#define DVM_ID_LEN 8       /* hex characters */
#define DVM_NAME_MAX 63
#define DMN_MAX_VMS 256    /* bounded: each VM costs a process and fds */
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
};

struct dmn_event {
	uint64_t seq;
	int64_t time;
	uid_t owner;
	char vm[DVM_ID_LEN + 1];
	char type[24];
	char detail[256];
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
};

/* ---- lifecycle (main thread) ---- */
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
void dmn_event(struct daemon *d, const struct dvm *v, const char *type, const char *fmt, ...)
	BH_PRINTF(4, 5);
/* Write v's state.json atomically. */
int dvm_save(struct daemon *d, const struct dvm *v) BH_WUR;
void dvm_path(const struct daemon *d, const struct dvm *v, const char *file, char *buf,
	      size_t len);

/* ---- operations (d->lock NOT held; they take it) ----
 * Each returns an HTTP status (200/201/202 or 4xx/5xx) and writes a message
 * naming the problem into err on failure. */
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

/* Look `id` up for `uid`: 404 if absent, 403 if someone else's. With d->lock
 * held; *out set on 200. */
int dmn_lookup(struct daemon *d, uid_t uid, const char *id, struct dvm **out, char *err,
	       size_t errlen);

/* One control request to v's VMM and its reply (refreshes v->stats). Without
 * d->lock; v must stay alive (the caller set busy or holds a ref). Connects on
 * first use. 0, the VMM's -errno, or -errno of the channel (-EPIPE: the VMM
 * is gone, -ETIMEDOUT). */
int dvm_ctl(struct daemon *d, struct dvm *v, unsigned type, unsigned timeout_ms,
	    uint32_t *state_out, char *err, size_t errlen) BH_WUR;

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

/* Load STATE_DIR/vms (vmtab.c); re-attach each VM (spawn.c). Main thread,
 * before the supervisor runs. */
int dmn_load(struct daemon *d) BH_WUR;
void dvm_reattach(struct daemon *d, struct dvm *v);

/* Read /proc/PID/stat's starttime; 0 if the process does not exist. */
uint64_t proc_start_time(pid_t pid);

uint64_t dmn_now_ns(void);

#endif
