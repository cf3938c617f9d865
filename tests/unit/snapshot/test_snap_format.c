/* test_snap_format.c — the snapshot readers on hostile files: a well-formed
 * state file parses; empty, every truncation, trailing bytes, a different
 * major version, bad magic, unknown mandatory sections, duplicated or
 * missing sections, a vCPU id out of range and a memory layout that is not
 * the layout of the memory size are refused with a message naming the
 * reason; unknown optional sections are skipped. The manifest parser
 * accepts exactly what snap_manifest_format writes. snap_hash_fd hashes a
 * sparse file's holes as zeros. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/sha256.h"
#include "snapshot/snap_format.h"
#include "snapshot/snap_manifest.h"

struct file {
	uint8_t b[8192];
	size_t len;
	uint32_t nsec;
};

static void add(struct file *f, uint32_t type, uint32_t id, const char *body)
{
	size_t n = strlen(body);

	snap_section_encode(f->b + f->len, type, id, 1, n);
	f->len += SNAP_SECTION_HDR;
	memcpy(f->b + f->len, body, n);
	f->len += n;
	f->nsec++;
}

/* A structurally valid state file of ncpus vCPUs (contents are the loaders'
 * business, see vm_state.c). */
static void make(struct file *f, uint32_t ncpus, uint64_t mem)
{
	memset(f, 0, sizeof(*f));
	f->len = SNAP_HEADER_LEN;
	add(f, SNAP_SEC_CONFIG, 0, "{\"mem\":64}");
	add(f, SNAP_SEC_CPUID, 0, "cpuid");
	for (uint32_t i = 0; i < ncpus; i++)
		add(f, SNAP_SEC_VCPU, i, "vcpu");
	add(f, SNAP_SEC_VM, 0, "vm");
	add(f, SNAP_SEC_DEVICES, 0, "");
	snap_header_encode(f->b, ncpus, 0, mem, f->nsec);
}

static int parse(const struct file *f, char *err)
{
	static struct snap_state s;

	return snap_parse(f->b, f->len, &s, err, 256);
}

static void valid_file_parses(void **state)
{
	static struct snap_state s;
	struct file f;
	char err[256];

	(void)state;
	make(&f, 2, 64 << 20);
	assert_int_equal(snap_parse(f.b, f.len, &s, err, sizeof(err)), 0);
	assert_int_equal(s.h.ncpus, 2);
	assert_int_equal(s.h.mem_bytes, 64 << 20);
	assert_int_equal(s.h.nregions, 1);
	assert_int_equal(s.config.len, 10);
	assert_memory_equal(s.vcpu[1].p, "vcpu", 4);
	assert_int_equal(s.devices.len, 0);
	/* 5 GiB: two regions around the MMIO hole. */
	make(&f, 1, 5ull << 30);
	assert_int_equal(snap_parse(f.b, f.len, &s, err, sizeof(err)), 0);
	assert_int_equal(s.h.nregions, 2);
	assert_int_equal(s.h.regions[1].gpa, 4ull << 30);
	assert_int_equal(s.h.regions[1].size, 2ull << 30);
}

static void truncated_and_trailing_refused(void **state)
{
	struct file f;
	char err[256];

	(void)state;
	make(&f, 1, 64 << 20);
	for (size_t n = 0; n < f.len; n++) {
		static struct snap_state s;

		err[0] = '\0';
		assert_int_not_equal(snap_parse(f.b, n, &s, err, sizeof(err)), 0);
		assert_true(err[0] != '\0');
	}
	f.len++;
	assert_int_equal(parse(&f, err), -EINVAL);
	assert_non_null(strstr(err, "after the last section"));
	f.len = 0;
	assert_int_equal(parse(&f, err), -EINVAL);
	assert_non_null(strstr(err, "not a bulkhead snapshot"));
}

static void header_refusals(void **state)
{
	struct file f;
	char err[256];

	(void)state;
	make(&f, 1, 64 << 20);
	f.b[8] = 2; /* major 2 */
	assert_int_equal(parse(&f, err), -ENOTSUP);
	assert_non_null(strstr(err, "format 2.0"));
	make(&f, 1, 64 << 20);
	f.b[0] ^= 1;
	assert_int_equal(parse(&f, err), -EINVAL);
	assert_non_null(strstr(err, "magic"));
	make(&f, 1, 64 << 20);
	f.b[64] = 2; /* two regions for 64 MiB */
	assert_int_equal(parse(&f, err), -EINVAL);
	assert_non_null(strstr(err, "memory layout"));
	make(&f, 1, (64 << 20) + 512); /* not whole pages */
	assert_int_equal(parse(&f, err), -EINVAL);
	assert_non_null(strstr(err, "whole pages"));
	make(&f, 1, 64 << 20);
	f.b[48] = 0; /* 0 vCPUs */
	assert_int_equal(parse(&f, err), -EINVAL);
	assert_non_null(strstr(err, "vCPUs"));
	make(&f, 1, 64 << 20);
	f.b[120] = 1; /* reserved */
	assert_int_equal(parse(&f, err), -EINVAL);
	make(&f, 1, 64 << 20);
	f.b[16] = 7; /* a control character in the version */
	assert_int_equal(parse(&f, err), -EINVAL);
}

static void section_refusals(void **state)
{
	struct file f;
	char err[256];

	(void)state;
	/* An unknown mandatory section: refused; an optional one: skipped. */
	make(&f, 1, 64 << 20);
	add(&f, 77, 0, "x");
	snap_header_encode(f.b, 1, 0, 64 << 20, f.nsec);
	assert_int_equal(parse(&f, err), -ENOTSUP);
	assert_non_null(strstr(err, "type 77"));
	make(&f, 1, 64 << 20);
	add(&f, SNAP_SEC_OPTIONAL + 3, 0, "future");
	snap_header_encode(f.b, 1, 0, 64 << 20, f.nsec);
	assert_int_equal(parse(&f, err), 0);
	/* The same vCPU twice; a vCPU beyond the count. */
	make(&f, 1, 64 << 20);
	add(&f, SNAP_SEC_VCPU, 0, "again");
	snap_header_encode(f.b, 1, 0, 64 << 20, f.nsec);
	assert_int_equal(parse(&f, err), -EINVAL);
	assert_non_null(strstr(err, "twice"));
	make(&f, 1, 64 << 20);
	add(&f, SNAP_SEC_VCPU, 5, "far");
	snap_header_encode(f.b, 1, 0, 64 << 20, f.nsec);
	assert_int_equal(parse(&f, err), -EINVAL);
	assert_non_null(strstr(err, "vCPU 5"));
	/* A 2-vCPU header over 1 vCPU's sections: vCPU 1 missing. */
	make(&f, 1, 64 << 20);
	snap_header_encode(f.b, 2, 0, 64 << 20, f.nsec);
	assert_int_equal(parse(&f, err), -EINVAL);
	assert_non_null(strstr(err, "vCPU 1 is missing"));
	/* A section longer than the file. */
	make(&f, 1, 64 << 20);
	f.b[SNAP_HEADER_LEN + 16] = 0xff;
	assert_int_equal(parse(&f, err), -EINVAL);
	assert_non_null(strstr(err, "truncated"));
	/* Flags set. */
	make(&f, 1, 64 << 20);
	f.b[SNAP_HEADER_LEN + 12] = 1;
	assert_int_equal(parse(&f, err), -EINVAL);
	/* A NUL inside the configuration. */
	make(&f, 1, 64 << 20);
	f.b[SNAP_HEADER_LEN + SNAP_SECTION_HDR + 2] = 0;
	assert_int_equal(parse(&f, err), -EINVAL);
	assert_non_null(strstr(err, "NUL"));
}

static void manifest_round_trip_and_refusals(void **state)
{
	struct snap_manifest m = { .state_size = 12345, .mem_size = 64 << 20 }, back;
	char text[SNAP_MANIFEST_MAX], bad[SNAP_MANIFEST_MAX], err[256];
	size_t n;

	(void)state;
	memset(m.state_sha, 0xab, sizeof(m.state_sha));
	memset(m.mem_sha, 0x01, sizeof(m.mem_sha));
	n = snap_manifest_format(&m, text, sizeof(text));
	assert_true(n > 0);
	assert_int_equal(snap_manifest_parse(text, n, &back, err, sizeof(err)), 0);
	assert_memory_equal(&m, &back, sizeof(m));
	/* Every truncation is refused. */
	for (size_t i = 0; i < n; i++)
		assert_int_not_equal(snap_manifest_parse(text, i, &back, err, sizeof(err)), 0);
	memcpy(bad, text, n);
	bad[18] = '2'; /* major 2 */
	assert_int_equal(snap_manifest_parse(bad, n, &back, err, sizeof(err)), -ENOTSUP);
	memcpy(bad, text, n);
	*strstr(bad, "ab") = 'A'; /* upper-case hex */
	assert_int_equal(snap_manifest_parse(bad, n, &back, err, sizeof(err)), -EINVAL);
	memcpy(bad, text, n);
	bad[n] = 'x';
	assert_int_equal(snap_manifest_parse(bad, n + 1, &back, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "after the memory line"));
}

static void hash_of_sparse_file(void **state)
{
	char path[] = "/tmp/bh-snap-hash.XXXXXX";
	static uint8_t whole[3 << 20];
	uint8_t a[BH_SHA256_LEN], b[BH_SHA256_LEN];
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	unlink(path);
	/* Data at 1 MiB and at the last page; holes elsewhere. */
	memset(whole + (1 << 20), 0x5a, 4096);
	memset(whole + sizeof(whole) - 4096, 0xa5, 4096);
	assert_int_equal(pwrite(fd, whole + (1 << 20), 4096, 1 << 20), 4096);
	assert_int_equal(pwrite(fd, whole + sizeof(whole) - 4096, 4096, sizeof(whole) - 4096),
			 4096);
	assert_int_equal(snap_hash_fd(fd, sizeof(whole), a), 0);
	assert_int_equal(bh_sha256(whole, sizeof(whole), b), 0);
	assert_memory_equal(a, b, sizeof(a));
	/* Shorter than claimed: an error, not a hash. */
	assert_int_not_equal(snap_hash_fd(fd, sizeof(whole) + 4096, a), 0);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(valid_file_parses),
		cmocka_unit_test(truncated_and_trailing_refused),
		cmocka_unit_test(header_refusals),
		cmocka_unit_test(section_refusals),
		cmocka_unit_test(manifest_round_trip_and_refusals),
		cmocka_unit_test(hash_of_sparse_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
