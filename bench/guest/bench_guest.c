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
 *   tloop   a timer loop in ring 0: n= deadlines period= TSC cycles apart,
 *           busy-waiting for each; prints "L p50 p99 max" of how late each
 *           deadline was seen (TSC cycles; the driver converts), exit 0.
 *           What a preempted vCPU shows: with a neighbour on its host CPU
 *           the lateness grows to the scheduler's time slices.
 *   spin    spin forever (the neighbour of tloop); killed from outside.
 *   snap    the snapshot group's guest: write one 8-byte word into each
 *           4 KiB page of touch= MiB of RAM from 16 MiB up (nonzero, so a
 *           snapshot's memory file must hold them), print "T", then forever
 *           a "." every tick= TSC cycles (busy-waiting in ring 0). After a
 *           restore (or QEMU's incoming migration) the first "." marks the
 *           restored guest running again: restore → first guest output is at
 *           most one tick later than its first instruction. With reread=1
 *           each "." is followed by a read of one word of every touched page
 *           and a ":", so ":.:" after a restore means the guest has read all
 *           its touched memory since (the clones' shared pages are mapped).
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

#define TLOOP_MAX 4096
static uint64_t late[TLOOP_MAX];

static int timer_loop(void)
{
	uint64_t n = rt_param_u64("n=", 1000), period = rt_param_u64("period=", 1000000);
	uint64_t deadline;

	if (n > TLOOP_MAX)
		n = TLOOP_MAX;
	deadline = rdtsc() + period;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t now;

		while ((now = rdtsc()) < deadline)
			;
		late[i] = now - deadline;
		deadline = now + period;
	}
	for (uint64_t i = 1; i < n; i++) /* insertion sort: n is small */
		for (uint64_t j = i; j > 0 && late[j - 1] > late[j]; j--) {
			uint64_t t = late[j];

			late[j] = late[j - 1];
			late[j - 1] = t;
		}
	rt_printf("L %lu %lu %lu\n", late[n / 2], late[n * 99 / 100], late[n - 1]);
	return 0;
}

/* mode=snap: see the header. Ring 0 (port output from ring 3 is refused on a
 * PVM-backed KVM); one store per page, so touching costs one fault each. */
static __attribute__((noreturn)) void snap_guest(void)
{
	uint64_t touch = rt_param_u64("touch=", 0) << 20, tick = rt_param_u64("tick=", 1000000);
	uint64_t reread = rt_param_u64("reread=", 0);
	const uint64_t base = 16ull << 20; /* clear of the kernel image and the runtime */

	for (uint64_t a = base; a < base + touch; a += 4096)
		*(volatile uint64_t *)a = a ^ 0x5a5a5a5a5a5a5a5aull;
	outb('T', COM1);
	outb('\n', COM1);
	for (;;) {
		rt_delay_cycles(tick);
		outb('.', COM1);
		if (!reread)
			continue;
		for (uint64_t a = base; a < base + touch; a += 4096)
			(void)*(volatile uint64_t *)a;
		outb(':', COM1);
	}
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
	if (mode_is("spin")) {
		outb('P', COM1);
		outb('\n', COM1);
		for (;;)
			__asm__ volatile("pause");
	}
	if (mode_is("snap"))
		snap_guest();
	if (mode_is("tloop"))
		return timer_loop();
	n_exits = rt_param_u64("n=", 1000);
	if (mode_is("pio"))
		rt_enter_user(user_pio, user_stack + sizeof(user_stack));
	if (mode_is("mmio"))
		rt_enter_user(user_mmio, user_stack + sizeof(user_stack));
	rt_printf("bench_guest: unknown mode (cmdline: %s)\n", rt_cmdline());
	return 2;
}
