/* exec.c — the exec group (issue 12): what `bulkhead exec` costs a user, and
 * what its guest channel (hybrid vsock) carries — figures no peer publishes.
 *
 * The guest is the exec guest on the stock kernel (scripts/prepare-exec.sh
 * --stock-guest: kernel, busybox initramfs, exec-init, the agent) with the
 * busybox root filesystem plus /bin/bh-vsock-echo (vsock_echo.c), both made
 * by bench/run.sh (--exec-guest DIR --exec-rootfs IMAGE). Rows:
 *   1. `bulkhead exec --guest G --rootfs R -- /bin/true`, fork → exit of the
 *      exec process (boot, agent handshake, the job, teardown): cold, i.e.
 *      with --no-snapshot when this build has the exec snapshot fast path;
 *   2. the same from the cached agent-ready snapshot (the default path of
 *      a build that has it; the first run builds the snapshot and is not
 *      counted), interleaved with 1; "n/a" when `exec --help` lists no
 *      --no-snapshot;
 *   3. a warm VM's first command: `bulkhead run` with the same guest and
 *      bulkhead.agent=serve (what bulkheadd's exec VMs run), and per
 *      command a NEW connection to its hybrid-vsock socket ("CONNECT 1024"),
 *      the agent's HELLO, JOB /bin/true, STARTED, EXIT — what `bulkhead
 *      exec --vm` does per command minus the CLI's start and the daemon's
 *      relay;
 *   4. vsock: bh-vsock-echo started as a job in that VM; through the same
 *      socket ("CONNECT 5000") a 64-byte echo round trip (p50/p99 over
 *      1000 after 50 not counted) and 64 MiB each way (MiB/s).
 * Runs: --exec-runs N (bench/run.sh: BENCH_EXEC_RUNS, default 30) for rows
 * 1–3, p50/p99 in the notes. QEMU has no exec; a QEMU vsock peer needs
 * /dev/vhost-vsock, which the notes say. Everything lives in one scratch
 * directory (TMPDIR and XDG_CACHE_HOME of the exec runs point into it, so
 * the snapshot cache too); the group checks that exec left no private
 * directory behind and removes the scratch directory. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agentproto/agent_proto.h"
#include "bhbench.h"

#define UNCONST(s) ((char *)(uintptr_t)(s)) /* execv's argv is char *const [] */
#define ECHO_PORT 5000
#define ECHO_MSG 64
#define ECHO_WARM 50
#define BOOT_S 300.0 /* a cold exec or a VM until its agent answers (nested: ~20-60 s) */

struct xenv {
	char dir[512], tmp[600], cache[600], sock[600], console[600], vmmlog[600];
	char *old_tmp, *old_cache;
};

static struct ap_dec dec; /* ~64 KiB: not for the stack */

/* ---------------- scratch directory ---------------- */

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p) < 0 && errno != ENOENT ? -1 : 0;
}

static void rm_tree(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static char *dup_env(const char *name)
{
	const char *v = getenv(name);

	return v ? strdup(v) : NULL;
}

static void put_env(const char *name, const char *v)
{
	if (v)
		setenv(name, v, 1);
	else
		unsetenv(name);
}

static int xenv_open(struct xenv *x)
{
	snprintf(x->dir, sizeof(x->dir), "%s/exec-bench", cfg.tmp);
	rm_tree(x->dir);
	snprintf(x->tmp, sizeof(x->tmp), "%s/tmp", x->dir);
	snprintf(x->cache, sizeof(x->cache), "%s/cache", x->dir);
	snprintf(x->sock, sizeof(x->sock), "%s/vm.vsock", x->dir);
	snprintf(x->console, sizeof(x->console), "%s/console.log", x->dir);
	snprintf(x->vmmlog, sizeof(x->vmmlog), "%s/vmm.log", x->dir);
	if (mkdir(x->dir, 0700) < 0 || mkdir(x->tmp, 0700) < 0 || mkdir(x->cache, 0700) < 0)
		return -errno;
	/* exec's private directories and its snapshot cache: ours, removed */
	x->old_tmp = dup_env("TMPDIR");
	x->old_cache = dup_env("XDG_CACHE_HOME");
	setenv("TMPDIR", x->tmp, 1);
	setenv("XDG_CACHE_HOME", x->cache, 1);
	return 0;
}

/* Restore the environment, count what exec left in its TMPDIR (each entry
 * a private directory it did not remove), remove the scratch directory. */
static bool xenv_close(struct xenv *x, int *left)
{
	DIR *d = opendir(x->tmp);
	struct dirent *e;
	int n = 0;

	put_env("TMPDIR", x->old_tmp);
	put_env("XDG_CACHE_HOME", x->old_cache);
	free(x->old_tmp);
	free(x->old_cache);
	while (d && (e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	if (d)
		closedir(d);
	*left = n;
	rm_tree(x->dir);
	return n == 0;
}

/* ---------------- statistics ---------------- */

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile p (0 < p <= 100) of a series; 0 if empty. */
static double pctl(const struct series *s, double p)
{
	double v[MAX_SAMPLES];
	int k;

	if (!s->n)
		return 0;
	memcpy(v, s->v, sizeof(double) * (size_t)s->n);
	qsort(v, (size_t)s->n, sizeof(double), cmp_d);
	k = (int)(p / 100.0 * s->n + 0.999999) - 1;
	return v[k < 0 ? 0 : k >= s->n ? s->n - 1 : k];
}

/* As the table's cells: 3 significant digits, no exponent. */
static const char *num3(char *buf, size_t len, double x)
{
	snprintf(buf, len, x >= 100 ? "%.0f" : x >= 10 ? "%.1f" : "%.2f", x);
	return buf;
}

static void note_pctl(struct row *r, const char *unit, const char *more)
{
	const struct series *s = &r->s[VMM_BH];
	char a[32], b[32];

	if (!s->n) {
		snprintf(r->note, sizeof(r->note), "%s", more);
		return;
	}
	snprintf(r->note, sizeof(r->note), "p50 %s %s, p99 %s %s, n=%d%s%s",
		 num3(a, sizeof(a), pctl(s, 50)), unit, num3(b, sizeof(b), pctl(s, 99)), unit, s->n,
		 more[0] ? "; " : "", more);
}

/* ---------------- exec runs ---------------- */

/* Does `bulkhead exec --help` list `opt`? */
static bool exec_has(const char *opt)
{
	static char out[16384];
	char err[600];
	char *argv[] = { UNCONST(cfg.bulkhead), UNCONST("exec"), UNCONST("--help"), NULL };

	snprintf(err, sizeof(err), "%s/stderr-exec-help.log", cfg.tmp);
	if (!proc_run_capture(argv, err, 20, out, sizeof(out)))
		return false;
	for (const char *p = out; (p = strstr(p, opt)); p++)
		if ((p[strlen(opt)] == ' ' || p[strlen(opt)] == '\n') && (p == out || p[-1] == ' '))
			return true;
	return false;
}

/* The value of "started_from" in a --json-status file, or "" */
static void started_from(const char *path, char *out, size_t len)
{
	char buf[4096];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	const char *p;

	out[0] = 0;
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return;
	buf[n] = 0;
	p = strstr(buf, "\"started_from\"");
	if (!p || !(p = strchr(p + 14, '"')))
		return;
	p++;
	snprintf(out, len, "%.*s", (int)strcspn(p, "\""), p);
}

/* One `bulkhead exec ... -- /bin/true`; its fork → exit time in *ms and
 * its started_from (with json) in from. */
static bool exec_true(const struct xenv *x, bool no_snapshot, bool json, double *ms, char *from,
		      size_t fromlen)
{
	char err[700], js[700];
	char *argv[16];
	int n = 0;
	struct proc p;

	snprintf(err, sizeof(err), "%s/stderr-exec.log", x->dir);
	snprintf(js, sizeof(js), "%s/status.json", x->dir);
	unlink(js);
	argv[n++] = UNCONST(cfg.bulkhead);
	argv[n++] = UNCONST("exec");
	argv[n++] = UNCONST("--guest");
	argv[n++] = UNCONST(cfg.exec_guest);
	argv[n++] = UNCONST("--rootfs");
	argv[n++] = UNCONST(cfg.exec_rootfs);
	argv[n++] = UNCONST("--boot-timeout");
	argv[n++] = UNCONST("240s");
	if (no_snapshot)
		argv[n++] = UNCONST("--no-snapshot");
	if (json) {
		argv[n++] = UNCONST("--json-status");
		argv[n++] = js;
	}
	argv[n++] = UNCONST("--");
	argv[n++] = UNCONST("/bin/true");
	argv[n] = NULL;
	if (proc_start(&p, argv, false, err) < 0)
		return false;
	bool ok = proc_wait(&p, p.t0 + BOOT_S) == 0 && proc_exit_code(&p) == 0;
	*ms = (p.t_exit - p.t0) * 1e3;
	proc_close(&p);
	if (json)
		started_from(js, from, fromlen);
	unlink(js);
	char what[128];
	snprintf(what, sizeof(what), "bulkhead exec%s -- /bin/true (exit code %d)",
		 no_snapshot ? " --no-snapshot" : "", proc_exit_code(&p));
	verdict(NULL, ok, what, err);
	return ok;
}

/* ---------------- the hybrid-vsock socket and the agent ---------------- */

static int write_full(int fd, const void *p, size_t n)
{
	size_t put = 0;

	while (put < n) {
		ssize_t r = send(fd, (const char *)p + put, n - put, MSG_NOSIGNAL);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -EIO;
		put += (size_t)r;
	}
	return 0;
}

/* Read exactly n bytes by `deadline`. 0 or -errno. */
static int read_full(int fd, void *p, size_t n, double deadline)
{
	size_t got = 0;

	while (got < n) {
		struct pollfd pf = { fd, POLLIN, 0 };
		int ms = (int)((deadline - proc_now()) * 1e3);

		if (ms <= 0 || poll(&pf, 1, ms) <= 0)
			return -ETIMEDOUT;
		ssize_t r = read(fd, (char *)p + got, n - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -EIO;
		got += (size_t)r;
	}
	return 0;
}

/* Connect to guest port `port` through the VM's hybrid-vsock socket:
 * "CONNECT <port>\n", "OK <n>\n". The fd, or -errno (-ECONNREFUSED: the
 * VMM or the guest refused, nobody listens there yet). */
static int hv_connect(const char *sock, unsigned port, double deadline)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char line[64];
	size_t have = 0;
	int fd, n;

	if (strlen(sock) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, sock, strlen(sock) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -ECONNREFUSED;
	}
	n = snprintf(line, sizeof(line), "CONNECT %u\n", port);
	if (write_full(fd, line, (size_t)n) < 0)
		goto refused;
	/* byte by byte up to the newline: what follows is the guest program's */
	while (have < sizeof(line) - 1) {
		if (read_full(fd, line + have, 1, deadline) < 0)
			goto refused;
		if (line[have++] == '\n')
			break;
	}
	line[have] = 0;
	if (strncmp(line, "OK ", 3) || line[have - 1] != '\n')
		goto refused;
	return fd;
refused:
	close(fd);
	return -ECONNREFUSED;
}

static int send_frame(int fd, uint8_t stream, uint8_t type, const void *payload, uint32_t len)
{
	uint8_t hdr[AP_HDR_LEN];

	if (ap_hdr_encode(hdr, stream, type, len))
		return -EINVAL;
	if (write_full(fd, hdr, sizeof(hdr)))
		return -EIO;
	return len ? write_full(fd, payload, len) : 0;
}

/* The next frame from the agent by `deadline`. 0 or -errno. */
static int recv_frame(int fd, struct ap_frame *f, double deadline)
{
	for (;;) {
		int r = ap_dec_next(&dec, f);
		uint8_t *space;
		size_t room;

		if (r < 0)
			return r;
		if (r == 1)
			return 0;
		room = ap_dec_space(&dec, &space);
		struct pollfd pf = { fd, POLLIN, 0 };
		int ms = (int)((deadline - proc_now()) * 1e3);

		if (ms <= 0 || poll(&pf, 1, ms) <= 0)
			return -ETIMEDOUT;
		ssize_t got = read(fd, space, room);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return -EIO;
		ap_dec_commit(&dec, (size_t)got);
	}
}

/* A session with the agent: connect to port AP_PORT, read its HELLO. */
static int agent_open(const char *sock, double deadline)
{
	struct ap_frame f;
	int fd = hv_connect(sock, AP_PORT, deadline);

	if (fd < 0)
		return fd;
	ap_dec_init(&dec);
	if (recv_frame(fd, &f, deadline) < 0 || f.stream != AP_S_CONTROL ||
	    f.type != AP_T_HELLO || f.len != 4 || ap_get_u32(f.payload) != AP_VERSION) {
		close(fd);
		return -EPROTO;
	}
	return fd;
}

/* Send a job (argv, as user 1000 in /) and wait for STARTED. 0 or -errno;
 * a refusal's text in err. */
static int job_start(int fd, const char *const *argv, double deadline, char *err, size_t errlen)
{
	static uint8_t buf[8192];
	struct ap_jobbuf b = { .p = buf, .cap = sizeof(buf) };
	struct ap_frame f;
	int r = 0;

	for (int i = 0; argv[i] && !r; i++)
		r = ap_job_put_str(&b, AP_TAG_ARG, argv[i]);
	if (!r)
		r = ap_job_put_str(&b, AP_TAG_ENV, "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin");
	if (!r)
		r = ap_job_put_str(&b, AP_TAG_CWD, "/");
	if (!r)
		r = ap_job_put_u32(&b, AP_TAG_UID, 1000);
	if (!r)
		r = ap_job_put_u32(&b, AP_TAG_GID, 1000);
	if (r || send_frame(fd, AP_S_CONTROL, AP_T_JOB, buf, (uint32_t)b.len) ||
	    send_frame(fd, AP_S_STDIN, AP_T_EOF, NULL, 0)) {
		snprintf(err, errlen, "sending the job failed");
		return -EIO;
	}
	for (;;) {
		r = recv_frame(fd, &f, deadline);
		if (r < 0) {
			snprintf(err, errlen, "no STARTED from the agent (%s)", strerror(-r));
			return r;
		}
		if (f.stream != AP_S_CONTROL)
			continue;
		if (f.type == AP_T_STARTED)
			return 0;
		if (f.type == AP_T_ERROR)
			snprintf(err, errlen, "the agent refused the job: %.*s", (int)f.len,
				 (const char *)f.payload);
		else
			snprintf(err, errlen, "the agent answered the job with frame type %u",
				 f.type);
		return -EPROTO;
	}
}

/* Wait for the job's EXIT; 0 if it exited with status 0. Its stderr (the
 * start of it) in err otherwise. */
static int job_wait(int fd, double deadline, char *err, size_t errlen)
{
	struct ap_frame f;
	struct ap_exit e;
	size_t used = 0;

	err[0] = 0;
	for (;;) {
		int r = recv_frame(fd, &f, deadline);

		if (r < 0) {
			snprintf(err + used, errlen - used, "no EXIT from the agent (%s)",
				 strerror(-r));
			return r;
		}
		if (f.stream == AP_S_STDERR && f.type == AP_T_DATA && used + 1 < errlen) {
			size_t k = f.len < errlen - used - 1 ? f.len : errlen - used - 1;

			memcpy(err + used, f.payload, k);
			used += k;
			err[used] = 0;
			continue;
		}
		if (f.stream != AP_S_CONTROL || f.type != AP_T_EXIT)
			continue;
		if (ap_exit_decode(f.payload, f.len, &e))
			return -EPROTO;
		if (e.kind == AP_EXIT_CODE && e.value == 0)
			return 0;
		snprintf(err + used, errlen - used, "%sthe job ended: kind %u value %d",
			 used ? "; " : "", e.kind, e.value);
		return -EIO;
	}
}

/* ---------------- the warm VM ---------------- */

static bool vm_alive(pid_t pid)
{
	siginfo_t si = { .si_pid = 0 };

	return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == 0;
}

/* `bulkhead run` of the exec guest with the agent serving, until it
 * answers. true and *p running; false with *p reaped. */
static bool warm_vm_start(const struct xenv *x, struct proc *p, double *boot_s)
{
	char disk[700], console[700], vsock[700];
	char *argv[] = { UNCONST(cfg.bulkhead), UNCONST("run"), UNCONST("--guest"),
			 UNCONST(cfg.exec_guest), UNCONST("--cmdline-append"),
			 UNCONST("bulkhead.agent=serve"), UNCONST("--mem"), UNCONST("512M"),
			 UNCONST("--cpus"), UNCONST("1"), UNCONST("--disk"), disk,
			 UNCONST("--console"), console, UNCONST("--vsock"), vsock, UNCONST("-q"),
			 NULL };

	snprintf(disk, sizeof(disk), "path=%s,ro=on,id=bulkhead-rootfs", cfg.exec_rootfs);
	snprintf(console, sizeof(console), "file:%s", x->console);
	snprintf(vsock, sizeof(vsock), "cid=3,socket=%s", x->sock);
	unlink(x->sock);
	if (proc_start(p, argv, false, x->vmmlog) < 0)
		return false;
	double deadline = p->t0 + BOOT_S;
	while (proc_now() < deadline && vm_alive(p->pid)) {
		int fd = agent_open(x->sock, proc_now() + 15);

		if (fd >= 0) {
			close(fd);
			*boot_s = proc_now() - p->t0;
			return true;
		}
		usleep(200 * 1000);
	}
	proc_kill(p);
	proc_close(p);
	verdict(NULL, false, "warm VM: the agent did not answer (guest console follows)",
		x->console);
	return false;
}

static void warm_vm_stop(struct proc *p)
{
	/* SIGTERM: the run supervisor stops the jailed VM process too */
	kill(p->pid, SIGTERM);
	proc_wait(p, proc_now() + 20);
	proc_close(p);
}

/* One command in the warm VM on a new agent connection: /bin/true, from
 * socket() to its EXIT; *job_ms: from JOB sent to EXIT. */
static bool warm_command(const struct xenv *x, double *ms, double *job_ms)
{
	const char *const argv[] = { "/bin/true", NULL };
	char err[300] = "";
	double t0 = proc_now(), deadline = t0 + 60, t1;
	int fd = agent_open(x->sock, deadline);
	bool ok = false;

	if (fd < 0) {
		snprintf(err, sizeof(err), "cannot open an agent session (%s)", strerror(-fd));
		goto out;
	}
	t1 = proc_now();
	ok = job_start(fd, argv, deadline, err, sizeof(err)) == 0 &&
	     job_wait(fd, deadline, err, sizeof(err)) == 0;
	*ms = (proc_now() - t0) * 1e3;
	*job_ms = (proc_now() - t1) * 1e3;
	close(fd);
out:
	if (!ok)
		printf("#   warm command failed: %s\n", err);
	verdict(NULL, ok, "warm VM: /bin/true over a new agent session", NULL);
	return ok;
}

/* ---------------- vsock ---------------- */

static void put_u64le(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Connect to bh-vsock-echo (retrying while it is not listening yet). */
static int echo_connect(const struct xenv *x, double deadline)
{
	for (;;) {
		int fd = hv_connect(x->sock, ECHO_PORT, deadline);

		if (fd >= 0 || proc_now() > deadline)
			return fd;
		usleep(50 * 1000);
	}
}

static bool vs_echo(const struct xenv *x, int n, struct series *rtt)
{
	uint8_t out[ECHO_MSG], in[ECHO_MSG];
	double deadline = proc_now() + 120;
	int fd = echo_connect(x, proc_now() + 30);
	bool ok = fd >= 0 && write_full(fd, "E", 1) == 0;

	for (int i = 0; ok && i < ECHO_WARM + n; i++) {
		for (int k = 0; k < ECHO_MSG; k++)
			out[k] = (uint8_t)(i * 31 + k);
		double t0 = proc_now();

		ok = write_full(fd, out, sizeof(out)) == 0 &&
		     read_full(fd, in, sizeof(in), deadline) == 0 && !memcmp(in, out, sizeof(in));
		if (ok && i >= ECHO_WARM)
			add(rtt, (proc_now() - t0) * 1e6);
	}
	if (fd >= 0)
		close(fd);
	verdict(NULL, ok, "vsock: 64-byte echo round trips", NULL);
	return ok;
}

/* 'S' (host → guest) or 'G' (guest → host) of `bytes`; MiB/s in *mibs. */
static bool vs_bulk(const struct xenv *x, char mode, uint64_t bytes, double *mibs)
{
	static uint8_t buf[256 * 1024];
	uint8_t hdr[9], back[8];
	double deadline = proc_now() + 300;
	int fd = echo_connect(x, proc_now() + 30);
	bool ok = fd >= 0;
	double t0 = proc_now();

	hdr[0] = (uint8_t)mode;
	put_u64le(hdr + 1, bytes);
	memset(buf, 0xa5, sizeof(buf));
	ok = ok && write_full(fd, hdr, sizeof(hdr)) == 0;
	for (uint64_t done = 0; ok && done < bytes;) {
		size_t n = bytes - done < sizeof(buf) ? (size_t)(bytes - done) : sizeof(buf);

		ok = (mode == 'S' ? write_full(fd, buf, n) : read_full(fd, buf, n, deadline)) == 0;
		done += n;
	}
	if (ok && mode == 'S')
		ok = read_full(fd, back, 8, deadline) == 0 && !memcmp(back, hdr + 1, 8);
	double dt = proc_now() - t0;
	if (fd >= 0)
		close(fd);
	if (ok)
		*mibs = (double)bytes / (1 << 20) / dt;
	verdict(NULL, ok, mode == 'S' ? "vsock: host → guest bulk" : "vsock: guest → host bulk",
		NULL);
	return ok;
}

/* ---------------- the group ---------------- */

static const char *qemu_vsock_note(void)
{
	return access("/dev/vhost-vsock", F_OK) == 0 ?
		       "QEMU: not measured (this group has no QEMU guest side yet)" :
		       "QEMU: n/a (no vhost-vsock on this host)";
}

/* Cold (and, with the fast path, snapshot) `bulkhead exec -- /bin/true`. */
static void exec_rows(const struct xenv *x, int runs)
{
	bool fast = exec_has("--no-snapshot");
	bool json = fast && exec_has("--json-status");
	struct row *cold = row_new("exec", fast ? "exec /bin/true, cold (--no-snapshot)" :
						  "exec /bin/true, cold (this build's only path)",
				   "ms", false);
	struct row *snap = row_new("exec", "exec /bin/true from the snapshot", "ms", false);
	char from_cold[64] = "", from_snap[64] = "", build[64] = "";
	int mism = 0;

	snap->optional = !fast;
	printf("# exec: bulkhead exec --guest %s --rootfs %s -- /bin/true, fork → exit; %d runs%s\n",
	       cfg.exec_guest, cfg.exec_rootfs, runs,
	       fast ? ", cold (--no-snapshot) and from the snapshot interleaved" :
		      " (this build has no exec snapshot fast path)");
	if (fast) {
		/* the first run of the default path builds the snapshot: not counted */
		double ms;

		if (exec_true(x, false, json, &ms, build, sizeof(build)))
			printf("#   first exec (builds the snapshot): %.0f ms, started_from %s\n", ms,
			       build[0] ? build : "?");
	}
	for (int i = 0; i < rounds(runs); i++)
		for (int k = 0; k < (fast ? 2 : 1); k++) {
			struct row *r = k ? snap : cold;
			char from[64] = "";
			double ms;

			if (!exec_true(x, !k && fast, json, &ms, from, sizeof(from))) {
				if (!warmup(i))
					r->s[VMM_BH].fails++;
				continue;
			}
			printf("#   %s %d: %.0f ms%s%s%s%s\n", k ? "snapshot" : "cold", i, ms,
			       from[0] ? " (started_from " : "", from, from[0] ? ")" : "",
			       warmup(i) ? " (warm-up, not counted)" : "");
			/* --json-status says "boot" or "snapshot" */
			if (json && !warmup(i) && strcmp(from, k ? "snapshot" : "boot"))
				mism++;
			snprintf(k ? from_snap : from_cold, 64, "%s", from);
			if (!warmup(i))
				add(&r->s[VMM_BH], ms);
		}
	char more[200];
	snprintf(more, sizeof(more), "fork → exit of `bulkhead exec` (boot, agent, job, teardown)%s%s; "
		 "QEMU has no exec", json ? "; started_from " : "", json ? from_cold : "");
	note_pctl(cold, "ms", more);
	if (!fast) {
		snprintf(snap->note, sizeof(snap->note),
			 "n/a (this build has no exec snapshot fast path)");
	} else {
		snprintf(more, sizeof(more), "the default path: restore of the cached agent-ready "
			 "snapshot (first run, which built it, not counted)%s%s%s",
			 json ? "; started_from " : "", json ? from_snap : "",
			 mism ? "; ⚠ some runs did not start as their row says" : "");
		note_pctl(snap, "ms", more);
		if (cold->s[VMM_BH].n && snap->s[VMM_BH].n) {
			size_t u = strlen(snap->note);

			snprintf(snap->note + u, sizeof(snap->note) - u, "; snapshot / cold = %.2f×",
				 pctl(&snap->s[VMM_BH], 50) / pctl(&cold->s[VMM_BH], 50));
		}
	}
}

static void warm_rows(const struct xenv *x, int runs)
{
	struct row *warm = row_new("exec", "warm VM: first command (/bin/true), new agent session",
				   "ms", false);
	struct row *rtt = row_new("exec", "vsock: 64-byte echo round trip", "µs", false);
	struct row *up = row_new("exec", "vsock: 64 MiB host → guest", "MiB/s", true);
	struct row *down = row_new("exec", "vsock: 64 MiB guest → host", "MiB/s", true);
	struct series job = { .n = 0 };
	struct proc p;
	double boot = 0;
	int echoes = cfg.smoke ? 64 : 1000, bulk_rounds = cfg.smoke ? 1 : 3;
	uint64_t bytes = cfg.smoke ? 1u << 20 : 64u << 20;
	char err[300];

	printf("# exec warm VM: bulkhead run --guest %s --cmdline-append bulkhead.agent=serve\n"
	       "#   (512 MiB, 1 vCPU, the rootfs read-only, --vsock cid=3,socket=S); per command a new\n"
	       "#   connection to S (CONNECT %d), HELLO, JOB /bin/true, EXIT; then bh-vsock-echo as a\n"
	       "#   job: %d 64-byte echoes (after %d), %d x %llu MiB each way through S (CONNECT %d)\n",
	       cfg.exec_guest, AP_PORT, echoes, ECHO_WARM, bulk_rounds,
	       (unsigned long long)(bytes >> 20), ECHO_PORT);
	if (!warm_vm_start(x, &p, &boot)) {
		warm->s[VMM_BH].fails++;
		return;
	}
	printf("#   warm VM: the agent answered %.1f s after the fork\n", boot);
	for (int i = 0; i < rounds(runs); i++) {
		double ms, jms;

		if (!warm_command(x, &ms, &jms)) {
			warm->s[VMM_BH].fails++;
			continue;
		}
		if (!warmup(i)) {
			add(&warm->s[VMM_BH], ms);
			add(&job, jms);
		}
	}
	char more[200], j50[32];
	snprintf(more, sizeof(more), "connect + CONNECT + HELLO + JOB → EXIT; of which JOB → EXIT "
		 "p50 %s ms; `bulkhead exec --vm` adds its CLI start and bulkheadd's relay",
		 num3(j50, sizeof(j50), pctl(&job, 50)));
	note_pctl(warm, "ms", more);

	/* vsock: the echo program as a job on its own agent session */
	char port[16], conns[16];
	snprintf(port, sizeof(port), "%d", ECHO_PORT);
	snprintf(conns, sizeof(conns), "%d", 1 + 2 * bulk_rounds);
	const char *const argv[] = { "/bin/bh-vsock-echo", port, conns, NULL };
	int fd = agent_open(x->sock, proc_now() + 60);
	bool ok = fd >= 0 && job_start(fd, argv, proc_now() + 60, err, sizeof(err)) == 0;

	if (!ok) {
		printf("#   cannot start bh-vsock-echo in the guest: %s\n",
		       fd < 0 ? strerror(-fd) : err);
		rtt->s[VMM_BH].fails++;
	}
	ok = ok && vs_echo(x, echoes, &rtt->s[VMM_BH]);
	for (int i = 0; ok && i < bulk_rounds; i++) {
		double m;

		ok = vs_bulk(x, 'S', bytes, &m);
		if (ok)
			add(&up->s[VMM_BH], m);
		ok = ok && vs_bulk(x, 'G', bytes, &m);
		if (ok)
			add(&down->s[VMM_BH], m);
	}
	if (fd >= 0 && ok) {
		ok = job_wait(fd, proc_now() + 60, err, sizeof(err)) == 0;
		if (!ok)
			printf("#   bh-vsock-echo did not end cleanly: %s\n", err);
		verdict(NULL, ok, "vsock: bh-vsock-echo exited 0", NULL);
	}
	if (fd >= 0)
		close(fd);
	if (!ok)
		rtt->s[VMM_BH].fails += !rtt->s[VMM_BH].n;
	char vs[160];
	snprintf(vs, sizeof(vs), "through bulkhead's hybrid-vsock socket (CONNECT %d) to a guest "
		 "program; %s", ECHO_PORT, qemu_vsock_note());
	note_pctl(rtt, "µs", vs);
	snprintf(up->note, sizeof(up->note), "%d MiB one way, timed until the guest confirmed the "
		 "count; %s", (int)(bytes >> 20), qemu_vsock_note());
	snprintf(down->note, sizeof(down->note), "%d MiB one way, until the last byte arrived; %s",
		 (int)(bytes >> 20), qemu_vsock_note());
	up->optional = down->optional = !rtt->s[VMM_BH].n;
	warm_vm_stop(&p);
}

void bench_exec(void)
{
	struct xenv x;
	int left = 0;

	if (!cfg.exec_guest || !cfg.exec_rootfs) {
		printf("# exec: skipped (no exec guest or root filesystem: bench/run.sh prepares "
		       "them with scripts/prepare-exec.sh --stock-guest and "
		       "scripts/mk-exec-rootfs-busybox.sh, which need root and erofs-utils)\n");
		return;
	}
	if (xenv_open(&x) < 0) {
		printf("# exec: skipped (cannot create %s: %s)\n", x.dir, strerror(errno));
		return;
	}
	int runs = cfg.smoke ? 1 : cfg.exec_runs;

	/* The warm VM and vsock first (one VM, about a minute nested), their
	 * rows out at once; then the 2 x 30 throwaway VMs, whose churn is what
	 * has frozen the nested host (bench/README.md, "Known problem"): each
	 * run's figure is printed as it comes, so a frozen run still leaves
	 * them in the log. */
	warm_rows(&x, runs);
	report_rows("exec");
	exec_rows(&x, runs);
	bool clean = xenv_close(&x, &left);
	verdict(NULL, clean, "exec: no private directory left behind", NULL);
	printf("# exec: %d entries left in exec's TMPDIR%s; the scratch directory removed\n", left,
	       clean ? "" : " ⚠");
}
