/* density.c — the density benchmark (issue 6, item 5): host memory per idle
 * VM with N VMs running at once (default 100), and how long it takes until
 * all N are up.
 *
 * Each VM runs bench_guest mode=idle (prints "I", then cli; hlt: its vCPU
 * sleeps in KVM, the VMM does nothing) with 64 MiB. The figure is the drop
 * of MemAvailable (/proc/meminfo) between before the first start and after
 * the last VM printed "I" and 1 s of settling, divided by N: everything the
 * host pays per VM — VMM processes (bulkhead: supervisor + jailed VM process),
 * the guest pages actually touched, KVM's kernel structures — with shared
 * pages (binaries, libraries) counted once, as they are. Other activity on
 * the machine moves MemAvailable too: the run is repeated and the median
 * reported. VMs are started one after another, each waiting for its "I",
 * then all are killed by PID. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bhbench.h"

#define DENSITY_MAX 256

static long long mem_available_kb(void)
{
	FILE *f = fopen("/proc/meminfo", "re");
	char line[128];
	long long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %lld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* One round for one VMM: start up to n idle VMs, measure, kill them all.
 * *up: how many were up (a VMM that cannot hold n — a start that does not
 * reach the guest within 60 s — is measured at the count it reached). */
static bool density_round(enum vmm v, int n, double *mib_per_vm, double *all_up_s, int *up)
{
	static struct proc procs[DENSITY_MAX];
	const struct vmspec s = { .kernel = cfg.guest_elf, .cmdline = "mode=idle", .mem_mib = 64,
				  .cpus = 1, .test_device = true };
	const char *pats[] = { "I\n" };
	char err[512];
	int started = 0;
	bool ok = true;
	long long before, after = -1;
	double t0;

	snprintf(err, sizeof(err), "%s/stderr-density-%s.log", cfg.tmp, vmm_name[v]);
	sync();
	before = mem_available_kb();
	t0 = proc_now();
	*up = 0;
	for (int i = 0; i < n && ok; i++) {
		double first, pat[PROC_MAX_WATCH];

		if (vm_start(v, &s, &procs[i], err) < 0) {
			ok = false;
			break;
		}
		started++;
		ok = proc_follow(&procs[i], pats, 1, 0, proc_now() + 60, &first, pat) == 0 &&
		     pat[0] >= 0;
		if (ok)
			*up = i + 1;
		if (i % 20 == 19)
			printf("# density: %s: %d VMs up\n", vmm_name[v], i + 1);
	}
	*all_up_s = proc_now() - t0;
	if (!ok && *up > 0) {
		printf("# density: %s: VM %d did not come up within 60 s; measuring the %d that "
		       "did\n", vmm_name[v], *up + 1, *up);
		proc_kill(&procs[*up]); /* the one that did not make it */
	}
	if (*up > 0) {
		sleep(1);
		after = mem_available_kb();
		*mib_per_vm = (double)(before - after) / 1024.0 / *up;
		ok = ok && before > 0 && after > 0;
	}
	for (int i = 0; i < started; i++) {
		proc_kill(&procs[i]);
		proc_close(&procs[i]);
	}
	char what[96];
	snprintf(what, sizeof(what), "%s density: %d concurrent idle VMs (%d up)", vmm_name[v], n,
		 *up);
	verdict(NULL, ok, what, err);
	return *up > 0 && before > 0 && after > 0;
}

void bench_density(void)
{
	int n = cfg.smoke ? 3 : cfg.density;
	struct row *mem, *up;

	if (n < 1 || n > DENSITY_MAX) {
		printf("# density: N=%d outside 1..%d, skipped\n", n, DENSITY_MAX);
		return;
	}
	printf("# density: %d concurrent %s mode=idle VMs (64 MiB, 1 vCPU each), started one\n"
	       "#   after another; host memory = drop of MemAvailable / N after all are idle\n",
	       n, cfg.guest_elf);
	mem = row_new("density", "host memory per idle VM", "MiB", false);
	up = row_new("density", "time until all are idle", "s", false);
	snprintf(up->note, sizeof(up->note), "%d VMs started one after another", n);
	int most[VMM_N] = { 0, 0 };

	for (int i = 0; i < (cfg.smoke ? 1 : 2); i++)
		for (int v = first_vmm(); v < VMM_N; v = next_vmm(v)) {
			double mib = 0, secs = 0;
			int got = 0;

			if (!density_round((enum vmm)v, n, &mib, &secs, &got))
				continue;
			if (got > most[v])
				most[v] = got;
			add(&mem->s[v], mib);
			if (got == n)
				add(&up->s[v], secs);
		}
	snprintf(mem->note, sizeof(mem->note),
		 "MemAvailable drop / VMs up; VMs up at most: bulkhead %d/%d, QEMU %d/%d (a start "
		 "that does not reach the guest in 60 s ends the round)",
		 most[VMM_BH], n, most[VMM_QEMU], n);
}
