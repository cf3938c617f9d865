/* test_x86_tables.c — what the guest reads before its first instruction: the
 * MP table (vCPU count, checksums), the identity page tables and GDT, and the
 * per-vCPU CPUID topology and template masks. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "arch/x86/cpuid.h"
#include "arch/x86/layout.h"
#include "arch/x86/mptable.h"
#include "arch/x86/regs.h"
#include "core/guest_mem.h"

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return s;
}

static void test_mptable(void **state)
{
	struct guest_mem gm;

	(void)state;
	assert_int_equal(gmem_create(&gm, 16 << 20), 0);
	assert_int_equal(mptable_write(&gm, 0), -EINVAL);
	assert_int_equal(mptable_write(&gm, 256), -EINVAL);
	for (unsigned n = 1; n <= 255; n += 127) {
		const uint8_t *mpf = gmem_ptr(&gm, X86_EBDA_GPA, 16);
		uint32_t phys;
		uint16_t len;

		assert_int_equal(mptable_write(&gm, n), 0);
		assert_memory_equal(mpf, "_MP_", 4);
		assert_int_equal(sum(mpf, 16), 0);
		memcpy(&phys, mpf + 4, 4);
		const uint8_t *mpc = gmem_ptr(&gm, phys, 44);
		assert_non_null(mpc);
		assert_memory_equal(mpc, "PCMP", 4);
		memcpy(&len, mpc + 4, 2);
		assert_non_null(gmem_ptr(&gm, phys, len));
		assert_int_equal(sum(mpc, len), 0);
		/* Count processor entries (type 0, 20 bytes) and find the BSP. */
		unsigned cpus = 0, bsp = 0;
		for (size_t off = 44; off < len;) {
			uint8_t type = mpc[off];

			if (type == 0) {
				cpus++;
				bsp += (mpc[off + 3] & 2) != 0;
				off += 20;
			} else {
				assert_true(type >= 1 && type <= 4);
				off += 8;
			}
		}
		assert_int_equal(cpus, n);
		assert_int_equal(bsp, 1);
		/* The table stays inside the reserved BIOS area below 1 MiB. */
		assert_true(phys + len <= X86_HIMEM_START);
	}
	gmem_destroy(&gm);
}

static void test_boot_tables(void **state)
{
	struct guest_mem gm;
	uint64_t e;

	(void)state;
	assert_int_equal(gmem_create(&gm, 16 << 20), 0);
	assert_int_equal(x86_setup_boot_tables(&gm), 0);
	assert_int_equal(gmem_read(&gm, &e, X86_PML4_GPA, 8), 0);
	assert_int_equal(e & ~0xfffULL, X86_PDPT_GPA);
	assert_true(e & 1);
	/* The PD entry for 3.5 GiB maps 3.5 GiB with a 2 MiB page. */
	uint64_t idx = (3584ULL << 20) >> 21;
	assert_int_equal(gmem_read(&gm, &e, X86_PD_GPA + idx * 8, 8), 0);
	assert_int_equal(e & ~0x1fffffULL, 3584ULL << 20);
	assert_true(e & (1 << 7));
	assert_int_equal(gmem_read(&gm, &e, X86_GDT_GPA + X86_SEL_CODE64, 8), 0);
	assert_true(e & (1ULL << 53)); /* L bit: 64-bit code */
	gmem_destroy(&gm);
}

static struct kvm_cpuid2 *fake_cpuid(void)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + 8 * sizeof(c->entries[0]));
	uint32_t fn[] = { 1, 4, 7, 0xa, 0xb, 0xb, 0x14, 0x40000001 };

	c->nent = 8;
	for (unsigned i = 0; i < 8; i++) {
		c->entries[i].function = fn[i];
		c->entries[i].eax = c->entries[i].ebx = c->entries[i].ecx = c->entries[i].edx =
			0xffffffff;
	}
	c->entries[5].index = 1;
	return c;
}

static void test_cpuid(void **state)
{
	struct kvm_cpuid2 *c = fake_cpuid();

	(void)state;
	cpuid_set_topology(c, 3, 4);
	assert_int_equal(c->entries[0].ebx >> 24, 3);            /* APIC ID */
	assert_int_equal((c->entries[0].ebx >> 16) & 0xff, 4);   /* logical count */
	assert_true(c->entries[0].ecx & (1u << 31));             /* hypervisor bit */
	assert_int_equal(c->entries[1].eax >> 26, 3);            /* cores - 1 */
	assert_int_equal(c->entries[4].ebx, 1);                  /* SMT level: 1 thread */
	assert_int_equal(c->entries[5].ebx, 4);                  /* core level: 4 cores */
	assert_int_equal(c->entries[5].edx, 3);                  /* x2APIC ID */
	assert_int_equal(c->entries[5].eax, 2);                  /* shift for 4 */

	cpuid_apply_template(c, CPU_TEMPLATE_HOST);
	assert_int_equal(c->nent, 8);
	cpuid_apply_template(c, CPU_TEMPLATE_BASELINE);
	assert_int_equal(c->nent, 6); /* perfmon 0xa and PT 0x14 dropped */
	for (unsigned i = 0; i < c->nent; i++) {
		const struct kvm_cpuid_entry2 *e = &c->entries[i];

		assert_true(e->function != 0xa && e->function != 0x14);
		if (e->function == 1)
			assert_false(e->ecx & (1u << 5)); /* no VMX */
		if (e->function == 7)
			assert_false(e->ebx & ((1u << 4) | (1u << 11) | (1u << 16))); /* TSX, AVX-512F */
		if (e->function == 0x40000001)
			assert_false(e->eax & (1u << 5)); /* no steal time */
	}
	free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mptable),
		cmocka_unit_test(test_boot_tables),
		cmocka_unit_test(test_cpuid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
