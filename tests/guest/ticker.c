/* ticker.c — a guest that runs until it is stopped: prints "tick N" on COM1
 * after every `spin=` iterations of a busy loop (default 20000000), forever.
 * Used by the daemon tests (tests/e2e/daemon_kvm.sh): pause/resume and
 * quarantine must freeze the tick count, stop and kill must end it. It ignores
 * Ctrl-Alt-Del (no keyboard driver), so a graceful stop times out.
 * With "idle" on the command line it prints "ticker: idle" and halts with
 * interrupts off instead: a VM that stays up without using any CPU (several of
 * them fit on the nested test host's single vCPU). */
#include "rt/rt.h"

int guest_main(void)
{
	uint64_t spin = rt_param_u64("spin=", 20000000);

	if (rt_param("idle")) {
		rt_puts("ticker: idle\n");
		for (;;)
			__asm__ volatile("cli; hlt" ::: "memory");
	}
	rt_puts("ticker: ready\n");
	for (uint64_t n = 0;; n++) {
		for (volatile uint64_t i = 0; i < spin; i++)
			;
		rt_printf("tick %llu\n", (unsigned long long)n);
	}
	return 0;
}
