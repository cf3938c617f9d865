/* exec.h — `bulkhead exec`: run one program in a fresh, throwaway VM
 * (exec.c: options, the job, statuses; exec_vm.c: the VM's life). */
#ifndef BH_CLI_EXEC_H
#define BH_CLI_EXEC_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#define EXEC_MAX_COPIES 16
#define EXEC_MAX_ENV 128

/* The exit codes of `bulkhead exec` besides the program's own status
 * (shell and container conventions; README "bulkhead exec"). */
#define EXEC_EXIT_TIMEOUT 124
#define EXEC_EXIT_BULKHEAD 125
#define EXEC_EXIT_CANNOT_INVOKE 126
#define EXEC_EXIT_NOT_FOUND 127

struct exec_copy {
	const char *host, *guest;
};

struct exec_opts {
	uint64_t mem;          /* bytes */
	unsigned cpus;
	int timeout_ms;        /* 0 = none */
	int boot_timeout_ms;
	const char *rootfs;    /* image or directory; NULL = the default */
	const char *guest;     /* prepared exec guest NAME|DIR (kernel, initrd, cmdline) */
	struct exec_copy copy_in[EXEC_MAX_COPIES], copy_out[EXEC_MAX_COPIES];
	unsigned ncopy_in, ncopy_out;
	const char *env[EXEC_MAX_ENV];
	unsigned nenv;
	const char *workdir;
	uint32_t uid, gid;
	bool tty, interactive;
	const char *json_status;
	uint64_t output_max;
	uint64_t copy_max;
	unsigned pids_max;
	bool verbose, quiet;
	const char *vm;        /* --vm: a VM of bulkheadd instead of a throwaway one */
	const char *socket;    /* --socket: the daemon's (NULL: $BULKHEAD_SOCKET, default) */
	const char *vm_only_bad; /* an option that does not go with --vm, or NULL */
	bool boot_timeout_set;
	bool no_snapshot;      /* --no-snapshot: always boot (no snapshot cache) */
	char **argv; /* the program and its arguments */
	int argc;
};

/* The VM of one exec: a private directory (0700, removed at the end) with
 * the VM's vsock socket, console log and any image made from --rootfs DIR. */
struct exec_vm {
	char dir[PATH_MAX];
	char sock[PATH_MAX + 16];
	char console[PATH_MAX + 16];
	char image[PATH_MAX + 16]; /* made from a --rootfs directory, or "" */
	int pid;                   /* the `bulkhead run` process, or -1 */
	int pidfd;
	int conn;                  /* the connection to the agent, or -1 */
	char control[PATH_MAX + 16]; /* the VMM's control socket (a build), or "" */
	enum { EXEC_FROM_NONE, EXEC_FROM_BOOT, EXEC_FROM_SNAPSHOT } from;
};

/* The snapshot cache entry of an exec's VM (exec_snap.c: the layout, the
 * key and its inputs are described there; README "The fast path"). */
struct exec_snap {
	char root[PATH_MAX];        /* CACHE/exec-snap */
	char entry[PATH_MAX + 80];  /* root/<hex key> */
	char tmp[PATH_MAX + 100];   /* root/<hex key>.tmp.<pid>: being built */
	char lock[PATH_MAX + 100];  /* root/<hex key>.lock */
	char inputs[4 * PATH_MAX];  /* the key's inputs, as text (entry/key) */
	int lock_fd;                /* the entry's flock, or -1 */
};

/* The key of the VM o asks for with root filesystem image img: fills s
 * (nothing is created). 0, or -errno with err. */
int exec_snap_init(struct exec_snap *s, const struct exec_opts *o, const char *img, char *err,
		   size_t errlen) __attribute__((warn_unused_result));
/* Whether the entry is there (complete: it appears by rename). */
bool exec_snap_ready(const struct exec_snap *s);
/* Take the entry's lock without waiting (the cache root made 0700 first):
 * 0, or -EWOULDBLOCK (another exec builds it) or another -errno. */
int exec_snap_lock(struct exec_snap *s) __attribute__((warn_unused_result));
void exec_snap_unlock(struct exec_snap *s);
/* Remove what an exec killed while it built or removed this entry left
 * (root/<hex key>.tmp.* and .gone.*): only with the entry's lock held. */
void exec_snap_sweep(const struct exec_snap *s);
/* Write the key file into s->tmp (a complete snapshot) and rename it into
 * place. 0, or -errno with err (s->tmp removed). */
int exec_snap_install(struct exec_snap *s, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* Remove the entry (a restore refused it). */
void exec_snap_remove(struct exec_snap *s);
/* Remove a flat directory (files only) and the directory. */
void exec_rmdir_flat(const char *dir);

/* Boot the VM and connect to its agent (exec_vm.c). 0, or -errno with a
 * message in err (the console log's tail included when the guest failed);
 * -EINTR with *sig set when a signal arrived on sig_fd (a signalfd, or -1)
 * while it booted. The caller always calls exec_vm_destroy(). */
int exec_vm_start(struct exec_vm *vm, const struct exec_opts *o, const char *self, int sig_fd,
		  int *sig, char *err, size_t errlen) __attribute__((warn_unused_result));

/* Stop the VM (if running) and remove every host-side trace of it. Safe to
 * call on a partly started VM and twice. */
void exec_vm_destroy(struct exec_vm *vm);

/* Open an exec session on bulkheadd's VM `vm` (exec_daemon.c): the daemon's
 * socket connected, POST /v1/vms/{vm}/exec sent, its 101 read; the fd then
 * carries the agent protocol. connect_ms: how long the daemon may wait for
 * the agent (a guest still booting), -1 for its default. The fd, or -errno
 * with err (the daemon's own message for a refusal). */
int exec_daemon_connect(const char *socket_path, const char *vm, int connect_ms, char *err,
			size_t errlen) __attribute__((warn_unused_result));

int cli_exec(int argc, char **argv, uint64_t start_ns);

#endif
