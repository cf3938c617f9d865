/* test_wait.h — bounded waits for unit tests that wait on another thread.
 *
 * Contract: a unit test never waits without a deadline. TEST_WAIT_UNTIL(cond,
 * what) re-evaluates `cond` (yielding the CPU between tries) until it holds
 * or TEST_WAIT_MS passes, and then fails the test with "timed out after N ms
 * waiting for <what>" — so a regression that makes a wait hang is a named
 * failure, not a meson Timeout with no message. test_join() joins a thread
 * with the same bound. Include after <cmocka.h>. */
#ifndef BULKHEAD_TEST_WAIT_H
#define BULKHEAD_TEST_WAIT_H

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <time.h>

/* Far above any wait that succeeds (milliseconds, even under ASan on a
 * loaded 2-core machine), far below meson's per-test timeout. */
#define TEST_WAIT_MS 20000

static inline uint64_t test_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

#define TEST_WAIT_UNTIL(cond, what)                                                      \
	do {                                                                             \
		uint64_t test_wait_end_ = test_now_ms() + TEST_WAIT_MS;                  \
		while (!(cond)) {                                                        \
			if (test_now_ms() > test_wait_end_)                              \
				fail_msg("timed out after %d ms waiting for %s",        \
					 TEST_WAIT_MS, (what));                          \
			sched_yield();                                                   \
		}                                                                        \
	} while (0)

/* Join `t` within TEST_WAIT_MS, or fail the test naming `what`. */
static inline void test_join(pthread_t t, const char *what)
{
	struct timespec dl;
	int r;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += TEST_WAIT_MS / 1000;
	r = pthread_timedjoin_np(t, NULL, &dl);
	if (r == ETIMEDOUT)
		fail_msg("timed out after %d ms joining %s", TEST_WAIT_MS, what);
	assert_int_equal(r, 0);
}

#endif
