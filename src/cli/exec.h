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
};

/* Boot the VM and connect to its agent (exec_vm.c). 0, or -errno with a
 * message in err (the console log's tail included when the guest failed);
 * -EINTR with *sig set when a signal arrived on sig_fd (a signalfd, or -1)
 * while it booted. The caller always calls exec_vm_destroy(). */
int exec_vm_start(struct exec_vm *vm, const struct exec_opts *o, const char *self, int sig_fd,
		  int *sig, char *err, size_t errlen) __attribute__((warn_unused_result));

/* Stop the VM (if running) and remove every host-side trace of it. Safe to
 * call on a partly started VM and twice. */
void exec_vm_destroy(struct exec_vm *vm);

int cli_exec(int argc, char **argv, uint64_t start_ns);

#endif
