/* startup.c — the startup group: exec → first guest output and exec →
 * process exit for bulkhead (sandboxed, its default) and QEMU microvm, and
 * the jail's own cost: the same guest with and without bulkhead's sandbox
 * (--no-sandbox), interleaved in the same rounds, so a regression of the
 * jail shows as a number of its own, with no peer VMM needed. */
#include <stdio.h>

#include "bhbench.h"

/* Median of a series (n > 0), for the ratio in a note. */
static double median(const struct series *s)
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

void bench_startup(void)
{
	struct row *first = row_new("startup", "exec → first guest output", "ms", false);
	struct row *exit_ = row_new("startup", "exec → process exit", "ms", false);
	struct row *jfirst = row_new("startup", "jail cost: exec → first guest output, sandboxed − --no-sandbox",
				     "ms", false);
	struct row *jexit = row_new("startup", "jail cost: exec → process exit, sandboxed − --no-sandbox",
				    "ms", false);
	struct vmspec s = { .kernel = cfg.guest_elf, .cmdline = "mode=start", .mem_mib = 64,
			    .cpus = 1, .test_device = true };
	struct vmspec bare = s;
	const char *pats[] = { "S\n" };

	bare.no_sandbox = true;
	jfirst->ref_name = "bulkhead --no-sandbox";
	jexit->ref_name = "bulkhead --no-sandbox";
	printf("# startup: %s mode=start, 64 MiB, 1 vCPU: fork → first byte of guest\n"
	       "#   COM1 output on the VMM's stdout pipe, and fork → exit (pidfd); each round\n"
	       "#   also runs bulkhead --no-sandbox right after the sandboxed run (jail cost)\n",
	       cfg.guest_elf);
	for (int i = 0; i < rounds(cfg.reps); i++)
		for (int v = first_vmm(); v < VMM_N; v = next_vmm(v)) {
			struct run r, rb;

			if (!run_vm((enum vmm)v, &s, pats, 1, -1, NULL, NULL, 30, &r, "startup",
				    warmup(i) ? NULL : &first->s[v]))
				continue;
			if (!warmup(i)) {
				add(&first->s[v], r.first * 1e3);
				add(&exit_->s[v], r.exit * 1e3);
			}
			if (v != VMM_BH ||
			    !run_vm(VMM_BH, &bare, pats, 1, -1, NULL, NULL, 30, &rb,
				    "startup --no-sandbox", warmup(i) ? NULL : &jfirst->s[VMM_BH]) ||
			    warmup(i))
				continue;
			/* Paired: the two runs are back to back in the same round. */
			add(&jfirst->s[VMM_BH], (r.first - rb.first) * 1e3);
			add(&jexit->s[VMM_BH], (r.exit - rb.exit) * 1e3);
			add(&jfirst->ref, rb.first * 1e3);
			add(&jexit->ref, rb.exit * 1e3);
		}
	snprintf(first->note, sizeof(first->note),
		 "freestanding guest writes COM1 in its first C statement");
	if (first->s[VMM_BH].n && jfirst->ref.n)
		snprintf(jfirst->note, sizeof(jfirst->note),
			 "median of per-round differences; sandboxed / --no-sandbox = %.2f×",
			 median(&first->s[VMM_BH]) / median(&jfirst->ref));
	if (exit_->s[VMM_BH].n && jexit->ref.n)
		snprintf(jexit->note, sizeof(jexit->note),
			 "median of per-round differences; sandboxed / --no-sandbox = %.2f×",
			 median(&exit_->s[VMM_BH]) / median(&jexit->ref));
}
