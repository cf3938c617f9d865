/* test_log_journal.c — journal-friendly log lines (src/common/log.c): a
 * syslog priority prefix when stderr is systemd's journal, plain lines
 * otherwise, never a timestamp of our own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/log.h"

/* Log to a file standing in for stderr; returns what was written. */
static void log_line(int journal_stream_matches, char *out, size_t outlen)
{
	char tmpl[] = "/tmp/bh-test-log.XXXXXX", js[64];
	int fd = mkstemp(tmpl), saved = dup(STDERR_FILENO);
	struct stat st;
	ssize_t n;

	assert_true(fd >= 0 && saved >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	snprintf(js, sizeof(js), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino + (journal_stream_matches ? 0 : 1));
	setenv("JOURNAL_STREAM", js, 1);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	assert_int_equal(bh_log_detect_journal(), journal_stream_matches);
	bh_info("hello %d", 42);
	bh_err("bad %s", "thing");
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(fd, out, outlen - 1, 0);
	assert_true(n > 0);
	out[n] = '\0';
	close(fd);
	unlink(tmpl);
	unsetenv("JOURNAL_STREAM");
}

/* stderr that is not the journal (JOURNAL_STREAM names another file, as after
 * a redirection): plain lines. Runs before the journal case (the flag, like
 * the level, is set once per process). */
static void test_log_not_journal(void **state)
{
	char out[256];

	(void)state;
	log_line(0, out, sizeof(out));
	assert_string_equal(out, "bulkhead: info: hello 42\nbulkhead: error: bad thing\n");
}

static void test_log_journal(void **state)
{
	char out[256];

	(void)state;
	log_line(1, out, sizeof(out));
	assert_string_equal(out, "<6>bulkhead: info: hello 42\n<3>bulkhead: error: bad thing\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log_not_journal),
		cmocka_unit_test(test_log_journal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
