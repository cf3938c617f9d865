/* regs.h — the boot CPU state bulkhead hands a kernel: identity page tables,
 * GDT, segment/control registers for the entry kind in boot.h, the MSRs a
 * freshly reset CPU should have, and LAPIC LINT0/LINT1 wiring. Setup thread. */
#ifndef BH_X86_REGS_H
#define BH_X86_REGS_H

#include <stdio.h>

#include "arch/x86/boot.h"
#include "common/compiler.h"
#include "core/guest_mem.h"

/* Write the boot GDT, empty IDT and identity page tables into guest RAM.
 * Needs RAM up to 1 MiB. */
int x86_setup_boot_tables(struct guest_mem *gm) BH_WUR;

/* Program the boot vCPU's registers for `plan`. */
int x86_setup_bsp_regs(int vcpu_fd, const struct boot_plan *plan) BH_WUR;

/* MSRs every vCPU starts with (SYSENTER/STAR/... = 0, MISC_ENABLE fast
 * strings, MTRR default type write-back). */
int x86_setup_msrs(int vcpu_fd) BH_WUR;

/* LAPIC: LINT0 = ExtINT, LINT1 = NMI (what firmware leaves for the kernel). */
int x86_setup_lapic(int vcpu_fd) BH_WUR;

/* Print general, segment and control registers of a vCPU (crash diagnostics). */
void x86_dump_regs(int vcpu_fd, FILE *out);

#endif
