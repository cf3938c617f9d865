/* cpuid.c — see cpuid.h. */
#include "cpuid.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

/* Masks: bits cleared by the `baseline` template. The baseline is roughly
 * x86-64-v3 without the features that break migration between CPU
 * generations, leak host details, or are not safe to expose to a guest we do
 * not trust: TSX, SGX, PT, PKU, AVX-512, AMX, LA57, WAITPKG, MONITOR, VMX/SVM,
 * performance-monitoring, and the KVM steal-time/PV features that need host
 * cooperation we do not provide. */
struct cpuid_mask {
	uint32_t function, index;
	uint32_t eax, ebx, ecx, edx; /* bits to clear */
};

#define BIT(n) (1u << (n))

static const struct cpuid_mask baseline_masks[] = {
	/* leaf 1 ECX: monitor(3) vmx(5) smx(6) est(7) tm2(8) sdbg(11) pdcm(15) dca(18);
	 * EDX: acpi(22) tm(29) pbe(31) */
	{ 1, 0, 0, 0, BIT(3) | BIT(5) | BIT(6) | BIT(7) | BIT(8) | BIT(11) | BIT(15) | BIT(18),
	  BIT(22) | BIT(29) | BIT(31) },
	/* leaf 7.0 EBX: sgx(2) hle(4) rtm(11) pqm(12) mpx(14) pqe(15) avx512*(16,17,21,26,27,28,30,31)
	 * pt(25); ECX: avx512vbmi(1) pku(3) ospke(4) waitpkg(5) avx512vbmi2(6) la57(16) sgx_lc(30)
	 * pks(31) avx512_vnni(11) avx512_bitalg(12) avx512_vpopcntdq(14);
	 * EDX: avx512_4vnniw(2) avx512_4fmaps(3) tsx_ldtrk(16) pconfig(18) amx(22,24,25)
	 * avx512_vp2intersect(8) avx512_fp16(23) */
	{ 7, 0, 0,
	  BIT(2) | BIT(4) | BIT(11) | BIT(12) | BIT(14) | BIT(15) | BIT(16) | BIT(17) | BIT(21) |
		  BIT(25) | BIT(26) | BIT(27) | BIT(28) | BIT(30) | BIT(31),
	  BIT(1) | BIT(3) | BIT(4) | BIT(5) | BIT(6) | BIT(11) | BIT(12) | BIT(14) | BIT(16) |
		  BIT(30) | BIT(31),
	  BIT(2) | BIT(3) | BIT(8) | BIT(16) | BIT(18) | BIT(22) | BIT(23) | BIT(24) | BIT(25) },
	/* leaf 7.1 EAX: avx512_bf16(5) */
	{ 7, 1, BIT(5), 0, 0, 0 },
	/* leaf 0xD.0 EAX (XCR0 bits the guest may enable): MPX(3,4) AVX-512(5,6,7)
	 * PKRU(9) AMX(17,18) - else XSETBV would enable state leaf 7 hides. */
	{ 0xd, 0, BIT(3) | BIT(4) | BIT(5) | BIT(6) | BIT(7) | BIT(9) | BIT(17) | BIT(18), 0, 0,
	  0 },
	/* leaf 0x80000001 ECX: svm(2) ibs(10) skinit(12) wdt(13) perfctr_core(23) */
	{ 0x80000001, 0, 0, 0, BIT(2) | BIT(10) | BIT(12) | BIT(13) | BIT(23), 0 },
	/* KVM leaf 0x40000001 EAX: steal_time(5), pv_eoi(6)?: keep eoi; async_pf(4),
	 * async_pf_vmexit(10), poll_control(12), async_pf_int(14) need host
	 * cooperation bulkhead does not provide; steal time is live-patched by
	 * the guest while it runs, which trips emulated (PVM) backends. */
	{ 0x40000001, 0, BIT(4) | BIT(5) | BIT(10) | BIT(12) | BIT(14), 0, 0, 0 },
};

/* Leaves removed entirely by `baseline`: PT (0x14), SGX (0x12), perfmon (0xa). */
static const uint32_t baseline_drop[] = { 0xa, 0x12, 0x14 };

/* XSAVE state components whose leaf 0xD sub-leaves `baseline` removes. */
static bool xsave_component_masked(uint32_t index)
{
	return index == 3 || index == 4 || (index >= 5 && index <= 7) || index == 9 ||
	       index == 17 || index == 18;
}

const char *cpu_template_name(enum cpu_template t)
{
	return t == CPU_TEMPLATE_BASELINE ? "baseline" : "host";
}

void cpuid_apply_template(struct kvm_cpuid2 *c, enum cpu_template tmpl)
{
	if (tmpl == CPU_TEMPLATE_HOST)
		return;
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		for (size_t m = 0; m < BH_ARRAY_SIZE(baseline_masks); m++) {
			const struct cpuid_mask *k = &baseline_masks[m];

			if (e->function == k->function && e->index == k->index) {
				e->eax &= ~k->eax;
				e->ebx &= ~k->ebx;
				e->ecx &= ~k->ecx;
				e->edx &= ~k->edx;
			}
		}
	}
	/* Drop whole leaves by compacting the table. */
	uint32_t out = 0;
	for (uint32_t i = 0; i < c->nent; i++) {
		bool drop = false;

		for (size_t d = 0; d < BH_ARRAY_SIZE(baseline_drop); d++)
			drop |= c->entries[i].function == baseline_drop[d];
		drop |= c->entries[i].function == 0xd && xsave_component_masked(c->entries[i].index);
		if (!drop)
			c->entries[out++] = c->entries[i];
	}
	c->nent = out;
}

int cpuid_get_supported(int kvm_fd, enum cpu_template tmpl, struct kvm_cpuid2 **out)
{
	struct kvm_cpuid2 *c = NULL;
	uint32_t n = 64;

	for (;;) {
		struct kvm_cpuid2 *nc = realloc(c, sizeof(*c) + n * sizeof(c->entries[0]));

		if (!nc) {
			free(c);
			return -ENOMEM;
		}
		c = nc;
		memset(c, 0, sizeof(*c));
		c->nent = n;
		if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
			break;
		if (errno != E2BIG || n >= 4096) {
			int e = errno;

			free(c);
			return -e;
		}
		n *= 2;
	}
	/* KVM emulates the TSC-deadline LAPIC timer but leaves advertising it to
	 * userspace; without it a guest must calibrate the LAPIC timer against a
	 * legacy timer, which hardware-reduced ACPI guests do not have. */
	if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0)
		for (uint32_t i = 0; i < c->nent; i++)
			if (c->entries[i].function == 1)
				c->entries[i].ecx |= BIT(24);
	cpuid_apply_template(c, tmpl);
	*out = c;
	return 0;
}

static unsigned bits_for(unsigned n)
{
	unsigned b = 0;

	while ((1u << b) < n)
		b++;
	return b;
}

void cpuid_set_topology(struct kvm_cpuid2 *c, unsigned index, unsigned ncpus)
{
	unsigned core_bits = bits_for(ncpus);

	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		switch (e->function) {
		case 1:
			/* EBX: initial APIC ID [31:24], logical processors [23:16],
			 * CLFLUSH line size in 8-byte units [15:8]. */
			e->ebx = (index << 24) | ((ncpus & 0xff) << 16) | (8u << 8);
			e->ecx |= BIT(31); /* we are a hypervisor guest */
			if (ncpus > 1)
				e->edx |= BIT(28); /* HTT: multi-core package */
			else
				e->edx &= ~BIT(28);
			break;
		case 4:
			/* Deterministic cache: cores per package - 1 in [31:26];
			 * each cache private to one core ([25:14] = 0). */
			if (e->eax & 0x1f)
				e->eax = (e->eax & 0x3fff) |
					 ((ncpus - 1 > 63 ? 63u : ncpus - 1) << 26);
			break;
		case 0xb:
		case 0x1f:
			/* Extended topology: one thread per core, ncpus cores. */
			e->edx = index;
			if (e->index == 0) {
				e->eax = 0;
				e->ebx = 1;
				e->ecx = (1u << 8) | 0;
			} else if (e->index == 1) {
				e->eax = core_bits;
				e->ebx = ncpus;
				e->ecx = (2u << 8) | 1;
			} else {
				e->eax = 0;
				e->ebx = 0;
				e->ecx = e->index;
			}
			break;
		case 0x80000008:
			/* AMD: number of physical cores - 1 and APIC ID size. */
			e->ecx = (e->ecx & ~0xf0ffu) | ((ncpus - 1) & 0xff) | (core_bits << 12);
			break;
		default:
			break;
		}
	}
}

int cpuid_apply(int vcpu_fd, const struct kvm_cpuid2 *base, unsigned index, unsigned ncpus)
{
	size_t sz = sizeof(*base) + base->nent * sizeof(base->entries[0]);
	struct kvm_cpuid2 *c = malloc(sz);
	int ret = 0;

	if (!c)
		return -ENOMEM;
	memcpy(c, base, sz);
	cpuid_set_topology(c, index, ncpus);
	if (ioctl(vcpu_fd, KVM_SET_CPUID2, c) < 0)
		ret = -errno;
	free(c);
	return ret;
}
