/* schema_parse.h — internal to src/config: the state the two front ends
 * (config_cli.c, config_json.c) share with the row code in schema.c. */
#ifndef BH_CONFIG_SCHEMA_PARSE_H
#define BH_CONFIG_SCHEMA_PARSE_H

#include "config/schema.h"

struct config_parse {
	struct vm_config *cfg;
	struct run_opts *run;          /* NULL: JSON only (the daemon) */
	void *elem;                    /* target of CONFIG_TO_ELEM rows */
	unsigned flags;                /* CONFIG_JSON_* (config_json.h) */
	bool cli;                      /* messages name options, not keys */
	uint64_t *given;               /* CONFIG_ROWS_MAX bits, or NULL */
	char *err;
	size_t errlen;
};

/* The index of r in the table. */
size_t config_row_index(const struct config_row *r);

/* Where r's value lives for p (NULL for CONFIG_TO_NONE, or TO_RUN without a
 * run_opts, or TO_ELEM without an element). */
void *config_field(const struct config_parse *p, const struct config_row *r);

/* Parse the text `s` as r's value and store it; `name` names it in messages
 * ("--mem" or "disks[0].id"). Strings are stored as pointers to s. */
int config_set_text(struct config_parse *p, const struct config_row *r, const char *name,
		    const char *s) BH_WUR;

/* Zero `elem` (an element of the ARRAY row a) and apply the defaults of the
 * rows "KEY[].*". */
void config_elem_defaults(struct config_parse *p, const struct config_row *a, void *elem);

/* Record that r was set. */
void config_mark_given(struct config_parse *p, const struct config_row *r);

/* Apply a JSON document over p->cfg (all or nothing), recording the keys
 * given; see config_json_parse(). */
int config_json_apply(const char *text, size_t len, unsigned flags, struct vm_config *cfg,
		      uint64_t *given, struct json_object **root, char *err,
		      size_t errlen) BH_WUR;

/* The custom command-line forms (schema.c's rows name them). */
int config_cli_console(struct config_parse *p, const struct config_row *r, const char *arg);
int config_cli_disk(struct config_parse *p, const struct config_row *r, const char *arg);
int config_cli_net(struct config_parse *p, const struct config_row *r, const char *arg);
int config_cli_vsock(struct config_parse *p, const struct config_row *r, const char *arg);
int config_cli_config(struct config_parse *p, const struct config_row *r, const char *arg);
int config_cli_fd(struct config_parse *p, const struct config_row *r, const char *arg);

#endif
