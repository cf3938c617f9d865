/* bhbench.c — bulkhead's benchmark driver: runs every benchmark interleaved
 * (bulkhead, QEMU, bulkhead, QEMU, ... after a warm-up of each), then prints a
 * markdown table of medians with min/max and the bulkhead/QEMU ratio, plus
 * machine-readable lines for the plots. A C program rather than a script
 * because it also runs inside the nested KVM host, where there is only
 * busybox, and because it times with clock_gettime at the fork, the first
 * byte of guest output and the exit (pidfd) instead of a shell's overhead.
 *
 * usage: bhbench [options]      (bench/run.sh passes all of them)
 *   --bulkhead PATH --guest-elf PATH --hello PATH --kvm-min PATH
 *   --qemu PATH          omit: bulkhead columns only
 *   --linux DIR          prepared guest (kernel, initrd, cmdline); omit: skip
 *   --qemu-kernel PATH   the same kernel as an ELF vmlinux for QEMU's PVH boot
 *   --blk-guest PATH --blk-host PATH   the block-I/O group (blk.c): its guest
 *                        and the host limit program; omit: group skipped
 *   --balloon-initrd PATH --balloon-vms N   the balloon group (balloon.c): the
 *                        guest's initrd with its fill-and-free /cmd, N guests (4)
 *   --net-guest PATH     the network group (net.c): guest/net_guest.elf; omit: skipped
 *   --net-check PATH     its port-security check timer (net_check.c)
 *   --exec-guest DIR --exec-rootfs IMAGE   the exec group (exec.c): the exec
 *                        guest (stock kernel) and the busybox root filesystem
 *                        with /bin/bh-vsock-echo; omit: group skipped
 *   --exec-runs N        its runs per row (default 30)
 *   --tmp DIR            scratch (stderr logs, bulkhead's kernel cache, disk image)
 *   --reps N --linux-reps N --churn N --exits N --density N   counts
 *   --label TEXT         what machine/mode this is (table header)
 *   --only G1,G2         only these groups: startup footprint exits linux blk density balloon
 *                        net place snapshot exec churn
 *   --vmm bulkhead|qemu  run only this VMM (default: both; debugging aid)
 *   --smoke              every benchmark once, tiny counts, "N passed, N failed"
 * Groups run in the order above; churn (many VMs created and destroyed fast)
 * is last because the nested L1 has been seen to freeze during it
 * (README.md, "Known problem"), and then only it should be lost.
 * Output lines, all flushed as they are printed:
 *   "# ..."                            progress, at least one line every
 *                                      HEARTBEAT_S seconds (a heartbeat
 *                                      thread), so silence means a freeze;
 *   BHBENCH-PLAN g1 g2 ...             the groups that will run;
 *   BHBENCH-HEADER<TAB>text            the table's caption;
 *   BHBENCH-GROUP-START g              a group begins;
 *   BHBENCH-ROW<TAB>| markdown row |   a finished group's rows, then
 *   BHBENCH-DATA<TAB>group<TAB>label<TAB>6 numbers   (for gnuplot), then
 *   BHBENCH-GROUP-DONE g;
 * and at the end the whole table between BHBENCH-TABLE-BEGIN/END, or in
 * smoke mode "BHBENCH-SMOKE: N passed, N failed". bench/run.sh rebuilds the
 * table from the ROW lines when the end never comes. Exit 0 unless a
 * benchmark could not produce a single sample (or, in smoke mode, anything
 * failed). */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bhbench.h"

struct cfg cfg = { .reps = 7, .linux_reps = 3, .churn = 6, .exits = 4000, .density = 100,
		  .balloon_vms = 4, .exec_runs = 30,
			  .label = "", .tmp = "/tmp" };
const char *const vmm_name[VMM_N] = { "bulkhead", "QEMU" };
static struct row rows[MAX_ROWS];
static int nrows;
static int smoke_pass, smoke_fail;

struct row *row_new(const char *group, const char *name, const char *unit, bool higher)
{
	if (nrows == MAX_ROWS) {
		fprintf(stderr, "bhbench: more than %d result rows (raise MAX_ROWS)\n", MAX_ROWS);
		exit(2);
	}
	struct row *r = &rows[nrows++];
	r->group = group;
	r->name = name;
	r->unit = unit;
	r->higher_better = higher;
	return r;
}

void add(struct series *s, double v)
{
	if (s->n < MAX_SAMPLES)
		s->v[s->n++] = v;
}

void verdict(struct series *s, bool ok, const char *what, const char *errpath)
{
	if (ok) {
		smoke_pass++;
		return;
	}
	smoke_fail++;
	if (s)
		s->fails++;
	printf("# FAILED: %s\n", what);
	FILE *f = errpath ? fopen(errpath, "re") : NULL;
	if (f) {
		char line[300];
		int n = 0;
		while (fgets(line, sizeof(line), f) && n++ < 12)
			printf("#   | %s", line);
		fclose(f);
	}
	fflush(stdout);
}

/* ---------------- argv building ---------------- */
struct argv {
	char *v[64];
	int n;
	char buf[8192];
	size_t used;
};

static void __attribute__((format(printf, 2, 3))) arg(struct argv *a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int len = vsnprintf(a->buf + a->used, sizeof(a->buf) - a->used, fmt, ap);
	va_end(ap);
	if (len < 0 || (size_t)len >= sizeof(a->buf) - a->used || a->n >= 63) {
		fprintf(stderr, "bhbench: argument list too long\n");
		exit(2);
	}
	a->v[a->n++] = a->buf + a->used;
	a->v[a->n] = NULL;
	a->used += (size_t)len + 1;
}

static void vm_argv(struct argv *a, enum vmm v, const struct vmspec *s)
{
	memset(a, 0, sizeof(*a));
	if (v == VMM_BH) {
		arg(a, "%s", cfg.bulkhead);
		arg(a, "run");
		if (s->guest_dir) {
			arg(a, "--guest");
			arg(a, "%s", s->guest_dir);
		} else {
			arg(a, "--kernel");
			arg(a, "%s", s->kernel);
		}
		if (s->initrd) {
			arg(a, "--initrd");
			arg(a, "%s", s->initrd);
		}
		if (s->cmdline) {
			arg(a, "--cmdline");
			arg(a, "%s", s->cmdline);
		}
		if (s->test_device)
			arg(a, "--test-device");
		if (s->no_sandbox)
			arg(a, "--no-sandbox");
		if (s->disk) {
			arg(a, "--disk");
			arg(a, "path=%s", s->disk);
		}
		if (s->balloon)
			arg(a, "--balloon");
		if (s->balloon == 1)
			arg(a, "--no-balloon-reporting");
		arg(a, "--mem");
		arg(a, "%dM", s->mem_mib);
		arg(a, "--cpus");
		arg(a, "%d", s->cpus);
		/* A private decompression cache, filled by the warm-up run. */
		arg(a, "--kernel-cache");
		arg(a, "%s/kernel-cache", cfg.tmp);
		for (int i = 0; i < 6 && s->bh_extra[i]; i++)
			arg(a, "%s", s->bh_extra[i]);
		return;
	}
	if (s->taskset) {
		arg(a, "/usr/bin/taskset");
		arg(a, "-c");
		arg(a, "%s", s->taskset);
	}
	/* QEMU as close to bulkhead as it gets: microvm, no option ROMs, direct
	 * PVH entry, in-kernel irqchip, serial on stdout, no other devices.
	 * -arch-capabilities: PVM-backed KVM rejects that MSR (environment.md).
	 * With a disk: a PC (microvm has no PCI) and the modern-only
	 * virtio-blk-pci device bulkhead also offers; O_DIRECT (cache=none)
	 * like blk_host unless the file system refuses it (tmpfs). */
	arg(a, "%s", cfg.qemu);
	arg(a, "-M");
	arg(a, "%s", s->disk || s->balloon || s->pci ? "pc" : "microvm,x-option-roms=off,rtc=on");
	if (s->balloon) {
		arg(a, "-device");
		arg(a, "virtio-balloon-pci,disable-legacy=on,free-page-reporting=%s",
		    s->balloon == 2 ? "on" : "off");
	}
	if (s->disk) {
		arg(a, "-drive");
		arg(a, "file=%s,if=none,id=d0,format=raw,cache=%s", s->disk,
		    s->disk_direct ? "none" : "writeback");
		arg(a, "-device");
		arg(a, "virtio-blk-pci,drive=d0,disable-legacy=on");
	}
	arg(a, "-enable-kvm");
	arg(a, "-cpu");
	arg(a, "host,-arch-capabilities");
	arg(a, "-m");
	arg(a, "%d", s->mem_mib);
	arg(a, "-smp");
	arg(a, "%d", s->cpus);
	arg(a, "-nodefaults");
	arg(a, "-no-user-config");
	arg(a, "-display");
	arg(a, "none");
	arg(a, "-no-reboot");
	arg(a, "-serial");
	arg(a, "stdio");
	if (s->test_device) {
		arg(a, "-device");
		arg(a, "isa-debug-exit,iobase=0xf4,iosize=4");
	}
	for (int i = 0; i < 6 && s->qemu_extra[i]; i++)
		arg(a, "%s", s->qemu_extra[i]);
	arg(a, "-kernel");
	arg(a, "%s", s->kernel);
	if (s->initrd) {
		arg(a, "-initrd");
		arg(a, "%s", s->initrd);
	}
	if (s->cmdline) {
		arg(a, "-append");
		arg(a, "%s", s->cmdline);
	}
}

int vm_start(enum vmm v, const struct vmspec *s, struct proc *p, const char *errpath)
{
	struct argv a;

	vm_argv(&a, v, s);
	return proc_start(p, a.v, true, errpath);
}

/* What a clean finish looks like: bulkhead exits 0; QEMU's isa-debug-exit
 * turns the guest's status 0 into (0 << 1) | 1, ACPI power-off into 0. */
static int expected_exit(enum vmm v, bool test_device)
{
	return v == VMM_QEMU && test_device ? 1 : 0;
}

static bool vmm_on(int v)
{
	return v == VMM_BH ? !cfg.no_bh : cfg.qemu && !cfg.no_qemu;
}

int next_vmm(int v)
{
	do
		v++;
	while (v < VMM_N && !vmm_on(v));
	return v;
}

int first_vmm(void)
{
	return next_vmm(-1);
}

static void errpath(char *buf, size_t len, enum vmm v)
{
	snprintf(buf, len, "%s/stderr-%s.log", cfg.tmp, v == VMM_BH ? "bulkhead" : "qemu");
}

bool run_vm(enum vmm v, const struct vmspec *s, const char *const *pats, int npats,
	    int stop_at, at_stop_fn at_stop, void *at_arg, double timeout, struct run *r,
		   const char *what, struct series *fail_to)
{
	struct argv a;
	struct proc p;
	char err[512];
	char desc[256];

	snprintf(desc, sizeof(desc), "%s %s", vmm_name[v], what);
	vm_argv(&a, v, s);
	errpath(err, sizeof(err), v);
	int rc = proc_start(&p, a.v, true, err);
	if (rc < 0) {
		verdict(fail_to, false, desc, NULL);
		return false;
	}
	double deadline = p.t0 + timeout;
	double first;
	rc = proc_follow(&p, pats, npats, stop_at, deadline, &first, r->pat);
	bool ok = rc == 0;
	if (ok && stop_at >= 0) {
		ok = r->pat[stop_at] >= 0 && (!at_stop || at_stop(p.pid, at_arg));
		proc_kill(&p);
	} else {
		ok = proc_wait(&p, deadline) == 0 && ok;
		ok = ok && proc_exit_code(&p) == expected_exit(v, s->test_device);
	}
	for (int i = 0; ok && i < npats; i++)
		ok = r->pat[i] >= 0;
	proc_close(&p);
	r->t0 = p.t0;
	r->first = first >= 0 ? first - p.t0 : -1;
	r->exit = p.t_exit - p.t0;
	for (int i = 0; i < npats; i++)
		if (r->pat[i] >= 0)
			r->pat[i] -= p.t0;
	if (!ok)
		snprintf(desc + strlen(desc), sizeof(desc) - strlen(desc), " (exit code %d%s)",
			 proc_exit_code(&p), rc == -ETIMEDOUT ? ", timed out" : "");
	verdict(fail_to, ok, desc, err);
	return ok;
}

/* Warm-up runs first, then `reps` rounds; a round runs each VMM once, in
 * turn, so slow drifts of the machine hit both alike. */
int rounds(int reps)
{
	return cfg.smoke ? 1 : reps + 1;
}

bool warmup(int round)
{
	return !cfg.smoke && round == 0;
}

/* ---------------- 1. startup: startup.c ---------------- */

/* ---------------- 2. footprint ---------------- */
struct fp_arg {
	enum vmm v;
	int mem_mib;
	double mib, ram_mib;
};

static bool fp_measure(pid_t pid, void *opaque)
{
	struct fp_arg *f = opaque;
	unsigned long long total, ram;

	/* Let the VMM finish whatever it does after the guest's first output
	 * (threads, lazy allocations) before reading its smaps. */
	usleep(300 * 1000);
	if (proc_smaps_rss(pid, f->v == VMM_BH ? "memfd:bulkhead-guest-ram" : NULL,
			   (unsigned long long)f->mem_mib << 20, &total, &ram) < 0)
		return false;
	if (f->v == VMM_BH) {
		/* Sandboxed (the default), `pid` is the supervisor and the VM
		 * lives in its child: count both processes. */
		pid_t child = proc_child_of(pid);
		unsigned long long ct, cr;

		if (child > 0 && proc_smaps_rss(child, "memfd:bulkhead-guest-ram",
						(unsigned long long)f->mem_mib << 20, &ct, &cr) == 0) {
			total += ct;
			ram += cr;
		}
	}
	f->mib = (double)(total - ram) / 1024.0;
	f->ram_mib = (double)ram / 1024.0;
	return ram > 0; /* no guest-RAM mapping found: the subtraction failed */
}

static void bench_footprint(void)
{
	const int cpus[2] = { 1, 4 };
	double ram_seen[VMM_N] = { 0, 0 };

	printf("# footprint: %s mode=idle (cli; hlt), 64 MiB; /proc/PID/smaps 0.3 s after the\n"
	       "#   guest's output: sum of Rss minus the guest-RAM mapping (bulkhead: memfd:bulkhead-guest-ram,\n"
	       "#   over both of its processes: the sandbox's supervisor and the jailed VM process;\n"
	       "#   QEMU: anonymous mappings >= guest RAM size)\n", cfg.guest_elf);
	for (int c = 0; c < 2; c++) {
		struct row *r = row_new("footprint", c == 0 ? "RSS excl. guest RAM, 1 vCPU" :
							      "RSS excl. guest RAM, 4 vCPUs", "MiB", false);
		struct vmspec s = { .kernel = cfg.guest_elf, .cmdline = "mode=idle", .mem_mib = 64,
				    .cpus = cpus[c], .test_device = true };
		const char *pats[] = { "I\n" };
		for (int i = 0; i < rounds(cfg.reps > 4 ? 4 : cfg.reps); i++)
			for (int v = first_vmm(); v < VMM_N; v = next_vmm(v)) {
				struct fp_arg f = { .v = (enum vmm)v, .mem_mib = 64 };
				struct run run;
				if (!run_vm((enum vmm)v, &s, pats, 1, 0, fp_measure, &f, 30, &run,
					    "footprint", warmup(i) ? NULL : &r->s[v]) || warmup(i))
					continue;
				add(&r->s[v], f.mib);
				ram_seen[v] = f.ram_mib;
			}
		snprintf(r->note, sizeof(r->note), "guest RAM RSS subtracted: %.1f / %.1f MiB",
			 ram_seen[0], ram_seen[1]);
	}
}

/* ---------------- 3. exit cost ---------------- */
static bool kvm_min_run(const char *kind, int n, double *ns)
{
	char count[32];
	char err[512];
	char out[256];

	snprintf(count, sizeof(count), "%d", n);
	snprintf(err, sizeof(err), "%s/stderr-kvm_min.log", cfg.tmp);
	char *argv[] = { (char *)(uintptr_t)cfg.kvm_min, (char *)(uintptr_t)kind, count, NULL };
	bool ok = proc_run_capture(argv, err, 60, out, sizeof(out));
	char k[16];
	unsigned long exits;
	ok = ok && sscanf(out, "kvm_min %15s %lu %lf", k, &exits, ns) == 3;
	char what[64];
	snprintf(what, sizeof(what), "kvm_min %s %d", kind, n);
	verdict(NULL, ok, what, err);
	return ok;
}

static void bench_exits(void)
{
	const char *kinds[2] = { "pio", "mmio" };
	int n = cfg.smoke ? 50 : cfg.exits;

	printf("# exit cost: %s mode=pio|mmio n=%d: a ring-3 loop of n writes to the\n"
	       "#   unassigned port 0x2ff / address 0xd0000000, bracketed by '[' and ']' on COM1;\n"
	       "#   (time of ']' - time of '[') / n. Reference: kvm_min, a bare KVM_RUN loop\n",
	       cfg.guest_elf, n);
	for (int k = 0; k < 2; k++) {
		struct row *r = row_new("exits", k == 0 ? "PIO write exit" : "MMIO write exit", "µs", false);
		r->ref_name = "bare KVM_RUN loop (kvm_min)";
		char cmdline[64];
		snprintf(cmdline, sizeof(cmdline), "mode=%s n=%d", kinds[k], n);
		struct vmspec s = { .kernel = cfg.guest_elf, .cmdline = cmdline, .mem_mib = 64,
				    .cpus = 1, .test_device = true };
		const char *pats[] = { "[", "]" };
		for (int i = 0; i < rounds(cfg.reps > 5 ? 5 : cfg.reps); i++) {
			for (int v = first_vmm(); v < VMM_N; v = next_vmm(v)) {
				struct run run;
				if (!run_vm((enum vmm)v, &s, pats, 2, -1, NULL, NULL, 60, &run, kinds[k],
					    warmup(i) ? NULL : &r->s[v]) || warmup(i))
					continue;
				add(&r->s[v], (run.pat[1] - run.pat[0]) / n * 1e6);
			}
			double ns;
			if (kvm_min_run(kinds[k], n, &ns) && !warmup(i))
				add(&r->ref, ns / 1e3);
		}
	}
}

/* ---------------- 4. density / churn ---------------- */
static void bench_churn(void)
{
	int k = cfg.smoke ? 2 : cfg.churn;
	struct vmspec s = { .kernel = cfg.hello, .cmdline = "hello", .mem_mib = 64, .cpus = 1,
			    .test_device = true };

	printf("# churn: %d runs of %s (64 MiB, 1 vCPU) back to back, then with 2 in flight;\n"
	       "#   VMs per second = %d / wall time; every run must exit cleanly\n", k, cfg.hello, k);
	for (int par = 1; par <= 2; par++) {
		struct row *r = row_new("churn", par == 1 ? "VMs/s, sequential" : "VMs/s, 2 in parallel",
					"VMs/s", true);
		for (int i = 0; i < rounds(cfg.reps > 3 ? 3 : cfg.reps); i++)
			for (int v = first_vmm(); v < VMM_N; v = next_vmm(v)) {
				struct argv a;
				struct proc procs[2];
				int started = 0, done = 0;
				bool ok = true;
				vm_argv(&a, (enum vmm)v, &s);
				double t0 = proc_now(), deadline = t0 + 20.0 + 10.0 * k;
				memset(procs, 0, sizeof(procs));
				for (int j = 0; j < par; j++)
					procs[j].reaped = true; /* free slot */
				while (done < k && ok) {
					for (int j = 0; j < par && started < k; j++) {
						if (!procs[j].reaped)
							continue;
						if (proc_start(&procs[j], a.v, false, NULL) < 0) {
							ok = false;
							break;
						}
						started++;
					}
					int j = proc_wait_any(procs, par, deadline);
					if (j < 0) {
						ok = false;
						break;
					}
					ok = proc_exit_code(&procs[j]) == expected_exit((enum vmm)v, true);
					proc_close(&procs[j]);
					done++;
				}
				for (int j = 0; j < par; j++)
					if (!procs[j].reaped) {
						proc_kill(&procs[j]);
						proc_close(&procs[j]);
					}
				double dt = proc_now() - t0;
				char what[64];
				snprintf(what, sizeof(what), "%s churn x%d", vmm_name[v], par);
				verdict(warmup(i) ? NULL : &r->s[v], ok, what, NULL);
				printf("#   %s: %d VMs in %.2f s%s\n", what, done, dt, warmup(i) ? " (warm-up)" : "");
				if (ok && !warmup(i))
					add(&r->s[v], k / dt);
			}
	}
}

/* ---------------- 5. real Linux ---------------- */
static void bench_linux(void)
{
	char initrd[512], cmdline_path[512], cmdline[1024] = "";

	if (!cfg.linux_dir) {
		printf("# linux boot: skipped (%s)\n",
		       cfg.smoke ? "smoke mode: a boot takes seconds" : "no prepared guest: make guest");
		return;
	}
	snprintf(initrd, sizeof(initrd), "%s/initrd", cfg.linux_dir);
	snprintf(cmdline_path, sizeof(cmdline_path), "%s/cmdline", cfg.linux_dir);
	FILE *f = fopen(cmdline_path, "re");
	if (!f || !fgets(cmdline, sizeof(cmdline), f)) {
		printf("# linux boot: skipped (cannot read %s)\n", cmdline_path);
		if (f)
			fclose(f);
		return;
	}
	fclose(f);
	cmdline[strcspn(cmdline, "\n")] = 0;

	struct row *boot = row_new("linux", "Linux: exec → guest power-off", "s", false);
	struct row *init = row_new("linux", "Linux: exec → init's first line", "s", false);
	const char *pats[] = { "BULKHEAD-GUEST-READY", "BULKHEAD-GUEST-DONE" };
	printf("# linux boot: %s (cmdline \"%s\"), 256 MiB, 2 vCPUs; bulkhead --guest DIR,\n"
	       "#   QEMU microvm PVH entry of the same kernel as vmlinux (%s); fork → exit after\n"
	       "#   init's ACPI power-off, and fork → init's first line\n",
	       cfg.linux_dir, cmdline, cfg.qemu_kernel ? cfg.qemu_kernel : "none: QEMU skipped");
	for (int i = 0; i < rounds(cfg.linux_reps); i++)
		for (int v = first_vmm(); v < VMM_N; v = next_vmm(v)) {
			struct vmspec s = { .mem_mib = 256, .cpus = 2 };
			if (v == VMM_BH) {
				s.guest_dir = cfg.linux_dir;
			} else {
				if (!cfg.qemu_kernel)
					continue;
				s.kernel = cfg.qemu_kernel;
				s.initrd = initrd;
				s.cmdline = cmdline;
			}
			struct run r;
			if (!run_vm((enum vmm)v, &s, pats, 2, -1, NULL, NULL, 240, &r, "linux boot",
				    warmup(i) ? NULL : &boot->s[v]) || warmup(i))
				continue;
			add(&boot->s[v], r.exit);
			add(&init->s[v], r.pat[0]);
			printf("#   %s: init %.2f s, off %.2f s\n", vmm_name[v], r.pat[0], r.exit);
			fflush(stdout);
		}
}

/* ---------------- report ---------------- */
static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

struct stat3 {
	double med, min, max;
	bool ok;
};

static struct stat3 stats(const struct series *s)
{
	struct stat3 st = { 0, 0, 0, s->n > 0 };
	double v[MAX_SAMPLES];
	if (!s->n)
		return st;
	memcpy(v, s->v, sizeof(double) * (size_t)s->n);
	qsort(v, (size_t)s->n, sizeof(double), cmp_double);
	st.med = s->n % 2 ? v[s->n / 2] : (v[s->n / 2 - 1] + v[s->n / 2]) / 2;
	st.min = v[0];
	st.max = v[s->n - 1];
	return st;
}

static const char *fmt_num(char *buf, size_t len, double x)
{
	if (x >= 100)
		snprintf(buf, len, "%.0f", x);
	else if (x >= 10)
		snprintf(buf, len, "%.1f", x);
	else
		snprintf(buf, len, "%.2f", x);
	return buf;
}

static const char *cell(char *buf, size_t len, const struct series *s)
{
	struct stat3 st = stats(s);
	char a[32], b[32], c[32];
	if (!st.ok)
		snprintf(buf, len, s->fails ? "failed (%d)" : "n/a", s->fails);
	else
		snprintf(buf, len, "%s (%s–%s)%s", fmt_num(a, sizeof(a), st.med),
			 fmt_num(b, sizeof(b), st.min), fmt_num(c, sizeof(c), st.max),
			 s->fails ? " ⚠" : "");
	return buf;
}

static void caption(void)
{
	printf("Benchmarks — %s. Median (min–max) of %d runs after a warm-up (Linux boot: %d runs; footprint: %d; exit cost: %d; churn: %d).\n",
	       cfg.label[0] ? cfg.label : "this machine", cfg.reps, cfg.linux_reps,
	       cfg.reps > 4 ? 4 : cfg.reps, cfg.reps > 5 ? 5 : cfg.reps, cfg.reps > 3 ? 3 : cfg.reps);
}

static void row_line(const struct row *r)
{
	char b[96], q[96], ratio[48] = "–", note[300];
	struct stat3 sb = stats(&r->s[VMM_BH]), sq = stats(&r->s[VMM_QEMU]);
	if (sb.ok && sq.ok && sq.med > 0)
		snprintf(ratio, sizeof(ratio), "%.2f×", sb.med / sq.med);
	snprintf(note, sizeof(note), "%s%s%s", r->higher_better ? "higher is better" : "lower is better",
		 r->note[0] ? "; " : "", r->note);
	if (r->ref.n) {
		char rc[96];
		snprintf(note + strlen(note), sizeof(note) - strlen(note), "; %s: %s %s",
			 r->ref_name ? r->ref_name : "reference", cell(rc, sizeof(rc), &r->ref), r->unit);
	}
	printf("| %s | %s | %s | %s | %s | %s |\n", r->name, r->unit,
	       vmm_on(VMM_BH) ? cell(b, sizeof(b), &r->s[VMM_BH]) : "not run",
	       vmm_on(VMM_QEMU) ? cell(q, sizeof(q), &r->s[VMM_QEMU]) : "not run", ratio, note);
}

static const char table_head[] = "| benchmark | unit | bulkhead | QEMU microvm | bulkhead/QEMU | notes |\n"
				 "|---|---|---|---|---|---|\n";

void report_rows(const char *group)
{
	if (cfg.smoke)
		return;
	flockfile(stdout); /* the heartbeat thread must not split a line */
	for (int i = 0; i < nrows; i++) {
		if (strcmp(rows[i].group, group) || rows[i].reported)
			continue;
		printf("BHBENCH-ROW\t");
		row_line(&rows[i]);
	}
	for (int i = 0; i < nrows; i++) {
		if (strcmp(rows[i].group, group) || rows[i].reported)
			continue;
		struct stat3 sb = stats(&rows[i].s[VMM_BH]), sq = stats(&rows[i].s[VMM_QEMU]);
		printf("BHBENCH-DATA\t%s\t\"%s (%s)\"\t%g\t%g\t%g\t%g\t%g\t%g\n", rows[i].group,
		       rows[i].name, rows[i].unit, sb.med, sb.min, sb.max, sq.med, sq.min, sq.max);
		rows[i].reported = true;
	}
	fflush(stdout);
	funlockfile(stdout);
}

/* A group has finished: its rows and plot data now, so that a later freeze
 * of the machine cannot take them along. */
static void report_group(const char *group)
{
	report_rows(group);
	printf("BHBENCH-GROUP-DONE %s\n", group);
	fflush(stdout);
}

static void report(void)
{
	flockfile(stdout);
	printf("BHBENCH-TABLE-BEGIN\n");
	caption();
	printf("\n%s", table_head);
	for (int i = 0; i < nrows; i++)
		row_line(&rows[i]);
	printf("BHBENCH-TABLE-END\n");
	fflush(stdout);
	funlockfile(stdout);
}

/* ---------------- heartbeat ---------------- */
/* In the nested host a frozen L1 is only recognisable by silence on its
 * console (tests/e2e/kvmhost/run.sh --idle-timeout): no stretch without
 * output may last longer than this, however long one VM run takes. */
#define HEARTBEAT_S 30

static const char *volatile cur_group = "setup";
static volatile double group_t0;

static void *heartbeat(void *unused)
{
	(void)unused;
	for (;;) {
		sleep(HEARTBEAT_S);
		printf("# ... %s: still running, %.0f s into the group\n", cur_group,
		       proc_now() - group_t0);
		fflush(stdout);
	}
	return NULL;
}

/* ---------------- main ---------------- */
static int usage(void)
{
	fprintf(stderr, "usage: bhbench --bulkhead PATH --guest-elf PATH --hello PATH --kvm-min PATH\n"
			"               [--qemu PATH] [--linux DIR --qemu-kernel PATH] [--tmp DIR]\n"
			"               [--blk-guest PATH --blk-host PATH]\n"
			"               [--balloon-initrd PATH] [--balloon-vms N]\n"
			"               [--net-guest PATH [--net-check PATH]]\n"
			"               [--exec-guest DIR --exec-rootfs IMAGE [--exec-runs N]]\n"
			"               [--reps N] [--linux-reps N] [--churn N] [--exits N]\n"
			"               [--label TEXT] [--only GROUPS] [--vmm bulkhead|qemu] [--smoke]\n");
	return 2;
}

/* --only startup,exits,...: run just those groups (for debugging). */
static bool wanted(const char *group)
{
	if (!cfg.only)
		return true;
	size_t n = strlen(group);
	for (const char *p = cfg.only; (p = strstr(p, group)); p += n)
		if ((p == cfg.only || p[-1] == ',') && (p[n] == 0 || p[n] == ','))
			return true;
	return false;
}

static int num(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*end || v < 1 || v > MAX_SAMPLES * 1000) {
		fprintf(stderr, "bhbench: bad number '%s'\n", s);
		exit(2);
	}
	return (int)v;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(o, "--smoke")) {
			cfg.smoke = true;
			continue;
		}
		if (!val)
			return usage();
		i++;
		if (!strcmp(o, "--bulkhead"))
			cfg.bulkhead = val;
		else if (!strcmp(o, "--qemu"))
			cfg.qemu = val;
		else if (!strcmp(o, "--guest-elf"))
			cfg.guest_elf = val;
		else if (!strcmp(o, "--hello"))
			cfg.hello = val;
		else if (!strcmp(o, "--kvm-min"))
			cfg.kvm_min = val;
		else if (!strcmp(o, "--linux"))
			cfg.linux_dir = val;
		else if (!strcmp(o, "--qemu-kernel"))
			cfg.qemu_kernel = val;
		else if (!strcmp(o, "--blk-guest"))
			cfg.blk_guest = val;
		else if (!strcmp(o, "--blk-host"))
			cfg.blk_host = val;
		else if (!strcmp(o, "--tmp"))
			cfg.tmp = val;
		else if (!strcmp(o, "--only"))
			cfg.only = val;
		else if (!strcmp(o, "--vmm") && !strcmp(val, "bulkhead"))
			cfg.no_qemu = true;
		else if (!strcmp(o, "--vmm") && !strcmp(val, "qemu"))
			cfg.no_bh = true;
		else if (!strcmp(o, "--vmm") && !strcmp(val, "both"))
			cfg.no_bh = cfg.no_qemu = false;
		else if (!strcmp(o, "--label"))
			cfg.label = val;
		else if (!strcmp(o, "--reps"))
			cfg.reps = num(val);
		else if (!strcmp(o, "--linux-reps"))
			cfg.linux_reps = num(val);
		else if (!strcmp(o, "--churn"))
			cfg.churn = num(val);
		else if (!strcmp(o, "--exits"))
			cfg.exits = num(val);
		else if (!strcmp(o, "--density"))
			cfg.density = num(val);
		else if (!strcmp(o, "--balloon-initrd"))
			cfg.balloon_initrd = val;
		else if (!strcmp(o, "--net-guest"))
			cfg.net_guest = val;
		else if (!strcmp(o, "--net-check"))
			cfg.net_check = val;
		else if (!strcmp(o, "--exec-guest"))
			cfg.exec_guest = val;
		else if (!strcmp(o, "--exec-rootfs"))
			cfg.exec_rootfs = val;
		else if (!strcmp(o, "--exec-runs"))
			cfg.exec_runs = num(val);
		else if (!strcmp(o, "--balloon-vms"))
			cfg.balloon_vms = num(val);
		else
			return usage();
	}
	if (!cfg.bulkhead || !cfg.guest_elf || !cfg.hello || !cfg.kvm_min)
		return usage();
	if (cfg.reps > MAX_SAMPLES - 1 || cfg.linux_reps > MAX_SAMPLES - 1 ||
	    cfg.exec_runs > MAX_SAMPLES - 1)
		return usage();
	char kc[512];
	snprintf(kc, sizeof(kc), "%s/kernel-cache", cfg.tmp);
	mkdir(kc, 0700);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (cfg.no_bh && !cfg.qemu) {
		fprintf(stderr, "bhbench: --vmm qemu without --qemu PATH\n");
		return 2;
	}

	static const struct {
		const char *name;
		void (*fn)(void);
	} groups[] = {
		/* churn last: see the header */
		{ "startup", bench_startup }, { "footprint", bench_footprint },
		{ "exits", bench_exits },     { "linux", bench_linux },
		{ "blk", bench_blk },         { "density", bench_density },
		{ "balloon", bench_balloon }, { "net", bench_net },
		{ "place", bench_place },     { "snapshot", bench_snapshot },
		{ "exec", bench_exec },       { "churn", bench_churn },
	};
	const int ngroups = (int)(sizeof(groups) / sizeof(groups[0]));

	printf("BHBENCH-PLAN");
	for (int g = 0; g < ngroups; g++)
		if (wanted(groups[g].name))
			printf(" %s", groups[g].name);
	printf("\nBHBENCH-HEADER\t");
	caption();
	fflush(stdout);

	double t0 = proc_now();
	group_t0 = t0;
	pthread_t hb;
	if (pthread_create(&hb, NULL, heartbeat, NULL) == 0)
		pthread_detach(hb);
	else
		printf("# warning: no heartbeat thread: long runs print nothing for a while\n");
	for (int g = 0; g < ngroups; g++) {
		if (!wanted(groups[g].name))
			continue;
		group_t0 = proc_now();
		cur_group = groups[g].name;
		printf("BHBENCH-GROUP-START %s\n", groups[g].name);
		fflush(stdout);
		groups[g].fn();
		printf("# %s: done in %.1f s\n", groups[g].name, proc_now() - group_t0);
		if (!cfg.smoke)
			report_group(groups[g].name);
	}
	cur_group = "end";
	printf("# driver wall time: %.1f s\n", proc_now() - t0);

	if (cfg.smoke) {
		printf("BHBENCH-SMOKE: %d passed, %d failed\n", smoke_pass, smoke_fail);
		fflush(stdout);
		return smoke_fail ? 1 : 0;
	}
	report();
	for (int i = 0; i < nrows; i++)
		if (!rows[i].s[first_vmm()].n && !rows[i].optional)
			return 1;
	return 0;
}
