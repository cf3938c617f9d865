/* procfs.h — the daemon's one reader of /proc/PID files (stat, status).
 *
 * The files belong to processes the daemon distrusts (a VMM runs as its
 * owner's uid), but their content is the kernel's; the one field a process
 * controls, comm in /proc/PID/stat, may hold spaces and parentheses, so the
 * parser starts after the LAST ')'. Pure readers: any thread, no state. */
#ifndef BH_DAEMON_PROCFS_H
#define BH_DAEMON_PROCFS_H

#include <stdint.h>
#include <sys/types.h>

#include "common/compiler.h"

struct proc_stat {
	char state;             /* R, S, D, T, Z, ... */
	uint64_t flags;         /* PF_* (PF_KTHREAD: a kernel thread) */
	uint64_t utime, stime;  /* clock ticks */
	uint64_t starttime;     /* clock ticks after boot: with the pid, names a process */
};

/* Parse /proc/PID/stat. 0, or -errno (-ENOENT: no such process, -EPROTO:
 * unparsable). */
int proc_stat_read(pid_t pid, struct proc_stat *out) BH_WUR;

/* Parse a /proc/PID/stat text of `len` bytes (exposed for the unit test). */
int proc_stat_parse(const char *text, size_t len, struct proc_stat *out) BH_WUR;

/* /proc/PID/stat's starttime; 0 if the process does not exist. */
uint64_t proc_start_time(pid_t pid);

/* Where a thread sleeps (/proc/PID/task/TID/wchan) into buf; "" if unknown. */
void proc_wchan(pid_t tid, char *buf, size_t len);

/* CPU seconds (user + system) and resident bytes (VmRSS) of pid. 0 or -errno. */
int proc_usage(pid_t pid, double *cpu_s, uint64_t *rss_bytes) BH_WUR;

#endif
