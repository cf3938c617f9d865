/* test_config_json.c — the JSON VM configuration (bulkhead run --config and
 * the daemon's create call): the key table, the same validation as the CLI
 * options, all-or-nothing application, and messages that name the key. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config/config_json.h"
#include "config/schema.h"

static int parse(const char *text, unsigned flags, struct vm_config *cfg, char *err)
{
	struct json_object *root = NULL;
	int ret = config_json_parse(text, strlen(text), flags, cfg, &root, err, 400);

	if (ret == 0)
		config_json_free(root);
	else
		assert_null(root);
	return ret;
}

static void test_full(void **state)
{
	static const char doc[] =
		"{ \"kernel\": \"/k\", \"initrd\": \"/i\", \"cmdline\": \"console=ttyS0\","
		"  \"mem\": \"1G\", \"cpus\": 4,"
		"  \"console\": { \"mode\": \"file\", \"path\": \"/c.log\", \"max\": \"1M\","
		"                 \"device\": \"virtio\" },"
		"  \"cpu_template\": \"host\", \"boot_protocol\": \"pvh\", \"decompress\": \"guest\","
		"  \"kernel_cache\": \"none\", \"test_device\": true, \"rng\": true,"
		"  \"disks\": [ { \"path\": \"/a.img\", \"read_only\": true, \"id\": \"root\" },"
		"              { \"path\": \"/b.img\" } ] }";
	struct json_object *root;
	struct vm_config cfg;
	char err[400];

	(void)state;
	config_defaults(&cfg);
	assert_int_equal(config_json_parse(doc, sizeof(doc) - 1, CONFIG_JSON_ABS_PATHS |
					   CONFIG_JSON_NEED_KERNEL, &cfg, &root, err, sizeof(err)), 0);
	assert_string_equal(cfg.boot.kernel_path, "/k");
	assert_string_equal(cfg.boot.initrd_path, "/i");
	assert_string_equal(cfg.boot.cmdline, "console=ttyS0");
	assert_int_equal(cfg.mem_bytes, 1ULL << 30);
	assert_int_equal(cfg.ncpus, 4);
	assert_int_equal(cfg.console, CONSOLE_FILE);
	assert_string_equal(cfg.console_path, "/c.log");
	assert_int_equal(cfg.console_max_bytes, 1ULL << 20);
	assert_int_equal(cfg.console_device, CONSOLE_DEV_VIRTIO);
	assert_int_equal(cfg.cpu_template, CPU_TEMPLATE_HOST);
	assert_int_equal(cfg.boot.proto, BOOT_PROTO_PVH);
	assert_int_equal(cfg.boot.decompress, BOOT_DECOMPRESS_GUEST);
	assert_null(cfg.boot.cache_dir);
	assert_true(cfg.test_device);
	assert_true(cfg.rng);
	assert_int_equal(cfg.ndisks, 2);
	assert_string_equal(cfg.disks[0].path, "/a.img");
	assert_true(cfg.disks[0].read_only);
	assert_string_equal(cfg.disks[0].id, "root");
	assert_false(cfg.disks[1].read_only);
	assert_string_equal(cfg.disks[1].id, "");

	/* Written back (what a snapshot records) and read again: the same VM. */
	{
		struct vm_config again;
		struct json_object *root2;
		char text[4096];

		assert_int_equal(config_json_write(&cfg, text, sizeof(text), err, sizeof(err)), 0);
		config_defaults(&again);
		assert_int_equal(config_json_parse(text, strlen(text), CONFIG_JSON_ABS_PATHS, &again,
						   &root2, err, sizeof(err)), 0);
		assert_string_equal(again.boot.kernel_path, "/k");
		assert_string_equal(again.boot.cmdline, "console=ttyS0");
		assert_int_equal(again.mem_bytes, cfg.mem_bytes);
		assert_int_equal(again.ncpus, 4);
		assert_int_equal(again.console, CONSOLE_FILE);
		assert_string_equal(again.console_path, "/c.log");
		assert_int_equal(again.console_max_bytes, cfg.console_max_bytes);
		assert_int_equal(again.console_device, CONSOLE_DEV_VIRTIO);
		assert_int_equal(again.cpu_template, CPU_TEMPLATE_HOST);
		assert_int_equal(again.boot.proto, BOOT_PROTO_PVH);
		assert_null(again.boot.cache_dir);
		assert_true(again.test_device && again.rng);
		assert_int_equal(again.ndisks, 2);
		assert_string_equal(again.disks[0].path, "/a.img");
		assert_true(again.disks[0].read_only);
		assert_string_equal(again.disks[0].id, "root");
		assert_string_equal(again.disks[1].path, "/b.img");
		config_json_free(root2);
		/* Too small a buffer is an error, not a truncated document. */
		assert_int_equal(config_json_write(&cfg, text, 16, err, sizeof(err)), -E2BIG);
	}
	config_json_free(root);

	/* integer memory is MiB, like a bare --mem number */
	config_defaults(&cfg);
	assert_int_equal(parse("{\"kernel\": \"k\", \"mem\": 64}", 0, &cfg, err), 0);
	assert_int_equal(cfg.mem_bytes, 64ULL << 20);
}

static void test_errors(void **state)
{
	static const struct {
		const char *doc;
		unsigned flags;
		const char *needle;
	} cases[] = {
		{ "", 0, "empty" },
		{ "{", 0, "not valid JSON" },
		{ "{} {}", 0, "byte" },
		{ "[]", 0, "expected an object, got an array" },
		{ "{\"kernal\": 1}", 0, "kernal: unknown key" },
		{ "{\"console\": {\"colour\": 1}}", 0, "console.colour: unknown key" },
		{ "{\"disks\": [{\"path\": \"/x\", \"ro\": true}]}", 0, "disks[0].ro: unknown key" },
		{ "{\"cpus\": \"4\"}", 0, "cpus: expected an integer, got a string" },
		{ "{\"cpus\": 4.5}", 0, "cpus: expected an integer, got a fraction" },
		{ "{\"cpus\": 0}", 0, "between 1 and 254" },
		{ "{\"cpus\": 255}", 0, "between 1 and 254" },
		{ "{\"cpus\": -1}", 0, "between 1 and 254" },
		{ "{\"cpus\": 99999999999999999999}", 0, "" },
		{ "{\"mem\": \"12Q\"}", 0, "unknown unit" },
		{ "{\"mem\": \"17179869184T\"}", 0, "overflows" },
		{ "{\"mem\": -5}", 0, "must not be negative" },
		{ "{\"mem\": true}", 0, "expected a size" },
		{ "{\"test_device\": 1}", 0, "test_device: expected a boolean" },
		{ "{\"cpu_template\": \"fast\"}", 0, "expected one of host, baseline" },
		{ "{\"console\": {\"mode\": \"file\"}}", 0, "console.path: needed" },
		{ "{\"console\": \"none\"}", 0, "console: expected an object" },
		{ "{\"kernel\": \"\"}", 0, "kernel: must be 1-" },
		{ "{\"kernel\": \"rel/k\"}", CONFIG_JSON_ABS_PATHS, "must be an absolute path" },
		{ "{\"kernel_cache\": \"rel\"}", CONFIG_JSON_ABS_PATHS, "absolute path or none" },
		{ "{\"cpus\": 1}", CONFIG_JSON_NEED_KERNEL, "kernel: missing" },
		{ "{\"disks\": {}}", 0, "disks: expected an array" },
		{ "{\"disks\": [{}]}", 0, "disks[0].path: missing" },
		{ "{\"disks\": [1]}", 0, "disks[0]: expected an object" },
		{ "{\"disks\": [{\"path\": \"/x\", \"id\": \"a b\"}]}", 0, "printable ASCII" },
		{ "{\"disks\": [{\"path\": \"/x\", \"id\": \"123456789012345678901\"}]}", 0, "disks[0].id" },
		{ "{\"disks\": [{\"path\":\"/a\"},{\"path\":\"/a\"},{\"path\":\"/a\"},{\"path\":\"/a\"},"
		  "{\"path\":\"/a\"},{\"path\":\"/a\"},{\"path\":\"/a\"},{\"path\":\"/a\"},{\"path\":\"/a\"}]}",
		  0, "at most 8" },
		{ "{\"console\": [[[[[[[[[[[[1]]]]]]]]]]]]}", 0, "nesting too deep" },
		{ "{\"kernel\": \"/k\\u0000x\"}", 0, "without NUL" },
	};
	struct vm_config cfg, before;
	char err[400];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		config_defaults(&cfg);
		cfg.ncpus = 3; /* a failed parse leaves the config untouched */
		before = cfg;
		err[0] = '\0';
		int ret = parse(cases[i].doc, cases[i].flags, &cfg, err);

		if (ret == 0 || !strstr(err, cases[i].needle))
			fail_msg("case %zu (%s): ret %d, err '%s', want '%s'", i, cases[i].doc, ret, err,
				 cases[i].needle);
		assert_memory_equal(&cfg, &before, sizeof(cfg));
	}
	/* a NUL byte inside the document, and a document over the size cap */
	{
		struct json_object *root;
		static const char nul[] = "{\"kernel\": \"/k\"}\0x";
		char *big = malloc(CONFIG_JSON_MAX + 2);

		assert_int_equal(config_json_parse(nul, sizeof(nul) - 1, 0, &cfg, &root, err,
						   sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "NUL"));
		assert_non_null(big);
		memset(big, ' ', CONFIG_JSON_MAX + 1);
		assert_int_equal(config_json_parse(big, CONFIG_JSON_MAX + 1, 0, &cfg, &root, err,
						   sizeof(err)), -E2BIG);
		free(big);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
