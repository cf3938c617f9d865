/* spawn_fds.c — the descriptor layout handed into a VMM process: its sealed
 * config memfd, and the forked child that moves every descriptor to its
 * number, joins the cgroup, drops privileges and executes the VMM.
 * See spawn_fds.h for the layout and the child's rules. */
#include "daemon/spawn_fds.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/proc_child.h"
#include "config/config_json.h"

bool dspawn_has_switch_nics(const struct dvm *v)
{
	for (unsigned i = 0; i < v->nnics && i < VM_MAX_NETS; i++)
		if (v->nets[i][0])
			return true;
	return false;
}

int dspawn_config_memfd(struct daemon *d, struct dvm *v, const char *path, int ports[],
			unsigned *nports, char *err, size_t errlen)
{
	char *buf = malloc(CONFIG_JSON_MAX + 1);
	ssize_t n = -1;
	int in, fd = -1;

	*nports = 0;
	in = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (in >= 0 && buf)
		n = read(in, buf, CONFIG_JSON_MAX + 1);
	if (in >= 0)
		close(in);
	if (n < 0 || n > CONFIG_JSON_MAX) {
		snprintf(err, errlen, "%s: %s", path, n < 0 ? strerror(errno) : "too large");
		free(buf);
		return -EIO;
	}
	buf[n] = '\0';
	if (dspawn_has_switch_nics(v)) {
		char *text;
		int ret = dnet_vm_ports(d, v, buf, (size_t)n, ports, nports, &text, err, errlen);

		free(buf);
		if (ret)
			return ret;
		buf = text;
		n = (ssize_t)strlen(text);
	}
	fd = memfd_create("bulkhead-vm-config", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0 || write(fd, buf, (size_t)n) != n || lseek(fd, 0, SEEK_SET) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
		snprintf(err, errlen, "config memfd: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		free(buf);
		for (unsigned i = 0; i < *nports; i++)
			if (ports[i] >= 0)
				close(ports[i]);
		*nports = 0;
		return -EIO;
	}
	free(buf);
	return fd;
}

static const char *const spawn_step_name[SPAWN_NSTEPS] = {
	[SPAWN_STDIO] = "redirecting its stdio",
	[SPAWN_FDS] = "passing the control socket, config (and snapshot) as fds 3 and up",
	[SPAWN_CGROUP] = "joining the VM's cgroup",
	[SPAWN_CPUS] = "confining it to its CPUs",
	[SPAWN_CREDS] = "switching to the owner's uid/gid",
	[SPAWN_EXEC] = "executing the VMM",
};

const char *dspawn_step_name(int step)
{
	return step > 0 && step < SPAWN_NSTEPS ? spawn_step_name[step] : "?";
}

static __attribute__((noreturn)) void child_fail(int report_fd, int step)
{
	struct spawn_failure f = { step, errno };

	if (write(report_fd, &f, sizeof(f)) < 0) {
		/* nothing more a child can do: the exit status still says 127 */
	}
	proc_child_exit(127);
}

__attribute__((noreturn)) void dspawn_child(char *const argv[], const struct dmn_creds *cr,
					    const struct spawn_fds *f)
{
	sigset_t empty;
	int ls, cfg, report = f->report;
	unsigned first_free = DNET_FD_BASE + f->nports;

	/* Own session, so the VMM outlives the daemon and its terminal. */
	setsid();
	sigemptyset(&empty);
	sigprocmask(SIG_SETMASK, &empty, NULL);
	/* A restarted daemon no longer reads the stderr pipe: a write then
	 * fails (EPIPE) instead of killing the VMM. */
	signal(SIGPIPE, SIG_IGN);
	if (dup2(f->null, 0) < 0 || dup2(f->logw, 1) < 0 || dup2(f->logw, 2) < 0)
		child_fail(f->report, SPAWN_STDIO);
	/* Move both out of the way first: either may already be 3 or 4. */
	if ((ls = fcntl(f->ls, F_DUPFD, 64)) < 0 || (cfg = fcntl(f->cfg, F_DUPFD, 64)) < 0 ||
	    dup2(ls, 3) < 0 || dup2(cfg, 4) < 0)
		child_fail(f->report, SPAWN_FDS);
	/* Into the VM's cgroup, while still root (its files are root's). */
	for (int i = 0; i < f->ncg; i++)
		if (write(f->cg[i], "0", 1) != 1)
			child_fail(f->report, SPAWN_CGROUP);
	/* Its CPUs: off every other VM's dedicated cores, for the whole
	 * process tree (cpu_alloc.h); the VMM pins its threads inside. */
	if (f->confine && sched_setaffinity(0, sizeof(*f->confine), f->confine) < 0)
		child_fail(f->report, SPAWN_CPUS);
	/* The NICs' switch ports become fds 5 + i (network.h), a restore's
	 * snapshot files the three after them: everything is moved out of
	 * that range first, the report pipe included (the cgroup files are
	 * written already). */
	if (f->nports || f->snap[0] >= 0) {
		int tmp[VM_MAX_NETS], st[3];

		if ((report = fcntl(f->report, F_DUPFD_CLOEXEC, 64)) < 0)
			child_fail(f->report, SPAWN_FDS);
		for (unsigned i = 0; i < f->nports; i++)
			if (f->ports[i] >= 0 && (tmp[i] = fcntl(f->ports[i], F_DUPFD, 64)) < 0)
				child_fail(report, SPAWN_FDS);
		for (int i = 0; i < 3 && f->snap[0] >= 0; i++)
			if ((st[i] = fcntl(f->snap[i], F_DUPFD, 64)) < 0)
				child_fail(report, SPAWN_FDS);
		for (unsigned i = 0; i < f->nports; i++)
			if (f->ports[i] >= 0 && dup2(tmp[i], DNET_FD_BASE + (int)i) < 0)
				child_fail(report, SPAWN_FDS);
		for (int i = 0; i < 3 && f->snap[0] >= 0; i++, first_free++)
			if (dup2(st[i], (int)first_free) < 0)
				child_fail(report, SPAWN_FDS);
	}
	/* Everything else closes at exec (the report pipe must live until then). */
	close_range(first_free, ~0u, CLOSE_RANGE_CLOEXEC);
	if (cr->drop && (setgroups((size_t)cr->ngroups, cr->groups) < 0 ||
			 setresgid(cr->gid, cr->gid, cr->gid) < 0 ||
			 setresuid(cr->uid, cr->uid, cr->uid) < 0))
		child_fail(report, SPAWN_CREDS);
	execv(argv[0], argv);
	child_fail(report, SPAWN_EXEC);
}

void dspawn_close_fds(struct spawn_fds *f)
{
	int *all[] = { &f->ls, &f->cfg, &f->logw, &f->null, &f->report,
		       &f->snap[0], &f->snap[1], &f->snap[2] };

	for (size_t i = 0; i < BH_ARRAY_SIZE(all); i++) {
		if (*all[i] >= 0)
			close(*all[i]);
		*all[i] = -1;
	}
	while (f->ncg > 0)
		close(f->cg[--f->ncg]);
	for (unsigned i = 0; i < f->nports; i++)
		if (f->ports[i] >= 0)
			close(f->ports[i]);
	f->nports = 0;
}
