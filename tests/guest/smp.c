/* smp.c — SMP bring-up test: the BSP wakes all APs with INIT-SIPI-SIPI; every
 * CPU checks in on the test device (port 0xf0) and bumps a shared counter.
 * The BSP waits, bounded, for the counter to reach `cpus=N` from the command
 * line (default 1), then also waits a short grace period to catch extra CPUs.
 * With `busy_mcycles=K`, every CPU (the BSP too) then computes, without
 * exits, for K million TSC cycles, and the BSP waits, bounded, until all N
 * have finished: every vCPU thread of the VMM runs guest code (they all
 * start, load their filters and allocate while the guest is busy).
 * Exit 0 if exactly N CPUs arrived (and, with spin, all N finished), else 1.
 * All ring 0, kept short. */
#include "rt/rt.h"

static volatile uint32_t arrived, finished;
static uint32_t expected;
static uint64_t busy_cycles, budget;

static void check_in(unsigned idx)
{
	outl(idx, RT_PORT_CHECKIN); /* before the count, so count==N implies N check-ins */
	__atomic_fetch_add(&arrived, 1, __ATOMIC_SEQ_CST);
}

static uint64_t compute(uint64_t x)
{
	for (int i = 0; i < 64; i++)
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
	return x;
}

/* Pure computation, no exits: a busy vCPU, for busy_cycles of TSC after it
 * arrived (time-based: ring 0 is emulated on some hosts). The vCPUs overlap
 * as far as the host has CPUs; none waits for the others while computing
 * (on a host with one CPU, N spinning waiters would starve the vCPUs still
 * booting). */
static void busy(unsigned idx)
{
	uint64_t x = idx + 1, t0 = rdtsc();

	while (rdtsc() - t0 < busy_cycles)
		x = compute(x);
	__asm__ volatile("" : : "r"(x));
	__atomic_fetch_add(&finished, 1, __ATOMIC_SEQ_CST);
}

void guest_ap_main(unsigned idx)
{
	check_in(idx);
	if (busy_cycles)
		busy(idx);
}

int guest_main(void)
{
	expected = (uint32_t)rt_param_u64("cpus=", 1);
	/* ~1 s at 3 GHz; the TSC ticks in real time even where ring 0 is emulated. */
	budget = rt_param_u64("wait_mcycles=", 3000) * 1000000ULL;
	busy_cycles = rt_param_u64("busy_mcycles=", 0) * 1000000ULL;

	check_in(0);
	rt_start_aps();
	uint64_t t0 = rdtsc();
	while (arrived < expected && rdtsc() - t0 < budget)
		cpu_relax();
	uint64_t took = rdtsc() - t0;
	rt_delay_cycles(30000000); /* grace: more CPUs than expected is a failure too */
	uint32_t n = arrived;
	rt_printf("smp: %u of %u CPUs checked in (%lu Mcycles)\n", n, expected, took / 1000000);
	if (n != expected)
		rt_fail("smp", "%u CPUs arrived, expected %u", n, expected);
	if (busy_cycles) {
		busy(0);
		t0 = rdtsc();
		while (finished < n && rdtsc() - t0 < budget)
			cpu_relax();
		rt_printf("smp: %u of %u CPUs finished computing\n", finished, n);
		if (finished != n)
			rt_fail("smp", "%u of %u CPUs finished computing", finished, n);
	}
	rt_pass("smp");
}
