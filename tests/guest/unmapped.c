/* unmapped.c — accesses to nothing (hostile-guests.md items 1 and 2):
 *  - port reads of 1/2/4 bytes in ranges where no device lives (COM2, both ATA
 *    channels, floppy, fw_cfg unless QEMU's is there) return all-ones, and
 *    writes to them are dropped (read back still all-ones);
 *  - MMIO of 1/2/4/8 bytes in the PCI hole (0xd0000000, `mmio=` overrides),
 *    one straddling a page boundary, read 0 and writes are dropped;
 *  - 10000 port writes plus 10000 port reads in a tight loop from ring 3
 *    (IOPL=3) complete, and the reads keep returning all-ones.
 * The checks run once in ring 0 and again in ring 3; the verdict is reported
 * from ring 3. */
#include "rt/rt.h"

#define NAME "unmapped"

static unsigned failures;
static uint64_t mmio_base;
static int on_qemu; /* QEMU's fw_cfg answered: a cross-check run, not bulkhead */
static uint8_t user_stack[16384] __attribute__((aligned(16)));

static void bad(const char *what, uint64_t where, uint64_t got, uint64_t want)
{
	if (failures++ < 20) /* bounded output */
		rt_printf("  bad %s at %lx: got %lx, want %lx\n", what, where, got, want);
}

static void check_port_range(uint16_t lo, uint16_t hi)
{
	for (uint16_t p = lo; p <= hi; p++) {
		uint8_t b = inb(p);
		if (b != 0xff)
			bad("inb", p, b, 0xff);
		/* Wider reads only inside the range (0x3f7 + 1 is COM1); misaligned
		 * ones too (legal port I/O), except under QEMU (see guest_main). */
		if (p + 1 <= hi && (!(p & 1) || !on_qemu)) {
			uint16_t w = inw(p);
			if (w != 0xffff)
				bad("inw", p, w, 0xffff);
		}
		if (p + 3 <= hi && !(p & 1) && (!(p & 3) || !on_qemu)) {
			uint32_t l = inl(p);
			if (l != 0xffffffffu)
				bad("inl", p, l, 0xffffffffu);
		}
	}
	/* Writes of each width, then the range must still read all-ones (a real
	 * COM2 would echo its scratch register at 0x2ff, for instance). */
	outb(0x5a, hi);
	outw(0xa55a, lo);
	outl(0x12345678u, (uint16_t)(lo & ~3));
	if (inb(hi) != 0xff)
		bad("inb after write", hi, inb(hi), 0xff);
	if (inl(lo & ~3) != 0xffffffffu)
		bad("inl after write", lo & ~3, inl(lo & ~3), 0xffffffffu);
}

/* QEMU has its fw_cfg at 0x510; bulkhead has nothing there. Selecting the
 * signature is itself a (dropped) write on bulkhead. */
static int qemu_fwcfg_present(void)
{
	outw(0x0000, 0x510);
	return inb(0x511) == 'Q' && inb(0x511) == 'E' && inb(0x511) == 'M' && inb(0x511) == 'U';
}

static void check_mmio(uint64_t a)
{
	uint64_t v;
	if ((v = mmio_read8(a)) != 0)
		bad("mmio8", a, v, 0);
	if ((v = mmio_read16(a + 2)) != 0)
		bad("mmio16", a + 2, v, 0);
	if ((v = mmio_read32(a + 4)) != 0)
		bad("mmio32", a + 4, v, 0);
	if ((v = mmio_read64(a + 8)) != 0)
		bad("mmio64", a + 8, v, 0);
	mmio_write8(a, 0xa5);
	mmio_write16(a + 2, 0xbeef);
	mmio_write32(a + 4, 0xdeadbeef);
	mmio_write64(a + 8, 0x0123456789abcdefULL);
	if ((v = mmio_read64(a)) != 0)
		bad("mmio64 after writes", a, v, 0);
	if ((v = mmio_read64(a + 8)) != 0)
		bad("mmio64 after write", a + 8, v, 0);
	/* Straddling a page boundary: one access, two pages. */
	uint64_t s = a + 0x1000 - 4;
	mmio_write64(s, 0xffffffffffffffffULL);
	if ((v = mmio_read64(s)) != 0)
		bad("mmio64 straddling", s, v, 0);
	if ((v = mmio_read32(s + 2)) != 0)
		bad("mmio32 straddling", s + 2, v, 0);
}

static void run_checks(void)
{
	check_port_range(0x2f8, 0x2ff); /* COM2: absent */
	check_port_range(0x1f0, 0x1f7); /* primary ATA */
	check_port_range(0x170, 0x177); /* secondary ATA */
	check_port_range(0x3f0, 0x3f7); /* floppy */
	if (!on_qemu)
		check_port_range(0x510, 0x51b); /* QEMU fw_cfg (+ DMA) */
	check_mmio(mmio_base);
	check_mmio(mmio_base + 0x7ff000); /* same hole, another 2 MiB page */
}

static void user_main(void)
{
	unsigned ring0_failures = failures;
	run_checks();
	uint64_t t0 = rdtsc();
	for (uint32_t i = 0; i < 10000; i++)
		outb((uint8_t)i, 0x2ff);
	for (uint32_t i = 0; i < 10000; i++)
		if (inb(0x2ff) != 0xff)
			bad("inb in loop", 0x2ff, inb(0x2ff), 0xff);
	uint64_t dt = rdtsc() - t0;
	rt_printf("unmapped: 20000 port accesses from ring 3 in %lu Mcycles\n", dt / 1000000);
	rt_printf("unmapped: %u bad in ring 0, %u in ring 3\n", ring0_failures, failures - ring0_failures);
	if (failures)
		rt_fail(NAME, "%u accesses did not behave as unassigned", failures);
	rt_pass(NAME);
}

int guest_main(void)
{
	mmio_base = rt_param_u64("mmio=", 0xd0000000ULL) & ~0xfffULL;
	on_qemu = qemu_fwcfg_present();
	if (on_qemu) /* QEMU 7.2 returns 0 for misaligned wide reads of nothing */
		rt_puts("unmapped: QEMU fw_cfg at 0x510: not checking that range nor "
			"misaligned 2/4-byte port reads\n");
	run_checks();
	rt_enter_user(user_main, user_stack + sizeof(user_stack));
}
