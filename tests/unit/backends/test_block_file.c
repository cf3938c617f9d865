/* test_block_file.c — the raw image backend, in both engines (io_uring and
 * the synchronous fallback) on real temp files. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "backends/block_file.h"

#define IMG (1 << 20)

struct fx {
	char dir[64];
	char path[96];
	enum block_mode mode;
};

static int setup_mode(void **state, enum block_mode mode)
{
	struct fx *f = calloc(1, sizeof(*f));
	int fd;

	if (!f)
		return -1;
	strcpy(f->dir, "/tmp/bh-bf-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/disk.img", f->dir);
	fd = open(f->path, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0 || ftruncate(fd, IMG) < 0)
		return -1;
	close(fd);
	f->mode = mode;
	*state = f;
	return 0;
}

static int setup_async(void **state)
{
	return setup_mode(state, BLOCK_MODE_AUTO);
}

static int setup_sync(void **state)
{
	return setup_mode(state, BLOCK_MODE_SYNC);
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char p[128];

	unlink(f->path);
	snprintf(p, sizeof(p), "%s/fifo", f->dir);
	unlink(p);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Submit one request and wait (by polling the reap) for its result. */
static int run(struct block_file *bf, struct block_req *req)
{
	struct block_completion c;
	int r = block_file_submit(bf, req);

	if (r)
		return r;
	while (block_file_reap(bf, &c, 1) == 0)
		; /* io_uring: the kernel finishes it; sync: already done */
	assert_int_equal(c.tag, req->tag);
	return c.res;
}

static void test_roundtrip(void **state)
{
	struct fx *f = *state;
	struct block_file *bf;
	char err[256];
	static uint8_t a[4096], b[4096], got[8192];
	struct iovec wv[2] = { { a, sizeof(a) }, { b, sizeof(b) } };
	struct iovec rv[1] = { { got, sizeof(got) } };
	struct block_req w = { BLOCK_OP_WRITE, 4096, 8192, wv, 2, false, 7 };
	struct block_req rd = { BLOCK_OP_READ, 4096, 8192, rv, 1, false, 8 };
	struct block_req fl = { .op = BLOCK_OP_FLUSH, .tag = 9 };
	struct block_req dz = { .op = BLOCK_OP_DISCARD, .offset = 4096, .len = 4096, .tag = 10 };
	struct block_req wz = { .op = BLOCK_OP_WRITE_ZEROES, .offset = 8192, .len = 512,
				.tag = 11 };

	memset(a, 0xa5, sizeof(a));
	memset(b, 0x5a, sizeof(b));
	assert_int_equal(block_file_open(&bf, f->path, false, f->mode, 8, err, sizeof(err)), 0);
	assert_int_equal(block_file_async(bf), f->mode == BLOCK_MODE_AUTO);
	assert_int_equal(block_file_size(bf), IMG);
	assert_int_equal(run(bf, &w), 0);
	assert_int_equal(run(bf, &fl), 0);
	assert_int_equal(run(bf, &rd), 0);
	assert_memory_equal(got, a, 4096);
	assert_memory_equal(got + 4096, b, 4096);
	assert_int_equal(run(bf, &dz), 0);
	assert_int_equal(run(bf, &wz), 0);
	rv[0] = (struct iovec){ got, sizeof(got) };
	assert_int_equal(run(bf, &rd), 0);
	for (unsigned i = 0; i < 4096 + 512; i++)
		assert_int_equal(got[i], 0);
	assert_int_equal(got[4096 + 512], 0x5a);
	/* zero-length read completes */
	rd.len = 0;
	rd.iovcnt = 0;
	assert_int_equal(run(bf, &rd), 0);
	/* ranges past the end are refused before any I/O */
	rd = (struct block_req){ BLOCK_OP_READ, IMG - 512, 1024, rv, 1, false, 1 };
	assert_int_equal(block_file_submit(bf, &rd), -EINVAL);
	rd.offset = UINT64_MAX - 100;
	assert_int_equal(block_file_submit(bf, &rd), -EINVAL);
	assert_int_equal(block_file_inflight(bf), 0);
	block_file_close(bf);
}

static void test_depth_and_drain(void **state)
{
	struct fx *f = *state;
	struct block_file *bf;
	char err[256];
	static uint8_t buf[4][512];
	struct iovec v[4];
	struct block_req r[4];
	struct block_completion c[4];
	unsigned got = 0;

	assert_int_equal(block_file_open(&bf, f->path, false, f->mode, 3, err, sizeof(err)), 0);
	for (unsigned i = 0; i < 4; i++) {
		v[i] = (struct iovec){ buf[i], 512 };
		r[i] = (struct block_req){ BLOCK_OP_READ, 512ULL * i, 512, &v[i], 1, false, i };
	}
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(block_file_submit(bf, &r[i]), 0);
	assert_int_equal(block_file_submit(bf, &r[3]), -EAGAIN);
	assert_int_equal(block_file_inflight(bf), 3);
	block_file_drain(bf);
	assert_int_equal(block_file_inflight(bf), 0);
	assert_int_equal(block_file_reap(bf, c, 4), 0); /* drained ones are gone */
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(block_file_submit(bf, &r[i]), 0);
	while (got < 3)
		got += block_file_reap(bf, c + got, 1);
	assert_int_equal(block_file_inflight(bf), 0);
	block_file_close(bf);
}

static void test_read_only(void **state)
{
	struct fx *f = *state;
	struct block_file *bf;
	char err[256];
	uint8_t buf[512] = { 1 };
	struct iovec v = { buf, 512 };
	struct block_req w = { BLOCK_OP_WRITE, 0, 512, &v, 1, false, 1 };
	struct block_req d = { .op = BLOCK_OP_DISCARD, .len = 512 };
	struct block_req fl = { .op = BLOCK_OP_FLUSH };

	assert_int_equal(block_file_open(&bf, f->path, true, f->mode, 4, err, sizeof(err)), 0);
	assert_true(block_file_read_only(bf));
	assert_int_equal(block_file_submit(bf, &w), -EBADF);
	assert_int_equal(block_file_submit(bf, &d), -EBADF);
	assert_int_equal(run(bf, &fl), 0);
	block_file_close(bf);
}

static void test_open_errors(void **state)
{
	struct fx *f = *state;
	struct block_file *bf = (struct block_file *)1;
	char err[256], p[128];

	assert_int_equal(block_file_open(&bf, "/nonexistent/disk.img", false, f->mode, 4, err,
					 sizeof(err)), -ENOENT);
	assert_null(bf);
	assert_non_null(strstr(err, "/nonexistent/disk.img"));
	assert_int_equal(block_file_open(&bf, f->dir, true, f->mode, 4, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "not a regular file"));
	snprintf(p, sizeof(p), "%s/fifo", f->dir);
	assert_int_equal(mkfifo(p, 0600), 0);
	/* A FIFO must neither hang the open nor be accepted. */
	assert_int_equal(block_file_open(&bf, p, true, f->mode, 4, err, sizeof(err)), -EINVAL);
	assert_int_equal(block_file_open(&bf, f->path, false, f->mode, 0, err, sizeof(err)),
			 -EINVAL);
	chmod(f->path, 0400);
	if (geteuid() != 0) /* root ignores the mode */
		assert_int_equal(block_file_open(&bf, f->path, false, f->mode, 4, err,
						 sizeof(err)), -EACCES);
	assert_int_equal(block_file_open(&bf, f->path, true, f->mode, 4, err, sizeof(err)), 0);
	block_file_close(bf);
	block_file_close(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip, setup_async, teardown),
		cmocka_unit_test_setup_teardown(test_roundtrip, setup_sync, teardown),
		cmocka_unit_test_setup_teardown(test_depth_and_drain, setup_async, teardown),
		cmocka_unit_test_setup_teardown(test_depth_and_drain, setup_sync, teardown),
		cmocka_unit_test_setup_teardown(test_read_only, setup_async, teardown),
		cmocka_unit_test_setup_teardown(test_read_only, setup_sync, teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, setup_async, teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, setup_sync, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
