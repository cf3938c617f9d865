/* place.c — the CPU and memory placement group (issue 17), bulkhead next to
 * QEMU with the same settings where QEMU has them:
 *   - boot time (exec → first guest output, 256 MiB) with the default RAM,
 *     --mem-prealloc, --hugepages 2M and both (QEMU: -mem-prealloc and a
 *     memory-backend-memfd with hugetlb=on,hugetlbsize=2M[,prealloc=on]);
 *   - a pinned VM's timer-loop lateness (p50/p99; bench_guest mode=tloop) on
 *     host CPU LAST, alone, with a neighbour VM spinning on the same CPU
 *     (shared), and dedicated (--cpu-dedicated on LAST, the neighbour on the
 *     other CPUs: what bulkheadd's allocator does to every other VM). QEMU
 *     7.2 has no per-vCPU pinning: its whole process goes on LAST (taskset),
 *     its neighbour likewise or on the other CPUs.
 * Hugepages: as root the group reserves what it needs (nr_hugepages) and puts
 * the old count back; otherwise those rows are skipped with the reason. The
 * latency rows need 2 CPUs. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bhbench.h"

#define MEM_MIB 256
#define HP_PATH "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"
#define HP_FREE "/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages"

static long read_long(const char *path)
{
	char buf[32] = "";
	FILE *f = fopen(path, "re");
	long v = -1;

	if (f) {
		if (fgets(buf, sizeof(buf), f))
			v = atol(buf);
		fclose(f);
	}
	return v;
}

static void write_long(const char *path, long v)
{
	FILE *f = fopen(path, "we");

	if (f) {
		fprintf(f, "%ld\n", v);
		fclose(f);
	}
}

static inline uint64_t tsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/* TSC cycles per microsecond (the guest's TSC runs at the host's rate). */
static double tsc_per_us(void)
{
	struct timespec a, b, d = { 0, 200 * 1000 * 1000 };
	uint64_t t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &a);
	t0 = tsc();
	nanosleep(&d, NULL);
	t1 = tsc();
	clock_gettime(CLOCK_MONOTONIC, &b);
	return (double)(t1 - t0) /
	       ((double)(b.tv_sec - a.tv_sec) * 1e6 + (double)(b.tv_nsec - a.tv_nsec) / 1e3);
}

static void boot_rows(void)
{
	static const struct {
		const char *name;
		const char *bh[3];
		const char *q[4];
		bool huge;
	} set[] = {
		{ "default (4 KiB, on demand, THP advised)", { NULL }, { NULL }, false },
		{ "--mem-prealloc", { "--mem-prealloc", NULL }, { "-mem-prealloc", NULL }, false },
		{ "--hugepages 2M", { "--hugepages", "2M", NULL },
		  { "-object", "memory-backend-memfd,id=ram,size=256M,hugetlb=on,hugetlbsize=2M",
		    "-machine", "memory-backend=ram" }, true },
		{ "--hugepages 2M --mem-prealloc", { "--hugepages", "2M", "--mem-prealloc" },
		  { "-object",
		    "memory-backend-memfd,id=ram,size=256M,hugetlb=on,hugetlbsize=2M,prealloc=on",
		    "-machine", "memory-backend=ram" }, true },
	};
	const char *pats[] = { "S\n" };
	long need = MEM_MIB / 2, old = read_long(HP_PATH);
	bool have_huge = read_long(HP_FREE) >= need;

	if (!have_huge && old >= 0 && geteuid() == 0) {
		write_long(HP_PATH, old + need);
		have_huge = read_long(HP_FREE) >= need;
	}
	printf("# place: boot of %s mode=start with %d MiB: fork → first guest output\n",
	       cfg.guest_elf, MEM_MIB);
	for (size_t k = 0; k < sizeof(set) / sizeof(set[0]); k++) {
		char name[160];
		struct row *r;
		struct vmspec s = { .kernel = cfg.guest_elf, .cmdline = "mode=start",
				    .mem_mib = MEM_MIB, .cpus = 1, .test_device = true };

		snprintf(name, sizeof(name), "boot %d MiB, %s: exec → first guest output", MEM_MIB,
			 set[k].name);
		r = row_new("place", strdup(name), "ms", false);
		if (set[k].huge && !have_huge) {
			snprintf(r->note, sizeof(r->note),
				 "skipped: %ld free 2 MiB hugepages needed (root reserves them)", need);
			continue;
		}
		memcpy(s.bh_extra, set[k].bh, sizeof(set[k].bh));
		memcpy(s.qemu_extra, set[k].q, sizeof(set[k].q));
		for (int i = 0; i < rounds(cfg.reps); i++)
			for (int v = first_vmm(); v < VMM_N; v = next_vmm(v)) {
				struct run run;

				if (run_vm((enum vmm)v, &s, pats, 1, -1, NULL, NULL, 60, &run,
					   "place boot", warmup(i) ? NULL : &r->s[v]) &&
				    !warmup(i))
					add(&r->s[v], run.first * 1e3);
			}
		snprintf(r->note, sizeof(r->note), "same settings in QEMU (%s)",
			 set[k].q[0] ? set[k].q[0] : "defaults");
	}
	if (old >= 0 && geteuid() == 0)
		write_long(HP_PATH, old);
}

/* Read a running VM's stdout until it exits or the deadline; parse
 * "L p50 p99 max". */
static bool tloop_result(struct proc *p, double deadline, double *p50, double *p99)
{
	char buf[4096];
	size_t used = 0;
	unsigned long long a, b, c;
	char *l;

	while (proc_now() < deadline && used < sizeof(buf) - 1) {
		struct pollfd pf = { .fd = p->out, .events = POLLIN };
		ssize_t n;

		if (poll(&pf, 1, 100) <= 0)
			continue;
		n = read(p->out, buf + used, sizeof(buf) - 1 - used);
		if (n <= 0)
			break;
		used += (size_t)n;
		buf[used] = '\0';
		if ((l = strstr(buf, "L ")) && strchr(l, '\n'))
			break;
	}
	buf[used] = '\0';
	if (!(l = strstr(buf, "L ")) || sscanf(l, "L %llu %llu %llu", &a, &b, &c) != 3)
		return false;
	*p50 = (double)a;
	*p99 = (double)b;
	return true;
}

static void latency_rows(void)
{
	cpu_set_t host;
	int last = -1;
	char pin[16], rest[64] = "";
	double per_us = tsc_per_us();
	const int samples = cfg.smoke ? 100 : 500;
	char cmd[96];
	static const char *const setup[] = { "alone", "neighbour spinning, shared",
					     "neighbour spinning, dedicated" };

	if (sched_getaffinity(0, sizeof(host), &host) < 0 || CPU_COUNT(&host) < 2) {
		struct row *r = row_new("place", "timer loop (pinned VM)", "µs", false);

		snprintf(r->note, sizeof(r->note), "skipped: needs 2 host CPUs, this host has %d",
			 CPU_COUNT(&host));
		return;
	}
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &host))
			last = c;
	for (int c = 0; c < last; c++)
		if (CPU_ISSET(c, &host))
			snprintf(rest + strlen(rest), sizeof(rest) - strlen(rest), "%s%d",
				 rest[0] ? "," : "", c);
	snprintf(pin, sizeof(pin), "%d", last);
	snprintf(cmd, sizeof(cmd), "mode=tloop n=%d period=%llu", samples,
		 (unsigned long long)(per_us * 1000)); /* one deadline per ms */
	printf("# place: timer loop, %d deadlines 1 ms apart busy-waited in ring 0, lateness\n"
	       "#   p50/p99 (TSC %.0f MHz); the VM on host CPU %d, a spinning neighbour VM\n"
	       "#   (mode=spin) on CPU %d (shared) or on %s (dedicated)\n",
	       samples, per_us, last, last, rest);
	for (int k = 0; k < 3; k++) {
		char n50[128], n99[128];
		struct row *r50, *r99;

		snprintf(n50, sizeof(n50), "timer loop p50, %s", setup[k]);
		snprintf(n99, sizeof(n99), "timer loop p99, %s", setup[k]);
		r50 = row_new("place", strdup(n50), "µs", false);
		r99 = row_new("place", strdup(n99), "µs", false);
		for (int i = 0; i < rounds(cfg.reps < 5 ? cfg.reps : 5); i++)
			for (int v = first_vmm(); v < VMM_N; v = next_vmm(v)) {
				struct vmspec s = { .kernel = cfg.guest_elf, .cmdline = cmd,
						    .mem_mib = 64, .cpus = 1, .test_device = true };
				struct vmspec nb = { .kernel = cfg.guest_elf, .cmdline = "mode=spin",
						     .mem_mib = 64, .cpus = 1, .test_device = true };
				struct proc np, mp;
				bool have_nb = false, ok;
				char err[512];
				double p50, p99;

				if (v == VMM_BH) {
					s.bh_extra[0] = k == 2 ? "--cpu-dedicated" : "--cpu-affinity";
					s.bh_extra[1] = k == 2 ? "--cpu-affinity" : pin;
					s.bh_extra[2] = k == 2 ? pin : NULL;
					nb.bh_extra[0] = "--cpu-affinity";
					nb.bh_extra[1] = k == 2 ? rest : pin;
				} else {
					s.taskset = pin;
					nb.taskset = k == 2 ? rest : pin;
				}
				snprintf(err, sizeof(err), "%s/place-nb.log", cfg.tmp);
				if (k > 0) {
					if (vm_start((enum vmm)v, &nb, &np, err) < 0)
						continue;
					have_nb = true;
					usleep(300 * 1000); /* the neighbour spins */
				}
				snprintf(err, sizeof(err), "%s/place-vm.log", cfg.tmp);
				ok = vm_start((enum vmm)v, &s, &mp, err) == 0;
				if (ok) {
					ok = tloop_result(&mp, proc_now() + 60, &p50, &p99);
					proc_kill(&mp);
					proc_close(&mp);
				}
				if (have_nb) {
					proc_kill(&np);
					proc_close(&np);
				}
				verdict(warmup(i) ? NULL : &r50->s[v], ok, "place timer loop", NULL);
				if (ok && !warmup(i)) {
					add(&r50->s[v], p50 / per_us);
					add(&r99->s[v], p99 / per_us);
				}
			}
		snprintf(r50->note, sizeof(r50->note),
			 "bulkhead: %s; QEMU: taskset of the whole process",
			 k == 2 ? "--cpu-dedicated, neighbour on the other CPUs" : "--cpu-affinity");
	}
}

void bench_place(void)
{
	boot_rows();
	latency_rows();
}
