/* vm_state.h — the VM's own state for snapshots (architecture: "a restore is
 * vm_build() + loading saved state"): per vCPU its registers, special
 * registers, XSAVE area, XCRs, MSRs (every one KVM's index list names that
 * KVM will read), LAPIC, pending events, MP state and debug registers; for
 * the VM the CPUID it was given, the in-kernel PIC pair and IOAPIC, the PIT
 * and the KVM clock. Device state is the device model's (vm_devices_save).
 *
 * Encoding: the raw KVM structures (x86-64 host byte order, the kernel's
 * ABI), each blob versioned by the caller's section (VM_STATE_*_VERSION).
 *
 * Save: the vCPUs are parked (vm_pause) or not yet running; any one
 * controlling thread (the event thread for the control channel).
 * Load: on a VM fresh from vm_build(), before vm_run(), main thread. A blob
 * is hostile input: it is parsed and checked completely (arch/x86/
 * cpu_check.h: register values the VM's CPUID allows, MSR indices from the
 * allow-list this host's KVM reports, sizes) before anything reaches KVM,
 * and err names the vCPU, the register and the reason. */
#ifndef BH_VMM_VM_STATE_H
#define BH_VMM_VM_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"
#include "core/state_buf.h"

struct vm;

#define VM_STATE_CPUID_VERSION 1
#define VM_STATE_VCPU_VERSION 1
#define VM_STATE_VM_VERSION 1

/* The VM's CPUID (before per-vCPU topology). */
void vm_state_save_cpuid(struct vm *vm, struct sbuf *out);
/* Check a saved CPUID against this host (cpu_check_cpuid) and give it to
 * every vCPU instead of the one vm_build() chose. */
int vm_state_load_cpuid(struct vm *vm, const void *p, size_t len, uint32_t version, char *err,
			size_t errlen) BH_WUR;

int vm_state_save_vcpu(struct vm *vm, unsigned index, struct sbuf *out, char *err,
		       size_t errlen) BH_WUR;
int vm_state_load_vcpu(struct vm *vm, unsigned index, const void *p, size_t len,
		       uint32_t version, char *err, size_t errlen) BH_WUR;

int vm_state_save_vm(struct vm *vm, struct sbuf *out, char *err, size_t errlen) BH_WUR;
/* The clock is saved as KVM_GET_CLOCK gives it: clock, flags, realtime —
 * where KVM gives no realtime (no KVM_CLOCK_REALTIME in flags) the host's
 * CLOCK_REALTIME read right after it (0 in snapshots of older builds).
 * Loads the irqchip and PIT, then sets the KVM clock last, advanced by the
 * wall-clock time since the save — by KVM where both hosts support
 * KVM_CLOCK_REALTIME, else by the host time elapsed since the saved
 * realtime (a gap of at most 10 years; none if the host clock went back)
 * — so the guest's clock is right on resume, and tells every vCPU's
 * kvmclock that it was stopped (KVM_KVMCLOCK_CTRL: no soft-lockup alarms). */
int vm_state_load_vm(struct vm *vm, const void *p, size_t len, uint32_t version, char *err,
		     size_t errlen) BH_WUR;

#endif
