/* config_cli.c — the command-line front end of the schema: `bulkhead run`'s
 * options, their getopt table built from the rows (schema.c), and the three
 * options whose form is not "--option VALUE" (--console, --disk, --config). */
#include "config/schema.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "config/args.h"
#include "config/config_json.h"
#include "config/schema_parse.h"

/* Set the row with JSON key `key` from text. */
static int set_key(struct config_parse *p, const char *key, const char *name, const char *s)
{
	const struct config_row *r = config_row_find(key);

	return r ? config_set_text(p, r, name, s) : -EINVAL;
}

/* --console stdio|none|file:PATH|virtio: console.mode, .path and .device. */
int config_cli_console(struct config_parse *p, const struct config_row *r, const char *arg)
{
	int ret;

	if (!strcmp(arg, "stdio") || !strcmp(arg, "none")) {
		ret = set_key(p, "console.mode", "--console", arg);
	} else if (!strncmp(arg, "file:", 5) && arg[5]) {
		if (!(ret = set_key(p, "console.path", "--console file:", arg + 5)))
			ret = set_key(p, "console.mode", "--console", "file");
	} else if (!strcmp(arg, "virtio")) {
		if (!(ret = set_key(p, "console.mode", "--console", "stdio")))
			ret = set_key(p, "console.device", "--console", "virtio");
	} else {
		snprintf(p->err, p->errlen, "--console %s: expected stdio, none, file:PATH or virtio",
			 arg);
		return -EINVAL;
	}
	if (!ret)
		config_mark_given(p, r);
	return ret;
}

/* "tap, tapfd, port, mac, mtu": the member keys of array row a. */
static void member_keys(const struct config_row *a, char *buf, size_t len)
{
	size_t n, plen = strlen(a->json);
	const struct config_row *rows = config_rows(&n);

	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(buf);

		if (config_array_of(&rows[i]) == a)
			snprintf(buf + l, len - l, "%s%s", l ? ", " : "", rows[i].json + plen + 3);
	}
}

/* --net KEY=VALUE[,KEY=VALUE...]: one more element of the array row r, each
 * KEY one of its member rows "nets[].KEY" (so the option and the JSON object
 * take the same keys and the same values). */
int config_cli_net(struct config_parse *p, const struct config_row *r, const char *arg)
{
	unsigned *count = config_array_count(p->cfg, r);
	uint64_t seen[CONFIG_ROWS_MAX / 64] = { 0 };
	char key[64], name[96], keys[128];
	struct config_parse q = *p;
	char *buf, *tok;
	void *elem;
	int ret;

	if (*count >= r->max || !p->run) {
		snprintf(p->err, p->errlen, "--%s %.100s: at most %llu", r->cli, arg,
			 (unsigned long long)r->max);
		return -ERANGE;
	}
	buf = p->run->net_arg[*count];
	if (strlen(arg) >= sizeof(p->run->net_arg[0]) || !*arg) {
		snprintf(p->err, p->errlen, "--%s: 1-%zu characters", r->cli,
			 sizeof(p->run->net_arg[0]) - 1);
		return -EINVAL;
	}
	memcpy(buf, arg, strlen(arg) + 1);
	elem = config_array_elem(p->cfg, r, *count);
	config_elem_defaults(p, r, elem);
	q.elem = elem;
	for (tok = buf; tok;) {
		char *next = strchr(tok, ','), *eq;
		const struct config_row *m;
		size_t i;

		if (next)
			*next++ = '\0';
		eq = strchr(tok, '=');
		if (!eq || eq == tok) {
			snprintf(p->err, p->errlen, "--%s %.100s: '%.40s' is not key=value", r->cli,
				 arg, tok);
			return -EINVAL;
		}
		*eq = '\0';
		snprintf(key, sizeof(key), "%.30s[].%.30s", r->json, tok);
		m = config_row_find(key);
		if (!m || config_array_of(m) != r) {
			member_keys(r, keys, sizeof(keys));
			snprintf(p->err, p->errlen, "--%s %.100s: unknown key '%.30s' (expected %s)",
				 r->cli, arg, tok, keys);
			return -EINVAL;
		}
		i = config_row_index(m);
		if (seen[i / 64] & (1ull << (i % 64))) {
			snprintf(p->err, p->errlen, "--%s %.100s: %s given twice", r->cli, arg, tok);
			return -EINVAL;
		}
		seen[i / 64] |= 1ull << (i % 64);
		snprintf(name, sizeof(name), "--%s %.30s", r->cli, tok);
		if ((ret = config_set_text(&q, m, name, eq + 1)))
			return ret;
		tok = next;
	}
	(*count)++;
	config_mark_given(p, r);
	return 0;
}

/* --disk path=IMG[,ro=on][,id=NAME]: one more element of disks[]. */
int config_cli_disk(struct config_parse *p, const struct config_row *r, const char *arg)
{
	struct vm_config *cfg = p->cfg;
	int ret;

	if (cfg->ndisks >= r->max || !p->run) {
		snprintf(p->err, p->errlen, "--disk %s: at most %llu disks", arg,
			 (unsigned long long)r->max);
		return -ERANGE;
	}
	config_elem_defaults(p, r, &cfg->disks[cfg->ndisks]);
	ret = args_parse_disk("--disk", arg, &cfg->disks[cfg->ndisks],
			      p->run->disk_path[cfg->ndisks], sizeof(p->run->disk_path[0]), p->err,
			      p->errlen);
	if (ret)
		return ret;
	cfg->ndisks++;
	config_mark_given(p, r);
	return 0;
}

/* --vsock cid=N,socket=PATH[,allow=PORTS]: the vsock object. */
int config_cli_vsock(struct config_parse *p, const struct config_row *r, const char *arg)
{
	struct vm_vsock_config v;
	int ret;

	if (!p->run) {
		snprintf(p->err, p->errlen, "--vsock: not here");
		return -EINVAL;
	}
	ret = args_parse_vsock("--vsock", arg, &v, p->run->vsock_socket,
			       sizeof(p->run->vsock_socket), p->run->vsock_allow,
			       sizeof(p->run->vsock_allow), p->err, p->errlen);
	if (ret)
		return ret;
	p->cfg->vsock = v;
	config_mark_given(p, r);
	return 0;
}

/* --config FILE: apply a JSON document over what is set so far. */
int config_cli_config(struct config_parse *p, const struct config_row *r, const char *path)
{
	char *buf = NULL, msg[300];
	size_t len = 0;
	FILE *f;
	int ret;

	if (!p->run || p->run->json) {
		snprintf(p->err, p->errlen, "--config given twice");
		return -EINVAL;
	}
	f = fopen(path, "re");
	if (!f) {
		ret = -errno;
		snprintf(p->err, p->errlen, "--config %.200s: %s", path, strerror(-ret));
		return ret;
	}
	buf = malloc(CONFIG_JSON_MAX + 1);
	if (buf)
		len = fread(buf, 1, CONFIG_JSON_MAX + 1, f);
	if (!buf || ferror(f)) {
		snprintf(p->err, p->errlen, "--config %.200s: cannot read it", path);
		ret = -EIO;
	} else if (len > CONFIG_JSON_MAX) {
		snprintf(p->err, p->errlen, "--config %.200s: larger than %d bytes", path,
			 CONFIG_JSON_MAX);
		ret = -E2BIG;
	} else {
		ret = config_json_apply(buf, len, 0, p->cfg, p->given, &p->run->json, msg,
					sizeof(msg));
		if (ret)
			snprintf(p->err, p->errlen, "--config %.100s: %.300s", path, msg);
		else
			config_mark_given(p, r);
	}
	free(buf);
	fclose(f);
	return ret;
}

/* --fd NAME=N: the syntax here; the descriptor itself is checked by the
 * VMM's named-fd table when the front end fills it. */
int config_cli_fd(struct config_parse *p, const struct config_row *r, const char *arg)
{
	struct run_fd *f;
	int ret;

	if (!p->run || p->run->nfds >= CONFIG_FDS_MAX) {
		snprintf(p->err, p->errlen, "--fd %s: at most %d named descriptors", arg,
			 CONFIG_FDS_MAX);
		return -ENOSPC;
	}
	f = &p->run->fds[p->run->nfds];
	ret = args_parse_named_fd("--fd", arg, f->name, &f->fd, p->err, p->errlen);
	if (ret)
		return ret;
	p->run->nfds++;
	config_mark_given(p, r);
	return 0;
}

void run_opts_free(struct run_opts *run)
{
	json_object_put(run->json);
	run->json = NULL;
}

/* getopt's `val` for a row: 256 + 2 * index (+1: its negation). */
#define OPT_VAL(i, neg) (256 + 2 * (int)(i) + (neg))

int config_cli_parse(int argc, char **argv, struct vm_config *cfg, struct run_opts *run,
		     char *err, size_t errlen)
{
	struct option opts[2 * CONFIG_ROWS_MAX + 1];
	char shorts[CONFIG_ROWS_MAX + 2] = ":";
	struct config_parse p = { .cfg = cfg, .run = run, .cli = true, .err = err,
				  .errlen = errlen };
	const struct config_row *rows;
	size_t n, no = 0, ns = 1;
	int c, ret = 0;

	memset(run, 0, sizeof(*run));
	p.given = run->given;
	rows = config_rows(&n);
	for (size_t i = 0; i < n; i++) {
		if (!rows[i].cli)
			continue;
		opts[no++] = (struct option){ rows[i].cli,
					      rows[i].metavar ? required_argument : no_argument,
					      NULL, OPT_VAL(i, 0) };
		if (rows[i].cli_neg)
			opts[no++] = (struct option){ rows[i].cli_neg, no_argument, NULL,
						      OPT_VAL(i, 1) };
		if (rows[i].short_opt)
			shorts[ns++] = rows[i].short_opt;
	}
	opts[no] = (struct option){ NULL, 0, NULL, 0 };
	shorts[ns] = '\0';

	optind = 0; /* glibc: start afresh, also after a parse that stopped mid-word */
	opterr = 0;
	while ((c = getopt_long(argc, argv, shorts, opts, NULL)) != -1) {
		const struct config_row *r = NULL;
		bool neg = false;
		char name[80];

		if (c == ':') {
			snprintf(err, errlen, "option %s needs a value", argv[optind - 1]);
			ret = -EINVAL;
			goto fail;
		}
		if (c >= 256) {
			r = &rows[(c - 256) / 2];
			neg = (c - 256) & 1;
		} else {
			for (size_t i = 0; i < n && c != '?'; i++)
				if (rows[i].short_opt == c)
					r = &rows[i];
		}
		if (!r) {
			snprintf(err, errlen, "unknown option '%s'", argv[optind - 1]);
			ret = -EINVAL;
			goto fail;
		}
		snprintf(name, sizeof(name), "--%s", neg ? r->cli_neg : r->cli);
		if (r->parse)
			ret = r->parse(&p, r, optarg);
		else if (r->type == CONFIG_BOOL)
			ret = config_set_text(&p, r, name, neg ? "false" : "true");
		else
			ret = config_set_text(&p, r, name, r->type == CONFIG_CONST ? "" : optarg);
		if (ret)
			goto fail;
		if (r->flags & CONFIG_STOP)
			return 0;
	}
	if (optind < argc) {
		snprintf(err, errlen, "unexpected argument '%s'", argv[optind]);
		ret = -EINVAL;
		goto fail;
	}
	if ((ret = config_validate(cfg, true, err, errlen)))
		goto fail;
	return 0;
fail:
	run_opts_free(run);
	return ret;
}
