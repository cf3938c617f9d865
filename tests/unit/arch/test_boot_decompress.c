/* test_boot_decompress.c — host-side decompression of bzImage payloads in
 * every format, the output cap (decompression bombs), the content-hash cache
 * (hit, miss, corrupt and hostile entries), SHA-256 vectors, and an optional
 * check against a real distribution kernel:
 *   BULKHEAD_REAL_KERNEL=/path/to/vmlinuz meson test --suite boot
 */
#include "boot_test_fixture.h"
#include "common/sha256.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static const enum boot_comp all_comps[] = {
	BOOT_COMP_GZIP, BOOT_COMP_LZ4, BOOT_COMP_ZSTD, BOOT_COMP_XZ, BOOT_COMP_LZMA, BOOT_COMP_BZIP2,
};

static void hex(const uint8_t *d, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

static void test_sha256_vectors(void **state)
{
	static const struct {
		const char *in;
		const char *out;
	} v[] = {
		{ "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
		{ "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
	};
	uint8_t d[32];
	char h[65];
	char *a;

	(void)state;
	for (size_t i = 0; i < BH_ARRAY_SIZE(v); i++) {
		assert_int_equal(bh_sha256(v[i].in, strlen(v[i].in), d), 0);
		hex(d, 32, h);
		assert_string_equal(h, v[i].out);
	}
	a = malloc(1000000);
	memset(a, 'a', 1000000);
	assert_int_equal(bh_sha256(a, 1000000, d), 0);
	hex(d, 32, h);
	assert_string_equal(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	free(a);
}

/* Every format through boot_load(): the ELF inside is loaded, the bzImage's
 * own setup header is what the zero page carries, and PVH works via the note. */
static void test_each_format_host(void **state)
{
	struct fx *f = *state;
	char want[64];

	for (size_t i = 0; i < BH_ARRAY_SIZE(all_comps); i++) {
		enum boot_comp c = all_comps[i];
		struct tbuf bz = fx_bz(c, NULL);
		uint8_t *mem = gmem_ptr(&f->gm, 0x1000000, 0x3000);
		struct boot_params bp;

		assert_int_equal(boot_comp_detect(bz.p + 5 * 512 + 0x400, 16), c);
		memset(mem, 0xff, 0x3000);
		f->cfg.proto = BOOT_PROTO_AUTO;
		if (fx_load_mem(f, bz.p, bz.len))
			fail_msg("%s: %s", boot_comp_name(c), f->err);
		snprintf(want, sizeof(want), "bzImage: %s payload decompressed on host",
			 boot_comp_name(c));
		assert_string_equal(f->plan.format, want);
		assert_int_equal(f->plan.kind, BOOT_ENTRY_LINUX64);
		assert_int_equal(f->plan.entry, 0x1000000);
		assert_int_equal(f->plan.kernel_start, 0x1000000);
		assert_int_equal(f->plan.kernel_end, 0x1003000);
		assert_int_equal(mem[0], 0xa5);
		assert_int_equal(mem[0xfff], (uint8_t)(0xa5 ^ 0xfff));
		assert_int_equal(mem[0x1000], 0);
		assert_int_equal(mem[0x2fff], 0);
		bp = fx_zero_page(f);
		assert_int_equal(bp.hdr.kernel_alignment, 0x200000); /* bzImage's, not synthesized */
		assert_int_equal(bp.hdr.init_size, 0x800000);
		assert_int_equal(bp.hdr.cmdline_size, 0x7ff);

		f->cfg.proto = BOOT_PROTO_PVH;
		assert_int_equal(fx_load_mem(f, bz.p, bz.len), 0);
		assert_int_equal(f->plan.kind, BOOT_ENTRY_PVH32);
		assert_int_equal(f->plan.entry, 0x1000040);
		assert_int_equal(f->plan.params_gpa, X86_PVH_START_INFO_GPA);
		tbuf_free(&bz);
	}
}

static uint8_t *pattern(size_t len)
{
	uint8_t *p = malloc(len);
	uint32_t x = 1;

	for (size_t i = 0; i < len; i++) {
		x = x * 1664525 + 1013904223;
		p[i] = (i & 64) ? (uint8_t)(x >> 24) : (uint8_t)(i / 4096);
	}
	return p;
}

static void test_roundtrip_cap_truncation(void **state)
{
	const size_t len = 3 * BH_MiB + 123;
	uint8_t *data = pattern(len), *out;
	size_t outlen;

	(void)state;
	for (size_t i = 0; i < BH_ARRAY_SIZE(all_comps); i++) {
		enum boot_comp c = all_comps[i];
		struct tbuf z = tcompress(c, data, len);

		assert_int_equal(boot_comp_detect(z.p, z.len), c);
		assert_int_equal(boot_decompress(c, z.p, z.len, len, &out, &outlen), 0);
		assert_int_equal(outlen, len);
		assert_memory_equal(out, data, len);
		free(out);
		/* One byte over the cap is a bomb. */
		if (boot_decompress(c, z.p, z.len, len - 1, &out, &outlen) != -E2BIG)
			fail_msg("%s: cap not enforced", boot_comp_name(c));
		assert_null(out);
		/* Truncated streams are corrupt, not short successes. */
		if (boot_decompress(c, z.p, z.len / 2, len, &out, &outlen) != -EINVAL)
			fail_msg("%s: truncation not detected", boot_comp_name(c));
		tbuf_free(&z);
	}
	assert_int_equal(boot_decompress(BOOT_COMP_UNKNOWN, data, 100, len, &out, &outlen),
			 -ENOTSUP);
	assert_int_equal(boot_comp_detect(data, 1), BOOT_COMP_UNKNOWN);
	free(data);
}

static void test_lz4_legacy_details(void **state)
{
	const size_t len = 9 * BH_MiB + 5; /* two 8 MiB blocks */
	uint8_t *data = pattern(len), *out;
	struct tbuf a, b;
	uint8_t *two;
	size_t outlen, alen;

	(void)state;
	a = tcompress(BOOT_COMP_LZ4, data, len);
	assert_int_equal(boot_decompress(BOOT_COMP_LZ4, a.p, a.len, 64 * BH_MiB, &out, &outlen), 0);
	assert_int_equal(outlen, len);
	assert_memory_equal(out, data, len);
	free(out);

	/* Two concatenated frames (magic restarts a frame), then the size. */
	b = tcompress(BOOT_COMP_LZ4, data, 1000);
	alen = a.len - 4;
	two = malloc(alen + b.len);
	memcpy(two, a.p, alen);
	memcpy(two + alen, b.p, b.len);
	assert_int_equal(boot_decompress(BOOT_COMP_LZ4, two, alen + b.len, 64 * BH_MiB, &out,
					 &outlen), 0);
	assert_int_equal(outlen, len + 1000);
	assert_memory_equal(out + len, data, 1000);
	free(out);

	/* No trailer at all is fine too. */
	assert_int_equal(boot_decompress(BOOT_COMP_LZ4, a.p, a.len - 4, 64 * BH_MiB, &out,
					 &outlen), 0);
	free(out);
	/* Block size lies: beyond the input, zero, over the bound; 1-3 stray bytes. */
	tput32(a.p + 4, 0x7fffffff);
	assert_int_equal(boot_decompress(BOOT_COMP_LZ4, a.p, a.len, 64 * BH_MiB, &out, &outlen),
			 -EINVAL);
	tput32(a.p + 4, 0);
	assert_int_equal(boot_decompress(BOOT_COMP_LZ4, a.p, a.len, 64 * BH_MiB, &out, &outlen),
			 -EINVAL);
	assert_int_equal(boot_decompress(BOOT_COMP_LZ4, b.p, b.len - 2, 64 * BH_MiB, &out,
					 &outlen), -EINVAL);
	assert_int_equal(boot_decompress(BOOT_COMP_LZ4, b.p, 4, 64 * BH_MiB, &out, &outlen),
			 -EINVAL);
	free(two);
	tbuf_free(&a);
	tbuf_free(&b);
	free(data);
}

/* A small gzip that expands past 256 MiB must fail cleanly with -E2BIG. */
static void test_gzip_bomb(void **state)
{
	struct fx *f = *state;
	const size_t chunk = 4 * BH_MiB, total = 260 * BH_MiB;
	uint8_t *zeros = calloc(1, chunk), *z;
	size_t zcap = 2 * BH_MiB;
	struct tbuf bz;
	z_stream s;

	z = malloc(zcap);
	memset(&s, 0, sizeof(s));
	assert_int_equal(deflateInit2(&s, 9, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY),
			 Z_OK);
	s.next_out = z;
	s.avail_out = (uInt)zcap;
	for (size_t done = 0; done < total; done += chunk) {
		s.next_in = zeros;
		s.avail_in = (uInt)chunk;
		assert_int_equal(deflate(&s, done + chunk >= total ? Z_FINISH : Z_NO_FLUSH),
				 done + chunk >= total ? Z_STREAM_END : Z_OK);
	}
	bz = tbz_build(z, s.total_out);
	assert_true(bz.len < BH_MiB);
	deflateEnd(&s);
	assert_int_equal(fx_load_mem(f, bz.p, bz.len), -E2BIG);
	assert_err_has(f, "gzip payload decompresses to more than 256 MiB");
	tbuf_free(&bz);
	free(z);
	free(zeros);
}

static void cache_file(struct fx *f, const struct tbuf *bz, const char *dir, char *out,
		       size_t outlen)
{
	uint8_t key[32];
	char h[65];

	(void)f;
	assert_int_equal(boot_cache_key(bz->p, bz->len, key), 0);
	hex(key, 32, h);
	snprintf(out, outlen, "%s/vmlinux-%s", dir, h);
}

static void expect_load(struct fx *f, const struct tbuf *bz, const char *suffix)
{
	char want[64];

	if (fx_load_mem(f, bz->p, bz->len))
		fail_msg("load failed: %s", f->err);
	snprintf(want, sizeof(want), "bzImage: xz payload decompressed on host%s", suffix);
	assert_string_equal(f->plan.format, want);
	assert_int_equal(f->plan.entry, 0x1000000);
	assert_int_equal(*(uint8_t *)gmem_ptr(&f->gm, 0x1000001, 1), 0xa4);
}

static void test_cache(void **state)
{
	struct fx *f = *state;
	struct tbuf bz = fx_bz(BOOT_COMP_XZ, NULL), bogus;
	char dir[700], entry[800];
	struct telf_opts o;
	struct stat st;
	uint8_t key[32];
	FILE *fp;

	snprintf(dir, sizeof(dir), "%s/a/b/cache", f->dir);
	f->cfg.cache_dir = dir;
	cache_file(f, &bz, dir, entry, sizeof(entry));

	expect_load(f, &bz, " (cache miss)");
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(stat(entry, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	memset(gmem_ptr(&f->gm, 0x1000000, 0x3000), 0, 0x3000);
	expect_load(f, &bz, " (cache hit)");

	/* A flipped byte in the ELF part: CRC mismatch, rebuilt. */
	fp = fopen(entry, "r+");
	assert_non_null(fp);
	fseek(fp, 300, SEEK_SET);
	fputc(0x77, fp);
	fclose(fp);
	expect_load(f, &bz, " (cache miss)");
	expect_load(f, &bz, " (cache hit)");

	/* Truncated entry. */
	assert_int_equal(truncate(entry, 100), 0);
	expect_load(f, &bz, " (cache miss)");
	expect_load(f, &bz, " (cache hit)");

	/* Valid trailer around an invalid ELF (segment in the boot area): the
	 * cache is input like any other; rejected and rebuilt. */
	telf_default(&o);
	o.paddr = 0x8000;
	bogus = telf_build(&o);
	assert_int_equal(boot_cache_key(bz.p, bz.len, key), 0);
	assert_int_equal(boot_cache_store(dir, key, bogus.p, bogus.len), 0);
	expect_load(f, &bz, " (cache miss)");
	expect_load(f, &bz, " (cache hit)");
	tbuf_free(&bogus);

	/* A symlink planted as the entry is never followed. */
	assert_int_equal(unlink(entry), 0);
	assert_int_equal(symlink("/etc/passwd", entry), 0);
	expect_load(f, &bz, " (cache miss)");
	assert_int_equal(lstat(entry, &st), 0);
	assert_true(S_ISREG(st.st_mode));

	/* A cache dir others can write to is not trusted: neither read nor written. */
	assert_int_equal(chmod(dir, 0777), 0);
	expect_load(f, &bz, " (cache write failed)");
	assert_int_equal(chmod(dir, 0700), 0);
	expect_load(f, &bz, " (cache hit)");

	/* A link to the cache dir is never followed: the directory is opened
	 * with O_NOFOLLOW, checked on that fd, and entries opened relative to it. */
	{
		char link[PATH_MAX];

		snprintf(link, sizeof(link), "%s/cache-link", f->dir);
		assert_int_equal(symlink(dir, link), 0);
		f->cfg.cache_dir = link;
		expect_load(f, &bz, " (cache write failed)");
		f->cfg.cache_dir = dir;
		assert_int_equal(unlink(link), 0);
	}

	/* Unusable cache dir: the boot still succeeds. */
	memcpy(dir, entry, strlen(entry) + 1); /* a regular file */
	expect_load(f, &bz, " (cache write failed)");
	f->cfg.cache_dir = NULL;
	expect_load(f, &bz, "");
	tbuf_free(&bz);
}

/* Loading from a file records a memo of the content key by file identity;
 * rewriting the file (new ctime) must never hit the old memo. */
static void test_cache_memo(void **state)
{
	struct fx *f = *state;
	struct tbuf a = fx_bz(BOOT_COMP_XZ, NULL), b = fx_bz(BOOT_COMP_GZIP, NULL);
	char dir[700];
	unsigned memos = 0;
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/memo-cache", f->dir);
	f->cfg.cache_dir = dir;
	assert_int_equal(fx_load_file(f, "k", a.p, a.len), 0);
	assert_string_equal(f->plan.format, "bzImage: xz payload decompressed on host (cache miss)");
	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d)))
		memos += strncmp(de->d_name, "src-vmlinux-", 12) == 0;
	closedir(d);
	assert_int_equal(memos, 1);
	/* Same file again: memo hit, then cache hit. */
	assert_int_equal(boot_load(&f->gm, &f->cfg, &f->plan, f->err, sizeof(f->err)), 0);
	assert_string_equal(f->plan.format, "bzImage: xz payload decompressed on host (cache hit)");
	/* Rewritten in place with other content: a new identity, a new key. */
	assert_int_equal(fx_load_file(f, "k", b.p, b.len), 0);
	assert_string_equal(f->plan.format,
			    "bzImage: gzip payload decompressed on host (cache miss)");
	assert_int_equal(boot_load(&f->gm, &f->cfg, &f->plan, f->err, sizeof(f->err)), 0);
	assert_string_equal(f->plan.format,
			    "bzImage: gzip payload decompressed on host (cache hit)");
	tbuf_free(&a);
	tbuf_free(&b);
}

static void test_real_kernel(void **state)
{
	const char *path = getenv("BULKHEAD_REAL_KERNEL");
	struct boot_config cfg = { 0 };
	struct boot_plan plan;
	struct guest_mem gm;
	char err[512];

	(void)state;
	if (!path || !*path) {
		/* tests/check.sh always sets it (to the prepared default guest's
		 * kernel), so there a missing kernel is a failure, not a skip. */
		printf("# SKIP: BULKHEAD_REAL_KERNEL is not set (tests/check.sh sets it)\n");
		skip();
	}
	assert_int_equal(gmem_create(&gm, 512 * BH_MiB), 0);
	cfg.kernel_path = path;
	cfg.cmdline = "console=ttyS0";
	if (boot_load(&gm, &cfg, &plan, err, sizeof(err)))
		fail_msg("%s", err);
	printf("# %s: %s entry 0x%llx kernel [0x%llx, 0x%llx)\n", path, plan.format,
	       (unsigned long long)plan.entry, (unsigned long long)plan.kernel_start,
	       (unsigned long long)plan.kernel_end);
	assert_non_null(strstr(plan.format, "payload decompressed on host"));
	assert_int_equal(plan.kind, BOOT_ENTRY_LINUX64);
	assert_int_equal(plan.entry, 0x1000000);
	cfg.proto = BOOT_PROTO_PVH;
	if (boot_load(&gm, &cfg, &plan, err, sizeof(err)))
		fail_msg("%s", err);
	printf("# PVH entry 0x%llx\n", (unsigned long long)plan.entry);
	assert_int_equal(plan.kind, BOOT_ENTRY_PVH32);
	assert_true(plan.entry > plan.kernel_start && plan.entry < plan.kernel_end);
	cfg.proto = BOOT_PROTO_AUTO;
	cfg.decompress = BOOT_DECOMPRESS_GUEST;
	if (boot_load(&gm, &cfg, &plan, err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(plan.entry, 0x100200);
	gmem_destroy(&gm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_vectors),
		cmocka_unit_test_setup_teardown(test_each_format_host, fx_setup, fx_teardown),
		cmocka_unit_test(test_roundtrip_cap_truncation),
		cmocka_unit_test(test_lz4_legacy_details),
		cmocka_unit_test_setup_teardown(test_gzip_bomb, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cache, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cache_memo, fx_setup, fx_teardown),
		cmocka_unit_test(test_real_kernel),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
