/* test_state_buf.c — the state serialiser: little-endian round trip, and the
 * reader as a consumer of hostile bytes (never past the end, exact length,
 * strict booleans); the writer's size cap. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "core/state_buf.h"

static void roundtrip(void **state)
{
	struct sbuf b;
	struct sreader r;
	uint8_t raw[3];

	(void)state;
	sbuf_init(&b);
	sbuf_u8(&b, 0xab);
	sbuf_u16(&b, 0x1234);
	sbuf_u32(&b, 0xdeadbeef);
	sbuf_u64(&b, 0x0102030405060708ull);
	sbuf_put(&b, "xyz", 3);
	sbuf_u8(&b, 1);
	assert_int_equal(b.err, 0);
	assert_int_equal(b.len, 1 + 2 + 4 + 8 + 3 + 1);
	assert_int_equal(b.data[1], 0x34); /* little-endian on the wire */
	sr_init(&r, b.data, b.len);
	assert_int_equal(sr_u8(&r), 0xab);
	assert_int_equal(sr_u16(&r), 0x1234);
	assert_int_equal(sr_u32(&r), 0xdeadbeef);
	assert_true(sr_u64(&r) == 0x0102030405060708ull);
	sr_get(&r, raw, 3);
	assert_memory_equal(raw, "xyz", 3);
	assert_true(sr_bool(&r));
	assert_int_equal(sr_finish(&r), 0);
	sbuf_free(&b);
}

static void hostile_reads(void **state)
{
	const uint8_t data[5] = { 1, 2, 3, 4, 5 };
	struct sreader r;

	(void)state;
	/* A read past the end yields zeros and poisons the reader. */
	sr_init(&r, data, 3);
	assert_int_equal(sr_u32(&r), 0);
	assert_true(r.bad);
	assert_int_equal(sr_u8(&r), 0); /* stays bad, reads nothing */
	assert_int_equal(sr_finish(&r), -EINVAL);
	/* Trailing bytes fail too. */
	sr_init(&r, data, 5);
	(void)sr_u32(&r);
	assert_int_equal(sr_finish(&r), -EINVAL);
	/* Booleans are 0 or 1. */
	sr_init(&r, data + 1, 1);
	(void)sr_bool(&r);
	assert_true(r.bad);
	/* Empty input, nothing read: consumed exactly. */
	sr_init(&r, data, 0);
	assert_int_equal(sr_finish(&r), 0);
}

static void writer_cap(void **state)
{
	struct sbuf b;
	static uint8_t big[SBUF_MAX];

	(void)state;
	sbuf_init(&b);
	sbuf_put(&b, big, SBUF_MAX);
	assert_int_equal(b.err, 0);
	sbuf_u8(&b, 1);
	assert_int_equal(b.err, -E2BIG);
	assert_int_equal(b.len, SBUF_MAX); /* sticky: nothing more is added */
	sbuf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(roundtrip),
		cmocka_unit_test(hostile_reads),
		cmocka_unit_test(writer_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
