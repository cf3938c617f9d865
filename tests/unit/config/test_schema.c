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
		} else if (r->target == CONFIG_TO_ELEM) {
			const struct config_row *a = config_array_of(r);

			assert_non_null(a);
			for (unsigned d = 0; d < a->max; d++) {
				const char **f =
					(const char **)((char *)config_array_elem(c, a, d) + r->off);

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
	union {
		struct virtio_blk_disk disk;
		struct vm_net net;
	} elem;
	struct run_opts *run = calloc(1, sizeof(*run));
	char err[400];
	struct config_parse p = { .cfg = &cfg, .run = run, .elem = &elem, .err = err,
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
		if (r->type == CONFIG_ARRAY) { /* an array of .max elements and a count */
			assert_true(r->target == CONFIG_TO_VM && r->size > 0 && r->max > 0);
			assert_true(r->size <= sizeof(elem));
			assert_true(r->off + r->max * r->size <= sizeof(struct vm_config));
			assert_true(r->count_off + sizeof(unsigned) <= sizeof(struct vm_config));
		}
		if (r->target == CONFIG_TO_ELEM)
			assert_non_null(config_array_of(r));
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

/* Rows whose values are only valid next to others (config_validate's
 * cross-row rules): what both forms get around the sample. */
static const struct row_ctx {
	const char *key;
	const char *cli[4];   /* words before the option */
	const char *top;      /* JSON members before the key's object */
	const char *member;   /* JSON members of the key's object before it */
} row_ctxs[] = {
	{ "balloon.target", { "--balloon", "--mem", "16G", NULL }, "\"mem\": \"16G\", ",
	  "\"enabled\": true, " },
};

static const struct row_ctx *row_ctx(const char *key)
{
	for (size_t i = 0; i < sizeof(row_ctxs) / sizeof(row_ctxs[0]); i++)
		if (!strcmp(row_ctxs[i].key, key))
			return &row_ctxs[i];
	return NULL;
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

			const struct row_ctx *ctx = row_ctx(r->json);
			const char *args[8] = { NULL };
			size_t na = 0;

			snprintf(opt, sizeof(opt), "--%s", s[k].neg ? r->cli_neg : r->cli);
			for (size_t c = 0; ctx && ctx->cli[c]; c++)
				args[na++] = ctx->cli[c];
			args[na++] = opt;
			args[na++] = s[k].cli;
			ret = cli_list(&a, run, err, w, args, na);
			if (ret)
				fail_msg("%s %s: %s", opt, s[k].cli ? s[k].cli : "", err);
			assert_true(config_given(run, r->json));
			if (ctx) {
				const char *dot = strchr(r->json, '.');

				snprintf(doc, sizeof(doc), "{%s\"%.*s\": {%s\"%s\": %s}}", ctx->top,
					 (int)(dot - r->json), r->json, ctx->member, dot + 1,
					 s[k].json);
			} else {
				json_doc(doc, sizeof(doc), r->json, s[k].json);
			}
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

/* --net KEY=VALUE,... and the JSON "nets" array give the same NICs; every
 * malformed NIC is refused with a message naming what is wrong. */
static void test_nets(void **state)
{
	static const struct {
		const char *arg, *msg;
	} bad[] = {
		{ "tap=tap0,port=p0", "more than one of tap, tapfd, port, switch" },
		{ "port=p0,switch=blue", "more than one of tap, tapfd, port, switch" },
		{ "mac=02:00:00:00:00:01", "needs one of tap, tapfd, port, switch" },
		{ "tap=tap0,ip=10.0.0.2", "ip, rate and pps are a switch port's" },
		{ "switch=blue,ip=10.0.0", "not an IPv4 or IPv6 address" },
		{ "switch=blue,ip=224.0.0.1", "not a unicast host address" },
		{ "switch=blue,ip=ff02::1", "not a unicast host address" },
		{ "switch=bl/ue", "a segment name is 1-31 characters" },
		{ "tap=tap0,mac=01:00:5e:00:00:01", "multicast" },
		{ "tap=tap0,mac=00:00:00:00:00:00", "all-zero" },
		{ "tap=tap0,mac=02:00:00:00:00", "expected a MAC address" },
		{ "tap=tap0,mac=02-00-00-00-00-01", "expected a MAC address" },
		{ "tap=a/b", "not a valid interface name" },
		{ "tap=waytoolonginterfacename", "must be 1-15 characters" },
		{ "tapfd=9net", "a descriptor name is a letter" },
		{ "port=p0,mtu=40", "between" },
		{ "port=p0,speed=10", "unknown key 'speed' (expected tap, tapfd, port, switch, ip, rate, pps, mac, mtu)" },
		{ "port=p0,port=p1", "port given twice" },
		{ "port", "is not key=value" },
	};
	struct run_opts *run = malloc(sizeof(*run));
	struct words *w = malloc(sizeof(*w));
	struct json_object *root;
	struct vm_config c, j;
	char err[400];

	(void)state;
	assert_non_null(run);
	assert_non_null(w);
	assert_int_equal(cli(&c, run, err, w, "--net", "tap=tap0,mac=02:AB:00:00:00:01", "--net",
			     "port=sw0,mtu=9000", "--net", "tapfd=t1", NULL), 0);
	assert_int_equal(c.nnets, 3);
	assert_string_equal(c.nets[0].tap, "tap0");
	assert_string_equal(c.nets[0].mac, "02:AB:00:00:00:01");
	assert_int_equal(c.nets[0].mtu, 1500);
	assert_string_equal(c.nets[1].port, "sw0");
	assert_int_equal(c.nets[1].mtu, 9000);
	assert_string_equal(c.nets[2].tapfd, "t1");
	assert_true(config_given(run, "nets"));
	assert_int_equal(json("{\"nets\": [{\"tap\": \"tap0\", \"mac\": \"02:AB:00:00:00:01\"},"
			      " {\"port\": \"sw0\", \"mtu\": 9000}, {\"tapfd\": \"t1\"}]}",
			      &j, &root, err), 0);
	assert_same_config(&c, &j, "--net vs nets");
	config_json_free(root);
	run_opts_free(run);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = cli(&c, run, err, w, "--net", bad[i].arg, NULL);

		if (!ret) {
			ret = config_validate(&c, true, err, sizeof(err));
			run_opts_free(run);
		}
		assert_int_not_equal(ret, 0);
		if (!strstr(err, bad[i].msg))
			fail_msg("--net %s: '%s' lacks '%s'", bad[i].arg, err, bad[i].msg);
	}
	assert_int_not_equal(cli(&c, run, err, w, "--net", "tap=a", "--net", "tap=b", "--net",
				 "tap=c", "--net", "tap=d", "--net", "tap=e", NULL), 0);
	assert_non_null(strstr(err, "at most 4"));
	assert_int_not_equal(json("{\"nets\": [{\"tap\": \"a\", \"bogus\": 1}]}", &j, &root,
				  err), 0);
	assert_non_null(strstr(err, "nets[0]"));
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
		{ { "--balloon", "--balloon-target", "512M" },
		  "--balloon-target 512 MiB: above the VM's memory (--mem 256 MiB)" },
		{ { "--balloon-target", "64M" }, "--balloon-target: needs the balloon (--balloon)" },
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

/* The balloon's cross-row rules in the JSON form name the key. */
static void test_balloon_json_errors(void **state)
{
	struct vm_config c;
	struct json_object *root = NULL;
	char err[400] = "";

	(void)state;
	assert_int_equal(json("{\"mem\": 128, \"balloon\": {\"enabled\": true, "
			      "\"target\": 129}}", &c, &root, err), -ERANGE);
	assert_non_null(strstr(err, "balloon.target 129 MiB: above the VM's memory (mem 128 MiB)"));
	config_json_free(root);
	root = NULL;
	assert_int_equal(json("{\"balloon\": {\"target\": \"1M\"}}", &c, &root, err), -EINVAL);
	assert_non_null(strstr(err, "balloon.target: needs the balloon"));
	config_json_free(root);
	root = NULL;
	assert_int_equal(json("{\"mem\": 128, \"balloon\": {\"enabled\": true, "
			      "\"target\": 128, \"free_page_reporting\": false}}", &c, &root, err), 0);
	assert_true(c.balloon.enabled);
	assert_int_equal(c.balloon.target_bytes, 128ULL << 20);
	assert_false(c.balloon.reporting);
	assert_true(c.balloon.stats && c.balloon.deflate_on_oom);
	config_json_free(root);
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
		cmocka_unit_test(test_nets),
		cmocka_unit_test(test_config_file),
		cmocka_unit_test(test_cli_errors),
		cmocka_unit_test(test_balloon_json_errors),
		cmocka_unit_test(test_run_only_options),
		cmocka_unit_test(test_usage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
