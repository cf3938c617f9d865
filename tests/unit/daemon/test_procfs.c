/* test_procfs.c — the daemon's one /proc/PID/stat parser: a comm that holds
 * spaces and parentheses (the one field a process chooses), negative fields,
 * truncated or malformed text, and the real file of this process. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "daemon/procfs.h"

/* fields 4..22 after "pid (comm) S": ppid pgrp session tty tpgid flags
 * minflt cminflt majflt cmajflt utime stime cutime cstime priority nice
 * num_threads itrealvalue starttime */
#define TAIL " 1 2 3 4 -1 4194560 10 0 0 0 77 33 0 0 20 -5 1 0 123456 999 55\n"

static int parse(const char *s, struct proc_stat *st)
{
	return proc_stat_parse(s, strlen(s), st);
}

static void test_plain(void **state)
{
	struct proc_stat st;

	(void)state;
	assert_int_equal(parse("42 (bulkhead) S" TAIL, &st), 0);
	assert_int_equal(st.state, 'S');
	assert_int_equal(st.flags, 4194560);
	assert_int_equal(st.utime, 77);
	assert_int_equal(st.stime, 33);
	assert_int_equal(st.starttime, 123456);
}

static void test_hostile_comm(void **state)
{
	struct proc_stat st;

	(void)state;
	/* A process named ") R 1 2 3" must not shift the fields. */
	assert_int_equal(parse("42 (x) R 1 2 3 (y) ) T" TAIL, &st), 0);
	assert_int_equal(st.state, 'T');
	assert_int_equal(st.starttime, 123456);
	assert_int_equal(parse("42 ( ) Z" TAIL, &st), 0);
	assert_int_equal(st.state, 'Z');
}

static void test_malformed(void **state)
{
	struct proc_stat st;

	(void)state;
	assert_int_equal(parse("", &st), -EPROTO);
	assert_int_equal(parse("42 bulkhead S 1 2 3", &st), -EPROTO);
	assert_int_equal(parse("42 (bulkhead) S 1 2 3 4", &st), -EPROTO); /* truncated */
	assert_int_equal(parse("42 (bulkhead)S" TAIL, &st), -EPROTO);
	assert_int_equal(parse("42 (bulkhead) S 1 2 x 4 -1 4194560 10 0 0 0 77 33 0 0 20 -5 1 0 1\n",
			       &st),
			 -EPROTO);
	{
		char big[2048];

		memset(big, 'a', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		assert_int_equal(parse(big, &st), -EPROTO);
	}
}

static void test_self(void **state)
{
	struct proc_stat st;
	double cpu;
	uint64_t rss;

	(void)state;
	assert_int_equal(proc_stat_read(getpid(), &st), 0);
	assert_true(st.starttime > 0);
	assert_int_equal(proc_start_time(getpid()), st.starttime);
	assert_int_equal(proc_usage(getpid(), &cpu, &rss), 0);
	assert_true(rss > 0);
	assert_int_equal(proc_start_time(0), 0);
	assert_int_equal(proc_stat_read(0x3fffffff, &st), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_hostile_comm),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_self),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
