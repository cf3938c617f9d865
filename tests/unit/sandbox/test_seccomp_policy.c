/* test_seccomp_policy.c — the seccomp tables as data: every kind builds into
 * a libseccomp filter, every row is justified, the process-wide filter is a
 * superset of each thread kind's, the kinds stay apart where they should,
 * and the syscalls no thread may ever make appear in no table (adding one is
 * a conscious decision: change this test and docs/security.md), and the BPF
 * compiled at build time (seccomp_bpf.c, what the jail loads) is exactly
 * what libseccomp generates from the tables now. The filters are exercised
 * for real by tests/sandbox/sandbox_tests.sh. */
#include <errno.h>
#include <linux/kvm.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <cmocka.h>

#include "sandbox/seccomp_bpf.h"
#include "sandbox/seccomp_policy.h"

static const enum sc_kind thread_kinds[] = { SC_KIND_MAIN, SC_KIND_VCPU, SC_KIND_EVENT };

static void test_all_kinds_build(void **state)
{
	(void)state;
	for (int k = 0; k < SC_KIND_COUNT; k++) {
		scmp_filter_ctx ctx = NULL;

		assert_int_equal(sc_policy_build((enum sc_kind)k, false, &ctx), 0);
		assert_non_null(ctx);
		seccomp_release(ctx);
		assert_int_equal(sc_policy_build((enum sc_kind)k, true, &ctx), 0);
		seccomp_release(ctx);
	}
	assert_int_equal(sc_policy_build(SC_KIND_COUNT, false, &(scmp_filter_ctx){ NULL }),
			 -EINVAL);
}

/* The compiled programs must be what the tables say today: a table edited
 * without a rebuild of seccomp_bpf.c (or a generator bug) fails here. */
static void test_compiled_bpf_matches_tables(void **state)
{
	(void)state;
	for (int k = 0; k < SC_KIND_COUNT; k++)
		for (int trap = 0; trap < 2; trap++) {
			scmp_filter_ctx ctx = NULL;
			struct sock_fprog prog;
			FILE *tmp = tmpfile();
			char *buf;
			long size;

			assert_non_null(tmp);
			assert_int_equal(sc_policy_build((enum sc_kind)k, trap, &ctx), 0);
			assert_int_equal(seccomp_export_bpf(ctx, fileno(tmp)), 0);
			seccomp_release(ctx);
			size = ftell(tmp);
			assert_true(size > 0);
			buf = malloc((size_t)size);
			assert_non_null(buf);
			rewind(tmp);
			assert_int_equal(fread(buf, 1, (size_t)size, tmp), (size_t)size);
			fclose(tmp);
			assert_int_equal(sc_bpf_get((enum sc_kind)k, trap, &prog), 0);
			assert_int_equal((size_t)prog.len * sizeof(struct sock_filter), (size_t)size);
			assert_memory_equal(prog.filter, buf, (size_t)size);
			free(buf);
		}
	assert_int_equal(sc_bpf_get(SC_KIND_COUNT, false, &(struct sock_fprog){ 0 }), -EINVAL);
}

static void test_every_rule_justified(void **state)
{
	(void)state;
	assert_int_equal(sc_policy_check_tables(), 0);
}

static void test_never_allowed(void **state)
{
	static const int forbidden[] = {
		__NR_execve, __NR_execveat, __NR_open, __NR_openat, __NR_creat, __NR_socket,
		__NR_socketpair, __NR_connect, __NR_bind, __NR_listen, __NR_ptrace, __NR_mount,
		__NR_umount2, __NR_pivot_root, __NR_chroot, __NR_unshare, __NR_setns, __NR_setrlimit,
		__NR_setuid, __NR_setgid, __NR_setresuid, __NR_capset, __NR_bpf, __NR_perf_event_open,
		__NR_kexec_load, __NR_init_module, __NR_finit_module, __NR_keyctl, __NR_userfaultfd,
		__NR_io_uring_setup, __NR_io_uring_register, __NR_fork, __NR_vfork, __NR_process_vm_writev,
		__NR_memfd_create, __NR_kill, __NR_prctl,
	};

	(void)state;
	for (int k = 0; k < SC_KIND_COUNT; k++)
		for (size_t i = 0; i < sizeof(forbidden) / sizeof(forbidden[0]); i++)
			if (sc_policy_lists((enum sc_kind)k, forbidden[i]))
				fail_msg("%s filter lists forbidden syscall %d",
					 sc_kind_name((enum sc_kind)k), forbidden[i]);
}

static void test_union_covers_each_kind(void **state)
{
	(void)state;
	for (int nr = 0; nr < 512; nr++)
		for (size_t k = 0; k < 3; k++)
			if (sc_policy_lists(thread_kinds[k], nr))
				assert_true(sc_policy_lists(SC_KIND_PROCESS, nr));
	assert_true(sc_policy_lists_ioctl(SC_KIND_PROCESS, KVM_RUN));
	assert_true(sc_policy_lists_ioctl(SC_KIND_PROCESS, TCSETS));
}

static void test_kinds_stay_apart(void **state)
{
	(void)state;
	/* Only vCPU threads run the guest or dump its registers. */
	assert_true(sc_policy_lists_ioctl(SC_KIND_VCPU, KVM_RUN));
	assert_false(sc_policy_lists_ioctl(SC_KIND_MAIN, KVM_RUN));
	assert_false(sc_policy_lists_ioctl(SC_KIND_EVENT, KVM_RUN));
	/* The event thread reads a parked vCPU's registers for a snapshot;
	 * it never writes them. */
	assert_true(sc_policy_lists_ioctl(SC_KIND_EVENT, KVM_GET_REGS));
	assert_false(sc_policy_lists_ioctl(SC_KIND_EVENT, KVM_SET_REGS));
	assert_false(sc_policy_lists_ioctl(SC_KIND_EVENT, KVM_SET_SREGS));
	assert_false(sc_policy_lists_ioctl(SC_KIND_EVENT, KVM_SET_MSRS));
	/* Nobody re-creates KVM objects after setup. */
	for (int k = 0; k < SC_KIND_COUNT; k++) {
		assert_false(sc_policy_lists_ioctl((enum sc_kind)k, KVM_CREATE_VM));
		assert_false(sc_policy_lists_ioctl((enum sc_kind)k, KVM_CREATE_VCPU));
		assert_false(sc_policy_lists_ioctl((enum sc_kind)k, KVM_SET_USER_MEMORY_REGION));
	}
	/* Thread creation only before the threads' own filters. */
	for (size_t k = 0; k < 3; k++)
		assert_false(sc_policy_lists(thread_kinds[k], __NR_clone));
	assert_true(sc_policy_lists(SC_KIND_PROCESS, __NR_clone));
	/* Disk I/O and entropy are the event thread's. */
	assert_true(sc_policy_lists(SC_KIND_EVENT, __NR_pwritev));
	assert_false(sc_policy_lists(SC_KIND_VCPU, __NR_pwritev));
	assert_false(sc_policy_lists(SC_KIND_MAIN, __NR_getrandom));
}

/* Sanitizer builds (this test is compiled like the policy: both with or both
 * without ASan) admit exactly what the ASan runtime needs in every kind
 * (docs/security.md); any other build lists neither. ptrace and prctl stay
 * forbidden either way (test_never_allowed), so LeakSanitizer cannot run in
 * the jail. */
static void test_sanitizer_table(void **state)
{
	bool san = false;

#if defined(__SANITIZE_ADDRESS__)
	san = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
	san = true;
#endif
#endif
	(void)state;
	for (int k = 0; k < SC_KIND_COUNT; k++) {
		assert_int_equal(sc_policy_lists((enum sc_kind)k, __NR_sigaltstack), san);
		if (k != SC_KIND_PROCESS) /* the process filter has gettid for libc */
			assert_int_equal(sc_policy_lists((enum sc_kind)k, __NR_gettid), san);
	}
}

static void test_stats(void **state)
{
	struct sc_stats u, t;

	(void)state;
	sc_policy_stats(SC_KIND_PROCESS, &u);
	for (size_t k = 0; k < 3; k++) {
		sc_policy_stats(thread_kinds[k], &t);
		assert_true(t.syscalls > 10);
		assert_true(t.syscalls < u.syscalls);
		assert_true(t.ioctls <= u.ioctls);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_kinds_build),
		cmocka_unit_test(test_compiled_bpf_matches_tables),
		cmocka_unit_test(test_every_rule_justified),
		cmocka_unit_test(test_never_allowed),
		cmocka_unit_test(test_union_covers_each_kind),
		cmocka_unit_test(test_sanitizer_table),
		cmocka_unit_test(test_kinds_stay_apart),
		cmocka_unit_test(test_stats),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
