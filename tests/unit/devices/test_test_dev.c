/* test_test_dev.c — unit tests for the test device: per-vCPU check-ins from
 * real threads, exit status propagation, magic read. */
#include "dev_fakes.h"

#include <stdlib.h>

#include "core/exit_ctl.h"
#include "core/vcpu_self.h"
#include "devices/test_dev.h"
#include "../test_wait.h"

struct fx {
	struct io_bus pio;
	struct test_dev td;
	struct exit_ctl ec;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	io_bus_init(&f->pio, IO_BUS_PIO);
	assert_int_equal(exit_ctl_init(&f->ec), 0);
	assert_int_equal(test_dev_init(&f->td, &f->ec), 0);
	assert_int_equal(test_dev_register(&f->td, &f->pio), 0);
	io_bus_seal(&f->pio);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	test_dev_destroy(&f->td);
	exit_ctl_destroy(&f->ec);
	free(f);
	return 0;
}

struct vcpu_arg {
	struct fx *f;
	int index;
	int times;
	bool ok;
};

static void *vcpu_thread(void *p)
{
	struct vcpu_arg *a = p;

	vcpu_self_set(a->index);
	a->ok = true;
	for (int i = 0; i < a->times; i++)
		a->ok &= pio_out(&a->f->pio, TEST_DEV_PORT_CHECKIN, 0, 4);
	return NULL;
}

static void run_vcpus(struct fx *f, const int *idx, int n, int times)
{
	pthread_t th[8];
	struct vcpu_arg args[8];

	assert_true(n <= 8);
	for (int i = 0; i < n; i++) {
		args[i] = (struct vcpu_arg){ f, idx[i], times, false };
		assert_int_equal(pthread_create(&th[i], NULL, vcpu_thread, &args[i]), 0);
	}
	for (int i = 0; i < n; i++) {
		test_join(th[i], "a vCPU thread checking in");
		assert_true(args[i].ok);
	}
}

static void test_checkins(void **state)
{
	struct fx *f = *state;
	static const int two[] = { 0, 1 };
	static const int dup_and_bad[] = { 0, 1000, -5, 256 };
	static const int last[] = { 255 };

	assert_int_equal(test_dev_checked_in(&f->td), 0);
	run_vcpus(f, two, 2, 3); /* each checks in three times */
	assert_int_equal(test_dev_checked_in(&f->td), 2);
	run_vcpus(f, dup_and_bad, 4, 1); /* duplicate + out of range */
	assert_int_equal(test_dev_checked_in(&f->td), 2);
	/* the main thread is no vCPU */
	assert_true(pio_out(&f->pio, TEST_DEV_PORT_CHECKIN, 0, 4));
	assert_int_equal(test_dev_checked_in(&f->td), 2);
	run_vcpus(f, last, 1, 1);
	assert_int_equal(test_dev_checked_in(&f->td), 3);
	assert_false(exit_ctl_requested(&f->ec));
}

static void test_exit_status(void **state)
{
	struct fx *f = *state;

	assert_true(pio_out(&f->pio, TEST_DEV_PORT_EXIT, 7, 4));
	assert_true(exit_ctl_requested(&f->ec));
	assert_int_equal(f->ec.reason, VM_EXIT_TEST);
	assert_int_equal(f->ec.status, 7);
	assert_string_equal(f->ec.detail, "guest test status 7");
	/* the first request wins */
	assert_true(pio_out(&f->pio, TEST_DEV_PORT_EXIT, 0, 1));
	assert_int_equal(f->ec.status, 7);
}

static void test_exit_status_byte_zero(void **state)
{
	struct fx *f = *state;

	assert_true(pio_out(&f->pio, TEST_DEV_PORT_EXIT, 0xffffff00u, 1));
	assert_int_equal(f->ec.reason, VM_EXIT_TEST);
	assert_int_equal(f->ec.status, 0); /* only the written byte counts */
	assert_string_equal(f->ec.detail, "guest test status 0");
}

static void test_reads_and_value(void **state)
{
	struct fx *f = *state;
	bool c;

	assert_int_equal(pio_in(&f->pio, TEST_DEV_PORT_VALUE, 4, &c), TEST_DEV_MAGIC);
	assert_true(c);
	assert_int_equal(pio_in(&f->pio, TEST_DEV_PORT_VALUE, 1, NULL), TEST_DEV_MAGIC & 0xff);
	assert_int_equal(pio_in(&f->pio, TEST_DEV_PORT_CHECKIN, 4, &c), 0xffffffffu);
	assert_true(c);
	assert_int_equal(pio_in(&f->pio, TEST_DEV_PORT_EXIT, 4, NULL), 0xffffffffu);
	assert_int_equal(pio_in(&f->pio, TEST_DEV_PORT_CHECKIN + 1, 2, NULL), 0xffff);
	/* value log (rate-limited) and stray writes change no state */
	for (int i = 0; i < 100; i++)
		assert_true(pio_out(&f->pio, TEST_DEV_PORT_VALUE, (uint32_t)i, 4));
	assert_true(pio_out(&f->pio, TEST_DEV_PORT_CHECKIN + 2, 1, 1));
	assert_true(pio_out(&f->pio, TEST_DEV_PORT_VALUE + 3, 1, 1));
	assert_false(exit_ctl_requested(&f->ec));
	assert_int_equal(test_dev_checked_in(&f->td), 0);
	/* beyond the 12-byte window */
	assert_int_equal(pio_in(&f->pio, TEST_DEV_PORT_VALUE + 2, 4, &c), 0xffffffffu);
	assert_false(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_checkins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exit_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exit_status_byte_zero, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reads_and_value, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
