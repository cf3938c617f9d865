/* test_boot_bzimage.c — bzImage setup-header validation (hostile-guests case
 * 29), the in-guest-decompression load, the zero page and e820 contents, and
 * file-level rejections (directory, device, empty, missing, not a kernel). */
#include "boot_test_fixture.h"

#include <errno.h>

#define SETUP_SIZE (5 * 512)

/* A good bzImage booted for in-guest decompression: placement, entry, and
 * every zero-page field the loader owns. */
static void test_guest_decompress_zero_page(void **state)
{
	struct fx *f = *state;
	struct tbuf bz = fx_bz(BOOT_COMP_GZIP, NULL);
	struct boot_params bp;
	char cmd[64];
	uint8_t *pm;

	tput64(bz.p + 0x250, 0xdeadbeef000ULL); /* setup_data: must not reach the guest */
	f->cfg.decompress = BOOT_DECOMPRESS_GUEST;
	f->cfg.cmdline = "console=ttyS0 quiet";
	assert_int_equal(fx_load_file(f, "bzImage", bz.p, bz.len), 0);
	assert_string_equal(f->plan.format, "bzImage: decompressed in guest");
	assert_int_equal(f->plan.kind, BOOT_ENTRY_LINUX64);
	assert_int_equal(f->plan.entry, 0x100200);
	assert_int_equal(f->plan.params_gpa, X86_ZERO_PAGE_GPA);
	assert_int_equal(f->plan.kernel_start, X86_HIMEM_START);
	/* pref_address 16 MiB + init_size 8 MiB */
	assert_int_equal(f->plan.kernel_end, 0x1000000 + 0x800000);
	pm = gmem_ptr(&f->gm, X86_HIMEM_START, bz.len - SETUP_SIZE);
	assert_non_null(pm);
	assert_memory_equal(pm, bz.p + SETUP_SIZE, bz.len - SETUP_SIZE);

	bp = fx_zero_page(f);
	/* setup_sects .. kernel_version come verbatim from the image */
	assert_memory_equal(&bp.hdr, bz.p + 0x1f1, 0x210 - 0x1f1);
	assert_int_equal(bp.hdr.kernel_alignment, 0x200000);
	assert_int_equal(bp.hdr.xloadflags, BOOT_XLF_KERNEL_64 | BOOT_XLF_CAN_BE_LOADED_ABOVE_4G);
	assert_int_equal(bp.hdr.cmdline_size, 0x7ff);
	assert_int_equal(bp.hdr.initrd_addr_max, 0x7fffffff);
	assert_int_equal(bp.hdr.header, BOOT_HDRS_MAGIC);
	assert_int_equal(bp.hdr.boot_flag, 0xaa55);
	assert_int_equal(bp.hdr.version, 0x020f);
	assert_int_equal(bp.hdr.type_of_loader, 0xff);
	assert_int_equal(bp.hdr.loadflags & (BOOT_LOADED_HIGH | BOOT_CAN_USE_HEAP),
			 BOOT_LOADED_HIGH | BOOT_CAN_USE_HEAP);
	assert_int_equal(bp.hdr.heap_end_ptr, 0xfe00 - 0x200);
	assert_int_equal(bp.hdr.cmd_line_ptr, X86_CMDLINE_GPA);
	assert_int_equal(bp.ext_cmd_line_ptr, 0);
	assert_int_equal(bp.hdr.ramdisk_image, 0);
	assert_int_equal(bp.hdr.ramdisk_size, 0);
	assert_int_equal(bp.hdr.setup_data, 0);
	assert_int_equal(bp.hdr.init_size, 0x800000);
	assert_int_equal(bp.sentinel, 0);
	assert_int_equal(gmem_read(&f->gm, cmd, X86_CMDLINE_GPA, 20), 0);
	assert_string_equal(cmd, "console=ttyS0 quiet");

	assert_int_equal(bp.e820_entries, 3);
	assert_int_equal(bp.e820_table[0].addr, 0);
	assert_int_equal(bp.e820_table[0].size, X86_LOW_RAM_END);
	assert_int_equal(bp.e820_table[0].type, BOOT_E820_RAM);
	assert_int_equal(bp.e820_table[1].addr, X86_EBDA_GPA);
	assert_int_equal(bp.e820_table[1].size, 0x100000 - X86_EBDA_GPA);
	assert_int_equal(bp.e820_table[1].type, BOOT_E820_RESERVED);
	assert_int_equal(bp.e820_table[2].addr, 0x100000);
	assert_int_equal(bp.e820_table[2].size, TEST_RAM - 0x100000);
	assert_int_equal(bp.e820_table[2].type, BOOT_E820_RAM);
	tbuf_free(&bz);
}

/* e820 with a second region above the MMIO hole (fake layout, never mapped). */
static void test_e820_two_regions(void **state)
{
	struct guest_mem gm;
	struct boot_e820_entry e[8];

	(void)state;
	memset(&gm, 0, sizeof(gm));
	gm.nregions = 2;
	gm.regions[0].size = GMEM_MMIO_HOLE_START;
	gm.regions[1].gpa = GMEM_MMIO_HOLE_END;
	gm.regions[1].size = 2 * BH_GiB;
	assert_int_equal(boot_e820_build(&gm, e, 8), 4);
	assert_int_equal(e[2].addr, 0x100000);
	assert_int_equal(e[2].size, GMEM_MMIO_HOLE_START - 0x100000);
	assert_int_equal(e[3].addr, 4 * BH_GiB);
	assert_int_equal(e[3].size, 2 * BH_GiB);
	assert_int_equal(e[3].type, BOOT_E820_RAM);
	assert_int_equal(boot_e820_build(&gm, e, 2), 2);
	gm.nregions = 1;
	gm.regions[0].size = 0x100000; /* no RAM above 1 MiB: no usable map */
	assert_int_equal(boot_e820_build(&gm, e, 8), 0);
}

/* Truncation at every length in the header area and many beyond: never a
 * crash, never success, and the message names the field that no longer fits. */
static void test_truncated_everywhere(void **state)
{
	struct fx *f = *state;
	struct tbuf bz = fx_bz(BOOT_COMP_GZIP, NULL);
	size_t len;

	for (len = 0; len < bz.len; len += (len < 0x1000 ? 1 : 97)) {
		uint8_t *copy = malloc(len ? len : 1);
		int ret;

		memcpy(copy, bz.p, len);
		ret = fx_load_mem(f, copy, len);
		if (len == 0) {
			assert_int_equal(ret, -EINVAL);
			assert_err_has(f, "empty file");
		} else if (len < 0x206) {
			assert_int_equal(ret, -ENOEXEC);
			assert_err_has(f, "not a bzImage or ELF kernel");
		} else if (len < 0x208) {
			assert_int_equal(ret, -EINVAL);
			assert_err_has(f, "version", "file size");
		} else if (len <= SETUP_SIZE) {
			assert_int_equal(ret, -EINVAL);
			assert_err_has(f, "setup_sects 4", "file size");
		} else {
			assert_int_equal(ret, -EINVAL);
			assert_err_has(f, "payload_offset 0x400 + payload_length", "beyond file size");
		}
		free(copy);
	}
	tbuf_free(&bz);
}

struct lie {
	const char *name;
	size_t off;
	unsigned width;
	uint64_t value;
	int ret;
	const char *msg1, *msg2;
};

static const struct lie lies[] = {
	{ "setup_sects", 0x1f1, 1, 0xff, -EINVAL, "setup_sects 255", "no protected-mode part" },
	{ "boot_flag", 0x1fe, 2, 0x1234, -EINVAL, "boot_flag 0x1234", "0xaa55" },
	{ "old version", 0x206, 2, 0x0205, -EINVAL, "version 2.05", "too old" },
	{ "jump", 0x201, 1, 0x30, -EINVAL, "jump", "too short" },
	{ "loadflags", 0x211, 1, 0, -EINVAL, "loadflags", "LOADED_HIGH" },
	{ "32-bit only", 0x236, 2, 0, -EINVAL, "xloadflags 0x0000", "XLF_KERNEL_64" },
	{ "protocol 2.11", 0x206, 2, 0x020b, -EINVAL, "XLF_KERNEL_64", "32-bit-only" },
	{ "kernel_alignment", 0x230, 4, 0x300000, -EINVAL, "kernel_alignment 0x300000",
	  "power of two" },
	{ "payload_offset", 0x248, 4, 0xfffffff0, -EINVAL, "payload_offset 0xfffffff0",
	  "beyond file size" },
	{ "payload_length", 0x24c, 4, 0x7fffffff, -EINVAL, "payload_length 0x7fffffff",
	  "beyond file size" },
	{ "init_size 0", 0x260, 4, 0, -EINVAL, "init_size", "is 0" },
	{ "pref_address", 0x258, 8, 0xfffffffffffff000ULL, -EINVAL, "pref_address", "init_size" },
};

static void poke(uint8_t *p, unsigned width, uint64_t v)
{
	if (width == 1)
		p[0] = (uint8_t)v;
	else if (width == 2)
		tput16(p, (uint16_t)v);
	else if (width == 4)
		tput32(p, (uint32_t)v);
	else
		tput64(p, v);
}

static void test_lying_fields(void **state)
{
	struct fx *f = *state;

	for (size_t i = 0; i < BH_ARRAY_SIZE(lies); i++) {
		struct tbuf bz = fx_bz(BOOT_COMP_GZIP, NULL);
		int ret;

		poke(bz.p + lies[i].off, lies[i].width, lies[i].value);
		ret = fx_load_file(f, "lie", bz.p, bz.len);
		if (ret != lies[i].ret)
			fail_msg("%s: ret %d, want %d (%s)", lies[i].name, ret, lies[i].ret, f->err);
		assert_err_has(f, "kernel ", "/lie: ", lies[i].msg1, lies[i].msg2);
		tbuf_free(&bz);
	}
}

/* setup_sects == 0 means 4: our image has 4 setup sectors, so it still loads. */
static void test_setup_sects_zero_means_four(void **state)
{
	struct fx *f = *state;
	struct tbuf bz = fx_bz(BOOT_COMP_GZIP, NULL);

	bz.p[0x1f1] = 0;
	assert_int_equal(fx_load_mem(f, bz.p, bz.len), 0);
	tbuf_free(&bz);
}

static void test_cmdline_limits(void **state)
{
	struct fx *f = *state;
	struct tbuf bz = fx_bz(BOOT_COMP_GZIP, NULL);
	char *cmd = malloc(0x801), got[4];

	memset(cmd, 'a', 0x800);
	cmd[0x800] = '\0';
	f->cfg.cmdline = cmd;
	assert_int_equal(fx_load_mem(f, bz.p, bz.len), -E2BIG);
	assert_err_has(f, "cmdline", "cmdline_size 2047");
	cmd[0x7ff] = '\0'; /* exactly cmdline_size */
	assert_int_equal(fx_load_mem(f, bz.p, bz.len), 0);
	assert_int_equal(gmem_read(&f->gm, got, X86_CMDLINE_GPA + 0x7fe, 2), 0);
	assert_int_equal(got[0], 'a');
	assert_int_equal(got[1], '\0');
	/* cmdline_size larger than bulkhead's own limit: ours wins. */
	tput32(bz.p + 0x238, 0xffffffff);
	cmd = realloc(cmd, X86_CMDLINE_MAX + 1);
	memset(cmd, 'b', X86_CMDLINE_MAX);
	cmd[X86_CMDLINE_MAX] = '\0';
	f->cfg.cmdline = cmd;
	assert_int_equal(fx_load_mem(f, bz.p, bz.len), -E2BIG);
	assert_err_has(f, "cmdline longer than 65535");
	free(cmd);
	tbuf_free(&bz);
}

static void test_guest_path_too_big(void **state)
{
	struct fx *f = *state;
	struct tbuf bz = fx_bz(BOOT_COMP_GZIP, NULL);

	tput32(bz.p + 0x260, 0x7ffff000); /* init_size 2 GiB in a 64 MiB guest */
	f->cfg.decompress = BOOT_DECOMPRESS_GUEST;
	assert_int_equal(fx_load_mem(f, bz.p, bz.len), -E2BIG);
	assert_err_has(f, "init_size 0x7ffff000", "guest RAM below 4 GiB ends at 0x4000000");
	tbuf_free(&bz);
}

static void test_pvh_needs_host_decompression(void **state)
{
	struct fx *f = *state;
	struct tbuf bz = fx_bz(BOOT_COMP_GZIP, NULL);

	f->cfg.decompress = BOOT_DECOMPRESS_GUEST;
	f->cfg.proto = BOOT_PROTO_PVH;
	assert_int_equal(fx_load_mem(f, bz.p, bz.len), -EINVAL);
	assert_err_has(f, "PVH boot requested");
	tbuf_free(&bz);
}

static void test_not_kernels(void **state)
{
	struct fx *f = *state;
	uint8_t rnd[8192];
	uint32_t x = 12345;
	static const char text[] = "#!/bin/sh\necho this is not a kernel\n";

	for (size_t i = 0; i < sizeof(rnd); i++) {
		x = x * 1103515245 + 12345;
		rnd[i] = (uint8_t)(x >> 16);
	}
	assert_int_equal(fx_load_file(f, "random", rnd, sizeof(rnd)), -ENOEXEC);
	assert_err_has(f, "/random: not a bzImage or ELF kernel");
	assert_int_equal(fx_load_file(f, "script", text, sizeof(text) - 1), -ENOEXEC);
	assert_err_has(f, "/script: not a bzImage or ELF kernel");
	assert_int_equal(fx_load_file(f, "empty", "", 0), -EINVAL);
	assert_err_has(f, "kernel ", "/empty: empty file");
}

static void test_bad_files(void **state)
{
	struct fx *f = *state;
	char missing[600];

	f->cfg.kernel_path = f->dir;
	assert_int_equal(boot_load(&f->gm, &f->cfg, &f->plan, f->err, sizeof(f->err)), -EISDIR);
	assert_err_has(f, f->dir, "is a directory");
	f->cfg.kernel_path = "/dev/null";
	assert_int_equal(boot_load(&f->gm, &f->cfg, &f->plan, f->err, sizeof(f->err)), -EINVAL);
	assert_err_has(f, "/dev/null", "not a regular file (character device)");
	snprintf(missing, sizeof(missing), "%s/nope", f->dir);
	f->cfg.kernel_path = missing;
	assert_int_equal(boot_load(&f->gm, &f->cfg, &f->plan, f->err, sizeof(f->err)), -ENOENT);
	assert_err_has(f, missing);
	f->cfg.kernel_path = NULL;
	assert_int_equal(boot_load(&f->gm, &f->cfg, &f->plan, f->err, sizeof(f->err)), -EINVAL);
	f->cfg.kernel_path = "x";
	f->cfg.proto = (enum boot_proto)7;
	assert_int_equal(boot_load_image(&f->gm, &f->cfg, (const uint8_t *)"x", 1, &f->plan,
					 f->err, sizeof(f->err)), -EINVAL);
	assert_err_has(f, "boot protocol");
}

/* Host decompression problems that are not the image's lie fall back to
 * in-guest decompression (with a warning), they do not fail the boot. */
static void test_host_fallbacks(void **state)
{
	struct fx *f = *state;
	uint8_t junk[4096];
	struct tbuf bz, z;

	memset(junk, 0x42, sizeof(junk)); /* unknown magic */
	bz = tbz_build(junk, sizeof(junk));
	assert_int_equal(fx_load_mem(f, bz.p, bz.len), 0);
	assert_string_equal(f->plan.format, "bzImage: decompressed in guest");
	assert_int_equal(f->plan.entry, 0x100200);
	tbuf_free(&bz);

	z = tcompress(BOOT_COMP_GZIP, junk, sizeof(junk)); /* decompresses to a non-ELF */
	bz = tbz_build(z.p, z.len);
	assert_int_equal(fx_load_mem(f, bz.p, bz.len), 0);
	assert_string_equal(f->plan.format, "bzImage: decompressed in guest");
	tbuf_free(&bz);

	memset(z.p + 12, 0xff, z.len - 16); /* corrupt deflate data */
	bz = tbz_build(z.p, z.len);
	assert_int_equal(fx_load_mem(f, bz.p, bz.len), 0);
	assert_string_equal(f->plan.format, "bzImage: decompressed in guest");
	tbuf_free(&bz);
	tbuf_free(&z);

	bz = tbz_build(NULL, 0); /* no payload fields at all */
	memset(bz.p + 5 * 512, 0x90, 0x400);
	assert_int_equal(fx_load_mem(f, bz.p, bz.len), 0);
	assert_string_equal(f->plan.format, "bzImage: decompressed in guest");
	tbuf_free(&bz);
}

/* A payload that decompresses to an invalid ELF is the image lying: error. */
static void test_payload_elf_lies(void **state)
{
	struct fx *f = *state;
	struct telf_opts o;
	struct tbuf bz;

	telf_default(&o);
	o.paddr = 0x8000;
	bz = fx_bz(BOOT_COMP_ZSTD, &o);
	assert_int_equal(fx_load_mem(f, bz.p, bz.len), -EINVAL);
	assert_err_has(f, "decompressed zstd payload: ELF: PT_LOAD 0: p_paddr 0x8000",
		       "below 1 MiB");
	tbuf_free(&bz);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_guest_decompress_zero_page, fx_setup,
						fx_teardown),
		cmocka_unit_test(test_e820_two_regions),
		cmocka_unit_test_setup_teardown(test_truncated_everywhere, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_lying_fields, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_setup_sects_zero_means_four, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_cmdline_limits, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_guest_path_too_big, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_pvh_needs_host_decompression, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_not_kernels, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_bad_files, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_host_fallbacks, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_payload_elf_lies, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
