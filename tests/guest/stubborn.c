/* stubborn.c — vCPUs that ignore a stop as far as a guest can: interrupts
 * off, no exits, a tight loop on every CPU (the host's kick still forces the
 * vCPU out of the guest: a guest cannot mask it).
 *   cpus=N   start the APs (every vCPU spins); without it they are never
 *            started and sit in wait-for-SIPI
 *   reset=1  the BSP then asks for a reset through the i8042 (the VM stops
 *            by the guest's own request while the APs spin), else it spins too
 *            until the host stops the VM (SIGTERM: exit 4)
 * Ring 0. */
#include "rt/rt.h"

static volatile uint32_t arrived;

static __attribute__((noreturn)) void spin_forever(void)
{
	__asm__ volatile("cli");
	for (;;)
		__asm__ volatile("" ::: "memory");
}

void guest_ap_main(unsigned idx)
{
	(void)idx;
	__atomic_fetch_add(&arrived, 1, __ATOMIC_SEQ_CST);
	spin_forever();
}

int guest_main(void)
{
	uint32_t cpus = (uint32_t)rt_param_u64("cpus=", 1);

	if (cpus > 1) {
		rt_start_aps();
		uint64_t t0 = rdtsc();
		while (arrived + 1 < cpus && rdtsc() - t0 < 9000000000ULL)
			cpu_relax();
	}
	rt_printf("stubborn: %u CPUs spinning with interrupts off\n", arrived + 1);
	if (rt_param_u64("reset=", 0)) {
		for (int i = 0; i < 1000 && (inb(0x64) & 0x02); i++)
			cpu_relax();
		outb(0xfe, 0x64);
	}
	spin_forever();
}
