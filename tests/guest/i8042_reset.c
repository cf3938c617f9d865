/* i8042_reset.c — reboots through the keyboard controller (0xfe to port 0x64,
 * "pulse reset line"), the way Linux's reboot=k does. The host treats a reset
 * as a clean stop (exit 0). If we are still running about a second later, the
 * reset was ignored: exit 5. */
#include "rt/rt.h"

int guest_main(void)
{
	rt_puts("resetting via i8042\n");
	/* Like Linux's kb_wait(): bounded wait for an empty input buffer. */
	for (int i = 0; i < 1000 && (inb(0x64) & 0x02); i++)
		cpu_relax();
	outb(0xfe, 0x64);
	/* A VMM may let a few instructions run before it stops the vCPU. */
	rt_delay_cycles(3000000000ULL);
	rt_printf("FAIL i8042_reset: still running after the reset request\n");
	return 5;
}
