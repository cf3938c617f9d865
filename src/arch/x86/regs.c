/* regs.c — see regs.h. */
#include "regs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/kvm.h>

#include "arch/x86/layout.h"
#include "common/log.h"

#define CR0_PE (1ULL << 0)
#define CR0_ET (1ULL << 4)
#define CR0_NE (1ULL << 5)
#define CR0_PG (1ULL << 31)
#define CR4_PAE (1ULL << 5)
#define EFER_SCE (1ULL << 0)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)

#define PTE_P (1ULL << 0)
#define PTE_RW (1ULL << 1)
#define PTE_PS (1ULL << 7)

/* Flat descriptors: base 0, limit 4 GiB. */
#define GDT_CODE32 0x00cf9b000000ffffULL /* P, DPL0, code RX, D=1, G=1 */
#define GDT_CODE64 0x00af9b000000ffffULL /* P, DPL0, code RX, L=1, G=1 */
#define GDT_DATA 0x00cf93000000ffffULL   /* P, DPL0, data RW, B=1, G=1 */

int x86_setup_boot_tables(struct guest_mem *gm)
{
	const uint64_t gdt[4] = { 0, GDT_CODE32, GDT_CODE64, GDT_DATA };
	const uint64_t idt = 0;
	uint64_t pml4[512] = { 0 }, pdpt[512] = { 0 }, pd[512];
	int ret;

	if ((ret = gmem_write(gm, X86_GDT_GPA, gdt, sizeof(gdt))) ||
	    (ret = gmem_write(gm, X86_IDT_GPA, &idt, sizeof(idt))))
		return ret;

	pml4[0] = X86_PDPT_GPA | PTE_P | PTE_RW;
	for (unsigned i = 0; i < 4; i++)
		pdpt[i] = (X86_PD_GPA + i * 4096) | PTE_P | PTE_RW;
	if ((ret = gmem_write(gm, X86_PML4_GPA, pml4, sizeof(pml4))) ||
	    (ret = gmem_write(gm, X86_PDPT_GPA, pdpt, sizeof(pdpt))))
		return ret;
	/* 4 PDs x 512 x 2 MiB = identity map of [0, 4 GiB). */
	for (unsigned t = 0; t < 4; t++) {
		for (unsigned i = 0; i < 512; i++)
			pd[i] = (((uint64_t)t << 30) + ((uint64_t)i << 21)) | PTE_P | PTE_RW | PTE_PS;
		if ((ret = gmem_write(gm, X86_PD_GPA + t * 4096, pd, sizeof(pd))))
			return ret;
	}
	return 0;
}

static void seg_flat(struct kvm_segment *s, uint16_t sel, uint8_t type, bool code64, bool db)
{
	memset(s, 0, sizeof(*s));
	s->base = 0;
	s->limit = 0xffffffff;
	s->selector = sel;
	s->type = type;
	s->present = 1;
	s->dpl = 0;
	s->db = db;
	s->s = 1;
	s->l = code64;
	s->g = 1;
}

int x86_setup_bsp_regs(int vcpu_fd, const struct boot_plan *plan)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_segment data;

	if (ioctl(vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;

	sregs.gdt.base = X86_GDT_GPA;
	sregs.gdt.limit = 4 * 8 - 1;
	sregs.idt.base = X86_IDT_GPA;
	sregs.idt.limit = 7;
	seg_flat(&data, X86_SEL_DATA, 3 /* RW, accessed */, false, true);
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;

	memset(&regs, 0, sizeof(regs));
	regs.rflags = 2; /* reserved bit 1; IF = 0 */
	regs.rip = plan->entry;

	if (plan->kind == BOOT_ENTRY_PVH32) {
		/* PVH: 32-bit protected mode, paging off, EBX = start_info. */
		seg_flat(&sregs.cs, X86_SEL_CODE32, 11 /* RX, accessed */, false, true);
		sregs.cr0 = CR0_PE | CR0_ET;
		sregs.cr4 = 0;
		sregs.efer = 0;
		regs.rbx = plan->params_gpa;
	} else {
		/* Linux 64-bit boot protocol: long mode, identity map, RSI = zero page. */
		seg_flat(&sregs.cs, X86_SEL_CODE64, 11, true, false);
		sregs.cr3 = X86_PML4_GPA;
		sregs.cr4 = CR4_PAE;
		sregs.cr0 = CR0_PE | CR0_ET | CR0_NE | CR0_PG;
		sregs.efer = EFER_LME | EFER_LMA | EFER_SCE;
		regs.rsi = plan->params_gpa;
		regs.rsp = X86_BOOT_STACK_GPA;
		regs.rbp = X86_BOOT_STACK_GPA;
	}
	if (ioctl(vcpu_fd, KVM_SET_SREGS, &sregs) < 0 || ioctl(vcpu_fd, KVM_SET_REGS, &regs) < 0)
		return -errno;
	return 0;
}

#define MSR_IA32_SYSENTER_CS 0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_CSTAR 0xc0000083
#define MSR_SYSCALL_MASK 0xc0000084
#define MSR_KERNEL_GS_BASE 0xc0000102
#define MSR_IA32_MISC_ENABLE 0x1a0
#define MSR_MTRR_DEF_TYPE 0x2ff

int x86_setup_msrs(int vcpu_fd)
{
	static const struct {
		uint32_t index;
		uint64_t data;
	} init[] = {
		{ MSR_IA32_SYSENTER_CS, 0 },  { MSR_IA32_SYSENTER_ESP, 0 },
		{ MSR_IA32_SYSENTER_EIP, 0 }, { MSR_STAR, 0 },
		{ MSR_CSTAR, 0 },             { MSR_KERNEL_GS_BASE, 0 },
		{ MSR_SYSCALL_MASK, 0 },      { MSR_LSTAR, 0 },
		{ MSR_IA32_MISC_ENABLE, 1 },  /* fast strings */
		{ MSR_MTRR_DEF_TYPE, (1u << 11) | 6 }, /* MTRRs on, default write-back */
	};
	/* struct kvm_msrs ends in a flexible array: give it room in a union. */
	union {
		struct kvm_msrs hdr;
		uint8_t raw[sizeof(struct kvm_msrs) +
			    BH_ARRAY_SIZE(init) * sizeof(struct kvm_msr_entry)];
	} m;
	int n;

	memset(&m, 0, sizeof(m));
	m.hdr.nmsrs = BH_ARRAY_SIZE(init);
	for (size_t i = 0; i < BH_ARRAY_SIZE(init); i++) {
		m.hdr.entries[i].index = init[i].index;
		m.hdr.entries[i].data = init[i].data;
	}
	n = ioctl(vcpu_fd, KVM_SET_MSRS, &m);
	if (n < 0)
		return -errno;
	if ((size_t)n < BH_ARRAY_SIZE(init))
		bh_dbg("KVM_SET_MSRS stopped at MSR 0x%x (%d of %zu set)", init[n].index, n,
		       BH_ARRAY_SIZE(init));
	/* KVM stops at the first MSR it refuses; those left are optional
	 * (e.g. MISC_ENABLE on AMD hosts), so a partial set is not an error. */
	return 0;
}

#define APIC_LVT0 0x350
#define APIC_LVT1 0x360
#define APIC_MODE_EXTINT 0x7
#define APIC_MODE_NMI 0x4

static void lapic_set_delivery(struct kvm_lapic_state *l, unsigned reg, uint32_t mode)
{
	uint32_t v;

	memcpy(&v, &l->regs[reg], 4);
	v = (v & ~0x700u) | (mode << 8);
	memcpy(&l->regs[reg], &v, 4);
}

int x86_setup_lapic(int vcpu_fd)
{
	struct kvm_lapic_state l;

	if (ioctl(vcpu_fd, KVM_GET_LAPIC, &l) < 0)
		return -errno;
	lapic_set_delivery(&l, APIC_LVT0, APIC_MODE_EXTINT);
	lapic_set_delivery(&l, APIC_LVT1, APIC_MODE_NMI);
	if (ioctl(vcpu_fd, KVM_SET_LAPIC, &l) < 0)
		return -errno;
	return 0;
}

static void dump_seg(FILE *out, const char *name, const struct kvm_segment *s)
{
	fprintf(out, "  %-3s sel=0x%04x base=0x%016llx limit=0x%08x type=%u dpl=%u l=%u db=%u p=%u\n",
		name, s->selector, (unsigned long long)s->base, s->limit, s->type, s->dpl, s->l,
		s->db, s->present);
}

void x86_dump_regs(int vcpu_fd, FILE *out)
{
	struct kvm_regs r;
	struct kvm_sregs s;

	if (ioctl(vcpu_fd, KVM_GET_REGS, &r) < 0 || ioctl(vcpu_fd, KVM_GET_SREGS, &s) < 0) {
		fprintf(out, "  (registers unavailable: %s)\n", strerror(errno));
		return;
	}
	fprintf(out,
		"  rip=0x%016llx rsp=0x%016llx rbp=0x%016llx rflags=0x%08llx\n"
		"  rax=0x%016llx rbx=0x%016llx rcx=0x%016llx rdx=0x%016llx\n"
		"  rsi=0x%016llx rdi=0x%016llx r8 =0x%016llx r9 =0x%016llx\n"
		"  r10=0x%016llx r11=0x%016llx r12=0x%016llx r13=0x%016llx\n"
		"  r14=0x%016llx r15=0x%016llx\n"
		"  cr0=0x%016llx cr2=0x%016llx cr3=0x%016llx cr4=0x%016llx efer=0x%llx\n",
		r.rip, r.rsp, r.rbp, r.rflags, r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.r8, r.r9,
		r.r10, r.r11, r.r12, r.r13, r.r14, r.r15, s.cr0, s.cr2, s.cr3, s.cr4, s.efer);
	dump_seg(out, "cs", &s.cs);
	dump_seg(out, "ss", &s.ss);
	dump_seg(out, "ds", &s.ds);
	fprintf(out, "  gdt base=0x%llx limit=0x%x idt base=0x%llx limit=0x%x\n",
		(unsigned long long)s.gdt.base, s.gdt.limit, (unsigned long long)s.idt.base,
		s.idt.limit);
}
