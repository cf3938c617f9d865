/* schema_doc.c — the documents derived from the settings table (schema.c):
 * `bulkhead run --help` (config_usage) and the JSON Schema that
 * api/openapi.yaml's Config must match (config_schema_json). See schema.h. */
#include "config/schema.h"

#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "config/args.h"
#include "config/config_json.h"
#include "config/exit_codes.h"

/* --help */

#define HELP_COL 24
#define HELP_WIDTH 80

/* Print `text` word-wrapped from column `col` (the cursor is at `at`). */
static void wrap(FILE *out, const char *text, int col, int at)
{
	const char *w = text;

	while (*w) {
		size_t n = strcspn(w, " ");

		if (at > col && at + 1 + (int)n > HELP_WIDTH) {
			fprintf(out, "\n%*s", col, "");
			at = col;
		} else if (at > col) {
			fputc(' ', out);
			at++;
		} else if (at < col) {
			fprintf(out, "%*s", col - at, "");
			at = col;
		}
		fprintf(out, "%.*s", (int)n, w);
		at += (int)n;
		w += n;
		while (*w == ' ')
			w++;
	}
	fputc('\n', out);
}

/* "(default: X)" of a row, or "" if it has none worth saying. */
static void default_text(const struct config_row *r, char *buf, size_t len)
{
	buf[0] = '\0';
	if (!r->def || (r->type == CONFIG_BOOL && strcmp(r->def, "true")))
		return;
	if (r->type == CONFIG_BOOL)
		snprintf(buf, len, " (default: on)");
	else if (r->type == CONFIG_STR)
		snprintf(buf, len, " (default: \"%s\")", r->def);
	else
		snprintf(buf, len, " (default: %s)", r->def);
}

void config_usage(FILE *out)
{
	const struct bh_exit_code *codes;
	char opt[128], text[1024], def[128], exits[512] = "Exit status:";
	size_t n;

	size_t nrows;
	const struct config_row *rows = config_rows(&nrows);

	fprintf(out, "usage: bulkhead run (--kernel PATH | --guest NAME) [OPTIONS]\n\n"
		     "Boot a VM in the foreground. Options:\n");
	for (size_t i = 0; i < nrows; i++) {
		const struct config_row *r = &rows[i];
		int len;

		if (!r->cli || !r->help)
			continue;
		if (r->short_opt)
			len = snprintf(opt, sizeof(opt), "  -%c, --%s", r->short_opt, r->cli);
		else if (r->cli_neg)
			len = snprintf(opt, sizeof(opt), "  --%s, --%s", r->cli, r->cli_neg);
		else
			len = snprintf(opt, sizeof(opt), "  --%s%s%s", r->cli, r->metavar ? " " : "",
				       r->metavar ? r->metavar : "");
		default_text(r, def, sizeof(def));
		snprintf(text, sizeof(text), "%s%s", r->help, def);
		fputs(opt, out);
		if (len > HELP_COL - 2) {
			fputc('\n', out);
			len = 0;
		}
		wrap(out, text, HELP_COL, len);
	}
	codes = bh_exit_codes(&n);
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(exits);

		snprintf(exits + l, sizeof(exits) - l, " %d %s%s", codes[i].code, codes[i].meaning,
			 i + 1 < n ? ";" : ".");
	}
	fputc('\n', out);
	wrap(out, exits, 0, 0);
}

/* The JSON Schema (api/openapi.yaml's Config). */

static json_object *row_default(const struct config_row *r)
{
	if (!r->def || (r->flags & CONFIG_HOST_DEFAULT))
		return NULL;
	switch (r->type) {
	case CONFIG_BOOL: return json_object_new_boolean(!strcmp(r->def, "true"));
	case CONFIG_UINT: {
		unsigned v;
		char err[64];

		return args_parse_uint("", r->def, 0, ~0u, &v, err, sizeof(err)) ? NULL
			: json_object_new_int64(v);
	}
	default: return json_object_new_string(r->def);
	}
}

static json_object *type_obj(const char *type)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "type", json_object_new_string(type));
	return o;
}

static json_object *object_schema(const char *prefix);

static json_object *row_schema(const struct config_row *r)
{
	json_object *o, *d;

	switch (r->type) {
	case CONFIG_SIZE: {
		json_object *one = json_object_new_array();

		o = json_object_new_object();
		json_object_array_add(one, type_obj("string"));
		json_object_array_add(one, type_obj("integer"));
		json_object_object_add(o, "oneOf", one);
		break;
	}
	case CONFIG_UINT:
		o = type_obj("integer");
		json_object_object_add(o, "minimum", json_object_new_int64((int64_t)r->min));
		json_object_object_add(o, "maximum", json_object_new_int64((int64_t)r->max));
		break;
	case CONFIG_BOOL: o = type_obj("boolean"); break;
	case CONFIG_ENUM: {
		json_object *e = json_object_new_array();

		o = type_obj("string");
		for (int i = 0; r->names[i]; i++)
			json_object_array_add(e, json_object_new_string(r->names[i]));
		json_object_object_add(o, "enum", e);
		break;
	}
	case CONFIG_STR:
		o = type_obj("string");
		json_object_object_add(o, "maxLength",
				       json_object_new_int64(r->max ? (int64_t)r->max : CONFIG_STR_MAX));
		break;
	case CONFIG_OBJECT: o = object_schema(r->json); break;
	case CONFIG_ARRAY: {
		char prefix[64];

		snprintf(prefix, sizeof(prefix), "%s[]", r->json);
		o = type_obj("array");
		json_object_object_add(o, "maxItems", json_object_new_int64((int64_t)r->max));
		json_object_object_add(o, "items", object_schema(prefix));
		break;
	}
	default: o = type_obj("string"); break; /* CONFIG_PATH */
	}
	if ((d = row_default(r)))
		json_object_object_add(o, "default", d);
	return o;
}

/* The object whose members are the rows "prefix.member" ("" = top level). */
static json_object *object_schema(const char *prefix)
{
	json_object *o = type_obj("object"), *props = json_object_new_object(),
		    *req = json_object_new_array();
	size_t plen = strlen(prefix), nrows;
	const struct config_row *rows = config_rows(&nrows);

	json_object_object_add(o, "additionalProperties", json_object_new_boolean(false));
	for (size_t i = 0; i < nrows; i++) {
		const struct config_row *r = &rows[i];
		const char *key;

		if (!r->json)
			continue;
		if (plen) {
			if (strncmp(r->json, prefix, plen) || r->json[plen] != '.')
				continue;
			key = r->json + plen + 1;
		} else {
			key = r->json;
		}
		if (strchr(key, '.'))
			continue; /* a member of a member */
		json_object_object_add(props, key, row_schema(r));
		if (r->flags & (CONFIG_REQUIRED | CONFIG_API_REQUIRED))
			json_object_array_add(req, json_object_new_string(key));
	}
	if (json_object_array_length(req))
		json_object_object_add(o, "required", req);
	else
		json_object_put(req);
	json_object_object_add(o, "properties", props);
	return o;
}

struct json_object *config_schema_json(void)
{
	json_object *doc = json_object_new_object(), *ex = json_object_new_array();
	const struct bh_exit_code *codes;
	size_t n;

	if (!doc || !ex) {
		json_object_put(doc);
		json_object_put(ex);
		return NULL;
	}
	codes = bh_exit_codes(&n);
	json_object_object_add(doc, "Config", object_schema(""));
	for (size_t i = 0; i < n; i++) {
		json_object *c = json_object_new_object();

		json_object_object_add(c, "code", json_object_new_int(codes[i].code));
		json_object_object_add(c, "name", json_object_new_string(codes[i].name));
		json_object_object_add(c, "meaning", json_object_new_string(codes[i].meaning));
		json_object_array_add(ex, c);
	}
	json_object_object_add(doc, "exit_codes", ex);
	return doc;
}
