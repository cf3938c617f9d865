/* usage.c — see daemon.h (dvm_read_usage): what a VM costs the host, read
 * from /proc. A daemon VM is `bulkhead run`: a small supervisor (the pid the
 * daemon spawned and watches) whose one child, in its own PID namespace, is
 * the jailed VM process that runs the vCPUs and holds guest RAM. */
#include "daemon/daemon.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* CPU seconds (user + system, all threads) and RSS of one process. */
static int proc_usage(pid_t pid, double *cpu_s, uint64_t *rss)
{
	char path[64], buf[1024], *p;
	unsigned long long ut = 0, stt = 0;
	long tck = sysconf(_SC_CLK_TCK);
	FILE *f;

	*cpu_s = 0;
	*rss = 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return -EIO;
	}
	fclose(f);
	/* The command name may hold spaces and parentheses: fields follow
	 * the last ')'. utime and stime are fields 14 and 15. */
	p = strrchr(buf, ')');
	if (p && sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
			&stt) == 2 &&
	    tck > 0)
		*cpu_s = (double)(ut + stt) / (double)tck;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(buf, sizeof(buf), f)) {
		unsigned long long kb;

		if (sscanf(buf, "VmRSS: %llu kB", &kb) == 1) {
			*rss = kb * 1024;
			break;
		}
	}
	fclose(f);
	return 0;
}

/* The supervisor's child (the jailed VM process), or 0 (--no-sandbox: the
 * supervisor is the VM process itself). */
static pid_t vm_child(pid_t sup)
{
	char path[80], buf[256];
	long child = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)sup, (int)sup);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fgets(buf, sizeof(buf), f))
		child = strtol(buf, NULL, 10);
	fclose(f);
	return child > 0 ? (pid_t)child : 0;
}

int dvm_read_usage(pid_t pid, struct dvm_usage *u)
{
	int ret;

	memset(u, 0, sizeof(*u));
	if (pid <= 0)
		return -ESRCH;
	u->vm_pid = vm_child(pid);
	if (!u->vm_pid)
		return proc_usage(pid, &u->cpu_seconds, &u->rss_bytes);
	if ((ret = proc_usage(u->vm_pid, &u->cpu_seconds, &u->rss_bytes)))
		return ret;
	return proc_usage(pid, &u->sup_cpu_seconds, &u->sup_rss_bytes);
}
