/* ticker.c — a guest that runs until it is stopped: prints "tick N" on COM1
 * after every `spin=` iterations of a busy loop (default 20000000), forever.
 * Used by the daemon tests (tests/e2e/daemon_kvm.sh): pause/resume and
 * quarantine must freeze the tick count, stop and kill must end it. It ignores
 * Ctrl-Alt-Del (no keyboard driver), so a graceful stop times out.
 * With "idle" on the command line it prints "ticker: idle" and halts with
 * interrupts off instead: a VM that stays up without using any CPU (several of
 * them fit on the nested test host's single vCPU).
 * With "storm" it is an exit storm (hostile-guests.md case 4): forever, a
 * port write and a port read on unassigned ports (ATA secondary, 0x170) and a
 * read and a write of an unmapped MMIO address (0xd0000000, in the PCI hole),
 * each one a VM exit, with a "storm: N exits" line every 2^14 rounds. The
 * VMM must keep this to the VM's own CPU budget (tests/e2e/kvm_tests.sh
 * measures a neighbour's latency beside it). */
#include "rt/rt.h"

int guest_main(void)
{
	uint64_t spin = rt_param_u64("spin=", 20000000);

	if (rt_param("idle")) {
		rt_puts("ticker: idle\n");
		for (;;)
			__asm__ volatile("cli; hlt" ::: "memory");
	}
	if (rt_param("storm")) {
		rt_puts("storm: start\n");
		for (uint64_t n = 1;; n++) {
			outb((uint8_t)n, 0x170);
			(void)inb(0x177);
			(void)mmio_read32(0xd0000000u);
			mmio_write32(0xd0000000u, (uint32_t)n);
			if (!(n & 0x3fff))
				rt_printf("storm: %llu exits\n", (unsigned long long)(4 * n));
		}
	}
	rt_puts("ticker: ready\n");
	for (uint64_t n = 0;; n++) {
		for (volatile uint64_t i = 0; i < spin; i++)
			;
		rt_printf("tick %llu\n", (unsigned long long)n);
	}
	return 0;
}
