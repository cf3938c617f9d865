/* acpi.h — minimal ACPI 6 tables, so that a stock kernel (Debian's cloud
 * kernel has no MP-table parser) finds every vCPU and can power off:
 *   RSDP (at X86_ACPI_GPA, where Linux also scans) -> XSDT -> FADT, MADT
 *   FADT: a classic PC (legacy PIC kept: not hardware-reduced, whose missing
 *         ISA IRQ routing left the UART without interrupts), PM1a event and
 *         control blocks, the reset register and the GPE0 block on the
 *         ACPI PM device's ports (devices/acpi_pm.h), -> FACS, DSDT
 *   DSDT: \_S5 (soft-off sleep type 5), the PCI host bridge and the VM
 *         generation ID device, in hand-assembled AML (acpi_dsdt.h)
 *   MADT: one enabled local APIC per vCPU, the IOAPIC, the SCI on IRQ 9.
 * Tables live in the e820-reserved BIOS area [0xf0000, 1 MiB). */
#ifndef BH_X86_ACPI_H
#define BH_X86_ACPI_H

#include "common/compiler.h"
#include "core/guest_mem.h"

#define X86_ACPI_GPA 0xf0000ULL

/* Write the tables for `ncpus` vCPUs; *rsdp_gpa receives the RSDP address.
 * 0, -EINVAL (ncpus 0 or > 255) or -EFAULT (RAM too small). */
int acpi_write_tables(struct guest_mem *gm, unsigned ncpus, uint64_t *rsdp_gpa) BH_WUR;

#endif
