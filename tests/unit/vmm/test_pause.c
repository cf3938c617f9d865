/* test_pause.c — the pause protocol with real threads standing in for vCPU
 * threads: they park on request, the controller sees all of them parked, none
 * runs while paused, resume releases them, and a stop while paused releases
 * them too (a stop must never hang on a paused VM). */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/exit_ctl.h"
#include "vmm/pause.h"

#define NTHREADS 4

struct fake_vm {
	struct vm_pause pause;
	struct exit_ctl exit;
	uint64_t progress[NTHREADS];
};

struct fake_vcpu {
	struct fake_vm *vm;
	unsigned idx;
};

/* The vCPU loop shape of vcpu.c, with "KVM_RUN" replaced by a counter. */
static void *vcpu_loop(void *arg)
{
	struct fake_vcpu *v = arg;

	while (!exit_ctl_requested(&v->vm->exit)) {
		if (vm_pause_requested(&v->vm->pause)) {
			vm_pause_park(&v->vm->pause, &v->vm->exit);
			continue;
		}
		__atomic_add_fetch(&v->vm->progress[v->idx], 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static uint64_t total(struct fake_vm *vm)
{
	uint64_t t = 0;

	for (int i = 0; i < NTHREADS; i++)
		t += __atomic_load_n(&vm->progress[i], __ATOMIC_RELAXED);
	return t;
}

static void test_pause_resume_stop(void **state)
{
	static struct fake_vm vm;
	struct fake_vcpu v[NTHREADS];
	pthread_t th[NTHREADS];

	(void)state;
	memset(&vm, 0, sizeof(vm));
	vm_pause_init(&vm.pause);
	assert_int_equal(exit_ctl_init(&vm.exit), 0);
	for (unsigned i = 0; i < NTHREADS; i++) {
		v[i] = (struct fake_vcpu){ &vm, i };
		assert_int_equal(pthread_create(&th[i], NULL, vcpu_loop, &v[i]), 0);
	}
	for (int round = 0; round < 50; round++) {
		uint64_t a, b;

		vm_pause_begin(&vm.pause);
		assert_int_equal(vm_pause_wait_parked(&vm.pause, &vm.exit, NTHREADS, 10000), 0);
		a = total(&vm);
		for (volatile int spin = 0; spin < 100000; spin++)
			;
		b = total(&vm);
		assert_int_equal(a, b); /* all parked: nobody makes progress */
		vm_pause_end(&vm.pause);
	}
	/* progress resumes */
	{
		uint64_t a = total(&vm);

		while (total(&vm) == a)
			;
	}
	/* a stop while paused releases every parked thread */
	vm_pause_begin(&vm.pause);
	assert_int_equal(vm_pause_wait_parked(&vm.pause, &vm.exit, NTHREADS, 10000), 0);
	assert_true(exit_ctl_request(&vm.exit, VM_EXIT_SIGNAL, 15, "stop while paused"));
	vm_pause_wake(&vm.pause);
	for (int i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	/* waiting for parked vCPUs returns at once once a stop was requested */
	assert_int_equal(vm_pause_wait_parked(&vm.pause, &vm.exit, NTHREADS, 10000), 0);
	exit_ctl_destroy(&vm.exit);
	vm_pause_destroy(&vm.pause);
}

static void test_timeout_and_cut(void **state)
{
	struct vm_pause p;
	struct exit_ctl ec;

	(void)state;
	vm_pause_init(&p);
	assert_int_equal(exit_ctl_init(&ec), 0);
	vm_pause_begin(&p);
	/* one vCPU that never parks: the controller gives up with -ETIMEDOUT */
	assert_int_equal(vm_pause_wait_parked(&p, &ec, 1, 100), -ETIMEDOUT);
	vm_pause_end(&p);
	assert_false(vm_pause_io_cut(&p));
	vm_pause_cut_io(&p);
	assert_true(vm_pause_io_cut(&p));
	exit_ctl_destroy(&ec);
	vm_pause_destroy(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pause_resume_stop),
		cmocka_unit_test(test_timeout_and_cut),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
