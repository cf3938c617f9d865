/* boot_decompress.c — decompressors for bzImage payloads (gzip, xz, lzma,
 * lz4 legacy, zstd, bzip2), each bounded by an output cap so that a
 * decompression bomb fails with -E2BIG instead of exhausting host memory.
 *
 * Every decompressor writes into a growable buffer of at most cap + 1 bytes
 * (lz4: cap + one block): producing more than `cap` bytes means -E2BIG. The
 * libraries' own memory use is bounded too (xz/lzma memlimit, zstd's default
 * window limit). */
#include <bzlib.h>
#include <errno.h>
#include <limits.h>
#include <lz4.h>
#include <lzma.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "arch/x86/boot_internal.h"

#define LZ4_LEGACY_MAGIC 0x184c2102U
#define LZ4_LEGACY_BLOCK (8U << 20)
#define LZMA_MEMLIMIT (256ULL << 20)

enum boot_comp boot_comp_detect(const uint8_t *d, size_t len)
{
	static const uint8_t xz[6] = { 0xfd, '7', 'z', 'X', 'Z', 0 };

	if (len >= 2 && d[0] == 0x1f && d[1] == 0x8b)
		return BOOT_COMP_GZIP;
	if (len >= 6 && memcmp(d, xz, 6) == 0)
		return BOOT_COMP_XZ;
	if (len >= 3 && d[0] == 0x5d && d[1] == 0 && d[2] == 0)
		return BOOT_COMP_LZMA;
	if (len >= 4 && d[0] == 0x02 && d[1] == 0x21 && d[2] == 0x4c && d[3] == 0x18)
		return BOOT_COMP_LZ4;
	if (len >= 4 && d[0] == 0x28 && d[1] == 0xb5 && d[2] == 0x2f && d[3] == 0xfd)
		return BOOT_COMP_ZSTD;
	if (len >= 3 && d[0] == 'B' && d[1] == 'Z' && d[2] == 'h')
		return BOOT_COMP_BZIP2;
	return BOOT_COMP_UNKNOWN;
}

const char *boot_comp_name(enum boot_comp comp)
{
	switch (comp) {
	case BOOT_COMP_GZIP: return "gzip";
	case BOOT_COMP_XZ: return "xz";
	case BOOT_COMP_LZMA: return "lzma";
	case BOOT_COMP_LZ4: return "lz4";
	case BOOT_COMP_ZSTD: return "zstd";
	case BOOT_COMP_BZIP2: return "bzip2";
	case BOOT_COMP_UNKNOWN: break;
	}
	return "unknown";
}

/* Output buffer: grows geometrically up to `max` bytes of allocation. */
struct obuf {
	uint8_t *p;
	size_t len;   /* bytes produced */
	size_t alloc; /* bytes allocated */
	size_t max;   /* allocation ceiling */
};

/* Make at least `want` bytes free (capped by max). 0, -ENOMEM, or -E2BIG when
 * the ceiling is reached and nothing can be added. */
static BH_WUR int obuf_reserve(struct obuf *o, size_t want)
{
	size_t need, n;
	uint8_t *np;

	if (o->alloc - o->len >= want)
		return 0;
	if (o->alloc >= o->max)
		return o->alloc > o->len ? 0 : -E2BIG;
	need = o->len + want;
	if (need > o->max || need < o->len)
		need = o->max;
	n = o->alloc ? o->alloc : (1U << 20);
	while (n < need)
		n = n > o->max / 2 ? o->max : n * 2;
	if (n > o->max)
		n = o->max;
	np = realloc(o->p, n);
	if (!np)
		return -ENOMEM;
	o->p = np;
	o->alloc = n;
	return 0;
}

/* Chunk the stream APIs that take `unsigned` lengths. */
static unsigned clamp_uint(size_t n)
{
	return n > (UINT_MAX >> 1) ? (UINT_MAX >> 1) : (unsigned)n;
}

static BH_WUR int dec_gzip(const uint8_t *in, size_t inlen, struct obuf *o)
{
	z_stream z;
	int zr, ret = 0;

	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		return -ENOMEM;
	z.next_in = (Bytef *)(uintptr_t)in; /* zlib's API is not const-correct */
	for (;;) {
		size_t used_in = (size_t)(z.next_in - (const Bytef *)in);
		size_t before;

		z.avail_in = clamp_uint(inlen - used_in);
		ret = obuf_reserve(o, 1U << 20);
		if (ret)
			break;
		z.next_out = o->p + o->len;
		z.avail_out = clamp_uint(o->alloc - o->len);
		before = z.avail_out;
		zr = inflate(&z, Z_NO_FLUSH);
		o->len += before - z.avail_out;
		if (zr == Z_STREAM_END)
			break;
		if (zr == Z_BUF_ERROR && z.avail_in == 0) {
			ret = -EINVAL; /* truncated */
			break;
		}
		if (zr != Z_OK && zr != Z_BUF_ERROR) {
			ret = zr == Z_MEM_ERROR ? -ENOMEM : -EINVAL;
			break;
		}
	}
	inflateEnd(&z);
	return ret;
}

static BH_WUR int dec_lzma(const uint8_t *in, size_t inlen, struct obuf *o, bool xz)
{
	lzma_stream s = LZMA_STREAM_INIT;
	lzma_ret lr;
	int ret = 0;

	lr = xz ? lzma_stream_decoder(&s, LZMA_MEMLIMIT, 0) : lzma_alone_decoder(&s, LZMA_MEMLIMIT);
	if (lr != LZMA_OK)
		return -ENOMEM;
	s.next_in = in;
	s.avail_in = inlen;
	for (;;) {
		ret = obuf_reserve(o, 1U << 20);
		if (ret)
			break;
		s.next_out = o->p + o->len;
		s.avail_out = o->alloc - o->len;
		lr = lzma_code(&s, LZMA_FINISH);
		o->len = (size_t)(s.next_out - o->p);
		if (lr == LZMA_STREAM_END)
			break;
		if (lr != LZMA_OK) {
			ret = lr == LZMA_MEM_ERROR || lr == LZMA_MEMLIMIT_ERROR ? -ENOMEM : -EINVAL;
			break;
		}
	}
	lzma_end(&s);
	return ret;
}

static BH_WUR int dec_bzip2(const uint8_t *in, size_t inlen, struct obuf *o)
{
	bz_stream b;
	int br, ret = 0;

	memset(&b, 0, sizeof(b));
	if (BZ2_bzDecompressInit(&b, 0, 0) != BZ_OK)
		return -ENOMEM;
	b.next_in = (char *)(uintptr_t)in; /* libbz2's API is not const-correct */
	for (;;) {
		size_t used_in = (size_t)((const uint8_t *)b.next_in - in);
		size_t before;

		b.avail_in = clamp_uint(inlen - used_in);
		ret = obuf_reserve(o, 1U << 20);
		if (ret)
			break;
		b.next_out = (char *)(o->p + o->len);
		b.avail_out = clamp_uint(o->alloc - o->len);
		before = b.avail_out;
		br = BZ2_bzDecompress(&b);
		o->len += before - b.avail_out;
		if (br == BZ_STREAM_END)
			break;
		if (br != BZ_OK) {
			ret = br == BZ_MEM_ERROR ? -ENOMEM : -EINVAL;
			break;
		}
		if (b.avail_in == 0 && b.avail_out != 0) {
			ret = -EINVAL; /* input ended before the stream did */
			break;
		}
	}
	BZ2_bzDecompressEnd(&b);
	return ret;
}

static BH_WUR int dec_zstd(const uint8_t *in, size_t inlen, struct obuf *o)
{
	ZSTD_DCtx *d = ZSTD_createDCtx();
	ZSTD_inBuffer ib = { in, inlen, 0 };
	size_t zr;
	int ret = 0;

	if (!d)
		return -ENOMEM;
	for (;;) {
		ZSTD_outBuffer ob;

		ret = obuf_reserve(o, 1U << 20);
		if (ret)
			break;
		ob = (ZSTD_outBuffer){ o->p + o->len, o->alloc - o->len, 0 };
		zr = ZSTD_decompressStream(d, &ob, &ib);
		o->len += ob.pos;
		if (ZSTD_isError(zr)) {
			ret = -EINVAL;
			break;
		}
		if (zr == 0) {
			/* Frame done. Another frame may follow; anything else (the
			 * kernel's appended size) ends the stream. */
			if (inlen - ib.pos >= 4 && boot_comp_detect((const uint8_t *)in + ib.pos,
								    inlen - ib.pos) == BOOT_COMP_ZSTD)
				continue;
			break;
		}
		if (ib.pos == inlen && ob.pos < ob.size) {
			ret = -EINVAL; /* truncated */
			break;
		}
	}
	ZSTD_freeDCtx(d);
	return ret;
}

static uint32_t rd32le(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

/* LZ4 legacy frame (lz4 -l, what Linux uses): magic, then blocks of
 * [u32 le compressed size][data], each decompressing to <= 8 MiB. A size equal
 * to the magic starts a new frame; exactly 4 trailing bytes are the kernel's
 * appended uncompressed size. */
static BH_WUR int dec_lz4(const uint8_t *in, size_t inlen, struct obuf *o, size_t cap)
{
	size_t pos = 4, blocks = 0;
	int ret;

	if (inlen < 4 || rd32le(in) != LZ4_LEGACY_MAGIC)
		return -EINVAL;
	while (pos < inlen) {
		size_t rem = inlen - pos;
		uint32_t csize;
		int n;

		if (rem < 4)
			return -EINVAL;
		csize = rd32le(in + pos);
		if (csize == LZ4_LEGACY_MAGIC) {
			pos += 4;
			continue;
		}
		if (rem == 4 && blocks > 0)
			break; /* appended size */
		pos += 4;
		if (csize == 0 || csize > (uint32_t)LZ4_compressBound(LZ4_LEGACY_BLOCK) ||
		    csize > inlen - pos)
			return -EINVAL;
		if (o->len > cap)
			return -E2BIG;
		ret = obuf_reserve(o, LZ4_LEGACY_BLOCK);
		if (ret)
			return ret;
		if (o->alloc - o->len < LZ4_LEGACY_BLOCK)
			return -E2BIG;
		n = LZ4_decompress_safe((const char *)in + pos, (char *)o->p + o->len, (int)csize,
					(int)LZ4_LEGACY_BLOCK);
		if (n < 0)
			return -EINVAL;
		o->len += (size_t)n;
		pos += csize;
		blocks++;
	}
	return blocks ? 0 : -EINVAL;
}

int boot_decompress(enum boot_comp comp, const uint8_t *in, size_t inlen, size_t cap,
		    uint8_t **outp, size_t *outlenp)
{
	struct obuf o = { NULL, 0, 0, 0 };
	int ret;

	*outp = NULL;
	*outlenp = 0;
	if (cap == 0 || cap > SIZE_MAX - LZ4_LEGACY_BLOCK - 1)
		return -EINVAL;
	/* Stream decoders may produce cap + 1 bytes (= too much); lz4 gets room
	 * for a whole block past the cap so a block never fails for lack of
	 * space. Either way the cap is enforced on o.len. */
	o.max = comp == BOOT_COMP_LZ4 ? cap + LZ4_LEGACY_BLOCK : cap + 1;
	/* Kernel payloads end with the uncompressed size (Linux's size_append):
	 * use it, bounded by the cap, to size the buffer once instead of growing
	 * it. It is only a hint; a lie costs at most one cap-sized allocation. */
	if (inlen >= 8) {
		uint32_t hint = rd32le(in + inlen - 4);

		if (hint > (1U << 20) && hint <= cap) {
			if (obuf_reserve(&o, (size_t)hint + (comp == BOOT_COMP_LZ4 ?
							     LZ4_LEGACY_BLOCK : 1)))
				return -ENOMEM;
		}
	}
	switch (comp) {
	case BOOT_COMP_GZIP:
		ret = dec_gzip(in, inlen, &o);
		break;
	case BOOT_COMP_XZ:
		ret = dec_lzma(in, inlen, &o, true);
		break;
	case BOOT_COMP_LZMA:
		ret = dec_lzma(in, inlen, &o, false);
		break;
	case BOOT_COMP_BZIP2:
		ret = dec_bzip2(in, inlen, &o);
		break;
	case BOOT_COMP_ZSTD:
		ret = dec_zstd(in, inlen, &o);
		break;
	case BOOT_COMP_LZ4:
		ret = dec_lz4(in, inlen, &o, cap);
		break;
	default:
		ret = -ENOTSUP;
		break;
	}
	if (!ret && o.len > cap)
		ret = -E2BIG;
	if (!ret && o.len == 0)
		ret = -EINVAL;
	if (ret) {
		free(o.p);
		return ret;
	}
	*outp = o.p;
	*outlenp = o.len;
	return 0;
}
