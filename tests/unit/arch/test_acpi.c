/* test_acpi.c — the ACPI tables a stock kernel reads: checksums, the RSDP ->
 * XSDT -> FADT/MADT chain, one enabled LAPIC per vCPU, and the FADT's
 * hardware-reduced registers pointing at the ACPI PM device's ports. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "arch/x86/acpi.h"
#include "arch/x86/layout.h"

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return s;
}

static const uint8_t *table(struct guest_mem *gm, uint64_t gpa, const char *sig)
{
	const uint8_t *h = gmem_ptr(gm, gpa, 36);
	uint32_t len;

	assert_non_null(h);
	assert_memory_equal(h, sig, 4);
	memcpy(&len, h + 4, 4);
	assert_non_null(gmem_ptr(gm, gpa, len));
	assert_int_equal(sum(h, len), 0);
	return h;
}

static void check_gas_io(const uint8_t *gas, uint16_t port, uint8_t bits)
{
	uint64_t addr;

	assert_int_equal(gas[0], 1); /* system I/O */
	assert_int_equal(gas[1], bits);
	memcpy(&addr, gas + 4, 8);
	assert_int_equal(addr, port);
}

static void test_tables(void **state)
{
	struct guest_mem gm;
	uint64_t rsdp_gpa = 0, xsdt, fadt_gpa, madt_gpa, dsdt;

	(void)state;
	assert_int_equal(gmem_create(&gm, 16 << 20), 0);
	assert_int_equal(acpi_write_tables(&gm, 0, &rsdp_gpa), -EINVAL);
	assert_int_equal(acpi_write_tables(&gm, 256, &rsdp_gpa), -EINVAL);
	for (unsigned n = 1; n <= 255; n += 127) {
		assert_int_equal(acpi_write_tables(&gm, n, &rsdp_gpa), 0);
		/* Linux scans 16-byte boundaries of [0xe0000, 1 MiB). */
		assert_true(rsdp_gpa >= 0xe0000 && rsdp_gpa < 0x100000 && !(rsdp_gpa & 15));
		const uint8_t *rsdp = gmem_ptr(&gm, rsdp_gpa, 36);
		assert_memory_equal(rsdp, "RSD PTR ", 8);
		assert_int_equal(sum(rsdp, 20), 0);
		assert_int_equal(sum(rsdp, 36), 0);
		memcpy(&xsdt, rsdp + 24, 8);
		const uint8_t *x = table(&gm, xsdt, "XSDT");
		memcpy(&fadt_gpa, x + 36, 8);
		memcpy(&madt_gpa, x + 44, 8);

		const uint8_t *f = table(&gm, fadt_gpa, "FACP");
		uint32_t flags;
		memcpy(&flags, f + 112, 4);
		assert_false(flags & (1u << 20)); /* not HW_REDUCED: legacy PIC kept */
		assert_true(flags & (1u << 10)); /* RESET_REG_SUP */
		check_gas_io(f + 116, ACPI_PM_RESET, 8);
		assert_int_equal(f[128], ACPI_PM_RESET_VALUE);
		check_gas_io(f + 148, ACPI_PM1A_EVT, 32);
		check_gas_io(f + 172, ACPI_PM1A_CNT, 16);
		uint32_t facs_gpa;
		memcpy(&facs_gpa, f + 36, 4);
		const uint8_t *facs = gmem_ptr(&gm, facs_gpa, 64);
		assert_non_null(facs);
		assert_memory_equal(facs, "FACS", 4);
		assert_int_equal(facs_gpa & 63, 0);
		memcpy(&dsdt, f + 140, 8);
		const uint8_t *d = table(&gm, dsdt, "DSDT");
		assert_memory_equal(d + 36, "\x08_S5_", 5);
		/* The VM generation ID: GPE0 on the PM device, the VGEN device
		 * with its compatible ID and the ID's address, the GPE's method. */
		uint32_t gpe0, dlen;
		memcpy(&gpe0, f + 80, 4);
		assert_int_equal(gpe0, ACPI_GPE0_BLK);
		assert_int_equal(f[92], ACPI_GPE0_BLK_LEN);
		check_gas_io(f + 220, ACPI_GPE0_BLK, 8 * ACPI_GPE0_BLK_LEN);
		memcpy(&dlen, d + 4, 4);
		assert_non_null(memmem(d, dlen, "VGEN", 4));
		assert_non_null(memmem(d, dlen, "\x08_CID\x0dVM_Gen_Counter", 20));
		const uint8_t addr[] = { 0x08, 'A', 'D', 'D', 'R', 0x12, 0x08, 0x02, 0x0c,
					 (uint8_t)X86_VMGENID_GPA, (uint8_t)(X86_VMGENID_GPA >> 8),
					 (uint8_t)(X86_VMGENID_GPA >> 16), 0, 0x00 };
		assert_non_null(memmem(d, dlen, addr, sizeof(addr)));
		assert_non_null(memmem(d, dlen, "\x14\x13_E00\x00\x86\\\x2e_SB_VGEN\x0a\x80", 19));

		const uint8_t *m = table(&gm, madt_gpa, "APIC");
		uint32_t len, cpus = 0, ioapics = 0, overrides = 0;
		memcpy(&len, m + 4, 4);
		for (uint32_t off = 44; off < len; off += m[off + 1]) {
			assert_true(m[off + 1] >= 2);
			if (m[off] == 0) {
				assert_int_equal(m[off + 2], cpus); /* processor UID */
				assert_int_equal(m[off + 3], cpus); /* APIC ID */
				assert_int_equal(m[off + 4] & 1, 1);  /* enabled */
				cpus++;
			}
			ioapics += m[off] == 1;
			overrides += m[off] == 2;
		}
		assert_int_equal(cpus, n);
		assert_int_equal(ioapics, 1);
		assert_true(overrides >= 1);
	}
	assert_int_equal(acpi_write_tables(&gm, 1, &rsdp_gpa), 0);
	gmem_destroy(&gm);

	/* RAM that ends below the tables: refused, not written out of bounds. */
	assert_int_equal(gmem_create(&gm, 512 << 10), 0);
	assert_int_equal(acpi_write_tables(&gm, 1, &rsdp_gpa), -EFAULT);
	gmem_destroy(&gm);
}

int main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_tables) };
	return cmocka_run_group_tests(tests, NULL, NULL);
}
