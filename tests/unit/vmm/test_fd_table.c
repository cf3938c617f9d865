/* test_fd_table.c — the VMM's named-descriptor table (vmm/fd_table.h): what
 * it accepts (names per common/fd_name.h, open non-directory fds >= 3), what
 * it refuses and why (bad name, stdio, closed fd, directory, duplicate name
 * or number, full), lookups, hand-over (take) and that destroy closes every
 * descriptor still held (pipes: EOF proves the last copy is gone). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "vmm/fd_table.h"

static void assert_eof(int rd)
{
	char c;

	assert_int_equal(fcntl(rd, F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(read(rd, &c, 1), 0);
	close(rd);
}

static void test_add_find_take(void **state)
{
	struct fd_table t;
	int p[2], sv[2], fd;
	char err[256], desc[512];

	(void)state;
	fd_table_init(&t);
	fd_table_describe(&t, desc, sizeof(desc));
	assert_string_equal(desc, "none");
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(fd_table_add(&t, "log", p[1], err, sizeof(err)), 0);
	assert_int_equal(fd_table_add(&t, "net0", sv[0], err, sizeof(err)), 0);
	assert_int_equal(fd_table_find(&t, "log"), p[1]);
	assert_int_equal(fd_table_find(&t, "net0"), sv[0]);
	assert_int_equal(fd_table_find(&t, "nope"), -ENOENT);
	assert_true(fd_table_holds(&t, sv[0]));
	assert_int_equal(t.e[0].kind, CTL_FD_FIFO);
	assert_int_equal(t.e[1].kind, CTL_FD_SOCKET);
	fd_table_describe(&t, desc, sizeof(desc));
	char want[128];

	snprintf(want, sizeof(want), "log=%d (fifo), net0=%d (socket)", p[1], sv[0]);
	assert_string_equal(desc, want);
	/* take: the caller owns it now, the table forgets it */
	fd = fd_table_take(&t, "log");
	assert_int_equal(fd, p[1]);
	assert_int_equal(fd_table_find(&t, "log"), -ENOENT);
	assert_int_equal(fd_table_take(&t, "log"), -ENOENT);
	assert_int_equal(t.n, 1);
	assert_string_equal(t.e[0].name, "net0");
	assert_int_equal(write(fd, "x", 1), 1); /* still open: not closed by take */
	close(fd);
	close(sv[1]);
	/* destroy closes what it still holds */
	fd_table_destroy(&t);
	assert_int_equal(t.n, 0);
	assert_int_equal(fcntl(sv[0], F_GETFD), -1);
	{
		char c;

		assert_int_equal(read(p[0], &c, 1), 1);
	}
	assert_eof(p[0]);
}

static void test_refusals(void **state)
{
	struct fd_table t;
	int p[2], dir, closed;
	char err[256];

	(void)state;
	fd_table_init(&t);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	static const char *const bad_names[] = {
		"", "0net", "-x", "a b", "a=b", "a,b", "a/b", "ä",
		"abcdefghijklmnopqrstuvwxyz012345", /* 32 */
	};
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		assert_int_equal(fd_table_add(&t, bad_names[i], p[1], err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "starting with a letter"));
	}
	assert_int_equal(fd_table_add(&t, "abcdefghijklmnopqrstuvwxyz01234", p[1], err, sizeof(err)),
			 0); /* 31: the longest */
	assert_int_equal(fd_table_take(&t, "abcdefghijklmnopqrstuvwxyz01234"), p[1]);
	assert_int_equal(fd_table_add(&t, "x", 2, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "stdio"));
	closed = dup(p[1]);
	close(closed);
	assert_int_equal(fd_table_add(&t, "x", closed, err, sizeof(err)), -EBADF);
	assert_non_null(strstr(err, "not an open descriptor"));
	dir = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dir >= 0);
	assert_int_equal(fd_table_add(&t, "root", dir, err, sizeof(err)), -EISDIR);
	assert_non_null(strstr(err, "directory"));
	close(dir);
	assert_int_equal(fd_table_add(&t, "a", p[1], err, sizeof(err)), 0);
	assert_int_equal(fd_table_add(&t, "a", p[0], err, sizeof(err)), -EEXIST);
	assert_non_null(strstr(err, "taken"));
	assert_int_equal(fd_table_add(&t, "b", p[1], err, sizeof(err)), -EEXIST);
	assert_non_null(strstr(err, "named already"));
	/* Fill it: the refusal leaves the fd with the caller. */
	for (unsigned i = 1; i < FD_TABLE_MAX; i++) {
		char name[8];

		snprintf(name, sizeof(name), "f%u", i);
		assert_int_equal(fd_table_add(&t, name, dup(p[1]), err, sizeof(err)), 0);
	}
	int extra = dup(p[1]);

	assert_int_equal(fd_table_add(&t, "more", extra, err, sizeof(err)), -ENOSPC);
	assert_non_null(strstr(err, "16 named descriptors already"));
	assert_int_equal(fcntl(extra, F_GETFD) >= 0, 1);
	close(extra);
	fd_table_destroy(&t);
	assert_eof(p[0]); /* all 16 copies of the write end closed */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_find_take),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
