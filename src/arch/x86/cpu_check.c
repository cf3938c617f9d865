/* cpu_check.c — see cpu_check.h. */
#include "arch/x86/cpu_check.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define CR0_PE (1ULL << 0)
#define CR0_NW (1ULL << 29)
#define CR0_CD (1ULL << 30)
#define CR0_PG (1ULL << 31)
/* PE MP EM TS ET NE WP AM NW CD PG */
#define CR0_ALLOWED 0xE005003FULL
#define CR4_PAE (1ULL << 5)
#define CR4_UMIP (1ULL << 11)
#define CR4_LA57 (1ULL << 12)
#define CR4_FSGSBASE (1ULL << 16)
#define CR4_PCIDE (1ULL << 17)
#define CR4_OSXSAVE (1ULL << 18)
#define CR4_SMEP (1ULL << 20)
#define CR4_SMAP (1ULL << 21)
#define CR4_PKE (1ULL << 22)
/* VME PVI TSD DE PSE PAE MCE PGE PCE OSFXSR OSXMMEXCPT, and the feature bits
 * above when CPUID has them. Never VMXE/SMXE (no nested guests), CET, PKS. */
#define CR4_ALWAYS 0x7FFULL
#define EFER_SCE (1ULL << 0)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)
#define EFER_NXE (1ULL << 11)
#define RFLAGS_FIXED1 (1ULL << 1)
#define RFLAGS_RESERVED 0xFFFFFFFFFFC08028ULL
#define APIC_BASE_BSP (1ULL << 8)
#define APIC_BASE_X2 (1ULL << 10)
#define APIC_BASE_EN (1ULL << 11)
#define APIC_DEFAULT_BASE 0xFEE00000ULL

static int bad(char *err, size_t errlen, const char *fmt, ...) BH_PRINTF(3, 4);
static int bad(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static const struct kvm_cpuid_entry2 *leaf(const struct kvm_cpuid2 *c, uint32_t fn, uint32_t idx)
{
	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function == fn &&
		    (!(c->entries[i].flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) ||
		     c->entries[i].index == idx))
			return &c->entries[i];
	return NULL;
}

void cpu_caps_from_cpuid(const struct kvm_cpuid2 *c, struct cpu_caps *o)
{
	const struct kvm_cpuid_entry2 *e;

	memset(o, 0, sizeof(*o));
	o->phys_bits = 36;
	if ((e = leaf(c, 1, 0)))
		o->l1_ecx = e->ecx, o->l1_edx = e->edx;
	if ((e = leaf(c, 7, 0)))
		o->l7_ebx = e->ebx, o->l7_ecx = e->ecx, o->l7_edx = e->edx;
	if ((e = leaf(c, 0x80000001, 0)))
		o->x1_ecx = e->ecx, o->x1_edx = e->edx;
	if ((e = leaf(c, 0xd, 0)))
		o->xcr0_mask = (uint64_t)e->edx << 32 | e->eax;
	if ((e = leaf(c, 0x80000008, 0)) && (e->eax & 0xff) >= 32 && (e->eax & 0xff) <= 52)
		o->phys_bits = e->eax & 0xff;
}

int cpu_check_regs(const struct kvm_regs *r, char *err, size_t errlen)
{
	if (!(r->rflags & RFLAGS_FIXED1) || (r->rflags & RFLAGS_RESERVED))
		return bad(err, errlen, "RFLAGS 0x%llx: reserved bits wrong",
			   (unsigned long long)r->rflags);
	return 0;
}

static int check_seg(const struct kvm_segment *s, const char *name, char *err, size_t errlen)
{
	if (s->type > 15 || s->dpl > 3 || s->present > 1 || s->s > 1 || s->l > 1 || s->db > 1 ||
	    s->g > 1 || s->avl > 1 || s->unusable > 1)
		return bad(err, errlen, "segment %s: a descriptor field is out of range", name);
	if (s->l && s->db)
		return bad(err, errlen, "segment %s: L and D/B both set", name);
	return 0;
}

int cpu_check_sregs(const struct cpu_caps *caps, const struct kvm_sregs *s, unsigned index,
		    char *err, size_t errlen)
{
	const struct {
		const struct kvm_segment *seg;
		const char *name;
	} segs[] = { { &s->cs, "CS" }, { &s->ds, "DS" }, { &s->es, "ES" }, { &s->fs, "FS" },
		     { &s->gs, "GS" }, { &s->ss, "SS" }, { &s->tr, "TR" }, { &s->ldt, "LDTR" } };
	uint64_t cr4_ok = CR4_ALWAYS;
	int ret;

	if (s->cr0 & ~CR0_ALLOWED)
		return bad(err, errlen, "CR0 0x%llx: bits outside the architecture's",
			   (unsigned long long)s->cr0);
	if ((s->cr0 & CR0_PG) && !(s->cr0 & CR0_PE))
		return bad(err, errlen, "CR0 0x%llx: paging without protected mode",
			   (unsigned long long)s->cr0);
	if ((s->cr0 & CR0_NW) && !(s->cr0 & CR0_CD))
		return bad(err, errlen, "CR0 0x%llx: NW without CD", (unsigned long long)s->cr0);
	if (caps->l7_ecx & (1u << 2))
		cr4_ok |= CR4_UMIP;
	if (caps->l7_ecx & (1u << 16))
		cr4_ok |= CR4_LA57;
	if (caps->l7_ebx & (1u << 0))
		cr4_ok |= CR4_FSGSBASE;
	if (caps->l1_ecx & (1u << 17))
		cr4_ok |= CR4_PCIDE;
	if (caps->l1_ecx & (1u << 26))
		cr4_ok |= CR4_OSXSAVE;
	if (caps->l7_ebx & (1u << 7))
		cr4_ok |= CR4_SMEP;
	if (caps->l7_ebx & (1u << 20))
		cr4_ok |= CR4_SMAP;
	if (caps->l7_ecx & (1u << 3))
		cr4_ok |= CR4_PKE;
	if (s->cr4 & ~cr4_ok)
		return bad(err, errlen, "CR4 0x%llx: bits 0x%llx are not allowed by the CPU template",
			   (unsigned long long)s->cr4, (unsigned long long)(s->cr4 & ~cr4_ok));
	if (s->efer & ~(EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE))
		return bad(err, errlen, "EFER 0x%llx: bits outside SCE/LME/LMA/NXE",
			   (unsigned long long)s->efer);
	if ((s->efer & EFER_NXE) && !(caps->x1_edx & (1u << 20)))
		return bad(err, errlen, "EFER.NXE set but the CPU template has no NX");
	if ((s->efer & EFER_LME) && !(caps->x1_edx & (1u << 29)))
		return bad(err, errlen, "EFER.LME set but the CPU template has no long mode");
	if (!!(s->efer & EFER_LMA) != ((s->efer & EFER_LME) && (s->cr0 & CR0_PG)))
		return bad(err, errlen, "EFER.LMA 0x%llx disagrees with LME and CR0.PG",
			   (unsigned long long)s->efer);
	if ((s->efer & EFER_LMA) && !(s->cr4 & CR4_PAE))
		return bad(err, errlen, "long mode without CR4.PAE");
	if (s->cr3 >> caps->phys_bits)
		return bad(err, errlen, "CR3 0x%llx: beyond the %u-bit physical address space",
			   (unsigned long long)s->cr3, caps->phys_bits);
	if (s->cr8 > 15)
		return bad(err, errlen, "CR8 %llu: more than 15", (unsigned long long)s->cr8);
	if ((s->apic_base & ~(APIC_BASE_BSP | APIC_BASE_X2 | APIC_BASE_EN)) != APIC_DEFAULT_BASE)
		return bad(err, errlen, "APIC base 0x%llx: not the LAPIC at 0xfee00000",
			   (unsigned long long)s->apic_base);
	if (!!(s->apic_base & APIC_BASE_BSP) != (index == 0))
		return bad(err, errlen, "APIC base: the BSP flag belongs to vCPU 0 alone");
	if ((s->apic_base & APIC_BASE_X2) &&
	    (!(s->apic_base & APIC_BASE_EN) || !(caps->l1_ecx & (1u << 21))))
		return bad(err, errlen, "APIC base: x2APIC mode not allowed here");
	for (size_t i = 0; i < sizeof(segs) / sizeof(segs[0]); i++)
		if ((ret = check_seg(segs[i].seg, segs[i].name, err, errlen)))
			return ret;
	if ((s->efer & EFER_LMA) && s->cs.l && !s->cs.present)
		return bad(err, errlen, "segment CS: 64-bit code segment not present");
	return 0;
}

int cpu_check_xcrs(const struct cpu_caps *caps, const struct kvm_xcrs *x, char *err,
		   size_t errlen)
{
	if (x->flags || x->nr_xcrs > 1)
		return bad(err, errlen, "XCRs: %u registers, flags 0x%x (only XCR0 exists)",
			   x->nr_xcrs, x->flags);
	if (x->nr_xcrs == 0)
		return 0;
	if (x->xcrs[0].xcr != 0)
		return bad(err, errlen, "XCR%u: no such register", x->xcrs[0].xcr);
	if (!(x->xcrs[0].value & 1) || (x->xcrs[0].value & ~caps->xcr0_mask) ||
	    ((x->xcrs[0].value & 4) && !(x->xcrs[0].value & 2)))
		return bad(err, errlen, "XCR0 0x%llx: not allowed by the CPU template (0x%llx)",
			   (unsigned long long)x->xcrs[0].value,
			   (unsigned long long)caps->xcr0_mask);
	return 0;
}

int cpu_check_events(const struct kvm_vcpu_events *e, char *err, size_t errlen)
{
	const uint32_t known = KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR |
			       KVM_VCPUEVENT_VALID_SHADOW | KVM_VCPUEVENT_VALID_SMM |
			       KVM_VCPUEVENT_VALID_PAYLOAD |
			       KVM_VCPUEVENT_VALID_TRIPLE_FAULT;

	if (e->flags & ~known)
		return bad(err, errlen, "vCPU events: unknown flags 0x%x", e->flags);
	if (e->exception.injected > 1 || e->exception.pending > 1 ||
	    e->exception.has_error_code > 1 || e->exception.nr >= 32 ||
	    e->exception_has_payload > 1)
		return bad(err, errlen, "vCPU events: exception %u state out of range",
			   e->exception.nr);
	if (e->interrupt.injected > 1 || e->interrupt.soft > 1 || e->interrupt.shadow > 3)
		return bad(err, errlen, "vCPU events: interrupt state out of range");
	if (e->nmi.injected > 1 || e->nmi.pending > 1 || e->nmi.masked > 1 || e->nmi.pad)
		return bad(err, errlen, "vCPU events: NMI state out of range");
	if (e->sipi_vector > 0xff)
		return bad(err, errlen, "vCPU events: SIPI vector %u", e->sipi_vector);
	if (e->smi.smm || e->smi.pending || e->smi.smm_inside_nmi || e->smi.latched_init > 1 ||
	    e->triple_fault.pending > 1)
		return bad(err, errlen, "vCPU events: SMM state (never entered here) or triple-fault "
			   "state out of range");
	for (size_t i = 0; i < sizeof(e->reserved); i++)
		if (e->reserved[i])
			return bad(err, errlen, "vCPU events: reserved bytes not zero");
	return 0;
}

int cpu_check_mp_state(uint32_t mp, char *err, size_t errlen)
{
	if (mp != KVM_MP_STATE_RUNNABLE && mp != KVM_MP_STATE_UNINITIALIZED &&
	    mp != KVM_MP_STATE_INIT_RECEIVED && mp != KVM_MP_STATE_HALTED &&
	    mp != KVM_MP_STATE_SIPI_RECEIVED)
		return bad(err, errlen, "MP state %u: not a state an x86 vCPU can be in", mp);
	return 0;
}

int cpu_check_debugregs(const struct kvm_debugregs *d, char *err, size_t errlen)
{
	if (d->flags || (d->dr6 >> 32) || (d->dr7 >> 32))
		return bad(err, errlen, "debug registers: DR6 0x%llx / DR7 0x%llx / flags out of "
			   "range", (unsigned long long)d->dr6, (unsigned long long)d->dr7);
	for (size_t i = 0; i < sizeof(d->reserved) / sizeof(d->reserved[0]); i++)
		if (d->reserved[i])
			return bad(err, errlen, "debug registers: reserved words not zero");
	return 0;
}

int cpu_check_lapic(const struct kvm_lapic_state *l, const struct kvm_sregs *s, unsigned index,
		    char *err, size_t errlen)
{
	uint32_t id;

	memcpy(&id, &l->regs[0x20], sizeof(id));
	if (!(s->apic_base & APIC_BASE_X2))
		id >>= 24;
	if (id != index)
		return bad(err, errlen, "LAPIC ID %u on vCPU %u", id, index);
	return 0;
}

int cpu_check_irqchip(const struct kvm_irqchip *c, uint32_t chip_id, char *err, size_t errlen)
{
	if (c->chip_id != chip_id || c->pad)
		return bad(err, errlen, "irqchip %u: saved as chip %u", chip_id, c->chip_id);
	if (chip_id == KVM_IRQCHIP_IOAPIC) {
		const struct kvm_ioapic_state *io = &c->chip.ioapic;

		if (io->base_address != 0xfec00000ULL || io->ioregsel > 0xff)
			return bad(err, errlen, "IOAPIC: base 0x%llx / register select %u",
				   (unsigned long long)io->base_address, io->ioregsel);
	} else {
		const struct kvm_pic_state *p = &c->chip.pic;

		if (p->read_reg_select > 1 || p->poll > 1 || p->special_mask > 1 ||
		    p->init_state > 3 || p->auto_eoi > 1 || p->rotate_on_auto_eoi > 1 ||
		    p->special_fully_nested_mode > 1 || p->init4 > 1 || p->priority_add > 7)
			return bad(err, errlen, "PIC %s: state out of range",
				   chip_id == KVM_IRQCHIP_PIC_MASTER ? "master" : "slave");
	}
	return 0;
}

int cpu_check_pit(const struct kvm_pit_state2 *p, char *err, size_t errlen)
{
	if (p->flags & ~(uint32_t)(KVM_PIT_FLAGS_HPET_LEGACY | KVM_PIT_FLAGS_SPEAKER_DATA_ON))
		return bad(err, errlen, "PIT: flags 0x%x", p->flags);
	for (unsigned i = 0; i < 3; i++) {
		const struct kvm_pit_channel_state *c = &p->channels[i];

		/* mode 0xff: never programmed (KVM's reset value) */
		if (c->count > 0x10000 || (c->mode > 5 && c->mode != 0xff) || c->rw_mode > 3 || c->read_state > 4 ||
		    c->write_state > 4 || c->bcd > 1 || c->gate > 1 || c->count_latched > 3 ||
		    c->status_latched > 1)
			return bad(err, errlen, "PIT channel %u: state out of range", i);
	}
	return 0;
}

int cpu_check_cpuid(const struct kvm_cpuid2 *snap, const struct kvm_cpuid2 *host, char *err,
		    size_t errlen)
{
	static const struct {
		uint32_t fn, idx;
		const char *name;
	} feat[] = { { 1, 0, "1" }, { 7, 0, "7.0" }, { 0xd, 1, "0xd.1" },
		     { 0x80000001, 0, "0x80000001" } };
	const struct kvm_cpuid_entry2 *s, *h;

	for (uint32_t i = 0; i < snap->nent; i++) {
		const struct kvm_cpuid_entry2 *e = &snap->entries[i];

		if (!leaf(host, e->function, e->index))
			return bad(err, errlen, "CPUID leaf 0x%x.%u of the snapshot does not exist "
				   "on this host", e->function, e->index);
	}
	s = leaf(snap, 0, 0);
	h = leaf(host, 0, 0);
	if (!s || !h || s->ebx != h->ebx || s->ecx != h->ecx || s->edx != h->edx)
		return bad(err, errlen, "the snapshot was taken on a CPU of another vendor");
	for (size_t f = 0; f < sizeof(feat) / sizeof(feat[0]); f++) {
		uint32_t sv[4], hv[4] = { 0 };
		static const char rn[4][4] = { "EAX", "EBX", "ECX", "EDX" };

		if (!(s = leaf(snap, feat[f].fn, feat[f].idx)))
			continue;
		h = leaf(host, feat[f].fn, feat[f].idx);
		sv[0] = s->eax, sv[1] = s->ebx, sv[2] = s->ecx, sv[3] = s->edx;
		if (h)
			hv[0] = h->eax, hv[1] = h->ebx, hv[2] = h->ecx, hv[3] = h->edx;
		/* Leaf 1 EBX (APIC ID, counts) and 0xd.1's EBX (a size) are
		 * not features; leaf 1's EDX bit 9 (APIC) and ECX bit 27
		 * (OSXSAVE) mirror state. */
		for (unsigned r = 0; r < 4; r++) {
			uint32_t missing = sv[r] & ~hv[r];

			if ((feat[f].fn == 1 && r == 1) || (feat[f].fn == 0xd && r == 1) ||
			    (feat[f].fn == 7 && r == 0))
				continue;
			if (feat[f].fn == 1 && r == 2)
				missing &= ~(1u << 27);
			if (missing)
				return bad(err, errlen, "this host's CPU lacks features the snapshot's "
					   "CPUID advertised: leaf %s %s bits 0x%08x", feat[f].name,
					   rn[r], missing);
		}
	}
	if ((s = leaf(snap, 0xd, 0)) && (h = leaf(host, 0xd, 0)) &&
	    ((s->eax & ~h->eax) || (s->edx & ~h->edx)))
		return bad(err, errlen, "this host's CPU lacks XSAVE state components the snapshot's "
			   "CPUID advertised (XCR0 0x%llx)", ((unsigned long long)s->edx << 32) | s->eax);
	return 0;
}
