/* client.c — the CLI's daemon commands: ps, create, start, pause, resume,
 * stop, kill, rm, inspect, logs, quarantine, snapshot, balloon, events,
 * network. HTTP over the daemon's unix socket (client_http.c); replies are
 * JSON (json-c). Human tables by default, the daemon's JSON with --json.
 * Exit codes: 0 done; 1 daemon unreachable or failed (5xx); 2 bad usage or the
 * daemon refused the request (4xx: the message says why). */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "cli/cli.h"
#include "cli/client_http.h"
#include "config/args.h"
#include "config/config_json.h"
#include "config/exit_codes.h"

#define DEFAULT_SOCKET "/run/bulkhead/bulkheadd.sock"

static void fmt_duration(long long s, char *buf, size_t len)
{
	if (s <= 0)
		snprintf(buf, len, "-");
	else if (s < 120)
		snprintf(buf, len, "%llds", s);
	else if (s < 7200)
		snprintf(buf, len, "%lldm", s / 60);
	else
		snprintf(buf, len, "%lldh", s / 3600);
}

static void print_table(json_object *arr)
{
	printf("%-8s  %-16s  %-11s  %7s  %5s  %7s  %7s  %5s  %s\n", "ID", "NAME", "STATE", "PID",
	       "VCPUS", "MEM", "UPTIME", "OWNER", "EXIT");
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *v = json_object_array_get_idx(arr, i), *e;
		char up[32], exit_s[300] = "";

		fmt_duration(client_iget(v, "uptime_s"), up, sizeof(up));
		if (json_object_object_get_ex(v, "exit", &e))
			snprintf(exit_s, sizeof(exit_s), "%s", client_sget(e, "reason"));
		printf("%-8s  %-16s  %-11s  %7lld  %5lld  %6lldM  %7s  %5lld  %s\n", client_sget(v, "id"),
		       client_sget(v, "name")[0] ? client_sget(v, "name") : "-", client_sget(v, "state"), client_iget(v, "pid"),
		       client_iget(v, "vcpus"), client_iget(v, "mem_bytes") >> 20, up, client_iget(v, "owner"), exit_s);
	}
}

static void print_kv(const char *prefix, json_object *o)
{
	json_object_object_foreach(o, k, v) {
		if (json_object_is_type(v, json_type_object) && strcmp(k, "config")) {
			char p[64];

			snprintf(p, sizeof(p), "%s%s.", prefix, k);
			print_kv(p, v);
			continue;
		}
		printf("%s%s: %s\n", prefix, k,
		       json_object_is_type(v, json_type_string)
			       ? json_object_get_string(v)
			       : json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
	}
}

/* Print the events of one GET /v1/events reply; *last = its "last". */
static void print_events(struct client *c, long long *last)
{
	json_object *o = client_reply(c), *arr;

	if (!o)
		return;
	if (c->json) {
		printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	} else if (json_object_object_get_ex(o, "events", &arr)) {
		for (size_t i = 0; i < json_object_array_length(arr); i++) {
			json_object *e = json_object_array_get_idx(arr, i);
			time_t t = (time_t)client_iget(e, "time");
			struct tm tm;
			char when[32] = "?";

			if (gmtime_r(&t, &tm))
				strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
			printf("%lld %s %-8s %-12s %s\n", client_iget(e, "seq"), when,
			       client_sget(e, "vm")[0] ? client_sget(e, "vm") : "-", client_sget(e, "type"), client_sget(e, "detail"));
		}
	}
	fflush(stdout);
	*last = client_iget(o, "last");
	json_object_put(o);
}

/* `bulkhead events [-f]`: the events the daemon lets us see; with -f, long
 * polls (GET /v1/events?since=LAST&wait=30) until interrupted or refused. */
static int events(struct client *c, bool follow)
{
	long long last = 0;
	char path[128];
	int ret;

	if ((ret = client_outcome(c, client_call(c, "GET", "/v1/events", NULL, 0))))
		return ret;
	print_events(c, &last);
	while (follow) {
		snprintf(path, sizeof(path), "/v1/events?since=%lld&wait=30", last);
		if ((ret = client_outcome(c, client_call(c, "GET", path, NULL, 0))))
			return ret;
		print_events(c, &last);
	}
	return BH_EXIT_OK;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: bulkhead [--socket PATH] [--json] COMMAND ...   (talks to bulkheadd;\n"
		"       --socket and --json may also follow the command)\n"
		"  ps                                   list VMs\n"
		"  create --config FILE [--name N] [--start]   create a VM from a JSON config\n"
		"  create --from-snapshot VM/SNAP|DIR [--paused] [--name N] [--start]\n"
		"                                       create a VM that restores a snapshot\n"
		"                                       (one of your VM's, or a directory you can read)\n"
		"  start|pause|resume|kill|rm|inspect ID\n"
		"  stop ID [--timeout S]                Ctrl-Alt-Del, then SIGTERM, then SIGKILL\n"
		"  logs ID [--tail BYTES|--lines N] [-f]  console output: the last BYTES bytes\n"
		"                                       (default 64 KiB) or N lines (-f: follow)\n"
		"  quarantine ID --reason TEXT          capture a forensic snapshot, then pause\n"
		"                                       and cut off all device I/O\n"
		"  snapshot ID [--resume] [--name N]    snapshot a VM into the daemon's store\n"
		"                                       (it stays paused unless --resume)\n"
		"  snapshot rm VM/NAME                  remove one of a VM's snapshots\n"
		"  balloon ID SIZE                      ask the guest for SIZE of memory back\n"
		"                                       (its balloon's target; 0 gives it all back)\n"
		"  events [-f]                          the daemon's events about your VMs\n"
		"  exec --vm ID [OPTIONS] -- PROGRAM    run PROGRAM in the running VM ID (its guest\n"
		"                                       runs the agent; bulkhead exec --help)\n"
		"                                       (-f: keep following, by long polls)\n"
		"  network create NAME [--egress RULES] a network (a segment of the daemon's\n"
		"                                       switch); RULES: allow:CIDR,deny:CIDR,...\n"
		"        [--uplink passt|tap=IFNAME]    with an uplink to the outside: passt (one\n"
		"                                       VM) or a host tap (root); egress default-deny\n"
		"  network ls | inspect NAME | rm NAME  list, show, remove networks\n"
		"Socket: --socket, else $BULKHEAD_SOCKET, else " DEFAULT_SOCKET ".\n"
		"Exit: 0 done; 1 daemon unreachable or failed; 2 bad usage or request refused.\n");
}

/* `logs --lines N`: the console's last N lines, from its last MiB (the
 * API's tail counts bytes). Prints them, unless `follow`: then *bytes is the
 * byte count from where they start, for the following request. */
static int tail_lines(struct client *c, const char *id, unsigned long long n, bool follow,
		      char *bytes, size_t blen)
{
	char path[512];
	size_t start;
	int ret;

	snprintf(path, sizeof(path), "/v1/vms/%s/console?follow=false&tail=%u", id, 1u << 20);
	if ((ret = client_outcome(c, client_call(c, "GET", path, NULL, 0))))
		return ret;
	start = c->len;
	/* A last line without its newline counts as a line. */
	if (start && c->buf[start - 1] == '\n')
		start--;
	for (unsigned long long k = 0; start > 0; start--)
		if (c->buf[start - 1] == '\n' && ++k == n)
			break;
	if (n == 0)
		start = c->len;
	if (follow)
		snprintf(bytes, blen, "%zu", c->len - start);
	else if (c->len > start)
		fwrite(c->buf + start, 1, c->len - start, stdout);
	return 0;
}

/* `create --start`: a VM whose guest ends at once (a kernel that cannot
 * boot, a crash) ran, so the start succeeded; look again a moment later —
 * as long as the start took (start_ms: a slow host is slow at both), at
 * least 250 ms, at most 2 s — and say so. 0 if it runs or ended cleanly, 1
 * (message printed) if it failed. */
static int check_started(struct client *c, const char *vid)
{
	json_object *o = client_reply(c), *e;
	long long ms = o ? client_iget(o, "start_ms") : 0;
	struct timespec ts;
	char path[128];
	int ret = BH_EXIT_OK;

	json_object_put(o);
	ms = ms < 250 ? 250 : ms > 2000 ? 2000 : ms;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	nanosleep(&ts, NULL);
	snprintf(path, sizeof(path), "/v1/vms/%s", vid);
	if (client_outcome(c, client_call(c, "GET", path, NULL, 0)))
		return BH_EXIT_OK; /* the start itself succeeded; nothing more to say */
	o = client_reply(c);
	if (o && !strcmp(client_sget(o, "state"), "exited") && json_object_object_get_ex(o, "exit", &e)) {
		long long code = client_iget(e, "code");

		fprintf(stderr, "bulkhead: VM %s %s at once: %s (exit code %lld)%s%s\n", vid,
			code ? "failed" : "ended", client_sget(e, "reason"), code,
			client_sget(e, "detail")[0] ? ": " : "", client_sget(e, "detail"));
		if (code)
			ret = BH_EXIT_HOST;
	}
	json_object_put(o);
	return ret;
}

static int read_file(const char *path, char **out, size_t *len)
{
	FILE *f = fopen(path, "re");
	char *buf;
	size_t n;

	if (!f) {
		fprintf(stderr, "bulkhead: --config %s: %s\n", path, strerror(errno));
		return -1;
	}
	buf = malloc(CONFIG_JSON_MAX + 1);
	n = buf ? fread(buf, 1, CONFIG_JSON_MAX + 1, f) : 0;
	fclose(f);
	if (!buf || n > CONFIG_JSON_MAX) {
		fprintf(stderr, "bulkhead: --config %s: %s\n", path,
			buf ? "larger than 64 KiB" : "out of memory");
		free(buf);
		return -1;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

/* `bulkhead network create NAME [--egress RULES] [--uplink passt|tap=IFNAME] | ls |
 * inspect NAME | rm NAME`. */
static int network(struct client *c, const char *sub, const char *name, const char *egress,
		   const char *uplink)
{
	char path[256];
	json_object *o, *arr;
	int ret;

	if (!strcmp(sub, "ls")) {
		if ((ret = client_outcome(c, client_call(c, "GET", "/v1/networks", NULL, 0))))
			return ret;
		o = client_reply(c);
		if (c->json || !o) {
			fputs(c->buf ? c->buf : "", stdout);
		} else if (json_object_object_get_ex(o, "networks", &arr)) {
			printf("%-8s  %-20s  %5s  %4s  %-8s  %s\n", "ID", "NAME", "OWNER", "VMS",
			       "UPLINK", "EGRESS");
			for (size_t i = 0; i < json_object_array_length(arr); i++) {
				json_object *n = json_object_array_get_idx(arr, i), *vms, *up;
				const char *kind = "-";

				if (json_object_object_get_ex(n, "uplink", &up) &&
				    json_object_is_type(up, json_type_object))
					kind = client_sget(up, "kind");
				printf("%-8s  %-20s  %5lld  %4zu  %-8s  %s\n", client_sget(n, "id"),
				       client_sget(n, "name"), client_iget(n, "owner"),
				       json_object_object_get_ex(n, "vms", &vms)
					       ? json_object_array_length(vms) : (size_t)0,
				       kind, client_sget(n, "egress")[0] ? client_sget(n, "egress") : "-");
			}
		}
		json_object_put(o);
		return BH_EXIT_OK;
	}
	snprintf(path, sizeof(path), "/v1/networks/%s", name);
	if (!strcmp(sub, "create")) {
		json_object *b = json_object_new_object();
		char *body;

		json_object_object_add(b, "name", json_object_new_string(name));
		if (egress)
			json_object_object_add(b, "egress", json_object_new_string(egress));
		if (uplink)
			json_object_object_add(b, "uplink", json_object_new_string(uplink));
		body = strdup(json_object_to_json_string(b));
		json_object_put(b);
		if (!body)
			return BH_EXIT_HOST;
		ret = client_outcome(c, client_call(c, "POST", "/v1/networks", body, strlen(body)));
		free(body);
	} else if (!strcmp(sub, "rm")) {
		ret = client_outcome(c, client_call(c, "DELETE", path, NULL, 0));
	} else {
		ret = client_outcome(c, client_call(c, "GET", path, NULL, 0));
	}
	if (ret)
		return ret;
	o = client_reply(c);
	if (c->json || !o)
		fputs(c->buf ? c->buf : "", stdout);
	else if (!strcmp(sub, "inspect"))
		print_kv("", o);
	else
		printf("%s: %s\n", name, !strcmp(sub, "rm") ? "removed" : client_sget(o, "id"));
	json_object_put(o);
	return BH_EXIT_OK;
}

enum { O_SOCKET = 256, O_JSON, O_CONFIG, O_NAME, O_START, O_TIMEOUT, O_TAIL, O_REASON, O_LINES,
       O_EGRESS, O_FROMSNAP, O_PAUSED, O_RESUME, O_UPLINK };

int cli_client(int argc, char **argv, uint64_t start_ns)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, O_SOCKET },
		{ "json", no_argument, NULL, O_JSON },
		{ "config", required_argument, NULL, O_CONFIG },
		{ "name", required_argument, NULL, O_NAME },
		{ "start", no_argument, NULL, O_START },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "tail", required_argument, NULL, O_TAIL },
		{ "lines", required_argument, NULL, O_LINES },
		{ "follow", no_argument, NULL, 'f' },
		{ "reason", required_argument, NULL, O_REASON },
		{ "from-snapshot", required_argument, NULL, O_FROMSNAP },
		{ "paused", no_argument, NULL, O_PAUSED },
		{ "resume", no_argument, NULL, O_RESUME },
		{ "egress", required_argument, NULL, O_EGRESS },
		{ "uplink", required_argument, NULL, O_UPLINK },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = argv[0], *config = NULL, *name = NULL, *timeout = NULL, *tail = NULL,
		   *lines = NULL, *reason = NULL, *id = NULL, *env = getenv("BULKHEAD_SOCKET"),
		   *fromsnap = NULL, *egress = NULL, *uplink = NULL;
	struct client c = { .socket = env && *env ? env : DEFAULT_SOCKET };
	bool start = false, follow = false, paused = false, resume = false;
	char path[512], *body = NULL;
	size_t len = 0;
	long st;
	int opt, ret = BH_EXIT_OK;

	(void)start_ns;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":fh", opts, NULL)) != -1) {
		switch (opt) {
		case O_SOCKET: c.socket = optarg; break;
		case O_JSON: c.json = true; break;
		case O_CONFIG: config = optarg; break;
		case O_NAME: name = optarg; break;
		case O_START: start = true; break;
		case O_TIMEOUT: timeout = optarg; break;
		case O_TAIL: tail = optarg; break;
		case O_LINES: lines = optarg; break;
		case 'f': follow = true; break;
		case O_REASON: reason = optarg; break;
		case O_FROMSNAP: fromsnap = optarg; break;
		case O_PAUSED: paused = true; break;
		case O_RESUME: resume = true; break;
		case O_EGRESS: egress = optarg; break;
		case O_UPLINK: uplink = optarg; break;
		case 'h': usage(stdout); return BH_EXIT_OK;
		case ':':
			fprintf(stderr, "bulkhead %s: option %s needs a value\n", cmd, argv[optind - 1]);
			return BH_EXIT_CONFIG;
		default:
			fprintf(stderr, "bulkhead %s: unknown option '%s'\n", cmd, argv[optind - 1]);
			usage(stderr);
			return BH_EXIT_CONFIG;
		}
	}
	if (!strcmp(cmd, "network")) {
		const char *sub = optind < argc ? argv[optind++] : NULL, *nname = NULL;
		bool named = sub && (!strcmp(sub, "create") || !strcmp(sub, "rm") ||
				     !strcmp(sub, "inspect"));

		if (named && optind < argc)
			nname = argv[optind++];
		if (!sub || (!named && strcmp(sub, "ls")) || (named && !nname) || optind < argc ||
		    ((egress || uplink) && strcmp(sub, "create")) || config || name || start ||
		    timeout ||
		    tail || lines || follow || reason) {
			fprintf(stderr, "bulkhead network: usage: bulkhead network create NAME "
					"[--egress RULES] [--uplink passt|tap=IFNAME] | ls | inspect NAME | "
					"rm NAME\n");
			return BH_EXIT_CONFIG;
		}
		if (nname && strspn(nname, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					   "0123456789-_.") != strlen(nname)) {
			fprintf(stderr, "bulkhead network: '%s' is not a network name (letters, "
					"digits, '-', '_', '.')\n", nname);
			return BH_EXIT_CONFIG;
		}
		if (client_open())
			return BH_EXIT_HOST;
		ret = network(&c, sub, nname, egress, uplink);
		client_close(&c);
		return ret;
	}
	if (egress || uplink) {
		fprintf(stderr, "bulkhead %s: --%s goes with `network create`\n", cmd,
			egress ? "egress" : "uplink");
		return BH_EXIT_CONFIG;
	}
	bool needs_id = strcmp(cmd, "ps") && strcmp(cmd, "create") && strcmp(cmd, "events");

	const char *size = NULL;

	if (needs_id && optind < argc)
		id = argv[optind++];
	/* bulkhead snapshot rm VM/NAME: the source form `snapshot` printed. */
	bool snap_rm = !strcmp(cmd, "snapshot") && id && !strcmp(id, "rm");
	char snap_vm[128] = "";
	const char *snap_name = NULL;

	if (snap_rm) {
		const char *src = optind < argc ? argv[optind++] : NULL;
		const char *slash = src ? strchr(src, '/') : NULL;

		if (!slash || slash == src || !slash[1] || strchr(slash + 1, '/') ||
		    (size_t)(slash - src) >= sizeof(snap_vm)) {
			fprintf(stderr, "bulkhead snapshot rm: which snapshot? give VM/NAME (as "
					"`bulkhead snapshot` and `inspect` show it)\n");
			return BH_EXIT_CONFIG;
		}
		memcpy(snap_vm, src, (size_t)(slash - src));
		snap_name = slash + 1;
		id = snap_vm;
		if (strspn(snap_name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") !=
		    strlen(snap_name)) {
			fprintf(stderr, "bulkhead snapshot rm: '%s' is not a snapshot name\n", snap_name);
			return BH_EXIT_CONFIG;
		}
	}
	if (!strcmp(cmd, "balloon") && id && optind < argc)
		size = argv[optind++];
	if (optind < argc || (needs_id && !id)) {
		fprintf(stderr, "bulkhead %s: %s\n", cmd,
			optind < argc ? "unexpected argument" : "which VM? give its ID or name");
		return BH_EXIT_CONFIG;
	}
	if (!strcmp(cmd, "balloon")) {
		uint64_t bytes;
		char err[256];

		if (!size) {
			fprintf(stderr, "bulkhead balloon: which size? bulkhead balloon ID SIZE "
					"(e.g. 512M; a bare number is MiB)\n");
			return BH_EXIT_CONFIG;
		}
		if (args_parse_size("SIZE", size, 1ULL << 20, &bytes, err, sizeof(err))) {
			fprintf(stderr, "bulkhead balloon: %s\n", err);
			return BH_EXIT_CONFIG;
		}
	}
	if (id && strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") !=
			  strlen(id)) {
		fprintf(stderr, "bulkhead %s: '%s' is not a VM ID or name\n", cmd, id);
		return BH_EXIT_CONFIG;
	}
	bool is_create = !strcmp(cmd, "create"), is_snap = !strcmp(cmd, "snapshot");

	if ((is_create && !!config == !!fromsnap) || (!is_create && (config || fromsnap)) ||
	    (paused && !fromsnap) || (resume && (!is_snap || snap_rm)) ||
	    (name && !is_create && (!is_snap || snap_rm)) ||
	    (start && strcmp(cmd, "create")) || (timeout && strcmp(cmd, "stop")) ||
	    ((tail || lines) && strcmp(cmd, "logs")) || (tail && lines) ||
	    (follow && strcmp(cmd, "logs") && strcmp(cmd, "events")) ||
	    (!!reason != !strcmp(cmd, "quarantine"))) {
		fprintf(stderr, "bulkhead %s: wrong options for this command\n", cmd);
		usage(stderr);
		return BH_EXIT_CONFIG;
	}
	if (client_open())
		return BH_EXIT_HOST;

	if (!strcmp(cmd, "ps")) {
		st = client_call(&c, "GET", "/v1/vms", NULL, 0);
		if (!(ret = client_outcome(&c, st))) {
			json_object *o = client_reply(&c), *arr;

			if (c.json)
				fputs(c.buf, stdout);
			else if (o && json_object_object_get_ex(o, "vms", &arr))
				print_table(arr);
			json_object_put(o);
		}
	} else if (!strcmp(cmd, "create")) {
		if (fromsnap) {
			json_object *o = json_object_new_object();

			json_object_object_add(o, "from_snapshot", json_object_new_string(fromsnap));
			if (paused)
				json_object_object_add(o, "paused", json_object_new_boolean(true));
			body = strdup(json_object_to_json_string(o));
			len = body ? strlen(body) : 0;
			json_object_put(o);
		}
		if (!body && read_file(config, &body, &len))
			ret = BH_EXIT_CONFIG;
		else {
			snprintf(path, sizeof(path), "/v1/vms%s%s", name ? "?name=" : "",
				 name ? name : "");
			if (name && strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != strlen(name)) {
				fprintf(stderr, "bulkhead create: --name %s: letters, digits, '-', '_', '.' only\n", name);
				ret = BH_EXIT_CONFIG;
			} else {
				st = client_call(&c, "POST", path, body, len);
				ret = client_outcome(&c, st);
			}
			if (!ret) {
				json_object *o = client_reply(&c);
				char vid[64];

				snprintf(vid, sizeof(vid), "%s", o ? client_sget(o, "id") : "");
				json_object_put(o);
				if (start) {
					snprintf(path, sizeof(path), "/v1/vms/%s/start", vid);
					ret = client_outcome(&c, client_call(&c, "POST", path, NULL, 0));
					if (!ret)
						ret = check_started(&c, vid);
				}
				if (c.json)
					fputs(c.buf ? c.buf : "", stdout);
				else
					printf("%s\n", vid);
			}
		}
	} else if (!strcmp(cmd, "events")) {
		ret = events(&c, follow);
	} else if (!strcmp(cmd, "inspect")) {
		snprintf(path, sizeof(path), "/v1/vms/%s", id);
		if (!(ret = client_outcome(&c, client_call(&c, "GET", path, NULL, 0)))) {
			json_object *o = client_reply(&c);

			if (c.json || !o)
				printf("%s\n", o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY)
						 : c.buf);
			else
				print_kv("", o);
			json_object_put(o);
		}
	} else if (!strcmp(cmd, "logs")) {
		char bytes[32];

		if ((tail && (strspn(tail, "0123456789") != strlen(tail) || !*tail)) ||
		    (lines && (strspn(lines, "0123456789") != strlen(lines) || !*lines))) {
			fprintf(stderr, "bulkhead logs: --%s %s: not a whole number\n",
				tail ? "tail" : "lines", tail ? tail : lines);
			ret = BH_EXIT_CONFIG;
		} else if (lines && (ret = tail_lines(&c, id, strtoull(lines, NULL, 10), follow,
						      bytes, sizeof(bytes)))) {
			/* message printed */
		} else {
			if (lines)
				tail = bytes; /* follow from where those lines start */
			snprintf(path, sizeof(path), "/v1/vms/%s/console?follow=%s%s%s", id,
				 follow ? "true" : "false", tail ? "&tail=" : "", tail ? tail : "");
		}
		if (ret || (lines && !follow)) {
			/* done: an error, or the lines are printed */
		} else {
			c.stream = follow;
			st = client_call(&c, "GET", path, NULL, 0);
			if (!(ret = client_outcome(&c, st)) && !follow && c.buf)
				fwrite(c.buf, 1, c.len, stdout);
		}
	} else {
		const char *method = "POST", *verb = cmd;

		if (!strcmp(cmd, "rm")) {
			method = "DELETE";
			snprintf(path, sizeof(path), "/v1/vms/%s", id);
		} else if (snap_rm) {
			method = "DELETE";
			snprintf(path, sizeof(path), "/v1/vms/%s/snapshots/%s", id, snap_name);
		} else if (is_snap) {
			json_object *o = json_object_new_object();

			snprintf(path, sizeof(path), "/v1/vms/%s/snapshot", id);
			if (resume)
				json_object_object_add(o, "resume", json_object_new_boolean(true));
			if (name)
				json_object_object_add(o, "name", json_object_new_string(name));
			body = strdup(json_object_to_json_string(o));
			len = body ? strlen(body) : 0;
			json_object_put(o);
		} else if (size) {
			json_object *o = json_object_new_object();

			method = "PUT";
			snprintf(path, sizeof(path), "/v1/vms/%s/balloon", id);
			json_object_object_add(o, "target", json_object_new_string(size));
			body = strdup(json_object_to_json_string(o));
			len = body ? strlen(body) : 0;
			json_object_put(o);
		} else if (timeout) {
			if (strspn(timeout, "0123456789") != strlen(timeout) || !*timeout) {
				fprintf(stderr, "bulkhead stop: --timeout %s: not a whole number\n",
					timeout);
				client_close(&c);
				return BH_EXIT_CONFIG;
			}
			snprintf(path, sizeof(path), "/v1/vms/%s/stop?timeout=%s", id, timeout);
		} else {
			snprintf(path, sizeof(path), "/v1/vms/%s/%s", id, verb);
		}
		if (reason) {
			json_object *o = json_object_new_object();

			json_object_object_add(o, "reason", json_object_new_string(reason));
			body = strdup(json_object_to_json_string(o));
			len = body ? strlen(body) : 0;
			json_object_put(o);
		}
		st = client_call(&c, method, path, body, len);
		if (!(ret = client_outcome(&c, st))) {
			json_object *o = client_reply(&c);

			if (c.json)
				fputs(c.buf ? c.buf : "", stdout);
			else if (o && size)
				printf("%s: balloon target %lld bytes\n", client_sget(o, "id"),
				       client_iget(o, "target_bytes"));
			else if (o && snap_rm)
				printf("%s: snapshot %s removed\n", client_sget(o, "id"), client_sget(o, "snapshot"));
			else if (o && is_snap) /* what create --from-snapshot takes */
				printf("%s: snapshot %s (%s), VM %s\n", client_sget(o, "id"),
				       client_sget(o, "source"), client_sget(o, "path"), client_sget(o, "state"));
			else if (o && !strcmp(cmd, "quarantine") &&
				 client_sget(o, "forensic_snapshot")[0])
				printf("%s: %s; forensic snapshot %s\n", client_sget(o, "id"),
				       client_sget(o, "state"), client_sget(o, "forensic_snapshot"));
			else if (o && !strcmp(cmd, "quarantine") &&
				 client_sget(o, "forensic_snapshot_error")[0])
				printf("%s: %s; no forensic snapshot: %s\n", client_sget(o, "id"),
				       client_sget(o, "state"), client_sget(o, "forensic_snapshot_error"));
			else if (o && !strcmp(cmd, "stop")) /* how it ended */
				printf("%s: %s (%s)\n", client_sget(o, "id"), client_sget(o, "state"),
				       client_sget(o, "result"));
			else if (o)
				printf("%s: %s\n", client_sget(o, "id"),
				       client_sget(o, "state")[0] ? client_sget(o, "state") : client_sget(o, "result"));
			json_object_put(o);
		}
	}
	free(body);
	client_close(&c);
	return ret;
}
