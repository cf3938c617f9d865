/* test_io_bus.c — bus registration and the unclaimed-access rules
 * (hostile-guests.md cases 1 and 2: reads all-ones / zero, writes dropped,
 * straddling accesses never reach a device). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "bus/io_bus.h"

struct rec {
	unsigned reads, writes;
	uint64_t last_off;
	uint32_t last_len;
	uint8_t last_data[8];
};

static void rec_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct rec *r = opaque;

	r->reads++;
	r->last_off = off;
	r->last_len = len;
	memset(data, 0x5a, len);
}

static void rec_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct rec *r = opaque;

	r->writes++;
	r->last_off = off;
	r->last_len = len;
	memcpy(r->last_data, data, len);
}

static const struct io_dev_ops rec_ops = { rec_read, rec_write };

static void test_register(void **state)
{
	struct io_bus bus;
	struct rec a = { 0 }, b = { 0 };

	(void)state;
	io_bus_init(&bus, IO_BUS_PIO);
	assert_int_equal(io_bus_register(&bus, 0x3f8, 8, &rec_ops, &a, "a"), 0);
	assert_int_equal(io_bus_register(&bus, 0x3fc, 8, &rec_ops, &b, "b"), -EEXIST);
	assert_int_equal(io_bus_register(&bus, 0x3f0, 9, &rec_ops, &b, "b"), -EEXIST);
	assert_int_equal(io_bus_register(&bus, 0x3f0, 8, &rec_ops, &b, "b"), 0);
	assert_int_equal(io_bus_register(&bus, 0x10, 0, &rec_ops, &b, "z"), -EINVAL);
	assert_int_equal(io_bus_register(&bus, UINT64_MAX - 2, 8, &rec_ops, &b, "w"), -EINVAL);
	io_bus_seal(&bus);
	assert_int_equal(io_bus_register(&bus, 0x100, 1, &rec_ops, &b, "late"), -EINVAL);
	assert_ptr_equal(io_bus_find(&bus, 0x3f8)->opaque, &a);
	assert_ptr_equal(io_bus_find(&bus, 0x3f7)->opaque, &b);
	assert_null(io_bus_find(&bus, 0x400));
}

static void test_table_full(void **state)
{
	struct io_bus bus;
	struct rec a = { 0 };
	unsigned i;

	(void)state;
	io_bus_init(&bus, IO_BUS_MMIO);
	for (i = 0; i < IO_BUS_MAX_RANGES; i++)
		assert_int_equal(io_bus_register(&bus, 0x1000 * (IO_BUS_MAX_RANGES - i), 0x10,
						 &rec_ops, &a, "r"), 0);
	assert_int_equal(io_bus_register(&bus, 0, 0x10, &rec_ops, &a, "r"), -ENOSPC);
	io_bus_seal(&bus);
	/* Sorted despite reverse insertion: every range is found. */
	for (i = 1; i <= IO_BUS_MAX_RANGES; i++)
		assert_non_null(io_bus_find(&bus, 0x1000 * i + 0xf));
}

static void test_dispatch_and_unclaimed(void **state)
{
	struct io_bus pio, mmio;
	struct rec a = { 0 };
	uint8_t d[8];
	uint32_t v = 0x11223344;

	(void)state;
	io_bus_init(&pio, IO_BUS_PIO);
	io_bus_init(&mmio, IO_BUS_MMIO);
	assert_int_equal(io_bus_register(&pio, 0x60, 1, &rec_ops, &a, "kbd"), 0);
	assert_int_equal(io_bus_register(&mmio, 0xd0000000, 0x1000, &rec_ops, &a, "m"), 0);
	io_bus_seal(&pio);
	io_bus_seal(&mmio);

	assert_true(io_bus_access(&pio, 0x60, d, 1, false));
	assert_int_equal(d[0], 0x5a);
	assert_true(io_bus_access(&pio, 0x60, &v, 1, true));
	assert_int_equal(a.last_data[0], 0x44);

	/* 2-byte access at 0x60 straddles past the 1-byte device: unclaimed. */
	unsigned reads = a.reads;
	memset(d, 0, sizeof(d));
	assert_false(io_bus_access(&pio, 0x60, d, 2, false));
	assert_int_equal(a.reads, reads);
	assert_int_equal(d[0], 0xff);
	assert_int_equal(d[1], 0xff);

	/* Unassigned ports (ATA, floppy) read all-ones at every width. */
	for (uint32_t len = 1; len <= 4; len <<= 1) {
		memset(d, 0, sizeof(d));
		assert_false(io_bus_access(&pio, 0x1f0, d, len, false));
		for (uint32_t i = 0; i < len; i++)
			assert_int_equal(d[i], 0xff);
	}
	/* Unmapped MMIO reads zero, 1..8 bytes; writes are dropped. */
	for (uint32_t len = 1; len <= 8; len <<= 1) {
		memset(d, 0xaa, sizeof(d));
		assert_false(io_bus_access(&mmio, 0xc0000000, d, len, false));
		for (uint32_t i = 0; i < len; i++)
			assert_int_equal(d[i], 0);
	}
	unsigned writes = a.writes;
	assert_false(io_bus_access(&mmio, 0xd0000ffc, &v, 8, true)); /* straddles the end */
	assert_int_equal(a.writes, writes);
	assert_true(io_bus_access(&mmio, 0xd0000ff8, d, 8, false));
	assert_int_equal(a.last_off, 0xff8);
	/* Nonsense sizes never reach a device and never overrun `d`. */
	assert_false(io_bus_access(&mmio, 0xd0000000, d, 0, false));
	assert_false(io_bus_access(&mmio, 0xd0000000, d, 16, true));
	assert_true(atomic_load(&mmio.unclaimed) >= 6);
}

static void test_flood(void **state)
{
	struct io_bus pio;
	uint8_t d = 0;

	(void)state;
	io_bus_init(&pio, IO_BUS_PIO);
	io_bus_seal(&pio);
	/* Rate-limited logging: a million unclaimed accesses finish quickly and
	 * only count. */
	for (unsigned i = 0; i < 1000000; i++)
		io_bus_access(&pio, 0x80 + (i & 7), &d, 1, i & 1);
	assert_int_equal(atomic_load(&pio.unclaimed), 1000000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_register),
		cmocka_unit_test(test_table_full),
		cmocka_unit_test(test_dispatch_and_unclaimed),
		cmocka_unit_test(test_flood),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
