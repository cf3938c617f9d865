/* vm_cgroup.c — see vm_cgroup.h. */
#include "daemon/vm_cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cgroupfs.h"
#include "common/log.h"
#include "daemon/procfs.h"

/* cgroup v1 cpu.shares for a cpu.weight (v2's default 100 = v1's 1024). */
#define DCG_SHARES(w) ((w) * 1024u / 100u < 2u ? 2u : (w) * 1024u / 100u)
#define VM_PREFIX "bulkhead-vm-"
#define MAX_PROCS 256

static const char *const ctrl_name[DCG_NCTRL] = { "cpu", "memory", "pids", "freezer" };

/* STATE_DIR/cgroup-name: this daemon's BASE name, made once. */
static void base_name(const char *state_dir, char *out, size_t len)
{
	char path[PATH_MAX], buf[32] = "";
	uint8_t rnd[4];
	int fd;

	snprintf(path, sizeof(path), "%s/cgroup-name", state_dir);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0) {
		ssize_t n = read(fd, buf, sizeof(buf) - 1);

		close(fd);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		if (strlen(buf) == 18 && !strncmp(buf, "bulkheadd-", 10) &&
		    strspn(buf + 10, "0123456789abcdef") == 8) {
			snprintf(out, len, "%s", buf);
			return;
		}
	}
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		memset(rnd, 0, sizeof(rnd));
	snprintf(out, len, "bulkheadd-%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3]);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0) {
		if (write(fd, out, strlen(out)) < 0)
			bh_warn("%s: %s", path, strerror(errno));
		close(fd);
	}
}

static void init_v2(struct dcg *c)
{
	static const char *const ctl[] = { "+cpu", "+memory", "+pids" };
	char dir[PATH_MAX / 4];

	snprintf(dir, sizeof(dir), CGFS_ROOT "/%s", c->name);
	/* The root cgroup may always delegate; our own one holds us. */
	for (size_t i = 0; i < 3; i++)
		(void)cgfs_write(CGFS_ROOT, "cgroup.subtree_control", ctl[i]);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		snprintf(c->why, sizeof(c->why), "mkdir %.120s: %s", dir, strerror(errno));
		return;
	}
	for (size_t i = 0; i < 3; i++)
		(void)cgfs_write(dir, "cgroup.subtree_control", ctl[i]);
	for (int k = 0; k < DCG_NCTRL; k++)
		snprintf(c->base[k], sizeof(c->base[k]), "%s", dir);
	{
		char ctrls[256] = "";

		if (cgfs_read(dir, "cgroup.subtree_control", ctrls, sizeof(ctrls)) == 0) {
			c->have[DCG_CPU] = strstr(ctrls, "cpu") != NULL;
			c->have[DCG_MEMORY] = strstr(ctrls, "memory") != NULL;
			c->have[DCG_PIDS] = strstr(ctrls, "pids") != NULL;
		}
	}
	/* cgroup.freeze exists in every non-root v2 cgroup (Linux 5.2+). */
	{
		char probe[PATH_MAX];

		snprintf(probe, sizeof(probe), "%s/cgroup.freeze", dir);
		c->have[DCG_FREEZER] = cgfs_exists(probe);
	}
	if (!c->have[DCG_MEMORY])
		snprintf(c->why, sizeof(c->why), "cgroup v2: the memory controller cannot be "
			 "delegated to %.100s", dir);
}

static void init_v1(struct dcg *c)
{
	for (int k = 0; k < DCG_NCTRL; k++) {
		char own[512], probe[PATH_MAX], *dir = c->base[k];

		snprintf(probe, sizeof(probe), CGFS_ROOT "/%s/cgroup.procs", ctrl_name[k]);
		if (!cgfs_exists(probe))
			continue;
		if (cgfs_own_path(ctrl_name[k], own, sizeof(own)))
			own[0] = '\0';
		if (snprintf(dir, sizeof(c->base[k]), CGFS_ROOT "/%s%s/%s", ctrl_name[k], own,
			     c->name) >= (int)sizeof(c->base[k]))
			continue;
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			bh_warn("cgroup: mkdir %s: %s", dir, strerror(errno));
			continue;
		}
		c->have[k] = true;
	}
	if (!c->have[DCG_MEMORY])
		snprintf(c->why, sizeof(c->why), "no usable cgroup v1 memory controller under "
			 CGFS_ROOT "/memory");
}

void dcg_init(struct dcg *c, const char *state_dir)
{
	memset(c, 0, sizeof(*c));
	base_name(state_dir, c->name, sizeof(c->name));
	if (geteuid() != 0) {
		snprintf(c->why, sizeof(c->why), "the daemon is not root: it cannot create cgroups");
		return;
	}
	if (cgfs_exists(CGFS_ROOT "/cgroup.controllers")) {
		c->version = 2;
		init_v2(c);
	} else if (cgfs_exists(CGFS_ROOT "/memory/cgroup.procs") ||
		   cgfs_exists(CGFS_ROOT "/cpu/cgroup.procs")) {
		c->version = 1;
		init_v1(c);
	} else {
		snprintf(c->why, sizeof(c->why), "no cgroup filesystem at " CGFS_ROOT);
	}
	for (int k = 0; k < DCG_NCTRL; k++)
		if (!c->have[k])
			bh_warn("cgroup: no usable %s controller: VMs get no %s limit%s", ctrl_name[k],
				ctrl_name[k],
				k == DCG_MEMORY ? " and NONE WILL BE STARTED" : "");
	if (c->have[DCG_MEMORY])
		bh_info("cgroup v%d: VMs under %s", c->version, c->base[DCG_MEMORY]);
}

void dcg_fini(const struct dcg *c)
{
	for (int k = 0; k < DCG_NCTRL; k++)
		if (c->have[k] && (c->version != 2 || k == DCG_MEMORY) && rmdir(c->base[k]) < 0 &&
		    errno != EBUSY && errno != ENOTEMPTY && errno != ENOENT)
			bh_warn("cgroup: rmdir %s: %s", c->base[k], strerror(errno));
}

/* The VM's directory in hierarchy k; false if k is unusable. */
static bool vm_dir(const struct dcg *c, int k, const char *id, char *buf, size_t len)
{
	if (!c->have[k])
		return false;
	return snprintf(buf, len, "%s/" VM_PREFIX "%s", c->base[k], id) < (int)len;
}

/* Hierarchies to act on once each: v2 has one directory for all. */
static bool distinct(const struct dcg *c, int k)
{
	return c->version != 2 || k == DCG_MEMORY;
}

int dcg_vm_create(const struct dcg *c, const char *id, const struct dcg_limits *lim,
		  int *fds, int *nfds, char *err, size_t errlen)
{
	char dir[PATH_MAX], v[64];
	int ret;

	*nfds = 0;
	if (!c->have[DCG_MEMORY]) {
		snprintf(err, errlen, "no memory limit can be applied (%s): the daemon starts no VM "
			 "without one", c->why);
		return -ENOTSUP;
	}
	for (int k = 0; k < DCG_NCTRL; k++) {
		const char *what = NULL;

		if (!distinct(c, k) || !vm_dir(c, k, id, dir, sizeof(dir)))
			continue;
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			ret = -errno;
			snprintf(err, errlen, "cgroup: mkdir %s: %s", dir, strerror(errno));
			goto fail;
		}
		ret = 0;
		if (c->version == 2) {
			if (c->have[DCG_MEMORY]) {
				snprintf(v, sizeof(v), "%llu", (unsigned long long)lim->mem_bytes);
				what = "memory.max";
				ret = cgfs_write(dir, what, v);
				/* No swap either: memory.max must bound what the VM holds. */
				if (!ret)
					(void)cgfs_write(dir, "memory.swap.max", "0");
			}
			if (!ret && c->have[DCG_CPU]) {
				snprintf(v, sizeof(v), "%llu %llu",
					 (unsigned long long)lim->cpu_quota_us, CGFS_CPU_PERIOD_US);
				what = "cpu.max";
				ret = cgfs_write(dir, what, v);
			}
			if (!ret && c->have[DCG_CPU] && lim->cpu_weight) {
				snprintf(v, sizeof(v), "%u", lim->cpu_weight);
				what = "cpu.weight";
				ret = cgfs_write(dir, what, v);
			}
			if (!ret && c->have[DCG_PIDS]) {
				snprintf(v, sizeof(v), "%u", lim->pids);
				what = "pids.max";
				ret = cgfs_write(dir, what, v);
			}
		} else if (k == DCG_MEMORY) {
			snprintf(v, sizeof(v), "%llu", (unsigned long long)lim->mem_bytes);
			what = "memory.limit_in_bytes";
			ret = cgfs_write(dir, what, v);
			if (!ret) /* swap + memory: best effort (needs swap accounting) */
				(void)cgfs_write(dir, "memory.memsw.limit_in_bytes", v);
		} else if (k == DCG_CPU) {
			snprintf(v, sizeof(v), "%llu", CGFS_CPU_PERIOD_US);
			what = "cpu.cfs_period_us";
			if (!(ret = cgfs_write(dir, what, v))) {
				snprintf(v, sizeof(v), "%llu", (unsigned long long)lim->cpu_quota_us);
				what = "cpu.cfs_quota_us";
				ret = cgfs_write(dir, what, v);
			}
			if (!ret && lim->cpu_weight) { /* weight 100 = the default 1024 shares */
				snprintf(v, sizeof(v), "%u", DCG_SHARES(lim->cpu_weight));
				what = "cpu.shares";
				ret = cgfs_write(dir, what, v);
			}
		} else if (k == DCG_PIDS) {
			snprintf(v, sizeof(v), "%u", lim->pids);
			what = "pids.max";
			ret = cgfs_write(dir, what, v);
		}
		if (ret) {
			snprintf(err, errlen, "cgroup: writing %s/%s: %s", dir, what, strerror(-ret));
			goto fail;
		}
		{
			char procs[PATH_MAX + 16];
			int fd;

			snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
			fd = open(procs, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
			if (fd < 0) {
				ret = -errno;
				snprintf(err, errlen, "cgroup: %s: %s", procs, strerror(errno));
				goto fail;
			}
			fds[(*nfds)++] = fd;
		}
	}
	return 0;
fail:
	while (*nfds > 0)
		close(fds[--*nfds]);
	if (dcg_vm_remove(c, id)) {
		/* a fresh, empty directory: removal fails only if it never existed */
	}
	return ret;
}

/* Host pids in the VM's cgroup (the hierarchy that lists them all). */
static int vm_procs(const struct dcg *c, const char *id, pid_t *out, int max)
{
	static const int order[] = { DCG_MEMORY, DCG_PIDS, DCG_FREEZER, DCG_CPU };
	char dir[PATH_MAX - 32], path[PATH_MAX], line[32];
	FILE *f = NULL;
	int n = 0;

	for (size_t i = 0; i < BH_ARRAY_SIZE(order) && !f; i++) {
		if (!vm_dir(c, order[i], id, dir, sizeof(dir)))
			continue;
		snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
		f = fopen(path, "re");
	}
	if (!f)
		return -ENOENT;
	while (n < max && fgets(line, sizeof(line), f)) {
		char *end;
		long p = strtol(line, &end, 10);

		if (p > 0 && (*end == '\n' || !*end))
			out[n++] = (pid_t)p;
	}
	fclose(f);
	return n;
}

static int signal_all(const struct dcg *c, const char *id, int sig)
{
	pid_t pids[MAX_PROCS];
	int n = vm_procs(c, id, pids, MAX_PROCS), sent = 0;

	for (int i = 0; i < n; i++) {
		/* A pidfd names exactly the process listed, not a later one
		 * reusing its pid (it could only be listed again if it were
		 * in this cgroup, which only the daemon fills). */
		int pfd = pidfd_open(pids[i], 0);

		if (pfd < 0)
			continue;
		if (pidfd_send_signal(pfd, sig, NULL, 0) == 0)
			sent++;
		close(pfd);
	}
	return sent;
}

#define PF_KTHREAD_FLAG 0x00200000u

/* Is every user thread in dir frozen (or stopped)? Kernel threads are left
 * out: KVM puts a per-VM kernel thread (kvm-nx-lpage-recovery) into the
 * cgroup of the process that created the VM, and on some kernels the freezer
 * can never freeze it, so the cgroup never reports "frozen" although no VMM
 * code can run. A frozen user thread sleeps in the freezer's trap (v2:
 * get_signal/do_freezer_trap; v1: the refrigerator) or is stopped. */
static bool user_threads_frozen(const struct dcg *c, const char *dir)
{
	char path[PATH_MAX + 16], line[32], wchan[64];
	bool all = true;
	unsigned users = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, c->version == 2 ? "cgroup.threads" : "tasks");
	if (!(f = fopen(path, "re")))
		return false;
	while (all && fgets(line, sizeof(line), f)) {
		struct proc_stat st;
		pid_t tid = (pid_t)strtol(line, NULL, 10);

		if (tid <= 0 || proc_stat_read(tid, &st))
			continue; /* gone meanwhile */
		if (st.flags & PF_KTHREAD_FLAG)
			continue;
		users++;
		if (st.state == 'T' || st.state == 't')
			continue;
		proc_wchan(tid, wchan, sizeof(wchan));
		all = !strcmp(wchan, "get_signal") || !strcmp(wchan, "do_freezer_trap") ||
		      !strcmp(wchan, "do_signal_stop") || strstr(wchan, "refrigerator");
	}
	fclose(f);
	return all && users > 0;
}

int dcg_vm_freeze(const struct dcg *c, const char *id, bool freeze, unsigned timeout_ms)
{
	char dir[PATH_MAX], buf[256];
	struct timespec ts = { 0, 2 * 1000 * 1000 };
	unsigned waited_us = 0;
	int ret;

	if (!vm_dir(c, DCG_FREEZER, id, dir, sizeof(dir))) {
		if (!c->have[DCG_MEMORY])
			return -ENOTSUP;
		/* No freezer: stop every process of the VM from outside. */
		return signal_all(c, id, freeze ? SIGSTOP : SIGCONT) >= 0 ? 0 : -ESRCH;
	}
	if (c->version == 2)
		ret = cgfs_write(dir, "cgroup.freeze", freeze ? "1" : "0");
	else
		ret = cgfs_write(dir, "freezer.state", freeze ? "FROZEN" : "THAWED");
	if (ret)
		return ret;
	for (;;) {
		bool done;

		if (c->version == 2) {
			if ((ret = cgfs_read(dir, "cgroup.events", buf, sizeof(buf))))
				return ret;
			done = strstr(buf, freeze ? "frozen 1" : "frozen 0") != NULL;
		} else {
			if ((ret = cgfs_read(dir, "freezer.state", buf, sizeof(buf))))
				return ret;
			done = !strncmp(buf, freeze ? "FROZEN" : "THAWED", freeze ? 6 : 6);
		}
		if (done)
			return 0;
		if (freeze && waited_us >= 200000 && user_threads_frozen(c, dir))
			return 0; /* only kernel threads left running: see above */
		if (waited_us / 1000 >= timeout_ms)
			return -ETIMEDOUT;
		nanosleep(&ts, NULL);
		waited_us += 2000;
	}
}

int dcg_vm_kill(const struct dcg *c, const char *id)
{
	int n = signal_all(c, id, SIGKILL);
	char dir[PATH_MAX];

	if (vm_dir(c, DCG_FREEZER, id, dir, sizeof(dir)))
		(void)cgfs_write(dir, c->version == 2 ? "cgroup.freeze" : "freezer.state",
				 c->version == 2 ? "0" : "THAWED");
	return n;
}

/* rmdir dir after its subdirectories (cgroupfs: only directories count). */
static int rmdir_tree(const char *dir, int depth)
{
	DIR *dp;
	struct dirent *de;
	int ret = 0;

	if (depth > 8)
		return -ELOOP;
	dp = opendir(dir);
	if (!dp)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(dp))) {
		char sub[PATH_MAX];
		int r;

		if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name) >= (int)sizeof(sub))
			continue;
		if ((r = rmdir_tree(sub, depth + 1)) && !ret)
			ret = r;
	}
	closedir(dp);
	if (rmdir(dir) < 0 && errno != ENOENT && !ret)
		ret = -errno;
	return ret;
}

int dcg_vm_remove(const struct dcg *c, const char *id)
{
	char dir[PATH_MAX];
	int ret = 0;

	for (int k = 0; k < DCG_NCTRL; k++) {
		int r;

		if (!distinct(c, k) || !vm_dir(c, k, id, dir, sizeof(dir)))
			continue;
		if ((r = rmdir_tree(dir, 0)) && !ret)
			ret = r;
	}
	return ret;
}

bool dcg_vm_exists(const struct dcg *c, const char *id)
{
	char dir[PATH_MAX];

	for (int k = 0; k < DCG_NCTRL; k++)
		if (distinct(c, k) && vm_dir(c, k, id, dir, sizeof(dir)) && cgfs_exists(dir))
			return true;
	return false;
}

unsigned dcg_sweep(const struct dcg *c, bool (*keep)(void *opaque, const char *id),
		   void *opaque)
{
	unsigned removed = 0;

	for (int k = 0; k < DCG_NCTRL; k++) {
		struct dirent *de;
		DIR *dp;

		if (!distinct(c, k) || !c->have[k] || !(dp = opendir(c->base[k])))
			continue;
		while ((de = readdir(dp))) {
			const char *id = de->d_name + strlen(VM_PREFIX);

			if (de->d_type != DT_DIR || strncmp(de->d_name, VM_PREFIX, strlen(VM_PREFIX)) ||
			    strlen(id) != 8 || strspn(id, "0123456789abcdef") != 8 || keep(opaque, id))
				continue;
			dcg_vm_kill(c, id);
			for (int tries = 0; tries < 100; tries++) {
				struct timespec ts = { 0, 10 * 1000 * 1000 };
				int r = dcg_vm_remove(c, id);

				if (!r) {
					removed++;
					bh_info("cgroup: removed the orphaned cgroup of VM %s", id);
					break;
				}
				if (r != -EBUSY) {
					bh_warn("cgroup: cannot remove the orphaned cgroup of VM %s: %s", id,
						strerror(-r));
					break;
				}
				nanosleep(&ts, NULL);
			}
		}
		closedir(dp);
	}
	return removed;
}
