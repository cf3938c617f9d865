/* job.c — one job of the guest agent: its cgroup, its process (root, user,
 * env, cwd, rlimits, stdio), the stdio relay and its exit status (agent.h). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/openat2.h>
#include <poll.h>
#include <pty.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"

#define DEFAULT_PIDS_MAX 256
#define STDIN_BUF_MAX (256 * 1024)
#define OUT_CHUNK (16 * 1024)

/* What the child reports before exec through the close-on-exec pipe. */
struct child_err {
	int stage; /* 0 setup, 1 exec */
	int err;
};

static int write_str(const char *dir, const char *file, const char *val)
{
	char p[400];
	int fd, r = 0;

	snprintf(p, sizeof(p), "%s/%s", dir, file);
	fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		r = -errno;
	close(fd);
	return r;
}

/* The job's cgroup, <cgroup>/job: memory and pids capped, killed whole at
 * the end. "" in dir when cgroups are off. */
static int job_cgroup_create(struct agent *a, const struct ap_job *job, char *dir, size_t len)
{
	char v[32];

	dir[0] = 0;
	if (!a->cgroup[0])
		return 0;
	snprintf(dir, len, "%s/job", a->cgroup);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	snprintf(v, sizeof(v), "%u", job->pids_max ? job->pids_max : DEFAULT_PIDS_MAX);
	if (write_str(dir, "pids.max", v))
		fprintf(stderr, "agent: pids.max: not set\n");
	if (a->mem_max) {
		snprintf(v, sizeof(v), "%llu", (unsigned long long)a->mem_max);
		if (write_str(dir, "memory.max", v))
			fprintf(stderr, "agent: memory.max: not set\n");
		(void)!write_str(dir, "memory.swap.max", "0");
		(void)!write_str(dir, "memory.oom.group", "1");
	}
	return 0;
}

static uint32_t job_cgroup_oom_kills(const char *dir)
{
	char p[400], line[128];
	unsigned long long n = 0;
	FILE *f;

	if (!dir[0])
		return 0;
	snprintf(p, sizeof(p), "%s/memory.events", dir);
	f = fopen(p, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "oom_kill %llu", &n) == 1)
			break;
	fclose(f);
	return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

/* Kill every process left in the job (a fork bomb's children, daemons)
 * and remove the cgroup once it is empty. Returns the job's OOM kill count,
 * read before the cgroup goes. */
static uint32_t job_cgroup_destroy(const char *dir, pid_t pgid)
{
	if (!dir[0]) {
		if (pgid > 0)
			kill(-pgid, SIGKILL);
		return 0;
	}
	uint32_t oom = job_cgroup_oom_kills(dir);

	(void)!write_str(dir, "cgroup.kill", "1");
	for (int i = 0; i < 500; i++) {
		if (!rmdir(dir) || errno == ENOENT)
			return oom;
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "agent: cgroup %s not removed: %s\n", dir, strerror(errno));
	return oom;
}

static _Noreturn void child_fail(int errfd, int stage, int err)
{
	struct child_err ce = { stage, err };

	(void)!write(errfd, &ce, sizeof(ce));
	_exit(127);
}

/* In the child: become the program. Never returns. */
static _Noreturn void child(struct agent *a, const struct ap_job *job, const char *cgdir,
			    int in_fd, int out_fd, int err_fd, int pty_slave, int errfd)
{
	extern char **environ;
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int s = 1; s < 32; s++)
		signal(s, SIG_DFL);
	if (setsid() < 0)
		child_fail(errfd, 0, errno);
	if (cgdir[0] && write_str(cgdir, "cgroup.procs", "0"))
		child_fail(errfd, 0, errno);
	if (pty_slave >= 0) {
		if (ioctl(pty_slave, TIOCSCTTY, 0) < 0)
			child_fail(errfd, 0, errno);
		in_fd = out_fd = err_fd = pty_slave;
	}
	if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0)
		child_fail(errfd, 0, errno);
	if (job->hostname && (unshare(CLONE_NEWUTS) < 0 ||
			      sethostname(job->hostname, strlen(job->hostname)) < 0))
		child_fail(errfd, 0, errno);
	if (!a->root_is_slash && (fchdir(a->root_fd) < 0 || chroot(".") < 0))
		child_fail(errfd, 0, errno);
	for (unsigned i = 0; i < job->nrlimits; i++) {
		struct rlimit rl = { job->rlimits[i].soft, job->rlimits[i].hard };

		if (setrlimit((int)job->rlimits[i].resource, &rl) < 0)
			child_fail(errfd, 0, errno);
	}
	if (job->has_user) {
		/* the user's terminal is the user's (opened by name too) */
		if (pty_slave >= 0 && fchown(pty_slave, job->uid, (gid_t)-1) < 0)
			child_fail(errfd, 0, errno);
		if (setgroups(0, NULL) < 0 || setresgid(job->gid, job->gid, job->gid) < 0 ||
		    setresuid(job->uid, job->uid, job->uid) < 0)
			child_fail(errfd, 0, errno);
	}
	if (chdir(job->cwd ? job->cwd : "/") < 0)
		child_fail(errfd, 0, errno);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		child_fail(errfd, 0, errno);
	/* Nothing of the agent's stays open: the connection and the root are
	 * close-on-exec; close the rest now except the error pipe. */
	if (errfd > 3)
		close_range(3, (unsigned)errfd - 1, 0);
	close_range((unsigned)errfd + 1, ~0u, 0);
	environ = (char **)(uintptr_t)job->envp; /* exec copies them */
	execvp(job->argv[0], (char *const *)(uintptr_t)job->argv);
	child_fail(errfd, 1, errno);
}

struct relay {
	struct agent *a;
	int out[2];   /* read ends: stdout, stderr (or the pty master in out[0]) */
	int in;       /* write end of stdin (or the pty master), -1 once closed */
	bool in_eof;  /* the host sent stdin EOF */
	uint8_t *inbuf;
	size_t in_have;
	pid_t pid;
	int pidfd;
	bool exited;
	int status;
	uint32_t oom;
	bool pty;
};

static int relay_out(struct relay *r, int i)
{
	uint8_t buf[OUT_CHUNK];
	ssize_t n = read(r->out[i], buf, sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0) { /* EOF (or EIO: a pty whose last slave closed) */
		close(r->out[i]);
		r->out[i] = -1;
		return agent_send(r->a, (uint8_t)(AP_S_STDOUT + i), AP_T_EOF, NULL, 0);
	}
	return agent_send(r->a, (uint8_t)(AP_S_STDOUT + i), AP_T_DATA, buf, (uint32_t)n);
}

static void relay_close_in(struct relay *r)
{
	if (r->in >= 0 && !r->pty)
		close(r->in);
	if (!r->pty)
		r->in = -1;
}

/* A frame from the host while the job runs. */
static int relay_frame(struct relay *r, const struct ap_frame *f)
{
	if (f->stream == AP_S_STDIN) {
		if (f->type == AP_T_EOF) {
			r->in_eof = true;
			if (!r->in_have) {
				if (r->pty && r->in >= 0) /* ^D at the start of a line */
					(void)!write(r->in, "\x04", 1);
				else
					relay_close_in(r);
			}
			return 0;
		}
		if (r->in < 0 || r->in_eof)
			return 0; /* stdin closed: dropped */
		memcpy(r->inbuf + r->in_have, f->payload, f->len);
		r->in_have += f->len;
		return 0;
	}
	if (f->stream != AP_S_CONTROL)
		return 0;
	if (f->type == AP_T_SIGNAL) {
		uint32_t sig = ap_get_u32(f->payload);

		if (sig >= 1 && sig <= 64 && !r->exited)
			kill(-r->pid, (int)sig); /* the job's process group */
		return 0;
	}
	if (f->type == AP_T_WINSIZE && r->pty && r->in >= 0) {
		struct winsize ws = { .ws_row = (unsigned short)(f->payload[0] | f->payload[1] << 8),
				      .ws_col = (unsigned short)(f->payload[2] | f->payload[3] << 8) };

		ioctl(r->in, TIOCSWINSZ, &ws);
		return 0;
	}
	return agent_send_error(r->a, "frame type %u not allowed while a job runs", f->type);
}

/* Relay until the program has exited and both outputs reached EOF. */
static int relay_loop(struct relay *r, const char *cgdir)
{
	for (;;) {
		struct pollfd p[5];
		int n = 0, ic = -1, io[2] = { -1, -1 }, iin = -1, ipid = -1;

		if (r->exited && r->out[0] < 0 && r->out[1] < 0)
			return 0;
		/* Stop reading the host while stdin is full (the program does not
		 * read it): outputs and the exit still flow. */
		if (r->in_have + AP_MAX_PAYLOAD <= STDIN_BUF_MAX) {
			ic = n;
			p[n++] = (struct pollfd){ r->a->conn, POLLIN, 0 };
		}
		for (int i = 0; i < 2; i++)
			if (r->out[i] >= 0) {
				io[i] = n;
				p[n++] = (struct pollfd){ r->out[i], POLLIN, 0 };
			}
		if (r->in >= 0 && r->in_have) {
			iin = n;
			p[n++] = (struct pollfd){ r->in, POLLOUT, 0 };
		}
		if (!r->exited) {
			ipid = n;
			p[n++] = (struct pollfd){ r->pidfd, POLLIN, 0 };
		}
		if (poll(p, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (ipid >= 0 && p[ipid].revents) {
			if (waitpid(r->pid, &r->status, WNOHANG) == r->pid) {
				r->exited = true;
				/* The program is gone: so is everything it left
				 * running, and with them every holder of the output
				 * pipes, which then reach EOF. */
				r->oom = job_cgroup_destroy(cgdir, r->pid);
				if (r->pty)
					relay_close_in(r);
			}
		}
		for (int i = 0; i < 2; i++)
			if (io[i] >= 0 && p[io[i]].revents) {
				int e = relay_out(r, i);

				if (e)
					return e;
			}
		if (iin >= 0 && p[iin].revents) {
			ssize_t w = write(r->in, r->inbuf, r->in_have);

			if (w > 0) {
				memmove(r->inbuf, r->inbuf + w, r->in_have - (size_t)w);
				r->in_have -= (size_t)w;
				if (!r->in_have && r->in_eof)
					relay_close_in(r);
			} else if (w < 0 && errno != EAGAIN && errno != EINTR) {
				r->in_have = 0; /* the program closed stdin: drop */
				relay_close_in(r);
			}
		}
		if (ic >= 0 && p[ic].revents) {
			int e = agent_fill(r->a);

			if (e <= 0) { /* the host is gone: end the job */
				job_cgroup_destroy(cgdir, r->pid);
				return e ? e : -EPIPE;
			}
			struct ap_frame f;

			while ((e = ap_dec_next(r->a->dec, &f)) == 1) {
				int k = relay_frame(r, &f);

				if (k)
					return k;
			}
			if (e < 0)
				return e;
		}
	}
}

static int send_exit(struct agent *a, uint32_t kind, int32_t value, uint32_t oom)
{
	struct ap_exit e = { .kind = kind, .value = value, .oom_kills = oom };
	uint8_t b[AP_EXIT_LEN];

	ap_exit_encode(b, &e);
	return agent_send(a, AP_S_CONTROL, AP_T_EXIT, b, AP_EXIT_LEN);
}

/* The program's pty. From the devpts of the program's own root (exec-init
 * mounts an instance of its own at <root>/dev/pts), so that the name the
 * program sees (ttyname(), `tty`) is a /dev/pts/N of its root; the slave is
 * opened through the master (TIOCGPTPEER), not by a path. Without such a
 * devpts (--root /, the host-side tests) openpty() and the agent's own
 * /dev/pts. Both ends close-on-exec. 0 or -errno. */
static int open_pty(struct agent *a, const struct ap_job *job, int *master, int *slave)
{
	struct winsize ws = { .ws_row = job->rows, .ws_col = job->cols };
	struct open_how how = { .flags = O_RDWR | O_NOCTTY | O_CLOEXEC,
				.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS };
	int m = a->root_is_slash ? -1 : (int)syscall(SYS_openat2, a->root_fd, "dev/pts/ptmx",
						      &how, sizeof(how));

	if (m >= 0) {
		int s = unlockpt(m) ? -1 : ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);

		if (s >= 0 && !ioctl(s, TIOCSWINSZ, &ws)) {
			*master = m;
			*slave = s;
			return 0;
		}
		if (s >= 0)
			close(s);
		close(m);
	}
	if (openpty(master, slave, NULL, NULL, &ws) < 0)
		return -errno;
	fcntl(*master, F_SETFD, FD_CLOEXEC);
	fcntl(*slave, F_SETFD, FD_CLOEXEC);
	return 0;
}

int agent_run_job(struct agent *a, const struct ap_job *job)
{
	static uint8_t inbuf[STDIN_BUF_MAX];
	int in_p[2] = { -1, -1 }, out_p[2] = { -1, -1 }, err_p[2] = { -1, -1 }, ep[2];
	int master = -1, slave = -1, devnull = -1, ret;
	char cgdir[300];
	struct relay r = { .a = a, .inbuf = inbuf, .in = -1, .out = { -1, -1 }, .pidfd = -1 };

	ret = job_cgroup_create(a, job, cgdir, sizeof(cgdir));
	if (ret)
		return send_exit(a, AP_EXIT_SETUP, -ret, 0);
	if (pipe2(ep, O_CLOEXEC) < 0)
		return send_exit(a, AP_EXIT_SETUP, errno, 0);
	if (job->terminal) {
		ret = open_pty(a, job, &master, &slave);
		if (ret) {
			errno = -ret;
			goto setup_err;
		}
	} else {
		if (pipe2(out_p, O_CLOEXEC) < 0 || pipe2(err_p, O_CLOEXEC) < 0)
			goto setup_err;
		if (job->keep_stdin) {
			if (pipe2(in_p, O_CLOEXEC) < 0)
				goto setup_err;
		} else {
			devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
			if (devnull < 0)
				goto setup_err;
		}
	}
	r.pid = fork();
	if (r.pid < 0)
		goto setup_err;
	if (r.pid == 0) {
		close(ep[0]);
		child(a, job, cgdir, in_p[0] >= 0 ? in_p[0] : devnull, out_p[1], err_p[1], slave,
		      ep[1]);
	}
	close(ep[1]);
	ep[1] = -1;
	struct child_err ce;
	ssize_t n;

	do
		n = read(ep[0], &ce, sizeof(ce));
	while (n < 0 && errno == EINTR);
	close(ep[0]);
	/* the child's ends */
	for (int *fd = (int[]){ slave, in_p[0], out_p[1], err_p[1], devnull, -2 }; *fd != -2; fd++)
		if (*fd >= 0)
			close(*fd);
	if (n == (ssize_t)sizeof(ce)) { /* setup or exec failed: no program ran */
		int st;

		waitpid(r.pid, &st, 0);
		job_cgroup_destroy(cgdir, r.pid);
		for (int *fd = (int[]){ master, in_p[1], out_p[0], err_p[0], -2 }; *fd != -2; fd++)
			if (*fd >= 0)
				close(*fd);
		uint32_t kind = ce.stage == 0 ? AP_EXIT_SETUP :
				ce.err == ENOENT ? AP_EXIT_NOT_FOUND : AP_EXIT_CANNOT_INVOKE;

		return send_exit(a, kind, ce.err, 0);
	}
	uint8_t pidb[4];

	ap_put_u32(pidb, (uint32_t)r.pid);
	ret = agent_send(a, AP_S_CONTROL, AP_T_STARTED, pidb, 4);
	r.pidfd = pidfd_open(r.pid, 0);
	if (ret || r.pidfd < 0) {
		kill(-r.pid, SIGKILL);
		waitpid(r.pid, NULL, 0);
		job_cgroup_destroy(cgdir, r.pid);
		return ret ? ret : -errno;
	}
	if (master >= 0) {
		r.pty = true;
		r.in = master;
		r.out[0] = master;
		/* the pty carries both outputs: report stderr ended at once */
		ret = agent_send(a, AP_S_STDERR, AP_T_EOF, NULL, 0);
	} else {
		r.in = in_p[1];
		r.out[0] = out_p[0];
		r.out[1] = err_p[0];
	}
	if (r.in >= 0)
		fcntl(r.in, F_SETFL, O_NONBLOCK);
	if (!ret)
		ret = relay_loop(&r, cgdir);
	if (r.pty) {
		if (r.out[0] >= 0)
			close(r.out[0]);
	} else {
		for (int i = 0; i < 2; i++)
			if (r.out[i] >= 0)
				close(r.out[i]);
		if (r.in >= 0)
			close(r.in);
	}
	close(r.pidfd);
	if (!r.exited) {
		kill(-r.pid, SIGKILL);
		waitpid(r.pid, &r.status, 0);
		job_cgroup_destroy(cgdir, r.pid);
	}
	if (ret)
		return ret;
	if (WIFSIGNALED(r.status))
		return send_exit(a, AP_EXIT_SIGNAL, WTERMSIG(r.status), r.oom);
	return send_exit(a, AP_EXIT_CODE, WEXITSTATUS(r.status), r.oom);

setup_err:
	ret = errno;
	for (int *fd = (int[]){ ep[0], ep[1], in_p[0], in_p[1], out_p[0], out_p[1], err_p[0],
				err_p[1], master, slave, devnull, -2 };
	     *fd != -2; fd++)
		if (*fd >= 0)
			close(*fd);
	job_cgroup_destroy(cgdir, 0);
	return send_exit(a, AP_EXIT_SETUP, ret, 0);
}
