/* test_console.c — the console backend: the output cap (a flooding guest
 * cannot fill the disk), a stalled reader never delays a VM stop, and a FIFO
 * without a reader is an error, not a hang. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "vmm/console.h"

static char dir[] = "/tmp/bh-console-XXXXXX";

static void test_file_cap(void **state)
{
	struct console c;
	char path[64], err[256], buf[64];
	const struct char_sink *s;
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/out", dir);
	assert_int_equal(console_open(&c, CONSOLE_FILE, path, 10, -1, err, sizeof(err)), 0);
	s = console_sink(&c);
	char_sink_write(s, (const uint8_t *)"0123456789abcdefghij", 20);
	char_sink_write(s, (const uint8_t *)"x", 1);
	assert_int_equal(c.written, 10);
	assert_int_equal(c.dropped, 11);
	console_close(&c);
	console_close(&c); /* idempotent */
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), 10);
	assert_memory_equal(buf, "0123456789", 10);
	close(fd);

	/* Unwritable path and a symlink as last component: errors naming it. */
	snprintf(path, sizeof(path), "%s/no/such", dir);
	assert_int_equal(console_open(&c, CONSOLE_FILE, path, 10, -1, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, path));
	snprintf(path, sizeof(path), "%s/link", dir);
	assert_int_equal(symlink("/etc/passwd", path), 0);
	assert_int_equal(console_open(&c, CONSOLE_FILE, path, 10, -1, err, sizeof(err)), -ELOOP);
}

static void test_fifo_without_reader(void **state)
{
	struct console c;
	char path[64], err[256];

	(void)state;
	snprintf(path, sizeof(path), "%s/fifo", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(console_open(&c, CONSOLE_FILE, path, 10, -1, err, sizeof(err)), -ENXIO);
	assert_non_null(strstr(err, "fifo"));
}

struct writer {
	struct console *c;
	volatile int done;
};

static void *write_one(void *arg)
{
	struct writer *w = arg;

	char_sink_write(console_sink(w->c), (const uint8_t *)"z", 1);
	w->done = 1;
	return NULL;
}

static void test_stalled_reader_does_not_block_stop(void **state)
{
	struct console c;
	struct writer w = { &c, 0 };
	char path[64], err[256], junk[4096];
	pthread_t t;
	int rfd, wfd, stop;
	uint64_t one = 1;

	(void)state;
	snprintf(path, sizeof(path), "%s/fifo2", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	rfd = open(path, O_RDONLY | O_NONBLOCK); /* a reader that never reads */
	assert_true(rfd >= 0);
	stop = eventfd(0, EFD_CLOEXEC);
	assert_true(stop >= 0);
	assert_int_equal(console_open(&c, CONSOLE_FILE, path, 1 << 30, stop, err, sizeof(err)), 0);
	/* Fill the pipe to the brim through a second, non-blocking writer. */
	wfd = open(path, O_WRONLY | O_NONBLOCK);
	assert_true(wfd >= 0);
	memset(junk, 'j', sizeof(junk));
	while (write(wfd, junk, sizeof(junk)) > 0)
		;
	assert_int_equal(errno, EAGAIN);

	assert_int_equal(pthread_create(&t, NULL, write_one, &w), 0);
	usleep(100 * 1000);
	assert_int_equal(w.done, 0); /* the guest's vCPU waits for the reader... */
	assert_int_equal(write(stop, &one, sizeof(one)), (ssize_t)sizeof(one));
	for (int i = 0; i < 200 && !w.done; i++) /* ...until the VM stops */
		usleep(10 * 1000);
	assert_int_equal(w.done, 1);
	pthread_join(t, NULL);
	assert_int_equal(c.dropped, 1);
	console_close(&c);
	close(wfd);
	close(rfd);
	close(stop);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_cap),
		cmocka_unit_test(test_fifo_without_reader),
		cmocka_unit_test(test_stalled_reader_does_not_block_stop),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
