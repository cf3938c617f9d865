/* cpuid.h — the CPUID a vCPU sees: KVM_GET_SUPPORTED_CPUID, filtered by a CPU
 * template, with per-vCPU topology (APIC ID, logical count, leaf 0xB/0x1F,
 * AMD core count) and the hypervisor leaves. Setup thread only. */
#ifndef BH_X86_CPUID_H
#define BH_X86_CPUID_H

#include <linux/kvm.h>

#include "common/compiler.h"

/* host: every feature KVM supports; baseline: a conservative subset. */
enum cpu_template { CPU_TEMPLATE_HOST, CPU_TEMPLATE_BASELINE };

/* Fetch the host's supported CPUID from /dev/kvm and apply the template.
 * On success *out is a malloc'd table the caller frees. */
int cpuid_get_supported(int kvm_fd, enum cpu_template tmpl, struct kvm_cpuid2 **out) BH_WUR;

/* Give vCPU `index` of `ncpus` its CPUID (a per-vCPU copy of `base` with the
 * topology fields filled in) via KVM_SET_CPUID2. */
int cpuid_apply(int vcpu_fd, const struct kvm_cpuid2 *base, unsigned index,
		unsigned ncpus) BH_WUR;

/* Pure function behind cpuid_apply(), for unit tests: rewrite `c` in place. */
void cpuid_set_topology(struct kvm_cpuid2 *c, unsigned index, unsigned ncpus);

/* Pure function behind cpuid_get_supported(), for unit tests. */
void cpuid_apply_template(struct kvm_cpuid2 *c, enum cpu_template tmpl);

const char *cpu_template_name(enum cpu_template t);

#endif
