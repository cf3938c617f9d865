/* test_block_file_ring.c — the io_uring ring is locked down: an operation
 * outside the five the backend uses (here openat, which would bypass a
 * seccomp filter) is refused by the kernel. Includes block_file.c to reach
 * the private ring. */
#include "../../../src/backends/block_file.c"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

static void test_ring_restricted(void **state)
{
	char path[] = "/tmp/bh-ring-XXXXXX", err[256];
	struct block_file *bf;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 4096), 0);
	close(fd);
	assert_int_equal(block_file_open(&bf, path, false, BLOCK_MODE_AUTO, 4, err, sizeof(err)),
			 0);
	if (!block_file_async(bf)) {
		/* io_uring refused on this host: nothing to check. */
		block_file_close(bf);
		unlink(path);
		skip();
	}
	sqe = io_uring_get_sqe(&bf->ring);
	assert_non_null(sqe);
	io_uring_prep_openat(sqe, AT_FDCWD, "/etc/hostname", O_RDONLY, 0);
	io_uring_sqe_set_data64(sqe, 12345);
	assert_int_equal(io_uring_submit(&bf->ring), 1);
	assert_int_equal(io_uring_wait_cqe(&bf->ring, &cqe), 0);
	assert_int_equal(io_uring_cqe_get_data64(cqe), 12345);
	assert_int_equal(cqe->res, -EACCES);
	io_uring_cqe_seen(&bf->ring, cqe);
	/* Register operations are refused too (here: a probe, which worked
	 * before the lock-down). */
	assert_null(io_uring_get_probe_ring(&bf->ring));
	block_file_close(bf);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring_restricted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
