/* config_json.c — see config_json.h. The JSON front end of the schema:
 * walks the document and hands each key to its row (schema.c). */
#include "config/config_json.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "config/schema_parse.h"

#define MAX_DEPTH 8

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

static int want(struct config_parse *p, const char *key, json_object *v, json_type t,
		const char *what)
{
	if (json_object_get_type(v) == t)
		return 0;
	snprintf(p->err, p->errlen, "%s: expected %s, got %s", key, what, type_name(v));
	return -EINVAL;
}

static int walk(struct config_parse *p, const char *lookup, const char *name, json_object *obj);

/* A JSON string: no NUL bytes inside (the row checks the length). */
static int get_string(struct config_parse *p, const char *key, json_object *v, const char **out)
{
	int ret = want(p, key, v, json_type_string, "a string");

	if (ret)
		return ret;
	*out = json_object_get_string(v);
	if (strlen(*out) != (size_t)json_object_get_string_len(v)) {
		snprintf(p->err, p->errlen, "%s: must be text without NUL bytes", key);
		return -EINVAL;
	}
	return 0;
}

/* "disks": [ {...}, ... ] — each element is walked with the rows "disks[].*"
 * into the row's array in vm_config (see CONFIG_ARRAY). */
static int set_array(struct config_parse *p, const struct config_row *r, const char *key,
		     json_object *v)
{
	char lookup[64], name[160];
	struct config_parse q = *p;
	unsigned *count;
	size_t n;
	int ret = want(p, key, v, json_type_array, "an array");

	if (ret)
		return ret;
	n = json_object_array_length(v);
	if (n > r->max) {
		snprintf(p->err, p->errlen, "%s: %zu items, at most %llu", key, n,
			 (unsigned long long)r->max);
		return -ERANGE;
	}
	snprintf(lookup, sizeof(lookup), "%.60s[]", r->json);
	count = config_array_count(p->cfg, r);
	*count = 0; /* the array replaces the list */
	for (size_t i = 0; i < n; i++) {
		json_object *d = json_object_array_get_idx(v, i);
		void *elem = config_array_elem(p->cfg, r, (unsigned)i);

		snprintf(name, sizeof(name), "%.120s[%zu]", key, i);
		config_elem_defaults(p, r, elem);
		q.elem = elem;
		if ((ret = want(p, name, d, json_type_object, "an object")) ||
		    (ret = walk(&q, lookup, name, d)))
			return ret;
		(*count)++;
	}
	return 0;
}

/* One key's value, by its row's type. */
static int set_value(struct config_parse *p, const struct config_row *r, const char *key,
		     json_object *v)
{
	char num[32];
	const char *s;
	int ret;

	switch (r->type) {
	case CONFIG_OBJECT:
		if ((ret = want(p, key, v, json_type_object, "an object")))
			return ret;
		config_mark_given(p, r);
		return walk(p, r->json, key, v);
	case CONFIG_ARRAY:
		if ((ret = set_array(p, r, key, v)))
			return ret;
		config_mark_given(p, r);
		return 0;
	case CONFIG_BOOL:
		if ((ret = want(p, key, v, json_type_boolean, "a boolean")))
			return ret;
		s = json_object_get_boolean(v) ? "true" : "false";
		break;
	case CONFIG_UINT: {
		int64_t i;

		if ((ret = want(p, key, v, json_type_int, "an integer")))
			return ret;
		i = json_object_get_int64(v);
		if (i < 0 || (uint64_t)i > r->max) {
			snprintf(p->err, p->errlen, "%s %lld: must be between %llu and %llu", key,
				 (long long)i, (unsigned long long)r->min,
				 (unsigned long long)r->max);
			return -ERANGE;
		}
		snprintf(num, sizeof(num), "%lld", (long long)i);
		s = num;
		break;
	}
	case CONFIG_SIZE:
		/* "256M" or a bare integer in r->unit bytes (like the option) */
		if (json_object_get_type(v) == json_type_int) {
			int64_t i = json_object_get_int64(v);

			if (i < 0) {
				snprintf(p->err, p->errlen, "%s %lld: must not be negative", key,
					 (long long)i);
				return -ERANGE;
			}
			snprintf(num, sizeof(num), "%lld", (long long)i);
			s = num;
		} else if (json_object_get_type(v) == json_type_string) {
			s = json_object_get_string(v);
		} else {
			snprintf(p->err, p->errlen,
				 "%s: expected a size (\"256M\" or an integer), got %s", key,
				 type_name(v));
			return -EINVAL;
		}
		break;
	default: /* CONFIG_STR, CONFIG_PATH, CONFIG_ENUM */
		if ((ret = get_string(p, key, v, &s)))
			return ret;
		break;
	}
	return config_set_text(p, r, key, s);
}

/* Walk an object: its keys are the rows "lookup.KEY" (top level: "KEY");
 * `name` is how messages spell the object ("disks[1]"). */
static int walk(struct config_parse *p, const char *lookup, const char *name, json_object *obj)
{
	uint64_t seen[CONFIG_ROWS_MAX / 64] = { 0 };
	char path[128], key[200];
	const struct config_row *rows;
	size_t n, plen = strlen(lookup);
	int ret;

	json_object_object_foreach(obj, k, v) {
		const struct config_row *r;

		snprintf(path, sizeof(path), "%.60s%s%.60s", lookup, plen ? "." : "", k);
		snprintf(key, sizeof(key), "%.120s%s%.60s", name, *name ? "." : "", k);
		r = strpbrk(k, ".[]") ? NULL : config_row_find(path);
		if (!r || !r->json || strcmp(r->json, path)) {
			snprintf(p->err, p->errlen, "%s: unknown key", key);
			return -EINVAL;
		}
		if ((ret = set_value(p, r, key, v)))
			return ret;
		seen[config_row_index(r) / 64] |= 1ull << (config_row_index(r) % 64);
	}
	rows = config_rows(&n);
	for (size_t i = 0; i < n; i++) {
		const char *j = rows[i].json;

		if (!(rows[i].flags & CONFIG_REQUIRED) || (seen[i / 64] & (1ull << (i % 64))) ||
		    !j || strncmp(j, lookup, plen) || (plen && j[plen] != '.') ||
		    strchr(j + plen + !!plen, '.'))
			continue;
		snprintf(p->err, p->errlen, "%s%s%s: missing", name, *name ? "." : "",
			 j + plen + !!plen);
		return -EINVAL;
	}
	return 0;
}

int config_json_apply(const char *text, size_t len, unsigned flags, struct vm_config *cfg,
		      uint64_t *given, struct json_object **root, char *err, size_t errlen)
{
	uint64_t seen[CONFIG_ROWS_MAX / 64] = { 0 };
	struct vm_config work = *cfg;
	struct config_parse p = { .cfg = &work, .flags = flags, .given = seen, .err = err,
				  .errlen = errlen };
	const struct config_row *rows;
	struct json_tokener *tok;
	json_object *doc;
	size_t n;
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
	if ((ret = want(&p, "configuration", doc, json_type_object, "an object")) ||
	    (ret = walk(&p, "", "", doc)) || (ret = config_validate(&work, false, err, errlen)))
		goto fail;
	rows = config_rows(&n);
	for (size_t i = 0; i < n; i++)
		if ((flags & CONFIG_JSON_NEED_KERNEL) && (rows[i].flags & CONFIG_API_REQUIRED) &&
		    !(seen[i / 64] & (1ull << (i % 64)))) {
			snprintf(err, errlen, "%s: missing (%s)", rows[i].json, rows[i].help);
			ret = -EINVAL;
			goto fail;
		}
	*cfg = work; /* all or nothing */
	for (size_t i = 0; given && i < BH_ARRAY_SIZE(seen); i++)
		given[i] |= seen[i];
	*root = doc;
	return 0;
fail:
	json_object_put(doc);
	return ret;
}

int config_json_parse(const char *text, size_t len, unsigned flags, struct vm_config *cfg,
		      struct json_object **root, char *err, size_t errlen)
{
	return config_json_apply(text, len, flags, cfg, NULL, root, err, errlen);
}

void config_json_free(struct json_object *root)
{
	json_object_put(root);
}
