/* config_write.c — a vm_config as the JSON document config_json_parse()
 * reads back (config_json.h), generated from the schema's rows so a new
 * setting is written without touching this file. Snapshots record the VM's
 * configuration this way; a restore reads it through the same validating
 * parser as `--config FILE`. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <json-c/json.h>

#include "config/config_json.h"
#include "config/schema.h"

/* The JSON object at the parent path of key "a.b" / "disks[].x" (created on
 * demand inside `root`), and the member's last name. */
static struct json_object *parent_of(struct json_object *root, const char *key, const char **leaf)
{
	const char *dot = strrchr(key, '.');
	char head[64];
	struct json_object *o;
	size_t n;

	if (!dot) {
		*leaf = key;
		return root;
	}
	*leaf = dot + 1;
	n = (size_t)(dot - key);
	if (n >= sizeof(head))
		return NULL;
	memcpy(head, key, n);
	head[n] = '\0';
	if (!json_object_object_get_ex(root, head, &o)) {
		o = json_object_new_object();
		if (!o || json_object_object_add(root, head, o))
			return NULL;
	}
	return o;
}

static struct json_object *value_of(const struct config_row *r, const void *f)
{
	switch (r->type) {
	case CONFIG_STR:
	case CONFIG_PATH: {
		const char *s = r->flags & CONFIG_INLINE ? (const char *)f : *(const char *const *)f;

		if (!s || !*s)
			return NULL; /* absent: the default (NULL / empty) */
		return json_object_new_string(s);
	}
	case CONFIG_SIZE: {
		uint64_t v = *(const uint64_t *)f;
		char text[32];

		if (r->unit > 1 && v % r->unit == 0)
			return json_object_new_int64((int64_t)(v / r->unit));
		/* Written with a suffix the size parser reads exactly. */
		if (v % 1024 == 0)
			snprintf(text, sizeof(text), "%lluK", (unsigned long long)(v / 1024));
		else if (r->unit == 1)
			return json_object_new_int64((int64_t)v);
		else
			return NULL;
		return json_object_new_string(text);
	}
	case CONFIG_UINT:
		/* Below the row's minimum (0 for an optional setting such as a
		 * vsock CID): not set. */
		if (*(const unsigned *)f < r->min)
			return NULL;
		return json_object_new_int64(*(const unsigned *)f);
	case CONFIG_BOOL:
		return json_object_new_boolean(*(const bool *)f);
	case CONFIG_ENUM: {
		int v = *(const int *)f, i;

		for (i = 0; r->names[i] && i < v; i++)
			;
		return v >= 0 && r->names[i] ? json_object_new_string(r->names[v]) : NULL;
	}
	default:
		return NULL;
	}
}

int config_json_write(const struct vm_config *cfg_in, char *buf, size_t len, char *err,
		      size_t errlen)
{
	size_t nrows;
	const struct config_row *rows = config_rows(&nrows);
	struct json_object *root = json_object_new_object();
	struct vm_config cfg = *cfg_in; /* config_array_elem() takes a mutable one */
	const char *text;
	int ret = -ENOMEM;

	if (!root)
		goto out;
	for (size_t i = 0; i < nrows; i++) {
		const struct config_row *r = &rows[i], *a;
		struct json_object *parent, *v, *arr;
		const char *leaf;
		unsigned n;

		if (!r->json || r->type == CONFIG_OBJECT || r->type == CONFIG_CONST)
			continue;
		if (r->type == CONFIG_ARRAY) {
			n = *config_array_count(&cfg, r);
			if (!n)
				continue;
			if (!(arr = json_object_new_array()) ||
			    json_object_object_add(root, r->json, arr))
				goto out;
			for (unsigned e = 0; e < n && e < r->max; e++) {
				struct json_object *o = json_object_new_object();

				if (!o || json_object_array_add(arr, o))
					goto out;
			}
		} else if (r->target == CONFIG_TO_VM) {
			if (!(parent = parent_of(root, r->json, &leaf)))
				goto out;
			v = value_of(r, (const char *)&cfg + r->off);
			if (v && json_object_object_add(parent, leaf, v))
				goto out;
		} else if (r->target == CONFIG_TO_ELEM && (a = config_array_of(r))) {
			leaf = strrchr(r->json, '.') + 1;
			n = *config_array_count(&cfg, a);
			if (!n || !json_object_object_get_ex(root, a->json, &arr))
				continue; /* the array row comes first in the table */
			for (unsigned e = 0; e < n && e < a->max; e++) {
				v = value_of(r, (const char *)config_array_elem(&cfg, a, e) + r->off);
				if (v && json_object_object_add(json_object_array_get_idx(arr, e),
								leaf, v))
					goto out;
			}
		}
	}
	text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
	if (!text)
		goto out;
	if (strlen(text) >= len) {
		snprintf(err, errlen, "the configuration's JSON is longer than %zu bytes", len - 1);
		ret = -E2BIG;
		goto out;
	}
	memcpy(buf, text, strlen(text) + 1);
	ret = 0;
out:
	if (ret == -ENOMEM)
		snprintf(err, errlen, "out of memory writing the configuration as JSON");
	json_object_put(root);
	return ret;
}
