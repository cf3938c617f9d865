/* beyond_ram.c — guest-physical addresses past the end of RAM but below the
 * 3 GiB MMIO hole are neither RAM nor a device: reads return 0 and writes are
 * dropped. Also writes a pattern over the last RAM page (from the firmware
 * memory map: zero-page e820 or PVH memmap) and reads it back, and does one
 * 8-byte access straddling the end of RAM (the RAM half must behave as RAM,
 * the other half as nothing). Memory map in ring 0, accesses in ring 3. */
#include "rt/rt.h"

#define NAME "beyond_ram"
#define HOLE_START 0xc0000000ULL

extern char _end[]; /* guest.ld: end of our image */

static uint64_t ram_end;
static unsigned failures;
static uint8_t user_stack[16384] __attribute__((aligned(16)));

static void bad(const char *what, uint64_t where, uint64_t got, uint64_t want)
{
	if (failures++ < 20)
		rt_printf("  bad %s at %lx: got %lx, want %lx\n", what, where, got, want);
}

static void probe_nothing(uint64_t a)
{
	uint64_t v;
	if ((v = mmio_read64(a)) != 0)
		bad("read64", a, v, 0);
	if ((v = mmio_read8(a + 9)) != 0)
		bad("read8", a + 9, v, 0);
	mmio_write64(a, 0x5555aaaa5555aaaaULL);
	mmio_write32(a + 8, 0x77777777u);
	if ((v = mmio_read64(a)) != 0)
		bad("read64 after write", a, v, 0);
	if ((v = mmio_read32(a + 8)) != 0)
		bad("read32 after write", a + 8, v, 0);
	rt_printf("beyond_ram: probed %lx\n", a);
}

static void user_main(void)
{
	/* The last RAM page: every qword gets its own address-derived value. */
	uint64_t page = ram_end - 4096;
	volatile uint64_t *q = (volatile uint64_t *)page;
	for (unsigned i = 0; i < 512; i++)
		q[i] = (page + 8 * i) ^ 0xa5a5a5a55a5a5a5aULL;
	for (unsigned i = 0; i < 512; i++)
		if (q[i] != ((page + 8 * i) ^ 0xa5a5a5a55a5a5a5aULL))
			bad("last RAM page", page + 8 * i, q[i], (page + 8 * i) ^ 0xa5a5a5a55a5a5a5aULL);

	/* Straddling the end of RAM: low half lands in RAM, high half nowhere. */
	uint64_t s = ram_end - 4;
	mmio_write64(s, 0x1122334455667788ULL);
	uint64_t v = mmio_read64(s);
	if (v != 0x55667788ULL)
		bad("read64 straddling end of RAM", s, v, 0x55667788ULL);

	probe_nothing(ram_end);
	if (ram_end < 0x80000000ULL)
		probe_nothing(0x80000000ULL); /* 2 GiB */
	probe_nothing(HOLE_START - 4096);    /* last page below the hole */

	if (failures)
		rt_fail(NAME, "%u accesses misbehaved", failures);
	rt_pass(NAME);
}

int guest_main(void)
{
	struct rt_mem_region r[32];
	int n = rt_mem_map(r, 32);
	for (int i = 0; i < n; i++) {
		rt_printf("e820: %lx-%lx type %u\n", r[i].addr, r[i].addr + r[i].size - 1, r[i].type);
		uint64_t end = r[i].addr + r[i].size;
		if (r[i].type == 1 && end <= HOLE_START && end > ram_end)
			ram_end = end;
	}
	if (!n)
		rt_fail(NAME, "no memory map from the %s entry", rt_boot_kind == RT_BOOT_PVH ? "pvh" : "linux64");
	ram_end &= ~0xfffULL;
	rt_printf("beyond_ram: RAM below the hole ends at %lx\n", ram_end);
	if (ram_end - 4096 < (uint64_t)(uintptr_t)_end)
		rt_fail(NAME, "RAM ends inside the guest image");
	if (ram_end > HOLE_START - 2 * 4096)
		rt_fail(NAME, "no gap between RAM and the 3 GiB hole: boot with less memory (e.g. --mem 64)");
	rt_enter_user(user_main, user_stack + sizeof(user_stack));
}
