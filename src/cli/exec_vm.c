/* exec_vm.c — the throwaway VM of `bulkhead exec` (exec.h): a private
 * directory, the root filesystem image, `bulkhead run` or `bulkhead restore`
 * as a child process (the same jailed VMM and supervisor as every VM), the
 * hybrid-vsock connection to the agent, and the removal of all of it.
 *
 * The fast path (README "The fast path"): the VM is restored from the
 * snapshot cache entry of its key (exec_snap.c) instead of booted; the
 * host's session then reseeds its RNG and steps its clock before anything
 * else (exec_session_sync). Without an entry the VM boots with its agent in
 * serve mode and a control socket; once the agent answers, the probe
 * connection is closed, `bulkhead snapshot --resume` writes the entry and
 * the job runs on that same VM. Nothing about the cache ever fails the
 * user's command: a refused entry is removed and the VM boots; a failed
 * build is warned about and the VM boots afresh without one. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agentproto/agent_proto.h"
#include "cli/cli.h"
#include "cli/exec.h"
#include "common/proc_child.h"

/* argv strings for exec*(): they are not written to */
#define ARG(s) ((char *)(uintptr_t)(s))

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* Run a helper program to completion, its output into log. 0 or -errno. */
static int run_helper(char *const argv[], const char *log)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp(argv[0], argv);
		proc_child_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EIO;
}

/* Resolve --rootfs into the image the VM gets as its read-only /dev/vda. */
static int rootfs_image(struct exec_vm *vm, const struct exec_opts *o, char *img, size_t len,
			char *err, size_t errlen)
{
	struct stat st;

	if (!o->rootfs) {
		if (cli_cache_path(img, len, "rootfs/debian12.erofs") || stat(img, &st) < 0) {
			snprintf(err, errlen, "no default root filesystem (%s): build it with "
				 "`make exec-guest` (scripts/prepare-exec.sh), or give --rootfs",
				 img[0] ? img : "~/.cache/bulkhead/rootfs/debian12.erofs");
			return -ENOENT;
		}
		return 0;
	}
	if (stat(o->rootfs, &st) < 0) {
		snprintf(err, errlen, "--rootfs %s: %s", o->rootfs, strerror(errno));
		return -ENOENT;
	}
	if (S_ISREG(st.st_mode)) {
		snprintf(img, len, "%s", o->rootfs);
		return 0;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "--rootfs %s: neither a directory nor an image file",
			 o->rootfs);
		return -EINVAL;
	}
	/* A directory: packed into an EROFS image in the private directory
	 * (removed with it), so the guest sees a copy, never the host's tree. */
	char log[PATH_MAX + 16];

	snprintf(vm->image, sizeof(vm->image), "%s/rootfs.erofs", vm->dir);
	snprintf(log, sizeof(log), "%s/mkfs.log", vm->dir);
	char *argv[] = { ARG("mkfs.erofs"), vm->image, ARG(o->rootfs), NULL };

	if (run_helper(argv, log)) {
		snprintf(err, errlen, "--rootfs %s: mkfs.erofs failed (is erofs-utils installed? "
			 "scripts/deps.sh exec)", o->rootfs);
		return -EIO;
	}
	snprintf(img, len, "%.*s", (int)(len - 1), vm->image);
	return 0;
}

/* The last lines of a log, for an error message. */
static void tail_of(const char *path, char *out, size_t len)
{
	char buf[1500];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	off_t end;
	ssize_t n;

	out[0] = 0;
	if (fd < 0)
		return;
	end = lseek(fd, 0, SEEK_END);
	n = pread(fd, buf, sizeof(buf) - 1, end > (off_t)sizeof(buf) - 1 ?
				end - (off_t)sizeof(buf) + 1 : 0);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = 0;
	for (char *c = buf; *c; c++)
		if ((unsigned char)*c < 0x20 && *c != '\n')
			*c = ' ';
	char *start = buf;
	int lines = 0;

	for (char *c = buf + n - 1; c > buf; c--)
		if (*c == '\n' && ++lines > 8) {
			start = c + 1;
			break;
		}
	snprintf(out, len, "%.*s", (int)(len - 1), start);
}

/* Start the VMM child (argv: `bulkhead run` or `bulkhead restore`), its
 * output into DIR/vmm.log. */
static int spawn_child(struct exec_vm *vm, const char *self, char *const argv[], char *err,
		       size_t errlen)
{
	char log[PATH_MAX + 16];
	sigset_t none;
	pid_t parent = getpid();

	snprintf(log, sizeof(log), "%s/vmm.log", vm->dir);
	vm->pid = fork();
	if (vm->pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		return -errno;
	}
	if (vm->pid == 0) {
		/* exec itself killed (SIGKILL: no cleanup runs): the VM stops
		 * anyway — the run supervisor forwards this SIGTERM to it */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
			proc_child_exit(125);
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);

		/* its own process group: the terminal's ^C is ours to forward */
		setpgid(0, 0);
		if (fd < 0 || nul < 0 || dup2(nul, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			proc_child_exit(125);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		proc_child_execv(self, argv, 125);
	}
	vm->pidfd = pidfd_open(vm->pid, 0);
	if (vm->pidfd < 0) {
		snprintf(err, errlen, "pidfd_open: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

/* Boot: `bulkhead run`; serve (building a snapshot): the agent in serve
 * mode and a control socket DIR/ctl.sock. */
static int spawn_vmm(struct exec_vm *vm, const struct exec_opts *o, const char *self,
		     const char *img, bool serve, char *err, size_t errlen)
{
	char mem[32], cpus[16], disk[PATH_MAX + 64], console[PATH_MAX + 32],
		vsock[PATH_MAX + 64];

	snprintf(mem, sizeof(mem), "%lluM", (unsigned long long)(o->mem >> 20));
	snprintf(cpus, sizeof(cpus), "%u", o->cpus);
	snprintf(disk, sizeof(disk), "path=%s,ro=on,id=bulkhead-rootfs", img);
	snprintf(console, sizeof(console), "file:%s", vm->console);
	/* hybrid vsock: host clients connect to this socket; no guest->host
	 * port is allowed (the default): a program cannot reach the host */
	snprintf(vsock, sizeof(vsock), "cid=3,socket=%s", vm->sock);
	if (strchr(img, ',')) {
		snprintf(err, errlen, "--rootfs %s: a path with ',' cannot be handed to the VM", img);
		return -EINVAL;
	}
	vm->control[0] = 0;
	if (serve)
		snprintf(vm->control, sizeof(vm->control), "%s/ctl.sock", vm->dir);
	char *argv[] = { ARG(self), ARG("run"), ARG("--guest"), ARG(o->guest),
			 ARG("--mem"), mem, ARG("--cpus"), cpus, ARG("--disk"), disk,
			 ARG("--console"), console, ARG("--vsock"), vsock, ARG("-q"),
			 serve ? ARG("--cmdline-append") : NULL, ARG("bulkhead.agent=serve"),
			 ARG("--control"), vm->control, NULL };

	return spawn_child(vm, self, argv, err, errlen);
}

/* The fast path: `bulkhead restore` of the cache entry, its disk, vsock
 * socket and console named again (a restore opens no recorded path). */
static int spawn_restore(struct exec_vm *vm, const char *self, const char *img,
			 const char *entry, char *err, size_t errlen)
{
	char console[PATH_MAX + 32];

	snprintf(console, sizeof(console), "file:%s", vm->console);
	char *argv[] = { ARG(self), ARG("restore"), ARG("-q"), ARG("--disk"), ARG(img),
			 ARG("--vsock-socket"), vm->sock, ARG("--console"), console,
			 ARG(entry), NULL };

	return spawn_child(vm, self, argv, err, errlen);
}

/* One attempt at the hybrid-vsock handshake: connect to the VM's socket,
 * "CONNECT <port>\n", "OK <n>\n". fd or -errno (-EAGAIN: not yet). */
static int try_connect(const struct exec_vm *vm)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char line[64];
	size_t have = 0;
	int fd;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%.*s", (int)sizeof(sa.sun_path) - 1, vm->sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -EAGAIN;
	}
	int n = snprintf(line, sizeof(line), "CONNECT %u\n", AP_PORT);

	if (send(fd, line, (size_t)n, MSG_NOSIGNAL) != n) {
		close(fd);
		return -EAGAIN;
	}
	/* Byte by byte up to the newline: what follows is the agent's. */
	while (have < sizeof(line) - 1) {
		struct pollfd p = { fd, POLLIN, 0 };

		if (poll(&p, 1, 12000) <= 0 || read(fd, line + have, 1) != 1) {
			close(fd);
			return -EAGAIN;
		}
		if (line[have++] == '\n')
			break;
	}
	line[have] = 0;
	if (strncmp(line, "OK ", 3) || line[have - 1] != '\n') {
		close(fd);
		return -EAGAIN;
	}
	return fd;
}

/* Wait for the agent of the VM just spawned until deadline (CLOCK_MONOTONIC
 * ms): 0 with vm->conn; -EIO (the VMM ended: err has the logs' tails),
 * -ETIMEDOUT, or -EINTR with *sig. */
static int wait_agent(struct exec_vm *vm, int64_t deadline, int timeout_s, int sig_fd, int *sig,
		      char *err, size_t errlen)
{
	for (;;) {
		struct pollfd p = { vm->pidfd, POLLIN, 0 };
		int r;

		if (poll(&p, 1, 0) > 0) {
			char log[PATH_MAX + 16], t1[800], t2[800];
			int st = 0;

			waitpid(vm->pid, &st, 0);
			vm->pid = -1;
			snprintf(log, sizeof(log), "%s/vmm.log", vm->dir);
			tail_of(log, t1, sizeof(t1));
			tail_of(vm->console, t2, sizeof(t2));
			snprintf(err, errlen, "the VM stopped before its agent answered (bulkhead "
				 "exit %d)%s%s%s%s", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st),
				 t1[0] ? "\n--- VMM ---\n" : "", t1,
				 t2[0] ? "\n--- guest console ---\n" : "", t2);
			return -EIO;
		}
		r = try_connect(vm);
		if (r >= 0) {
			vm->conn = r;
			return 0;
		}
		if (mono_ms() > deadline) {
			char t2[800];

			tail_of(vm->console, t2, sizeof(t2));
			snprintf(err, errlen, "the VM's agent did not answer within %d s%s%s",
				 timeout_s, t2[0] ? "\n--- guest console ---\n" : "", t2);
			return -ETIMEDOUT;
		}
		/* wait a little, but wake for the user's ^C or SIGTERM */
		struct pollfd ps = { sig_fd, POLLIN, 0 };

		if (sig_fd >= 0 && poll(&ps, 1, 100) > 0) {
			struct signalfd_siginfo si;

			if (read(sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si) &&
			    si.ssi_signo != SIGWINCH) {
				*sig = (int)si.ssi_signo;
				snprintf(err, errlen, "interrupted by signal %u while the VM started",
					 si.ssi_signo);
				return -EINTR;
			}
		} else if (sig_fd < 0) {
			sleep_ms(100);
		}
	}
}

/* Stop the VMM (if running); clear: empty the private directory but for a
 * packed root filesystem image (a cold boot follows in it). */
static void vm_stop(struct exec_vm *vm, bool clear)
{
	if (vm->conn >= 0) {
		close(vm->conn);
		vm->conn = -1;
	}
	if (vm->pid > 0) {
		/* The VM is throwaway: stop it now (the run supervisor forwards
		 * SIGTERM, and kills the VM process itself if it lingers). */
		kill(vm->pid, SIGTERM);
		struct pollfd p = { vm->pidfd, POLLIN, 0 };

		if (vm->pidfd < 0 || poll(&p, 1, 20000) <= 0)
			kill(vm->pid, SIGKILL);
		while (waitpid(vm->pid, NULL, 0) < 0 && errno == EINTR)
			;
		vm->pid = -1;
	}
	if (vm->pidfd >= 0) {
		close(vm->pidfd);
		vm->pidfd = -1;
	}
	DIR *d = clear && vm->dir[0] ? opendir(vm->dir) : NULL;
	struct dirent *de;

	while (d && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    strcmp(de->d_name, "rootfs.erofs"))
			unlinkat(dirfd(d), de->d_name, 0);
	if (d)
		closedir(d);
}

__attribute__((format(printf, 1, 2))) static void warn(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "bulkhead exec: warning: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* How long a restore or a VM just snapshotted may take to answer before
 * the exec boots instead. */
#define FAST_ANSWER_MS 60000

/* Snapshot the VM just booted (serve mode, agent answering on vm->conn)
 * into the entry, then connect to its agent again for the job: 0 (also
 * when the snapshot failed but the VM answers: a warning says so), or
 * -errno when the VM does not answer (-EINTR: *sig). */
static int build_entry(struct exec_vm *vm, struct exec_snap *snap, const char *self, int sig_fd,
		       int *sig, char *err, size_t errlen)
{
	char log[PATH_MAX + 16], t[800];
	int r, limit = FAST_ANSWER_MS;

	/* the probe connection: the agent goes back to accept() */
	close(vm->conn);
	vm->conn = -1;
	snprintf(log, sizeof(log), "%s/snapshot.log", vm->dir);
	char *argv[] = { ARG(self), ARG("snapshot"), ARG("--control"), vm->control,
			 ARG("--resume"), snap->tmp, NULL };

	r = run_helper(argv, log);
	if (r) {
		exec_rmdir_flat(snap->tmp);
		tail_of(log, t, sizeof(t));
		warn("could not save the snapshot for the fast path (bulkhead snapshot: %s)", t);
	} else if ((r = exec_snap_install(snap, err, errlen))) {
		warn("%s", err);
	}
	if (r) /* a VM that runs on answers at once; a paused one never */
		limit = 15000;
	r = wait_agent(vm, mono_ms() + limit, limit / 1000, sig_fd, sig, err, errlen);
	if (r && r != -EINTR)
		warn("the VM did not answer after its snapshot (%s); booting again", err);
	return r;
}

static int vm_start(struct exec_vm *vm, struct exec_snap *snap, const struct exec_opts *o,
		    const char *self, int sig_fd, int *sig, char *err, size_t errlen)
{
	const char *tmp = getenv("TMPDIR");
	char img[PATH_MAX] = "", why[600];
	bool fast, build = false;
	int r;

	if (snprintf(vm->dir, sizeof(vm->dir), "%s/bulkhead-exec.XXXXXX",
		     tmp && *tmp ? tmp : "/tmp") >= (int)sizeof(vm->dir) || !mkdtemp(vm->dir)) {
		snprintf(err, errlen, "cannot create a private directory in %s: %s",
			 tmp && *tmp ? tmp : "/tmp", strerror(errno));
		vm->dir[0] = 0;
		return -EIO;
	}
	snprintf(vm->sock, sizeof(vm->sock), "%s/vsock.sock", vm->dir);
	snprintf(vm->console, sizeof(vm->console), "%s/console.log", vm->dir);
	if (strlen(vm->sock) >= sizeof(((struct sockaddr_un *)0)->sun_path) - 8) {
		snprintf(err, errlen, "TMPDIR %s is too long for a unix socket path", tmp);
		return -ENAMETOOLONG;
	}
	r = rootfs_image(vm, o, img, sizeof(img), err, errlen);
	if (r)
		return r;
	/* A --rootfs directory is packed afresh each time: no fast path. */
	fast = !o->no_snapshot && !vm->image[0] && !strchr(img, ',');
	if (fast && exec_snap_init(snap, o, img, why, sizeof(why))) {
		warn("no fast path: %s", why);
		fast = false;
	}
	if (fast && exec_snap_ready(snap)) {
		int limit = o->boot_timeout_ms < FAST_ANSWER_MS ? o->boot_timeout_ms : FAST_ANSWER_MS;

		r = spawn_restore(vm, self, img, snap->entry, err, errlen);
		if (!r)
			r = wait_agent(vm, mono_ms() + limit, limit / 1000, sig_fd, sig, err, errlen);
		if (!r) {
			vm->from = EXEC_FROM_SNAPSHOT;
			return 0;
		}
		if (r == -EINTR)
			return r;
		/* corrupt, from another version or CPU, or not answering: gone */
		warn("the cached snapshot %s was refused; removed, booting instead: %s",
		     snap->entry, err);
		vm_stop(vm, true);
		if (!exec_snap_lock(snap)) {
			exec_snap_remove(snap);
			exec_snap_unlock(snap);
		}
	}
	/* Build the entry only if nobody else is building it (never wait). */
	if (fast && !exec_snap_lock(snap)) {
		build = !exec_snap_ready(snap);
		if (build)
			exec_snap_sweep(snap);
	}
	if (!build)
		exec_snap_unlock(snap);
	int64_t deadline = mono_ms() + o->boot_timeout_ms;

	for (;;) {
		r = spawn_vmm(vm, o, self, img, build, err, errlen);
		if (!r)
			r = wait_agent(vm, deadline, o->boot_timeout_ms / 1000, sig_fd, sig, err,
				       errlen);
		bool built = !r && build;

		if (built)
			r = build_entry(vm, snap, self, sig_fd, sig, err, errlen);
		exec_snap_unlock(snap);
		if (r && r != -EINTR && built) { /* boot afresh, without the cache */
			vm_stop(vm, true);
			build = false;
			continue;
		}
		if (!r)
			vm->from = EXEC_FROM_BOOT;
		return r;
	}
}

int exec_vm_start(struct exec_vm *vm, const struct exec_opts *o, const char *self, int sig_fd,
		  int *sig, char *err, size_t errlen)
{
	struct exec_snap *snap = calloc(1, sizeof(*snap));
	int r;

	memset(vm, 0, sizeof(*vm));
	vm->pid = -1;
	vm->pidfd = -1;
	vm->conn = -1;
	if (!snap) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	snap->lock_fd = -1;
	r = vm_start(vm, snap, o, self, sig_fd, sig, err, errlen);
	exec_snap_unlock(snap);
	free(snap);
	return r;
}

void exec_vm_destroy(struct exec_vm *vm)
{
	vm_stop(vm, false);
	if (vm->dir[0]) {
		exec_rmdir_flat(vm->dir);
		vm->dir[0] = 0;
	}
}
