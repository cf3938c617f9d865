/* fuzz_snap.c — libFuzzer target for the snapshot readers (snapshot files
 * are hostile input, architecture rule 12): the state file's parser
 * (snap_parse), the manifest's (snap_manifest_parse), and the register
 * checks a restore applies to each vCPU and VM section's structures
 * (arch/x86/cpu_check.h). Seeds in corpus/snap (make-seeds.sh). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <linux/kvm.h>

#include "arch/x86/cpu_check.h"
#include "snapshot/snap_format.h"
#include "snapshot/snap_manifest.h"

static void check_vcpu(const uint8_t *p, size_t len, unsigned index)
{
	struct cpu_caps caps;
	struct kvm_regs r;
	struct kvm_sregs s;
	struct kvm_xcrs x;
	struct kvm_lapic_state l;
	struct kvm_vcpu_events e;
	struct kvm_debugregs d;
	char err[256];

	memset(&caps, 0xff, sizeof(caps));
	caps.phys_bits = 46;
	if (len < sizeof(r) + sizeof(s))
		return;
	memcpy(&r, p, sizeof(r));
	memcpy(&s, p + sizeof(r), sizeof(s));
	(void)cpu_check_regs(&r, err, sizeof(err));
	(void)cpu_check_sregs(&caps, &s, index, err, sizeof(err));
	if (len >= sizeof(r) + sizeof(s) + sizeof(x) + sizeof(l) + sizeof(e) + sizeof(d)) {
		const uint8_t *q = p + len - (sizeof(x) + sizeof(l) + sizeof(e) + sizeof(d));

		memcpy(&x, q, sizeof(x));
		memcpy(&l, q + sizeof(x), sizeof(l));
		memcpy(&e, q + sizeof(x) + sizeof(l), sizeof(e));
		memcpy(&d, q + sizeof(x) + sizeof(l) + sizeof(e), sizeof(d));
		(void)cpu_check_xcrs(&caps, &x, err, sizeof(err));
		(void)cpu_check_lapic(&l, &s, index, err, sizeof(err));
		(void)cpu_check_events(&e, err, sizeof(err));
		(void)cpu_check_debugregs(&d, err, sizeof(err));
		(void)cpu_check_mp_state(r.rax & 0xffffffff, err, sizeof(err));
	}
}

static void check_vm(const uint8_t *p, size_t len)
{
	struct kvm_irqchip c;
	struct kvm_pit_state2 pit;
	char err[256];

	for (uint32_t id = 0; id < 3 && len >= (id + 1) * sizeof(c); id++) {
		memcpy(&c, p + id * sizeof(c), sizeof(c));
		(void)cpu_check_irqchip(&c, id, err, sizeof(err));
	}
	if (len >= 3 * sizeof(c) + sizeof(pit)) {
		memcpy(&pit, p + 3 * sizeof(c), sizeof(pit));
		(void)cpu_check_pit(&pit, err, sizeof(err));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct snap_state s;
	struct snap_manifest m;
	char err[256];
	/* A copy of exactly `size` bytes: ASan sees any read past the end. */
	uint8_t *buf = malloc(size ? size : 1);

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (snap_parse(buf, size, &s, err, sizeof(err)) == 0) {
		for (uint32_t i = 0; i < s.h.ncpus; i++)
			check_vcpu(s.vcpu[i].p, s.vcpu[i].len, i);
		check_vm(s.vm.p, s.vm.len);
		if (s.cpuid.len >= 4) {
			uint32_t n;

			memcpy(&n, s.cpuid.p, 4);
			if (n <= 256 && s.cpuid.len == 4 + n * sizeof(struct kvm_cpuid_entry2)) {
				struct kvm_cpuid2 *c = malloc(sizeof(*c) + n * sizeof(c->entries[0]));

				if (c) {
					c->nent = n;
					memcpy(c->entries, s.cpuid.p + 4, n * sizeof(c->entries[0]));
					(void)cpu_check_cpuid(c, c, err, sizeof(err));
					free(c);
				}
			}
		}
	}
	(void)snap_manifest_parse((const char *)buf, size, &m, err, sizeof(err));
	free(buf);
	return 0;
}
