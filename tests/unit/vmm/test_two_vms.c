/* test_two_vms.c — architecture rule 5 ("no process-global mutable state:
 * everything hangs off struct vm"), proven: two real VMs built and run at the
 * same time in one process. A ticker that prints until it is stopped and a
 * guest that exits with status 7 each keep their own console, exit reason and
 * devices; stopping one leaves the other running; pausing one does not pause
 * the other. Needs KVM (see vm_fixture.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "vm_fixture.h"
#include "vmm/fd_table.h"
#include "../test_wait.h"

static char dir[] = "/tmp/bh-two-vms.XXXXXX";
static char con_a[128], con_b[128];

static void two_vms_run_at_once(void **state)
{
	char k_ticker[512], k_exit[512];
	struct vm_config ca, cb;
	struct vm *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	struct fx_run ra, rb;
	long long before, after;
	int ret;

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	fx_guest(k_ticker, sizeof(k_ticker), "ticker");
	fx_guest(k_exit, sizeof(k_exit), "exit_status");
	fx_config(&ca, k_ticker, con_a);
	ca.boot.cmdline = "console=ttyS0 spin=2000";
	fx_config(&cb, k_exit, con_b);
	cb.boot.cmdline = "console=ttyS0 status=7";

	/* Named host descriptors given before the build reach the devices'
	 * attach step (and survive vm_create's reset of struct vm). */
	struct fd_table fds;
	char ferr[128];

	fd_table_init(&fds);
	assert_int_equal(fd_table_add(&fds, "spare", open("/dev/null", O_RDONLY | O_CLOEXEC), ferr,
				      sizeof(ferr)), 0);
	vm_set_fds(a, &fds);
	ret = vm_create(a, &ca);
	if (ret)
		fail_msg("vm_create A: %s", a->err);
	assert_ptr_equal(a->fds, &fds);
	assert_true(fd_table_find(a->fds, "spare") >= 0);
	ret = vm_create(b, &cb);
	if (ret)
		fail_msg("vm_create B: %s", b->err);
	assert_int_not_equal(a->vm_fd, b->vm_fd);
	assert_ptr_not_equal(a->mem.base, b->mem.base);

	assert_int_equal(fx_start(&ra, a), 0);
	assert_int_equal(fx_start(&rb, b), 0);
	/* B ends by itself, with its own status; A keeps ticking. */
	test_join(rb.thread, "VM B, which exits by itself");
	assert_int_equal(rb.reason, VM_EXIT_TEST);
	assert_int_equal(b->exit.status, 7);
	assert_false(exit_ctl_requested(&a->exit));
	assert_non_null(strstr(fx_console(con_b), "exiting with status 7"));
	assert_null(strstr(fx_console(con_b), "tick"));

	/* A is still alive and producing output after B is gone. */
	before = fx_size(con_a);
	for (int i = 0; i < 200 && fx_size(con_a) == before; i++)
		fx_sleep_ms(10);
	after = fx_size(con_a);
	assert_true(after > before);
	assert_non_null(strstr(fx_console(con_a), "tick"));
	assert_null(strstr(fx_console(con_a), "exiting with status"));

	/* Stopping A is A's business only. */
	assert_true(exit_ctl_request(&a->exit, VM_EXIT_SIGNAL, 0, "test stop"));
	test_join(ra.thread, "VM A after its stop request");
	assert_int_equal(ra.reason, VM_EXIT_SIGNAL);
	assert_int_equal(b->exit.status, 7);

	vm_destroy(a);
	vm_destroy(b);
	fd_table_destroy(&fds);
	free(a);
	free(b);
}

static void pause_is_per_vm(void **state)
{
	char k_ticker[512];
	struct vm_config ca, cb;
	struct vm *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	struct fx_run ra, rb;
	long long a0, b0;

	(void)state;
	fx_guest(k_ticker, sizeof(k_ticker), "ticker");
	fx_config(&ca, k_ticker, con_a);
	ca.boot.cmdline = "console=ttyS0 spin=2000";
	fx_config(&cb, k_ticker, con_b);
	cb.boot.cmdline = "console=ttyS0 spin=2000";
	if (vm_create(a, &ca))
		fail_msg("vm_create A: %s", a->err);
	if (vm_create(b, &cb))
		fail_msg("vm_create B: %s", b->err);
	assert_int_equal(fx_start(&ra, a), 0);
	assert_int_equal(fx_start(&rb, b), 0);
	/* Both tick. */
	for (int i = 0; i < 300 && (fx_size(con_a) < 64 || fx_size(con_b) < 64); i++)
		fx_sleep_ms(10);
	assert_true(fx_size(con_a) >= 64 && fx_size(con_b) >= 64);

	assert_int_equal(vm_pause(a), 0);
	a0 = fx_size(con_a);
	b0 = fx_size(con_b);
	/* B goes on (control), A stays silent. */
	for (int i = 0; i < 300 && fx_size(con_b) == b0; i++)
		fx_sleep_ms(10);
	assert_true(fx_size(con_b) > b0);
	fx_sleep_ms(200);
	assert_int_equal(fx_size(con_a), a0);
	assert_int_equal(vm_resume(a), 0);
	for (int i = 0; i < 300 && fx_size(con_a) == a0; i++)
		fx_sleep_ms(10);
	assert_true(fx_size(con_a) > a0);

	exit_ctl_request(&a->exit, VM_EXIT_SIGNAL, 0, "test stop");
	exit_ctl_request(&b->exit, VM_EXIT_SIGNAL, 0, "test stop");
	test_join(ra.thread, "VM A after its stop request");
	test_join(rb.thread, "VM B after its stop request");
	vm_destroy(a);
	vm_destroy(b);
	free(a);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(two_vms_run_at_once),
		cmocka_unit_test(pause_is_per_vm),
	};
	int ret;

	fx_require_kvm();
	if (!mkdtemp(dir))
		return 1;
	snprintf(con_a, sizeof(con_a), "%s/a.log", dir);
	snprintf(con_b, sizeof(con_b), "%s/b.log", dir);
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	unlink(con_a);
	unlink(con_b);
	rmdir(dir);
	return ret;
}
