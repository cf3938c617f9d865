/* seccomp_policy.c — see seccomp_policy.h. One commented table per thread
 * kind; each row: syscall, optional argument condition, why it is needed.
 * ioctl request numbers live in the per-kind ioctl tables below (the one
 * place to extend when a thread needs a new KVM or tty request).
 *
 * Not in any table, so fatal everywhere: execve/execveat, open/openat/
 * openat2/creat, socket/socketpair/connect/bind/listen, ptrace, mount/umount,
 * pivot_root/chroot/unshare/setns, setrlimit/prlimit64, setuid & co.,
 * capset, bpf, perf_event_open, kexec, init_module, keyctl, userfaultfd,
 * io_uring_setup/io_uring_register (rings are set up before the sandbox),
 * fork/vfork, and any mmap/mprotect asking for PROT_EXEC. */
#include "sandbox/seccomp_policy.h"
#include "sandbox/seccomp_bpf.h"

#include <errno.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/thread_kind.h" /* VCPU_KICK_SIGNAL */

#ifndef __NR_rseq
#define __NR_rseq 334
#endif
#ifndef __NR_clone3
#define __NR_clone3 435
#endif

struct sc_rule {
	int nr;
	const char *name;
	int err;           /* 0: allow; else fail with this errno (never kill) */
	unsigned nargs;
	struct scmp_arg_cmp cmp[1];
	const char *why;
};

#define CMP(a, o, x, y) { .arg = (a), .op = (o), .datum_a = (x), .datum_b = (y) }
#define ALLOW(sys, why) { __NR_##sys, #sys, 0, 0, { CMP(0, SCMP_CMP_EQ, 0, 0) }, why }
#define ALLOW_IF(sys, a, o, x, y, why) { __NR_##sys, #sys, 0, 1, { CMP(a, o, x, y) }, why }
#define FAIL(sys, e, why) { __NR_##sys, #sys, e, 0, { CMP(0, SCMP_CMP_EQ, 0, 0) }, why }
/* mmap(addr, len, prot, ...) / mprotect(addr, len, prot): prot is arg 2. */
#define NO_EXEC(sys, why) ALLOW_IF(sys, 2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0, why)

struct sc_ioctl {
	unsigned long req;
	const char *name;
	const char *why;
};
#define IOCTL(r, why) { r, #r, why }

/* ---- memory and thread plumbing every kind needs (libc malloc, exit) ---- */
static const struct sc_rule common_rules[] = {
	NO_EXEC(mmap, "malloc arenas and large blocks; never PROT_EXEC (no new code)"),
	NO_EXEC(mprotect, "malloc heap growth; never PROT_EXEC (no new code)"),
	ALLOW(munmap, "free() of large blocks, teardown of mappings"),
	ALLOW(mremap, "realloc() of large blocks (keeps the protection: never exec)"),
	ALLOW(madvise, "free() returns memory (MADV_DONTNEED)"),
	ALLOW(brk, "malloc's main arena"),
	ALLOW(futex, "pthread mutexes, condition variables, joins"),
	ALLOW(clock_gettime, "log timestamps, boot timer, RTC (when the vDSO falls back)"),
	ALLOW(rt_sigprocmask, "libc blocks signals around thread start/exit and pthread_kill"),
	ALLOW(restart_syscall, "kernel restarts a syscall interrupted by the kick signal"),
	ALLOW(sched_yield, "spin-wait backoff in libc locks"),
	ALLOW(sched_getaffinity, "malloc sizes its arena count from the CPU mask"),
	ALLOW_IF(newfstatat, 3, SCMP_CMP_EQ, AT_EMPTY_PATH, 0,
		 "fstat() of an open fd by stdio (AT_EMPTY_PATH only: no path lookups)"),
	ALLOW(fstat, "fstat() of an open fd by stdio on older libcs"),
	ALLOW(write, "console output, log lines on stderr, eventfd signalling"),
	ALLOW(read, "eventfd counters (stop request, UART room, queue kicks)"),
	ALLOW(poll, "console writes wait for room or a stop; event waits"),
	ALLOW(ppoll, "poll() as implemented by some libcs"),
	ALLOW_IF(prlimit64, 2, SCMP_CMP_EQ, 0, 0,
		 "getrlimit() by libc (read-only: a new limit must be NULL)"),
	ALLOW(exit, "a thread ends"),
	ALLOW(exit_group, "the process ends (harmless: it can only stop itself)"),
};

/* ---- VM_THREAD_MAIN, after all threads are started ---- */
static const struct sc_rule main_rules[] = {
	ALLOW(getpid, "pthread_kill() needs the tgid"),
	ALLOW_IF(tgkill, 2, SCMP_CMP_EQ, VCPU_KICK_SIGNAL, 0,
		 "kick vCPUs out of KVM_RUN at stop (only the kick signal)"),
	ALLOW(close, "teardown closes vCPU, VM, KVM, console and eventfds"),
	ALLOW(io_uring_enter, "teardown waits for a disk's in-flight I/O before closing it"),
	ALLOW(epoll_ctl, "teardown takes devices' fds off the (stopped) event loop"),
	ALLOW(ioctl, "(restricted to the main ioctl table)"),
};
static const struct sc_ioctl main_ioctls[] = {
	IOCTL(TCGETS, "isatty()/tcgetattr() of stdin when restoring the terminal"),
	IOCTL(TCSETS, "restore the terminal's cooked mode on every exit path"),
	IOCTL(KVM_IRQFD, "teardown unbinds the MSI-X irqfds (KVM_IRQFD_FLAG_DEASSIGN)"),
};

/* ---- VM_THREAD_VCPU ---- */
static const struct sc_rule vcpu_rules[] = {
	ALLOW(rt_sigreturn, "return from the (empty) kick signal handler"),
	ALLOW(io_uring_enter, "a virtio reset (a register write) waits for in-flight disk I/O"),
	ALLOW(ioctl, "(restricted to the vCPU ioctl table)"),
};
static const struct sc_ioctl vcpu_ioctls[] = {
	IOCTL(KVM_RUN, "run the guest: the thread's whole purpose"),
	IOCTL(KVM_IRQ_LINE, "device models raise/lower legacy IRQ lines (UART, RTC, ...)"),
	IOCTL(KVM_SET_GSI_ROUTING, "guest MSI-X table writes re-route interrupts"),
	IOCTL(KVM_IRQFD, "guest MSI-X (un)masking re-binds irqfds"),
	IOCTL(KVM_SIGNAL_MSI, "device models inject an MSI directly"),
	IOCTL(KVM_IOEVENTFD, "the guest moved a virtio BAR: re-register its notify addresses"),
	IOCTL(KVM_GET_REGS, "register dump when the guest crashes"),
	IOCTL(KVM_GET_SREGS, "register dump when the guest crashes"),
	IOCTL(KVM_GET_VCPU_EVENTS, "pending-event dump when the guest crashes"),
};

/* ---- VM_THREAD_EVENT ---- */
static const struct sc_rule event_rules[] = {
	ALLOW(readv, "backends read scattered buffers from already-open fds"),
	ALLOW(writev, "console/backends write scattered buffers to already-open fds"),
	ALLOW(epoll_wait, "the event loop waits on its fds"),
	ALLOW(epoll_pwait, "epoll_wait() as implemented by libc"),
	ALLOW(epoll_ctl, "add/remove already-open fds (ioeventfds, disks, control conn.)"),
	ALLOW(io_uring_enter, "submit/reap block I/O on a ring set up before the sandbox"),
	ALLOW(pread64, "synchronous block I/O fallback on already-open disk fds"),
	ALLOW(pwrite64, "synchronous block I/O fallback on already-open disk fds"),
	ALLOW(preadv, "synchronous block I/O fallback (scatter)"),
	ALLOW(pwritev, "synchronous block I/O fallback (gather)"),
	ALLOW(preadv2, "preadv() as implemented by libc"),
	ALLOW(pwritev2, "pwritev() as implemented by libc"),
	ALLOW(fdatasync, "virtio-blk FLUSH"),
	ALLOW(fsync, "virtio-blk FLUSH where fdatasync is not enough"),
	ALLOW(fallocate, "virtio-blk DISCARD/WRITE_ZEROES (punch holes)"),
	ALLOW_IF(getrandom, 2, SCMP_CMP_MASKED_EQ, ~(uint64_t)GRND_NONBLOCK, 0,
		 "virtio-rng entropy (flags: at most GRND_NONBLOCK)"),
	ALLOW(recvmsg, "control requests from the daemon on an already-open unix socket"),
	ALLOW(sendmsg, "control replies to the daemon"),
	ALLOW(recvfrom, "recv() of a control request (what libc's recv() is)"),
	ALLOW(sendto, "send() of a control reply (what libc's send() is)"),
	ALLOW_IF(getsockopt, 2, SCMP_CMP_EQ, SO_PEERCRED, 0,
		 "check that a control connection comes from the daemon (SO_PEERCRED only)"),
	ALLOW(accept4, "accept a control connection on the already-listening socket"),
	ALLOW(shutdown, "virtio-vsock: the guest shut its sending side: pass the EOF on"),
	ALLOW(timerfd_settime, "virtio-vsock: (dis)arm the connection-deadline tick"),
	ALLOW(close, "close a finished control connection"),
	ALLOW(getpid, "pthread_kill() needs the tgid (pause kicks vCPUs)"),
	ALLOW_IF(tgkill, 2, SCMP_CMP_EQ, VCPU_KICK_SIGNAL, 0,
		 "pause/quarantine kick vCPUs out of KVM_RUN (only the kick signal)"),
	ALLOW(ioctl, "(restricted to the event ioctl table)"),
};
static const struct sc_ioctl event_ioctls[] = {
	IOCTL(KVM_IRQ_LINE, "UART interrupt when console input arrives"),
	IOCTL(KVM_SIGNAL_MSI, "MSI for a completion when no irqfd is bound"),
	/* The control channel's snapshot verb reads the paused VM's state
	 * (vmm/vm_state.c): reads only, nothing that changes the VM. */
	IOCTL(KVM_GET_REGS, "snapshot: a parked vCPU's general registers"),
	IOCTL(KVM_GET_SREGS, "snapshot: a parked vCPU's special registers"),
	IOCTL(KVM_GET_XSAVE, "snapshot: a parked vCPU's FPU/vector state"),
	IOCTL(KVM_GET_XSAVE2, "snapshot: the FPU/vector state beyond 4 KiB (AMX)"),
	IOCTL(KVM_GET_XCRS, "snapshot: a parked vCPU's XCR0"),
	IOCTL(KVM_GET_MSRS, "snapshot: a parked vCPU's MSRs (KVM's index list)"),
	IOCTL(KVM_GET_LAPIC, "snapshot: a parked vCPU's local APIC"),
	IOCTL(KVM_GET_VCPU_EVENTS, "snapshot: a parked vCPU's pending events"),
	IOCTL(KVM_GET_MP_STATE, "snapshot: a parked vCPU's MP state"),
	IOCTL(KVM_GET_DEBUGREGS, "snapshot: a parked vCPU's debug registers"),
	IOCTL(KVM_GET_IRQCHIP, "snapshot: the PIC pair and IOAPIC"),
	IOCTL(KVM_GET_PIT2, "snapshot: the PIT"),
	IOCTL(KVM_GET_CLOCK, "snapshot: the KVM clock"),
	IOCTL(TUNSETOFFLOAD, "virtio-net: tell an already-open tap the offloads the guest acked"),
};

/* ---- setup: the process-wide filter also allows what vm_run() does on the
 * main thread between jail_enter() and the main thread's own filter ---- */
static const struct sc_rule setup_rules[] = {
	ALLOW(rt_sigaction, "vm_run() installs the (empty) kick handler"),
	ALLOW(signalfd4, "vm_run() reads stop signals from a signalfd"),
	ALLOW_IF(clone, 0, SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD,
		 "start vCPU and event threads (threads only: CLONE_THREAD required)"),
	FAIL(clone3, ENOSYS, "its flags are out of reach for BPF: libc falls back to clone"),
	ALLOW(set_robust_list, "libc registers each new thread's robust futex list"),
	ALLOW(rseq, "libc registers each new thread's restartable sequences area"),
	ALLOW_IF(seccomp, 0, SCMP_CMP_EQ, SECCOMP_SET_MODE_FILTER, 0,
		 "each thread narrows itself to its own filter (can only narrow)"),
	ALLOW(gettid, "libc thread bookkeeping"),
	ALLOW(getpid, "libc thread bookkeeping"),
	ALLOW_IF(sched_setaffinity, 0, SCMP_CMP_EQ, 0, 0,
		 "--cpu-affinity: each thread pins ITSELF (pid 0) before its own filter loads"),
	ALLOW(ioctl, "(restricted to the ioctl tables; main's TCGETS/TCSETS for raw mode)"),
};

/* ---- the switch process (`bulkhead switch`, src/switch/): one thread,
 * every descriptor it uses is open before the jail or arrives by SCM_RIGHTS
 * ---- */
static const struct sc_rule switch_rules[] = {
	ALLOW(epoll_wait, "the switch's loop waits on ports, clients, its timer and signals"),
	ALLOW(epoll_pwait, "epoll_wait() as implemented by libc"),
	ALLOW(epoll_ctl, "add/remove ports and clients; pause a port while it waits for tokens"),
	ALLOW(recvfrom, "recv() of a frame from a port (what libc's recv() is)"),
	ALLOW(sendto, "send() of a frame to a port, never blocking (MSG_DONTWAIT)"),
	ALLOW(recvmsg, "control requests, with a port's descriptor (SCM_RIGHTS)"),
	ALLOW(sendmsg, "control replies and violation events"),
	ALLOW(accept4, "accept a control connection on the already-listening socket"),
	ALLOW_IF(getsockopt, 2, SCMP_CMP_EQ, SO_TYPE, 0,
		 "check that a port descriptor is a SOCK_SEQPACKET socket (SO_TYPE only)"),
	ALLOW(close, "close a removed port or a finished control connection"),
	ALLOW(timerfd_settime, "arm the rate-limit timer for when the next token is due"),
	ALLOW(waitid, "reap an uplink process (passt) it started, by pidfd, when it exits"),
};

/* ---- sanitizer builds only (ASan/UBSan runtime; docs/security.md) ----
 * Compiled in only when the compiler instruments this build for ASan
 * (gcc: __SANITIZE_ADDRESS__, clang: __has_feature(address_sanitizer)); the
 * hardened build's policy does not contain this table at all. */
#if defined(__SANITIZE_ADDRESS__)
#define BH_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BH_SANITIZED 1
#endif
#endif
#ifdef BH_SANITIZED
static const struct sc_rule sanitizer_rules[] = {
	ALLOW(sigaltstack, "ASan gives every thread an alternate signal stack (and removes it)"),
	ALLOW(gettid, "ASan/LSan thread bookkeeping (thread start and exit, reports)"),
};
#endif

struct sc_table {
	const struct sc_rule *rules;
	size_t nrules;
	const struct sc_ioctl *ioctls;
	size_t nioctls;
};

#define TABLE(r, i) { r, BH_ARRAY_SIZE(r), i, BH_ARRAY_SIZE(i) }
#define TABLE_NOIOCTL(r) { r, BH_ARRAY_SIZE(r), NULL, 0 }

static const struct sc_table t_common = TABLE_NOIOCTL(common_rules);
static const struct sc_table t_main = TABLE(main_rules, main_ioctls);
static const struct sc_table t_vcpu = TABLE(vcpu_rules, vcpu_ioctls);
static const struct sc_table t_event = TABLE(event_rules, event_ioctls);
static const struct sc_table t_setup = TABLE_NOIOCTL(setup_rules);
static const struct sc_table t_switch = TABLE_NOIOCTL(switch_rules);
#ifdef BH_SANITIZED
static const struct sc_table t_san = TABLE_NOIOCTL(sanitizer_rules);
#define T_SAN &t_san,
#else
#define T_SAN
#endif

/* The tables making up each kind (NULL-terminated). */
static const struct sc_table *const kind_tables[SC_KIND_COUNT][7] = {
	[SC_KIND_MAIN] = { &t_common, &t_main, T_SAN NULL },
	[SC_KIND_VCPU] = { &t_common, &t_vcpu, T_SAN NULL },
	[SC_KIND_EVENT] = { &t_common, &t_event, T_SAN NULL },
	[SC_KIND_PROCESS] = { &t_common, &t_main, &t_vcpu, &t_event, &t_setup, T_SAN NULL },
	[SC_KIND_SWITCH] = { &t_common, &t_switch, T_SAN NULL },
};

const char *sc_kind_name(enum sc_kind kind)
{
	static const char *const names[SC_KIND_COUNT] = { "main", "vcpu", "event", "process",
								 "switch" };

	return (unsigned)kind < SC_KIND_COUNT ? names[kind] : "?";
}

static int add_rule(scmp_filter_ctx ctx, const struct sc_rule *r)
{
	uint32_t action = r->err ? SCMP_ACT_ERRNO((uint32_t)r->err) : SCMP_ACT_ALLOW;
	int ret;

	if (r->nr == __NR_ioctl)
		return 0; /* added per request number from the ioctl tables */
	if (r->nargs)
		ret = seccomp_rule_add_array(ctx, action, r->nr, r->nargs, r->cmp);
	else
		ret = seccomp_rule_add(ctx, action, r->nr, 0);
	return ret == -EEXIST ? 0 : ret;
}

int sc_policy_build(enum sc_kind kind, bool trap, scmp_filter_ctx *out)
{
	scmp_filter_ctx ctx;
	int ret = -EINVAL;

	if ((unsigned)kind >= SC_KIND_COUNT)
		return -EINVAL;
	ctx = seccomp_init(trap ? SCMP_ACT_TRAP : SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		return -ENOMEM;
	/* no_new_privs is set by the jail itself (before Landlock), so loading
	 * a filter later needs no prctl(); bad arches (int 0x80, x32) kill. */
	if ((ret = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0)) ||
	    (ret = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
				    trap ? SCMP_ACT_TRAP : SCMP_ACT_KILL_PROCESS)))
		goto err;
	for (const struct sc_table *const *t = kind_tables[kind]; *t; t++) {
		for (size_t i = 0; i < (*t)->nrules; i++)
			if ((ret = add_rule(ctx, &(*t)->rules[i])))
				goto err;
		for (size_t i = 0; i < (*t)->nioctls; i++) {
			/* The kernel takes the request as 32 bits; compare all 64
			 * so a high-bits variant of an allowed number is refused. */
			ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, __NR_ioctl, 1,
					       SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)(*t)->ioctls[i].req));
			if (ret && ret != -EEXIST)
				goto err;
		}
	}
	*out = ctx;
	return 0;
err:
	seccomp_release(ctx);
	return ret;
}

bool sc_policy_lists(enum sc_kind kind, int nr)
{
	if ((unsigned)kind >= SC_KIND_COUNT)
		return false;
	for (const struct sc_table *const *t = kind_tables[kind]; *t; t++)
		for (size_t i = 0; i < (*t)->nrules; i++)
			if ((*t)->rules[i].nr == nr)
				return true;
	return false;
}

bool sc_policy_lists_ioctl(enum sc_kind kind, unsigned long req)
{
	if ((unsigned)kind >= SC_KIND_COUNT)
		return false;
	for (const struct sc_table *const *t = kind_tables[kind]; *t; t++)
		for (size_t i = 0; i < (*t)->nioctls; i++)
			if ((*t)->ioctls[i].req == req)
				return true;
	return false;
}

int sc_policy_check_tables(void)
{
	for (int k = 0; k < SC_KIND_COUNT; k++)
		for (const struct sc_table *const *t = kind_tables[k]; *t; t++) {
			for (size_t i = 0; i < (*t)->nrules; i++)
				if (!(*t)->rules[i].why || strlen((*t)->rules[i].why) < 10)
					return -EINVAL;
			for (size_t i = 0; i < (*t)->nioctls; i++)
				if (!(*t)->ioctls[i].why || strlen((*t)->ioctls[i].why) < 10)
					return -EINVAL;
		}
	return 0;
}

void sc_policy_stats(enum sc_kind kind, struct sc_stats *st)
{
	int seen[512];
	unsigned nseen = 0;
	unsigned long reqs[64];
	unsigned nreqs = 0;

	st->syscalls = st->ioctls = st->rules = 0;
	if ((unsigned)kind >= SC_KIND_COUNT)
		return;
	for (const struct sc_table *const *t = kind_tables[kind]; *t; t++) {
		for (size_t i = 0; i < (*t)->nrules; i++) {
			int nr = (*t)->rules[i].nr;
			unsigned j;

			st->rules++;
			for (j = 0; j < nseen && seen[j] != nr; j++)
				;
			if (j == nseen && nseen < BH_ARRAY_SIZE(seen))
				seen[nseen++] = nr;
		}
		for (size_t i = 0; i < (*t)->nioctls; i++) {
			unsigned long r = (*t)->ioctls[i].req;
			unsigned j;

			for (j = 0; j < nreqs && reqs[j] != r; j++)
				;
			if (j == nreqs && nreqs < BH_ARRAY_SIZE(reqs))
				reqs[nreqs++] = r;
		}
	}
	st->syscalls = nseen;
	st->ioctls = nreqs;
}

int sc_bpf_load(const struct sock_fprog *prog)
{
	/* seccomp(2) with no flags: the call the thread filters' own rule
	 * (ALLOW_IF seccomp SECCOMP_SET_MODE_FILTER, flags 0) permits. */
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0U, prog) < 0)
		return -errno;
	return 0;
}
