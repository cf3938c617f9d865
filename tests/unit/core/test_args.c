/* test_args.c — strict option parsing (hostile-guests.md case 30: nonsense
 * sizes, 0 vCPUs, 10^9 vCPUs, memory that overflows when converted). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cli/args.h"

static void test_sizes(void **state)
{
	char err[256];
	uint64_t v;

	(void)state;
	assert_int_equal(args_parse_size("--mem", "256", BH_MiB, &v, err, sizeof(err)), 0);
	assert_int_equal(v, 256 * BH_MiB);
	assert_int_equal(args_parse_size("--mem", "2G", BH_MiB, &v, err, sizeof(err)), 0);
	assert_int_equal(v, 2 * BH_GiB);
	assert_int_equal(args_parse_size("--mem", "512MiB", BH_MiB, &v, err, sizeof(err)), 0);
	assert_int_equal(v, 512 * BH_MiB);
	assert_int_equal(args_parse_size("--mem", "4096b", BH_MiB, &v, err, sizeof(err)), 0);
	assert_int_equal(v, 4096);

	assert_int_equal(args_parse_size("--mem", "", BH_MiB, &v, err, sizeof(err)), -EINVAL);
	assert_int_equal(args_parse_size("--mem", "-1", BH_MiB, &v, err, sizeof(err)), -EINVAL);
	assert_int_equal(args_parse_size("--mem", "12Q", BH_MiB, &v, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--mem"));
	assert_non_null(strstr(err, "unknown unit"));
	assert_int_equal(args_parse_size("--mem", "0x10", BH_MiB, &v, err, sizeof(err)), -EINVAL);
	assert_int_equal(args_parse_size("--mem", "99999999999999999999", BH_MiB, &v, err,
					 sizeof(err)), -ERANGE);
	assert_int_equal(args_parse_size("--mem", "17179869184T", BH_MiB, &v, err, sizeof(err)),
			 -ERANGE);
	assert_non_null(strstr(err, "overflows"));
	assert_int_equal(args_parse_size("--mem", "18446744073709551615", BH_MiB, &v, err,
					 sizeof(err)), -ERANGE);
}

static void test_uints(void **state)
{
	char err[256];
	unsigned v;

	(void)state;
	assert_int_equal(args_parse_uint("--cpus", "4", 1, 255, &v, err, sizeof(err)), 0);
	assert_int_equal(v, 4);
	assert_int_equal(args_parse_uint("--cpus", "0", 1, 255, &v, err, sizeof(err)), -ERANGE);
	assert_non_null(strstr(err, "between 1 and 255"));
	assert_int_equal(args_parse_uint("--cpus", "1000000000", 1, 255, &v, err, sizeof(err)),
			 -ERANGE);
	assert_int_equal(args_parse_uint("--cpus", "99999999999999999999999", 1, 255, &v, err,
					 sizeof(err)), -ERANGE);
	assert_int_equal(args_parse_uint("--cpus", "2x", 1, 255, &v, err, sizeof(err)), -EINVAL);
	assert_int_equal(args_parse_uint("--cpus", "", 1, 255, &v, err, sizeof(err)), -EINVAL);
	assert_int_equal(args_parse_uint("--cpus", "-2", 1, 255, &v, err, sizeof(err)), -EINVAL);
	assert_int_equal(args_parse_uint("--cpus", NULL, 1, 255, &v, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--cpus"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_uints),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
