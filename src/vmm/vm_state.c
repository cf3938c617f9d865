/* vm_state.c — see vm_state.h. */
#include "vmm/vm_state.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <linux/kvm.h>

#include "arch/x86/cpu_check.h"
#include "common/log.h"
#include "arch/x86/cpuid.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

#define MAX_CPUID_ENTRIES 256
#define MAX_XSAVE (1u << 16)

static int failf(char *err, size_t errlen, int ret, const char *fmt, ...) BH_PRINTF(4, 5);
static int failf(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return ret;
}

void vm_state_save_cpuid(struct vm *vm, struct sbuf *out)
{
	sbuf_u32(out, vm->cpuid->nent);
	sbuf_put(out, vm->cpuid->entries, vm->cpuid->nent * sizeof(vm->cpuid->entries[0]));
}

int vm_state_load_cpuid(struct vm *vm, const void *p, size_t len, uint32_t version, char *err,
			size_t errlen)
{
	struct kvm_cpuid2 *c;
	struct sreader r;
	uint32_t n;
	int ret;

	if (version != VM_STATE_CPUID_VERSION)
		return failf(err, errlen, -EINVAL, "CPUID: section version %u unknown", version);
	sr_init(&r, p, len);
	n = sr_u32(&r);
	if (n == 0 || n > MAX_CPUID_ENTRIES)
		return failf(err, errlen, -EINVAL, "CPUID: %u entries (1-%u)", n, MAX_CPUID_ENTRIES);
	c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
	if (!c)
		return failf(err, errlen, -ENOMEM, "CPUID: out of memory");
	c->nent = n;
	sr_get(&r, c->entries, n * sizeof(c->entries[0]));
	if (sr_finish(&r)) {
		free(c);
		return failf(err, errlen, -EINVAL, "CPUID: section truncated or too long");
	}
	for (uint32_t i = 0; i < n; i++)
		if (c->entries[i].flags & ~(uint32_t)KVM_CPUID_FLAG_SIGNIFCANT_INDEX ||
		    c->entries[i].padding[0] || c->entries[i].padding[1] || c->entries[i].padding[2]) {
			free(c);
			return failf(err, errlen, -EINVAL, "CPUID: entry %u has unknown flags", i);
		}
	if ((ret = cpu_check_cpuid(c, vm->cpuid, err, errlen))) {
		free(c);
		return ret;
	}
	for (unsigned i = 0; i < vm->ncpus; i++)
		if ((ret = cpuid_apply(vm->vcpus[i].fd, c, i, vm->ncpus))) {
			free(c);
			return failf(err, errlen, ret, "KVM_SET_CPUID2 on vCPU %u: %s", i,
				     strerror(-ret));
		}
	free(vm->cpuid);
	vm->cpuid = c;
	return 0;
}

/* ---- vCPUs ---- */

struct vcpu_state {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_xsave *xsave; /* vm->xsave_size bytes */
	struct kvm_xcrs xcrs;
	struct kvm_msrs *msrs;   /* nmsrs entries */
	struct kvm_lapic_state lapic;
	struct kvm_vcpu_events events;
	struct kvm_mp_state mp;
	struct kvm_debugregs dbg;
};

static void vcpu_state_free(struct vcpu_state *s)
{
	free(s->xsave);
	free(s->msrs);
}

/* Read every MSR of the index list KVM will give. KVM_GET_MSRS stops at the
 * first one it refuses: skip that one and go on. */
static int get_msrs(struct vm *vm, int fd, struct kvm_msrs **out)
{
	struct kvm_msrs *m = calloc(1, sizeof(*m) + vm->nmsr_index * sizeof(m->entries[0]));
	struct kvm_msrs *q = calloc(1, sizeof(*q) + vm->nmsr_index * sizeof(q->entries[0]));
	unsigned i = 0, kept = 0;

	if (!m || !q) {
		free(m);
		free(q);
		return -ENOMEM;
	}
	while (i < vm->nmsr_index) {
		int n;

		q->nmsrs = vm->nmsr_index - i;
		for (unsigned j = 0; j < q->nmsrs; j++)
			q->entries[j] = (struct kvm_msr_entry){ .index = vm->msr_index[i + j] };
		n = ioctl(fd, KVM_GET_MSRS, q);
		if (n < 0) {
			int e = errno;

			free(m);
			free(q);
			return -e;
		}
		for (int j = 0; j < n; j++)
			m->entries[kept++] = q->entries[j];
		i += (unsigned)n + 1; /* n read; the next one is refused: skip it */
	}
	m->nmsrs = kept;
	free(q);
	*out = m;
	return 0;
}

int vm_state_save_vcpu(struct vm *vm, unsigned index, struct sbuf *out, char *err,
		       size_t errlen)
{
	int fd = vm->vcpus[index].fd;
	struct vcpu_state s;
	const char *what;
	int ret;

	memset(&s, 0, sizeof(s));
	s.xsave = calloc(1, vm->xsave_size);
	if (!s.xsave)
		return failf(err, errlen, -ENOMEM, "vCPU %u: out of memory", index);
	if (ioctl(fd, KVM_GET_REGS, &s.regs) < 0) {
		what = "KVM_GET_REGS";
		goto fail;
	}
	if (ioctl(fd, KVM_GET_SREGS, &s.sregs) < 0) {
		what = "KVM_GET_SREGS";
		goto fail;
	}
	if (ioctl(fd, vm->xsave_size > sizeof(struct kvm_xsave) ? KVM_GET_XSAVE2 : KVM_GET_XSAVE,
		  s.xsave) < 0) {
		what = "KVM_GET_XSAVE";
		goto fail;
	}
	if (ioctl(fd, KVM_GET_XCRS, &s.xcrs) < 0) {
		what = "KVM_GET_XCRS";
		goto fail;
	}
	if (ioctl(fd, KVM_GET_LAPIC, &s.lapic) < 0) {
		what = "KVM_GET_LAPIC";
		goto fail;
	}
	if (ioctl(fd, KVM_GET_VCPU_EVENTS, &s.events) < 0) {
		what = "KVM_GET_VCPU_EVENTS";
		goto fail;
	}
	if (ioctl(fd, KVM_GET_MP_STATE, &s.mp) < 0) {
		what = "KVM_GET_MP_STATE";
		goto fail;
	}
	if (ioctl(fd, KVM_GET_DEBUGREGS, &s.dbg) < 0) {
		what = "KVM_GET_DEBUGREGS";
		goto fail;
	}
	if ((ret = get_msrs(vm, fd, &s.msrs))) {
		vcpu_state_free(&s);
		return failf(err, errlen, ret, "vCPU %u: KVM_GET_MSRS: %s", index, strerror(-ret));
	}
	sbuf_put(out, &s.regs, sizeof(s.regs));
	sbuf_put(out, &s.sregs, sizeof(s.sregs));
	sbuf_u32(out, vm->xsave_size);
	sbuf_put(out, s.xsave, vm->xsave_size);
	sbuf_put(out, &s.xcrs, sizeof(s.xcrs));
	sbuf_u32(out, s.msrs->nmsrs);
	for (unsigned i = 0; i < s.msrs->nmsrs; i++) {
		sbuf_u32(out, s.msrs->entries[i].index);
		sbuf_u64(out, s.msrs->entries[i].data);
	}
	sbuf_put(out, &s.lapic, sizeof(s.lapic));
	sbuf_put(out, &s.events, sizeof(s.events));
	sbuf_u32(out, s.mp.mp_state);
	sbuf_put(out, &s.dbg, sizeof(s.dbg));
	vcpu_state_free(&s);
	return out->err;
fail:
	ret = -errno;
	vcpu_state_free(&s);
	return failf(err, errlen, ret, "vCPU %u: %s: %s", index, what, strerror(-ret));
}

static bool msr_allowed(const struct vm *vm, uint32_t index)
{
	for (unsigned i = 0; i < vm->nmsr_index; i++)
		if (vm->msr_index[i] == index)
			return true;
	return false;
}

/* Parse and check a vCPU blob completely; nothing touches KVM. */
static int parse_vcpu(struct vm *vm, unsigned index, struct sreader *r, struct vcpu_state *s,
		      char *e, size_t el)
{
	struct cpu_caps caps;
	uint32_t xs, n;
	int ret;

	cpu_caps_from_cpuid(vm->cpuid, &caps);
	sr_get(r, &s->regs, sizeof(s->regs));
	sr_get(r, &s->sregs, sizeof(s->sregs));
	xs = sr_u32(r);
	if (r->bad)
		return failf(e, el, -EINVAL, "truncated");
	if (xs != vm->xsave_size)
		return failf(e, el, -EINVAL, "XSAVE area of %u bytes; this host's KVM uses %u", xs,
			     vm->xsave_size);
	if (!(s->xsave = calloc(1, xs)))
		return failf(e, el, -ENOMEM, "out of memory");
	sr_get(r, s->xsave, xs);
	sr_get(r, &s->xcrs, sizeof(s->xcrs));
	n = sr_u32(r);
	if (r->bad)
		return failf(e, el, -EINVAL, "truncated");
	if (n > vm->nmsr_index)
		return failf(e, el, -EINVAL, "%u MSRs; this host's KVM knows %u", n, vm->nmsr_index);
	if (!(s->msrs = calloc(1, sizeof(*s->msrs) + (n ? n : 1) * sizeof(s->msrs->entries[0]))))
		return failf(e, el, -ENOMEM, "out of memory");
	s->msrs->nmsrs = n;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t idx = sr_u32(r);

		s->msrs->entries[i].index = idx;
		s->msrs->entries[i].data = sr_u64(r);
		if (r->bad)
			return failf(e, el, -EINVAL, "truncated in the MSRs");
		if (!msr_allowed(vm, idx))
			return failf(e, el, -EINVAL, "MSR 0x%x is not one this host's KVM saves", idx);
		for (uint32_t j = 0; j < i; j++)
			if (s->msrs->entries[j].index == idx)
				return failf(e, el, -EINVAL, "MSR 0x%x appears twice", idx);
	}
	sr_get(r, &s->lapic, sizeof(s->lapic));
	sr_get(r, &s->events, sizeof(s->events));
	s->mp.mp_state = sr_u32(r);
	sr_get(r, &s->dbg, sizeof(s->dbg));
	if (sr_finish(r))
		return failf(e, el, -EINVAL, "section truncated or too long");
	if ((ret = cpu_check_regs(&s->regs, e, el)) ||
	    (ret = cpu_check_sregs(&caps, &s->sregs, index, e, el)) ||
	    (ret = cpu_check_xcrs(&caps, &s->xcrs, e, el)) ||
	    (ret = cpu_check_lapic(&s->lapic, &s->sregs, index, e, el)) ||
	    (ret = cpu_check_events(&s->events, e, el)) ||
	    (ret = cpu_check_mp_state(s->mp.mp_state, e, el)) ||
	    (ret = cpu_check_debugregs(&s->dbg, e, el)))
		return ret;
	return 0;
}

int vm_state_load_vcpu(struct vm *vm, unsigned index, const void *p, size_t len,
		       uint32_t version, char *err, size_t errlen)
{
	struct vcpu_state s;
	struct sreader r;
	char why[256];
	const char *what;
	int fd, ret, n;

	if (index >= vm->ncpus)
		return failf(err, errlen, -EINVAL, "vCPU %u: the VM has %u", index, vm->ncpus);
	if (version != VM_STATE_VCPU_VERSION)
		return failf(err, errlen, -EINVAL, "vCPU %u: section version %u unknown", index,
			     version);
	memset(&s, 0, sizeof(s));
	sr_init(&r, p, len);
	if ((ret = parse_vcpu(vm, index, &r, &s, why, sizeof(why)))) {
		vcpu_state_free(&s);
		return failf(err, errlen, ret, "vCPU %u: %s", index, why);
	}
	/* QEMU's order: special registers first (mode), then the rest; the
	 * LAPIC before the MSRs (TSC deadline needs its timer mode). */
	fd = vm->vcpus[index].fd;
	what = "KVM_SET_SREGS";
	if (ioctl(fd, KVM_SET_SREGS, &s.sregs) < 0)
		goto fail;
	what = "KVM_SET_REGS";
	if (ioctl(fd, KVM_SET_REGS, &s.regs) < 0)
		goto fail;
	what = "KVM_SET_XSAVE";
	if (ioctl(fd, KVM_SET_XSAVE, s.xsave) < 0)
		goto fail;
	what = "KVM_SET_XCRS";
	if (s.xcrs.nr_xcrs && ioctl(fd, KVM_SET_XCRS, &s.xcrs) < 0)
		goto fail;
	what = "KVM_SET_LAPIC";
	if (ioctl(fd, KVM_SET_LAPIC, &s.lapic) < 0)
		goto fail;
	n = ioctl(fd, KVM_SET_MSRS, s.msrs);
	if (n < 0) {
		what = "KVM_SET_MSRS";
		goto fail;
	}
	if ((uint32_t)n < s.msrs->nmsrs) {
		ret = failf(err, errlen, -EINVAL, "vCPU %u: KVM refused MSR 0x%x = 0x%llx", index,
			    s.msrs->entries[n].index,
			    (unsigned long long)s.msrs->entries[n].data);
		vcpu_state_free(&s);
		return ret;
	}
	what = "KVM_SET_MP_STATE";
	if (ioctl(fd, KVM_SET_MP_STATE, &s.mp) < 0)
		goto fail;
	what = "KVM_SET_VCPU_EVENTS";
	if (ioctl(fd, KVM_SET_VCPU_EVENTS, &s.events) < 0)
		goto fail;
	what = "KVM_SET_DEBUGREGS";
	if (ioctl(fd, KVM_SET_DEBUGREGS, &s.dbg) < 0)
		goto fail;
	vcpu_state_free(&s);
	return 0;
fail:
	ret = -errno;
	vcpu_state_free(&s);
	return failf(err, errlen, ret, "vCPU %u: %s refused the saved state: %s", index, what,
		     strerror(-ret));
}

/* ---- the VM ---- */

/* CLOCK_REALTIME in ns, or 0 if unreadable. */
static uint64_t realtime_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) || ts.tv_sec < 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Longest stop the clock is advanced over without KVM's help (10 years):
 * a saved host time further back is a hostile or broken file. */
#define CLOCK_ADVANCE_MAX_NS (10ULL * 366 * 86400 * 1000000000ULL)

int vm_state_save_vm(struct vm *vm, struct sbuf *out, char *err, size_t errlen)
{
	struct kvm_irqchip chip;
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clk;

	for (uint32_t id = 0; id < 3; id++) {
		memset(&chip, 0, sizeof(chip));
		chip.chip_id = id;
		if (ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &chip) < 0)
			return failf(err, errlen, -errno, "KVM_GET_IRQCHIP %u: %s", id,
				     strerror(errno));
		sbuf_put(out, &chip, sizeof(chip));
	}
	if (ioctl(vm->vm_fd, KVM_GET_PIT2, &pit) < 0)
		return failf(err, errlen, -errno, "KVM_GET_PIT2: %s", strerror(errno));
	sbuf_put(out, &pit, sizeof(pit));
	memset(&clk, 0, sizeof(clk));
	if (ioctl(vm->vm_fd, KVM_GET_CLOCK, &clk) < 0)
		return failf(err, errlen, -errno, "KVM_GET_CLOCK: %s", strerror(errno));
	/* Without KVM_CLOCK_REALTIME (a host whose clocksource is not the
	 * TSC, e.g. a nested one) KVM gives no host time with the clock: take
	 * it here, right after, for the restore to advance the clock by. */
	if (!(clk.flags & KVM_CLOCK_REALTIME))
		clk.realtime = realtime_ns();
	sbuf_u64(out, clk.clock);
	sbuf_u32(out, clk.flags);
	sbuf_u64(out, clk.realtime);
	return out->err;
}

int vm_state_load_vm(struct vm *vm, const void *p, size_t len, uint32_t version, char *err,
		     size_t errlen)
{
	struct kvm_irqchip chip[3];
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clk;
	struct sreader r;
	char why[200];
	int ret, caps;

	if (version != VM_STATE_VM_VERSION)
		return failf(err, errlen, -EINVAL, "VM state: section version %u unknown", version);
	sr_init(&r, p, len);
	for (uint32_t id = 0; id < 3; id++)
		sr_get(&r, &chip[id], sizeof(chip[id]));
	sr_get(&r, &pit, sizeof(pit));
	memset(&clk, 0, sizeof(clk));
	clk.clock = sr_u64(&r);
	clk.flags = sr_u32(&r);
	clk.realtime = sr_u64(&r);
	if (sr_finish(&r))
		return failf(err, errlen, -EINVAL, "VM state: section truncated or too long");
	for (uint32_t id = 0; id < 3; id++)
		if ((ret = cpu_check_irqchip(&chip[id], id, why, sizeof(why))))
			return failf(err, errlen, ret, "VM state: %s", why);
	if ((ret = cpu_check_pit(&pit, why, sizeof(why))))
		return failf(err, errlen, ret, "VM state: %s", why);
	for (uint32_t id = 0; id < 3; id++)
		if (ioctl(vm->vm_fd, KVM_SET_IRQCHIP, &chip[id]) < 0)
			return failf(err, errlen, -errno, "KVM_SET_IRQCHIP %u refused the saved "
				     "state: %s", id, strerror(errno));
	if (ioctl(vm->vm_fd, KVM_SET_PIT2, &pit) < 0)
		return failf(err, errlen, -errno, "KVM_SET_PIT2 refused the saved state: %s",
			     strerror(errno));
	/* The clock: with KVM_CLOCK_REALTIME KVM advances it by the wall-clock
	 * time since the save, so the guest resumes with the right time. Where
	 * either host lacks it, the clock is advanced here by the host time
	 * elapsed since the one saved with it (a little less exact: the two
	 * readings were not taken at one instant). */
	caps = ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_ADJUST_CLOCK);
	if (caps > 0 && (caps & KVM_CLOCK_REALTIME) && (clk.flags & KVM_CLOCK_REALTIME))
		clk.flags = KVM_CLOCK_REALTIME;
	else
		clk.flags = 0;
	if (!clk.flags || ioctl(vm->vm_fd, KVM_SET_CLOCK, &clk) < 0) {
		uint64_t now = realtime_ns(), gap;

		/* No KVM help, or KVM refused the saved realtime (a hostile
		 * file, a host clock step): advance it ourselves where the gap
		 * is sane, else resume the clock as saved rather than none. */
		clk.flags = 0;
		gap = now > clk.realtime ? now - clk.realtime : 0;
		if (clk.realtime && gap <= CLOCK_ADVANCE_MAX_NS && clk.clock + gap >= clk.clock)
			clk.clock += gap;
		else
			gap = 0;
		if (ioctl(vm->vm_fd, KVM_SET_CLOCK, &clk) < 0)
			return failf(err, errlen, -errno, "KVM_SET_CLOCK: %s", strerror(errno));
		bh_info("guest clock advanced by %llu.%03llu s (host time since the snapshot%s)",
			(unsigned long long)(gap / 1000000000ULL),
			(unsigned long long)(gap / 1000000ULL % 1000),
			caps > 0 && (caps & KVM_CLOCK_REALTIME) ? "" : "; no KVM_CLOCK_REALTIME here");
	} else {
		bh_info("guest clock advanced by KVM (KVM_CLOCK_REALTIME)");
	}
	/* A guest whose kvmclock is set up learns it was stopped (no soft
	 * lockup reports); EINVAL: it does not use kvmclock. */
	for (unsigned i = 0; i < vm->ncpus; i++)
		(void)ioctl(vm->vcpus[i].fd, KVM_KVMCLOCK_CTRL, 0);
	return 0;
}
