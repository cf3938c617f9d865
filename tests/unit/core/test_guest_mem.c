/* test_guest_mem.c — the one checked door to guest memory (hostile-guests.md
 * case 5: addresses beyond RAM, wrapping past 2^64, spanning the MMIO hole). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/guest_mem.h"

static void test_bad_sizes(void **state)
{
	struct guest_mem gm;

	(void)state;
	assert_int_equal(gmem_create(&gm, 0), -EINVAL);
	assert_int_equal(gmem_create(&gm, 4097), -EINVAL);
	assert_int_equal(gmem_create(&gm, GMEM_MAX_SIZE + 4096), -EINVAL);
	gmem_destroy(&gm); /* safe on a failed create */
}

static void test_small_layout(void **state)
{
	struct guest_mem gm;
	uint8_t buf[16] = { 1, 2, 3 }, out[16];

	(void)state;
	assert_int_equal(gmem_create(&gm, 64 << 20), 0);
	assert_int_equal(gm.nregions, 1);
	assert_int_equal(gmem_low_end(&gm), 64 << 20);
	assert_non_null(gmem_ptr(&gm, 0, 64 << 20));
	assert_null(gmem_ptr(&gm, 0, (64 << 20) + 1));
	assert_null(gmem_ptr(&gm, (64 << 20) - 8, 16));          /* runs off the end */
	assert_non_null(gmem_ptr(&gm, 64 << 20, 0));              /* empty range at the end */
	assert_null(gmem_ptr(&gm, UINT64_MAX - 4, 16));           /* wraps past 2^64 */
	assert_null(gmem_ptr(&gm, 8, UINT64_MAX));                /* wraps past 2^64 */
	assert_null(gmem_ptr(&gm, 2ULL << 30, 1));                /* beyond RAM */
	assert_int_equal(gmem_write(&gm, 0x1000, buf, sizeof(buf)), 0);
	assert_int_equal(gmem_read(&gm, out, 0x1000, sizeof(out)), 0);
	assert_memory_equal(buf, out, sizeof(buf));
	assert_int_equal(gmem_write(&gm, (64 << 20) - 4, buf, 8), -EFAULT);
	assert_int_equal(gmem_read(&gm, out, UINT64_MAX, 2), -EFAULT);
	gmem_destroy(&gm);
	gmem_destroy(&gm); /* idempotent */
}

static void test_hole_split(void **state)
{
	struct guest_mem gm;
	uint64_t size = (3ULL << 30) + (64ULL << 20);
	uint32_t v = 0xdeadbeef, r = 0;

	(void)state;
	/* Only virtual address space is reserved; nothing is touched but 2 pages. */
	assert_int_equal(gmem_create(&gm, size), 0);
	assert_int_equal(gm.nregions, 2);
	assert_int_equal(gmem_low_end(&gm), GMEM_MMIO_HOLE_START);
	assert_int_equal(gm.regions[1].gpa, GMEM_MMIO_HOLE_END);
	assert_int_equal(gm.regions[1].size, 64ULL << 20);
	assert_null(gmem_ptr(&gm, GMEM_MMIO_HOLE_START, 1));              /* in the hole */
	assert_null(gmem_ptr(&gm, GMEM_MMIO_HOLE_START - 4, 8));          /* spans into it */
	assert_null(gmem_ptr(&gm, GMEM_MMIO_HOLE_END - 4, 8));            /* spans out of it */
	assert_non_null(gmem_ptr(&gm, GMEM_MMIO_HOLE_END, 64ULL << 20));
	assert_null(gmem_ptr(&gm, GMEM_MMIO_HOLE_END, (64ULL << 20) + 1));
	assert_int_equal(gmem_write(&gm, GMEM_MMIO_HOLE_END + 8, &v, 4), 0);
	assert_int_equal(gmem_read(&gm, &r, GMEM_MMIO_HOLE_END + 8, 4), 0);
	assert_int_equal(r, v);
	/* The high region maps memfd offset 3 GiB: check the two do not alias. */
	assert_ptr_not_equal(gmem_ptr(&gm, 8, 4), gmem_ptr(&gm, GMEM_MMIO_HOLE_END + 8, 4));
	gmem_destroy(&gm);
}

/* A file of `size` bytes, byte i = i * 13; returns its fd. */
static int pattern_file(char *path, size_t pathlen, uint64_t size)
{
	static uint8_t chunk[65536];
	int fd;

	snprintf(path, pathlen, "/tmp/bh-gmem-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	for (uint64_t off = 0; off < size; off += sizeof(chunk)) {
		for (size_t i = 0; i < sizeof(chunk); i++)
			chunk[i] = (uint8_t)((off + i) * 13);
		assert_int_equal(pwrite(fd, chunk, sizeof(chunk), (off_t)off), (ssize_t)sizeof(chunk));
	}
	return fd;
}

/* Guest RAM mapped from a file (a restore): copy-on-write keeps the file
 * intact, shared writes reach it, and a file shorter than the RAM, a
 * directory or a bad size is refused (and the fd is consumed either way). */
static void test_from_fd(void **state)
{
	struct guest_mem gm;
	char path[64];
	uint8_t b = 0, v = 0xee;
	int fd;

	(void)state;
	fd = pattern_file(path, sizeof(path), 1 << 20);
	assert_int_equal(gmem_create_from_fd(&gm, 1 << 20, dup(fd), true), 0);
	assert_int_equal(gmem_read(&gm, &b, 4097, 1), 0);
	assert_int_equal(b, (uint8_t)(4097 * 13));
	assert_int_equal(gmem_write(&gm, 4097, &v, 1), 0);
	assert_int_equal(gmem_read(&gm, &b, 4097, 1), 0);
	assert_int_equal(b, 0xee);
	assert_int_equal(pread(fd, &b, 1, 4097), 1);
	assert_int_equal(b, (uint8_t)(4097 * 13)); /* the file did not change */
	assert_null(gmem_ptr(&gm, (1 << 20) - 1, 2));
	gmem_destroy(&gm);

	assert_int_equal(gmem_create_from_fd(&gm, 1 << 20, dup(fd), false), 0);
	assert_int_equal(gmem_write(&gm, 8191, &v, 1), 0);
	assert_int_equal(pread(fd, &b, 1, 8191), 1);
	assert_int_equal(b, 0xee); /* shared: the write is in the file */
	gmem_destroy(&gm);

	assert_int_equal(gmem_create_from_fd(&gm, 2 << 20, dup(fd), true), -EINVAL);
	assert_int_equal(gmem_create_from_fd(&gm, 4095, dup(fd), true), -EINVAL);
	assert_int_equal(gmem_create_from_fd(&gm, 1 << 20, open("/tmp", O_RDONLY), true), -EINVAL);
	assert_int_equal(gmem_create_from_fd(&gm, 1 << 20, -1, true), -EINVAL);
	close(fd);
	unlink(path);
}

/* gmem_discard (hostile-guests.md cases 38-39: a balloon report outside RAM,
 * in the MMIO hole, unaligned or wrapping releases nothing; a valid one
 * gives the memfd's pages back and the guest reads zeroes). */
static uint64_t memfd_bytes(const struct guest_mem *gm)
{
	struct stat st;

	assert_int_equal(fstat(gm->memfd, &st), 0);
	return (uint64_t)st.st_blocks * 512;
}

static void test_discard(void **state)
{
	struct guest_mem gm;
	uint64_t size = (3ULL << 30) + (16ULL << 20), rel = 1;
	uint8_t *p;
	uint32_t v = 0x5a5a5a5a, r;

	(void)state;
	assert_int_equal(gmem_create(&gm, size), 0);
	assert_int_equal(gmem_discard_page(&gm), 4096);
	p = gmem_ptr(&gm, 1 << 20, 1 << 20);
	assert_non_null(p);
	memset(p, 0xab, 1 << 20);
	assert_int_equal(gmem_write(&gm, GMEM_MMIO_HOLE_END, &v, 4), 0);
	assert_true(memfd_bytes(&gm) >= (1 << 20));
	/* Refused, nothing released: unaligned, empty, outside RAM, the hole,
	 * spanning into it, wrapping. */
	assert_int_equal(gmem_discard(&gm, (1 << 20) + 8, 4096, &rel), -EINVAL);
	assert_int_equal(rel, 0);
	assert_int_equal(gmem_discard(&gm, 1 << 20, 100, &rel), -EINVAL);
	assert_int_equal(gmem_discard(&gm, 1 << 20, 0, &rel), -EINVAL);
	assert_int_equal(gmem_discard(&gm, GMEM_MMIO_HOLE_START, 4096, &rel), -EFAULT);
	assert_int_equal(gmem_discard(&gm, GMEM_MMIO_HOLE_START - 4096, 8192, &rel), -EFAULT);
	assert_int_equal(gmem_discard(&gm, GMEM_MMIO_HOLE_END + (16 << 20), 4096, &rel),
			 -EFAULT);
	assert_int_equal(gmem_discard(&gm, UINT64_MAX - 4095, 8192, &rel), -EFAULT);
	assert_int_equal(gmem_discard(&gm, 4096, UINT64_MAX - 4095, &rel), -EFAULT);
	assert_int_equal(p[0], 0xab);
	/* A valid range: released, reads back as zeroes, the memfd shrinks. */
	assert_int_equal(gmem_discard(&gm, 1 << 20, 1 << 20, &rel), 0);
	assert_int_equal(rel, 1 << 20);
	assert_int_equal(p[0], 0);
	assert_int_equal(p[(1 << 20) - 1], 0);
	assert_true(memfd_bytes(&gm) < (1 << 20));
	/* Twice: harmless, released again (nothing left to free). */
	assert_int_equal(gmem_discard(&gm, 1 << 20, 1 << 20, &rel), 0);
	/* The high region maps memfd offset 3 GiB. */
	assert_int_equal(gmem_discard(&gm, GMEM_MMIO_HOLE_END, 4096, &rel), 0);
	assert_int_equal(gmem_read(&gm, &r, GMEM_MMIO_HOLE_END, 4), 0);
	assert_int_equal(r, 0);
	gmem_destroy(&gm);
}

/* A copy-on-write snapshot mapping: discard drops the VM's copies and never
 * writes the file. */
static void test_discard_cow(void **state)
{
	struct guest_mem gm;
	char path[] = "/tmp/bh-gmem-discard-XXXXXX";
	uint8_t page[4096], *p;
	uint64_t rel;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	unlink(path);
	memset(page, 0x11, sizeof(page));
	for (int i = 0; i < 256; i++)
		assert_int_equal(write(fd, page, sizeof(page)), sizeof(page));
	assert_int_equal(gmem_create_from_fd(&gm, 1 << 20, dup(fd), true), 0);
	p = gmem_ptr(&gm, 8192, 4096);
	memset(p, 0x22, 4096);
	assert_int_equal(gmem_discard(&gm, 8192, 4096, &rel), 0);
	assert_int_equal(rel, 4096);
	assert_int_equal(p[0], 0x11); /* the file's byte again */
	assert_int_equal(pread(fd, page, sizeof(page), 8192), sizeof(page));
	assert_int_equal(page[0], 0x11);
	gmem_destroy(&gm);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_sizes),
		cmocka_unit_test(test_small_layout),
		cmocka_unit_test(test_hole_split),
		cmocka_unit_test(test_from_fd),
		cmocka_unit_test(test_discard),
		cmocka_unit_test(test_discard_cow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
