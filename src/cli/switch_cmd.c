/* switch_cmd.c — `bulkhead switch`: run the bulkhead switch (src/switch/) as
 * its own jailed process, a separate failure domain like a physical switch.
 *
 *   bulkhead switch --listen PATH   control socket (SOCK_SEQPACKET) at PATH
 *   bulkhead switch --ctl-fd N      an already-connected control socket (its
 *                                   owner: the switch ends once it has hung
 *                                   up and no VM port is left); up to
 *                                   SW_CTL_FDS of them (bulkheadd: one for
 *                                   requests, one subscribed to events)
 *   --uplink SEGMENT[=passt]        (repeatable) start passt (switch/passt.h)
 *                                   as segment SEGMENT's uplink port
 *                                   "up-SEGMENT"; watched, removed if it
 *                                   exits, ended with the switch
 *   --uplink SEGMENT=tap=NAME       the existing host tap NAME as that port
 *                                   (switch/tap_uplink.h), opened before
 *                                   the jail
 *   --no-sandbox / --seccomp-trap   as for `bulkhead run`
 *   --no-port-security              benchmarks only (bench/net.c): VM ports
 *                                   skip the spoofing checks (struct sw)
 * Ports arrive over the control socket (ctl/switch_ctl.h). The host's own
 * addresses are read and passt is started before the jail (the egress policy
 * denies the former; the latter needs the host's network). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/log.h"
#include "config/exit_codes.h"
#include "sandbox/jail.h"
#include "switch/passt.h"
#include "switch/tap_uplink.h"
#include "switch/switch.h"

#define SW_CTL_FDS 4
#define MAX_UPLINKS 8

static void usage(FILE *out)
{
	fprintf(out,
		"usage: bulkhead switch (--listen PATH | --ctl-fd N)\n"
		"                       [--uplink SEGMENT[=passt|=tap=NAME]]...\n"
		"                       [--no-sandbox] [--seccomp-trap] [--no-port-security]\n\n"
		"Run the bulkhead switch in the foreground, jailed (namespaces, empty root, no\n"
		"capabilities, Landlock, its own seccomp allow-list). Ports (SOCK_SEQPACKET\n"
		"descriptors) are registered over the control socket; `bulkhead run --net\n"
		"switch=SEGMENT` starts one of its own when given no --switch socket.\n\n"
		"  --listen PATH    listen for control connections at PATH (mode 0600)\n"
		"  --ctl-fd N       use the connected control socket N; stop once it has hung up\n"
		"                   and no VM port is left (repeatable, up to 4: each is an owner)\n"
		"  --uplink SEGMENT[=passt]\n"
		"                   give SEGMENT an uplink to the outside through passt (Debian\n"
		"                   package passt; port up-SEGMENT; no inbound forwards, the\n"
		"                   gateway never mapped to the host); repeatable\n"
		"  --uplink SEGMENT=tap=NAME\n"
		"                   the existing host tap NAME as SEGMENT's uplink (the host\n"
		"                   routes it; the egress policy applies toward it)\n"
		"  --no-sandbox     run without the jail (loudly logged; development only)\n"
		"  --seccomp-trap   a forbidden system call raises SIGSYS instead of a kill\n"
		"  --no-port-security\n"
		"                   benchmarks only (make bench): VM ports are not checked for\n"
		"                   spoofed MAC/IP/ARP/NDP (loudly logged); never use it otherwise\n");
}

static int listen_at(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	if (strlen(path) >= sizeof(a.sun_path)) {
		fprintf(stderr, "bulkhead switch: --listen %s: path too long\n", path);
		return -ENAMETOOLONG;
	}
	memcpy(a.sun_path, path, strlen(path) + 1);
	/* a stale socket of an earlier switch is replaced; anything else is not */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			fprintf(stderr, "bulkhead switch: --listen %s: exists and is not a socket\n",
				path);
			return -EEXIST;
		}
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	mode_t old = umask(0177);
	int r = bind(fd, (struct sockaddr *)&a, sizeof(a));
	umask(old);
	if (r < 0 || listen(fd, 16) < 0) {
		int e = errno;
		fprintf(stderr, "bulkhead switch: --listen %s: %s\n", path, strerror(e));
		close(fd);
		return -e;
	}
	return fd;
}

/* --uplink SEGMENT[=passt|=tap=NAME]: the segment into seg, the tap's name
 * into tap ("" for passt); 0 or -EINVAL (printed). */
static int parse_uplink(const char *arg, char *seg, size_t seglen, char *tap, size_t taplen)
{
	const char *eq = strchr(arg, '=');
	size_t n = eq ? (size_t)(eq - arg) : strlen(arg);

	tap[0] = '\0';
	if (eq && !strncmp(eq + 1, "tap=", 4)) {
		if (!tap_uplink_name_ok(eq + 5) || strlen(eq + 5) >= taplen) {
			fprintf(stderr, "bulkhead switch: --uplink %s: a tap name is 1-15 of "
					"[A-Za-z0-9_.-]\n", arg);
			return -EINVAL;
		}
		snprintf(tap, taplen, "%s", eq + 5);
	} else if (eq && strcmp(eq + 1, "passt")) {
		fprintf(stderr, "bulkhead switch: --uplink %s: unknown uplink kind '%s' (passt or "
				"tap=NAME)\n", arg, eq + 1);
		return -EINVAL;
	}
	/* the port is "up-SEGMENT": at most SWCTL_NAME_LEN - 1 characters */
	if (n == 0 || n + 3 >= SWCTL_NAME_LEN || n >= seglen) {
		fprintf(stderr, "bulkhead switch: --uplink %s: a segment name of 1-%u characters\n",
			arg, SWCTL_NAME_LEN - 4);
		return -EINVAL;
	}
	memcpy(seg, arg, n);
	seg[n] = '\0';
	if (!swctl_name_ok(seg, n + 1)) {
		fprintf(stderr, "bulkhead switch: --uplink %s: segment names are [A-Za-z0-9_.-]\n",
			arg);
		return -EINVAL;
	}
	return 0;
}

/* Start passt for every uplink and hand it to the switch (before the jail).
 * 0 or -errno (printed). */
static int start_uplinks(struct sw *s, char segs[][SWCTL_NAME_LEN], char taps[][SWCTL_NAME_LEN],
	unsigned n, const char *passt)
{
	for (unsigned i = 0; i < n; i++) {
		struct passt_proc pp;
		struct swctl_port rec;
		char err[300], name[SWCTL_NAME_LEN];
		int ret;

		snprintf(name, sizeof(name), "up-%.28s", segs[i]);
		if (taps[i][0]) {
			int fd = tap_uplink_open(taps[i], err, sizeof(err));
			if (fd < 0) {
				fprintf(stderr, "bulkhead switch: --uplink %s: %s\n", segs[i], err);
				return fd;
			}
			if ((ret = tap_uplink_port_record(&rec, name, segs[i]))) {
				close(fd);
				fprintf(stderr, "bulkhead switch: --uplink %s: bad port name\n", segs[i]);
				return ret;
			}
			/* sw_port_add owns fd from here, also when it fails */
			if ((ret = sw_port_add(s, &rec, fd, sw_now_ns(), err, sizeof(err)))) {
				fprintf(stderr, "bulkhead switch: --uplink %s: %s\n", segs[i], err);
				return ret;
			}
			bh_info("switch: uplink of segment %s: tap %s (port %s)", segs[i], taps[i],
				name);
			continue;
		}
		if ((ret = passt_port_record(&rec, name, segs[i]))) {
			fprintf(stderr, "bulkhead switch: --uplink %s: bad port name\n", segs[i]);
			return ret;
		}
		if ((ret = passt_start(passt, segs[i], false, &pp, err, sizeof(err)))) {
			fprintf(stderr, "bulkhead switch: %s\n", err);
			return ret;
		}
		int fd = pp.port_fd;
		pp.port_fd = -1; /* the switch's (also when sw_port_add fails) */
		if ((ret = sw_port_add(s, &rec, fd, sw_now_ns(), err, sizeof(err)))) {
			fprintf(stderr, "bulkhead switch: --uplink %s: %s\n", segs[i], err);
			passt_stop(&pp); /* its socket is closed: it ends, is reaped */
			return ret;
		}
		int pidfd = pp.pidfd;
		pp.pidfd = -1; /* the switch watches it from here on */
		if ((ret = sw_watch_child(s, pidfd, pp.pid, name))) {
			/* its port is registered: sw_destroy() closes it and passt ends */
			fprintf(stderr, "bulkhead switch: --uplink %s: %s\n", segs[i], strerror(-ret));
			return ret;
		}
		bh_info("switch: uplink of segment %s: passt pid %d (port %s)", segs[i], pp.pid, name);
	}
	return 0;
}

int cli_switch(int argc, char **argv, uint64_t start_ns)
{
	const char *listen_path = NULL;
	char upsegs[MAX_UPLINKS][SWCTL_NAME_LEN], uptaps[MAX_UPLINKS][SWCTL_NAME_LEN];
	char passt[256] = "";
	bool need_passt = false;
	unsigned nup = 0;
	int ctl_fds[SW_CTL_FDS], nctl = 0, lfd = -1, sfd;
	bool sandbox = true, trap = false, no_portsec = false;
	struct sw *s;
	sigset_t set;
	int ret;

	(void)start_ns;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return BH_EXIT_OK;
		} else if (!strcmp(argv[i], "--listen") && i + 1 < argc) {
			listen_path = argv[++i];
		} else if (!strcmp(argv[i], "--ctl-fd") && i + 1 < argc) {
			char *end;
			long v = strtol(argv[++i], &end, 10);
			int type = 0;
			socklen_t sl = sizeof(type);
			if (*end || v < 3 || v > 65535 ||
			    getsockopt((int)v, SOL_SOCKET, SO_TYPE, &type, &sl) < 0 ||
			    type != SOCK_SEQPACKET) {
				fprintf(stderr, "bulkhead switch: --ctl-fd %s: not an open "
						"SOCK_SEQPACKET socket\n", argv[i]);
				return BH_EXIT_CONFIG;
			}
			if (nctl == SW_CTL_FDS) {
				fprintf(stderr, "bulkhead switch: at most %d --ctl-fd\n", SW_CTL_FDS);
				return BH_EXIT_CONFIG;
			}
			for (int k = 0; k < nctl; k++)
				if (ctl_fds[k] == (int)v) {
					fprintf(stderr, "bulkhead switch: --ctl-fd %ld given twice\n", v);
					return BH_EXIT_CONFIG;
				}
			ctl_fds[nctl++] = (int)v;
		} else if (!strcmp(argv[i], "--uplink") && i + 1 < argc) {
			if (nup == MAX_UPLINKS) {
				fprintf(stderr, "bulkhead switch: at most %d --uplink\n", MAX_UPLINKS);
				return BH_EXIT_CONFIG;
			}
			if (parse_uplink(argv[++i], upsegs[nup], sizeof(upsegs[nup]), uptaps[nup],
					 sizeof(uptaps[nup])))
				return BH_EXIT_CONFIG;
			need_passt |= !uptaps[nup][0];
			for (unsigned k = 0; k < nup; k++)
				if (!strcmp(upsegs[k], upsegs[nup])) {
					fprintf(stderr, "bulkhead switch: --uplink %s given twice\n",
						upsegs[nup]);
					return BH_EXIT_CONFIG;
				}
			nup++;
		} else if (!strcmp(argv[i], "--no-sandbox")) {
			sandbox = false;
		} else if (!strcmp(argv[i], "--seccomp-trap")) {
			trap = true;
		} else if (!strcmp(argv[i], "--no-port-security")) {
			no_portsec = true;
		} else {
			fprintf(stderr, "bulkhead switch: unknown or incomplete option '%s'\n\n", argv[i]);
			usage(stderr);
			return BH_EXIT_CONFIG;
		}
	}
	if (!listen_path && !nctl) {
		fprintf(stderr, "bulkhead switch: give --listen PATH or --ctl-fd N\n\n");
		usage(stderr);
		return BH_EXIT_CONFIG;
	}
	if (need_passt) {
		char err[256];
		if (passt_find(passt, sizeof(passt), err, sizeof(err))) {
			fprintf(stderr, "bulkhead switch: --uplink: %s\n", err);
			return BH_EXIT_CONFIG;
		}
	}
	if (listen_path && (lfd = listen_at(listen_path)) < 0)
		return BH_EXIT_CONFIG;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	s = calloc(1, sizeof(*s));
	if (!s || sfd < 0) {
		fprintf(stderr, "bulkhead switch: out of memory or signalfd failed\n");
		if (lfd >= 0)
			close(lfd);
		if (sfd >= 0)
			close(sfd);
		free(s);
		return BH_EXIT_HOST;
	}
	if ((ret = sw_init(s, lfd, sfd))) {
		fprintf(stderr, "bulkhead switch: %s\n", strerror(-ret));
		free(s);
		return BH_EXIT_HOST;
	}
	for (int k = 0; k < nctl; k++)
		if ((ret = sw_add_client(s, ctl_fds[k], true))) {
			fprintf(stderr, "bulkhead switch: control socket: %s\n", strerror(-ret));
			goto out;
		}
	if (nup && (ret = start_uplinks(s, upsegs, uptaps, nup, passt)))
		goto out; /* reported; sw_destroy() ends the passt processes started */
	sw_learn_host_addrs(s);
	if (no_portsec) {
		s->no_port_security = true;
		bh_warn("PORT SECURITY DISABLED: VM ports may spoof MAC, IP, ARP and NDP "
			"(--no-port-security; benchmarks only)");
	}
	if (sandbox) {
		char err[256], summary[256];
		if ((ret = jail_switch_enter(trap, summary, sizeof(summary), err, sizeof(err)))) {
			fprintf(stderr, "bulkhead switch: %s\n", err);
			goto out;
		}
		bh_info("switch: sandbox: %s", summary);
	} else {
		bh_warn("SANDBOX DISABLED: the switch runs without its jail (--no-sandbox)");
	}
	bh_info("switch: ready (%u host addresses denied toward uplinks)", s->host.n);
	ret = sw_run(s);
	if (ret)
		fprintf(stderr, "bulkhead switch: event loop: %s\n", strerror(-ret));
out:
	sw_destroy(s);
	free(s);
	return ret ? BH_EXIT_HOST : BH_EXIT_OK;
}
