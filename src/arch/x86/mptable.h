/* mptable.h — Intel MultiProcessor Specification 1.4 tables describing the
 * vCPUs, the IOAPIC and the ISA interrupt routing, so that a kernel without
 * ACPI (acpi=off or no RSDP) brings up exactly --cpus processors.
 * The floating pointer sits at X86_EBDA_GPA (the last KiB of base memory, where
 * Linux scans); the configuration table at X86_MPTABLE_GPA in the reserved
 * [0xe0000, 1 MiB) range, which has room for VM_MAX_VCPUS entries. */
#ifndef BH_X86_MPTABLE_H
#define BH_X86_MPTABLE_H

#include "common/compiler.h"
#include "core/guest_mem.h"

#define X86_MPTABLE_GPA 0xe0000ULL
#define X86_IOAPIC_ADDR 0xfec00000ULL
#define X86_LAPIC_ADDR 0xfee00000ULL

/* 0 or -EINVAL (ncpus 0 or > 255), -EFAULT (RAM too small). */
int mptable_write(struct guest_mem *gm, unsigned ncpus) BH_WUR;

#endif
