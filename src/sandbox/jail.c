/* jail.c — see jail.h: the order of the layers is spelled out in
 * jail_enter(); jail_fork() is the PID-namespace supervisor. */
#include "sandbox/jail.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "config/exit_codes.h"
#include "common/fdpass.h"
#include "common/log.h"
#include "common/proc_child.h"
#include "common/startup.h"
#include "sandbox/seccomp_bpf.h"
#include "sandbox/vsock_broker.h"

void jail_init(struct jail *j, const struct jail_config *cfg)
{
	memset(j, 0, sizeof(*j));
	j->cfg = *cfg;
	j->chan = -1;
	j->broker_fd = -1;
	j->netns_fd = -1;
	j->privileged = geteuid() == 0;
	j->outer_uid = geteuid();
	j->uid_chosen = cfg->uid != 0;
	j->outer_gid = getegid();
}

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), e = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) < 0)
		e = -errno;
	close(fd);
	return e;
}

/* Unprivileged: a user namespace in which we are uid/gid 0 (mapped to the
 * invoking user), which lets us create the other namespaces; all
 * capabilities are dropped again in jail_enter(). */
int jail_userns_enter(char *err, size_t errlen)
{
	char map[64];
	uid_t uid = geteuid();
	gid_t gid = getegid();
	int ret;

	if (unshare(CLONE_NEWUSER) < 0) {
		snprintf(err, errlen,
			 "sandbox: started unprivileged and cannot create a user namespace: %s "
			 "(run as root, allow user namespaces, or pass --no-sandbox)",
			 strerror(errno));
		return -errno;
	}
	if ((ret = write_str("/proc/self/setgroups", "deny")) && ret != -ENOENT)
		goto fail;
	snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
	if ((ret = write_str("/proc/self/uid_map", map)))
		goto fail;
	snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid);
	if ((ret = write_str("/proc/self/gid_map", map)))
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "sandbox: writing the user namespace id maps: %s", strerror(-ret));
	return ret;
}

static int report_child(pid_t pid, int status)
{
	int sig;

	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	if (sig == SIGSYS)
		bh_err("the VM process (pid %d) was killed by SIGSYS: it made a system call its "
		       "seccomp policy forbids (--seccomp-trap shows which)",
		       (int)pid);
	else if (sig == SIGKILL)
		bh_err("the VM process (pid %d) was killed by SIGKILL (its memory cgroup limit, "
		       "or an operator)",
		       (int)pid);
	else
		bh_err("the VM process (pid %d) was killed by signal %d (%s)", (int)pid, sig,
		       strsignal(sig));
	return BH_EXIT_HOST;
}

/* What the supervisor tells the VM process once its cgroup is ready, and
 * what the VM process tells the supervisor when the VM has stopped. */
struct jail_msg {
	uint32_t kind;           /* JAIL_MSG_* */
	int32_t value;           /* READY: cgroup version; EXIT: the exit code */
	int32_t host_pid;        /* READY: the VM process's PID outside */
};
enum { JAIL_MSG_READY = 0x52454459, JAIL_MSG_EXIT = 0x45584954 };

static int pidfd_of(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	errno = ENOSYS;
	return -1;
#endif
}

/* The supervisor after an early exit report: a process of its own that
 * waits for the VM process to end (it is being torn down, and dies by its
 * parent-death signal once we exit), then removes the cgroup. It holds none
 * of the caller's stdio, so nobody waits for it; init (or the caller's
 * subreaper) reaps it. Returns in the supervisor only (which returns its
 * status up to main); the cleaner ends by proc_child_exit(): returning
 * would run the supervisor's code a second time in it. */
static void leave_cleaner(struct jail *j, pid_t pid, int pidfd)
{
	pid_t c = fork();

	if (c != 0) {
		if (c < 0) { /* no cleaner: wait and clean up ourselves */
			int status;

			(void)waitpid(pid, &status, 0);
			jail_cgroup_remove(j);
		}
		return;
	}
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	for (int fd = 0; fd < 3; fd++)
		if (null >= 0 ? dup2(null, fd) < 0 : close(fd) < 0)
			(void)0;
	if (null > 2)
		close(null);
	/* Bounded: the VM process is SIGKILLed when the supervisor exits. */
	for (int tries = 0; tries < 600; tries++) {
		struct pollfd pf = { .fd = pidfd, .events = POLLIN };

		if (poll(&pf, 1, 100) > 0)
			break;
		if (tries == 50)
			kill(pid, SIGKILL);
	}
	jail_cgroup_remove(j);
	proc_child_exit(0);
}

/* The supervisor's "go": the message, and a new network namespace for the
 * VM process made here while the child builds the VM (the supervisor moves
 * itself into it: it needs no network). No namespace (an error): the child
 * makes its own. */
static ssize_t send_go(int sock, const struct jail_msg *go)
{
	int ns = -1;
	ssize_t n;

	if (unshare(CLONE_NEWNET) == 0)
		ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	n = fdpass_send(sock, go, sizeof(*go), ns, MSG_NOSIGNAL);
	if (ns >= 0)
		close(ns);
	return n;
}

int jail_fork(struct jail *j, int *exit_code, char *err, size_t errlen)
{
	sigset_t fwd, old;
	int chan[2], brk[2] = { -1, -1 }, ret, own_pidns, sfd, pidfd = -1;
	struct termios tty;
	struct timespec kill_at = { 0, 0 }; /* SIGKILL then, once a stop was forwarded */
	bool have_tty, killed = false, early = false;
	pid_t pid;
	struct jail_msg go = { .kind = JAIL_MSG_READY };

	j->chan = -1;
	if (!j->privileged) {
		if ((ret = jail_userns_enter(err, errlen)))
			return ret;
		j->userns = true;
	}
	/* unshare(CLONE_NEWPID) puts our next child in a new namespace; we
	 * return to our own afterwards (below), or any later fork of ours —
	 * e.g. LeakSanitizer's tracer at exit — would fail with ENOMEM once the
	 * VM process, the namespace's init, is gone. */
	own_pidns = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
	if (unshare(CLONE_NEWPID) < 0) {
		ret = -errno;
		snprintf(err, errlen, "sandbox: unshare(CLONE_NEWPID): %s", strerror(errno));
		if (own_pidns >= 0)
			close(own_pidns);
		return ret;
	}
	/* A socket, not a pipe: either end may be gone when the other writes,
	 * and MSG_NOSIGNAL turns that into EPIPE instead of SIGPIPE. */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, chan) < 0) {
		ret = -errno;
		snprintf(err, errlen, "sandbox: socketpair: %s", strerror(errno));
		if (own_pidns >= 0)
			close(own_pidns);
		return ret;
	}
	/* The vsock broker's channel: requests from the VM process, connected
	 * descriptors back (sandbox/vsock_broker.h). */
	if (j->cfg.vsock_socket &&
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, brk) < 0) {
		ret = -errno;
		snprintf(err, errlen, "sandbox: socketpair for the vsock broker: %s",
			 strerror(errno));
		close(chan[0]);
		close(chan[1]);
		if (own_pidns >= 0)
			close(own_pidns);
		return ret;
	}
	/* If the VM process dies by a signal (e.g. SIGSYS) with the terminal
	 * in raw mode, the supervisor puts it back. */
	have_tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &tty) == 0;
	sigemptyset(&fwd);
	sigaddset(&fwd, SIGINT);
	sigaddset(&fwd, SIGTERM);
	sigaddset(&fwd, SIGHUP);
	sigaddset(&fwd, SIGQUIT);
	sigaddset(&fwd, SIGCHLD);
	sigprocmask(SIG_BLOCK, &fwd, &old);
	pid = fork();
	if (own_pidns >= 0) {
		if (pid != 0 && setns(own_pidns, CLONE_NEWPID) < 0)
			bh_dbg("sandbox: cannot return to our PID namespace: %s", strerror(errno));
		close(own_pidns);
	}
	if (pid < 0) {
		ret = -errno;
		snprintf(err, errlen, "sandbox: fork: %s", strerror(errno));
		sigprocmask(SIG_SETMASK, &old, NULL);
		close(chan[0]);
		close(chan[1]);
		if (brk[0] >= 0) {
			close(brk[0]);
			close(brk[1]);
		}
		return ret;
	}
	if (pid == 0) {
		close(chan[1]);
		j->chan = chan[0];
		if (brk[1] >= 0)
			close(brk[1]);
		j->broker_fd = brk[0];
		/* The VM must not outlive its supervisor (it owns the cgroup). */
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		/* Stop signals stay blocked: vm_run() reads them from a signalfd,
		 * and one that arrives earlier waits there. (We are PID 1 of the
		 * namespace: an unblocked default-action signal would be lost.) */
		sigdelset(&fwd, SIGCHLD);
		sigprocmask(SIG_SETMASK, &old, NULL);
		sigprocmask(SIG_BLOCK, &fwd, NULL);
		bh_startup_mark(j->startup, "sandbox: fork into a new PID namespace");
		/* A /proc that matches our PID namespace (the host's would show
		 * host PIDs to code that reads /proc/self, e.g. LeakSanitizer), in
		 * a private mount namespace so the host never sees it. */
		if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
		    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
			bh_warn("sandbox: cannot mount a /proc for the VM's PID namespace: %s",
				strerror(errno));
		bh_startup_mark(j->startup, "sandbox: private mounts, own /proc");
		/* No waiting for the cgroup here: see jail_ready(). */
		return 0;
	}
	close(chan[0]);
	if (brk[0] >= 0)
		close(brk[0]);
	j->host_pid = pid;
	/* The supervisor only waits: off the VM's dedicated cores (the child
	 * kept them for its vCPU threads). */
	if (j->cfg.pin_supervisor &&
	    sched_setaffinity(0, sizeof(j->cfg.supervisor_cpus), &j->cfg.supervisor_cpus) < 0)
		bh_warn("sandbox: cannot move the supervisor off the dedicated cores: %s",
			strerror(errno));
	if (j->early_exit)
		pidfd = pidfd_of(pid); /* none (old kernel): no early exit */
	ret = jail_cgroup_create(j, pid, err, errlen);
	if (ret == -ESRCH) {
		/* The VM process has ended already (bad input found while we
		 * were at it): its exit code says why. */
		err[0] = '\0';
		ret = 0;
	} else if (ret && !j->privileged) {
		bh_warn("SANDBOX: %s; running WITHOUT cgroup limits (unprivileged, no delegated "
			"cgroup)", err + (strncmp(err, "sandbox: ", 9) ? 0 : 9));
		jail_cgroup_remove(j);
		j->cg.version = 0;
		err[0] = '\0';
		ret = 0;
	}
	go.host_pid = pid;
	go.value = j->cg.version;
	/* EPIPE: the VM process has ended before it needed the cgroup. */
	if (!ret) {
		ssize_t sent = send_go(chan[1], &go);

		if (sent < 0 && sent != -EPIPE)
			ret = (int)sent;
	}
	if (ret || pidfd < 0) {
		close(chan[1]); /* on failure the child reads EOF and gives up */
		chan[1] = -1;
	}
	sfd = signalfd(-1, &fwd, SFD_CLOEXEC);
	for (;;) {
		struct pollfd pf[3] = { { .fd = sfd, .events = POLLIN },
					{ .fd = chan[1], .events = POLLIN },
					{ .fd = brk[1], .events = POLLIN } };
		struct signalfd_siginfo si;
		struct jail_msg m;
		int status, timeout = -1;

		if (kill_at.tv_sec && !killed) {
			struct timespec now;
			long long ms;

			clock_gettime(CLOCK_MONOTONIC, &now);
			ms = (long long)(kill_at.tv_sec - now.tv_sec) * 1000 +
			     (kill_at.tv_nsec - now.tv_nsec) / 1000000;
			if (ms <= 0) {
				/* The VM process should have ended by itself long
				 * ago (it gives up on stuck vCPUs after
				 * VM_STOP_DEADLINE_MS): end it. */
				bh_err("the VM process (pid %d) did not end within %u s of the stop "
				       "signal: killing it (SIGKILL)",
				       (int)pid, JAIL_STOP_GRACE_S(j->cfg.ncpus));
				kill(pid, SIGKILL);
				killed = true;
				continue;
			}
			timeout = ms > INT_MAX ? INT_MAX : (int)ms;
		}
		if (sfd < 0) { /* no signalfd: signals only (no early exit) */
			siginfo_t info;
			struct timespec left = { timeout / 1000, (long)(timeout % 1000) * 1000000L };

			if ((timeout < 0 ? sigwaitinfo(&fwd, &info)
					 : sigtimedwait(&fwd, &info, &left)) < 0)
				continue;
			si.ssi_signo = (uint32_t)info.si_signo;
		} else {
			if (poll(pf, 3, timeout) <= 0)
				continue; /* a timeout: the SIGKILL deadline, checked above */
			if (brk[1] >= 0 && (pf[2].revents & (POLLIN | POLLHUP | POLLERR)) &&
			    vsock_broker_serve(brk[1], j->cfg.vsock_socket, j->cfg.vsock_allow) < 0) {
				close(brk[1]); /* the VM process closed its end */
				brk[1] = -1;
			}
			if (chan[1] >= 0 && (pf[1].revents & (POLLIN | POLLHUP | POLLERR))) {
				ssize_t n = recv(chan[1], &m, sizeof(m), MSG_DONTWAIT);

				if (n == (ssize_t)sizeof(m) && m.kind == JAIL_MSG_EXIT) {
					*exit_code = m.value;
					early = true;
					break;
				}
				if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
					close(chan[1]); /* ended without a report */
					chan[1] = -1;
				}
			}
			if (!(pf[0].revents & POLLIN) ||
			    read(sfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
				continue;
		}
		if (si.ssi_signo != SIGCHLD) {
			kill(pid, (int)si.ssi_signo);
			if (!kill_at.tv_sec) {
				clock_gettime(CLOCK_MONOTONIC, &kill_at);
				kill_at.tv_sec += JAIL_STOP_GRACE_S(j->cfg.ncpus);
			}
			continue;
		}
		if (waitpid(pid, &status, WNOHANG) == pid) {
			if (WIFSIGNALED(status) && have_tty)
				(void)tcsetattr(STDIN_FILENO, TCSANOW, &tty);
			if (killed && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
				*exit_code = BH_EXIT_SIGNAL; /* stopped by the operator's signal */
			else
				*exit_code = report_child(pid, status);
			break;
		}
	}
	if (sfd >= 0)
		close(sfd);
	if (chan[1] >= 0)
		close(chan[1]);
	if (brk[1] >= 0)
		close(brk[1]);
	if (early)
		leave_cleaner(j, pid, pidfd);
	else
		jail_cgroup_remove(j);
	if (pidfd >= 0)
		close(pidfd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (ret) {
		bh_err("%s", err);
		*exit_code = BH_EXIT_HOST;
	}
	return 1;
}

int jail_ready(struct jail *j, char *err, size_t errlen)
{
	struct jail_msg go;
	ssize_t n;
	int ns;

	if (j->chan < 0)
		return 0;
	do
		n = fdpass_recv(j->chan, &go, sizeof(go), &ns, 0);
	while (n == -EINTR);
	if (ns >= 0 && j->netns_fd < 0)
		j->netns_fd = ns;
	else if (ns >= 0)
		close(ns);
	if (!j->early_exit) {
		close(j->chan);
		j->chan = -1;
	}
	if (n != (ssize_t)sizeof(go) || go.kind != JAIL_MSG_READY) {
		if (j->chan >= 0)
			close(j->chan);
		j->chan = -1;
		snprintf(err, errlen, "sandbox: the supervisor could not set up the VM's cgroup");
		return -EIO;
	}
	j->host_pid = go.host_pid;
	j->cg.version = go.value;
	if (j->privileged) {
		if (!j->cfg.uid)
			j->cfg.uid = JAIL_ID_BASE + (uint32_t)go.host_pid;
		if (!j->cfg.gid)
			j->cfg.gid = JAIL_ID_BASE + (uint32_t)go.host_pid;
	}
	bh_startup_mark(j->startup, "sandbox: cgroup ready (set up by the supervisor meanwhile)");
	return 0;
}

void jail_report_exit(struct jail *j, int code)
{
	struct jail_msg m = { .kind = JAIL_MSG_EXIT, .value = code };

	if (j->chan < 0)
		return;
	/* write(), not send(): the main thread's seccomp filter allows write;
	 * SIGPIPE is ignored by main(). */
	if (write(j->chan, &m, sizeof(m)) == (ssize_t)sizeof(m)) {
		/* The caller may be reading our output to its end: it ends now. */
		close(STDIN_FILENO);
		close(STDOUT_FILENO);
		close(STDERR_FILENO);
	}
	close(j->chan);
	j->chan = -1;
}

/* Development aid (--seccomp-trap): name the forbidden syscall, then end the
 * process as the real policy would. Async-signal-safe: write + exit_group. */
static void sigsys_trap(int sig, siginfo_t *si, void *uc)
{
	char msg[80] = "bulkhead: SECCOMP: forbidden system call number ";
	size_t n = strlen(msg);
	char digits[12];
	int d = 0, nr = si->si_syscall;

	(void)sig;
	(void)uc;
	do
		digits[d++] = (char)('0' + nr % 10);
	while ((nr /= 10) && d < (int)sizeof(digits));
	while (d > 0 && n < sizeof(msg) - 2)
		msg[n++] = digits[--d];
	msg[n++] = '\n';
	if (write(STDERR_FILENO, msg, n) < 0) {
		/* nothing left to do */
	}
	syscall(SYS_exit_group, BH_EXIT_HOST);
}

/* A thread whose own malloc arena grows and shrinks once (see below). */
static void *shrink_arena_once(void *arg)
{
	void *b[4];

	(void)arg;
	for (int i = 0; i < 4; i++)
		if ((b[i] = malloc(100 << 10)))
			memset(b[i], 0, 100 << 10);
	for (int i = 3; i >= 0; i--)
		free(b[i]);
	return NULL;
}

void jail_prepare_libc(void)
{
	/* libc reads the time zone file on the first gmtime_r() (the RTC):
	 * do it now, while there is a filesystem. */
	tzset();
	/* glibc's malloc gives each new thread its own arena until there are
	 * more than 8; the next thread then asks how many CPUs are online
	 * (__get_nprocs(): open("/sys/devices/system/cpu/online")) to size the
	 * limit. After the jail that open is fatal: with 8 or more vCPUs the
	 * VM process died by SIGSYS as its threads started. Fix the limit now,
	 * at the value glibc would choose (8 arenas per online CPU), so it never
	 * asks. ASan's allocator ignores this (it has no arenas to limit). */
#ifdef M_ARENA_MAX
	int n = get_nprocs();

	if (mallopt(M_ARENA_MAX, 8 * (n > 0 ? n : 1)) != 1)
		bh_dbg("sandbox: mallopt(M_ARENA_MAX) not supported by this allocator");
	/* The first time a thread's arena gives memory back (its heap's top
	 * shrinks past the trim threshold), glibc reads
	 * /proc/sys/vm/overcommit_memory once (check_may_shrink_heap()). Fix the
	 * thresholds at glibc's initial values (no dynamic adjustment, so what
	 * follows is certain to trim), then have a thread grow and shrink its
	 * arena once now, so the answer is cached before the jail. */
	pthread_t t;

	if (mallopt(M_MMAP_THRESHOLD, 128 << 10) == 1 && mallopt(M_TRIM_THRESHOLD, 128 << 10) == 1 &&
	    pthread_create(&t, NULL, shrink_arena_once, NULL) == 0)
		pthread_join(t, NULL);
#endif
}

int jail_enter(struct jail *j, char *err, size_t errlen)
{
	struct sc_stats st[SC_KIND_COUNT];
	int ret;

	if ((ret = jail_ready(j, err, errlen)))
		return ret;
	/* The filters are compiled to BPF at build time (seccomp_bpf.h): here
	 * they are only looked up, and loaded last. */
	for (int k = 0; k < SC_KIND_COUNT; k++) {
		if ((ret = sc_bpf_get((enum sc_kind)k, j->cfg.seccomp_trap, &j->filters[k]))) {
			snprintf(err, errlen, "sandbox: no compiled %s seccomp filter: %s",
				 sc_kind_name((enum sc_kind)k), strerror(-ret));
			return ret;
		}
		sc_policy_stats((enum sc_kind)k, &st[k]);
	}
	bh_startup_mark(j->startup, "sandbox: seccomp filters looked up (compiled at build time)");
	/* What the C library would otherwise do on its own after the jail,
	 * decided now (docs/security.md, "What libc may do after the jail"). */
	jail_prepare_libc();
	/* Over RLIMIT_FSIZE a write fails with EFBIG instead of killing us. */
	signal(SIGXFSZ, SIG_IGN);
	if (j->cfg.seccomp_trap) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = sigsys_trap;
		sa.sa_flags = SA_SIGINFO;
		sigaction(SIGSYS, &sa, NULL);
		bh_warn("SANDBOX: --seccomp-trap: a forbidden system call is reported, the process "
			"could catch it (development only)");
	}
	if ((ret = jail_set_rlimits(j, err, errlen)))
		return ret;
	/* Wipe the strings too, not just libc's pointer: no secret stays in
	 * memory a bug could leak or in /proc/PID/environ. */
	for (char **e = environ; e && *e; e++)
		memset(*e, 0, strlen(*e));
	if (clearenv() != 0) {
		snprintf(err, errlen, "sandbox: clearenv failed");
		return -ENOMEM;
	}
	bh_startup_mark(j->startup, "sandbox: rlimits, environment wiped");
	ret = jail_ns_enter(j->netns_fd, err, errlen);
	j->netns_fd = -1; /* closed by jail_ns_enter */
	if (ret)
		return ret;
	bh_startup_mark(j->startup, "sandbox: namespaces, empty read-only root");
	if ((ret = jail_drop_privileges(j, err, errlen)))
		return ret;
	bh_startup_mark(j->startup, "sandbox: uid/gid, capabilities dropped");
	if ((ret = jail_landlock_apply(&j->landlock_abi, err, errlen)))
		return ret;
	bh_startup_mark(j->startup, "sandbox: Landlock");
	if (!j->landlock_abi)
		bh_warn("SANDBOX: Landlock is NOT available on this kernel: running without the "
			"Landlock layer (namespaces, empty root, no capabilities, seccomp still apply)");
	if ((ret = sc_bpf_load(&j->filters[SC_KIND_PROCESS]))) {
		snprintf(err, errlen, "sandbox: loading the seccomp filter: %s", strerror(-ret));
		return ret;
	}
	bh_startup_mark(j->startup, "sandbox: process seccomp filter loaded");
	char ll[16] = "NONE";

	if (j->landlock_abi)
		snprintf(ll, sizeof(ll), "ABI %d", j->landlock_abi);
	snprintf(j->summary, sizeof(j->summary),
		 "namespaces (pid mount net ipc uts cgroup%s), empty root, %suid %u gid %u, "
		 "no capabilities, rlimits, cgroup %s, Landlock %s, seccomp (syscalls: main %u, "
		 "vcpu %u, event %u)",
		 j->userns ? " user" : "", j->userns ? "unprivileged: " : "",
		 j->userns ? j->outer_uid : j->cfg.uid, j->userns ? j->outer_gid : j->cfg.gid,
		 j->cg.version == 2 ? "v2" : j->cg.version == 1 ? "v1" : "NONE",
		 ll, st[SC_KIND_MAIN].syscalls,
		 st[SC_KIND_VCPU].syscalls, st[SC_KIND_EVENT].syscalls);
	return 0;
}

int jail_thread_init(void *opaque, enum vm_thread_kind kind)
{
	struct jail *j = opaque;
	enum sc_kind k;

	switch (kind) {
	case VM_THREAD_MAIN: k = SC_KIND_MAIN; break;
	case VM_THREAD_VCPU: k = SC_KIND_VCPU; break;
	case VM_THREAD_EVENT: k = SC_KIND_EVENT; break;
	default: return -EINVAL;
	}
	return sc_bpf_load(&j->filters[k]);
}

void jail_destroy(struct jail *j)
{
	if (j->broker_fd >= 0)
		close(j->broker_fd);
	j->broker_fd = -1;
	if (j->chan >= 0)
		close(j->chan);
	j->chan = -1;
	if (j->netns_fd >= 0)
		close(j->netns_fd);
	j->netns_fd = -1;
}
