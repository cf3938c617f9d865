/* test_args.c — strict option parsing (hostile-guests.md case 30: nonsense
 * sizes, 0 vCPUs, 10^9 vCPUs, memory that overflows when converted). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "config/args.h"

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

static void test_disks(void **state)
{
	struct virtio_blk_disk d;
	char path[64], err[256];

	(void)state;
	assert_int_equal(args_parse_disk("--disk", "path=/a/b.img", &d, path, sizeof(path), err,
					 sizeof(err)), 0);
	assert_string_equal(d.path, "/a/b.img");
	assert_false(d.read_only);
	assert_string_equal(d.id, "");
	assert_int_equal(args_parse_disk("--disk", "ro=on,id=disk-1,path=x.img", &d, path,
					 sizeof(path), err, sizeof(err)), 0);
	assert_string_equal(d.path, "x.img");
	assert_true(d.read_only);
	assert_string_equal(d.id, "disk-1");
	assert_int_equal(args_parse_disk("--disk", "path=x,ro=off", &d, path, sizeof(path), err,
					 sizeof(err)), 0);
	assert_false(d.read_only);
	/* each of these is refused with a message naming the problem */
	static const char *bad[] = {
		"", "x.img", "path=", "ro=on", "path=a,path=b", "path=a,ro=yes", "path=a,ro=on,ro=on",
		"path=a,id=", "path=a,id=123456789012345678901", "path=a,id=has space",
		"path=a,size=3", "path=a,b.img", "path=a,", "path=a,,ro=on", "=x", "path=a,id=x=y",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_not_equal(args_parse_disk("--disk", bad[i], &d, path, sizeof(path), err,
						     sizeof(err)), 0);
		assert_non_null(strstr(err, "--disk"));
	}
	/* the path must fit the caller's buffer */
	assert_int_equal(args_parse_disk("--disk", "path=0123456789", &d, path, 8, err,
					 sizeof(err)), -ENAMETOOLONG);
}

/* --fd NAME=N: syntax only (the descriptor itself is fd_table's check). */
static void test_named_fds(void **state)
{
	char name[BH_FD_NAME_MAX + 1], err[256];
	int fd = -1;

	(void)state;
	assert_int_equal(args_parse_named_fd("--fd", "net0=5", name, &fd, err, sizeof(err)), 0);
	assert_string_equal(name, "net0");
	assert_int_equal(fd, 5);
	assert_int_equal(args_parse_named_fd("--fd", "a.b-c_9=1048576", name, &fd, err,
					     sizeof(err)), 0);
	assert_string_equal(name, "a.b-c_9");
	static const char *const bad[] = {
		"net0", "=5", "net0=", "net0=2", "net0=-3", "net0=+3", "net0=3x", "net0=1048577",
		"0net=5", "a b=5", "a=b=5", "abcdefghijklmnopqrstuvwxyz012345=5", "ä=5",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(args_parse_named_fd("--fd", bad[i], name, &fd, err, sizeof(err)),
				 -EINVAL);
		assert_non_null(strstr(err, "--fd"));
		assert_non_null(strstr(err, bad[i]));
	}
	assert_int_equal(args_parse_named_fd("--fd", NULL, name, &fd, err, sizeof(err)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_uints),
		cmocka_unit_test(test_disks),
		cmocka_unit_test(test_named_fds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
