/* layout.h — the fixed guest-physical layout bulkhead uses on x86-64.
 * Everything the VMM places in guest RAM before the first instruction lives
 * here, so loaders, page tables, the MP table and e820 agree. All below 1 MiB
 * except the kernel and initrd. */
#ifndef BH_X86_LAYOUT_H
#define BH_X86_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#define X86_GDT_GPA 0x500ULL           /* boot GDT (4 entries) */
#define X86_IDT_GPA 0x520ULL           /* empty IDT (limit 0): any fault triple-faults */
#define X86_PVH_START_INFO_GPA 0x6000ULL /* hvm_start_info + memmap + module list */
#define X86_ZERO_PAGE_GPA 0x7000ULL    /* Linux boot_params ("zero page"), 4 KiB */
#define X86_PML4_GPA 0x9000ULL         /* identity page tables: PML4 */
#define X86_PDPT_GPA 0xa000ULL         /*   PDPT */
#define X86_PD_GPA 0xb000ULL           /*   4 PDs (0xb000-0xefff): 0-4 GiB in 2 MiB pages */
#define X86_CMDLINE_GPA 0x20000ULL     /* kernel command line */
#define X86_CMDLINE_MAX 0x10000ULL     /* 64 KiB, upper bound before the kernel's own limit */
#define X86_BOOT_STACK_GPA 0x8ff0ULL   /* initial RSP for 64-bit entries (below 0x9000) */
#define X86_EBDA_GPA 0x9fc00ULL        /* MP floating pointer + config table */
#define X86_LOW_RAM_END 0x9fc00ULL     /* e820: usable [0, EBDA) */
#define X86_BIOS_START 0xe0000ULL      /* e820 reserved [EBDA, 1 MiB) */
#define X86_HIMEM_START 0x100000ULL    /* 1 MiB: bzImage protected-mode kernel */
#define X86_IDENTITY_MAP_END (4ULL << 30) /* page tables map [0, 4 GiB) */

/* KVM needs three pages for the real-mode TSS and one for the identity map
 * just below 4 GiB on Intel; they sit in the MMIO hole, never in RAM. */
#define X86_KVM_TSS_ADDR 0xfffbd000ULL
#define X86_KVM_IDENTITY_MAP_ADDR 0xfffbc000ULL

/* GDT selectors matching the Linux boot protocol's expectations. */
#define X86_SEL_CODE64 0x10
#define X86_SEL_DATA 0x18
#define X86_SEL_CODE32 0x08 /* PVH: flat 32-bit code */

/* Byte that makes the sum of a firmware table (MP, ACPI) zero modulo 256. */
static inline uint8_t x86_table_checksum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum += b[i];
	return (uint8_t)-sum;
}

/* Platform I/O that the firmware tables describe and the devices implement
 * (arch is below bus and devices: both include this). */
/* ACPI PM1a event/control and reset registers and the GPE0 block
 * (devices/acpi_pm.c): ports 0x600-0x60b. */
#define ACPI_PM_BASE 0x600
#define ACPI_PM1A_EVT (ACPI_PM_BASE + 0)
#define ACPI_PM1A_EVT_LEN 4
#define ACPI_PM1A_CNT (ACPI_PM_BASE + 4)
#define ACPI_PM1A_CNT_LEN 2
#define ACPI_PM_RESET (ACPI_PM_BASE + 6)
#define ACPI_GPE0_BLK (ACPI_PM_BASE + 8) /* GPE0_STS (2 bytes), then GPE0_EN (2) */
#define ACPI_GPE0_BLK_LEN 4
#define ACPI_GPE0_COUNT 16               /* GPEs 0-15: one bit each in STS and EN */
#define ACPI_PM_LEN 12
#define ACPI_PM_RESET_VALUE 0x1
#define ACPI_PM_S5_TYPE 5
#define ACPI_PM_SCI_IRQ 9
/* VM generation ID (devices/vmgenid.c): the DSDT's \_SB.VGEN device, whose
 * ADDR names the 16-byte ID at X86_VMGENID_GPA (a page of its own in the
 * e820-reserved BIOS area, after the ACPI tables), notified through GPE 0
 * (the DSDT's \_GPE._E00). */
#define X86_VMGENID_GPA 0xf2000ULL
#define X86_VMGENID_LEN 16
#define ACPI_GPE_VMGENID 0
/* The GPEs anything raises (a snapshot with another status bit set is refused). */
#define ACPI_GPE0_RAISED (1u << ACPI_GPE_VMGENID)
/* PCI (bus/pci.c): the BAR window in the MMIO hole, slots, INTx wiring. */
/* 32-bit MMIO window for BARs: below the IOAPIC (0xfec00000). */
#define PCI_MMIO_WIN_BASE 0xc0000000ULL
#define PCI_MMIO_WIN_END 0xfe000000ULL
#define PCI_MAX_SLOTS 32
/* INTx pin A of slot N (1..31) -> IOAPIC GSI 16..23, round robin. */
#define PCI_INTX_GSI_BASE 16
#define PCI_INTX_GSI_COUNT 8
#define PCI_INTX_GSI(slot) (PCI_INTX_GSI_BASE + ((slot) - 1) % PCI_INTX_GSI_COUNT)

#endif
