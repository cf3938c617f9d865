/* ap.c — starting the application processors: copy the real-mode trampoline
 * below 1 MiB and send INIT-SIPI-SIPI to all-excluding-self through the xAPIC.
 * Ring 0 only (MSR and APIC MMIO). */

#include "rt.h"

#define MSR_APIC_BASE 0x1b
#define APIC_BASE_ENABLE (1u << 11)
#define APIC_SVR 0x0f0
#define APIC_ICR_LO 0x300
#define APIC_ICR_HI 0x310
#define ICR_INIT 0x00000500u
#define ICR_STARTUP 0x00000600u
#define ICR_BUSY 0x00001000u
#define ICR_ASSERT 0x00004000u
#define ICR_ALL_BUT_SELF 0x000c0000u

extern const char rt_ap_tramp_start[], rt_ap_tramp_end[];

static uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}

static void icr_send(uint64_t apic, uint32_t lo)
{
	mmio_write32(apic + APIC_ICR_HI, 0); /* destination unused with a shorthand */
	mmio_write32(apic + APIC_ICR_LO, lo);
	/* Bounded wait for delivery; KVM's in-kernel APIC never shows busy. */
	for (unsigned i = 0; i < 1000 && (mmio_read32(apic + APIC_ICR_LO) & ICR_BUSY); i++)
		cpu_relax();
}

void rt_start_aps(void)
{
	(void)rt_cmdline(); /* cache it before low memory is reused */
	memcpy((void *)RT_AP_TRAMPOLINE, rt_ap_tramp_start,
	       (size_t)(rt_ap_tramp_end - rt_ap_tramp_start));

	/* The APIC base normally is 0xfee00000; trust the MSR (it is inside our
	 * uncached top GiB as long as it stays below 4 GiB). */
	uint64_t apic = rdmsr(MSR_APIC_BASE) & 0xfffff000ULL;
	mmio_write32(apic + APIC_SVR, mmio_read32(apic + APIC_SVR) | 0x100); /* software-enable */

	/* Timings from the MP spec (10 ms, 200 us), at an assumed ~3 GHz TSC;
	 * virtual CPUs do not need them, real ones would. */
	icr_send(apic, ICR_ALL_BUT_SELF | ICR_ASSERT | ICR_INIT);
	rt_delay_cycles(30000000);
	for (int i = 0; i < 2; i++) {
		icr_send(apic, ICR_ALL_BUT_SELF | ICR_ASSERT | ICR_STARTUP | (RT_AP_TRAMPOLINE >> 12));
		rt_delay_cycles(600000);
	}
}

__attribute__((weak)) void guest_ap_main(unsigned idx)
{
	(void)idx;
}

void rt_ap_main(unsigned idx);
void rt_ap_main(unsigned idx)
{
	guest_ap_main(idx);
}
