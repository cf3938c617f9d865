/* test_status.c — the one table from a daemon operation's -errno to its HTTP
 * status: another user's VM and a missing one read the same (404), a hung
 * VMM is a 504, a lying one a 502, a used-up fair share a 429. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "api/api.h"

static void test_map(void **state)
{
	(void)state;
	assert_int_equal(api_status_of(0), 200);
	assert_int_equal(api_status_of(-EINPROGRESS), 202);
	assert_int_equal(api_status_of(-ENOENT), 404);
	assert_int_equal(api_status_of(-EACCES), 403); /* an unreadable snapshot path */
	assert_int_equal(api_status_of(-EBUSY), 409);
	assert_int_equal(api_status_of(-EEXIST), 409);
	assert_int_equal(api_status_of(-EBADMSG), 422);
	assert_int_equal(api_status_of(-EDQUOT), 429);
	assert_int_equal(api_status_of(-EPROTO), 502);
	assert_int_equal(api_status_of(-EPIPE), 502);
	assert_int_equal(api_status_of(-ENOTSUP), 503);
	assert_int_equal(api_status_of(-ETIMEDOUT), 504);
	assert_int_equal(api_status_of(-EXDEV), 500); /* unknown: a host failure */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_map),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
