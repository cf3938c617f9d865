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
#include "config/clone_id.h"
#include "config/config_json.h"
#include "config/exit_codes.h"
#include "config/schema.h"
#include "ctl/ctl_proto.h"
#include "sandbox/jail.h"
#include "snapshot/snap_format.h"
#include "snapshot/snap_manifest.h"
#include "vmm/fd_table.h"
#include "vmm/vmm_main.h"

#define SNAP_TIMEOUT_S 600

static const char *const tmp_names[3] = { ".state.tmp", ".memory.tmp", ".manifest.tmp" };
static const char *const final_names[3] = { "state", "memory", "manifest" };

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
	struct sockaddr_un a;
	int fd = control_socket(path, &a, err, errlen);

	if (fd == -ENAMETOOLONG)
		return fd;
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int e = fd < 0 ? -fd : errno;

		if (fd >= 0)
			close(fd);
		snprintf(err, errlen, "--control %s: cannot connect: %s", path, strerror(e));
		return -e;
	}
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

static void unlink_tmp(int dfd)
{
	for (int i = 0; i < 3; i++)
		unlinkat(dfd, tmp_names[i], 0);
}

static int finish(int dfd, int sfd, int mfd, char *err, size_t errlen)
{
	struct snap_manifest m;
	char text[SNAP_MANIFEST_MAX];
	struct stat st;
	size_t n;
	int fd, ret;

	if (fsync(sfd) < 0 || fsync(mfd) < 0) {
		snprintf(err, errlen, "fsync: %s", strerror(errno));
		return -errno;
	}
	if (fstat(sfd, &st) < 0)
		return -errno;
	m.state_size = (uint64_t)st.st_size;
	if (fstat(mfd, &st) < 0)
		return -errno;
	m.mem_size = (uint64_t)st.st_size;
	if ((ret = snap_hash_fd(sfd, m.state_size, m.state_sha)) ||
	    (ret = snap_hash_fd(mfd, m.mem_size, m.mem_sha))) {
		snprintf(err, errlen, "hashing the snapshot: %s", strerror(-ret));
		return ret;
	}
	n = snap_manifest_format(&m, text, sizeof(text));
	fd = openat(dfd, tmp_names[2], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, text, n) != (ssize_t)n || fsync(fd) < 0) {
		ret = -errno;
		snprintf(err, errlen, "writing the manifest: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return ret ? ret : -EIO;
	}
	close(fd);
	/* The manifest last: a directory with one is complete. */
	for (int i = 0; i < 3; i++)
		if (renameat(dfd, tmp_names[i], dfd, final_names[i]) < 0) {
			snprintf(err, errlen, "rename %s: %s", final_names[i], strerror(errno));
			return -errno;
		}
	fsync(dfd);
	return 0;
}

static void snapshot_usage(FILE *out)
{
	fprintf(out, "usage: bulkhead snapshot --control SOCKET [--resume] DIR\n"
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

	(void)start_ns;
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
	for (int i = 0; i < 3; i++)
		if (faccessat(dfd, final_names[i], F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
			bh_err("snapshot: %s already holds a snapshot (%s): nothing is overwritten",
			       dir, final_names[i]);
			close(dfd);
			return BH_EXIT_CONFIG;
		}
	sfd = openat(dfd, tmp_names[0], O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	mfd = openat(dfd, tmp_names[1], O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (sfd < 0 || mfd < 0) {
		bh_err("snapshot: cannot create the files in %s: %s (a snapshot in progress?)",
		       dir, strerror(errno));
		code = BH_EXIT_CONFIG;
		goto out;
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
	if ((ret = finish(dfd, sfd, mfd, err, sizeof(err)))) {
		bh_err("snapshot: %s", err);
		goto out;
	}
	bh_info("snapshot written to %s%s", dir, resume ? "; the VM runs on" : "; the VM is paused");
	code = BH_EXIT_OK;
out:
	if (code != BH_EXIT_OK && dfd >= 0)
		unlink_tmp(dfd);
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
		"                        [--clone-index I] DIR\n"
		"  Run the VM a snapshot directory (bulkhead snapshot) holds, from where it\n"
		"  was: guest memory is mapped from DIR/memory copy-on-write (nothing is read\n"
		"  up front; restores of one snapshot share unchanged pages). The state file's\n"
		"  SHA-256 is checked against the manifest (the memory file's too with\n"
		"  --verify-memory). --paused: start paused (resume over --control).\n"
		"  --console stdio|none|file:PATH replaces the recorded console.\n"
		"  Every restore is a clone with its own identity: a new VM generation ID,\n"
		"  a new random MAC per NIC (--mac MAC, once per NIC in order, gives one),\n"
		"  the recorded vsock CID and socket unless --vsock-cid/--vsock-socket;\n"
		"  --clone-index I adds I to the CID and .I to the socket path (clone).\n");
}

/* Open dfd/name to restore from: read-only, never through a symlink, and
 * only a regular file of at most max bytes (*st: its stat). The descriptor,
 * or -1 with errno (EFBIG: not a regular file, or larger than max). */
static int open_snap_file(int dfd, const char *name, uint64_t max, struct stat *st)
{
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0 || fstat(fd, st) < 0 || !S_ISREG(st->st_mode) || (uint64_t)st->st_size > max) {
		if (fd >= 0)
			close(fd);
		errno = fd < 0 ? errno : EFBIG;
		return -1;
	}
	return fd;
}

/* Read a whole small file relative to dfd (at most max bytes). */
static char *read_at(int dfd, const char *name, size_t max, size_t *len, int *fd_out)
{
	struct stat st;
	int fd = open_snap_file(dfd, name, max, &st);
	char *buf;

	if (fd < 0)
		return NULL;
	buf = malloc((size_t)st.st_size + 1);
	if (!buf || pread(fd, buf, (size_t)st.st_size, 0) != st.st_size) {
		free(buf);
		close(fd);
		errno = EIO;
		return NULL;
	}
	buf[st.st_size] = '\0';
	*len = (size_t)st.st_size;
	if (fd_out)
		*fd_out = fd;
	else
		close(fd);
	return buf;
}

int cli_restore(int argc, char **argv, uint64_t start_ns)
{
	static const struct option lo[] = {
		{ "paused", no_argument, NULL, 'p' },     { "control", required_argument, NULL, 'c' },
		{ "console", required_argument, NULL, 'C' }, { "verify-memory", no_argument, NULL, 'V' },
		{ "name", required_argument, NULL, 'n' }, { "no-sandbox", no_argument, NULL, 'S' },
		{ "mac", required_argument, NULL, 'm' },  { "vsock-cid", required_argument, NULL, 'i' },
		{ "vsock-socket", required_argument, NULL, 's' },
		{ "clone-index", required_argument, NULL, 'x' },
		{ "help", no_argument, NULL, 'h' },       { NULL, 0, NULL, 0 }
	};
	struct config_clone_id cid = { .index = -1 };
	char vsock_path[256];
	const char *control = NULL, *console = NULL, *name = NULL, *dir;
	bool paused = false, verify = false, no_sandbox = false;
	struct jail_config jcfg = { .enabled = true };
	struct snap_manifest man;
	struct snap_state *st = NULL;
	struct json_object *root = NULL;
	struct vm_config cfg;
	struct fd_table fds;
	struct vmm_restore rs;
	uint8_t sha[BH_SHA256_LEN];
	char err[512], *mtext = NULL, *state = NULL;
	size_t mlen, slen;
	struct stat mst;
	int c, dfd = -1, mfd = -1, sfd = -1, ctl = -1, code = BH_EXIT_CONFIG;

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
		case 'v': bh_log_set_level(BH_LOG_DEBUG); break;
		case 'q': bh_log_set_level(BH_LOG_WARN); break;
		case 'h': restore_usage(stdout); return BH_EXIT_OK;
		default: restore_usage(stderr); return BH_EXIT_CONFIG;
		}
	}
	if (optind != argc - 1) {
		restore_usage(stderr);
		return BH_EXIT_CONFIG;
	}
	dir = argv[optind];
	fd_table_init(&fds);
	if ((dfd = open_snap_dir("restore", dir)) < 0)
		return BH_EXIT_CONFIG;
	if (!(mtext = read_at(dfd, "manifest", SNAP_MANIFEST_MAX, &mlen, NULL))) {
		bh_err("restore: %s/manifest: %s (not a complete snapshot)", dir, strerror(errno));
		goto out;
	}
	if (snap_manifest_parse(mtext, mlen, &man, err, sizeof(err))) {
		bh_err("restore: %s: %s", dir, err);
		goto out;
	}
	if (!(state = read_at(dfd, "state", SNAP_STATE_MAX, &slen, &sfd))) {
		bh_err("restore: %s/state: %s", dir, strerror(errno));
		goto out;
	}
	if (slen != man.state_size || bh_sha256(state, slen, sha) ||
	    memcmp(sha, man.state_sha, sizeof(sha))) {
		bh_err("restore: %s/state does not match its manifest (size or SHA-256): "
		       "corrupted or altered", dir);
		goto out;
	}
	mfd = open_snap_file(dfd, "memory", man.mem_size, &mst);
	if (mfd < 0 || (uint64_t)mst.st_size != man.mem_size) {
		bh_err("restore: %s/memory is missing or not the size its manifest says", dir);
		goto out;
	}
	if (verify && (snap_hash_fd(mfd, man.mem_size, sha) || memcmp(sha, man.mem_sha, sizeof(sha)))) {
		bh_err("restore: %s/memory does not match its manifest's SHA-256", dir);
		goto out;
	}
	st = malloc(sizeof(*st));
	if (!st || snap_parse(state, slen, st, err, sizeof(err))) {
		bh_err("restore: %s/state: %s", dir, st ? err : "out of memory");
		goto out;
	}
	if (st->h.mem_bytes != man.mem_size) {
		bh_err("restore: %s: the memory file is not the size of the VM's RAM", dir);
		goto out;
	}
	config_defaults(&cfg);
	cfg.start_ns = start_ns;
	if (config_json_parse((const char *)st->config.p, st->config.len, 0, &cfg, &root, err,
			      sizeof(err))) {
		bh_err("restore: %s: the recorded configuration: %s", dir, err);
		goto out;
	}
	if (cfg.ncpus != st->h.ncpus || cfg.mem_bytes != st->h.mem_bytes ||
	    (uint32_t)cfg.cpu_template != st->h.cpu_template) {
		bh_err("restore: %s: the recorded configuration disagrees with the state file "
		       "(vCPUs, memory or CPU template)", dir);
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
	if (fd_table_add(&fds, VMM_SNAPSHOT_MEMORY_FD, mfd, err, sizeof(err))) {
		bh_err("restore: %s", err);
		goto out;
	}
	mfd = -1; /* the table's */
	if (control && (ctl = cli_control_listen(control, err, sizeof(err))) < 0) {
		bh_err("restore: %s", err);
		goto out;
	}
	bh_info("restoring %s%s%s (%u vCPUs, %llu MiB, written by bulkhead %s)", dir,
		name ? " as " : "", name ? name : "", st->h.ncpus,
		(unsigned long long)(st->h.mem_bytes >> 20), st->h.version);
	jcfg.enabled = !no_sandbox;
	cfg.sandbox_disabled = no_sandbox;
	rs.state = st;
	rs.paused = paused;
	/* vmm_main's start-up sweep closes every descriptor it was not given. */
	close(sfd);
	close(dfd);
	sfd = dfd = -1;
	code = vmm_main_restore(&cfg, &jcfg, ctl, &fds, &rs);
	ctl = -1; /* vmm_main's */
	if (control)
		unlink(control);
out:
	if (ctl >= 0)
		close(ctl);
	if (mfd >= 0)
		close(mfd);
	if (sfd >= 0)
		close(sfd);
	if (dfd >= 0)
		close(dfd);
	fd_table_destroy(&fds);
	config_json_free(root);
	free(st);
	free(state);
	free(mtext);
	return code;
}

/* ---- clone: N restores of one snapshot at once ---- */

static void clone_usage(FILE *out)
{
	fprintf(out,
		"usage: bulkhead clone [--count N] [--console-dir D] [--paused] [--no-sandbox]\n"
		"                      [--vsock-cid N] DIR\n"
		"  Run N (default 2, at most 64) VMs from one snapshot at the same time, each\n"
		"  its own `bulkhead restore --clone-index i DIR` process: guest memory is\n"
		"  shared copy-on-write, so N clones cost the pages they write. Each clone\n"
		"  has its own VM generation ID, random MACs, vsock CID (the recorded one or\n"
		"  --vsock-cid N, plus i) and vsock socket (the recorded path + \".i\").\n"
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
					    { "help", no_argument, NULL, 'h' },
					    { NULL, 0, NULL, 0 } };
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
		char *args[20];
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
		args[a++] = argv[optind];
		args[a] = NULL;
		pid = fork();
		if (pid == 0) {
			execv("/proc/self/exe", args);
			_exit(BH_EXIT_HOST);
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
