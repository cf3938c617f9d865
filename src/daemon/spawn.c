/* spawn.c — VMM processes: spawn, supervise (pidfd), control, re-attach.
 * See daemon.h for the locking rules. */
#include "daemon/daemon.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "ctl/ctl_proto.h"

#define START_TIMEOUT_MS 60000u /* spawn -> first control reply (kernel load) */
#define CTL_TIMEOUT_MS 5000u
#define EXIT_WAIT_S 5u

uint64_t proc_start_time(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long st = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* comm may contain spaces and parentheses */
	if (!p)
		return 0;
	/* fields after comm: state(3) ... starttime(22) = the 20th after ')' */
	if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d "
			  "%*d %*d %llu",
		   &st) != 1)
		return 0;
	return st;
}

/* Wait (d->lock held) until v leaves `state` or `secs` pass. */
static void wait_state_change(struct daemon *d, struct dvm *v, enum dvm_state state,
			      unsigned secs)
{
	struct timespec dl;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += secs;
	while (v->state == state)
		if (pthread_cond_timedwait(&d->cond, &d->lock, &dl) == ETIMEDOUT)
			break;
}

static void wait_exited(struct daemon *d, struct dvm *v, unsigned secs)
{
	struct timespec dl;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += secs;
	while (v->state != DVM_EXITED)
		if (pthread_cond_timedwait(&d->cond, &d->lock, &dl) == ETIMEDOUT)
			break;
}

/* ---- control channel ---- */

static int ctl_connect(struct daemon *d, struct dvm *v)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char path[PATH_MAX];
	int fd;

	dvm_path(d, v, "ctl.sock", path, sizeof(path));
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

static uint64_t deadline_in(unsigned ms)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec +
	       (uint64_t)ms * 1000000u;
}

int dvm_ctl(struct daemon *d, struct dvm *v, unsigned type, unsigned timeout_ms,
	    uint32_t *state_out, char *err, size_t errlen)
{
	uint64_t deadline = deadline_in(timeout_ms);
	struct ctl_msg req, rep;
	struct ctl_status st;
	char why[192];
	int ret;

	pthread_mutex_lock(&v->ctl_lock);
	if (v->ctl_fd < 0) {
		ret = ctl_connect(d, v);
		if (ret < 0) {
			snprintf(err, errlen, "VM %s: cannot reach its VMM: %s", v->id,
				 strerror(-ret));
			goto out;
		}
		v->ctl_fd = ret;
	}
	ctl_msg_request(&req, (enum ctl_type)type, ++v->ctl_seq);
	if ((ret = ctl_send_msg(v->ctl_fd, &req, deadline, why, sizeof(why)))) {
		snprintf(err, errlen, "VM %s: its VMM is gone: %s", v->id, why);
		goto drop;
	}
	for (;;) {
		ret = ctl_recv_msg(v->ctl_fd, true, &rep, deadline, why, sizeof(why));
		if (ret == -ETIMEDOUT) {
			snprintf(err, errlen, "VM %s: its VMM did not answer '%s' within %u ms", v->id,
				 ctl_type_name(type), timeout_ms);
			goto drop;
		}
		if (ret == -EPROTO) {
			/* A malformed reply: nothing after it on this connection
			 * can be trusted to line up with our requests. */
			snprintf(err, errlen, "VM %s: bad control reply: %s", v->id, why);
			goto drop;
		}
		if (ret) {
			snprintf(err, errlen, "VM %s: its VMM exited (%s)", v->id, why);
			goto drop;
		}
		if (rep.hdr.seq == req.hdr.seq && (rep.hdr.type & ~CTL_REPLY) == type)
			break; /* else a stale reply to a timed-out request: skip it */
	}
	ctl_msg_status(&rep, &st);
	v->stats.exits = st.exits;
	v->stats.io_exits = st.io_exits;
	v->stats.mmio_exits = st.mmio_exits;
	if (state_out)
		*state_out = st.state;
	ret = rep.hdr.status;
	if (ret)
		snprintf(err, errlen, "VM %s: the VMM refused '%s': %s", v->id, ctl_type_name(type),
			 strerror(-ret));
	goto out;
drop:
	close(v->ctl_fd);
	v->ctl_fd = -1;
out:
	pthread_mutex_unlock(&v->ctl_lock);
	return ret;
}

/* ---- supervision ---- */

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
		n = pread(fd, buf, sizeof(buf) - 1, size > (off_t)sizeof(buf) - 1
							   ? size - (off_t)sizeof(buf) + 1
							   : 0);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	char *line = strrchr(buf, '\n');

	line = line ? line + 1 : buf;
	{
		size_t l = strnlen(line, len - 1);

		memcpy(out, line, l);
		out[l] = '\0';
	}
	for (char *p = out; *p; p++) /* log text from the VMM: printable only */
		if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
			*p = '?';
}

static void classify_exit(struct dvm *v, const siginfo_t *si, bool known)
{
	static const char *const codes[] = { "poweroff", "host-failure", "config-error",
					     "guest-crash", "signal", "test-failure" };

	v->exit_code = -1;
	v->exit_signal = 0;
	if (!known) {
		snprintf(v->exit_reason, sizeof(v->exit_reason), "unknown");
		return;
	}
	if (si->si_code == CLD_EXITED) {
		v->exit_code = si->si_status;
		if (v->stop_requested && (si->si_status == 0 || si->si_status == 4))
			snprintf(v->exit_reason, sizeof(v->exit_reason), "stopped");
		else if (si->si_status >= 0 && si->si_status < (int)BH_ARRAY_SIZE(codes))
			snprintf(v->exit_reason, sizeof(v->exit_reason), "%s", codes[si->si_status]);
		else
			snprintf(v->exit_reason, sizeof(v->exit_reason), "exit-%d", si->si_status);
	} else {
		v->exit_signal = si->si_status;
		snprintf(v->exit_reason, sizeof(v->exit_reason), "%s",
			 v->stop_requested ? "killed" : "killed-by-signal");
	}
}

/* The VMM of v is gone (d->lock held). `known`: si is valid. */
static void mark_exited(struct daemon *d, struct dvm *v, const siginfo_t *si, bool known,
			const char *why)
{
	if (v->pidfd >= 0) {
		epoll_ctl(d->sup_ep, EPOLL_CTL_DEL, v->pidfd, NULL);
		close(v->pidfd);
	}
	v->pidfd = -1;
	classify_exit(v, si, known);
	if (why)
		snprintf(v->exit_detail, sizeof(v->exit_detail), "%s", why);
	else
		last_log_line(d, v, v->exit_detail, sizeof(v->exit_detail));
	v->state = DVM_EXITED;
	v->pid = 0;
	v->pid_start = 0;
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

	for (;;) {
		int n = epoll_wait(d->sup_ep, ev, 16, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			bh_err("supervisor: epoll_wait: %s", strerror(errno));
			return NULL;
		}
		pthread_mutex_lock(&d->lock);
		for (int i = 0; i < n; i++) {
			struct dvm *v = ev[i].data.ptr;
			siginfo_t si;
			bool known;

			if (!v) {
				pthread_mutex_unlock(&d->lock);
				return NULL; /* wake_fd: shutting down */
			}
			if (v->pidfd < 0)
				continue;
			memset(&si, 0, sizeof(si));
			known = v->child && waitid(P_PIDFD, (id_t)v->pidfd, &si, WEXITED) == 0;
			mark_exited(d, v, &si, known,
				    known ? NULL
					  : "exit status unknown: the VMM was started by an earlier "
					    "daemon instance");
		}
		pthread_mutex_unlock(&d->lock);
	}
}

static int supervise(struct daemon *d, struct dvm *v)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = v };

	return epoll_ctl(d->sup_ep, EPOLL_CTL_ADD, v->pidfd, &ev) < 0 ? -errno : 0;
}

/* ---- spawn ---- */

static int make_ctl_socket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0600) < 0 ||
	    listen(fd, 4) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

/* Who the VMM runs as: a VM created by a non-root user runs with that user's
 * uid and primary gid (plus the "kvm" group when it exists, for /dev/kvm), so
 * it can open only the kernel, initrd and disks its owner could; the daemon
 * must not be a confused deputy reading root-only files for them. Root's VMs
 * (and every VM of a non-root daemon) run as the daemon. */
struct vmm_creds {
	bool drop;
	uid_t uid;
	gid_t gid;
	gid_t groups[1];
	int ngroups;
};

static void vmm_creds(const struct dvm *v, struct vmm_creds *c)
{
	struct passwd pw, *pwp = NULL;
	struct group gr, *grp = NULL;
	char buf[4096];

	memset(c, 0, sizeof(*c));
	if (v->owner == 0 || geteuid() != 0)
		return;
	c->drop = true;
	c->uid = v->owner;
	c->gid = (gid_t)v->owner;
	if (getpwuid_r(v->owner, &pw, buf, sizeof(buf), &pwp) == 0 && pwp)
		c->gid = pwp->pw_gid;
	if (getgrnam_r("kvm", &gr, buf, sizeof(buf), &grp) == 0 && grp) {
		c->groups[0] = grp->gr_gid;
		c->ngroups = 1;
	}
}

/* Files the VMM opens by path must be the owner's (the VM dir is 0711). */
static int hand_over(const char *path, const struct vmm_creds *c, bool create)
{
	int fd;

	if (!c->drop)
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | (create ? O_CREAT : 0), 0600);
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

/* Between fork() and execv() the child may only make async-signal-safe calls,
 * and when a step fails it must end without running the daemon's atexit
 * handlers or flushing the stdio buffers it inherited: _exit() is the only
 * correct way out there (exit() would do both). So that the daemon still
 * observes *why* a start failed, the child first writes the failed step and
 * errno to a close-on-exec pipe; a successful exec closes the pipe with
 * nothing written. */
struct spawn_failure {
	int step;
	int err;
};

enum { SPAWN_STDIO = 1, SPAWN_CTL_FD, SPAWN_CREDS, SPAWN_EXEC, SPAWN_NSTEPS };

static const char *const spawn_step_name[SPAWN_NSTEPS] = {
	[SPAWN_STDIO] = "redirecting its stdio",
	[SPAWN_CTL_FD] = "passing the control socket as fd 3",
	[SPAWN_CREDS] = "switching to the owner's uid/gid",
	[SPAWN_EXEC] = "executing the VMM",
};

static __attribute__((noreturn)) void child_fail(int report_fd, int step)
{
	struct spawn_failure f = { step, errno };

	if (write(report_fd, &f, sizeof(f)) < 0) {
		/* nothing more a child can do: the exit status still says 127 */
	}
	_exit(127);
}

/* The child's side of spawn(): never returns. */
static __attribute__((noreturn)) void spawn_child(char *const argv[], const struct vmm_creds *cr, int ls, int logfd,
			int nullfd, int report_fd)
{
	sigset_t empty;

	/* Own session, so the VMM outlives the daemon and its terminal. */
	setsid();
	sigemptyset(&empty);
	sigprocmask(SIG_SETMASK, &empty, NULL);
	signal(SIGPIPE, SIG_DFL);
	if (dup2(nullfd, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
		child_fail(report_fd, SPAWN_STDIO);
	if (ls == 3 ? fcntl(3, F_SETFD, 0) < 0 : dup2(ls, 3) < 0)
		child_fail(report_fd, SPAWN_CTL_FD);
	/* Everything else closes at exec (the report pipe must live until then). */
	close_range(4, ~0u, CLOSE_RANGE_CLOEXEC);
	if (cr->drop && (setgroups((size_t)cr->ngroups, cr->groups) < 0 ||
			 setresgid(cr->gid, cr->gid, cr->gid) < 0 ||
			 setresuid(cr->uid, cr->uid, cr->uid) < 0))
		child_fail(report_fd, SPAWN_CREDS);
	execv(argv[0], argv);
	child_fail(report_fd, SPAWN_EXEC);
}

static int spawn(struct daemon *d, struct dvm *v, char *err, size_t errlen)
{
	struct vmm_creds cr;
	char sock[PATH_MAX], cfg[PATH_MAX], con[PATH_MAX + 8], log[PATH_MAX];
	int ls, logfd, nullfd, pidfd, report[2] = { -1, -1 };
	struct spawn_failure failed;
	ssize_t n;
	pid_t pid;

	dvm_path(d, v, "ctl.sock", sock, sizeof(sock));
	dvm_path(d, v, "config.json", cfg, sizeof(cfg));
	dvm_path(d, v, "vmm.log", log, sizeof(log));
	memcpy(con, "file:", 5);
	dvm_path(d, v, "console.log", con + 5, sizeof(con) - 5);
	vmm_creds(v, &cr);
	if (hand_over(cfg, &cr, false) || hand_over(con + 5, &cr, true)) {
		snprintf(err, errlen, "cannot hand the VM's files to uid %u: %s", (unsigned)cr.uid,
			 strerror(errno));
		return -1;
	}
	ls = make_ctl_socket(sock);
	if (ls < 0) {
		snprintf(err, errlen, "control socket %s: %s", sock, strerror(-ls));
		return -1;
	}
	logfd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (logfd < 0 || nullfd < 0) {
		snprintf(err, errlen, "%s: %s", log, strerror(errno));
		goto fail_fds;
	}
	if (pipe2(report, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		goto fail_fds;
	}
	char a_run[] = "run", a_config[] = "--config", a_console[] = "--console",
	     a_ctl[] = "--control-fd", a_three[] = "3";
	char *const argv[] = { d->vmm_path, a_run, a_config, cfg, a_console, con,
			       a_ctl, a_three, NULL };
	pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		goto fail_fds;
	}
	if (pid == 0)
		spawn_child(argv, &cr, ls, logfd, nullfd, report[1]);
	close(report[1]);
	do
		n = read(report[0], &failed, sizeof(failed));
	while (n < 0 && errno == EINTR);
	close(report[0]);
	if (n == (ssize_t)sizeof(failed)) {
		snprintf(err, errlen, "cannot start the VMM %s: %s: %s", d->vmm_path,
			 failed.step > 0 && failed.step < SPAWN_NSTEPS ? spawn_step_name[failed.step]
								       : "?",
			 strerror(failed.err));
		waitpid(pid, NULL, 0);
		report[0] = report[1] = -1;
		goto fail_fds;
	}
	close(ls);
	close(logfd);
	close(nullfd);
	pidfd = pidfd_open(pid, 0);
	if (pidfd < 0) {
		snprintf(err, errlen, "pidfd_open: %s", strerror(errno));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -1;
	}
	pthread_mutex_lock(&d->lock);
	v->pid = pid;
	v->pid_start = proc_start_time(pid);
	v->pidfd = pidfd;
	v->child = true;
	if (supervise(d, v)) {
		pthread_mutex_unlock(&d->lock);
		snprintf(err, errlen, "epoll: %s", strerror(errno));
		pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
		return -1; /* its exit is never observed: reaped below */
	}
	if (dvm_save(d, v)) {
		/* logged; the VM still runs */
	}
	pthread_mutex_unlock(&d->lock);
	return 0;
fail_fds:
	close(ls);
	if (logfd >= 0)
		close(logfd);
	if (nullfd >= 0)
		close(nullfd);
	if (report[0] >= 0)
		close(report[0]);
	if (report[1] >= 0)
		close(report[1]);
	return -1;
}

/* Claim v for a long operation: state must be in `ok` (bitmask of states). */
static int claim(struct daemon *d, uid_t uid, const char *id, unsigned ok, const char *op,
		 struct dvm **out, char *err, size_t errlen)
{
	struct dvm *v;
	int ret = dmn_lookup(d, uid, id, &v, err, errlen);

	if (ret != 200)
		return ret;
	if (v->busy) {
		snprintf(err, errlen, "VM %s: another operation is in progress; %s refused", v->id,
			 op);
		return 409;
	}
	if (!(ok & (1u << v->state))) {
		snprintf(err, errlen, "VM %s is %s: %s is not possible in that state", v->id,
			 dvm_state_name(v->state), op);
		return 409;
	}
	v->busy = true;
	*out = v;
	return 200;
}

#define S(x) (1u << (x))

int dmn_start(struct daemon *d, uid_t uid, const char *id, char *err, size_t errlen)
{
	uint64_t t0 = dmn_now_ns();
	uint32_t st = 0;
	struct dvm *v;
	int ret;

	pthread_mutex_lock(&d->lock);
	ret = claim(d, uid, id, S(DVM_CREATED) | S(DVM_EXITED), "start", &v, err, errlen);
	if (ret != 200) {
		pthread_mutex_unlock(&d->lock);
		return ret;
	}
	v->state = DVM_STARTING;
	v->stop_requested = false;
	v->exit_code = -1;
	v->exit_signal = 0;
	v->exit_reason[0] = v->exit_detail[0] = v->quarantine_reason[0] = '\0';
	pthread_mutex_unlock(&d->lock);

	if (spawn(d, v, err, errlen)) {
		pthread_mutex_lock(&d->lock);
		v->state = DVM_EXITED;
		snprintf(v->exit_reason, sizeof(v->exit_reason), "spawn-failed");
		snprintf(v->exit_detail, sizeof(v->exit_detail), "%s", err);
		v->busy = false;
		pthread_cond_broadcast(&d->cond);
		pthread_mutex_unlock(&d->lock);
		return 500;
	}
	/* The first reply comes once vm_create() is done and the VM runs. */
	ret = dvm_ctl(d, v, CTL_STATUS, START_TIMEOUT_MS, &st, err, errlen);
	pthread_mutex_lock(&d->lock);
	if (ret == 0 && v->state == DVM_STARTING) {
		v->state = (st & CTL_ST_PAUSED) ? DVM_PAUSED : DVM_RUNNING;
		v->started_at = (int64_t)time(NULL);
		v->started_mono_ns = dmn_now_ns();
		v->start_ms = (v->started_mono_ns - t0) / 1000000u;
		if (dvm_save(d, v)) {
		}
		dmn_event(d, v, "started", "pid %d, running after %llu ms", (int)v->pid,
			  (unsigned long long)v->start_ms);
		ret = 200;
	} else {
		if (ret == -ETIMEDOUT && v->pidfd >= 0)
			pidfd_send_signal(v->pidfd, SIGKILL, NULL, 0);
		wait_exited(d, v, EXIT_WAIT_S);
		if (v->state == DVM_EXITED) {
			snprintf(err, errlen, "VM %s did not start: %s (exit code %d): %s", v->id,
				 v->exit_reason, v->exit_code, v->exit_detail);
			ret = v->exit_code == 2 ? 422 : 500;
		} else {
			ret = 500;
		}
	}
	v->busy = false;
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
	return ret;
}

/* pause / resume / quarantine: one control request, then a new state. */
static int simple_op(struct daemon *d, uid_t uid, const char *id, unsigned ok, unsigned type,
		     enum dvm_state next, const char *reason, char *err, size_t errlen)
{
	const char *op = ctl_type_name(type);
	struct dvm *v;
	int ret;

	pthread_mutex_lock(&d->lock);
	ret = claim(d, uid, id, ok, op, &v, err, errlen);
	pthread_mutex_unlock(&d->lock);
	if (ret != 200)
		return ret;
	ret = dvm_ctl(d, v, type, CTL_TIMEOUT_MS, NULL, err, errlen);
	pthread_mutex_lock(&d->lock);
	if (ret == 0 && v->state != DVM_EXITED) {
		v->state = next;
		if (reason)
			snprintf(v->quarantine_reason, sizeof(v->quarantine_reason), "%s", reason);
		if (dvm_save(d, v)) {
		}
		if (reason)
			dmn_event(d, v, "quarantined", "by uid %u: %s", (unsigned)uid, reason);
		else
			dmn_event(d, v, next == DVM_PAUSED ? "paused" : "resumed", "by uid %u",
				  (unsigned)uid);
		ret = 200;
	} else {
		ret = ret == -EPERM || ret == -EAGAIN ? 409 : 502;
	}
	v->busy = false;
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
	return ret;
}

int dmn_pause(struct daemon *d, uid_t uid, const char *id, char *err, size_t errlen)
{
	return simple_op(d, uid, id, S(DVM_RUNNING), CTL_PAUSE, DVM_PAUSED, NULL, err, errlen);
}

int dmn_resume(struct daemon *d, uid_t uid, const char *id, char *err, size_t errlen)
{
	int ret = simple_op(d, uid, id, S(DVM_PAUSED), CTL_RESUME, DVM_RUNNING, NULL, err, errlen);

	if (ret == 409 && strstr(err, "quarantined"))
		snprintf(err + strlen(err), errlen - strlen(err),
			 " (a quarantined VM stays paused: inspect it, then stop or kill it)");
	return ret;
}

int dmn_quarantine(struct daemon *d, uid_t uid, const char *id, const char *reason, char *err,
		   size_t errlen)
{
	return simple_op(d, uid, id, S(DVM_RUNNING) | S(DVM_PAUSED), CTL_QUARANTINE,
			 DVM_QUARANTINED, reason, err, errlen);
}

static void signal_vmm(struct dvm *v, int sig)
{
	if (v->pidfd >= 0 && pidfd_send_signal(v->pidfd, sig, NULL, 0) < 0 && errno != ESRCH)
		bh_warn("VM %s: pidfd_send_signal %d: %s", v->id, sig, strerror(errno));
}

int dmn_stop(struct daemon *d, uid_t uid, const char *id, unsigned timeout_s, char *err,
	     size_t errlen)
{
	const char *how = "graceful";
	enum dvm_state was;
	struct dvm *v;
	int ret;

	pthread_mutex_lock(&d->lock);
	ret = claim(d, uid, id, S(DVM_RUNNING) | S(DVM_PAUSED) | S(DVM_QUARANTINED), "stop", &v,
		    err, errlen);
	if (ret != 200) {
		pthread_mutex_unlock(&d->lock);
		return ret;
	}
	was = v->state;
	v->state = DVM_STOPPING;
	v->stop_requested = true;
	dmn_event(d, v, "stopping", "by uid %u, timeout %u s", (unsigned)uid, timeout_s);
	pthread_mutex_unlock(&d->lock);

	/* A paused guest cannot see Ctrl-Alt-Del: terminate the VMM at once. */
	if (was == DVM_RUNNING &&
	    dvm_ctl(d, v, CTL_STOP, CTL_TIMEOUT_MS, NULL, err, errlen) == 0) {
		pthread_mutex_lock(&d->lock);
		wait_state_change(d, v, DVM_STOPPING, timeout_s);
	} else {
		pthread_mutex_lock(&d->lock);
	}
	if (v->state != DVM_EXITED) {
		how = "terminated";
		signal_vmm(v, SIGTERM);
		wait_exited(d, v, 3);
	}
	if (v->state != DVM_EXITED) {
		how = "killed";
		signal_vmm(v, SIGKILL);
		wait_exited(d, v, EXIT_WAIT_S);
	}
	if (v->state == DVM_EXITED) {
		snprintf(err, errlen, "%s", how);
		ret = 200;
	} else {
		snprintf(err, errlen, "VM %s: the VMM did not exit after SIGKILL", v->id);
		ret = 500;
	}
	v->busy = false;
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
	return ret;
}

int dmn_kill(struct daemon *d, uid_t uid, const char *id, char *err, size_t errlen)
{
	struct dvm *v;
	int ret;

	pthread_mutex_lock(&d->lock);
	ret = dmn_lookup(d, uid, id, &v, err, errlen);
	if (ret == 200 && (v->pidfd < 0 || v->state == DVM_EXITED || v->state == DVM_CREATED)) {
		snprintf(err, errlen, "VM %s is %s: there is no process to kill", v->id,
			 dvm_state_name(v->state));
		ret = 409;
	}
	if (ret == 200) {
		/* No busy claim: kill must work while a start or stop hangs. */
		v->stop_requested = true;
		dmn_event(d, v, "killing", "by uid %u", (unsigned)uid);
		signal_vmm(v, SIGKILL);
		wait_exited(d, v, EXIT_WAIT_S);
		if (v->state != DVM_EXITED) {
			snprintf(err, errlen, "VM %s: no exit seen yet after SIGKILL", v->id);
			ret = 202;
		}
	}
	pthread_mutex_unlock(&d->lock);
	return ret;
}

/* ---- restart: re-attach to VMMs that outlived the previous daemon ---- */

void dvm_reattach(struct daemon *d, struct dvm *v)
{
	char err[256];
	uint32_t st = 0;
	int pidfd;

	if (v->state == DVM_CREATED || v->state == DVM_EXITED)
		return;
	if (v->pid <= 0 || proc_start_time(v->pid) != v->pid_start || v->pid_start == 0) {
		v->pid = 0;
		mark_exited(d, v, NULL, false,
			    "the VMM exited while the daemon was down (exit status unknown)");
		return;
	}
	pidfd = pidfd_open(v->pid, 0);
	/* The pidfd pins the pid: same start time now means same process. */
	if (pidfd < 0 || proc_start_time(v->pid) != v->pid_start) {
		if (pidfd >= 0)
			close(pidfd);
		mark_exited(d, v, NULL, false,
			    "the VMM exited while the daemon was down (exit status unknown)");
		return;
	}
	v->pidfd = pidfd;
	v->child = false;
	if (supervise(d, v)) {
		mark_exited(d, v, NULL, false, "cannot supervise the VMM again (epoll)");
		return;
	}
	if (dvm_ctl(d, v, CTL_STATUS, CTL_TIMEOUT_MS, &st, err, sizeof(err)) == 0) {
		if (st & CTL_ST_QUARANTINED)
			v->state = DVM_QUARANTINED;
		else if (st & CTL_ST_PAUSED)
			v->state = DVM_PAUSED;
		else if (v->state != DVM_STOPPING)
			v->state = DVM_RUNNING;
		if (!v->started_mono_ns)
			v->started_mono_ns = dmn_now_ns(); /* uptime counts from re-attach */
	} else {
		bh_warn("%s (the VM stays supervised)", err);
	}
	if (dvm_save(d, v)) {
	}
	dmn_event(d, v, "reattached", "pid %d, %s", (int)v->pid, dvm_state_name(v->state));
}

int dmn_recover(struct daemon *d, char *err, size_t errlen)
{
	int ret;

	pthread_mutex_lock(&d->lock);
	ret = dmn_load(d);
	dmn_event(d, NULL, "daemon-started", "%u VMs known", d->nvms);
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
	return 0;
}
