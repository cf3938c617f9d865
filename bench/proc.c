/* proc.c — see proc.h. */
#include "proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

double proc_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int pidfd_of(pid_t pid)
{
#ifdef SYS_pidfd_open
	/* A pidfd lets poll() wake exactly at the exit instead of polling
	 * waitpid: in the nested host every wake-up is emulated CPU time
	 * taken from the VM being measured. */
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	return -1;
#endif
}

int proc_start(struct proc *p, char *const argv[], bool capture, const char *errpath)
{
	int fds[2] = { -1, -1 };

	memset(p, 0, sizeof(*p));
	p->out = p->pidfd = -1;
	if (capture && pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	p->t0 = proc_now();
	pid_t pid = fork();
	if (pid < 0) {
		int e = -errno;
		if (capture) {
			close(fds[0]);
			close(fds[1]);
		}
		return e;
	}
	if (pid == 0) {
		int nul = open("/dev/null", O_RDWR);
		int err = errpath ? open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600) : nul;
		if (nul < 0 || err < 0)
			_exit(126);
		dup2(nul, 0);
		dup2(capture ? fds[1] : nul, 1);
		dup2(err, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	p->pid = pid;
	if (capture) {
		close(fds[1]);
		p->out = fds[0];
	}
	p->pidfd = pidfd_of(pid);
	return 0;
}

static bool try_reap(struct proc *p)
{
	if (p->reaped)
		return true;
	pid_t r = waitpid(p->pid, &p->status, WNOHANG);
	if (r == p->pid) {
		p->reaped = true;
		p->t_exit = proc_now();
	}
	return p->reaped;
}

static int ms_until(double deadline)
{
	double left = deadline - proc_now();
	if (left <= 0)
		return 0;
	return left > 1e6 ? 1000000000 : (int)(left * 1000.0) + 1;
}

int proc_follow(struct proc *p, const char *const *pats, int npats, int stop_at, double deadline,
		double *t_first, double *t_pat)
{
	/* Sliding window of the newest output, enough for any pattern. */
	char win[256];
	size_t wlen = 0;

	*t_first = -1;
	for (int i = 0; i < npats; i++)
		t_pat[i] = -1;
	while (p->out >= 0) {
		struct pollfd pf[2] = { { .fd = p->out, .events = POLLIN },
					{ .fd = p->pidfd, .events = POLLIN } };
		int n = poll(pf, p->pidfd >= 0 ? 2 : 1, p->pidfd >= 0 ? ms_until(deadline) : 1);
		if (n < 0 && errno != EINTR)
			return -errno;
		if (proc_now() >= deadline)
			return -ETIMEDOUT;
		if (p->pidfd < 0 || (n > 0 && (pf[1].revents & POLLIN)))
			try_reap(p);
		if (n <= 0 || !(pf[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			if (!p->reaped)
				continue;
			/* Exited: drain what is left without blocking (a
			 * grandchild could still hold the pipe open). */
			fcntl(p->out, F_SETFL, O_NONBLOCK);
		}
		char buf[4096];
		ssize_t got = read(p->out, buf, sizeof(buf));
		double t = proc_now();
		if (got < 0 && (errno == EINTR || errno == EAGAIN)) {
			if (p->reaped)
				break;
			continue;
		}
		if (got <= 0)
			break; /* EOF */
		if (*t_first < 0)
			*t_first = t;
		for (ssize_t i = 0; i < got; i++) {
			if (wlen == sizeof(win)) {
				memmove(win, win + sizeof(win) / 2, sizeof(win) / 2);
				wlen = sizeof(win) / 2;
			}
			win[wlen++] = buf[i];
			for (int k = 0; k < npats; k++) {
				size_t pl = strlen(pats[k]);
				if (t_pat[k] < 0 && wlen >= pl && memcmp(win + wlen - pl, pats[k], pl) == 0) {
					t_pat[k] = t;
					if (k == stop_at)
						return 0;
				}
			}
		}
	}
	return 0;
}

int proc_wait(struct proc *p, double deadline)
{
	while (!try_reap(p)) {
		if (proc_now() >= deadline) {
			proc_kill(p);
			return -ETIMEDOUT;
		}
		if (p->pidfd >= 0) {
			struct pollfd pf = { .fd = p->pidfd, .events = POLLIN };
			poll(&pf, 1, ms_until(deadline));
		} else {
			usleep(200);
		}
	}
	return 0;
}

void proc_kill(struct proc *p)
{
	if (p->reaped)
		return;
	kill(p->pid, SIGKILL);
	/* Bounded: a VMM stuck in the kernel (e.g. KVM teardown in the nested
	 * host) must not hang the whole benchmark; leave the zombie then. */
	double deadline = proc_now() + 10;
	while (!try_reap(p) && proc_now() < deadline) {
		if (p->pidfd >= 0) {
			struct pollfd pf = { .fd = p->pidfd, .events = POLLIN };
			poll(&pf, 1, ms_until(deadline));
		} else {
			usleep(1000);
		}
	}
	if (!p->reaped) {
		fprintf(stdout, "# WARNING: pid %d did not die within 10 s of SIGKILL\n", (int)p->pid);
		p->status = SIGKILL; /* reads as killed by SIGKILL */
		p->reaped = true;
		p->t_exit = proc_now();
	}
}

void proc_close(struct proc *p)
{
	if (p->out >= 0)
		close(p->out);
	if (p->pidfd >= 0)
		close(p->pidfd);
	p->out = p->pidfd = -1;
}

int proc_wait_any(struct proc *procs, int n, double deadline)
{
	for (;;) {
		struct pollfd pf[8];
		int np = 0;
		for (int i = 0; i < n; i++) {
			if (procs[i].reaped)
				continue;
			if (try_reap(&procs[i]))
				return i;
			if (procs[i].pidfd >= 0 && np < 8)
				pf[np++] = (struct pollfd){ .fd = procs[i].pidfd, .events = POLLIN };
		}
		if (proc_now() >= deadline)
			return -ETIMEDOUT;
		if (np)
			poll(pf, (nfds_t)np, ms_until(deadline));
		else
			usleep(200);
	}
}

int proc_exit_code(const struct proc *p)
{
	if (WIFEXITED(p->status))
		return WEXITSTATUS(p->status);
	if (WIFSIGNALED(p->status))
		return 128 + WTERMSIG(p->status);
	return -1;
}

int proc_smaps_rss(pid_t pid, const char *ram_name, unsigned long long ram_bytes,
		   unsigned long long *total_kb, unsigned long long *ram_kb)
{
	char path[64], line[512];
	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	bool is_ram = false;
	*total_kb = *ram_kb = 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long lo, hi, kb;
		int name_at = 0;
		/* Header: "lo-hi perms offset dev inode [name]". */
		if (sscanf(line, "%llx-%llx %*s %*s %*s %*s %n", &lo, &hi, &name_at) == 2 && name_at > 0) {
			const char *name = line + name_at;
			if (ram_name)
				is_ram = strstr(name, ram_name) != NULL;
			else
				is_ram = (name[0] == '\n' || name[0] == 0) && hi - lo >= ram_bytes;
			continue;
		}
		if (sscanf(line, "Rss: %llu kB", &kb) == 1) {
			*total_kb += kb;
			if (is_ram)
				*ram_kb += kb;
		}
	}
	fclose(f);
	return 0;
}

pid_t proc_child_of(pid_t pid)
{
	char path[96];
	FILE *f;
	int child = -1;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
	f = fopen(path, "re");
	if (f) {
		if (fscanf(f, "%d", &child) != 1)
			child = -1;
		fclose(f);
	}
	if (child > 0)
		return child;
	/* Kernels without CONFIG_PROC_CHILDREN: field 4 of /proc/N/stat. */
	DIR *d = opendir("/proc");
	struct dirent *e;

	while (d && child < 0 && (e = readdir(d))) {
		int n = atoi(e->d_name), ppid;
		char comm[64], st;

		if (n <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", n);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fscanf(f, "%*d (%63[^)]) %c %d", comm, &st, &ppid) == 3 && ppid == (int)pid)
			child = n;
		fclose(f);
	}
	if (d)
		closedir(d);
	return child;
}

bool proc_run_capture(char *const argv[], const char *errpath, double timeout, char *out,
		      size_t len)
{
	struct proc p;
	size_t used = 0;

	out[0] = 0;
	if (len < 2 || proc_start(&p, argv, true, errpath) < 0)
		return false;
	double deadline = p.t0 + timeout;
	for (;;) {
		struct pollfd pf = { .fd = p.out, .events = POLLIN };
		if (poll(&pf, 1, 1000) < 0 || proc_now() > deadline)
			break;
		ssize_t got = read(p.out, out + used, len - 1 - used);
		if (got <= 0)
			break;
		used += (size_t)got;
		if (used == len - 1)
			break;
	}
	out[used] = 0;
	bool ok = proc_wait(&p, deadline) == 0 && proc_exit_code(&p) == 0;
	proc_close(&p);
	return ok;
}
