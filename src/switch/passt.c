/* passt.c — find, start and stop passt as a switch uplink (contracts in
 * passt.h). */
#include "switch/passt.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/proc_child.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

static bool executable(const char *dir, size_t dlen, char *path, size_t len)
{
	int n = snprintf(path, len, "%.*s/passt", (int)dlen, dir);

	return n > 0 && (size_t)n < len && path[0] == '/' && access(path, X_OK) == 0;
}

int passt_find(char *path, size_t len, char *err, size_t errlen)
{
	const char *env = getenv("PATH");
	const char *fixed[] = { "/usr/bin", "/usr/sbin" };

	for (const char *d = env; d && *d;) {
		const char *e = strchr(d, ':');
		size_t dl = e ? (size_t)(e - d) : strlen(d);
		if (dl && executable(d, dl, path, len))
			return 0;
		d = e ? e + 1 : d + dl;
	}
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (executable(fixed[i], strlen(fixed[i]), path, len))
			return 0;
	path[0] = '\0';
	snprintf(err, errlen, "passt is not installed (no passt program in $PATH, /usr/bin or "
			      "/usr/sbin): install the Debian package `passt` (apt-get install passt)");
	return -ENOENT;
}

/* Reap a child by pidfd; false while it runs. */
static bool reap(int pidfd, int *status, bool *signalled)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	if (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED | WNOHANG) < 0)
		return errno == ECHILD;
	if (si.si_pid == 0)
		return false;
	*status = si.si_status;
	*signalled = si.si_code != CLD_EXITED;
	return true;
}

int passt_start(const char *path, const char *segment, bool ipv4_only, struct passt_proc *out,
	char *err, size_t errlen)
{
	int sv[2], ret;
	pid_t pid;

	out->port_fd = out->pidfd = out->pid = -1;
	if (!path || path[0] != '/') {
		snprintf(err, errlen, "uplink %s: the passt path must be absolute", segment);
		return -EINVAL;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		ret = -errno;
		snprintf(err, errlen, "uplink %s: socketpair: %s", segment, strerror(errno));
		return ret;
	}
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		snprintf(err, errlen, "uplink %s: fork: %s", segment, strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return ret;
	}
	if (pid == 0) {
		/* async-signal-safe calls only: a threaded caller forked us */
		static char a0[] = "passt", f[] = "-f", q[] = "-q", nomap[] = "--no-map-gw",
			    t[] = "-t", u[] = "-u", none[] = "none", fdopt[] = "--fd", three[] = "3",
			    four[] = "-4";
		char *argv[] = { a0, f, q, nomap, t, none, u, none, fdopt, three,
				 ipv4_only ? four : NULL, NULL };
		sigset_t all;
		struct sigaction dfl;
		memset(&dfl, 0, sizeof(dfl));
		dfl.sa_handler = SIG_DFL;
		for (int sig = 1; sig < 65; sig++)
			(void)sigaction(sig, &dfl, NULL);
		sigemptyset(&all);
		(void)sigprocmask(SIG_SETMASK, &all, NULL);
		int c = fcntl(sv[1], F_DUPFD_CLOEXEC, 64);
		if (c < 0 || dup2(c, 3) != 3)
			proc_child_exit(127);
		syscall(SYS_close_range, 4u, ~0u, 0u);
		proc_child_execv(path, argv, 127);
	}
	close(sv[1]);
	out->pid = pid;
	out->port_fd = sv[0];
	out->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (out->pidfd < 0) {
		ret = -errno;
		snprintf(err, errlen, "uplink %s: pidfd_open: %s", segment, strerror(errno));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		close(out->port_fd);
		out->port_fd = out->pid = -1;
		return ret;
	}
	/* a passt that cannot work (no default route, a bad option) says why
	 * on stderr and exits at once: fail here, with its status */
	struct pollfd pfd = { .fd = out->pidfd, .events = POLLIN };
	if (poll(&pfd, 1, PASST_START_CHECK_MS) > 0) {
		int status = 0;
		bool sig = false;
		if (reap(out->pidfd, &status, &sig)) {
			snprintf(err, errlen, "uplink %s: passt (%s) %s %d at start%s", segment, path,
				 sig ? "was killed by signal" : "exited with status", status,
				 !sig && status == 127 ? " (could not be executed)"
						       : " (its message is above)");
			close(out->pidfd);
			close(out->port_fd);
			out->port_fd = out->pidfd = out->pid = -1;
			return -ECHILD;
		}
	}
	return 0;
}

int passt_port_record(struct swctl_port *rec, const char *name, const char *segment)
{
	memset(rec, 0, sizeof(*rec));
	if (strlen(name) >= sizeof(rec->name) || strlen(segment) >= sizeof(rec->segment))
		return -EINVAL;
	memcpy(rec->name, name, strlen(name) + 1);
	memcpy(rec->segment, segment, strlen(segment) + 1);
	if (!swctl_name_ok(rec->name, sizeof(rec->name)) ||
	    !swctl_name_ok(rec->segment, sizeof(rec->segment)))
		return -EINVAL;
	rec->flags = SWCTL_F_UPLINK | SWCTL_F_STREAM;
	return 0;
}

void passt_stop(struct passt_proc *p)
{
	int status;
	bool sig;

	if (p->port_fd >= 0)
		close(p->port_fd);
	p->port_fd = -1;
	if (p->pidfd < 0)
		return;
	struct pollfd pfd = { .fd = p->pidfd, .events = POLLIN };
	if (poll(&pfd, 1, 2000) <= 0) {
		(void)syscall(SYS_pidfd_send_signal, p->pidfd, SIGKILL, NULL, 0);
		(void)poll(&pfd, 1, 2000);
	}
	(void)reap(p->pidfd, &status, &sig);
	close(p->pidfd);
	p->pidfd = p->pid = -1;
}
