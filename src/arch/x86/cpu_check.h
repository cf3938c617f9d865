/* cpu_check.h — is a saved x86 vCPU / VM state one this VM may be given?
 * Snapshots are hostile input (architecture rule 12): every register value
 * restored into KVM is checked here first against what the VM's CPUID (the
 * CPU template, as validated against this host) allows, so a crafted file
 * is refused with a message naming the register and the reason instead of
 * reaching KVM (which checks less, and reports only EINVAL).
 * Pure functions: no I/O, any thread. 0, or -EINVAL with err filled in. */
#ifndef BH_X86_CPU_CHECK_H
#define BH_X86_CPU_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>

#include "common/compiler.h"

/* The features of a CPUID table the checks depend on. */
struct cpu_caps {
	uint32_t l1_ecx, l1_edx, l7_ebx, l7_ecx, l7_edx, x1_ecx, x1_edx;
	uint64_t xcr0_mask; /* leaf 0xD.0 EDX:EAX: XCR0 bits the CPU supports */
	unsigned phys_bits; /* 0x80000008 EAX[7:0], 36 when absent */
};
void cpu_caps_from_cpuid(const struct kvm_cpuid2 *c, struct cpu_caps *out);

/* General and special registers of vCPU `index` (long mode or not). */
int cpu_check_regs(const struct kvm_regs *r, char *err, size_t errlen) BH_WUR;
int cpu_check_sregs(const struct cpu_caps *caps, const struct kvm_sregs *s, unsigned index,
		    char *err, size_t errlen) BH_WUR;
int cpu_check_xcrs(const struct cpu_caps *caps, const struct kvm_xcrs *x, char *err,
		   size_t errlen) BH_WUR;
int cpu_check_events(const struct kvm_vcpu_events *e, char *err, size_t errlen) BH_WUR;
int cpu_check_mp_state(uint32_t mp_state, char *err, size_t errlen) BH_WUR;
int cpu_check_debugregs(const struct kvm_debugregs *d, char *err, size_t errlen) BH_WUR;
/* The LAPIC's ID register must name vCPU `index` (xAPIC or x2APIC form). */
int cpu_check_lapic(const struct kvm_lapic_state *l, const struct kvm_sregs *s, unsigned index,
		    char *err, size_t errlen) BH_WUR;
int cpu_check_irqchip(const struct kvm_irqchip *c, uint32_t chip_id, char *err,
		      size_t errlen) BH_WUR;
int cpu_check_pit(const struct kvm_pit_state2 *p, char *err, size_t errlen) BH_WUR;

/* Every feature bit the snapshot's CPUID `snap` advertises in the feature
 * leaves (1, 7.0, 0xD.1, 0x80000001; XCR0 of 0xD.0) must be in `host` (this
 * host's supported CPUID after the same template), the vendor must match and
 * every leaf must exist on the host. */
int cpu_check_cpuid(const struct kvm_cpuid2 *snap, const struct kvm_cpuid2 *host, char *err,
		    size_t errlen) BH_WUR;

#endif
