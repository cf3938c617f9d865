/* test_ctl_proto.c — the daemon<->VMM control record: every field a receiver
 * must refuse (size, magic, version, direction, type, reserved bits, reply
 * fields in a request, a status that is not -errno). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "ctl/ctl_proto.h"

static int validate(const struct ctl_msg *m, size_t len, bool reply, char *err)
{
	struct ctl_msg out;

	return ctl_msg_validate(m, len, reply, &out, err, 128);
}

static void test_good(void **state)
{
	struct ctl_msg m, out;
	char err[128];

	(void)state;
	for (unsigned t = CTL_STATUS; t <= CTL_TYPE_MAX; t++) {
		ctl_msg_request(&m, (enum ctl_type)t, 42);
		assert_int_equal(ctl_msg_validate(&m, sizeof(m), false, &out, err, sizeof(err)), 0);
		assert_int_equal(out.seq, 42);
		assert_int_equal(out.type, t);
		m.type |= CTL_REPLY;
		m.status = -EPERM;
		m.state = CTL_ST_PAUSED;
		m.exits = 7;
		assert_int_equal(ctl_msg_validate(&m, sizeof(m), true, &out, err, sizeof(err)), 0);
		assert_int_equal(out.exits, 7);
	}
	assert_string_equal(ctl_type_name(CTL_QUARANTINE | CTL_REPLY), "quarantine");
}

static void test_bad(void **state)
{
	unsigned char buf[sizeof(struct ctl_msg) * 2] = { 0 };
	struct ctl_msg m;
	char err[128];

	(void)state;
	ctl_msg_request(&m, CTL_PAUSE, 1);
	memcpy(buf, &m, sizeof(m));
	for (size_t len = 0; len < sizeof(buf); len++) {
		if (len == sizeof(m))
			continue;
		assert_int_equal(ctl_msg_validate(buf, len, false, &m, err, sizeof(err)), -EPROTO);
		assert_non_null(strstr(err, "bytes"));
	}
	ctl_msg_request(&m, CTL_PAUSE, 1);
	m.magic ^= 1;
	assert_int_equal(validate(&m, sizeof(m), false, err), -EPROTO);
	assert_non_null(strstr(err, "magic"));
	ctl_msg_request(&m, CTL_PAUSE, 1);
	m.version = 2;
	assert_int_equal(validate(&m, sizeof(m), false, err), -EPROTO);
	assert_non_null(strstr(err, "version"));
	ctl_msg_request(&m, CTL_PAUSE, 1);
	assert_int_equal(validate(&m, sizeof(m), true, err), -EPROTO); /* a request as reply */
	assert_non_null(strstr(err, "expected a reply"));
	m.type = 0;
	assert_int_equal(validate(&m, sizeof(m), false, err), -EPROTO);
	m.type = CTL_TYPE_MAX + 1;
	assert_int_equal(validate(&m, sizeof(m), false, err), -EPROTO);
	assert_non_null(strstr(err, "unknown control type"));
	m.type = 0x7fff;
	assert_int_equal(validate(&m, sizeof(m), false, err), -EPROTO);
	ctl_msg_request(&m, CTL_STATUS, 1);
	m.reserved[1] = 1;
	assert_int_equal(validate(&m, sizeof(m), false, err), -EPROTO);
	assert_non_null(strstr(err, "reserved"));
	ctl_msg_request(&m, CTL_STATUS, 1);
	m.exits = 1;
	assert_int_equal(validate(&m, sizeof(m), false, err), -EPROTO);
	assert_non_null(strstr(err, "reply fields"));
	ctl_msg_request(&m, CTL_STATUS, 1);
	m.type |= CTL_REPLY;
	m.status = 5;
	assert_int_equal(validate(&m, sizeof(m), true, err), -EPROTO);
	m.status = -100000;
	assert_int_equal(validate(&m, sizeof(m), true, err), -EPROTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
