/* config_json.c — see config_json.h. One table maps keys to handlers. */
#include "config/config_json.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "config/args.h"

#define DEFAULT_MEM (256ULL << 20)
#define DEFAULT_CONSOLE_MAX (64ULL << 20)
#define DEFAULT_CMDLINE "console=ttyS0 reboot=k panic=-1"
#define CMDLINE_MAX 4096
#define PATH_MAX_LEN 4096
#define MAX_DEPTH 8

void config_json_defaults(struct vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->mem_bytes = DEFAULT_MEM;
	cfg->ncpus = 1;
	cfg->console = CONSOLE_STDIO;
	cfg->console_max_bytes = DEFAULT_CONSOLE_MAX;
	cfg->cpu_template = CPU_TEMPLATE_BASELINE;
	cfg->boot.proto = BOOT_PROTO_AUTO;
	cfg->boot.decompress = BOOT_DECOMPRESS_HOST;
	cfg->boot.cmdline = DEFAULT_CMDLINE;
}

struct ctx {
	struct vm_config *cfg;
	unsigned flags;
	char *err;
	size_t errlen;
};

static const char *type_name(json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null: return "null";
	case json_type_boolean: return "a boolean";
	case json_type_double: return "a fraction";
	case json_type_int: return "an integer";
	case json_type_object: return "an object";
	case json_type_array: return "an array";
	case json_type_string: return "a string";
	}
	return "something else";
}

static int want(struct ctx *c, const char *key, json_object *v, json_type t, const char *what)
{
	if (json_object_get_type(v) == t)
		return 0;
	snprintf(c->err, c->errlen, "%s: expected %s, got %s", key, what, type_name(v));
	return -EINVAL;
}

static int get_str(struct ctx *c, const char *key, json_object *v, size_t max, const char **out)
{
	int ret = want(c, key, v, json_type_string, "a string");
	size_t len;

	if (ret)
		return ret;
	*out = json_object_get_string(v);
	len = (size_t)json_object_get_string_len(v);
	if (len == 0 || len > max || strlen(*out) != len) {
		snprintf(c->err, c->errlen, "%s: must be 1-%zu characters without NUL bytes", key,
			 max);
		return -EINVAL;
	}
	return 0;
}

static int get_path(struct ctx *c, const char *key, json_object *v, const char **out)
{
	int ret = get_str(c, key, v, PATH_MAX_LEN, out);

	if (!ret && (c->flags & CONFIG_JSON_ABS_PATHS) && (*out)[0] != '/') {
		snprintf(c->err, c->errlen, "%s %.200s: must be an absolute path", key, *out);
		return -EINVAL;
	}
	return ret;
}

static int get_bool(struct ctx *c, const char *key, json_object *v, bool *out)
{
	int ret = want(c, key, v, json_type_boolean, "a boolean");

	if (!ret)
		*out = json_object_get_boolean(v);
	return ret;
}

/* A size: "256M" or a bare integer in `unit` bytes (like the CLI). */
static int get_size(struct ctx *c, const char *key, json_object *v, uint64_t unit, uint64_t *out)
{
	char num[32];
	const char *s;

	if (json_object_get_type(v) == json_type_int) {
		int64_t i = json_object_get_int64(v);

		if (i < 0) {
			snprintf(c->err, c->errlen, "%s %lld: must not be negative", key, (long long)i);
			return -ERANGE;
		}
		snprintf(num, sizeof(num), "%lld", (long long)i);
		s = num;
	} else if (json_object_get_type(v) == json_type_string) {
		s = json_object_get_string(v);
	} else {
		snprintf(c->err, c->errlen, "%s: expected a size (\"256M\" or an integer), got %s",
			 key, type_name(v));
		return -EINVAL;
	}
	return args_parse_size(key, s, unit, out, c->err, c->errlen);
}

/* One of `names` (NULL-terminated); *out = its index. */
static int get_enum(struct ctx *c, const char *key, json_object *v, const char *const *names,
		    int *out)
{
	const char *s;
	int ret = get_str(c, key, v, 64, &s);

	if (ret)
		return ret;
	for (int i = 0; names[i]; i++)
		if (!strcmp(s, names[i])) {
			*out = i;
			return 0;
		}
	snprintf(c->err, c->errlen, "%s %.64s: expected one of", key, s);
	for (int i = 0; names[i]; i++) {
		size_t l = strlen(c->err);

		snprintf(c->err + l, c->errlen - l, "%s %s", i ? "," : "", names[i]);
	}
	return -EINVAL;
}

/* Handlers, one per key. */
typedef int (*key_fn)(struct ctx *c, const char *key, json_object *v);

static int k_kernel(struct ctx *c, const char *key, json_object *v)
{
	return get_path(c, key, v, &c->cfg->boot.kernel_path);
}

static int k_initrd(struct ctx *c, const char *key, json_object *v)
{
	return get_path(c, key, v, &c->cfg->boot.initrd_path);
}

static int k_cmdline(struct ctx *c, const char *key, json_object *v)
{
	return get_str(c, key, v, CMDLINE_MAX, &c->cfg->boot.cmdline);
}

static int k_mem(struct ctx *c, const char *key, json_object *v)
{
	return get_size(c, key, v, BH_MiB, &c->cfg->mem_bytes);
}

static int k_cpus(struct ctx *c, const char *key, json_object *v)
{
	char num[32];
	int ret = want(c, key, v, json_type_int, "an integer");
	int64_t i;

	if (ret)
		return ret;
	i = json_object_get_int64(v);
	if (i < 0 || i > 1000000000000LL) {
		snprintf(c->err, c->errlen, "%s %lld: must be between 1 and %u", key, (long long)i,
			 VM_MAX_VCPUS);
		return -ERANGE;
	}
	snprintf(num, sizeof(num), "%lld", (long long)i);
	return args_parse_uint(key, num, 1, VM_MAX_VCPUS, &c->cfg->ncpus, c->err, c->errlen);
}

static int k_cpu_template(struct ctx *c, const char *key, json_object *v)
{
	static const char *const names[] = { "host", "baseline", NULL };
	static const enum cpu_template vals[] = { CPU_TEMPLATE_HOST, CPU_TEMPLATE_BASELINE };
	int i, ret = get_enum(c, key, v, names, &i);

	if (!ret)
		c->cfg->cpu_template = vals[i];
	return ret;
}

static int k_boot_protocol(struct ctx *c, const char *key, json_object *v)
{
	static const char *const names[] = { "auto", "linux64", "pvh", NULL };
	static const enum boot_proto vals[] = { BOOT_PROTO_AUTO, BOOT_PROTO_LINUX64,
						BOOT_PROTO_PVH };
	int i, ret = get_enum(c, key, v, names, &i);

	if (!ret)
		c->cfg->boot.proto = vals[i];
	return ret;
}

static int k_decompress(struct ctx *c, const char *key, json_object *v)
{
	static const char *const names[] = { "host", "guest", NULL };
	static const enum boot_decompress vals[] = { BOOT_DECOMPRESS_HOST, BOOT_DECOMPRESS_GUEST };
	int i, ret = get_enum(c, key, v, names, &i);

	if (!ret)
		c->cfg->boot.decompress = vals[i];
	return ret;
}

static int k_kernel_cache(struct ctx *c, const char *key, json_object *v)
{
	const char *s;
	int ret = get_str(c, key, v, PATH_MAX_LEN, &s);

	if (ret)
		return ret;
	if (!strcmp(s, "none")) {
		c->cfg->boot.cache_dir = NULL;
		return 0;
	}
	if ((c->flags & CONFIG_JSON_ABS_PATHS) && s[0] != '/') {
		snprintf(c->err, c->errlen, "%s %.200s: must be an absolute path or none", key, s);
		return -EINVAL;
	}
	c->cfg->boot.cache_dir = s;
	return 0;
}

static int k_test_device(struct ctx *c, const char *key, json_object *v)
{
	return get_bool(c, key, v, &c->cfg->test_device);
}

static int k_rng(struct ctx *c, const char *key, json_object *v)
{
	return get_bool(c, key, v, &c->cfg->rng);
}

/* "console": { ... } */
static int c_mode(struct ctx *c, const char *key, json_object *v)
{
	static const char *const names[] = { "stdio", "none", "file", NULL };
	static const enum console_mode vals[] = { CONSOLE_STDIO, CONSOLE_NONE, CONSOLE_FILE };
	int i, ret = get_enum(c, key, v, names, &i);

	if (!ret)
		c->cfg->console = vals[i];
	return ret;
}

static int c_path(struct ctx *c, const char *key, json_object *v)
{
	return get_path(c, key, v, &c->cfg->console_path);
}

static int c_max(struct ctx *c, const char *key, json_object *v)
{
	return get_size(c, key, v, 1, &c->cfg->console_max_bytes);
}

static int c_device(struct ctx *c, const char *key, json_object *v)
{
	static const char *const names[] = { "uart", "virtio", NULL };
	static const enum console_device vals[] = { CONSOLE_DEV_UART, CONSOLE_DEV_VIRTIO };
	int i, ret = get_enum(c, key, v, names, &i);

	if (!ret)
		c->cfg->console_device = vals[i];
	return ret;
}

struct key {
	const char *name;
	key_fn fn;
};

static int walk(struct ctx *c, const char *prefix, json_object *obj, const struct key *keys);

static const struct key console_keys[] = {
	{ "mode", c_mode }, { "path", c_path }, { "max", c_max }, { "device", c_device },
	{ NULL, NULL },
};

static int k_console(struct ctx *c, const char *key, json_object *v)
{
	int ret = want(c, key, v, json_type_object, "an object");

	if (ret || (ret = walk(c, key, v, console_keys)))
		return ret;
	if (c->cfg->console == CONSOLE_FILE && !c->cfg->console_path) {
		snprintf(c->err, c->errlen, "%s.path: needed with mode \"file\"", key);
		return -EINVAL;
	}
	return 0;
}

/* "disks": [ { "path", "read_only", "id" } ] */
static struct virtio_blk_disk *cur_disk(struct ctx *c)
{
	return &c->cfg->disks[c->cfg->ndisks];
}

static int d_path(struct ctx *c, const char *key, json_object *v)
{
	return get_path(c, key, v, &cur_disk(c)->path);
}

static int d_read_only(struct ctx *c, const char *key, json_object *v)
{
	return get_bool(c, key, v, &cur_disk(c)->read_only);
}

static int d_id(struct ctx *c, const char *key, json_object *v)
{
	const char *s;
	int ret = get_str(c, key, v, VIRTIO_BLK_ID_MAX, &s);

	if (ret)
		return ret;
	for (const char *p = s; *p; p++)
		if (*p < 0x21 || *p > 0x7e) {
			snprintf(c->err, c->errlen, "%s: printable ASCII without spaces only", key);
			return -EINVAL;
		}
	memcpy(cur_disk(c)->id, s, strlen(s) + 1);
	return 0;
}

static const struct key disk_keys[] = {
	{ "path", d_path }, { "read_only", d_read_only }, { "id", d_id }, { NULL, NULL },
};

static int k_disks(struct ctx *c, const char *key, json_object *v)
{
	char name[64];
	size_t n;
	int ret = want(c, key, v, json_type_array, "an array");

	if (ret)
		return ret;
	n = json_object_array_length(v);
	if (n > VM_MAX_DISKS) {
		snprintf(c->err, c->errlen, "%s: %zu disks, at most %d", key, n, VM_MAX_DISKS);
		return -ERANGE;
	}
	c->cfg->ndisks = 0;
	for (size_t i = 0; i < n; i++) {
		json_object *d = json_object_array_get_idx(v, i);

		snprintf(name, sizeof(name), "%s[%zu]", key, i);
		memset(cur_disk(c), 0, sizeof(*cur_disk(c)));
		if ((ret = want(c, name, d, json_type_object, "an object")) ||
		    (ret = walk(c, name, d, disk_keys)))
			return ret;
		if (!cur_disk(c)->path) {
			snprintf(c->err, c->errlen, "%s.path: missing", name);
			return -EINVAL;
		}
		c->cfg->ndisks++;
	}
	return 0;
}

/* THE table: top-level keys. Add a key here and a handler above. */
static const struct key top_keys[] = {
	{ "kernel", k_kernel },
	{ "initrd", k_initrd },
	{ "cmdline", k_cmdline },
	{ "mem", k_mem },
	{ "cpus", k_cpus },
	{ "console", k_console },
	{ "cpu_template", k_cpu_template },
	{ "boot_protocol", k_boot_protocol },
	{ "decompress", k_decompress },
	{ "kernel_cache", k_kernel_cache },
	{ "test_device", k_test_device },
	{ "rng", k_rng },
	{ "disks", k_disks },
	{ NULL, NULL },
};

static int walk(struct ctx *c, const char *prefix, json_object *obj, const struct key *keys)
{
	char name[128];
	int ret;

	json_object_object_foreach(obj, k, v) {
		const struct key *e;

		for (e = keys; e->name; e++)
			if (!strcmp(e->name, k))
				break;
		snprintf(name, sizeof(name), "%s%s%.60s", prefix, *prefix ? "." : "", k);
		if (!e->name) {
			snprintf(c->err, c->errlen, "%s: unknown key", name);
			return -EINVAL;
		}
		if ((ret = e->fn(c, name, v)))
			return ret;
	}
	return 0;
}

int config_json_parse(const char *text, size_t len, unsigned flags, struct vm_config *cfg,
		      struct json_object **root, char *err, size_t errlen)
{
	struct ctx c = { .cfg = cfg, .flags = flags, .err = err, .errlen = errlen };
	struct json_tokener *tok;
	json_object *doc;
	struct vm_config work = *cfg;
	int ret;

	*root = NULL;
	if (len > CONFIG_JSON_MAX) {
		snprintf(err, errlen, "configuration of %zu bytes is larger than %d", len,
			 CONFIG_JSON_MAX);
		return -E2BIG;
	}
	if (len == 0 || memchr(text, '\0', len)) {
		snprintf(err, errlen, len ? "configuration contains a NUL byte"
					  : "configuration is empty");
		return -EINVAL;
	}
	tok = json_tokener_new_ex(MAX_DEPTH);
	if (!tok) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	doc = json_tokener_parse_ex(tok, text, (int)len);
	if (!doc || json_tokener_get_error(tok) != json_tokener_success) {
		enum json_tokener_error e = json_tokener_get_error(tok);

		snprintf(err, errlen, "configuration is not valid JSON: %s at byte %zu",
			 e == json_tokener_continue ? "unexpected end of input"
						    : json_tokener_error_desc(e),
			 json_tokener_get_parse_end(tok));
		json_object_put(doc);
		json_tokener_free(tok);
		return -EINVAL;
	}
	if (json_tokener_get_parse_end(tok) != len) {
		size_t end = json_tokener_get_parse_end(tok);
		size_t i = end;

		while (i < len && (text[i] == ' ' || text[i] == '\n' || text[i] == '\t' ||
				   text[i] == '\r'))
			i++;
		if (i != len) {
			snprintf(err, errlen, "configuration: trailing data at byte %zu", i);
			json_object_put(doc);
			json_tokener_free(tok);
			return -EINVAL;
		}
	}
	json_tokener_free(tok);
	c.cfg = &work;
	if ((ret = want(&c, "configuration", doc, json_type_object, "an object")) ||
	    (ret = walk(&c, "", doc, top_keys))) {
		json_object_put(doc);
		return ret;
	}
	if ((flags & CONFIG_JSON_NEED_KERNEL) && !work.boot.kernel_path) {
		snprintf(err, errlen, "kernel: missing (the path of the kernel to boot)");
		json_object_put(doc);
		return -EINVAL;
	}
	*cfg = work; /* all or nothing */
	*root = doc;
	return 0;
}

void config_json_free(struct json_object *root)
{
	json_object_put(root);
}
