/* balloon.c — host memory of idle Linux guests after they freed memory, with
 * and without free page reporting (issue 17, item 4 of its bench rows).
 *
 * N guests (the prepared stock-kernel guest, 512 MiB, 1 vCPU each) run the
 * /cmd of --balloon-initrd (bench/run.sh builds it: fill 192 MiB of tmpfs,
 * remove it, print BALLOON-FREED, sleep). All N are started one after
 * another, each waiting for its BALLOON-FREED; 20 s later the resident memory
 * of each VM's process (bulkhead: the jailed VM process, the supervisor's
 * child; QEMU: its process) is summed from smaps and divided by N. Each VMM
 * runs with a balloon device both ways: bulkhead --balloon with and without
 * --no-balloon-reporting, QEMU virtio-balloon-pci free-page-reporting=on and
 * off (a PC machine: microvm has no PCI). Without reporting the freed memory
 * stays with the VM process; with it, the guest's freed blocks go back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bhbench.h"

#define BALLOON_MAX 16

static bool balloon_round(enum vmm v, bool reporting, int n, const char *cmdline,
			  double *mib_per_vm)
{
	static struct proc procs[BALLOON_MAX];
	struct vmspec s = { .mem_mib = 512, .cpus = 1, .initrd = cfg.balloon_initrd,
			    .balloon = reporting ? 2 : 1 };
	const char *pats[] = { "BALLOON-FREED" };
	char err[512], what[128];
	unsigned long long sum_kb = 0;
	int started = 0;
	bool ok = true;

	if (v == VMM_BH) {
		s.guest_dir = cfg.linux_dir;
	} else {
		s.kernel = cfg.qemu_kernel;
		s.cmdline = cmdline;
	}
	snprintf(err, sizeof(err), "%s/stderr-balloon-%s.log", cfg.tmp, vmm_name[v]);
	for (int i = 0; i < n && ok; i++) {
		double first, pat[PROC_MAX_WATCH];

		if (vm_start(v, &s, &procs[i], err) < 0) {
			ok = false;
			break;
		}
		started++;
		ok = proc_follow(&procs[i], pats, 1, 0, proc_now() + 240, &first, pat) == 0 &&
		     pat[0] >= 0;
	}
	if (ok) {
		sleep(20);
		for (int i = 0; i < n && ok; i++) {
			pid_t pid = procs[i].pid;
			unsigned long long total = 0, ram = 0;

			if (v == VMM_BH && (pid = proc_child_of(procs[i].pid)) < 0)
				pid = procs[i].pid; /* --no-sandbox: no child */
			ok = proc_smaps_rss(pid, NULL, 0, &total, &ram) == 0;
			sum_kb += total;
		}
	}
	for (int i = 0; i < started; i++) {
		proc_kill(&procs[i]);
		proc_close(&procs[i]);
	}
	snprintf(what, sizeof(what), "%s balloon: %d idle Linux guests, reporting %s", vmm_name[v],
		 n, reporting ? "on" : "off");
	verdict(NULL, ok, what, err);
	if (ok)
		*mib_per_vm = (double)sum_kb / 1024.0 / n;
	return ok;
}

void bench_balloon(void)
{
	int n = cfg.balloon_vms;
	char path[512], cmdline[1024] = "";
	struct row *on, *off;
	FILE *f;

	if (cfg.smoke || !cfg.linux_dir || !cfg.balloon_initrd) {
		printf("# balloon: skipped (%s)\n", cfg.smoke ? "smoke mode: Linux boots take seconds"
				 : "no prepared guest (make guest) or no --balloon-initrd");
		return;
	}
	if (n < 1 || n > BALLOON_MAX) {
		printf("# balloon: N=%d outside 1..%d, skipped\n", n, BALLOON_MAX);
		return;
	}
	snprintf(path, sizeof(path), "%s/cmdline", cfg.linux_dir);
	f = fopen(path, "re");
	if (!f || !fgets(cmdline, sizeof(cmdline), f)) {
		printf("# balloon: skipped (cannot read %s)\n", path);
		if (f)
			fclose(f);
		return;
	}
	fclose(f);
	cmdline[strcspn(cmdline, "\n")] = 0;
	printf("# balloon: %d idle Linux guests (%s, 512 MiB, 1 vCPU) that filled and freed\n"
	       "#   192 MiB of tmpfs; host memory = VM processes' RSS (smaps) / N, 20 s after the\n"
	       "#   last freed; bulkhead --balloon [--no-balloon-reporting], QEMU (PC machine)\n"
	       "#   virtio-balloon-pci free-page-reporting=on|off (%s)\n",
	       n, cfg.linux_dir, cfg.qemu_kernel ? cfg.qemu_kernel : "no vmlinux: QEMU skipped");
	on = row_new("balloon", "idle Linux after freeing 192 MiB, free page reporting on: RSS per VM",
		     "MiB", false);
	off = row_new("balloon", "the same, free page reporting off: RSS per VM", "MiB", false);
	for (int v = first_vmm(); v < VMM_N; v = next_vmm(v)) {
		double mib;

		if (v == VMM_QEMU && !cfg.qemu_kernel)
			continue;
		if (balloon_round((enum vmm)v, true, n, cmdline, &mib)) {
			add(&on->s[v], mib);
			printf("#   %s, reporting on: %.0f MiB per VM\n", vmm_name[v], mib);
		}
		if (balloon_round((enum vmm)v, false, n, cmdline, &mib)) {
			add(&off->s[v], mib);
			printf("#   %s, reporting off: %.0f MiB per VM\n", vmm_name[v], mib);
		}
	}
	snprintf(on->note, sizeof(on->note), "%d VMs at once, one round", n);
}
