/* jail_cgroup.c — the per-VM cgroup: CPU quota, memory and pids limits,
 * created by the (unjailed) parent before the VM process runs anything, and
 * removed by it when the VM process has ended (see jail.h).
 *
 * Layouts handled:
 *   cgroup v2 (/sys/fs/cgroup/cgroup.controllers exists): the VM's cgroup is
 *     a child of our own cgroup when that one can delegate cpu/memory/pids
 *     (the root can, a leaf with processes cannot: "no internal processes"),
 *     else a child of <root>/bulkhead;
 *   cgroup v1 controllers (/sys/fs/cgroup/{cpu,memory,pids}, possibly beside
 *     an unused v2 mount): one directory per controller under our own
 *     cgroup in that hierarchy, so limits set on us still apply above it.
 * No cgroup filesystem at all: a loud warning, the other layers still apply.
 * Started by bulkheadd: the daemon already put this process into a per-VM
 * cgroup it owns (BASE/bulkhead-vm-ID, see src/daemon/vm_cgroup.h) with the
 * limits for this VM, before it even executed us; nothing is created here
 * (under v2 a nested one would even have to leave that cgroup). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cgroupfs.h"
#include "common/log.h"
#include "sandbox/jail.h"

static int make_dir(struct jail *j, const char *dir)
{
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	snprintf(j->cg.dirs[j->cg.ndirs++], sizeof(j->cg.dirs[0]), "%s", dir);
	return 0;
}

/* Enable cpu, memory and pids for dir's children, one by one (a missing
 * controller must not stop the others). -EBUSY: dir holds processes. */
static int v2_delegate(const char *dir)
{
	static const char *const ctl[] = { "+cpu", "+memory", "+pids" };
	int ret = 0;

	for (size_t i = 0; i < BH_ARRAY_SIZE(ctl); i++) {
		int r = cgfs_write(dir, "cgroup.subtree_control", ctl[i]);

		if (r == -EBUSY || r == -EACCES || r == -EPERM || r == -EROFS)
			return r;
		if (r && !ret)
			ret = r;
	}
	return ret == -ENOENT ? 0 : ret; /* ENOENT: not available, warned later */
}

static int cg_v2(struct jail *j, pid_t pid, const char *mem, const char *cpu, const char *pids,
		 char *err, size_t errlen)
{
	char own[512], base[560], dir[600], cpumax[64], p[24], weight[16];
	const struct {
		const char *file, *val, *what;
	} lim[] = {
		{ "memory.max", mem, "memory" },
		{ "cpu.max", cpumax, "CPU" },
		{ "cpu.weight", weight, "CPU weight" },
		{ "pids.max", pids, "pids" },
	};
	int ret;

	if (cgfs_own_path(NULL, own, sizeof(own)))
		own[0] = '\0';
	snprintf(base, sizeof(base), CGFS_ROOT "%s", own);
	if (v2_delegate(base)) {
		/* Our cgroup holds processes: use <root>/bulkhead instead. */
		(void)v2_delegate(CGFS_ROOT);
		snprintf(base, sizeof(base), CGFS_ROOT "/bulkhead");
		if (mkdir(base, 0755) < 0 && errno != EEXIST) {
			ret = -errno;
			snprintf(err, errlen, "sandbox: cgroup: mkdir %s: %s", base, strerror(errno));
			return ret;
		}
		if ((ret = v2_delegate(base))) {
			snprintf(err, errlen, "sandbox: cgroup: cannot delegate cpu, memory, pids to %s: %s",
				 base, strerror(-ret));
			return ret;
		}
	}
	snprintf(dir, sizeof(dir), "%s/bulkhead-vm-%d", base, (int)pid);
	if ((ret = make_dir(j, dir))) {
		snprintf(err, errlen, "sandbox: cgroup: mkdir %s: %s", dir, strerror(-ret));
		return ret;
	}
	snprintf(cpumax, sizeof(cpumax), "%s %llu", cpu, CGFS_CPU_PERIOD_US);
	snprintf(weight, sizeof(weight), "%u", j->cfg.cpu_weight ? j->cfg.cpu_weight : 100u);
	for (size_t i = 0; i < BH_ARRAY_SIZE(lim); i++) {
		ret = cgfs_write(dir, lim[i].file, lim[i].val);
		if (ret == -ENOENT) {
			bh_warn("SANDBOX: cgroup v2 has no %s controller here: no %s limit",
				lim[i].what, lim[i].what);
		} else if (ret) {
			snprintf(err, errlen, "sandbox: cgroup: writing %s/%s: %s", dir, lim[i].file,
				 strerror(-ret));
			return ret;
		}
	}
	snprintf(p, sizeof(p), "%d", (int)pid);
	if ((ret = cgfs_write(dir, "cgroup.procs", p))) {
		snprintf(err, errlen, "sandbox: cgroup: moving the VM into %s: %s", dir,
			 strerror(-ret));
		return ret;
	}
	return 0;
}

static int cg_v1(struct jail *j, pid_t pid, const char *mem, const char *cpu, const char *pids,
		 char *err, size_t errlen)
{
	static const char *const ctrls[] = { "cpu", "memory", "pids" };
	char own[512], dir[600], p[24];
	int ret;

	snprintf(p, sizeof(p), "%d", (int)pid);
	for (size_t i = 0; i < BH_ARRAY_SIZE(ctrls); i++) {
		char mnt[64];

		snprintf(mnt, sizeof(mnt), CGFS_ROOT "/%s/cgroup.procs", ctrls[i]);
		if (!cgfs_exists(mnt)) {
			bh_warn("SANDBOX: no cgroup v1 '%s' controller mounted: no %s limit",
				ctrls[i], ctrls[i]);
			continue;
		}
		if (cgfs_own_path(ctrls[i], own, sizeof(own)))
			own[0] = '\0';
		snprintf(dir, sizeof(dir), CGFS_ROOT "/%s%s/bulkhead-vm-%d", ctrls[i], own, (int)pid);
		if ((ret = make_dir(j, dir))) {
			snprintf(err, errlen, "sandbox: cgroup: mkdir %s: %s", dir, strerror(-ret));
			return ret;
		}
		if (i == 0) {
			char period[24];

			snprintf(period, sizeof(period), "%llu", CGFS_CPU_PERIOD_US);
			if (!(ret = cgfs_write(dir, "cpu.cfs_period_us", period)))
				ret = cgfs_write(dir, "cpu.cfs_quota_us", cpu);
			if (!ret && j->cfg.cpu_weight) { /* cpu.weight 100 = 1024 shares */
				unsigned sh = j->cfg.cpu_weight * 1024u / 100u;

				snprintf(period, sizeof(period), "%u", sh < 2 ? 2 : sh);
				ret = cgfs_write(dir, "cpu.shares", period);
			}
		} else if (i == 1) {
			ret = cgfs_write(dir, "memory.limit_in_bytes", mem);
		} else {
			ret = cgfs_write(dir, "pids.max", pids);
		}
		if (!ret)
			ret = cgfs_write(dir, "cgroup.procs", p);
		if (ret) {
			snprintf(err, errlen, "sandbox: cgroup: limits in %s: %s", dir,
				 strerror(-ret));
			return ret;
		}
	}
	return 0;
}

/* Are we inside a per-VM cgroup bulkheadd made for us? (v2, or v1 memory) */
static int managed_cgroup(void)
{
	char own[512];
	const char *last;
	int version = cgfs_exists(CGFS_ROOT "/cgroup.controllers") ? 2 : 1;

	if (cgfs_own_path(version == 2 ? NULL : "memory", own, sizeof(own)))
		return 0;
	last = strrchr(own, '/');
	return last && !strncmp(last + 1, "bulkhead-vm-", 12) && strlen(last + 1) == 20 &&
			       strspn(last + 13, "0123456789abcdef") == 8
		       ? version
		       : 0;
}

int jail_cgroup_create(struct jail *j, pid_t pid, char *err, size_t errlen)
{
	char mem[32], cpu[32], pids[16];
	char probe[64];

	j->cg.ndirs = 0;
	j->cg.version = managed_cgroup();
	if (j->cg.version) {
		bh_dbg("sandbox: already in the per-VM cgroup bulkheadd made and limited");
		return 0;
	}
	snprintf(mem, sizeof(mem), "%llu",
		 (unsigned long long)(j->cfg.mem_bytes + JAIL_MEM_OVERHEAD));
	/* vCPUs plus the event thread may each use a whole CPU, no more. */
	snprintf(cpu, sizeof(cpu), "%llu", (unsigned long long)(j->cfg.ncpus + 1) * CGFS_CPU_PERIOD_US);
	/* main + event + vCPUs + margin: no fork bombs, threads only. */
	snprintf(pids, sizeof(pids), "%u", j->cfg.ncpus + 8);
	if (cgfs_exists(CGFS_ROOT "/cgroup.controllers")) {
		j->cg.version = 2;
		return cg_v2(j, pid, mem, cpu, pids, err, errlen);
	}
	snprintf(probe, sizeof(probe), CGFS_ROOT "/memory/cgroup.procs");
	if (cgfs_exists(probe) || cgfs_exists(CGFS_ROOT "/cpu/cgroup.procs")) {
		j->cg.version = 1;
		return cg_v1(j, pid, mem, cpu, pids, err, errlen);
	}
	bh_warn("SANDBOX: no cgroup filesystem at " CGFS_ROOT
		": the VM runs WITHOUT CPU, memory and pids limits");
	return 0;
}

void jail_cgroup_remove(struct jail *j)
{
	/* The VM process has been reaped; a cgroup can stay "populated" for a
	 * moment after its last task exits, so retry briefly. */
	for (unsigned i = j->cg.ndirs; i-- > 0;) {
		for (int tries = 0; tries < 200; tries++) {
			struct timespec ts = { 0, 5 * 1000 * 1000 };

			if (rmdir(j->cg.dirs[i]) == 0 || errno == ENOENT)
				break;
			if (errno != EBUSY) {
				bh_warn("cgroup: cannot remove %s: %s", j->cg.dirs[i], strerror(errno));
				break;
			}
			nanosleep(&ts, NULL);
		}
	}
	j->cg.ndirs = 0;
}
