/* boot_test_fixture.h — shared cmocka fixture for the loader tests: a 64 MiB
 * guest RAM, a temp dir, and helpers to run boot_load() on crafted images and
 * check both the return code and that the message names the field.
 * Header-only (static functions) so each test executable stays standalone. */
#ifndef BH_TEST_BOOT_FIXTURE_H
#define BH_TEST_BOOT_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "arch/x86/boot.h"
#include "arch/x86/boot_internal.h"
#include "arch/x86/layout.h"
#include "boot_test_util.h"
#include "common/log.h"

#define TEST_RAM (64ULL * BH_MiB)

struct fx {
	struct guest_mem gm;
	char dir[256];
	char path[512];
	char err[512];
	struct boot_config cfg;
	struct boot_plan plan;
};

static BH_UNUSED int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(gmem_create(&f->gm, TEST_RAM), 0);
	tmpdir_make(f->dir, sizeof(f->dir));
	f->cfg.decompress = BOOT_DECOMPRESS_HOST;
	f->cfg.proto = BOOT_PROTO_AUTO;
	bh_log_set_level(BH_LOG_ERROR); /* fallbacks warn by design: keep output readable */
	*state = f;
	return 0;
}

static BH_UNUSED int fx_teardown(void **state)
{
	struct fx *f = *state;

	gmem_destroy(&f->gm);
	tmpdir_remove(f->dir);
	free(f);
	return 0;
}

/* Write `img` to <dir>/<name> and boot_load() it with f->cfg. */
static BH_UNUSED int fx_load_file(struct fx *f, const char *name, const void *img, size_t len)
{
	tfile_write(f->dir, name, img, len, f->path, sizeof(f->path));
	f->cfg.kernel_path = f->path;
	f->err[0] = '\0';
	return boot_load(&f->gm, &f->cfg, &f->plan, f->err, sizeof(f->err));
}

/* boot_load_image() straight from memory (fast: for sweeps). */
static BH_UNUSED int fx_load_mem(struct fx *f, const void *img, size_t len)
{
	f->cfg.kernel_path = "mem-kernel";
	f->err[0] = '\0';
	return boot_load_image(&f->gm, &f->cfg, img, len, &f->plan, f->err, sizeof(f->err));
}

/* Assert err contains every given substring (NULL-terminated list). */
#define assert_err_has(f, ...) fx_assert_has((f)->err, __VA_ARGS__, (const char *)NULL)
static BH_UNUSED void fx_assert_has(const char *err, ...)
{
	const char *s;
	va_list ap;

	va_start(ap, err);
	while ((s = va_arg(ap, const char *))) {
		if (!strstr(err, s))
			fail_msg("message \"%s\" lacks \"%s\"", err, s);
	}
	va_end(ap);
}

static BH_UNUSED struct boot_params fx_zero_page(struct fx *f)
{
	struct boot_params bp;

	assert_int_equal(gmem_read(&f->gm, &bp, X86_ZERO_PAGE_GPA, sizeof(bp)), 0);
	return bp;
}

/* Default test kernel: ELF with PVH note, compressed as `comp`, in a bzImage. */
static BH_UNUSED struct tbuf fx_bz(enum boot_comp comp, const struct telf_opts *eo)
{
	struct telf_opts o;
	struct tbuf elf, z, bz;

	if (!eo) {
		telf_default(&o);
		o.pvh_descsz = 4;
		o.pvh_entry = o.paddr + 0x40;
		eo = &o;
	}
	elf = telf_build(eo);
	z = tcompress(comp, elf.p, elf.len);
	bz = tbz_build(z.p, z.len);
	tbuf_free(&elf);
	tbuf_free(&z);
	return bz;
}

#endif
