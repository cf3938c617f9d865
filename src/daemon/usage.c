/* usage.c — see daemon.h (dvm_read_usage): what a VM costs the host, read
 * from /proc. A daemon VM is `bulkhead run`: a small supervisor (the pid the
 * daemon spawned and watches) whose one child, in its own PID namespace, is
 * the jailed VM process that runs the vCPUs and holds guest RAM. */
#include "daemon/daemon.h"
#include "daemon/procfs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
