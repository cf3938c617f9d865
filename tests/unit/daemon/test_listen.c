/* test_listen.c — socket activation of bulkheadd (src/daemon/listen.c, the
 * sd_listen_fds protocol systemd and systemd-socket-activate speak). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/listen.h"

static char sock_path[108];

/* Put `fd` at 3 (where the protocol passes the first socket). */
static void at_fd3(int fd)
{
	if (fd == 3)
		return; /* 3 was free: it is there already */
	assert_int_equal(dup2(fd, 3), 3);
	close(fd);
}

static int listening_unix(const char *path, int do_listen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	if (do_listen)
		assert_int_equal(listen(fd, 4), 0);
	return fd;
}

static void set_env(const char *pid, const char *fds)
{
	char buf[32];

	if (!pid) {
		snprintf(buf, sizeof(buf), "%ld", (long)getpid());
		pid = buf;
	}
	setenv("LISTEN_PID", pid, 1);
	setenv("LISTEN_FDS", fds, 1);
	setenv("LISTEN_FDNAMES", "bulkheadd.socket", 1);
}

static void assert_env_cleared(void)
{
	assert_null(getenv("LISTEN_PID"));
	assert_null(getenv("LISTEN_FDS"));
	assert_null(getenv("LISTEN_FDNAMES"));
}

static void test_not_activated(void **state)
{
	char path[108], err[256] = "";

	(void)state;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	assert_int_equal(dmn_listen_activated(path, sizeof(path), err, sizeof(err)), -ENOENT);
	assert_string_equal(path, "");
}

/* Variables meant for our parent (LISTEN_PID is not us): not ours, and
 * removed so that children do not see them either. */
static void test_other_pid(void **state)
{
	char path[108], err[256] = "";

	(void)state;
	set_env("1", "1");
	assert_int_equal(dmn_listen_activated(path, sizeof(path), err, sizeof(err)), -ENOENT);
	assert_env_cleared();
}

static void test_malformed(void **state)
{
	char path[108], err[256] = "";

	(void)state;
	set_env(NULL, "one");
	assert_int_equal(dmn_listen_activated(path, sizeof(path), err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "LISTEN_FDS='one'"));
	assert_env_cleared();
	set_env(NULL, "-1");
	assert_int_equal(dmn_listen_activated(path, sizeof(path), err, sizeof(err)), -EINVAL);
}

static void test_two_sockets(void **state)
{
	char path[108], err[256] = "";

	(void)state;
	set_env(NULL, "2");
	assert_int_equal(dmn_listen_activated(path, sizeof(path), err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "2 sockets passed, expected exactly 1"));
}

static void test_not_a_socket(void **state)
{
	char path[108], err[256] = "";
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	at_fd3(p[0]);
	close(p[1]);
	set_env(NULL, "1");
	assert_int_equal(dmn_listen_activated(path, sizeof(path), err, sizeof(err)), -ENOTSOCK);
	assert_non_null(strstr(err, "fd 3 is not a socket"));
	close(3);
}

static void test_not_listening(void **state)
{
	char path[108], err[256] = "";

	(void)state;
	at_fd3(listening_unix(sock_path, 0));
	set_env(NULL, "1");
	assert_int_equal(dmn_listen_activated(path, sizeof(path), err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not listening"));
	close(3);
	at_fd3(socket(AF_UNIX, SOCK_DGRAM, 0));
	set_env(NULL, "1");
	assert_int_equal(dmn_listen_activated(path, sizeof(path), err, sizeof(err)), -EPROTOTYPE);
	close(3);
}

static void test_activated(void **state)
{
	char path[108], err[256] = "";
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, c;

	(void)state;
	at_fd3(listening_unix(sock_path, 1));
	set_env(NULL, "1");
	fd = dmn_listen_activated(path, sizeof(path), err, sizeof(err));
	assert_int_equal(fd, 3);
	assert_string_equal(path, sock_path);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC); /* VMMs must not inherit it */
	assert_env_cleared();
	/* and it is the socket clients reach */
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	assert_int_equal(connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(c);
	close(fd);
	unlink(sock_path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_not_activated),
		cmocka_unit_test(test_other_pid),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_two_sockets),
		cmocka_unit_test(test_not_a_socket),
		cmocka_unit_test(test_not_listening),
		cmocka_unit_test(test_activated),
	};

	snprintf(sock_path, sizeof(sock_path), "/tmp/bh-test-listen.%ld.sock", (long)getpid());
	return cmocka_run_group_tests(tests, NULL, NULL);
}
