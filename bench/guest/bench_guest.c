/* bench_guest.c — the freestanding guest behind bulkhead's benchmarks (built
 * with tests/guest/rt, so it boots under bulkhead and, via PVH, under QEMU).
 * `mode=` on the command line picks what it does:
 *   start   first thing in guest_main: one byte to COM1 (what the driver
 *           timestamps as "first guest output") and one to the boot-timer port
 *           0x440, then exit 0 through the test device (QEMU: isa-debug-exit).
 *   idle    print "I" and halt with interrupts off: the VMM sits idle while
 *           the driver reads its smaps; it is killed from outside.
 *   pio     in ring 3: "[" on COM1, n= writes to the unassigned port 0x2ff,
 *           "]" on COM1, exit 0. The driver times "[" → "]".
 *   mmio    same with 4-byte writes to the unassigned address 0xd0000000.
 * Why bytes straight to the THR instead of rt_putc: rt_putc polls LSR first,
 * one more exit before the byte we time. Why ring 3 for the loops: on a
 * PVM-backed /dev/kvm ring-0 code is emulated, ring 3 is native, so the loop
 * itself costs nothing next to the exits (environment.md). */
#include "rt/rt.h"

#define COM1 0x3f8
#define BOOT_TIMER_PORT 0x440
#define UNASSIGNED_PORT 0x2ff       /* COM2's last register: no device in either VMM */
#define UNASSIGNED_MMIO 0xd0000000u /* MMIO hole, nothing mapped in either VMM */

static uint64_t n_exits;
static uint8_t user_stack[8192] __attribute__((aligned(16)));

static int mode_is(const char *want)
{
	const char *m = rt_param("mode=");
	size_t n = strlen(want);

	return m && memcmp(m, want, n) == 0 && (m[n] == 0 || m[n] == ' ');
}

static void finish(void)
{
	outb(']', COM1);
	outb('\n', COM1);
	rt_exit(0);
}

static void user_pio(void)
{
	uint64_t n = *(volatile uint64_t *)&n_exits;

	outb('[', COM1);
	for (uint64_t i = 0; i < n; i++)
		outb((uint8_t)i, UNASSIGNED_PORT);
	finish();
}

static void user_mmio(void)
{
	uint64_t n = *(volatile uint64_t *)&n_exits;

	outb('[', COM1);
	for (uint64_t i = 0; i < n; i++)
		mmio_write32(UNASSIGNED_MMIO, (uint32_t)i);
	finish();
}

int guest_main(void)
{
	/* Nothing before this line but the runtime's few dozen ring-0
	 * instructions: the byte marks "the guest runs". */
	outb('S', COM1);
	outb(1, BOOT_TIMER_PORT);
	if (mode_is("start")) {
		outb('\n', COM1);
		return 0;
	}
	if (mode_is("idle")) {
		outb('I', COM1);
		outb('\n', COM1);
		for (;;)
			__asm__ volatile("cli; hlt");
	}
	n_exits = rt_param_u64("n=", 1000);
	if (mode_is("pio"))
		rt_enter_user(user_pio, user_stack + sizeof(user_stack));
	if (mode_is("mmio"))
		rt_enter_user(user_mmio, user_stack + sizeof(user_stack));
	rt_printf("bench_guest: unknown mode (cmdline: %s)\n", rt_cmdline());
	return 2;
}
