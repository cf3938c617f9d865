/* acpi_dsdt.h — the DSDT's AML body, hand-assembled (ACPI 6.x §20):
 *   Name (\_S5, Package (1) { 5 })            soft-off sleep type
 *   Scope (\_SB) { Device (PCI0) {             the PCI host bridge
 *     _HID PNP0A03, _UID 0, _SEG 0, _BBN 0
 *     _CRS: bus 0, ports 0xCF8-0xCFF, I/O 0-0xCF7 and 0xD00-0xFFFF,
 *           memory [PCI_MMIO_WIN_BASE, PCI_MMIO_WIN_END)
 *     _PRT: INTA-INTD of slots 1-31 -> GSI 16-23 (pci.h's PCI_INTX_GSI for
 *           pin A, swizzled for B-D) }
 *     Device (VGEN) { _HID "BLKH0001", _CID/_DDN "VM_Gen_Counter",
 *           ADDR Package { X86_VMGENID_GPA low, high } } }
 *   Scope (\_GPE) { Method (_E00) { Notify (\_SB.VGEN, 0x80) } }
 *                                               (E00: ACPI_GPE_VMGENID)
 * Without PCI0 an ACPI kernel never scans PCI at all (Linux only falls back
 * to a legacy bus scan when ACPI is off). */
#ifndef BH_X86_ACPI_DSDT_H
#define BH_X86_ACPI_DSDT_H

#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"

/* Write the AML into buf; *len receives its size. -ENOSPC if cap is short. */
int acpi_dsdt_body(uint8_t *buf, size_t cap, size_t *len) BH_WUR;

#endif
