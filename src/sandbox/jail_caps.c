/* jail_caps.c — identity, capabilities, process attributes and rlimits
 * (see jail.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox/jail.h"

/* Highest capability the kernel knows; probed (no /proc needed). */
static int cap_last(void)
{
	int c = 40;

	while (c < 128 && prctl(PR_CAPBSET_READ, (unsigned long)c + 1, 0, 0, 0) >= 0)
		c++;
	while (c > 0 && prctl(PR_CAPBSET_READ, (unsigned long)c, 0, 0, 0) < 0)
		c--;
	return c;
}

static int fail(char *err, size_t errlen, const char *what)
{
	int e = errno;

	snprintf(err, errlen, "sandbox: %s: %s", what, strerror(e));
	return -e;
}

int jail_drop_privileges(const struct jail *j, char *err, size_t errlen)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];
	uid_t uid = j->userns ? 0 : j->cfg.uid;
	gid_t gid = j->userns ? 0 : j->cfg.gid;
	int last = cap_last();

	/* Bounding set first: dropping it needs CAP_SETPCAP, gone after setuid. */
	for (int c = 0; c <= last; c++)
		if (prctl(PR_CAPBSET_DROP, (unsigned long)c, 0, 0, 0) < 0 && errno != EINVAL)
			return fail(err, errlen, "dropping the capability bounding set");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return fail(err, errlen, "clearing ambient capabilities");
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return fail(err, errlen, "PR_SET_KEEPCAPS");
	/* In a user namespace setgroups is denied (and maps nothing anyway). */
	if (!j->userns && setgroups(0, NULL) < 0)
		return fail(err, errlen, "setgroups");
	if (setresgid(gid, gid, gid) < 0)
		return fail(err, errlen, "setresgid");
	if (setresuid(uid, uid, uid) < 0)
		return fail(err, errlen, "setresuid");
	/* The kernel clears the parent-death signal when credentials change
	 * (commit_creds): arm it again, or a VM whose supervisor is SIGKILLed
	 * (by the daemon, by an operator) would live on as an orphan. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		return fail(err, errlen, "PR_SET_PDEATHSIG");
	/* Explicitly empty: as uid 0 in a user namespace setresuid keeps them. */
	memset(data, 0, sizeof(data));
	if (syscall(SYS_capset, &hdr, data) < 0)
		return fail(err, errlen, "capset");
	if (syscall(SYS_capget, &hdr, data) < 0)
		return fail(err, errlen, "capget");
	if (data[0].effective | data[0].permitted | data[0].inheritable | data[1].effective |
	    data[1].permitted | data[1].inheritable) {
		snprintf(err, errlen, "sandbox: capabilities still present after dropping them");
		return -EPERM;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return fail(err, errlen, "PR_SET_NO_NEW_PRIVS");
	/* No core dumps, no ptrace attach by same-uid processes, /proc/PID
	 * owned by root. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return fail(err, errlen, "PR_SET_DUMPABLE");
	return 0;
}

/* Highest open fd + 1. Called before the root goes away, after every fd
 * the VM needs is open. One directory read of /proc/self/fd (the VM
 * process's own /proc, jail_fork mounts it): asking every possible fd with
 * fcntl() cost one syscall per slot up to RLIMIT_NOFILE — 20,000 to 65,536
 * syscalls, milliseconds, on every start. Without a readable /proc the walk
 * remains, as the fallback. */
static int fd_high(void)
{
	struct rlimit r;
	struct dirent *de;
	DIR *d = opendir("/proc/self/fd");
	int hi = 2;

	if (d) {
		int self = dirfd(d);

		while ((de = readdir(d))) {
			char *end;
			long fd = strtol(de->d_name, &end, 10);

			if (de->d_name[0] >= '0' && de->d_name[0] <= '9' && !*end && fd != self &&
			    fd > hi && fd < INT_MAX)
				hi = (int)fd;
		}
		closedir(d);
		return hi + 1;
	}
	if (getrlimit(RLIMIT_NOFILE, &r) < 0 || r.rlim_cur > 65536)
		r.rlim_cur = 65536;
	for (int fd = 3; fd < (int)r.rlim_cur; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			hi = fd;
	return hi + 1;
}

/* Address space: a backstop against a runaway allocation in a buggy or
 * compromised VMM that also holds where no memory cgroup could be made (the
 * cgroup stays the real limit). What a VMM maps fits well inside it: guest
 * RAM with its guard pages, 8 MiB stacks for the main, event and vCPU
 * threads, the malloc arenas (capped before the jail), io_uring rings and
 * the libraries. Sanitizer builds reserve terabytes of shadow memory, so
 * they get none (docs/security.md). 0: no limit. */
#if defined(__SANITIZE_ADDRESS__)
#define JAIL_AS_BACKSTOP 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define JAIL_AS_BACKSTOP 0
#endif
#endif
#ifndef JAIL_AS_BACKSTOP
#define JAIL_AS_BACKSTOP 1
#endif

static rlim_t as_limit(const struct jail *j)
{
	if (!JAIL_AS_BACKSTOP)
		return RLIM_INFINITY;
	return (rlim_t)j->cfg.mem_bytes + (2ULL << 30) + (rlim_t)j->cfg.ncpus * (32ULL << 20);
}

int jail_set_rlimits(const struct jail *j, char *err, size_t errlen)
{
	/* Soft = hard: without CAP_SYS_RESOURCE nothing can be raised again. */
	struct {
		int res;
		rlim_t val;
		const char *name;
	} lim[] = {
		/* room for the signalfd vm_run() makes and a few control conns. */
		{ RLIMIT_NOFILE, (rlim_t)fd_high() + 64, "RLIMIT_NOFILE" },
		/* the console file is capped; disks are written in place. */
		{ RLIMIT_FSIZE, j->cfg.fsize_max ? j->cfg.fsize_max : RLIM_INFINITY,
		  "RLIMIT_FSIZE" },
		{ RLIMIT_CORE, 0, "RLIMIT_CORE" },
		/* threads of the per-VM uid: vCPUs, event thread, main, margin. */
		{ RLIMIT_NPROC, (rlim_t)j->cfg.ncpus + 4, "RLIMIT_NPROC" },
		{ RLIMIT_AS, as_limit(j), "RLIMIT_AS" },
	};

	for (size_t i = 0; i < BH_ARRAY_SIZE(lim); i++) {
		struct rlimit r = { lim[i].val, lim[i].val };

		/* NPROC counts every process of the uid: only for the per-VM
		 * default uid. Unprivileged the uid is the invoking user's, and an
		 * operator-chosen --sandbox-uid may be shared by several VMs. */
		if (lim[i].res == RLIMIT_NPROC && (j->userns || j->uid_chosen))
			continue;
		if (setrlimit(lim[i].res, &r) < 0)
			return fail(err, errlen, lim[i].name);
	}
	return 0;
}
