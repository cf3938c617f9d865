/* test_boot_elf.c — ELF64 loading (vmlinux / test guests), the PVH note and
 * hvm_start_info, the synthesized zero page, and initrd placement. */
#include "boot_test_fixture.h"

#include <elf.h>
#include <errno.h>

static Elf64_Phdr get_ph(const struct tbuf *b, unsigned i)
{
	Elf64_Phdr ph;

	memcpy(&ph, b->p + TELF_PHOFF + i * sizeof(ph), sizeof(ph));
	return ph;
}

static void put_ph(struct tbuf *b, unsigned i, const Elf64_Phdr *ph)
{
	memcpy(b->p + TELF_PHOFF + i * sizeof(*ph), ph, sizeof(*ph));
}

static void test_good_elf(void **state)
{
	struct fx *f = *state;
	struct telf_opts o;
	struct tbuf elf;
	struct boot_params bp;
	uint8_t *mem;

	telf_default(&o);
	o.entry_off = 0x10;
	elf = telf_build(&o);
	mem = gmem_ptr(&f->gm, o.paddr, o.memsz);
	memset(mem, 0xff, o.memsz); /* bss must be zeroed by the loader */
	assert_int_equal(fx_load_file(f, "vmlinux", elf.p, elf.len), 0);
	assert_string_equal(f->plan.format, "ELF64");
	assert_int_equal(f->plan.kind, BOOT_ENTRY_LINUX64);
	assert_int_equal(f->plan.entry, o.paddr + 0x10);
	assert_int_equal(f->plan.params_gpa, X86_ZERO_PAGE_GPA);
	assert_int_equal(f->plan.kernel_start, o.paddr);
	assert_int_equal(f->plan.kernel_end, o.paddr + o.memsz);
	assert_memory_equal(mem, elf.p + elf.len - o.filesz, o.filesz);
	for (uint64_t i = o.filesz; i < o.memsz; i++)
		assert_int_equal(mem[i], 0);

	bp = fx_zero_page(f);
	assert_int_equal(bp.hdr.boot_flag, 0xaa55);
	assert_int_equal(bp.hdr.header, BOOT_HDRS_MAGIC);
	assert_true(bp.hdr.version >= 0x020f);
	assert_int_equal(bp.hdr.kernel_alignment, 0x1000000);
	assert_int_equal(bp.hdr.type_of_loader, 0xff);
	assert_int_equal(bp.hdr.cmd_line_ptr, X86_CMDLINE_GPA);
	assert_true(bp.hdr.loadflags & BOOT_LOADED_HIGH);
	assert_true(bp.hdr.loadflags & BOOT_CAN_USE_HEAP);
	assert_int_equal(bp.e820_entries, 3);
	assert_int_equal(bp.e820_table[2].addr + bp.e820_table[2].size, TEST_RAM);
	tbuf_free(&elf);
}

static void test_pvh(void **state)
{
	struct fx *f = *state;
	struct hvm_memmap_table_entry mm[3];
	struct hvm_modlist_entry mod;
	struct hvm_start_info si;
	char initrd[600];
	uint8_t rd[10000];
	struct telf_opts o;
	struct tbuf elf;

	for (unsigned descsz = 4; descsz <= 8; descsz += 4) {
		telf_default(&o);
		o.pvh_descsz = descsz;
		o.pvh_entry = o.paddr + 0x80;
		elf = telf_build(&o);
		memset(rd, 0x5a, sizeof(rd));
		tfile_write(f->dir, "initrd", rd, sizeof(rd), initrd, sizeof(initrd));
		f->cfg.initrd_path = initrd;
		f->cfg.proto = BOOT_PROTO_PVH;
		assert_int_equal(fx_load_file(f, "pvh", elf.p, elf.len), 0);
		assert_int_equal(f->plan.kind, BOOT_ENTRY_PVH32);
		assert_int_equal(f->plan.entry, o.paddr + 0x80);
		assert_int_equal(f->plan.params_gpa, X86_PVH_START_INFO_GPA);
		assert_int_equal(gmem_read(&f->gm, &si, X86_PVH_START_INFO_GPA, sizeof(si)), 0);
		assert_int_equal(si.magic, 0x336ec578);
		assert_int_equal(si.version, 1);
		assert_int_equal(si.cmdline_paddr, X86_CMDLINE_GPA);
		assert_int_equal(si.memmap_entries, 3);
		assert_int_equal(si.nr_modules, 1);
		assert_int_equal(gmem_read(&f->gm, mm, si.memmap_paddr, sizeof(mm)), 0);
		assert_int_equal(mm[0].addr, 0);
		assert_int_equal(mm[0].size, X86_LOW_RAM_END);
		assert_int_equal(mm[0].type, 1);
		assert_int_equal(mm[1].addr, X86_EBDA_GPA);
		assert_int_equal(mm[1].type, 2);
		assert_int_equal(mm[2].addr, 0x100000);
		assert_int_equal(mm[2].size, TEST_RAM - 0x100000);
		assert_int_equal(gmem_read(&f->gm, &mod, si.modlist_paddr, sizeof(mod)), 0);
		assert_int_equal(mod.paddr, f->plan.initrd_start);
		assert_int_equal(mod.size, sizeof(rd));
		/* AUTO on the same image uses the 64-bit entry. */
		f->cfg.proto = BOOT_PROTO_AUTO;
		assert_int_equal(fx_load_file(f, "pvh", elf.p, elf.len), 0);
		assert_int_equal(f->plan.kind, BOOT_ENTRY_LINUX64);
		assert_int_equal(f->plan.entry, o.paddr);
		f->cfg.initrd_path = NULL;
		tbuf_free(&elf);
	}
}

static void test_pvh_missing_or_bad_note(void **state)
{
	struct fx *f = *state;
	struct telf_opts o;
	struct tbuf elf;

	telf_default(&o);
	elf = telf_build(&o);
	f->cfg.proto = BOOT_PROTO_PVH;
	assert_int_equal(fx_load_mem(f, elf.p, elf.len), -EINVAL);
	assert_err_has(f, "PVH boot requested", "XEN_ELFNOTE_PHYS32_ENTRY");
	tbuf_free(&elf);

	o.pvh_descsz = 4;
	o.pvh_entry = 0x2000000; /* outside the segment */
	elf = telf_build(&o);
	assert_int_equal(fx_load_mem(f, elf.p, elf.len), -EINVAL);
	assert_err_has(f, "PVH entry 0x2000000 is not inside a PT_LOAD");
	tbuf_free(&elf);

	o.pvh_entry = o.paddr;
	elf = telf_build(&o);
	tput32(elf.p + get_ph(&elf, TELF_PH_NOTE).p_offset + 4, 0x7ffffff0); /* descsz lie */
	assert_int_equal(fx_load_mem(f, elf.p, elf.len), -EINVAL);
	assert_err_has(f, "PT_NOTE 1", "overruns the segment");
	tbuf_free(&elf);

	o.pvh_descsz = 8;
	o.pvh_entry = 0x100000000ULL;
	elf = telf_build(&o);
	assert_int_equal(fx_load_mem(f, elf.p, elf.len), -EINVAL);
	assert_err_has(f, "PVH entry 0x100000000 is not a 32-bit address");
	tbuf_free(&elf);
}

/* Each case: mutate one field of a good ELF, expect ret and message. */
static void test_elf_lies(void **state)
{
	struct fx *f = *state;
	struct telf_opts o;
	struct tbuf elf;
	Elf64_Phdr ph;
	Elf64_Ehdr eh;

	telf_default(&o);

#define CASE(mutate, want, ...)                                        \
	do {                                                           \
		elf = telf_build(&o);                                  \
		memcpy(&eh, elf.p, sizeof(eh));                        \
		ph = get_ph(&elf, TELF_PH_LOAD);                       \
		mutate;                                                \
		memcpy(elf.p, &eh, sizeof(eh));                        \
		put_ph(&elf, TELF_PH_LOAD, &ph);                       \
		assert_int_equal(fx_load_mem(f, elf.p, elf.len), want); \
		assert_err_has(f, "kernel mem-kernel: ", __VA_ARGS__); \
		tbuf_free(&elf);                                       \
	} while (0)

	CASE(eh.e_phoff = 0x10000, -EINVAL, "e_phoff 0x10000", "beyond file size");
	CASE(eh.e_phoff = UINT64_MAX - 8, -EINVAL, "e_phoff", "beyond file size");
	CASE(eh.e_phnum = 0, -EINVAL, "e_phnum 0");
	CASE(eh.e_phnum = 0xffff, -EINVAL, "e_phnum 65535");
	CASE(eh.e_phentsize = 32, -EINVAL, "e_phentsize 32");
	CASE(eh.e_ident[EI_CLASS] = ELFCLASS32, -ENOEXEC, "EI_CLASS");
	CASE(eh.e_ident[EI_DATA] = ELFDATA2MSB, -ENOEXEC, "EI_DATA");
	CASE(eh.e_machine = EM_386, -ENOEXEC, "e_machine 3");
	CASE(eh.e_type = ET_DYN, -ENOEXEC, "e_type 3");
	CASE(eh.e_version = 7, -EINVAL, "e_version 7");
	CASE(ph.p_offset = UINT64_MAX - 0x10, -EINVAL, "PT_LOAD 0: p_offset", "p_filesz 0x1000",
	     "beyond file size");
	CASE(ph.p_filesz = 0x100000, -EINVAL, "PT_LOAD 0", "p_filesz 0x100000", "beyond file size");
	CASE(ph.p_memsz = 0x10, -EINVAL, "p_filesz 0x1000 > p_memsz 0x10");
	CASE(ph.p_paddr = UINT64_MAX - 0x1000, -EINVAL, "p_paddr", "overflows");
	CASE(ph.p_paddr = 0x3fff000, -E2BIG, "p_paddr 0x3fff000 + p_memsz 0x3000",
	     "outside guest RAM");
	CASE(ph.p_paddr = 0x100000000ULL, -E2BIG, "outside guest RAM");
	CASE(ph.p_memsz = 0x4000000, -E2BIG, "outside guest RAM");
	CASE(ph.p_paddr = 0xff000, -EINVAL, "p_paddr 0xff000", "below 1 MiB");
	CASE(ph.p_paddr = 0, -EINVAL, "below 1 MiB");
	CASE(eh.e_entry = 0x5000000, -EINVAL, "e_entry 0x5000000", "not inside a PT_LOAD");
	CASE(eh.e_entry = 0x1003000, -EINVAL, "e_entry 0x1003000"); /* one past memsz */
	CASE(ph.p_type = PT_DYNAMIC, -EINVAL, "no PT_LOAD");
#undef CASE
}

/* An ELF cut at every length: never success, never a read outside the buffer
 * (ASan checks, the copy is exactly `len` bytes). */
static void test_elf_truncated(void **state)
{
	struct fx *f = *state;
	struct telf_opts o;
	struct tbuf elf;

	telf_default(&o);
	o.pvh_descsz = 8;
	o.pvh_entry = o.paddr;
	elf = telf_build(&o);
	for (size_t len = 1; len < elf.len; len++) {
		uint8_t *copy = malloc(len);
		int ret;

		memcpy(copy, elf.p, len);
		ret = fx_load_mem(f, copy, len);
		if (len < 4) {
			assert_int_equal(ret, -ENOEXEC);
		} else {
			assert_int_equal(ret, -EINVAL);
			if (len < 64)
				assert_err_has(f, "shorter than the ELF header");
			else if (len < 64 + 2 * 56)
				assert_err_has(f, "e_phoff");
			else
				assert_err_has(f, "beyond file size");
		}
		free(copy);
	}
	tbuf_free(&elf);
}

static void test_initrd_placement(void **state)
{
	struct fx *f = *state;
	struct boot_params bp;
	char initrd[600];
	struct telf_opts o;
	struct tbuf elf, bz;
	size_t rdlen = 100 * 1000 + 17;
	uint8_t *rd = malloc(rdlen);

	for (size_t i = 0; i < rdlen; i++)
		rd[i] = (uint8_t)(i * 7);
	tfile_write(f->dir, "initrd.img", rd, rdlen, initrd, sizeof(initrd));
	f->cfg.initrd_path = initrd;

	/* ELF: as high as possible below the end of RAM, page aligned. */
	telf_default(&o);
	elf = telf_build(&o);
	assert_int_equal(fx_load_mem(f, elf.p, elf.len), 0);
	assert_int_equal(f->plan.initrd_start, BH_ALIGN_DOWN(TEST_RAM - rdlen, 4096ULL));
	assert_int_equal(f->plan.initrd_size, rdlen);
	assert_memory_equal(gmem_ptr(&f->gm, f->plan.initrd_start, rdlen), rd, rdlen);
	bp = fx_zero_page(f);
	assert_int_equal(bp.hdr.ramdisk_image, f->plan.initrd_start);
	assert_int_equal(bp.hdr.ramdisk_size, rdlen);
	assert_int_equal(bp.ext_ramdisk_image, 0);
	assert_int_equal(bp.ext_ramdisk_size, 0);

	/* bzImage: initrd_addr_max caps the end (last byte <= initrd_addr_max). */
	bz = fx_bz(BOOT_COMP_LZ4, NULL);
	tput32(bz.p + 0x22c, 0x2ffffff);
	assert_int_equal(fx_load_mem(f, bz.p, bz.len), 0);
	assert_int_equal(f->plan.initrd_start, BH_ALIGN_DOWN(0x3000000 - rdlen, 4096ULL));
	assert_true(f->plan.initrd_start + rdlen <= 0x3000000);
	assert_true(f->plan.initrd_start >= f->plan.kernel_end);

	/* initrd_addr_max below the kernel's end: does not fit. */
	tput32(bz.p + 0x22c, 0x1000fff);
	assert_int_equal(fx_load_mem(f, bz.p, bz.len), -E2BIG);
	assert_err_has(f, "initrd ", "initrd.img (1 MiB) does not fit below 0x1001000",
		       "initrd_addr_max 0x1000fff");
	tbuf_free(&bz);

	/* Too big for the RAM above the kernel. */
	rd = realloc(rd, 48 * BH_MiB);
	memset(rd, 1, 48 * BH_MiB);
	tfile_write(f->dir, "big.img", rd, 48 * BH_MiB, initrd, sizeof(initrd));
	assert_int_equal(fx_load_mem(f, elf.p, elf.len), -E2BIG);
	assert_err_has(f, "big.img (48 MiB) does not fit below 0x4000000");

	/* Empty / directory / missing initrd. */
	tfile_write(f->dir, "empty.img", rd, 0, initrd, sizeof(initrd));
	assert_int_equal(fx_load_mem(f, elf.p, elf.len), -EINVAL);
	assert_err_has(f, "initrd ", "empty.img: empty file");
	f->cfg.initrd_path = f->dir;
	assert_int_equal(fx_load_mem(f, elf.p, elf.len), -EISDIR);
	assert_err_has(f, "initrd ", "is a directory");
	f->cfg.initrd_path = "/nonexistent/initrd";
	assert_int_equal(fx_load_mem(f, elf.p, elf.len), -ENOENT);
	assert_err_has(f, "initrd /nonexistent/initrd");
	tbuf_free(&elf);
	free(rd);
}

/* Guest RAM under 2 MiB cannot hold any kernel. */
static void test_tiny_ram(void **state)
{
	struct guest_mem gm;
	struct boot_config cfg = { .kernel_path = "k" };
	struct boot_plan plan;
	char err[256];

	(void)state;
	assert_int_equal(gmem_create(&gm, BH_MiB), 0);
	assert_int_equal(boot_load_image(&gm, &cfg, (const uint8_t *)"\x7f" "ELF", 4, &plan, err,
					 sizeof(err)), -E2BIG);
	assert_non_null(strstr(err, "under 2 MiB"));
	gmem_destroy(&gm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_good_elf, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_pvh, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_pvh_missing_or_bad_note, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_elf_lies, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_elf_truncated, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_initrd_placement, fx_setup, fx_teardown),
		cmocka_unit_test(test_tiny_ram),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
