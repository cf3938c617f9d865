/* proc.h — what the benchmark driver needs from processes: start a VMM with
 * its stdout on a pipe, timestamp its output and its exit, read its smaps.
 * Times are CLOCK_MONOTONIC seconds. Single-threaded use. */
#ifndef BH_BENCH_PROC_H
#define BH_BENCH_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define PROC_MAX_WATCH 4

double proc_now(void);

struct proc {
	pid_t pid;
	int out;      /* read end of the child's stdout, or -1 */
	int pidfd;    /* pidfd_open() of the child, or -1 (then we poll waitpid) */
	double t0;    /* just before fork */
	int status;   /* wait status, valid once reaped */
	bool reaped;
	double t_exit;
};

/* fork + execv(argv[0]); stdin /dev/null, stdout to a pipe (capture) or
 * /dev/null, stderr to `errpath` (truncated) or /dev/null. 0 or -errno. */
int proc_start(struct proc *p, char *const argv[], bool capture, const char *errpath);

/* Follow a captured child's stdout until it exits, `stop_at` (an index into
 * pats, or -1) has been seen, or `deadline` passes. Records the arrival time
 * of the first byte (t_first, <0 if none) and of each pattern (t_pat[i], <0 if
 * not seen). Output is discarded. Returns 0, or -ETIMEDOUT. */
int proc_follow(struct proc *p, const char *const *pats, int npats, int stop_at, double deadline,
		double *t_first, double *t_pat);

/* Wait for the child until `deadline`; on timeout SIGKILL it (by PID) and
 * reap it anyway. 0 if it exited by itself, -ETIMEDOUT otherwise. */
int proc_wait(struct proc *p, double deadline);

/* SIGKILL + reap. */
void proc_kill(struct proc *p);

/* Close fds. Call after proc_wait/proc_kill. */
void proc_close(struct proc *p);

/* Wait until any of procs[0..n) (started, not reaped) exits or `deadline`;
 * reaps it and returns its index, or -ETIMEDOUT. */
int proc_wait_any(struct proc *procs, int n, double deadline);

/* Exit code of a reaped child (128+sig if killed). */
int proc_exit_code(const struct proc *p);

/* Sum of Rss over all mappings of `pid` (kB) and over the guest-RAM mappings:
 * those whose name contains `ram_name` (if non-NULL), else anonymous ones at
 * least `ram_bytes` long. 0 or -errno. */
int proc_smaps_rss(pid_t pid, const char *ram_name, unsigned long long ram_bytes,
		   unsigned long long *total_kb, unsigned long long *ram_kb);

/* Run argv (stderr to errpath) for at most `timeout` seconds and capture the
 * start of its stdout (NUL-terminated, at most len - 1 bytes). True if it
 * exited by itself with status 0. */
bool proc_run_capture(char *const argv[], const char *errpath, double timeout, char *out,
		      size_t len);
/* The first child process of `pid` (from /proc/PID/task/PID/children or a
 * /proc scan), or -1. */
pid_t proc_child_of(pid_t pid);
#endif
