/* boot_test_util.h — builders for crafted kernel images used by the loader's
 * unit tests (and by the fuzz seed generator): minimal ELF64 kernels with an
 * optional PVH note, compressed payloads in every format the loader reads,
 * and bzImages wrapping them. All in memory; helpers to write temp files. */
#ifndef BH_TEST_BOOT_UTIL_H
#define BH_TEST_BOOT_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "arch/x86/boot_internal.h"

/* A growable byte buffer. */
struct tbuf {
	uint8_t *p;
	size_t len;
};
void tbuf_free(struct tbuf *b);

/* Minimal ELF64 x86-64 ET_EXEC: one PT_LOAD at `paddr` (filesz bytes of a
 * recognisable pattern, memsz >= filesz), entry = paddr + entry_off, and a
 * PT_NOTE with the PVH entry note if pvh_descsz is 4 or 8 (entry pvh_entry). */
struct telf_opts {
	uint64_t paddr;
	uint64_t filesz, memsz;
	uint64_t entry_off;
	unsigned pvh_descsz;  /* 0: no note */
	uint64_t pvh_entry;
};
void telf_default(struct telf_opts *o);
struct tbuf telf_build(const struct telf_opts *o);

/* Offsets inside telf_build() output, for tests that corrupt fields. */
#define TELF_PHOFF 64
#define TELF_PH_LOAD 0 /* index of the PT_LOAD header */
#define TELF_PH_NOTE 1 /* index of the PT_NOTE header (if present) */

/* Compress `in` in `comp` format, with the kernel's 4-byte appended size
 * (as Linux's size_append does). */
struct tbuf tcompress(enum boot_comp comp, const uint8_t *in, size_t len);

/* bzImage around `payload` (may be NULL/0): setup_sects 4, protocol 2.15,
 * XLF_KERNEL_64, payload at pm offset 0x400 after a 0x400-byte fake stub. */
struct tbuf tbz_build(const uint8_t *payload, size_t plen);

/* Little-endian field writers. */
void tput16(uint8_t *p, uint16_t v);
void tput32(uint8_t *p, uint32_t v);
void tput64(uint8_t *p, uint64_t v);

/* Temp dir for a test; path returned is static per call site buffer `dir`. */
void tmpdir_make(char *dir, size_t len);
void tmpdir_remove(const char *dir);
/* Write `len` bytes to `<dir>/<name>`, path into `out`. */
void tfile_write(const char *dir, const char *name, const void *data, size_t len, char *out,
		 size_t outlen);

#endif
