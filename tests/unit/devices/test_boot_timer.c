/* test_boot_timer.c — unit tests for the boot-time probe port: the first
 * guest write sets the elapsed time and logs exactly once. */
#include "dev_fakes.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "devices/boot_timer.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Run fn with stderr redirected to a temporary file; return its contents
 * (caller frees). The log writes to fd 2 directly. */
static char *capture_stderr(void (*fn)(void *), void *arg)
{
	FILE *tmp = tmpfile();
	int saved = dup(STDERR_FILENO);
	char *buf;
	long n;

	assert_non_null(tmp);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
	fn(arg);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	n = lseek(fileno(tmp), 0, SEEK_END);
	assert_true(n >= 0);
	buf = calloc(1, (size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(pread(fileno(tmp), buf, (size_t)n, 0), n);
	fclose(tmp);
	return buf;
}

static unsigned count_substr(const char *hay, const char *needle)
{
	unsigned n = 0;

	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

struct run {
	struct io_bus *pio;
	uint32_t width;
};

static void two_writes(void *arg)
{
	struct run *r = arg;

	assert_true(pio_out(r->pio, BOOT_TIMER_PORT, 1, r->width));
	usleep(2000);
	assert_true(pio_out(r->pio, BOOT_TIMER_PORT, 2, r->width));
}

static void check(uint32_t width)
{
	struct io_bus pio;
	struct boot_timer bt;
	struct run r = { &pio, width };
	uint64_t start = now_ns() - 5000000ull; /* "process started" 5 ms ago */
	uint64_t before, first;
	char *log;
	bool c;

	io_bus_init(&pio, IO_BUS_PIO);
	assert_int_equal(boot_timer_init(&bt, start), 0);
	assert_int_equal(boot_timer_register(&bt, &pio), 0);
	io_bus_seal(&pio);

	assert_int_equal(boot_timer_elapsed_ns(&bt), 0);
	assert_int_equal(pio_in(&pio, BOOT_TIMER_PORT, width, &c), 0);
	assert_true(c);
	assert_int_equal(boot_timer_elapsed_ns(&bt), 0); /* reads do not trigger */

	before = now_ns();
	log = capture_stderr(two_writes, &r);
	first = boot_timer_elapsed_ns(&bt);
	assert_true(first >= before - start);
	assert_true(first <= now_ns() - start);
	assert_int_equal(count_substr(log, "boot-timer: first guest write after "), 1);
	assert_int_equal(count_substr(log, " ms (process start \xe2\x86\x92 guest)"), 1);
	free(log);

	/* later writes change nothing */
	assert_true(pio_out(&pio, BOOT_TIMER_PORT, 3, 1));
	assert_int_equal(boot_timer_elapsed_ns(&bt), first);
	boot_timer_destroy(&bt);
}

static void test_first_write_byte(void **state)
{
	(void)state;
	check(1);
}

static void test_first_write_dword(void **state)
{
	(void)state;
	check(4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_write_byte),
		cmocka_unit_test(test_first_write_dword),
	};

	bh_log_set_level(BH_LOG_INFO);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
