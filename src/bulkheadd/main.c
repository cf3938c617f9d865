/* main.c — bulkheadd: the VM manager daemon. Serves the HTTP/JSON API
 * (api/openapi.yaml) on a unix socket; see daemon.h and api.h. */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>

#include "api/api.h"
#include "config/args.h"
#include "config/exit_codes.h"
#include "config/schema.h"
#include "common/log.h"
#include "daemon/daemon.h"
#include "daemon/usock.h"
#include "daemon/listen.h"

#define DEFAULT_SOCKET "/run/bulkhead/bulkheadd.sock"
#define DEFAULT_STATE "/var/lib/bulkhead"

#ifndef BULKHEAD_VERSION
#define BULKHEAD_VERSION "unknown"
#endif

static void usage(FILE *out)
{
	fprintf(out,
		"usage: bulkheadd [OPTIONS]\n"
		"\n"
		"The bulkhead VM manager: an HTTP/JSON API (api/openapi.yaml) on a unix socket;\n"
		"one `bulkhead run` process per VM, supervised, re-attached after a restart.\n"
		"  --socket PATH        API socket (default " DEFAULT_SOCKET ")\n"
		"  --socket-mode MODE   its permissions, octal (default 0660)\n"
		"  --socket-group G     its group, name or number (default: group 'bulkhead' if\n"
		"                       it exists, else root's)\n"
		"  --state-dir DIR      VM records, logs, control sockets (default " DEFAULT_STATE ")\n"
		"  --vmm PATH           the bulkhead binary to run VMs with (default: next to\n"
		"                       bulkheadd, else the installed one)\n"
		"  --switch-binary PATH the bulkhead binary the networks' switch runs from\n"
		"                       (`bulkhead switch`; default: as for --vmm, without it)\n"
		"  --stop-timeout S     default wait for a graceful stop (default 10)\n"
		"  --client-timeout S   close a client connection idle for S seconds, e.g. a\n"
		"                       half-sent request (default 10); a request must arrive\n"
		"                       whole within 3 x S however it trickles in\n"
		"  --control-timeout MS one control request to a VMM, connect included (5000)\n"
		"Fair shares (root is exempt; 8 API connections are kept for root):\n"
		"  --max-vms-per-user N        VMs one user may have (default 32)\n"
		"  --max-mem-per-user SIZE     their total guest memory (default 64G)\n"
		"  --max-conns-per-user N      concurrent API connections (default 16)\n"
		"  --max-follows-per-user N    concurrent console/event follow streams (default 4)\n"
		"Caps on what a VM writes:\n"
		"  --console-max SIZE   largest console log a VM may have (default 64M)\n"
		"  --vmm-log-max SIZE   bytes of a VMM's own output kept in vmm.log (default 1M)\n"
		"  --routes             print the API's route table and exit\n"
		"  --config-schema      print the VM configuration's JSON Schema and the exit\n"
		"                       codes of the VMM, and exit\n"
		"  -v, --verbose / -q, --quiet\n"
		"  --version            print the version and exit\n"
		"Non-root clients see and control only their own VMs (uid from SO_PEERCRED).\n"
		"Stop it with SIGTERM or SIGINT (Ctrl-C): the API closes, the VMs keep running,\n"
		"and a restarted bulkheadd re-attaches to them.\n"
		"Socket activation: started by systemd (bulkheadd.socket) or any supervisor that\n"
		"sets LISTEN_FDS/LISTEN_PID, it serves the socket passed as fd 3 and ignores\n"
		"--socket, --socket-mode and --socket-group (the socket unit sets them).\n"
		"Logging goes to stderr; under systemd (JOURNAL_STREAM) each line carries its\n"
		"syslog priority for the journal.\n");
}

static int bad(const char *msg)
{
	fprintf(stderr, "bulkheadd: %s\nTry 'bulkheadd --help'.\n", msg);
	return BH_EXIT_CONFIG;
}

/* Bind the API socket; refuse if another daemon answers there. */
static int make_api_socket(const char *path, mode_t mode, gid_t gid, char *err, size_t errlen)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;
	int fd;

	if (strlen(path) >= sizeof(dir)) {
		snprintf(err, errlen, "--socket %.100s: path too long for a unix socket", path);
		return -ENAMETOOLONG;
	}
	memcpy(dir, path, strlen(path) + 1);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			snprintf(err, errlen, "%.100s: %s", dir, strerror(errno));
			return -errno;
		}
	}
	fd = usock_connect(path, SOCK_STREAM, dmn_now_ns() + 1000000000ull);
	if (fd >= 0) {
		close(fd);
		snprintf(err, errlen, "--socket %.100s: another daemon is serving there", path);
		return -EADDRINUSE;
	}
	fd = usock_listen(path, SOCK_STREAM, 0600, 64);
	if (fd < 0 || chown(path, (uid_t)-1, gid) < 0 || chmod(path, mode) < 0) {
		int e = fd < 0 ? -fd : errno;

		snprintf(err, errlen, "--socket %.100s: %s", path, strerror(e));
		if (fd >= 0)
			close(fd);
		return -e;
	}
	return fd;
}

static int default_vmm(char *buf, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n <= 0)
		return -1;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (!slash)
		return -1;
	*slash = '\0';
	if (snprintf(buf, len, "%s/bulkhead", self) >= (int)len)
		return -1;
#ifdef BULKHEAD_BINDIR
	/* Installed: bulkheadd in sbin, bulkhead in bin (a build tree has both
	 * side by side, and that copy wins there). */
	if (access(buf, X_OK) < 0 &&
	    snprintf(buf, len, "%s/bulkhead", BULKHEAD_BINDIR) >= (int)len)
		return -1;
#endif
	return 0;
}

/* Long options without a short form. */
enum { O_CTL_TIMEOUT = 256, O_VMS, O_MEM, O_CONNS, O_FOLLOWS, O_CONSOLE_MAX, O_VMM_LOG_MAX,
       O_SWITCH_BIN };

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "socket-mode", required_argument, NULL, 'm' },
		{ "socket-group", required_argument, NULL, 'g' },
		{ "state-dir", required_argument, NULL, 'd' },
		{ "vmm", required_argument, NULL, 'x' },
		{ "switch-binary", required_argument, NULL, O_SWITCH_BIN },
		{ "stop-timeout", required_argument, NULL, 't' },
		{ "client-timeout", required_argument, NULL, 'c' },
		{ "control-timeout", required_argument, NULL, O_CTL_TIMEOUT },
		{ "max-vms-per-user", required_argument, NULL, O_VMS },
		{ "max-mem-per-user", required_argument, NULL, O_MEM },
		{ "max-conns-per-user", required_argument, NULL, O_CONNS },
		{ "max-follows-per-user", required_argument, NULL, O_FOLLOWS },
		{ "console-max", required_argument, NULL, O_CONSOLE_MAX },
		{ "vmm-log-max", required_argument, NULL, O_VMM_LOG_MAX },
		{ "routes", no_argument, NULL, 'r' },
		{ "config-schema", no_argument, NULL, 'S' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sock = DEFAULT_SOCKET, *state = DEFAULT_STATE, *group = NULL;
	char vmm[PATH_MAX] = "", swbin[PATH_MAX] = "", err[512], activated[108];
	unsigned mode = 0660, stop_timeout = 10, client_timeout = API_CONN_TIMEOUT_S;
	struct dmn_limits lim;
	struct api_server *srv;
	struct daemon *d;
	sigset_t set;
	gid_t gid = 0;
	bool act = false; /* socket-activated: the socket belongs to systemd */
	int c, fd, sig, ret;

	signal(SIGPIPE, SIG_IGN);
	dmn_limits_default(&lim);
	bh_log_detect_journal();
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":vqh", opts, NULL)) != -1) {
		switch (c) {
		case 's': sock = optarg; break;
		case 'd': state = optarg; break;
		case 'g': group = optarg; break;
		case 'x':
			if (snprintf(vmm, sizeof(vmm), "%s", optarg) >= (int)sizeof(vmm))
				return bad("--vmm: path too long");
			break;
		case O_SWITCH_BIN:
			if (snprintf(swbin, sizeof(swbin), "%s", optarg) >= (int)sizeof(swbin))
				return bad("--switch-binary: path too long");
			break;
		case 'm': {
			char *end;
			unsigned long m = strtoul(optarg, &end, 8);

			if (!*optarg || *end || m > 0777)
				return bad("--socket-mode: expected an octal mode such as 0660");
			mode = (unsigned)m;
			break;
		}
		case 't':
			if (args_parse_uint("--stop-timeout", optarg, 0, 600, &stop_timeout, err,
					    sizeof(err)))
				return bad(err);
			break;
		case 'c':
			if (args_parse_uint("--client-timeout", optarg, 1, 3600, &client_timeout, err,
					    sizeof(err)))
				return bad(err);
			break;
		case O_CTL_TIMEOUT:
			if (args_parse_uint("--control-timeout", optarg, 100, 600000,
					    &lim.ctl_timeout_ms, err, sizeof(err)))
				return bad(err);
			break;
		case O_VMS:
			if (args_parse_uint("--max-vms-per-user", optarg, 0, DMN_MAX_VMS,
					    &lim.vms_per_uid, err, sizeof(err)))
				return bad(err);
			break;
		case O_CONNS:
			if (args_parse_uint("--max-conns-per-user", optarg, 1,
					    API_MAX_CONNECTIONS - 8, &lim.conns_per_uid, err,
					    sizeof(err)))
				return bad(err);
			break;
		case O_FOLLOWS:
			if (args_parse_uint("--max-follows-per-user", optarg, 0,
					    API_MAX_CONNECTIONS, &lim.follows_per_uid, err,
					    sizeof(err)))
				return bad(err);
			break;
		case O_MEM:
			if (args_parse_size("--max-mem-per-user", optarg, 1ULL << 20,
					    &lim.mem_per_uid, err, sizeof(err)))
				return bad(err);
			break;
		case O_CONSOLE_MAX:
			if (args_parse_size("--console-max", optarg, 1ULL << 20, &lim.console_max,
					    err, sizeof(err)))
				return bad(err);
			if (lim.console_max < 4096)
				return bad("--console-max: at least 4K");
			break;
		case O_VMM_LOG_MAX:
			if (args_parse_size("--vmm-log-max", optarg, 1ULL << 20, &lim.vmm_log_max,
					    err, sizeof(err)))
				return bad(err);
			break;
		case 'r':
			for (size_t i = 0; i < api_nroutes; i++)
				printf("%s %s\n", api_routes[i].method, api_routes[i].path);
			return BH_EXIT_OK;
		case 'S': {
			/* the schema api/openapi.yaml's Config must equal (config_schema.py) */
			struct json_object *doc = config_schema_json();

			if (!doc)
				return BH_EXIT_HOST;
			printf("%s\n", json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY |
							       JSON_C_TO_STRING_NOSLASHESCAPE));
			json_object_put(doc);
			return BH_EXIT_OK;
		}
		case 'v': bh_log_set_level(BH_LOG_DEBUG); break;
		case 'q': bh_log_set_level(BH_LOG_WARN); break;
		case 'h': usage(stdout); return BH_EXIT_OK;
		case 'V': printf("bulkheadd %s\n", BULKHEAD_VERSION); return BH_EXIT_OK;
		case ':':
			snprintf(err, sizeof(err), "option %s needs a value", argv[optind - 1]);
			return bad(err);
		default:
			snprintf(err, sizeof(err), "unknown option '%s'", argv[optind - 1]);
			return bad(err);
		}
	}
	if (optind < argc) {
		snprintf(err, sizeof(err), "unexpected argument '%s'", argv[optind]);
		return bad(err);
	}
	if (group) {
		struct group *g = getgrnam(group);
		char *end;
		unsigned long n = strtoul(group, &end, 10);

		if (g)
			gid = g->gr_gid;
		else if (*group && !*end && n < UINT32_MAX)
			gid = (gid_t)n;
		else {
			snprintf(err, sizeof(err), "--socket-group %.64s: no such group", group);
			return bad(err);
		}
	} else {
		struct group *g = getgrnam("bulkhead");

		gid = g ? g->gr_gid : getgid();
	}
	if (!vmm[0] && default_vmm(vmm, sizeof(vmm)))
		return bad("cannot locate the bulkhead binary; give --vmm PATH");
	if (access(vmm, X_OK) < 0) {
		snprintf(err, sizeof(err), "--vmm %.200s: %s", vmm, strerror(errno));
		return bad(err);
	}
	if (swbin[0] && access(swbin, X_OK) < 0) {
		snprintf(err, sizeof(err), "--switch-binary %.200s: %s", swbin, strerror(errno));
		return bad(err);
	}
	if (!swbin[0] && (default_vmm(swbin, sizeof(swbin)) || access(swbin, X_OK) < 0))
		snprintf(swbin, sizeof(swbin), "%s", vmm);

	/* Signals are taken by sigwait below; every thread inherits the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	d = calloc(1, sizeof(*d));
	if (!d)
		return BH_EXIT_HOST;
	if ((ret = dmn_init(d, state, vmm, err, sizeof(err)))) {
		bh_err("%s", err);
		dmn_destroy(d);
		free(d);
		return ret == -ENOMEM ? BH_EXIT_HOST : BH_EXIT_CONFIG;
	}
	d->stop_timeout_s = stop_timeout;
	d->lim = lim;
	if (snprintf(d->switch_path, sizeof(d->switch_path), "%s", swbin) >=
	    (int)sizeof(d->switch_path)) {
		dmn_destroy(d);
		free(d);
		return bad("--switch-binary: path too long");
	}
	fd = dmn_listen_activated(activated, sizeof(activated), err, sizeof(err));
	if (fd >= 0) {
		act = true;
		sock = activated[0] ? activated : "the socket-activated fd 3";
	}
	else if (fd == -ENOENT)
		fd = make_api_socket(sock, (mode_t)mode, gid, err, sizeof(err));
	if (fd < 0) {
		bh_err("%s", err);
		dmn_destroy(d);
		free(d);
		return BH_EXIT_CONFIG;
	}
	if (dmn_recover(d, err, sizeof(err))) {
		bh_err("%s", err);
		close(fd);
		dmn_destroy(d);
		free(d);
		return BH_EXIT_HOST;
	}
	srv = api_server_start(d, fd, client_timeout, err, sizeof(err));
	if (!srv) {
		bh_err("%s", err);
		ret = BH_EXIT_HOST;
		goto out;
	}
	if (act)
		bh_info("serving on %s (socket activation), state in %s, VMM %s", sock, state, vmm);
	else
		bh_info("serving on %s (mode %04o, gid %u), state in %s, VMM %s", sock, mode,
			(unsigned)gid, state, vmm);
	do {
		if (sigwait(&set, &sig))
			break;
	} while (sig == SIGHUP); /* HUP: nothing to reload yet */
	bh_info("signal %d: stopping the API; VMs keep running", sig);
	api_server_stop(srv);
	if (!act)
		unlink(sock);
	ret = BH_EXIT_OK;
out:
	{
		uint64_t one = 1;

		if (d->refresh_started) /* each of its round-trips has a deadline */
			pthread_join(d->refresh_thread, NULL);
		dsw_shutdown(d); /* the switch lives on while VMs hold ports */
		if (write(d->wake_fd, &one, sizeof(one)) < 0) {
		}
		if (d->sup_started)
			pthread_join(d->sup_thread, NULL);
	}
	dmn_destroy(d);
	free(d);
	return ret;
}
