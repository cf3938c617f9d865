/* mptable.c — see mptable.h. Layouts from the MP spec 1.4, chapter 4. */
#include "mptable.h"

#include <errno.h>
#include <string.h>

#include "arch/x86/layout.h"

struct mpf_intel { /* floating pointer, 16 bytes */
	char signature[4]; /* "_MP_" */
	uint32_t physptr;
	uint8_t length;    /* in 16-byte units: 1 */
	uint8_t specification; /* 4 = 1.4 */
	uint8_t checksum;
	uint8_t feature1;  /* 0: a config table is present */
	uint8_t feature2;
	uint8_t feature3, feature4, feature5;
} __attribute__((packed));

struct mpc_table { /* configuration table header, 44 bytes */
	char signature[4]; /* "PCMP" */
	uint16_t length;
	uint8_t spec;
	uint8_t checksum;
	char oem[8];
	char productid[12];
	uint32_t oemptr;
	uint16_t oemsize;
	uint16_t oemcount;
	uint32_t lapic;
	uint16_t extended_length;
	uint8_t extended_checksum;
	uint8_t reserved;
} __attribute__((packed));

struct mpc_cpu {
	uint8_t type; /* 0 */
	uint8_t apicid;
	uint8_t apicver;
	uint8_t cpuflag; /* 1 enabled, 2 BSP */
	uint32_t cpufeature;
	uint32_t featureflag;
	uint32_t reserved[2];
} __attribute__((packed));

struct mpc_bus {
	uint8_t type; /* 1 */
	uint8_t busid;
	char bustype[6];
} __attribute__((packed));

struct mpc_ioapic {
	uint8_t type; /* 2 */
	uint8_t apicid;
	uint8_t apicver;
	uint8_t flags; /* 1 enabled */
	uint32_t apicaddr;
} __attribute__((packed));

struct mpc_intsrc { /* type 3 (I/O interrupt) or 4 (local interrupt) */
	uint8_t type;
	uint8_t irqtype; /* 0 INT, 1 NMI, 3 ExtINT */
	uint16_t irqflag;
	uint8_t srcbus;
	uint8_t srcbusirq;
	uint8_t dstapic;
	uint8_t dstirq;
} __attribute__((packed));

_Static_assert(sizeof(struct mpf_intel) == 16, "mpf size");
_Static_assert(sizeof(struct mpc_table) == 44, "mpc size");
_Static_assert(sizeof(struct mpc_cpu) == 20, "cpu entry size");
_Static_assert(sizeof(struct mpc_bus) == 8, "bus entry size");
_Static_assert(sizeof(struct mpc_ioapic) == 8, "ioapic entry size");
_Static_assert(sizeof(struct mpc_intsrc) == 8, "intsrc entry size");

#define MP_MAX_BYTES (44 + 255 * 20 + 8 + 8 + 16 * 8 + 2 * 8)
#define APIC_VERSION 0x14
#define IOAPIC_VERSION 0x11
#define ISA_IRQS 16

int mptable_write(struct guest_mem *gm, unsigned ncpus)
{
	uint8_t buf[MP_MAX_BYTES];
	struct mpc_table *mpc = (struct mpc_table *)(void *)buf;
	struct mpf_intel mpf;
	size_t off = sizeof(*mpc);
	uint8_t ioapic_id = (uint8_t)ncpus; /* first ID after the CPUs */
	int ret;

	if (ncpus == 0 || ncpus > 255)
		return -EINVAL;
	memset(buf, 0, sizeof(buf));

	for (unsigned i = 0; i < ncpus; i++) {
		struct mpc_cpu cpu = {
			.type = 0,
			.apicid = (uint8_t)i,
			.apicver = APIC_VERSION,
			.cpuflag = 1 | (i == 0 ? 2 : 0),
			.cpufeature = 0x600, /* family 6: only informative */
			.featureflag = (1u << 9) | (1u << 0), /* APIC, FPU */
		};
		memcpy(buf + off, &cpu, sizeof(cpu));
		off += sizeof(cpu);
	}
	struct mpc_bus bus = { .type = 1, .busid = 0, .bustype = { 'I', 'S', 'A', ' ', ' ', ' ' } };
	memcpy(buf + off, &bus, sizeof(bus));
	off += sizeof(bus);
	struct mpc_ioapic io = { .type = 2, .apicid = ioapic_id, .apicver = IOAPIC_VERSION,
				 .flags = 1, .apicaddr = (uint32_t)X86_IOAPIC_ADDR };
	memcpy(buf + off, &io, sizeof(io));
	off += sizeof(io);
	/* ISA IRQ n -> IOAPIC pin n (edge, active high: conforming flags 0). */
	for (uint8_t irq = 0; irq < ISA_IRQS; irq++) {
		struct mpc_intsrc src = { .type = 3, .irqtype = 0, .irqflag = 0, .srcbus = 0,
					  .srcbusirq = irq, .dstapic = ioapic_id, .dstirq = irq };
		memcpy(buf + off, &src, sizeof(src));
		off += sizeof(src);
	}
	/* LINT0 = ExtINT (8259 pass-through), LINT1 = NMI, on all local APICs. */
	struct mpc_intsrc lint0 = { .type = 4, .irqtype = 3, .srcbus = 0, .srcbusirq = 0,
				    .dstapic = 0xff, .dstirq = 0 };
	struct mpc_intsrc lint1 = { .type = 4, .irqtype = 1, .srcbus = 0, .srcbusirq = 0,
				    .dstapic = 0xff, .dstirq = 1 };
	memcpy(buf + off, &lint0, sizeof(lint0));
	off += sizeof(lint0);
	memcpy(buf + off, &lint1, sizeof(lint1));
	off += sizeof(lint1);

	memcpy(mpc->signature, "PCMP", 4);
	mpc->length = (uint16_t)off;
	mpc->spec = 4;
	memcpy(mpc->oem, "BULKHEAD", 8);
	memcpy(mpc->productid, "MICROVM     ", 12);
	mpc->lapic = (uint32_t)X86_LAPIC_ADDR;
	mpc->checksum = x86_table_checksum(buf, off);

	memset(&mpf, 0, sizeof(mpf));
	memcpy(mpf.signature, "_MP_", 4);
	mpf.physptr = (uint32_t)X86_MPTABLE_GPA;
	mpf.length = 1;
	mpf.specification = 4;
	mpf.checksum = x86_table_checksum(&mpf, sizeof(mpf));

	if ((ret = gmem_write(gm, X86_MPTABLE_GPA, buf, off)) ||
	    (ret = gmem_write(gm, X86_EBDA_GPA, &mpf, sizeof(mpf))))
		return ret;
	return 0;
}
