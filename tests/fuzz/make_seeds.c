/* make_seeds.c — writes the committed seed corpus for fuzz_boot
 * (tests/fuzz/corpus/boot): small valid kernels of every shape the loader
 * accepts, each prefixed with fuzz_boot's flags byte. Run by make-seeds.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot_test_util.h"

static void put(const char *dir, const char *name, uint8_t flags, const struct tbuf *b)
{
	char path[512];
	uint8_t *buf = malloc(b->len + 1);
	FILE *f;

	if (!buf)
		exit(1);
	buf[0] = flags;
	memcpy(buf + 1, b->p, b->len);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, b->len + 1, f) != b->len + 1 || fclose(f)) {
		perror(path);
		exit(1);
	}
	free(buf);
}

static struct tbuf bz_of(enum boot_comp c, const struct telf_opts *o)
{
	struct tbuf elf = telf_build(o), z = tcompress(c, elf.p, elf.len), bz;

	bz = tbz_build(z.p, z.len);
	tbuf_free(&elf);
	tbuf_free(&z);
	return bz;
}

int main(int argc, char **argv)
{
	static const enum boot_comp comps[] = { BOOT_COMP_GZIP, BOOT_COMP_LZ4, BOOT_COMP_ZSTD,
						BOOT_COMP_XZ, BOOT_COMP_LZMA, BOOT_COMP_BZIP2 };
	struct telf_opts o;
	struct tbuf b;
	char name[64];
	uint8_t junk[512];

	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	telf_default(&o);
	o.filesz = 0x200;
	o.memsz = 0x1000;
	o.pvh_descsz = 4;
	o.pvh_entry = o.paddr + 0x10;
	for (size_t i = 0; i < sizeof(comps) / sizeof(comps[0]); i++) {
		b = bz_of(comps[i], &o);
		snprintf(name, sizeof(name), "bzimage-%s", boot_comp_name(comps[i]));
		put(argv[1], name, (uint8_t)(i & 1), &b); /* alternate AUTO / PVH */
		tbuf_free(&b);
	}
	b = bz_of(BOOT_COMP_GZIP, &o);
	put(argv[1], "bzimage-guest", 2, &b);
	tbuf_free(&b);
	memset(junk, 0x42, sizeof(junk));
	b = tbz_build(junk, sizeof(junk));
	put(argv[1], "bzimage-unknown-payload", 0, &b);
	tbuf_free(&b);
	b = telf_build(&o);
	put(argv[1], "elf-pvh4", 1, &b);
	tbuf_free(&b);
	o.pvh_descsz = 8;
	b = telf_build(&o);
	put(argv[1], "elf-pvh8", 5, &b);
	tbuf_free(&b);
	o.pvh_descsz = 0;
	b = telf_build(&o);
	put(argv[1], "elf-plain", 0, &b);
	tbuf_free(&b);
	return 0;
}
