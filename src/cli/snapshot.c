/* snapshot.c — `bulkhead snapshot` and `bulkhead restore` for a standalone
 * VM (`bulkhead run --control PATH`).
 *
 * snapshot: the VMM is jailed and never opens a path, so this process opens
 * the snapshot directory and creates the state and memory files under
 * temporary names (O_EXCL: nothing is overwritten), hands both to the VMM
 * over the control socket (CTL_SNAPSHOT), and once the VMM reports success
 * syncs them, hashes them (libcrypto SHA-256), writes the manifest, renames
 * the three into place (the manifest last) and syncs the directory. On any
 * failure the temporary files are removed and nothing else changes.
 *
 * restore: reads the manifest, checks the state file's size and SHA-256
 * (and the memory file's with --verify-memory: memory is guest data, so a
 * tampered memory file can do nothing a hostile guest could not; its size
 * is always checked), parses the state file (snapshot/snap_format.h),
 * takes the configuration it recorded (through the validating JSON parser)
 * and runs the VM from it (vmm_main_restore: RAM mapped copy-on-write from
 * the memory file). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/log.h"
#include "common/proc_child.h"
#include "config/clone_id.h"
#include "config/restore_paths.h"
#include "config/config_json.h"
#include "config/args.h"
#include "config/cpu_place.h"
#include "config/exit_codes.h"
#include "config/schema.h"
#include "ctl/ctl_proto.h"
#include "sandbox/jail.h"
#include "snapshot/snap_dir.h"
#include "vmm/fd_table.h"
#include "vmm/vmm_main.h"

#define SNAP_TIMEOUT_S 600

/* A control socket (SEQPACKET) and the address of path in *a: its
 * descriptor, -ENAMETOOLONG (err says so), or socket()'s -errno (err not
 * set: the caller names what it was about to do). */
static int control_socket(const char *path, struct sockaddr_un *a, char *err, size_t errlen)
{
	int fd;

	if (strlen(path) >= sizeof(a->sun_path)) {
		snprintf(err, errlen, "--control %s: path too long", path);
		return -ENAMETOOLONG;
	}
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	memcpy(a->sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	return fd < 0 ? -errno : fd;
}

int cli_control_connect(const char *path, char *err, size_t errlen)
{
	int fd = cli_unix_connect(path, SOCK_SEQPACKET);

	if (fd == -ENAMETOOLONG)
		snprintf(err, errlen, "--control %s: path too long", path);
	else if (fd < 0)
		snprintf(err, errlen, "--control %s: cannot connect: %s", path, strerror(-fd));
	return fd;
}

static uint64_t deadline_in(unsigned s)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec + s) * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The snapshot directory dir, for the command `what` (its messages): the
 * descriptor, or -1 once the reason is logged. */
static int open_snap_dir(const char *what, const char *dir)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0)
		bh_err("%s: %s: %s", what, dir, strerror(errno));
	return dfd;
}

static void snapshot_usage(FILE *out)
{
	fprintf(out, "usage: bulkhead snapshot ID [--resume] [--name N]   (a daemon's VM:\n"
		     "         bulkhead --help lists the client's options)\n"
		     "       bulkhead snapshot rm VM/NAME   (remove a daemon VM's snapshot)\n"
		     "       bulkhead snapshot --control SOCKET [--resume] DIR\n"
		     "  Pause the VM of `bulkhead run --control SOCKET` and write its snapshot\n"
		     "  into DIR (created if missing; must not hold one already): files state,\n"
		     "  memory (sparse) and manifest (sizes + SHA-256). --resume: continue the\n"
		     "  VM afterwards (default: it stays paused).\n");
}

int cli_snapshot(int argc, char **argv, uint64_t start_ns)
{
	static const struct option lo[] = { { "control", required_argument, NULL, 'c' },
					    { "resume", no_argument, NULL, 'r' },
					    { "help", no_argument, NULL, 'h' },
					    { NULL, 0, NULL, 0 } };
	const char *control = NULL, *dir;
	struct ctl_msg req, rep;
	bool resume = false;
	char err[512];
	int c, dfd = -1, sfd = -1, mfd = -1, sock = -1, ret, code = BH_EXIT_HOST;

	/* Without --control it is the daemon's: `bulkhead snapshot ID`. */
	for (int i = 1; i < argc && !control; i++)
		if (!strcmp(argv[i], "--control") || !strncmp(argv[i], "--control=", 10))
			control = argv[i];
	if (!control && !(argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))))
		return cli_client(argc, argv, start_ns);
	control = NULL;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		if (c == 'c')
			control = optarg;
		else if (c == 'r')
			resume = true;
		else if (c == 'h') {
			snapshot_usage(stdout);
			return BH_EXIT_OK;
		} else {
			snapshot_usage(stderr);
			return BH_EXIT_CONFIG;
		}
	}
	if (!control || optind != argc - 1) {
		bh_err("snapshot: give --control SOCKET and one directory");
		snapshot_usage(stderr);
		return BH_EXIT_CONFIG;
	}
	dir = argv[optind];
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		bh_err("snapshot: cannot create %s: %s", dir, strerror(errno));
		return BH_EXIT_CONFIG;
	}
	if ((dfd = open_snap_dir("snapshot", dir)) < 0)
		return BH_EXIT_CONFIG;
	if (snap_dir_begin(dfd, &sfd, &mfd, err, sizeof(err))) {
		bh_err("snapshot: %s: %s", dir, err);
		close(dfd);
		return BH_EXIT_CONFIG;
	}
	if ((sock = cli_control_connect(control, err, sizeof(err))) < 0) {
		bh_err("snapshot: %s", err);
		code = BH_EXIT_CONFIG;
		goto out;
	}
	ctl_msg_snapshot(&req, 1, resume ? CTL_SNAP_RESUME : 0, sfd, mfd);
	if ((ret = ctl_send_msg(sock, &req, deadline_in(10), err, sizeof(err))) ||
	    (ret = ctl_recv_msg(sock, true, &rep, deadline_in(SNAP_TIMEOUT_S), err,
				sizeof(err)))) {
		bh_err("snapshot: control channel: %s", err);
		goto out;
	}
	if (rep.hdr.status) {
		bh_err("snapshot: the VM refused: %s (its log says why)", strerror(-rep.hdr.status));
		goto out;
	}
	if ((ret = snap_dir_finish(dfd, sfd, mfd, err, sizeof(err)))) {
		bh_err("snapshot: %s", err);
		goto out;
	}
	bh_info("snapshot written to %s%s", dir, resume ? "; the VM runs on" : "; the VM is paused");
	code = BH_EXIT_OK;
out:
	if (code != BH_EXIT_OK && dfd >= 0)
		snap_dir_abort(dfd);
	if (sock >= 0)
		close(sock);
	if (sfd >= 0)
		close(sfd);
	if (mfd >= 0)
		close(mfd);
	if (dfd >= 0)
		close(dfd);
	return code;
}

int cli_control_listen(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un a;
	int fd = control_socket(path, &a, err, errlen);

	if (fd == -ENAMETOOLONG)
		return fd;
	/* Only its owner may steer the VM: the socket is created 0600. */
	if (fd >= 0) {
		mode_t old = umask(0177);
		int r = bind(fd, (struct sockaddr *)&a, sizeof(a));

		umask(old);
		if (r == 0 && listen(fd, 4) == 0)
			return fd;
	}
	snprintf(err, errlen, "--control %s: cannot listen: %s", path,
		 strerror(fd < 0 ? -fd : errno));
	if (fd >= 0)
		close(fd);
	return -EINVAL;
}

/* ---- restore ---- */

static void restore_usage(FILE *out)
{
	fprintf(out,
		"usage: bulkhead restore [--paused] [--control SOCKET] [--console MODE]\n"
		"                        [--verify-memory] [--name N] [--no-sandbox] [-v|-q]\n"
		"                        [--mac MAC]... [--vsock-cid N] [--vsock-socket PATH]\n"
		"                        [--clone-index I] [--disk PATH]... [--tap IFNAME]...\n"
		"                        [--recorded-paths] DIR\n"
		"  Run the VM a snapshot directory (bulkhead snapshot) holds, from where it\n"
		"  was: guest memory is mapped from DIR/memory copy-on-write (nothing is read\n"
		"  up front; restores of one snapshot share unchanged pages). The state file's\n"
		"  SHA-256 is checked against the manifest (the memory file's too with\n"
		"  --verify-memory). --paused: start paused (resume over --control).\n"
		"  --console stdio|none|file:PATH replaces the recorded console.\n"
		"  Every restore is a clone with its own identity: a new VM generation ID,\n"
		"  a new random MAC per NIC (--mac MAC, once per NIC in order, gives one),\n"
		"  the recorded vsock CID and socket unless --vsock-cid/--vsock-socket;\n"
		"  --clone-index I adds I to the CID and .I to the socket path (clone).\n"
		"  A restore opens no host path the snapshot names (a snapshot is a file\n"
		"  from anywhere): name each again — --disk PATH per recorded disk and\n"
		"  --tap IFNAME per tap NIC (in order), --console for a file console,\n"
		"  --vsock-socket for vsock — or take them as recorded with\n"
		"  --recorded-paths (a snapshot only you could have written).\n"
		"  How bulkheadd runs it (instead of DIR):\n"
		"    --snapshot-fds M,S,MEM   inherited manifest, state and memory files\n"
		"    --control-fd N           an inherited listening control socket\n"
		"    --console-max SIZE       the console log's cap\n"
		"    --cpu-affinity CPUS      host CPUs of the vCPU threads\n");
}

/* "A,B,C": three inherited descriptor numbers >= 3. */
static int parse_fds3(const char *s, int out[3])
{
	for (int i = 0; i < 3; i++) {
		char *end;
		long v;

		errno = 0;
		v = strtol(s, &end, 10);
		if (errno || end == s || v < 3 || v > 65535 || (i < 2 ? *end != ',' : *end != '\0'))
			return -EINVAL;
		out[i] = (int)v;
		s = end + 1;
	}
	if (out[0] == out[1] || out[1] == out[2] || out[0] == out[2])
		return -EINVAL;
	for (int i = 0; i < 3; i++)
		if (fcntl(out[i], F_GETFD) < 0)
			return -EBADF;
	return 0;
}

/* Open dfd/name to restore from: read-only, never through a symlink
 * (snap_dir_load checks what kind of file it is). */
static int open_in(int dfd, const char *name)
{
	return openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK); /* a FIFO must not hang it */
}

int cli_restore(int argc, char **argv, uint64_t start_ns)
{
	enum { O_SNAPFDS = 256, O_CTLFD, O_CMAX, O_AFF, O_DISK, O_TAP, O_RECORDED };
	static const struct option lo[] = {
		{ "paused", no_argument, NULL, 'p' },     { "control", required_argument, NULL, 'c' },
		{ "console", required_argument, NULL, 'C' }, { "verify-memory", no_argument, NULL, 'V' },
		{ "name", required_argument, NULL, 'n' }, { "no-sandbox", no_argument, NULL, 'S' },
		{ "mac", required_argument, NULL, 'm' },  { "vsock-cid", required_argument, NULL, 'i' },
		{ "vsock-socket", required_argument, NULL, 's' },
		{ "clone-index", required_argument, NULL, 'x' },
		{ "disk", required_argument, NULL, O_DISK },
		{ "tap", required_argument, NULL, O_TAP },
		{ "recorded-paths", no_argument, NULL, O_RECORDED },
		{ "snapshot-fds", required_argument, NULL, O_SNAPFDS },
		{ "control-fd", required_argument, NULL, O_CTLFD },
		{ "console-max", required_argument, NULL, O_CMAX },
		{ "cpu-affinity", required_argument, NULL, O_AFF },
		{ "help", no_argument, NULL, 'h' },       { NULL, 0, NULL, 0 }
	};
	struct config_clone_id cid = { .index = -1 };
	struct config_restore_paths given = { 0 };
	char vsock_path[256];
	const char *control = NULL, *console = NULL, *name = NULL, *dir = NULL, *snapfds = NULL;
	const char *ctlfd = NULL, *cmax = NULL, *affinity = NULL;
	bool paused = false, verify = false, no_sandbox = false;
	struct jail_config jcfg = { .enabled = true };
	struct snap_loaded snap = { 0 };
	struct json_object *root = NULL;
	struct vm_config cfg;
	struct fd_table fds;
	struct vmm_restore rs;
	char err[512];
	int c, dfd = -1, f[3] = { -1, -1, -1 }, ctl = -1, code = BH_EXIT_CONFIG;

	optind = 1;
	while ((c = getopt_long(argc, argv, "hvq", lo, NULL)) != -1) {
		switch (c) {
		case 'p': paused = true; break;
		case 'c': control = optarg; break;
		case 'C': console = optarg; break;
		case 'V': verify = true; break;
		case 'n': name = optarg; break;
		case 'S': no_sandbox = true; break;
		case 'm':
			if (cid.nmacs == VM_MAX_NETS) {
				bh_err("restore: --mac: at most %d (one per NIC)", VM_MAX_NETS);
				return BH_EXIT_CONFIG;
			}
			cid.macs[cid.nmacs++] = optarg;
			break;
		case 'i':
		case 'x': {
			char *end;
			unsigned long v;

			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || *end || !*optarg || optarg[0] == '-' ||
			    v > (c == 'i' ? 0xfffffffeul : 64ul) || (c == 'i' && v < 3)) {
				bh_err("restore: --%s %s: %s", c == 'i' ? "vsock-cid" : "clone-index",
				       optarg, c == 'i' ? "a guest CID, 3 to 4294967294"
							: "a number from 0 to 64");
				return BH_EXIT_CONFIG;
			}
			if (c == 'i')
				cid.vsock_cid = (unsigned)v;
			else
				cid.index = (int)v;
			break;
		}
		case 's': cid.vsock_socket = optarg; break;
		case O_DISK:
			if (given.ndisks == VM_MAX_DISKS || !*optarg) {
				bh_err("restore: --disk %s: a path, at most %d (one per disk)", optarg,
				       VM_MAX_DISKS);
				return BH_EXIT_CONFIG;
			}
			given.disks[given.ndisks++] = optarg;
			break;
		case O_TAP:
			if (given.ntaps == VM_MAX_NETS || !*optarg ||
			    strlen(optarg) > VM_NET_IFNAME_MAX || strpbrk(optarg, "/ \t\n:")) {
				bh_err("restore: --tap %s: an interface name of 1-%d characters, at most "
				       "%d (one per tap NIC)", optarg, VM_NET_IFNAME_MAX, VM_MAX_NETS);
				return BH_EXIT_CONFIG;
			}
			given.taps[given.ntaps++] = optarg;
			break;
		case O_RECORDED: given.recorded = true; break;
		case O_SNAPFDS: snapfds = optarg; break;
		case O_CTLFD: ctlfd = optarg; break;
		case O_CMAX: cmax = optarg; break;
		case O_AFF: affinity = optarg; break;
		case 'v': bh_log_set_level(BH_LOG_DEBUG); break;
		case 'q': bh_log_set_level(BH_LOG_WARN); break;
		case 'h': restore_usage(stdout); return BH_EXIT_OK;
		default: restore_usage(stderr); return BH_EXIT_CONFIG;
		}
	}
	if (snapfds ? optind != argc : optind != argc - 1) {
		bh_err("restore: give one snapshot directory, or --snapshot-fds");
		restore_usage(stderr);
		return BH_EXIT_CONFIG;
	}
	if (control && ctlfd) {
		bh_err("restore: --control and --control-fd: give one");
		return BH_EXIT_CONFIG;
	}
	fd_table_init(&fds);
	if (snapfds) {
		dir = "--snapshot-fds";
		if (parse_fds3(snapfds, f)) {
			bh_err("restore: --snapshot-fds %s: three different open descriptors >= 3 "
			       "(manifest,state,memory)", snapfds);
			f[0] = f[1] = f[2] = -1;
			goto out;
		}
	} else {
		dir = argv[optind];
		if ((dfd = open_snap_dir("restore", dir)) < 0)
			goto out;
		f[0] = open_in(dfd, SNAP_FILE_MANIFEST);
		f[1] = open_in(dfd, SNAP_FILE_STATE);
		f[2] = open_in(dfd, SNAP_FILE_MEMORY);
		for (int i = 0; i < 3; i++)
			if (f[i] < 0) {
				bh_err("restore: %s/%s: %s%s", dir,
				       i == 0 ? SNAP_FILE_MANIFEST : i == 1 ? SNAP_FILE_STATE
									: SNAP_FILE_MEMORY,
				       strerror(errno), i == 0 ? " (not a complete snapshot)" : "");
				goto out;
			}
	}
	if (snap_dir_load(f[0], f[1], f[2], verify, &snap, err, sizeof(err))) {
		bh_err("restore: %s: %s", dir, err);
		goto out;
	}
	config_defaults(&cfg);
	cfg.start_ns = start_ns;
	if (config_json_parse((const char *)snap.st->config.p, snap.st->config.len, 0, &cfg, &root,
			      err, sizeof(err))) {
		bh_err("restore: %s: the recorded configuration: %s", dir, err);
		goto out;
	}
	if (cfg.ncpus != snap.st->h.ncpus || cfg.mem_bytes != snap.st->h.mem_bytes ||
	    (uint32_t)cfg.cpu_template != snap.st->h.cpu_template) {
		bh_err("restore: %s: the recorded configuration disagrees with the state file "
		       "(vCPUs, memory or CPU template)", dir);
		goto out;
	}
	given.console = console != NULL;
	given.vsock_socket = cid.vsock_socket != NULL;
	if (config_restore_paths(&cfg, &given, err, sizeof(err))) {
		bh_err("restore: %s: %s", dir, err);
		goto out;
	}
	if (config_clone_identity(&cfg, &cid, vsock_path, sizeof(vsock_path), err, sizeof(err))) {
		bh_err("restore: %s", err);
		goto out;
	}
	if (console) {
		if (!strcmp(console, "stdio"))
			cfg.console = CONSOLE_STDIO;
		else if (!strcmp(console, "none"))
			cfg.console = CONSOLE_NONE;
		else if (!strncmp(console, "file:", 5) && console[5]) {
			cfg.console = CONSOLE_FILE;
			cfg.console_path = console + 5;
		} else {
			bh_err("restore: --console %s: expected stdio, none or file:PATH", console);
			goto out;
		}
	}
	if (cmax && args_parse_size("--console-max", cmax, 1, &cfg.console_max_bytes, err,
				    sizeof(err))) {
		bh_err("restore: %s", err);
		goto out;
	}
	if (affinity) {
		if (cpu_place_check_syntax("--cpu-affinity", affinity, err, sizeof(err))) {
			bh_err("restore: %s", err);
			goto out;
		}
		cfg.cpu_affinity = affinity;
	}
	if (ctlfd) {
		char *end;
		long v;

		errno = 0;
		v = strtol(ctlfd, &end, 10);
		if (errno || *end || v < 3 || v > 65535 || fcntl((int)v, F_GETFD) < 0) {
			bh_err("restore: --control-fd %s: an open descriptor >= 3", ctlfd);
			goto out;
		}
		ctl = (int)v;
	}
	if (fd_table_add(&fds, VMM_SNAPSHOT_MEMORY_FD, f[2], err, sizeof(err))) {
		bh_err("restore: %s", err);
		goto out;
	}
	f[2] = -1; /* the table's */
	if (control && (ctl = cli_control_listen(control, err, sizeof(err))) < 0) {
		bh_err("restore: %s", err);
		goto out;
	}
	bh_info("restoring %s%s%s (%u vCPUs, %llu MiB, written by bulkhead %s)", dir,
		name ? " as " : "", name ? name : "", snap.st->h.ncpus,
		(unsigned long long)(snap.st->h.mem_bytes >> 20), snap.st->h.version);
	jcfg.enabled = !no_sandbox;
	cfg.sandbox_disabled = no_sandbox;
	rs.state = snap.st;
	rs.paused = paused;
	/* vmm_main's start-up sweep closes every descriptor it was not given. */
	for (int i = 0; i < 2; i++) {
		close(f[i]);
		f[i] = -1;
	}
	if (dfd >= 0)
		close(dfd);
	dfd = -1;
	code = vmm_main_restore(&cfg, &jcfg, ctl, &fds, &rs);
	ctl = -1; /* vmm_main's */
	if (control)
		unlink(control);
out:
	if (ctl >= 0)
		close(ctl);
	for (int i = 0; i < 3; i++)
		if (f[i] >= 0)
			close(f[i]);
	if (dfd >= 0)
		close(dfd);
	fd_table_destroy(&fds);
	config_json_free(root);
	snap_dir_unload(&snap);
	return code;
}

/* ---- clone: N restores of one snapshot at once ---- */

static void clone_usage(FILE *out)
{
	fprintf(out,
		"usage: bulkhead clone [--count N] [--console-dir D] [--paused] [--no-sandbox]\n"
		"                      [--vsock-cid N] [--vsock-socket PATH] [--disk PATH]...\n"
		"                      [--tap IFNAME]... [--recorded-paths] DIR\n"
		"  Run N (default 2, at most 64) VMs from one snapshot at the same time, each\n"
		"  its own `bulkhead restore --clone-index i DIR` process: guest memory is\n"
		"  shared copy-on-write, so N clones cost the pages they write. Each clone\n"
		"  has its own VM generation ID, random MACs, vsock CID (the recorded one or\n"
		"  --vsock-cid N, plus i) and vsock socket (the --vsock-socket path + \".i\").\n"
		"  --disk, --tap, --vsock-socket, --recorded-paths: as restore's (a restore\n"
		"  opens no host path the snapshot names unless named again).\n"
		"  --console-dir D: clone i's console goes to D/clone-i.log (default: none);\n"
		"  with --paused, clone i listens on the control socket D/clone-i.sock.\n"
		"  Waits for all; exits with the first non-zero exit code, or 0.\n");
}

int cli_clone(int argc, char **argv, uint64_t start_ns)
{
	static const struct option lo[] = { { "count", required_argument, NULL, 'n' },
					    { "console-dir", required_argument, NULL, 'd' },
					    { "paused", no_argument, NULL, 'p' },
					    { "no-sandbox", no_argument, NULL, 'S' },
					    { "vsock-cid", required_argument, NULL, 'i' },
					    { "disk", required_argument, NULL, 'D' },
					    { "tap", required_argument, NULL, 'T' },
					    { "vsock-socket", required_argument, NULL, 's' },
					    { "recorded-paths", no_argument, NULL, 'R' },
					    { "help", no_argument, NULL, 'h' },
					    { NULL, 0, NULL, 0 } };
	/* Passed on to every restore, which checks them (restore_paths.h). */
	char w_disk[] = "--disk", w_tap[] = "--tap", w_vs[] = "--vsock-socket",
	     w_rec[] = "--recorded-paths";
	char *pass[2 * (VM_MAX_DISKS + VM_MAX_NETS) + 3];
	unsigned npass = 0;
	const char *cdir = NULL;
	char *vcid = NULL;
	bool paused = false, no_sandbox = false;
	pid_t pids[64];
	unsigned n = 2, started = 0;
	int c, code = BH_EXIT_OK;

	(void)start_ns;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		char *end;

		switch (c) {
		case 'n':
			errno = 0;
			n = (unsigned)strtoul(optarg, &end, 10);
			if (errno || *end || n < 1 || n > 64) {
				bh_err("clone: --count %s: a number from 1 to 64", optarg);
				return BH_EXIT_CONFIG;
			}
			break;
		case 'd': cdir = optarg; break;
		case 'p': paused = true; break;
		case 'S': no_sandbox = true; break;
		case 'i': vcid = optarg; break; /* restore checks it */
		case 'D':
		case 'T':
		case 's':
			if (npass + 2 >= sizeof(pass) / sizeof(pass[0])) {
				bh_err("clone: too many --disk/--tap options");
				return BH_EXIT_CONFIG;
			}
			pass[npass++] = c == 'D' ? w_disk : c == 'T' ? w_tap : w_vs;
			pass[npass++] = optarg;
			break;
		case 'R':
			if (npass + 1 < sizeof(pass) / sizeof(pass[0]))
				pass[npass++] = w_rec;
			break;
		case 'h': clone_usage(stdout); return BH_EXIT_OK;
		default: clone_usage(stderr); return BH_EXIT_CONFIG;
		}
	}
	if (optind != argc - 1 || (paused && !cdir)) {
		bh_err("clone: give one snapshot directory%s", paused ? " and --console-dir" : "");
		clone_usage(stderr);
		return BH_EXIT_CONFIG;
	}
	for (unsigned i = 0; i < n; i++) {
		char con[4200], sock[4200], name[32], idx[16], w0[] = "bulkhead", w1[] = "restore",
			w2[] = "--name", w3[] = "--console", w4[] = "none", w5[] = "--paused",
			w6[] = "--control", w7[] = "--no-sandbox", w8[] = "--clone-index",
			w9[] = "--vsock-cid";
		char *args[20 + sizeof(pass) / sizeof(pass[0])];
		int a = 0;
		pid_t pid;

		snprintf(name, sizeof(name), "clone-%u", i);
		args[a++] = w0;
		args[a++] = w1;
		args[a++] = w2;
		args[a++] = name;
		args[a++] = w3;
		snprintf(con, sizeof(con), "file:%s/clone-%u.log", cdir ? cdir : ".", i);
		args[a++] = cdir ? con : w4;
		if (paused) {
			snprintf(sock, sizeof(sock), "%s/clone-%u.sock", cdir, i);
			args[a++] = w5;
			args[a++] = w6;
			args[a++] = sock;
		}
		if (no_sandbox)
			args[a++] = w7;
		snprintf(idx, sizeof(idx), "%u", i);
		args[a++] = w8;
		args[a++] = idx;
		if (vcid) {
			args[a++] = w9;
			args[a++] = vcid;
		}
		for (unsigned k = 0; k < npass; k++)
			args[a++] = pass[k];
		args[a++] = argv[optind];
		args[a] = NULL;
		pid = fork();
		if (pid == 0) {
			proc_child_execv("/proc/self/exe", args, BH_EXIT_HOST);
		}
		if (pid < 0) {
			bh_err("clone: fork: %s", strerror(errno));
			code = BH_EXIT_HOST;
			break;
		}
		pids[started++] = pid;
	}
	for (unsigned i = 0; i < started; i++) {
		int st = 0;

		while (waitpid(pids[i], &st, 0) < 0 && errno == EINTR)
			;
		if (code == BH_EXIT_OK)
			code = WIFEXITED(st) ? WEXITSTATUS(st) : BH_EXIT_HOST;
	}
	return code;
}
