/* acpi.c — see acpi.h. Layouts from the ACPI 6.0 specification, chapter 5. */
#include "acpi.h"

#include <errno.h>
#include <string.h>

#include "arch/x86/acpi_dsdt.h"
#include "arch/x86/layout.h"
#include "arch/x86/mptable.h"

struct acpi_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __attribute__((packed));

struct acpi_rsdp {
	char signature[8]; /* "RSD PTR " */
	uint8_t checksum;  /* first 20 bytes */
	char oem_id[6];
	uint8_t revision;  /* 2: ACPI 2.0+, XSDT valid */
	uint32_t rsdt_address;
	uint32_t length;
	uint64_t xsdt_address;
	uint8_t extended_checksum; /* all 36 bytes */
	uint8_t reserved[3];
} __attribute__((packed));

struct acpi_gas { /* generic address structure */
	uint8_t space_id;   /* 1: system I/O */
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size; /* 1: byte */
	uint64_t address;
} __attribute__((packed));

struct acpi_fadt {
	struct acpi_header h;
	uint32_t firmware_ctrl;
	uint32_t dsdt;
	uint8_t reserved0;
	uint8_t preferred_pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;
	uint8_t acpi_enable, acpi_disable, s4bios_req, pstate_cnt;
	uint32_t pm1a_evt_blk, pm1b_evt_blk, pm1a_cnt_blk, pm1b_cnt_blk;
	uint32_t pm2_cnt_blk, pm_tmr_blk, gpe0_blk, gpe1_blk;
	uint8_t pm1_evt_len, pm1_cnt_len, pm2_cnt_len, pm_tmr_len;
	uint8_t gpe0_blk_len, gpe1_blk_len, gpe1_base, cst_cnt;
	uint16_t p_lvl2_lat, p_lvl3_lat, flush_size, flush_stride;
	uint8_t duty_offset, duty_width, day_alrm, mon_alrm, century;
	uint16_t iapc_boot_arch;   /* offset 109 */
	uint8_t reserved1;
	uint32_t flags;            /* offset 112 */
	struct acpi_gas reset_reg; /* offset 116 */
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_version;
	uint64_t x_firmware_ctrl;
	uint64_t x_dsdt;           /* offset 140 */
	struct acpi_gas x_pm1a_evt_blk, x_pm1b_evt_blk, x_pm1a_cnt_blk, x_pm1b_cnt_blk;
	struct acpi_gas x_pm2_cnt_blk, x_pm_tmr_blk, x_gpe0_blk, x_gpe1_blk;
	struct acpi_gas sleep_control; /* offset 244 */
	struct acpi_gas sleep_status;  /* offset 256 */
	char hypervisor_id[8];     /* offset 268 */
} __attribute__((packed));

struct acpi_facs { /* firmware ACPI control structure, 64-byte aligned */
	char signature[4];
	uint32_t length;
	uint32_t hardware_signature;
	uint32_t firmware_waking_vector;
	uint32_t global_lock;
	uint32_t flags;
	uint64_t x_firmware_waking_vector;
	uint8_t version;
	uint8_t reserved[31];
} __attribute__((packed));

struct madt_lapic {
	uint8_t type; /* 0 */
	uint8_t length; /* 8 */
	uint8_t processor_uid;
	uint8_t apic_id;
	uint32_t flags; /* bit 0: enabled */
} __attribute__((packed));

struct madt_ioapic {
	uint8_t type; /* 1 */
	uint8_t length; /* 12 */
	uint8_t id;
	uint8_t reserved;
	uint32_t address;
	uint32_t gsi_base;
} __attribute__((packed));

struct madt_int_override {
	uint8_t type; /* 2 */
	uint8_t length; /* 10 */
	uint8_t bus;    /* 0: ISA */
	uint8_t source; /* ISA IRQ */
	uint32_t gsi;
	uint16_t flags; /* bits 0-1 polarity, 2-3 trigger */
} __attribute__((packed));

struct madt_lapic_nmi {
	uint8_t type; /* 4 */
	uint8_t length; /* 6 */
	uint8_t processor_uid; /* 0xff: all */
	uint16_t flags;
	uint8_t lint;
} __attribute__((packed));

_Static_assert(sizeof(struct acpi_header) == 36, "header");
_Static_assert(sizeof(struct acpi_rsdp) == 36, "rsdp");
_Static_assert(sizeof(struct acpi_gas) == 12, "gas");
_Static_assert(offsetof(struct acpi_fadt, iapc_boot_arch) == 109, "fadt iapc");
_Static_assert(offsetof(struct acpi_fadt, flags) == 112, "fadt flags");
_Static_assert(offsetof(struct acpi_fadt, x_dsdt) == 140, "fadt x_dsdt");
_Static_assert(offsetof(struct acpi_fadt, sleep_control) == 244, "fadt sleep ctl");
_Static_assert(sizeof(struct acpi_fadt) == 276, "fadt size");
_Static_assert(sizeof(struct acpi_facs) == 64, "facs size");

#define FADT_F_WBINVD (1u << 0)
#define FADT_F_PWR_BUTTON (1u << 4)   /* no fixed-feature power button */
#define FADT_F_SLP_BUTTON (1u << 5)   /* no fixed-feature sleep button */
#define FADT_F_RESET_REG_SUP (1u << 10)
#define IAPC_LEGACY_DEVICES (1u << 0) /* COM1, RTC... on the ISA ports */
#define IAPC_8042 (1u << 1)
#define IAPC_VGA_NOT_PRESENT (1u << 2)

/* Offsets inside the [X86_ACPI_GPA, +64 KiB) block. */
#define OFF_RSDP 0x000
#define OFF_XSDT 0x040
#define OFF_FADT 0x080
#define OFF_FACS 0x1c0
#define OFF_MADT 0x200
#define OFF_DSDT 0x1000
#define ACPI_BLOCK 0x2000
_Static_assert(X86_ACPI_GPA + ACPI_BLOCK <= X86_VMGENID_GPA, "the VM generation ID after the tables");
_Static_assert(X86_VMGENID_GPA + X86_VMGENID_LEN <= X86_HIMEM_START, "... in the BIOS area");

static void header(struct acpi_header *h, const char *sig, uint32_t len, uint8_t rev)
{
	memcpy(h->signature, sig, 4);
	h->length = len;
	h->revision = rev;
	memcpy(h->oem_id, "BLKHD ", 6);
	memcpy(h->oem_table_id, "BULKHEAD", 8);
	h->oem_revision = 1;
	memcpy(h->creator_id, "BLKH", 4);
	h->creator_revision = 1;
}

static struct acpi_gas io_reg(uint16_t port, uint8_t bits)
{
	return (struct acpi_gas){ .space_id = 1, .bit_width = bits,
				  .access_size = (uint8_t)(bits == 8 ? 1 : bits == 16 ? 2 : 3),
				  .address = port };
}

int acpi_write_tables(struct guest_mem *gm, unsigned ncpus, uint64_t *rsdp_gpa)
{
	uint8_t blk[ACPI_BLOCK];
	struct acpi_rsdp rsdp;
	struct acpi_fadt fadt;
	struct acpi_header *h;
	size_t off;
	uint64_t xsdt_entries[2] = { X86_ACPI_GPA + OFF_FADT, X86_ACPI_GPA + OFF_MADT };
	size_t aml_len;
	int ret;

	if (ncpus == 0 || ncpus > 255)
		return -EINVAL;
	memset(blk, 0, sizeof(blk));

	/* DSDT */
	h = (struct acpi_header *)(void *)(blk + OFF_DSDT);
	if ((ret = acpi_dsdt_body(blk + OFF_DSDT + sizeof(*h),
				  ACPI_BLOCK - OFF_DSDT - sizeof(*h), &aml_len)))
		return ret;
	header(h, "DSDT", (uint32_t)(sizeof(*h) + aml_len), 2);
	h->checksum = x86_table_checksum(h, h->length);

	/* FACS: required outside hardware-reduced mode; all zero but the header. */
	struct acpi_facs facs;
	memset(&facs, 0, sizeof(facs));
	memcpy(facs.signature, "FACS", 4);
	facs.length = sizeof(facs);
	facs.version = 2;
	memcpy(blk + OFF_FACS, &facs, sizeof(facs));

	/* FADT: a classic (not hardware-reduced) PC, so the kernel keeps its
	 * legacy PIC and identity ISA IRQ routing; PM1a blocks on the ACPI PM
	 * device; SMI_CMD = 0 means "always in ACPI mode". */
	memset(&fadt, 0, sizeof(fadt));
	header(&fadt.h, "FACP", sizeof(fadt), 6);
	fadt.firmware_ctrl = (uint32_t)(X86_ACPI_GPA + OFF_FACS);
	fadt.x_firmware_ctrl = X86_ACPI_GPA + OFF_FACS;
	fadt.dsdt = (uint32_t)(X86_ACPI_GPA + OFF_DSDT);
	fadt.x_dsdt = X86_ACPI_GPA + OFF_DSDT;
	fadt.sci_int = ACPI_PM_SCI_IRQ;
	fadt.pm1a_evt_blk = ACPI_PM1A_EVT;
	fadt.pm1_evt_len = ACPI_PM1A_EVT_LEN;
	fadt.x_pm1a_evt_blk = io_reg(ACPI_PM1A_EVT, 32);
	fadt.pm1a_cnt_blk = ACPI_PM1A_CNT;
	fadt.pm1_cnt_len = ACPI_PM1A_CNT_LEN;
	fadt.x_pm1a_cnt_blk = io_reg(ACPI_PM1A_CNT, 16);
	/* GPE0: the VM generation ID's notification (DSDT \_GPE._E00). GPE
	 * registers are byte-accessed. */
	fadt.gpe0_blk = ACPI_GPE0_BLK;
	fadt.gpe0_blk_len = ACPI_GPE0_BLK_LEN;
	fadt.x_gpe0_blk = io_reg(ACPI_GPE0_BLK, 8 * ACPI_GPE0_BLK_LEN);
	fadt.x_gpe0_blk.access_size = 1;
	fadt.p_lvl2_lat = 101; /* > 100: C2 not supported */
	fadt.p_lvl3_lat = 1001; /* > 1000: C3 not supported */
	fadt.century = 0x32;   /* CMOS century register */
	fadt.iapc_boot_arch =
		IAPC_LEGACY_DEVICES | IAPC_8042 | IAPC_VGA_NOT_PRESENT;
	fadt.flags = FADT_F_WBINVD | FADT_F_RESET_REG_SUP | FADT_F_PWR_BUTTON | FADT_F_SLP_BUTTON;
	fadt.reset_reg = io_reg(ACPI_PM_RESET, 8);
	fadt.reset_value = ACPI_PM_RESET_VALUE;
	fadt.minor_version = 0;
	memcpy(fadt.hypervisor_id, "BULKHEAD", 8);
	fadt.h.checksum = x86_table_checksum(&fadt, sizeof(fadt));
	memcpy(blk + OFF_FADT, &fadt, sizeof(fadt));

	/* MADT: header, LAPIC address, flags, then entries. */
	off = OFF_MADT + sizeof(struct acpi_header) + 8;
	uint32_t lapic_addr = (uint32_t)X86_LAPIC_ADDR, madt_flags = 1; /* PCAT_COMPAT: 8259s */
	memcpy(blk + OFF_MADT + sizeof(struct acpi_header), &lapic_addr, 4);
	memcpy(blk + OFF_MADT + sizeof(struct acpi_header) + 4, &madt_flags, 4);
	for (unsigned i = 0; i < ncpus; i++) {
		struct madt_lapic l = { 0, sizeof(l), (uint8_t)i, (uint8_t)i, 1 };

		memcpy(blk + off, &l, sizeof(l));
		off += sizeof(l);
	}
	struct madt_ioapic io = { 1, sizeof(io), (uint8_t)ncpus, 0, (uint32_t)X86_IOAPIC_ADDR, 0 };
	memcpy(blk + off, &io, sizeof(io));
	off += sizeof(io);
	/* SCI: ISA IRQ 9, level-triggered, active high (acpi_pm raises it for GPEs). */
	struct madt_int_override sci = { 2, sizeof(sci), 0, ACPI_PM_SCI_IRQ, ACPI_PM_SCI_IRQ,
					 0xd };
	memcpy(blk + off, &sci, sizeof(sci));
	off += sizeof(sci);
	struct madt_lapic_nmi nmi = { 4, sizeof(nmi), 0xff, 0, 1 };
	memcpy(blk + off, &nmi, sizeof(nmi));
	off += sizeof(nmi);
	h = (struct acpi_header *)(void *)(blk + OFF_MADT);
	header(h, "APIC", (uint32_t)(off - OFF_MADT), 4);
	h->checksum = x86_table_checksum(h, h->length);

	/* XSDT */
	h = (struct acpi_header *)(void *)(blk + OFF_XSDT);
	header(h, "XSDT", sizeof(*h) + sizeof(xsdt_entries), 1);
	memcpy(blk + OFF_XSDT + sizeof(*h), xsdt_entries, sizeof(xsdt_entries));
	h->checksum = x86_table_checksum(h, h->length);

	/* RSDP */
	memset(&rsdp, 0, sizeof(rsdp));
	memcpy(rsdp.signature, "RSD PTR ", 8);
	memcpy(rsdp.oem_id, "BLKHD ", 6);
	rsdp.revision = 2;
	rsdp.length = sizeof(rsdp);
	rsdp.xsdt_address = X86_ACPI_GPA + OFF_XSDT;
	rsdp.checksum = x86_table_checksum(&rsdp, 20);
	rsdp.extended_checksum = x86_table_checksum(&rsdp, sizeof(rsdp));
	memcpy(blk + OFF_RSDP, &rsdp, sizeof(rsdp));

	_Static_assert(OFF_MADT + 44 + 255 * 8 + 12 + 10 + 6 <= OFF_DSDT, "MADT fits");
	if (gmem_write(gm, X86_ACPI_GPA, blk, sizeof(blk)))
		return -EFAULT;
	*rsdp_gpa = X86_ACPI_GPA + OFF_RSDP;
	return 0;
}
