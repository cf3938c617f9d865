/* spawn.c — VMM processes: spawn (into the VM's cgroup, as its owner),
 * supervise (pidfd + stderr pipe), re-attach after a daemon restart.
 * The descriptors a VMM starts with, and the forked child that lays them
 * out, are spawn_fds.c's. See daemon.h for the locking rules. */
#include "daemon/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "config/exit_codes.h"
#include "ctl/ctl_proto.h"
#include "daemon/procfs.h"
#include "daemon/spawn_fds.h"
#include "daemon/usock.h"

/* ---- waiting (d->lock held) ---- */

void dvm_wait_state_change(struct daemon *d, struct dvm *v, enum dvm_state state, unsigned secs)
{
	struct timespec dl;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += secs;
	while (v->state == state)
		if (pthread_cond_timedwait(&d->cond, &d->lock, &dl) == ETIMEDOUT)
			break;
}

void dvm_wait_exited(struct daemon *d, struct dvm *v, unsigned secs)
{
	struct timespec dl;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += secs;
	while (v->state != DVM_EXITED)
		if (pthread_cond_timedwait(&d->cond, &d->lock, &dl) == ETIMEDOUT)
			break;
}

void dvm_wait_cgroup_gone(struct daemon *d, struct dvm *v, unsigned secs)
{
	struct timespec dl;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += secs;
	while (v->cgroup_pending)
		if (pthread_cond_timedwait(&d->cond, &d->lock, &dl) == ETIMEDOUT)
			break;
}

/* ---- the VMM's stderr: pipe -> vmm.log, at most lim.vmm_log_max bytes ---- */

static void close_log(struct daemon *d, struct dvm *v)
{
	if (v->log_pipe >= 0) {
		epoll_ctl(d->sup_ep, EPOLL_CTL_DEL, v->log_pipe, NULL);
		close(v->log_pipe);
	}
	if (v->log_out >= 0)
		close(v->log_out);
	v->log_pipe = v->log_out = -1;
}

/* Move what the pipe holds into vmm.log (d->lock held; never blocks). */
static void drain_log(struct daemon *d, struct dvm *v)
{
	char buf[4096];

	for (int i = 0; v->log_pipe >= 0 && i < 64; i++) {
		ssize_t n = read(v->log_pipe, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) { /* EOF: every writer is gone */
			if (v->log_dropped && v->log_out >= 0) {
				char note[96];
				int l = snprintf(note, sizeof(note),
						 "bulkheadd: %llu more bytes of VMM output dropped\n",
						 (unsigned long long)v->log_dropped);

				if (write(v->log_out, note, (size_t)l) < 0) {
				}
			}
			close_log(d, v);
			return;
		}
		{
			uint64_t room = v->log_bytes < d->lim.vmm_log_max
						? d->lim.vmm_log_max - v->log_bytes
						: 0;
			size_t keep = (uint64_t)n < room ? (size_t)n : (size_t)room;

			if (keep && v->log_out >= 0 && write(v->log_out, buf, keep) < 0)
				keep = 0;
			v->log_bytes += keep;
			v->log_dropped += (uint64_t)n - keep;
		}
	}
}

static void last_log_line(struct daemon *d, struct dvm *v, char *out, size_t len)
{
	char path[PATH_MAX], buf[2048];
	ssize_t n = 0;
	off_t size;
	int fd;

	out[0] = '\0';
	dvm_path(d, v, "vmm.log", path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return;
	size = lseek(fd, 0, SEEK_END);
	if (size > 0)
		n = pread(fd, buf, sizeof(buf) - 1,
			  size > (off_t)sizeof(buf) - 1 ? size - (off_t)sizeof(buf) + 1 : 0);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	{
		char *line = strrchr(buf, '\n');
		size_t l;

		line = line ? line + 1 : buf;
		l = strnlen(line, len - 1);
		memcpy(out, line, l);
		out[l] = '\0';
	}
	for (char *p = out; *p; p++) /* log text from the VMM: printable only */
		if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
			*p = '?';
}

/* ---- supervision ---- */

static void classify_exit(struct dvm *v, const siginfo_t *si, bool known)
{
	const char *name;

	v->exit_code = -1;
	v->exit_signal = 0;
	if (!known) {
		snprintf(v->exit_reason, sizeof(v->exit_reason), "unknown");
		return;
	}
	if (si->si_code == CLD_EXITED) {
		v->exit_code = si->si_status;
		name = bh_exit_name(si->si_status);
		if (v->stop_requested &&
		    (si->si_status == BH_EXIT_OK || si->si_status == BH_EXIT_SIGNAL))
			snprintf(v->exit_reason, sizeof(v->exit_reason), "stopped");
		else if (name)
			snprintf(v->exit_reason, sizeof(v->exit_reason), "%s", name);
		else
			snprintf(v->exit_reason, sizeof(v->exit_reason), "exit-%d", si->si_status);
	} else {
		v->exit_signal = si->si_status;
		snprintf(v->exit_reason, sizeof(v->exit_reason), "%s",
			 v->stop_requested ? "killed" : "killed-by-signal");
	}
}

/* Empty and remove v's cgroup; true when it is gone (d->lock held). */
static bool reap_cgroup(struct daemon *d, struct dvm *v)
{
	int r;

	if (!v->cgroup)
		return true;
	dcg_vm_kill(&d->cg, v->id); /* what is left of the VM: its VM process */
	r = dcg_vm_remove(&d->cg, v->id);
	if (r != 0 && r != -EBUSY)
		bh_warn("VM %s: cannot remove its cgroup: %s", v->id, strerror(-r));
	if (r != -EBUSY) {
		if (v->cgroup_pending)
			pthread_cond_broadcast(&d->cond); /* dvm_wait_cgroup_gone() */
		v->cgroup = v->cgroup_pending = false;
		return true;
	}
	v->cgroup_pending = true; /* retried by the supervisor */
	return false;
}

void dvm_mark_exited(struct daemon *d, struct dvm *v, const siginfo_t *si, bool known,
		     const char *why)
{
	if (v->pidfd >= 0) {
		epoll_ctl(d->sup_ep, EPOLL_CTL_DEL, v->pidfd, NULL);
		close(v->pidfd);
	}
	v->pidfd = -1;
	drain_log(d, v);
	classify_exit(v, si, known);
	dcpu_release(v); /* its dedicated cores return to the pool */
	if (why)
		snprintf(v->exit_detail, sizeof(v->exit_detail), "%s", why);
	else
		last_log_line(d, v, v->exit_detail, sizeof(v->exit_detail));
	v->state = DVM_EXITED;
	v->pid = 0;
	v->pid_start = 0;
	v->frozen = false;
	reap_cgroup(d, v);
	/* The channel is dead; close it unless a request is using it (that
	 * request sees EOF and closes it itself). */
	if (pthread_mutex_trylock(&v->ctl_lock) == 0) {
		if (v->ctl_fd >= 0)
			close(v->ctl_fd);
		v->ctl_fd = -1;
		pthread_mutex_unlock(&v->ctl_lock);
	}
	if (dvm_save(d, v)) {
		/* logged by dvm_save */
	}
	if (v->exit_signal)
		dmn_event(d, v, "exited", "%s (signal %d)%s%s", v->exit_reason, v->exit_signal,
			  v->exit_detail[0] ? ": " : "", v->exit_detail);
	else
		dmn_event(d, v, "exited", "%s (exit code %d)%s%s", v->exit_reason, v->exit_code,
			  v->exit_detail[0] ? ": " : "", v->exit_detail);
	pthread_cond_broadcast(&d->cond);
}

static void *supervisor(void *arg)
{
	struct daemon *d = arg;
	struct epoll_event ev[16];
	struct {
		char id[DVM_ID_LEN + 1];
		unsigned n;
	} unplug[16];
	unsigned nunplug = 0;
	int timeout = -1;

	for (;;) {
		int n = epoll_wait(d->sup_ep, ev, 16, timeout);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			bh_err("supervisor: epoll_wait: %s", strerror(errno));
			return NULL;
		}
		pthread_mutex_lock(&d->lock);
		for (int i = 0; i < n; i++) {
			struct dvm_watch *w = ev[i].data.ptr;
			struct dvm *v = w ? w->v : NULL;
			siginfo_t si;
			bool known;

			if (w && w->kind == DVM_W_SWITCH) {
				dsw_exited(d);
				continue;
			}
			if (!v) {
				pthread_mutex_unlock(&d->lock);
				return NULL; /* wake_fd: shutting down */
			}
			if (w->kind == DVM_W_LOG) {
				drain_log(d, v);
				continue;
			}
			if (v->pidfd < 0)
				continue;
			memset(&si, 0, sizeof(si));
			known = v->child && waitid(P_PIDFD, (id_t)v->pidfd, &si, WEXITED) == 0;
			dvm_mark_exited(d, v, &si, known,
					known ? NULL
					      : "exit status unknown: the VMM was started by an earlier "
						"daemon instance");
			if (v->sw_gen && nunplug < BH_ARRAY_SIZE(unplug)) {
				memcpy(unplug[nunplug].id, v->id, sizeof(unplug[nunplug].id));
				unplug[nunplug++].n = v->nnics;
			}
			v->sw_gen = 0;
		}
		/* Cgroups still emptying after their VM's exit: try again soon. */
		timeout = -1;
		for (struct dvm *v = d->vms; v; v = v->next)
			if (v->cgroup_pending && !reap_cgroup(d, v))
				timeout = 50;
		pthread_mutex_unlock(&d->lock);
		/* The ports of VMs that are gone, without d->lock (network.h). */
		while (nunplug)
			nunplug--, dnet_vm_unplug(d, unplug[nunplug].id, unplug[nunplug].n);
	}
}

int dvm_supervise(struct daemon *d, struct dvm *v)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &v->w_pid };

	v->w_pid = (struct dvm_watch){ v, DVM_W_PID };
	v->w_log = (struct dvm_watch){ v, DVM_W_LOG };
	if (epoll_ctl(d->sup_ep, EPOLL_CTL_ADD, v->pidfd, &ev) < 0)
		return -errno;
	if (v->log_pipe >= 0) {
		ev.data.ptr = &v->w_log;
		if (epoll_ctl(d->sup_ep, EPOLL_CTL_ADD, v->log_pipe, &ev) < 0) {
			int e = -errno;

			epoll_ctl(d->sup_ep, EPOLL_CTL_DEL, v->pidfd, NULL);
			return e;
		}
	}
	return 0;
}

/* ---- spawn ---- */

/* Who the VMM runs as: a VM created by a non-root user runs with that user's
 * uid and primary gid (plus the "kvm" group when it exists, for /dev/kvm), so
 * it can open only the kernel, initrd and disks its owner could; the daemon
 * must not be a confused deputy reading root-only files for them. Root's VMs
 * (and every VM of a non-root daemon) run as the daemon. */
void dmn_creds_of(uid_t owner, struct dmn_creds *c)
{
	struct passwd pw, *pwp = NULL;
	struct group gr, *grp = NULL;
	char buf[4096];

	memset(c, 0, sizeof(*c));
	if (owner == 0 || geteuid() != 0)
		return;
	c->drop = true;
	c->uid = owner;
	c->gid = (gid_t)owner;
	if (getpwuid_r(owner, &pw, buf, sizeof(buf), &pwp) == 0 && pwp)
		c->gid = pwp->pw_gid;
	if (getgrnam_r("kvm", &gr, buf, sizeof(buf), &grp) == 0 && grp) {
		c->groups[0] = grp->gr_gid;
		c->ngroups = 1;
	}
}

/* The console log is written by the VMM as the owner: created by the daemon
 * (in its 0711 directory, so it cannot be swapped for a link) and handed over. */
static int hand_over(const char *path, const struct dmn_creds *c)
{
	int fd;

	if (!c->drop)
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_CREAT, 0600);
	if (fd < 0)
		return -errno;
	if (fchown(fd, c->uid, c->gid) < 0 || fchmod(fd, 0600) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	close(fd);
	return 0;
}

int dvm_spawn(struct daemon *d, struct dvm *v, char *err, size_t errlen)
{
	struct spawn_fds f = { .ls = -1, .cfg = -1, .logw = -1, .null = -1, .report = -1,
				.snap = { -1, -1, -1 } };
	struct dcg_limits lim = {
		.mem_bytes = v->mem_bytes + DCG_MEM_OVERHEAD,
		.cpu_quota_us = (uint64_t)(v->ncpus + 1) * 100000u,
		.cpu_weight = v->cpu.weight,
		.pids = v->ncpus + 16,
	};
	char sock[PATH_MAX], cfg[PATH_MAX], con[PATH_MAX + 8], log[PATH_MAX];
	char a_cfg[] = "/proc/self/fd/4", a_max[24];
	int report[2] = { -1, -1 }, logp[2] = { -1, -1 }, pidfd, ret;
	struct spawn_failure failed;
	struct dmn_creds cr;
	unsigned nics = 0;
	ssize_t n;
	pid_t pid;

	dvm_path(d, v, "ctl.sock", sock, sizeof(sock));
	dvm_path(d, v, "config.json", cfg, sizeof(cfg));
	dvm_path(d, v, "vmm.log", log, sizeof(log));
	memcpy(con, "file:", 5);
	dvm_path(d, v, "console.log", con + 5, sizeof(con) - 5);
	snprintf(a_max, sizeof(a_max), "%llu",
		 (unsigned long long)(v->console_max && v->console_max < d->lim.console_max
					      ? v->console_max
					      : d->lim.console_max));
	dmn_creds_of(v->owner, &cr);
	/* A fresh console log each start: its cap counts from zero. */
	unlink(con + 5);
	if ((ret = hand_over(con + 5, &cr))) {
		snprintf(err, errlen, "cannot hand the console log to uid %u: %s", (unsigned)cr.uid,
			 strerror(-ret));
		return ret;
	}
	/* A VM made from a snapshot: checked again now, as its owner would see
	 * it, and handed over as descriptors (restore --snapshot-fds). */
	if (v->from_snap[0] && (ret = dvm_snap_open_for_start(d, v, f.snap, err, errlen)))
		return ret;
	/* Limits first: no VM process ever runs outside them. */
	if ((ret = dcg_vm_create(&d->cg, v->id, &lim, f.cg, &f.ncg, err, errlen))) {
		dspawn_close_fds(&f);
		return ret;
	}
	v->cgroup = true;
	if ((f.cfg = dspawn_config_memfd(d, v, cfg, f.ports, &f.nports, err, errlen)) < 0) {
		ret = f.cfg;
		goto fail;
	}
	nics = f.nports;
	if (f.snap[0] >= 0 && f.nports) {
		ret = -EBADMSG;
		snprintf(err, errlen, "a VM made from a snapshot cannot be on a daemon network yet");
		goto fail;
	}
	f.ls = usock_listen(sock, SOCK_SEQPACKET, 0600, 4);
	if (f.ls < 0) {
		ret = f.ls;
		snprintf(err, errlen, "control socket %s: %s", sock, strerror(-ret));
		goto fail;
	}
	if (pipe2(logp, O_CLOEXEC) < 0 || pipe2(report, O_CLOEXEC) < 0 ||
	    (f.null = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
		ret = -errno;
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		goto fail;
	}
	f.logw = logp[1];
	f.report = report[1];
	logp[1] = report[1] = -1;
	v->log_out = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (v->log_out < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", log, strerror(errno));
		goto fail;
	}
	v->log_bytes = v->log_dropped = 0;
	{
		char a_run[] = "run", a_config[] = "--config", a_console[] = "--console",
		     a_cmax[] = "--console-max", a_ctl[] = "--control-fd", a_three[] = "3";
		char a_aff[] = "--cpu-affinity";
		char a_restore[] = "restore", a_sfds[] = "--snapshot-fds", a_sfd[24],
		     a_paused[] = "--paused", a_rec[] = "--recorded-paths",
		     a_cidx[] = "--clone-index", a_cidxv[16];
		char *rs_argv[18];
		int a = 0;

		rs_argv[a++] = d->vmm_path;
		rs_argv[a++] = a_restore;
		rs_argv[a++] = a_sfds;
		rs_argv[a++] = a_sfd;
		rs_argv[a++] = a_console;
		rs_argv[a++] = con;
		rs_argv[a++] = a_cmax;
		rs_argv[a++] = a_max;
		rs_argv[a++] = a_ctl;
		rs_argv[a++] = a_three;
		if (v->restore_paused)
			rs_argv[a++] = a_paused;
		/* checked at create against the saved VM's own configuration
		 * (snap_open.c check_recorded_paths) */
		rs_argv[a++] = a_rec;
		if (v->clone_index) { /* its own vsock CID and socket */
			snprintf(a_cidxv, sizeof(a_cidxv), "%u", v->clone_index);
			rs_argv[a++] = a_cidx;
			rs_argv[a++] = a_cidxv;
		}
		if (v->cpu.arg[0]) {
			rs_argv[a++] = a_aff;
			rs_argv[a++] = v->cpu.arg;
		}
		rs_argv[a] = NULL;
		snprintf(a_sfd, sizeof(a_sfd), "%u,%u,%u", DNET_FD_BASE + f.nports,
			 DNET_FD_BASE + f.nports + 1, DNET_FD_BASE + f.nports + 2);
		char a_fd[] = "--fd", fdargs[VM_MAX_NETS][24];
		char *argv[12 + 2 * VM_MAX_NETS + 1] = { d->vmm_path, a_run, a_config, a_cfg,
							 a_console, con, a_cmax, a_max, a_ctl,
							 a_three };
		unsigned ac = 10;

		for (unsigned i = 0; i < f.nports; i++)
			if (f.ports[i] >= 0) {
				snprintf(fdargs[i], sizeof(fdargs[i]), "swnet%u=%u", i, DNET_FD_BASE + i);
				argv[ac++] = a_fd;
				argv[ac++] = fdargs[i];
			}
		if (v->cpu.arg[0]) {
			argv[ac++] = a_aff;
			argv[ac++] = v->cpu.arg;
		}
		argv[ac] = NULL;

		if (v->cpu.placed)
			f.confine = &v->cpu.confine;

		pid = fork();
		if (pid == 0)
			dspawn_child(f.snap[0] >= 0 ? rs_argv : argv, &cr, &f);
	}
	if (pid < 0) {
		ret = -errno;
		snprintf(err, errlen, "fork: %s", strerror(errno));
		goto fail;
	}
	dspawn_close_fds(&f);
	do
		n = read(report[0], &failed, sizeof(failed));
	while (n < 0 && errno == EINTR);
	close(report[0]);
	report[0] = -1;
	if (n == (ssize_t)sizeof(failed)) {
		snprintf(err, errlen, "cannot start the VMM %s: %s: %s", d->vmm_path,
			 dspawn_step_name(failed.step),
			 strerror(failed.err));
		waitpid(pid, NULL, 0);
		ret = failed.err > 0 ? -failed.err : -EIO;
		goto fail;
	}
	pidfd = pidfd_open(pid, 0);
	if (pidfd < 0) {
		ret = -errno;
		snprintf(err, errlen, "pidfd_open: %s", strerror(errno));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		goto fail;
	}
	fcntl(logp[0], F_SETFL, O_NONBLOCK);
	pthread_mutex_lock(&d->lock);
	v->sw_gen = nics && dspawn_has_switch_nics(v) ? d->sw.gen : 0;
	v->log_pipe = logp[0];
	v->pid = pid;
	v->pid_start = proc_start_time(pid);
	v->pidfd = pidfd;
	v->child = true;
	if ((ret = dvm_supervise(d, v))) {
		snprintf(err, errlen, "epoll: %s", strerror(-ret));
		pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
		waitpid(pid, NULL, 0);
		close(pidfd);
		v->pidfd = -1;
		v->pid = 0;
		close_log(d, v);
		reap_cgroup(d, v);
		pthread_mutex_unlock(&d->lock);
		return ret;
	}
	if (dvm_save(d, v)) {
		/* logged; the VM still runs */
	}
	pthread_mutex_unlock(&d->lock);
	return 0;
fail:
	dspawn_close_fds(&f);
	if (nics)
		dnet_vm_unplug(d, v->id, nics);
	for (int i = 0; i < 2; i++) {
		if (logp[i] >= 0)
			close(logp[i]);
		if (report[i] >= 0)
			close(report[i]);
	}
	pthread_mutex_lock(&d->lock);
	if (v->log_out >= 0)
		close(v->log_out);
	v->log_out = -1;
	reap_cgroup(d, v);
	pthread_mutex_unlock(&d->lock);
	return ret;
}

/* ---- restart: re-attach to VMMs that outlived the previous daemon ---- */

void dvm_reattach(struct daemon *d, struct dvm *v)
{
	int pidfd;

	v->cgroup = dcg_vm_exists(&d->cg, v->id);
	if (v->state == DVM_CREATED || v->state == DVM_EXITED)
		return;
	if (v->pid <= 0 || proc_start_time(v->pid) != v->pid_start || v->pid_start == 0) {
		v->pid = 0;
		dvm_mark_exited(d, v, NULL, false,
				"the VMM exited while the daemon was down (exit status unknown)");
		return;
	}
	pidfd = pidfd_open(v->pid, 0);
	/* The pidfd pins the pid: same start time now means same process. */
	if (pidfd < 0 || proc_start_time(v->pid) != v->pid_start) {
		if (pidfd >= 0)
			close(pidfd);
		dvm_mark_exited(d, v, NULL, false,
				"the VMM exited while the daemon was down (exit status unknown)");
		return;
	}
	v->pidfd = pidfd;
	v->child = false;
	if (dvm_supervise(d, v)) {
		dvm_mark_exited(d, v, NULL, false, "cannot supervise the VMM again (epoll)");
		return;
	}
	/* Its state is refreshed by a control round-trip later, without
	 * d->lock (dmn_recover): a silent VMM must not delay anyone. */
	v->refresh = true;
	dcpu_reattach(d, v); /* its dedicated cores stay its own */
	dmn_event(d, v, "reattached", "pid %d, %s", (int)v->pid, dvm_state_name(v->state));
}

static bool keep_cgroup(void *opaque, const char *id)
{
	struct daemon *d = opaque;
	struct dvm *v = dmn_find(d, id);

	return v && v->pidfd >= 0;
}

/* After a restart: ask each re-attached VMM for its state, one at a time,
 * each bounded by the control deadline, without d->lock. */
static void *refresh(void *arg)
{
	struct daemon *d = arg;

	for (;;) {
		struct dvm *v = NULL;
		uint32_t st = 0;
		char err[256];
		int ret;

		pthread_mutex_lock(&d->lock);
		for (struct dvm *c = d->vms; c && !v; c = c->next)
			/* a frozen VM cannot answer: its recorded state stands */
			if (c->refresh && c->pidfd >= 0 && !c->busy && !c->frozen &&
			    c->state != DVM_EXITED)
				v = c;
		if (v) {
			v->refs++;
			v->refresh = false;
		}
		pthread_mutex_unlock(&d->lock);
		if (!v)
			return NULL;
		ret = dvm_ctl(d, v, CTL_STATUS, d->lim.ctl_timeout_ms, &st, err, sizeof(err));
		pthread_mutex_lock(&d->lock);
		if (ret == 0 && !v->busy && v->state != DVM_EXITED) {
			if (st & CTL_ST_QUARANTINED)
				v->state = DVM_QUARANTINED;
			else if ((st & CTL_ST_PAUSED) || v->frozen)
				v->state = v->state == DVM_QUARANTINED ? DVM_QUARANTINED : DVM_PAUSED;
			else if (v->state != DVM_STOPPING)
				v->state = DVM_RUNNING;
			if (!v->started_mono_ns)
				v->started_mono_ns = dmn_now_ns(); /* uptime counts from re-attach */
			if (dvm_save(d, v)) {
			}
		} else if (ret) {
			bh_warn("%s (the VM stays supervised)", err);
		}
		v->refs--;
		pthread_cond_broadcast(&d->cond);
		pthread_mutex_unlock(&d->lock);
	}
}

int dmn_recover(struct daemon *d, char *err, size_t errlen)
{
	unsigned swept;
	int ret;

	dcg_init(&d->cg, d->state_dir);
	pthread_mutex_lock(&d->lock);
	ret = dmn_load(d);
	if (!ret && (ret = dnet_load(d)))
		bh_warn("%s/networks: %s", d->state_dir, strerror(-ret));
	/* Cgroups of VMs that are gone (a VMM killed while we were down, or a
	 * start that never finished): ours to empty and remove. */
	swept = dcg_sweep(&d->cg, keep_cgroup, d);
	dmn_event(d, NULL, "daemon-started", "%u VMs known, %u orphaned cgroups removed", d->nvms,
		  swept);
	pthread_mutex_unlock(&d->lock);
	if (ret) {
		snprintf(err, errlen, "%s/vms: %s", d->state_dir, strerror(-ret));
		return ret;
	}
	ret = pthread_create(&d->sup_thread, NULL, supervisor, d);
	if (ret) {
		snprintf(err, errlen, "cannot start the supervisor thread: %s", strerror(ret));
		return -ret;
	}
	d->sup_started = true;
	ret = pthread_create(&d->refresh_thread, NULL, refresh, d);
	if (ret) {
		snprintf(err, errlen, "cannot start the refresh thread: %s", strerror(ret));
		return -ret;
	}
	d->refresh_started = true;
	if ((ret = dnet_events_start(d))) {
		snprintf(err, errlen, "cannot start the switch event thread: %s", strerror(-ret));
		return ret;
	}
	/* The networks' switch (a failure to start it is an event, not fatal:
	 * the next network operation tries again). */
	pthread_mutex_lock(&d->lock);
	if (dsw_ensure(d, err, errlen))
		dmn_event(d, NULL, "switch-failed", "%s", err);
	pthread_mutex_unlock(&d->lock);
	err[0] = '\0';
	return 0;
}
