/* test_schema.c — the one configuration schema (src/config/schema.c): the
 * table is well-formed, its defaults are the documented ones and are applied
 * the same by both front ends, and `bulkhead run` options and the JSON of
 * --config / the daemon give the same vm_config for equivalent input — for
 * every row that has both forms, generated from the table itself, so a new
 * row is covered without touching this file. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config/config_json.h"
#include "config/exit_codes.h"
#include "config/cpu_place.h"
#include "config/schema.h"
#include "config/schema_parse.h"

/* Compare two configurations: the strings by content, everything else
 * (including fields no row sets) byte for byte. */
static void normalise(struct vm_config *c, const char **strs, size_t *n)
{
	size_t nrows;
	const struct config_row *rows = config_rows(&nrows);

	*n = 0;
	for (size_t i = 0; i < nrows; i++) {
		const struct config_row *r = &rows[i];

		if ((r->type != CONFIG_STR && r->type != CONFIG_PATH) || (r->flags & CONFIG_INLINE))
			continue;
		if (r->target == CONFIG_TO_VM) {
			const char **f = (const char **)((char *)c + r->off);

			strs[(*n)++] = *f;
			*f = NULL;
		} else if (r->target == CONFIG_TO_DISK) {
			for (unsigned d = 0; d < VM_MAX_DISKS; d++) {
				const char **f = (const char **)((char *)&c->disks[d] + r->off);

				strs[(*n)++] = *f;
				*f = NULL;
			}
		}
	}
}

static void assert_same_config(const struct vm_config *a, const struct vm_config *b,
			       const char *what)
{
	struct vm_config x = *a, y = *b;
	const char *sx[64], *sy[64];
	size_t nx, ny;

	normalise(&x, sx, &nx);
	normalise(&y, sy, &ny);
	assert_int_equal(nx, ny);
	for (size_t i = 0; i < nx; i++)
		if ((sx[i] == NULL) != (sy[i] == NULL) || (sx[i] && strcmp(sx[i], sy[i])))
			fail_msg("%s: string %zu differs: '%s' vs '%s'", what, i,
				 sx[i] ? sx[i] : "(null)", sy[i] ? sy[i] : "(null)");
	if (memcmp(&x, &y, sizeof(x)))
		fail_msg("%s: the configurations differ", what);
}

/* Writable copies of command-line words (the vm_config points into them). */
struct words {
	char *argv[32];
	char text[8192];
	size_t used;
	int argc;
};

static void words_add(struct words *w, const char *s)
{
	size_t len = strlen(s) + 1;

	assert_true(w->argc < 31 && w->used + len <= sizeof(w->text));
	memcpy(w->text + w->used, s, len);
	w->argv[w->argc++] = w->text + w->used;
	w->argv[w->argc] = NULL;
	w->used += len;
}

/* Parse `bulkhead run ARGS...` (NULL-terminated) over the defaults. */
static int cli(struct vm_config *cfg, struct run_opts *run, char *err, struct words *w, ...)
{
	const char *a;
	va_list ap;

	w->argc = 0;
	w->used = 0;
	words_add(w, "run");
	va_start(ap, w);
	while ((a = va_arg(ap, const char *)))
		words_add(w, a);
	va_end(ap);
	config_defaults(cfg);
	return config_cli_parse(w->argc, w->argv, cfg, run, err, 400);
}

/* The same from an array of at most `max` words (NULL ends it early). */
static int cli_list(struct vm_config *cfg, struct run_opts *run, char *err, struct words *w,
		    const char *const *args, size_t max)
{
	w->argc = 0;
	w->used = 0;
	words_add(w, "run");
	for (size_t i = 0; i < max && args[i]; i++)
		words_add(w, args[i]);
	config_defaults(cfg);
	return config_cli_parse(w->argc, w->argv, cfg, run, err, 400);
}

static int json(const char *doc, struct vm_config *cfg, struct json_object **root, char *err)
{
	config_defaults(cfg);
	return config_json_parse(doc, strlen(doc), 0, cfg, root, err, 400);
}

static void test_table(void **state)
{
	size_t n;
	const struct config_row *rows = config_rows(&n);
	struct vm_config cfg;
	struct virtio_blk_disk disk;
	struct run_opts *run = calloc(1, sizeof(*run));
	char err[400];
	struct config_parse p = { .cfg = &cfg, .run = run, .disk = &disk, .err = err,
				  .errlen = sizeof(err) };

	(void)state;
	assert_non_null(run);
	assert_true(n <= CONFIG_ROWS_MAX);
	for (size_t i = 0; i < n; i++) {
		const struct config_row *r = &rows[i];
		const char *name = r->json ? r->json : r->cli;

		assert_non_null(name);
		assert_ptr_equal(config_row_find(name), r); /* names are unique */
		for (size_t j = 0; j < i; j++) {
			if (r->cli && rows[j].cli)
				assert_string_not_equal(r->cli, rows[j].cli);
			if (r->short_opt)
				assert_int_not_equal(r->short_opt, rows[j].short_opt);
		}
		if (r->cli)
			assert_non_null(r->help); /* every option is in --help */
		if (r->cli && !r->parse && r->type != CONFIG_BOOL && r->type != CONFIG_CONST)
			assert_non_null(r->metavar);
		if (r->type == CONFIG_ENUM)
			assert_non_null(r->names);
		if (r->type == CONFIG_ARRAY) /* config_json.c fills vm_config.disks[] */
			assert_string_equal(r->json, "disks");
		if (r->json && strchr(r->json, '.')) { /* a member: its parent is an object row */
			char parent[64];
			const struct config_row *pr;

			snprintf(parent, sizeof(parent), "%.*s", (int)strcspn(r->json, ".["),
				 r->json);
			pr = config_row_find(parent);
			assert_non_null(pr);
			assert_true(pr->type == (strchr(r->json, '[') ? CONFIG_ARRAY : CONFIG_OBJECT));
		}
		/* the default parses with the row's own parser, into a field of the
		 * row type's size */
		if (r->def && !(r->flags & CONFIG_HOST_DEFAULT))
			if (config_set_text(&p, r, name, r->def))
				fail_msg("row %s: default '%s': %s", name, r->def, err);
	}
	free(run);
}

static void test_defaults(void **state)
{
	struct vm_config d, c;
	struct run_opts *run = malloc(sizeof(*run));
	struct words *w = malloc(sizeof(*w));
	struct json_object *root;
	char err[400];

	(void)state;
	assert_non_null(run);
	assert_non_null(w);
	config_defaults(&d);
	/* what README.md, --help and api/openapi.yaml document */
	assert_int_equal(d.mem_bytes, 256ULL << 20);
	assert_int_equal(d.ncpus, 1);
	assert_string_equal(d.boot.cmdline, "console=ttyS0 reboot=k panic=-1");
	assert_null(d.boot.kernel_path);
	assert_null(d.boot.initrd_path);
	assert_null(d.boot.cache_dir); /* host default: the front end fills it in */
	assert_int_equal(d.boot.proto, BOOT_PROTO_AUTO);
	assert_int_equal(d.boot.decompress, BOOT_DECOMPRESS_HOST);
	assert_int_equal(d.console, CONSOLE_STDIO);
	assert_int_equal(d.console_device, CONSOLE_DEV_UART);
	assert_int_equal(d.console_max_bytes, 64ULL << 20);
	assert_int_equal(d.cpu_template, CPU_TEMPLATE_BASELINE);
	assert_true(d.rng); /* was off in the JSON defaults: the drift this fixes */
	assert_false(d.test_device);
	assert_int_equal(d.ndisks, 0);

	/* no options and an empty document give the defaults */
	assert_int_equal(cli(&c, run, err, w, NULL), 0);
	assert_same_config(&c, &d, "no options");
	assert_false(config_given(run, "cmdline"));
	assert_false(config_given(run, "kernel_cache"));
	run_opts_free(run);
	assert_int_equal(json("{}", &c, &root, err), 0);
	assert_same_config(&c, &d, "{}");
	config_json_free(root);
	free(run);
	free(w);
}

/* A value to try for a row, as option text and as JSON text. */
struct sample {
	const char *cli;  /* NULL: the flag alone (BOOL true) */
	const char *json;
	bool neg;         /* BOOL false: the negative option */
};

static size_t samples(const struct config_row *r, struct sample *s, char (*buf)[64])
{
	size_t n = 0;

	switch (r->type) {
	case CONFIG_ENUM:
		for (int i = 0; r->names[i] && n < 8; i++, n++) {
			/* 1G pages do not divide the default --mem (256M): the
			 * cross-row check is test_cpu_place.c's test_validate. */
			if (r->json && !strcmp(r->json, "hugepages") && !strcmp(r->names[i], "1G"))
				break;
			snprintf(buf[n], 64, "\"%s\"", r->names[i]);
			s[n] = (struct sample){ r->names[i], buf[n], false };
		}
		break;
	case CONFIG_BOOL:
		s[n++] = (struct sample){ NULL, "true", false };
		if (r->cli_neg)
			s[n++] = (struct sample){ NULL, "false", true };
		break;
	case CONFIG_UINT:
		snprintf(buf[0], 64, "%llu", (unsigned long long)r->min);
		snprintf(buf[1], 64, "%llu", (unsigned long long)r->max);
		snprintf(buf[2], 64, "%llu", (unsigned long long)(r->min + r->max) / 2);
		for (n = 0; n < 3; n++)
			s[n] = (struct sample){ buf[n], buf[n], false };
		break;
	case CONFIG_SIZE:
		s[n++] = (struct sample){ "2G", "\"2G\"", false };
		s[n++] = (struct sample){ "12345", "12345", false };
		s[n++] = (struct sample){ "64MiB", "\"64MiB\"", false };
		break;
	case CONFIG_STR:
		if (r->check == cpu_place_check_syntax) /* a CPU list: host CPU 0 */
			s[n++] = (struct sample){ "0", "\"0\"", false };
		else
			s[n++] = (struct sample){ "abc=d e", "\"abc=d e\"", false };
		break;
	case CONFIG_PATH:
		s[n++] = (struct sample){ "/var/x.img", "\"/var/x.img\"", false };
		s[n++] = (struct sample){ "rel/y", "\"rel/y\"", false };
		if (r->flags & CONFIG_NONE_WORD)
			s[n++] = (struct sample){ "none", "\"none\"", false };
		break;
	default:
		break;
	}
	return n;
}

/* {"a": V} or {"a": {"b": V}} for key "a" / "a.b". */
static void json_doc(char *doc, size_t len, const char *key, const char *value)
{
	const char *dot = strchr(key, '.');

	if (dot)
		snprintf(doc, len, "{\"%.*s\": {\"%s\": %s}}", (int)(dot - key), key, dot + 1,
			 value);
	else
		snprintf(doc, len, "{\"%s\": %s}", key, value);
}

static void test_cli_equals_json_per_row(void **state)
{
	size_t n, tried = 0;
	const struct config_row *rows = config_rows(&n);
	struct run_opts *run = malloc(sizeof(*run));
	struct words *w = malloc(sizeof(*w));

	(void)state;
	assert_non_null(run);
	assert_non_null(w);
	for (size_t i = 0; i < n; i++) {
		const struct config_row *r = &rows[i];
		struct sample s[8];
		char buf[8][64], opt[80], doc[256], err[400];
		size_t ns;

		if (!r->cli || !r->json || r->parse || strchr(r->json, '['))
			continue;
		ns = samples(r, s, buf);
		assert_true(ns > 0);
		for (size_t k = 0; k < ns; k++) {
			struct vm_config a, b;
			struct json_object *root;
			int ret;

			snprintf(opt, sizeof(opt), "--%s", s[k].neg ? r->cli_neg : r->cli);
			ret = s[k].cli ? cli(&a, run, err, w, opt, s[k].cli, NULL)
				       : cli(&a, run, err, w, opt, NULL);
			if (ret)
				fail_msg("%s %s: %s", opt, s[k].cli ? s[k].cli : "", err);
			assert_true(config_given(run, r->json));
			json_doc(doc, sizeof(doc), r->json, s[k].json);
			if (json(doc, &b, &root, err))
				fail_msg("%s: %s", doc, err);
			assert_same_config(&a, &b, doc);
			config_json_free(root);
			run_opts_free(run);
			tried++;
		}
	}
	assert_true(tried >= 20);
	free(run);
	free(w);
}

/* The options whose command-line form differs from the JSON. */
static void test_cli_equals_json_composite(void **state)
{
	static const struct {
		const char *args[16];
		const char *doc;
	} cases[] = {
		{ { "--console", "none" }, "{\"console\": {\"mode\": \"none\"}}" },
		{ { "--console", "stdio" }, "{\"console\": {\"mode\": \"stdio\"}}" },
		{ { "--console", "file:/tmp/c.log" },
		  "{\"console\": {\"mode\": \"file\", \"path\": \"/tmp/c.log\"}}" },
		{ { "--console", "virtio" },
		  "{\"console\": {\"mode\": \"stdio\", \"device\": \"virtio\"}}" },
		{ { "--console", "file:c.log", "--console-max", "1K" },
		  "{\"console\": {\"mode\": \"file\", \"path\": \"c.log\", \"max\": 1024}}" },
		{ { "--disk", "path=/a.img" }, "{\"disks\": [{\"path\": \"/a.img\"}]}" },
		{ { "--disk", "id=r-1,ro=on,path=/a.img", "--disk", "path=b.img,ro=off" },
		  "{\"disks\": [{\"path\": \"/a.img\", \"read_only\": true, \"id\": \"r-1\"},"
		  " {\"path\": \"b.img\", \"read_only\": false}]}" },
		{ { "--kernel", "/k", "--initrd", "/i", "--mem", "1G", "--cpus", "4", "--no-rng",
		    "--test-device", "--kernel-cache", "none" },
		  "{\"kernel\": \"/k\", \"initrd\": \"/i\", \"mem\": 1024, \"cpus\": 4, \"rng\": false,"
		  " \"test_device\": true, \"kernel_cache\": \"none\"}" },
	};
	struct run_opts *run = malloc(sizeof(*run));
	struct words *w = malloc(sizeof(*w));

	(void)state;
	assert_non_null(run);
	assert_non_null(w);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[400];
		struct vm_config a, b;
		struct json_object *root;

		if (cli_list(&a, run, err, w, cases[i].args, 16))
			fail_msg("case %zu: %s", i, err);
		if (json(cases[i].doc, &b, &root, err))
			fail_msg("case %zu: %s", i, err);
		assert_same_config(&a, &b, cases[i].doc);
		config_json_free(root);
		run_opts_free(run);
	}
	free(run);
	free(w);
}

/* --config FILE, then options over it (and the keys count as given). */
static void test_config_file(void **state)
{
	static const char doc[] = "{\"cpus\": 2, \"cmdline\": \"quiet\", \"rng\": false,"
				  " \"disks\": [{\"path\": \"/d\"}]}";
	char path[] = "/tmp/bh-test-schema.XXXXXX", err[400];
	struct run_opts *run = malloc(sizeof(*run));
	struct words *w = malloc(sizeof(*w));
	struct vm_config c;
	int fd = mkstemp(path);

	(void)state;
	assert_non_null(run);
	assert_non_null(w);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, doc, sizeof(doc) - 1), (ssize_t)sizeof(doc) - 1);
	close(fd);

	assert_int_equal(cli(&c, run, err, w, "--cpus", "3", "--config", path, "--disk", "path=/e",
			     NULL), 0);
	assert_int_equal(c.ncpus, 2); /* the file overrides what came before */
	assert_false(c.rng);
	assert_int_equal(c.ndisks, 2); /* --disk after it adds one */
	assert_string_equal(c.disks[1].path, "/e");
	assert_true(config_given(run, "cmdline"));
	assert_true(config_given(run, "config"));
	assert_false(config_given(run, "mem"));
	run_opts_free(run);
	assert_int_equal(cli(&c, run, err, w, "--config", path, "--cpus", "3", NULL), 0);
	assert_int_equal(c.ncpus, 3); /* options after it override it */
	run_opts_free(run);

	assert_int_not_equal(cli(&c, run, err, w, "--config", path, "--config", path, NULL), 0);
	assert_non_null(strstr(err, "--config given twice"));
	unlink(path);
	assert_int_not_equal(cli(&c, run, err, w, "--config", path, NULL), 0);
	assert_non_null(strstr(err, path));
	free(run);
	free(w);
}

static void test_cli_errors(void **state)
{
	static const struct {
		const char *args[4];
		const char *needle;
	} cases[] = {
		{ { "--cpus", "0" }, "--cpus 0: must be between 1 and 254" },
		{ { "--cpus", "two" }, "--cpus two" },
		{ { "--mem", "12Q" }, "--mem 12Q: unknown unit" },
		{ { "--console-max", "x" }, "--console-max x" },
		{ { "--cpu-template", "fast" }, "--cpu-template fast: expected one of host, baseline" },
		{ { "--boot-protocol", "efi" }, "--boot-protocol efi: expected one of auto, linux64, pvh" },
		{ { "--console", "bogus" }, "--console bogus: expected stdio, none, file:PATH or virtio" },
		{ { "--console", "file:" }, "--console file:" },
		{ { "--disk", "path=/a,id=a=b" }, "--disk" },
		{ { "--disk", "ro=on" }, "--disk ro=on: missing path=IMAGE" },
		{ { "--bogus" }, "unknown option '--bogus'" },
		{ { "--mem" }, "option --mem needs a value" },
		{ { "stray" }, "unexpected argument 'stray'" },
		{ { "--sandbox-uid", "0" }, "--sandbox-uid 0" },
		{ { "--control-fd", "2" }, "--control-fd 2: must be between 3" },
		{ { "--kernel", "" }, "--kernel: must be 1-" },
		{ { "-x" }, "unknown option" },
		{ { "--fd", "9net=5" }, "--fd 9net=5: the name must be" },
	};
	struct run_opts *run = malloc(sizeof(*run));
	struct words *w = malloc(sizeof(*w));

	(void)state;
	assert_non_null(run);
	assert_non_null(w);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[400] = "";
		struct vm_config c;

		if (cli_list(&c, run, err, w, cases[i].args, 4) == 0 ||
		    !strstr(err, cases[i].needle))
			fail_msg("case %zu (%s): err '%s', want '%s'", i, cases[i].args[0], err,
				 cases[i].needle);
		assert_null(run->json);
	}
	free(run);
	free(w);
}

static void test_run_only_options(void **state)
{
	struct run_opts *run = malloc(sizeof(*run));
	struct words *w = malloc(sizeof(*w));
	struct vm_config c, d;
	char err[400];

	(void)state;
	assert_non_null(run);
	assert_non_null(w);
	if (cli(&c, run, err, w, "--guest", "default", "--sandbox-uid", "1000", "--sandbox-gid",
		"1001", "--no-sandbox", "--seccomp-trap", "-v", "--control-fd", "3", "--fd",
		"net0=5", "--fd", "snap=7", NULL))
		fail_msg("%s", err);
	assert_int_equal(run->nfds, 2);
	assert_string_equal(run->fds[0].name, "net0");
	assert_int_equal(run->fds[0].fd, 5);
	assert_string_equal(run->fds[1].name, "snap");
	assert_int_equal(run->fds[1].fd, 7);
	assert_string_equal(run->guest, "default");
	assert_int_equal(run->sandbox_uid, 1000);
	assert_int_equal(run->sandbox_gid, 1001);
	assert_true(run->no_sandbox);
	assert_true(run->seccomp_trap);
	assert_int_equal(run->control_fd, 3);
	assert_int_equal(run->log, RUN_LOG_VERBOSE);
	config_defaults(&d);
	assert_same_config(&c, &d, "run-only options leave the VM alone");
	/* --help stops at once, even before a bad option */
	assert_int_equal(cli(&c, run, err, w, "-q", "--help", "--bogus", NULL), 0);
	assert_true(run->help);
	assert_int_equal(run->log, RUN_LOG_QUIET);
	free(run);
	free(w);
}

/* --help names every option and every exit code. */
static void test_usage(void **state)
{
	char *text = NULL;
	size_t len = 0, n;
	FILE *f = open_memstream(&text, &len);
	const struct config_row *rows = config_rows(&n);
	const struct bh_exit_code *codes;

	(void)state;
	assert_non_null(f);
	config_usage(f);
	fclose(f);
	{ /* unwrap: one space for every run of blanks and newlines */
		char *o = text;

		for (const char *c = text; *c; c++)
			if (!((*c == ' ' || *c == '\n') && o > text && o[-1] == ' '))
				*o++ = *c == '\n' ? ' ' : *c;
		*o = '\0';
	}
	for (size_t i = 0; i < n; i++) {
		char opt[80];

		if (!rows[i].cli)
			continue;
		snprintf(opt, sizeof(opt), "--%s", rows[i].cli);
		if (!strstr(text, opt))
			fail_msg("--help lacks %s", opt);
	}
	assert_non_null(strstr(text, "vCPUs (default: 1)"));
	assert_non_null(strstr(text, "--rng, --no-rng"));
	codes = bh_exit_codes(&n);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(codes[i].code, (int)i);
		assert_string_equal(bh_exit_name((int)i), codes[i].name);
		assert_non_null(strstr(text, codes[i].meaning));
	}
	assert_null(bh_exit_name(-1));
	assert_null(bh_exit_name((int)n));
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_cli_equals_json_per_row),
		cmocka_unit_test(test_cli_equals_json_composite),
		cmocka_unit_test(test_config_file),
		cmocka_unit_test(test_cli_errors),
		cmocka_unit_test(test_run_only_options),
		cmocka_unit_test(test_usage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
