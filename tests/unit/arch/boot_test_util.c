/* boot_test_util.c — crafted kernel images for the loader tests; see
 * boot_test_util.h. Failures here are test-harness bugs: they abort loudly. */
#include "boot_test_util.h"

#include <bzlib.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <lz4.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#define DIE(...)                                      \
	do {                                          \
		fprintf(stderr, "test util: " __VA_ARGS__); \
		fprintf(stderr, "\n");                \
		abort();                              \
	} while (0)

void tbuf_free(struct tbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = 0;
}

void tput16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

void tput32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void tput64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void *xcalloc(size_t n)
{
	void *p = calloc(1, n ? n : 1);

	if (!p)
		DIE("out of memory");
	return p;
}

void telf_default(struct telf_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->paddr = 0x1000000;
	o->filesz = 0x1000;
	o->memsz = 0x3000;
	o->entry_off = 0;
}

struct tbuf telf_build(const struct telf_opts *o)
{
	unsigned nph = o->pvh_descsz ? 2 : 1;
	size_t note_off = TELF_PHOFF + nph * sizeof(Elf64_Phdr);
	size_t note_len = o->pvh_descsz ? 12 + 4 + o->pvh_descsz : 0;
	size_t data_off = (note_off + note_len + 15) & ~(size_t)15;
	struct tbuf b = { NULL, data_off + o->filesz };
	Elf64_Ehdr eh;
	Elf64_Phdr ph;

	b.p = xcalloc(b.len);
	memset(&eh, 0, sizeof(eh));
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_type = ET_EXEC;
	eh.e_machine = EM_X86_64;
	eh.e_version = EV_CURRENT;
	eh.e_entry = o->paddr + o->entry_off;
	eh.e_phoff = TELF_PHOFF;
	eh.e_ehsize = sizeof(eh);
	eh.e_phentsize = sizeof(Elf64_Phdr);
	eh.e_phnum = (uint16_t)nph;
	memcpy(b.p, &eh, sizeof(eh));

	memset(&ph, 0, sizeof(ph));
	ph.p_type = PT_LOAD;
	ph.p_flags = PF_R | PF_X;
	ph.p_offset = data_off;
	ph.p_vaddr = 0xffffffff80000000ULL + o->paddr;
	ph.p_paddr = o->paddr;
	ph.p_filesz = o->filesz;
	ph.p_memsz = o->memsz;
	ph.p_align = 0x1000;
	memcpy(b.p + TELF_PHOFF, &ph, sizeof(ph));
	for (size_t i = 0; i < o->filesz; i++)
		b.p[data_off + i] = (uint8_t)(0xa5 ^ i);

	if (o->pvh_descsz) {
		uint8_t *n = b.p + note_off;

		memset(&ph, 0, sizeof(ph));
		ph.p_type = PT_NOTE;
		ph.p_offset = note_off;
		ph.p_filesz = note_len;
		ph.p_memsz = note_len;
		ph.p_align = 4;
		memcpy(b.p + TELF_PHOFF + sizeof(ph), &ph, sizeof(ph));
		tput32(n, 4);
		tput32(n + 4, o->pvh_descsz);
		tput32(n + 8, BOOT_XEN_ELFNOTE_PHYS32_ENTRY);
		memcpy(n + 12, "Xen", 4);
		if (o->pvh_descsz == 8)
			tput64(n + 16, o->pvh_entry);
		else
			tput32(n + 16, (uint32_t)o->pvh_entry);
	}
	return b;
}

static struct tbuf c_gzip(const uint8_t *in, size_t len)
{
	struct tbuf b = { NULL, 0 };
	size_t cap = compressBound((uLong)len) + 64;
	z_stream z;

	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		DIE("deflateInit2");
	b.p = xcalloc(cap + 4);
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)len;
	z.next_out = b.p;
	z.avail_out = (uInt)cap;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END)
		DIE("deflate");
	b.len = z.total_out;
	deflateEnd(&z);
	return b;
}

static struct tbuf c_lz4(const uint8_t *in, size_t len)
{
	const size_t blk = 8U << 20;
	size_t cap = 4 + (len / blk + 1) * (4 + (size_t)LZ4_compressBound((int)blk)) + 4;
	struct tbuf b = { xcalloc(cap), 4 };

	tput32(b.p, 0x184c2102);
	for (size_t off = 0; off < len; off += blk) {
		size_t n = len - off < blk ? len - off : blk;
		int c = LZ4_compress_default((const char *)in + off, (char *)b.p + b.len + 4,
					     (int)n, LZ4_compressBound((int)blk));

		if (c <= 0)
			DIE("lz4");
		tput32(b.p + b.len, (uint32_t)c);
		b.len += 4 + (size_t)c;
	}
	return b;
}

static struct tbuf c_zstd(const uint8_t *in, size_t len)
{
	size_t cap = ZSTD_compressBound(len);
	struct tbuf b = { xcalloc(cap + 4), 0 };

	b.len = ZSTD_compress(b.p, cap, in, len, 3);
	if (ZSTD_isError(b.len))
		DIE("zstd");
	return b;
}

static struct tbuf c_xz(const uint8_t *in, size_t len, bool alone)
{
	size_t cap = len + len / 2 + 4096;
	struct tbuf b = { xcalloc(cap + 4), 0 };

	if (!alone) {
		if (lzma_easy_buffer_encode(6, LZMA_CHECK_CRC32, NULL, in, len, b.p, &b.len,
					    cap) != LZMA_OK)
			DIE("xz");
		return b;
	}
	lzma_stream s = LZMA_STREAM_INIT;
	lzma_options_lzma opt;

	if (lzma_lzma_preset(&opt, 6) || lzma_alone_encoder(&s, &opt) != LZMA_OK)
		DIE("lzma alone");
	s.next_in = in;
	s.avail_in = len;
	s.next_out = b.p;
	s.avail_out = cap;
	if (lzma_code(&s, LZMA_FINISH) != LZMA_STREAM_END)
		DIE("lzma code");
	b.len = s.total_out;
	lzma_end(&s);
	return b;
}

static struct tbuf c_bzip2(const uint8_t *in, size_t len)
{
	unsigned cap = (unsigned)(len + len / 100 + 700);
	struct tbuf b = { xcalloc(cap + 4), 0 };

	if (BZ2_bzBuffToBuffCompress((char *)b.p, &cap, (char *)(uintptr_t)in, (unsigned)len, 9,
				     0, 0) != BZ_OK)
		DIE("bzip2");
	b.len = cap;
	return b;
}

struct tbuf tcompress(enum boot_comp comp, const uint8_t *in, size_t len)
{
	struct tbuf b;
	uint8_t *np;

	switch (comp) {
	case BOOT_COMP_GZIP: b = c_gzip(in, len); break;
	case BOOT_COMP_LZ4: b = c_lz4(in, len); break;
	case BOOT_COMP_ZSTD: b = c_zstd(in, len); break;
	case BOOT_COMP_XZ: b = c_xz(in, len, false); break;
	case BOOT_COMP_LZMA: b = c_xz(in, len, true); break;
	case BOOT_COMP_BZIP2: b = c_bzip2(in, len); break;
	default: DIE("bad comp %d", (int)comp);
	}
	np = realloc(b.p, b.len + 4);
	if (!np)
		DIE("oom");
	b.p = np;
	tput32(b.p + b.len, (uint32_t)len); /* Linux's size_append */
	b.len += 4;
	return b;
}

struct tbuf tbz_build(const uint8_t *payload, size_t plen)
{
	const size_t setup = 5 * 512, stub = 0x400;
	struct tbuf b = { NULL, setup + stub + plen };
	uint8_t *h;

	b.p = xcalloc(b.len);
	h = b.p;
	h[0x1f1] = 4;                          /* setup_sects */
	tput16(h + 0x1fe, 0xaa55);             /* boot_flag */
	h[0x200] = 0xeb;                       /* jump over the header */
	h[0x201] = 0x6a;                       /* -> ends at 0x26c */
	tput32(h + 0x202, BOOT_HDRS_MAGIC);
	tput16(h + 0x206, 0x020f);             /* version */
	tput32(h + 0x214, 0x100000);           /* code32_start */
	h[0x211] = BOOT_LOADED_HIGH;           /* loadflags */
	tput32(h + 0x22c, 0x7fffffff);         /* initrd_addr_max */
	tput32(h + 0x230, 0x200000);           /* kernel_alignment */
	h[0x234] = 1;                          /* relocatable_kernel */
	tput16(h + 0x236, BOOT_XLF_KERNEL_64 | BOOT_XLF_CAN_BE_LOADED_ABOVE_4G);
	tput32(h + 0x238, 0x7ff);              /* cmdline_size */
	tput32(h + 0x248, plen ? (uint32_t)stub : 0); /* payload_offset */
	tput32(h + 0x24c, (uint32_t)plen);     /* payload_length */
	tput64(h + 0x258, 0x1000000);          /* pref_address */
	tput32(h + 0x260, 0x800000);           /* init_size */
	memset(b.p + setup, 0x90, stub);       /* "code" */
	if (plen)
		memcpy(b.p + setup + stub, payload, plen);
	return b;
}

void tmpdir_make(char *dir, size_t len)
{
	snprintf(dir, len, "/tmp/bh-boot-test.XXXXXX");
	if (!mkdtemp(dir))
		DIE("mkdtemp: %s", strerror(errno));
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void tmpdir_remove(const char *dir)
{
	(void)nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

void tfile_write(const char *dir, const char *name, const void *data, size_t len, char *out,
		 size_t outlen)
{
	const uint8_t *p = data;
	int fd;

	snprintf(out, outlen, "%s/%s", dir, name);
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		DIE("open %s: %s", out, strerror(errno));
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n <= 0)
			DIE("write %s", out);
		p += n;
		len -= (size_t)n;
	}
	close(fd);
}
