/* sb_probe.c — plays a compromised VMM: it links the real sandbox code, jails
 * itself exactly as `bulkhead run` does (jail_fork, jail_enter, then the
 * thread kind's own filter through the same thread_init hook), and then
 * attempts one operation from the thread kind under test.
 *
 *   sb_probe [--layers-only] [--trap] KIND OP
 *     KIND  main | vcpu | event
 *     OP    see ops[] below ("ok" does only allowed things; "malloc-threads"
 *           starts 32 threads of KIND that each allocate, as many vCPUs do)
 *     --layers-only  skip seccomp: shows what the OTHER layers (namespaces,
 *                    empty root, uid, capabilities, rlimits, Landlock) stop
 *     --hold         after setup, print the VM process's host PID and wait
 *                    for stdin to close (for inspection from outside)
 *     --sizes        print the allowlist sizes per kind and exit
 *
 * Output (stdout of the jailed process): "OP: allowed" when the operation
 * succeeded, "OP: blocked (ERRNO)" when it returned an error; a process
 * killed by seccomp prints nothing and the supervisor reports SIGSYS on
 * stderr (exit 1). Exit 0 after a blocked or allowed operation. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <termios.h>
#include <unistd.h>

#include "sandbox/jail.h"

struct probe {
	vm_thread_init_fn thread_init; /* as the VMM installs it after jail_enter */
	struct jail jail;
	enum vm_thread_kind kind;
	const char *op;
	int ret;
};

static void say(const char *op, int r, int e)
{
	char line[128];
	int n;

	if (r >= 0)
		n = snprintf(line, sizeof(line), "%s: allowed\n", op);
	else
		n = snprintf(line, sizeof(line), "%s: blocked (%s)\n", op, strerrorname_np(e));
	if (write(STDOUT_FILENO, line, (size_t)n) < 0)
		_exit(3);
}

static void *thread_noop(void *arg)
{
	return arg;
}

/* Each op returns the syscall result (>= 0 success) with errno set. */
static int op_execve(void)
{
	static char sh[] = "sh", c[] = "-c", t[] = "true";
	char *const argv[] = { sh, c, t, NULL };

	return execve("/bin/sh", argv, NULL);
}
static int op_open(void) { return open("/etc/passwd", O_RDONLY | O_CLOEXEC); }
static int op_create(void) { return open("/bulkhead-probe", O_WRONLY | O_CREAT | O_CLOEXEC, 0600); }
static int op_socket(void) { return socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0); }
static int op_tcp(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(80),
				 .sin_addr.s_addr = htonl(0x01010101) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return fd;
	return connect(fd, (struct sockaddr *)&a, sizeof(a));
}
static int op_ptrace(void) { return (int)ptrace(PTRACE_ATTACH, 1, NULL, NULL); }
static int op_mount(void) { return mount("none", "/", "tmpfs", 0, NULL); }
static int op_rlimit(void)
{
	struct rlimit r;

	if (getrlimit(RLIMIT_NOFILE, &r) < 0)
		return -1;
	r.rlim_cur = r.rlim_max = r.rlim_max + 1024;
	return setrlimit(RLIMIT_NOFILE, &r);
}
static int op_setuid(void) { return setuid(0); }
static int op_fork(void)
{
	pid_t p = fork();

	if (p == 0)
		_exit(0);
	return p < 0 ? -1 : 0;
}
static int op_thread(void)
{
	pthread_t t;
	int r = pthread_create(&t, NULL, thread_noop, NULL);

	if (r) {
		errno = r;
		return -1;
	}
	pthread_join(t, NULL);
	return 0;
}
static int op_mmap_exec(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? -1 : 0;
}
static int op_mprotect_exec(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return -1;
	return mprotect(p, 4096, PROT_READ | PROT_EXEC);
}
/* An ioctl no thread needs: push a byte into the terminal's input. */
static int op_ioctl_bad(void) { return ioctl(STDIN_FILENO, TIOCSTI, "x"); }
/* A KVM ioctl no thread needs after setup: a new VM. */
static int op_ioctl_kvm(void) { return ioctl(STDERR_FILENO, KVM_CREATE_VM, 0); }
static int op_kill(void) { return kill(-1, SIGKILL); }
static int op_chroot(void) { return chroot("/"); }
static int op_unshare(void) { return unshare(CLONE_NEWUSER); }
static int op_bpf(void) { return (int)syscall(SYS_bpf, 0, NULL, 0); }
/* Allowed things: memory, locks, time, writes, this kind's own ioctl. */
static int op_ok(enum vm_thread_kind kind)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	struct timespec ts;
	char *big = malloc(8 << 20);
	unsigned long req = kind == VM_THREAD_MAIN ? TCGETS : KVM_IRQ_LINE;

	if (!big)
		return -1;
	memset(big, 1, 8 << 20);
	free(big);
	pthread_mutex_lock(&m);
	pthread_mutex_unlock(&m);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (kind == VM_THREAD_EVENT) {
		char rnd[16];

		if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) < 0)
			return -1;
	}
	/* On a non-KVM/non-tty fd an allowed request fails with ENOTTY or
	 * EINVAL: the filter let it through. */
	if (ioctl(STDERR_FILENO, req, NULL) < 0 && errno != ENOTTY && errno != EINVAL &&
	    errno != EFAULT)
		return -1;
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(void);
} ops[] = {
	{ "execve", op_execve },         { "open", op_open },
	{ "create", op_create },         { "socket", op_socket },
	{ "tcp", op_tcp },               { "ptrace", op_ptrace },
	{ "mount", op_mount },           { "rlimit", op_rlimit },
	{ "setuid", op_setuid },         { "fork", op_fork },
	{ "thread", op_thread },         { "mmap-exec", op_mmap_exec },
	{ "mprotect-exec", op_mprotect_exec }, { "ioctl-bad", op_ioctl_bad },
	{ "ioctl-kvm", op_ioctl_kvm },   { "kill", op_kill },
	{ "chroot", op_chroot },         { "unshare", op_unshare },
	{ "bpf", op_bpf },
};

static void run_op(struct probe *p)
{
	int r, e;

	if (p->thread_init && (r = p->thread_init(&p->jail, p->kind))) {
		fprintf(stderr, "sb_probe: thread_init: %s\n", strerror(-r));
		p->ret = 2;
		return;
	}
	errno = 0;
	if (!strcmp(p->op, "ok")) {
		r = op_ok(p->kind);
	} else {
		r = -2;
		for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
			if (!strcmp(p->op, ops[i].name))
				r = ops[i].fn();
		if (r == -2) {
			fprintf(stderr, "sb_probe: unknown op %s\n", p->op);
			p->ret = 2;
			return;
		}
	}
	e = errno;
	say(p->op, r, e);
	p->ret = 0;
}

static void *probe_thread(void *arg)
{
	run_op(arg);
	return NULL;
}

/* "malloc-threads": what a VM with many vCPUs does as it starts: the main
 * thread starts MALLOC_THREADS threads, each loads its kind's filter and
 * allocates (glibc then creates arenas; past 8 it used to read /sys). */
#define MALLOC_THREADS 32
static pthread_barrier_t malloc_barrier;
static void *malloc_thread(void *arg)
{
	struct probe *p = arg;
	void *a, *b, *c[4];
	bool ok;

	if (p->thread_init && p->thread_init(&p->jail, p->kind))
		return (void *)1;
	a = malloc(100);
	b = malloc(200 << 10);
	/* All alive at once, as vCPU threads are: no arena is handed back to
	 * the free list before every thread has one. */
	pthread_barrier_wait(&malloc_barrier);
	ok = a && b;
	if (b)
		memset(b, 1, 200 << 10);
	/* Blocks below the mmap threshold come from this thread's arena; freed,
	 * they leave its heap's top large enough to be trimmed (glibc: the first
	 * trim of a thread arena reads /proc/sys/vm/overcommit_memory). */
	for (int i = 0; i < 4; i++) {
		c[i] = malloc(100 << 10);
		if (c[i])
			memset(c[i], 2, 100 << 10);
		ok = ok && c[i];
	}
	for (int i = 3; i >= 0; i--)
		free(c[i]);
	free(a);
	free(b);
	return ok ? NULL : (void *)1;
}

static void run_malloc_threads(struct probe *p)
{
	pthread_t t[MALLOC_THREADS];
	unsigned n = 0, bad = 0;

	if (pthread_barrier_init(&malloc_barrier, NULL, MALLOC_THREADS)) {
		p->ret = 2;
		return;
	}
	for (; n < MALLOC_THREADS; n++)
		if (pthread_create(&t[n], NULL, malloc_thread, p))
			break;
	for (unsigned i = 0; i < n; i++) {
		void *r;

		pthread_join(t[i], &r);
		bad += r != NULL;
	}
	errno = n < MALLOC_THREADS ? EAGAIN : EIO;
	say(p->op, n == MALLOC_THREADS && !bad ? 0 : -1, errno);
	p->ret = 0;
}

static void print_sizes(void)
{
	for (int k = 0; k < SC_KIND_COUNT; k++) {
		struct sc_stats st;

		sc_policy_stats((enum sc_kind)k, &st);
		printf("%-8s %3u syscalls (%u table rows), %u ioctl requests\n",
		       sc_kind_name((enum sc_kind)k), st.syscalls, st.rules, st.ioctls);
	}
}

int main(int argc, char **argv)
{
	struct jail_config cfg = { .enabled = true, .ncpus = 1, .mem_bytes = 64 << 20,
				   .fsize_max = 1 << 20 };
	static struct probe p;
	bool layers_only = false, hold = false;
	char err[512];
	int i = 1, code, ret;

	/* As `bulkhead run` does first: only stdio survives. */
	if (syscall(SYS_close_range, 3U, ~0U, 0U) < 0)
		return 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--layers-only"))
			layers_only = true;
		else if (!strcmp(argv[i], "--trap"))
			cfg.seccomp_trap = true;
		else if (!strcmp(argv[i], "--hold"))
			hold = true;
		else if (!strcmp(argv[i], "--sizes")) {
			print_sizes();
			return 0;
		}
	}
	if (argc - i != 2) {
		fprintf(stderr, "usage: sb_probe [--layers-only] [--trap] [--hold] KIND OP\n");
		return 2;
	}
	p.kind = !strcmp(argv[i], "main") ? VM_THREAD_MAIN
		 : !strcmp(argv[i], "vcpu") ? VM_THREAD_VCPU : VM_THREAD_EVENT;
	p.op = argv[i + 1];
	if (!strcmp(p.op, "malloc-threads"))
		cfg.ncpus = MALLOC_THREADS; /* the cgroup's pids and RLIMIT_NPROC follow */
	jail_init(&p.jail, &cfg);
	ret = jail_fork(&p.jail, &code, err, sizeof(err));
	if (ret < 0) {
		fprintf(stderr, "sb_probe: %s\n", err);
		return 1;
	}
	if (ret == 1)
		return code;
	/* The VM process. As in run.c: everything is open before jail_enter. */
	if (layers_only) {
		/* All layers but seccomp: jail_enter() minus its last step. */
		if (jail_ready(&p.jail, err, sizeof(err)) ||
		    jail_set_rlimits(&p.jail, err, sizeof(err)) || clearenv() ||
		    jail_ns_enter(p.jail.netns_fd, err, sizeof(err)) ||
		    jail_drop_privileges(&p.jail, err, sizeof(err)) ||
		    jail_landlock_apply(&p.jail.landlock_abi, err, sizeof(err))) {
			fprintf(stderr, "sb_probe: %s\n", err);
			return 1;
		}
		p.jail.netns_fd = -1; /* closed by jail_ns_enter */
	} else if (jail_enter(&p.jail, err, sizeof(err))) {
		fprintf(stderr, "sb_probe: %s\n", err);
		return 1;
	} else {
		p.thread_init = jail_thread_init;
	}
	if (hold) {
		char c;

		printf("hostpid %d\n", (int)p.jail.host_pid);
		fflush(stdout);
		while (read(STDIN_FILENO, &c, 1) > 0)
			;
	}
	if (!strcmp(p.op, "malloc-threads")) {
		run_malloc_threads(&p);
	} else if (p.kind == VM_THREAD_MAIN) {
		run_op(&p);
	} else {
		pthread_t t;

		if (pthread_create(&t, NULL, probe_thread, &p)) {
			fprintf(stderr, "sb_probe: pthread_create failed\n");
			return 1;
		}
		pthread_join(t, NULL);
	}
	jail_destroy(&p.jail);
	return p.ret;
}
