/* snapshot.c — the snapshot group (issue 13): how long a snapshot takes and
 * what it costs on disk, how fast a VM is back from one, and what ten clones
 * of one snapshot cost the host next to ten cold starts — bulkhead next to
 * QEMU saving and restoring the same guest through migration to a file.
 *
 * The guest is bench_guest mode=snap: it writes one word into every page of
 * half its RAM (touch=), prints "T", then prints "." every tick= TSC cycles
 * (busy-waiting in ring 0, so the group runs natively on a PVM host).
 *   bulkhead: `run --control SOCK`, `bulkhead snapshot --control SOCK DIR`
 *             (pause, write state + sparse memory, fsync, SHA-256, manifest;
 *             the VM stays paused), `bulkhead restore --console stdio DIR`
 *             (guest RAM mapped from DIR/memory copy-on-write).
 *   QEMU:     `-qmp unix:SOCK`, QMP `migrate exec:cat > FILE` until
 *             query-migrate says completed, then fdatasync(FILE) (timed too:
 *             bulkhead syncs its files); restore: the same command line plus
 *             `-incoming "exec:cat FILE"` (QEMU reads the whole stream into
 *             fresh anonymous RAM, then runs: the migrated run state).
 * Rows: snapshot time and size (allocated and apparent) for 256 MiB and
 * 1 GiB guests; exec → first guest output of a restore next to a cold start
 * of the same guest; host memory of 10 clones of one snapshot next to 10
 * cold starts: the sum of PSS over every process of the VMMs (shared pages
 * counted once in total) and of RSS (each process counting them in full),
 * after every VM has read all of its touched memory (reread=1, ":.:"). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "bhbench.h"

#define NCLONES 10
#define UNCONST(s) ((char *)(uintptr_t)(s)) /* execv's argv is char *const [] */
#define TICK "tick=1000000"

/* ---------------- sizes on disk ---------------- */

/* Apparent (st_size) and allocated (st_blocks) bytes of a file, or of the
 * regular files directly in a directory. 0 or -errno. */
static int disk_use(const char *path, double *apparent_mib, double *alloc_mib)
{
	struct stat st;
	double app = 0, alloc = 0;

	if (stat(path, &st) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		struct dirent *e;

		if (!d)
			return -errno;
		while ((e = readdir(d))) {
			char f[1024];
			struct stat fs;

			snprintf(f, sizeof(f), "%s/%s", path, e->d_name);
			if (e->d_name[0] == '.' || stat(f, &fs) < 0 || !S_ISREG(fs.st_mode))
				continue;
			app += (double)fs.st_size;
			alloc += (double)fs.st_blocks * 512;
		}
		closedir(d);
	} else {
		app = (double)st.st_size;
		alloc = (double)st.st_blocks * 512;
	}
	*apparent_mib = app / (1 << 20);
	*alloc_mib = alloc / (1 << 20);
	return 0;
}

static void rm_path(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;

	if (!d) {
		unlink(path);
		return;
	}
	while ((e = readdir(d))) {
		char f[1024];

		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(f, sizeof(f), "%s/%s", path, e->d_name);
			unlink(f);
		}
	}
	closedir(d);
	rmdir(path);
}

/* ---------------- host memory of a VMM's processes ---------------- */

/* Pss and Rss (kB) of `pid` and its descendants (the sandbox's supervisor,
 * the jailed VM process: at most a few levels) from smaps_rollup. */
static void tree_mem(pid_t pid, int depth, unsigned long long *pss, unsigned long long *rss)
{
	char path[96], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	f = fopen(path, "re");
	if (f) {
		unsigned long long kb;

		while (fgets(line, sizeof(line), f)) {
			if (sscanf(line, "Pss: %llu kB", &kb) == 1)
				*pss += kb;
			else if (sscanf(line, "Rss: %llu kB", &kb) == 1)
				*rss += kb;
		}
		fclose(f);
	}
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
	f = depth < 4 ? fopen(path, "re") : NULL;
	if (f) {
		int child;

		while (fscanf(f, "%d", &child) == 1)
			tree_mem(child, depth + 1, pss, rss);
		fclose(f);
	}
}

/* ---------------- QMP ---------------- */

/* Send one QMP command, read replies until its "return" or "error" (events
 * in between are skipped). True on "return"; the reply line in buf. */
static bool qmp_cmd(FILE *q, const char *json, char *buf, size_t len, double deadline)
{
	if (fputs(json, q) < 0 || fputc('\n', q) < 0 || fflush(q))
		return false;
	while (proc_now() < deadline) {
		if (!fgets(buf, (int)len, q))
			return false;
		if (strstr(buf, "\"return\""))
			return true;
		if (strstr(buf, "\"error\""))
			return false;
	}
	return false;
}

static FILE *qmp_open(const char *sock, double deadline)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[4096];
	FILE *q;
	int fd;

	if (strlen(sock) >= sizeof(sa.sun_path))
		return NULL;
	memcpy(sa.sun_path, sock, strlen(sock) + 1);
	for (;;) {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return NULL;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			break;
		close(fd);
		if (proc_now() > deadline)
			return NULL;
		usleep(10000);
	}
	q = fdopen(fd, "r+");
	if (!q) {
		close(fd);
		return NULL;
	}
	if (!fgets(buf, sizeof(buf), q) || !strstr(buf, "\"QMP\"") ||
	    !qmp_cmd(q, "{\"execute\":\"qmp_capabilities\"}", buf, sizeof(buf), deadline)) {
		fclose(q);
		return NULL;
	}
	return q;
}

/* QEMU: migrate to `file` and wait until completed, then fdatasync it. */
static bool qemu_save(const char *sock, const char *file, double *secs)
{
	double deadline = proc_now() + 120;
	char cmd[1200], buf[4096];
	FILE *q = qmp_open(sock, proc_now() + 10);
	bool ok = false;

	if (!q)
		return false;
	snprintf(cmd, sizeof(cmd),
		 "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"exec:cat > %s\"}}", file);
	double t0 = proc_now();
	if (!qmp_cmd(q, cmd, buf, sizeof(buf), deadline))
		goto out;
	while (proc_now() < deadline) {
		if (!qmp_cmd(q, "{\"execute\":\"query-migrate\"}", buf, sizeof(buf), deadline))
			goto out;
		if (strstr(buf, "\"completed\""))
			break;
		if (strstr(buf, "\"failed\"") || strstr(buf, "\"cancelled\""))
			goto out;
		usleep(2000);
	}
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	ok = fd >= 0 && fdatasync(fd) == 0;
	if (fd >= 0)
		close(fd);
	*secs = proc_now() - t0;
out:
	fclose(q);
	return ok;
}

/* bulkhead: `bulkhead snapshot --control SOCK DIR`, fork → exit. */
static bool bh_save(const char *sock, const char *dir, double *secs)
{
	char err[512];
	char *argv[] = { UNCONST(cfg.bulkhead), UNCONST("snapshot"), UNCONST("--control"),
			 UNCONST(sock), UNCONST(dir), NULL };
	struct proc p;

	snprintf(err, sizeof(err), "%s/stderr-snapshot-save.log", cfg.tmp);
	if (proc_start(&p, argv, false, err) < 0)
		return false;
	bool ok = proc_wait(&p, p.t0 + 120) == 0 && proc_exit_code(&p) == 0;
	*secs = p.t_exit - p.t0;
	proc_close(&p);
	if (!ok)
		verdict(NULL, false, "bulkhead snapshot --control", err);
	return ok;
}

/* ---------------- one snapshot ---------------- */

struct snap_spec {
	int mem_mib, touch_mib;
	bool reread;
};

static void guest_cmdline(char *buf, size_t len, const struct snap_spec *sp)
{
	snprintf(buf, len, "mode=snap touch=%d " TICK "%s", sp->touch_mib,
		 sp->reread ? " reread=1" : "");
}

/* Boot the guest, wait for "T" (memory touched), snapshot it into `out`
 * (bulkhead: a directory; QEMU: a file), kill it. */
static bool take_snapshot(enum vmm v, const struct snap_spec *sp, const char *out, double *secs)
{
	char cmdline[128], sock[512], err[512];
	struct vmspec s = { .kernel = cfg.guest_elf, .mem_mib = sp->mem_mib, .cpus = 1,
			    .test_device = true, .cmdline = cmdline };
	const char *pats[] = { "T\n" };
	double first, pat[PROC_MAX_WATCH];
	struct proc p;
	char qmp_arg[600];
	bool ok;

	guest_cmdline(cmdline, sizeof(cmdline), sp);
	snprintf(sock, sizeof(sock), "%s/snap-%s.sock", cfg.tmp, v == VMM_BH ? "bh" : "qemu");
	snprintf(err, sizeof(err), "%s/stderr-snapshot-%s.log", cfg.tmp, vmm_name[v]);
	unlink(sock);
	rm_path(out);
	if (v == VMM_BH) {
		s.bh_extra[0] = "--control";
		s.bh_extra[1] = sock;
	} else {
		snprintf(qmp_arg, sizeof(qmp_arg), "unix:%s,server=on,wait=off", sock);
		s.qemu_extra[0] = "-qmp";
		s.qemu_extra[1] = qmp_arg;
	}
	if (vm_start(v, &s, &p, err) < 0)
		return false;
	ok = proc_follow(&p, pats, 1, 0, p.t0 + 120, &first, pat) == 0 && pat[0] >= 0;
	ok = ok && (v == VMM_BH ? bh_save(sock, out, secs) : qemu_save(sock, out, secs));
	proc_kill(&p);
	proc_close(&p);
	unlink(sock);
	char what[128];
	snprintf(what, sizeof(what), "%s snapshot of %d MiB (%d touched)", vmm_name[v], sp->mem_mib,
		 sp->touch_mib);
	verdict(NULL, ok, what, err);
	return ok;
}

/* Start a restore of `snap` (or, with snap NULL, a cold start of the same
 * guest) with stdout captured. */
static int start_vm(enum vmm v, const struct snap_spec *sp, const char *snap, struct proc *p,
		    const char *err)
{
	char cmdline[128], incoming[1100];
	struct vmspec s = { .kernel = cfg.guest_elf, .mem_mib = sp->mem_mib, .cpus = 1,
			    .test_device = true, .cmdline = cmdline };

	guest_cmdline(cmdline, sizeof(cmdline), sp);
	if (snap && v == VMM_BH) {
		char *argv[] = { UNCONST(cfg.bulkhead), UNCONST("restore"), UNCONST("--console"),
				 UNCONST("stdio"), UNCONST(snap), NULL };
		return proc_start(p, argv, true, err);
	}
	if (snap) {
		snprintf(incoming, sizeof(incoming), "exec:cat %s", snap);
		s.qemu_extra[0] = "-incoming";
		s.qemu_extra[1] = incoming;
	}
	return vm_start(v, &s, p, err);
}

/* ---------------- the group ---------------- */

static double median_of(const struct series *s)
{
	double v[MAX_SAMPLES];
	int n = s->n;

	for (int i = 0; i < n; i++)
		v[i] = s->v[i];
	for (int i = 1; i < n; i++) /* insertion sort: n <= MAX_SAMPLES */
		for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
			double t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void snap_path(char *buf, size_t len, enum vmm v, int mem_mib, const char *tag)
{
	snprintf(buf, len, "%s/snap-%s-%d%s", cfg.tmp, v == VMM_BH ? "bh" : "qemu.mig", mem_mib, tag);
}

/* Snapshot time and size for one guest size; keeps the last snapshot. */
static void sizes(const struct snap_spec *sp)
{
	char name[3][96];
	struct row *t, *alloc;
	double app_seen[VMM_N] = { 0, 0 };

	snprintf(name[0], sizeof(name[0]), "snapshot time, %d MiB guest", sp->mem_mib);
	snprintf(name[1], sizeof(name[1]), "snapshot on disk (allocated), %d MiB guest",
		 sp->mem_mib);
	t = row_new("snapshot", strdup(name[0]), "ms", false);
	alloc = row_new("snapshot", strdup(name[1]), "MiB", false);
	for (int i = 0; i < rounds(cfg.reps > 2 ? 2 : cfg.reps); i++)
		for (int v = first_vmm(); v < VMM_N; v = next_vmm(v)) {
			char out[512];
			double secs, app = 0, al = 0;

			snap_path(out, sizeof(out), (enum vmm)v, sp->mem_mib, "");
			if (!take_snapshot((enum vmm)v, sp, out, &secs)) {
				t->s[v].fails++;
				continue;
			}
			if (disk_use(out, &app, &al) < 0 || warmup(i))
				continue;
			add(&t->s[v], secs * 1e3);
			add(&alloc->s[v], al);
			app_seen[v] = app;
		}
	snprintf(t->note, sizeof(t->note),
		 "%d MiB touched; bulkhead: pause + write + fsync + SHA-256 + manifest; QEMU: "
		 "migrate exec:cat > FILE (live) + fdatasync",
		 sp->touch_mib);
	snprintf(alloc->note, sizeof(alloc->note),
		 "apparent size: bulkhead %.0f MiB (sparse memory file), QEMU %.0f MiB (stream)",
		 app_seen[VMM_BH], app_seen[VMM_QEMU]);
}

/* Restore → first guest output next to a cold start of the same guest. */
static void restore_time(const struct snap_spec *sp)
{
	struct row *rest = row_new("snapshot", "restore: exec → first guest output, 256 MiB", "ms",
				   false);
	struct row *cold = row_new("snapshot", "cold start: exec → first guest output, same guest",
				   "ms", false);
	const char *pats[] = { "" };
	char err[512];

	snprintf(err, sizeof(err), "%s/stderr-restore.log", cfg.tmp);
	for (int i = 0; i < rounds(cfg.reps > 3 ? 3 : cfg.reps); i++)
		for (int v = first_vmm(); v < VMM_N; v = next_vmm(v))
			for (int k = 0; k < 2; k++) {
				char snap[512];
				struct proc p;
				double first, pat[PROC_MAX_WATCH];
				bool ok;

				snap_path(snap, sizeof(snap), (enum vmm)v, sp->mem_mib, "");
				if (start_vm((enum vmm)v, sp, k ? snap : NULL, &p, err) < 0)
					continue;
				/* An empty pattern matches the first byte. */
				ok = proc_follow(&p, pats, 1, 0, p.t0 + 60, &first, pat) == 0 &&
				     first >= 0;
				proc_kill(&p);
				proc_close(&p);
				char what[96];
				snprintf(what, sizeof(what), "%s %s", vmm_name[v],
					 k ? "restore" : "cold start");
				verdict(warmup(i) ? NULL : &(k ? rest : cold)->s[v], ok, what, err);
				if (ok && !warmup(i))
					add(&(k ? rest : cold)->s[v], (first - p.t0) * 1e3);
			}
	snprintf(rest->note, sizeof(rest->note),
		 "the guest prints '.' every 10^6 TSC cycles: first output ≤ first instruction + "
		 "one tick; bulkhead maps memory copy-on-write, QEMU reads the whole stream first");
	snprintf(cold->note, sizeof(cold->note),
		 "boot of the same guest (first output is its first C statement)");
	for (int v = first_vmm(); v < VMM_N; v = next_vmm(v))
		if (rest->s[v].n && cold->s[v].n) {
			size_t used = strlen(cold->note);

			snprintf(cold->note + used, sizeof(cold->note) - used,
				 "; %s restore / cold start = %.2f×", vmm_name[v],
				 median_of(&rest->s[v]) / median_of(&cold->s[v]));
		}
}

/* 10 VMs at once (restores of one snapshot, or cold starts), each until it
 * has read all its touched memory; sum of PSS and RSS of every process. */
static bool ten(enum vmm v, const struct snap_spec *sp, const char *snap, double *pss_mib,
		double *rss_mib)
{
	static struct proc procs[NCLONES];
	const char *pats[] = { snap ? ":.:" : "T\n.:" };
	int n = cfg.smoke ? 2 : NCLONES, started = 0;
	unsigned long long pss = 0, rss = 0;
	char err[512];
	bool ok = true;

	snprintf(err, sizeof(err), "%s/stderr-clones-%s.log", cfg.tmp, vmm_name[v]);
	for (int i = 0; i < n && ok; i++) {
		double first, pat[PROC_MAX_WATCH];

		if (start_vm(v, sp, snap, &procs[i], err) < 0) {
			ok = false;
			break;
		}
		started++;
		ok = proc_follow(&procs[i], pats, 1, 0, proc_now() + 120, &first, pat) == 0 &&
		     pat[0] >= 0;
	}
	if (ok) {
		usleep(500 * 1000);
		for (int i = 0; i < n; i++)
			tree_mem(procs[i].pid, 0, &pss, &rss);
		*pss_mib = (double)pss / 1024;
		*rss_mib = (double)rss / 1024;
	}
	for (int i = 0; i < started; i++) {
		proc_kill(&procs[i]);
		proc_close(&procs[i]);
	}
	char what[96];
	snprintf(what, sizeof(what), "%s %d %s", vmm_name[v], n, snap ? "clones" : "cold starts");
	verdict(NULL, ok, what, err);
	return ok;
}

static void clones(void)
{
	const struct snap_spec sp = { .mem_mib = 256, .touch_mib = cfg.smoke ? 8 : 128,
				      .reread = true };
	struct row *cl = row_new("snapshot", "10 clones of one snapshot: host memory (sum of PSS)",
				 "MiB", false);
	struct row *co = row_new("snapshot", "10 cold starts: host memory (sum of PSS)", "MiB",
				 false);
	double rss_seen[2][VMM_N] = { { 0, 0 }, { 0, 0 } };

	for (int v = first_vmm(); v < VMM_N; v = next_vmm(v)) {
		char snap[512];
		double secs, pss, rss;

		snap_path(snap, sizeof(snap), (enum vmm)v, sp.mem_mib, "-reread");
		if (take_snapshot((enum vmm)v, &sp, snap, &secs) &&
		    ten((enum vmm)v, &sp, snap, &pss, &rss)) {
			add(&cl->s[v], pss);
			rss_seen[0][v] = rss;
		}
		rm_path(snap);
		if (ten((enum vmm)v, &sp, NULL, &pss, &rss)) {
			add(&co->s[v], pss);
			rss_seen[1][v] = rss;
		}
	}
	snprintf(cl->note, sizeof(cl->note),
		 "256 MiB guests, 128 MiB touched, each clone has read all of it; sum of RSS: "
		 "bulkhead %.0f, QEMU %.0f MiB (shared pages counted in every process)",
		 rss_seen[0][VMM_BH], rss_seen[0][VMM_QEMU]);
	snprintf(co->note, sizeof(co->note),
		 "the same guest booted 10 times; sum of RSS: bulkhead %.0f, QEMU %.0f MiB",
		 rss_seen[1][VMM_BH], rss_seen[1][VMM_QEMU]);
}

void bench_snapshot(void)
{
	const struct snap_spec small = { .mem_mib = 256, .touch_mib = cfg.smoke ? 8 : 128 };
	const struct snap_spec big = { .mem_mib = 1024, .touch_mib = 512 };

	printf("# snapshot: %s mode=snap (touch= MiB written, then '.' every 10^6 TSC cycles);\n"
	       "#   bulkhead snapshot --control / restore DIR next to QEMU migrate exec:cat > FILE /\n"
	       "#   -incoming exec:cat FILE; 10 clones of one snapshot vs 10 cold starts (PSS)\n",
	       cfg.guest_elf);
	sizes(&small);
	if (!cfg.smoke)
		sizes(&big);
	restore_time(&small);
	clones();
	for (int v = VMM_BH; v < VMM_N; v++) {
		char p[512];

		snap_path(p, sizeof(p), (enum vmm)v, 256, "");
		rm_path(p);
		snap_path(p, sizeof(p), (enum vmm)v, 1024, "");
		rm_path(p);
	}
}
