/* test_usock.c — the daemon's unix-socket helper: a listener whose backlog
 * is full of connections it never accepts (a stopped VMM) costs a client at
 * most its deadline, never a hang; a missing socket fails at once; a bound
 * socket has its mode from the start. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "daemon/usock.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void test_full_backlog(void **state)
{
	char dir[] = "/tmp/usock.XXXXXX", path[64];
	int ls, fds[64], n = 0, r;
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s", dir);
	ls = usock_listen(path, SOCK_SEQPACKET, 0600, 1);
	assert_true(ls >= 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* Fill the backlog: connect until the listener refuses (never accepted). */
	for (;;) {
		r = usock_connect(path, SOCK_SEQPACKET, now_ns() + 50000000ull);
		if (r < 0)
			break;
		assert_true(n < 64);
		fds[n++] = r;
	}
	assert_int_equal(r, -ETIMEDOUT);
	assert_true(n >= 1);
	/* Another client: it returns (-ETIMEDOUT) instead of blocking. */
	assert_int_equal(usock_connect(path, SOCK_SEQPACKET, now_ns() + 100000000ull), -ETIMEDOUT);
	assert_int_equal(usock_ms_left(now_ns() - 1), 0);
	while (n > 0)
		close(fds[--n]);
	close(ls);
	unlink(path);
	/* Nobody listens: fails at once with the reason. */
	assert_int_equal(usock_connect(path, SOCK_SEQPACKET, now_ns() + 60000000000ull), -ENOENT);
	rmdir(dir);
}

static void test_names(void **state)
{
	struct sockaddr_un sa;
	char longp[200];

	(void)state;
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	assert_int_equal(usock_addr(longp, &sa), -ENAMETOOLONG);
	assert_int_equal(usock_addr("", &sa), -ENAMETOOLONG);
	assert_int_equal(usock_listen(longp, SOCK_STREAM, 0600, 1), -ENAMETOOLONG);
	assert_int_equal(usock_addr("/x", &sa), 0);
	assert_string_equal(sa.sun_path, "/x");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_backlog),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
