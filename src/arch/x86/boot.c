/* boot.c — boot_load(): read the kernel, pick the path (ELF, bzImage with
 * host-side decompression + cache, bzImage decompressed in the guest), place
 * the initrd, write the command line / zero page / PVH start info, and
 * describe the entry in a boot_plan. See boot.h for the contract. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/x86/boot_internal.h"
#include "arch/x86/layout.h"
#include "common/log.h"

/* Try a cached vmlinux for this bzImage. 0 loaded; 1 no usable entry (a bad
 * one is logged and removed). Validation messages go to a scratch buffer: a
 * bad cache entry is not the caller's error. */
static BH_WUR int try_cache(struct boot_ctx *c, const uint8_t key[32])
{
	const char *dir = c->cfg->cache_dir;
	char *saved_err = c->err, scratch[512];
	size_t saved_len = c->errlen, elflen;
	uint8_t *elf;
	int ret;

	ret = boot_cache_lookup(dir, key, &elf, &elflen);
	if (ret == -ENOENT)
		return 1;
	if (ret) {
		bh_warn("kernel %s: cache entry in %s unusable (%s); rebuilding", c->name, dir,
			ret == -EBADMSG ? "corrupt" : strerror(-ret));
		if (ret == -EBADMSG)
			boot_cache_drop(dir, key);
		return 1;
	}
	scratch[0] = '\0';
	c->err = scratch;
	c->errlen = sizeof(scratch);
	c->what = "cached vmlinux: ";
	ret = boot_elf_load(c, elf, elflen, true);
	c->err = saved_err;
	c->errlen = saved_len;
	c->what = "";
	free(elf);
	if (ret) {
		bh_warn("cache entry rejected, rebuilding: %s", scratch);
		boot_cache_drop(dir, key);
		return 1;
	}
	return 0;
}

/* Host-side decompression of the bzImage payload into an ELF. Returns 0 when
 * loaded, 1 to fall back to in-guest decompression, <0 on a hard error. */
static BH_WUR int load_bzimage_host(struct boot_ctx *c, const uint8_t *data, size_t len,
			     const struct bzimage_info *bi)
{
	const char *dir = c->cfg->cache_dir, *cname, *note = "";
	enum boot_comp comp;
	uint8_t key[32], *elf;
	bool keyed = false;
	char what[48];
	size_t elflen;
	int ret;

	if (!bi->has_payload) {
		bh_warn("kernel %s: no payload_offset/payload_length (protocol < 2.08); "
			"decompressing in guest", c->name);
		return 1;
	}
	comp = boot_comp_detect(data + bi->payload_off, bi->payload_len);
	if (comp == BOOT_COMP_UNKNOWN) {
		const uint8_t *m = data + bi->payload_off;

		bh_warn("kernel %s: unknown payload format (magic %02x %02x %02x %02x); "
			"decompressing in guest", c->name, m[0], bi->payload_len > 1 ? m[1] : 0,
			bi->payload_len > 2 ? m[2] : 0, bi->payload_len > 3 ? m[3] : 0);
		return 1;
	}
	cname = boot_comp_name(comp);
	if (dir) {
		/* The content key, from the memo when this file was hashed
		 * before; no key (libcrypto failed): no cache this time. */
		keyed = c->src_st && boot_cache_memo_get(dir, c->src_st, key);
		if (!keyed && boot_cache_key(data, len, key) == 0) {
			keyed = true;
			if (c->src_st)
				boot_cache_memo_put(dir, c->src_st, key);
		}
		if (keyed && try_cache(c, key) == 0) {
			snprintf(c->format, sizeof(c->format),
				 "bzImage: %s payload decompressed on host (cache hit)", cname);
			return 0;
		}
	}

	ret = boot_decompress(comp, data + bi->payload_off, bi->payload_len, BOOT_DECOMP_MAX,
			      &elf, &elflen);
	if (ret == -E2BIG)
		return boot_fail(c, -E2BIG,
				 "setup header payload: %s payload decompresses to more than %llu "
				 "MiB",
				 cname, (unsigned long long)(BOOT_DECOMP_MAX / BH_MiB));
	if (ret == -ENOMEM)
		return boot_fail(c, -ENOMEM, "out of memory decompressing the %s payload", cname);
	if (ret) {
		bh_warn("kernel %s: %s payload does not decompress on host (%s); decompressing "
			"in guest", c->name, cname, strerror(-ret));
		return 1;
	}
	if (!boot_is_elf(elf, elflen)) {
		bh_warn("kernel %s: decompressed %s payload is not an ELF; decompressing in guest",
			c->name, cname);
		free(elf);
		return 1;
	}
	snprintf(what, sizeof(what), "decompressed %s payload: ", cname);
	c->what = what;
	ret = boot_elf_load(c, elf, elflen, true);
	c->what = "";
	if (ret)
		goto out;
	if (dir && keyed) {
		int sret = boot_cache_store(dir, key, elf, elflen);

		note = " (cache miss)";
		if (sret) {
			bh_warn("kernel %s: cannot write cache entry in %s: %s", c->name, dir,
				strerror(-sret));
			note = " (cache write failed)";
		}
	}
	snprintf(c->format, sizeof(c->format), "bzImage: %s payload decompressed on host%s",
		 cname, note);
out:
	free(elf);
	return ret;
}

static BH_WUR int load_bzimage(struct boot_ctx *c, const uint8_t *data, size_t len)
{
	struct bzimage_info bi;
	int ret;

	ret = boot_bzimage_parse(c, data, len, &bi);
	if (ret)
		return ret;
	if (c->cfg->decompress == BOOT_DECOMPRESS_HOST) {
		ret = load_bzimage_host(c, data, len, &bi);
		if (ret <= 0)
			return ret;
	}
	if (c->cfg->proto == BOOT_PROTO_PVH)
		return boot_fail(c, -EINVAL,
				 "PVH boot requested but the bzImage payload was not decompressed "
				 "on host (no ELF note to find the PVH entry)");
	ret = boot_bzimage_load_guest(c, data, len, &bi);
	if (ret)
		return ret;
	snprintf(c->format, sizeof(c->format), "bzImage: decompressed in guest");
	return 0;
}

/* Place the initrd page-aligned as high as possible: end <= min(initrd limit,
 * end of RAM below 4 GiB), start >= end of the kernel. Read straight into RAM. */
static BH_WUR int load_initrd(struct boot_ctx *c, const char *path, uint64_t *startp, uint64_t *sizep)
{
	uint64_t size, limit, lo, start = 0, low_end = gmem_low_end(c->gm);
	void *dst;
	int fd, ret;

	ret = boot_file_open("initrd", path, BOOT_INITRD_MAX, &fd, &size, c->err, c->errlen);
	if (ret)
		return ret;
	limit = c->initrd_limit < low_end ? c->initrd_limit : low_end;
	lo = BH_ALIGN_UP(c->kernel_end, 4096ULL);
	if (limit >= lo && size <= limit - lo)
		start = BH_ALIGN_DOWN(limit - size, 4096ULL);
	if (!start || start < lo || !(dst = gmem_ptr(c->gm, start, size))) {
		ret = boot_errf(c->err, c->errlen, -E2BIG,
				"initrd %s (%llu MiB) does not fit below 0x%llx (kernel ends at "
				"0x%llx, %s 0x%llx, RAM below 4 GiB ends at 0x%llx)",
				path, (unsigned long long)((size + BH_MiB - 1) / BH_MiB),
				(unsigned long long)limit, (unsigned long long)c->kernel_end,
				c->is_bzimage ? "initrd_addr_max" : "limit",
				(unsigned long long)(c->initrd_limit - 1),
				(unsigned long long)low_end);
		goto out;
	}
	ret = boot_file_read(fd, "initrd", path, dst, size, c->err, c->errlen);
	if (ret)
		goto out;
	*startp = start;
	*sizep = size;
out:
	close(fd);
	return ret;
}

static int load_image(struct guest_mem *gm, const struct boot_config *cfg, const uint8_t *image,
		      size_t len, const struct stat *st, struct boot_plan *plan, char *err,
		      size_t errlen)
{
	uint64_t initrd_start = 0, initrd_size = 0;
	struct boot_ctx c;
	bool pvh;
	int ret;

	if (err && errlen)
		err[0] = '\0';
	if (!gm || !cfg || !plan || (!image && len))
		return boot_errf(err, errlen, -EINVAL, "boot: invalid arguments");
	memset(plan, 0, sizeof(*plan));
	memset(&c, 0, sizeof(c));
	c.gm = gm;
	c.cfg = cfg;
	c.name = cfg->kernel_path ? cfg->kernel_path : "<memory>";
	c.src_st = st;
	c.what = "";
	c.err = err;
	c.errlen = errlen;

	if ((unsigned)cfg->proto > BOOT_PROTO_PVH)
		return boot_fail(&c, -EINVAL, "unknown boot protocol %d", (int)cfg->proto);
	if ((unsigned)cfg->decompress > BOOT_DECOMPRESS_GUEST)
		return boot_fail(&c, -EINVAL, "unknown decompress mode %d", (int)cfg->decompress);
	if (gmem_low_end(gm) < X86_HIMEM_START + BH_MiB)
		return boot_fail(&c, -E2BIG, "guest RAM below 4 GiB (0x%llx bytes) is under 2 MiB",
				 (unsigned long long)gmem_low_end(gm));
	if (len == 0)
		return boot_fail(&c, -EINVAL, "empty file");

	if (boot_is_bzimage(image, len)) {
		ret = load_bzimage(&c, image, len);
	} else if (boot_is_elf(image, len)) {
		boot_hdr_synthesize(&c);
		ret = boot_elf_load(&c, image, len, true);
		snprintf(c.format, sizeof(c.format), "ELF64");
	} else {
		ret = boot_fail(&c, -ENOEXEC, "not a bzImage or ELF kernel");
	}
	if (ret)
		return ret;

	pvh = cfg->proto == BOOT_PROTO_PVH;
	if (pvh && !c.has_pvh)
		return boot_fail(&c, -EINVAL,
				 "PVH boot requested but the ELF has no XEN_ELFNOTE_PHYS32_ENTRY "
				 "note");
	if (cfg->initrd_path) {
		ret = load_initrd(&c, cfg->initrd_path, &initrd_start, &initrd_size);
		if (ret)
			return ret;
	}
	ret = boot_write_params(&c, initrd_start, initrd_size, pvh);
	if (ret)
		return ret;

	plan->kind = pvh ? BOOT_ENTRY_PVH32 : BOOT_ENTRY_LINUX64;
	plan->entry = pvh ? c.pvh_entry : c.entry64;
	plan->params_gpa = pvh ? X86_PVH_START_INFO_GPA : X86_ZERO_PAGE_GPA;
	plan->kernel_start = c.kernel_start;
	plan->kernel_end = c.kernel_end;
	plan->initrd_start = initrd_start;
	plan->initrd_size = initrd_size;
	snprintf(plan->format, sizeof(plan->format), "%s", c.format);
	bh_dbg("kernel %s: %s, entry 0x%llx (%s)", c.name, plan->format,
	       (unsigned long long)plan->entry, pvh ? "PVH" : "64-bit");
	return 0;
}

int boot_load_image(struct guest_mem *gm, const struct boot_config *cfg, const uint8_t *image,
		    size_t len, struct boot_plan *plan, char *err, size_t errlen)
{
	return load_image(gm, cfg, image, len, NULL, plan, err, errlen);
}

int boot_load(struct guest_mem *gm, const struct boot_config *cfg, struct boot_plan *plan,
	      char *err, size_t errlen)
{
	struct stat st;
	uint8_t *image;
	size_t len;
	int ret;

	if (err && errlen)
		err[0] = '\0';
	if (!cfg || !cfg->kernel_path)
		return boot_errf(err, errlen, -EINVAL, "kernel: no path given");
	ret = boot_file_load("kernel", cfg->kernel_path, BOOT_KERNEL_MAX, &image, &len, &st, err,
			     errlen);
	if (ret)
		return ret;
	ret = load_image(gm, cfg, image, len, &st, plan, err, errlen);
	free(image);
	return ret;
}
