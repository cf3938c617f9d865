/* boot_bzimage.c — Linux bzImage setup header: parse, validate, and the
 * in-guest-decompression load (protected-mode part at 1 MiB).
 *
 * The image is hostile input: every field is checked against the file size
 * before it is used, and every rejection names the field. Fields are read
 * once into ctx->hdr (a host copy) and decisions use only that copy. */
#include <errno.h>
#include <string.h>

#include "arch/x86/boot_internal.h"
#include "arch/x86/layout.h"

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

bool boot_is_bzimage(const uint8_t *data, size_t len)
{
	return len >= 0x206 && rd32(data + 0x202) == BOOT_HDRS_MAGIC;
}

/* Smallest end offset of the setup header that carries every field a given
 * protocol version defines and that we read. */
static uint64_t hdr_end_needed(uint16_t version)
{
	if (version >= 0x020a)
		return BOOT_HDR_OFF(handover_offset); /* ... init_size */
	if (version >= 0x0208)
		return BOOT_HDR_OFF(setup_data);      /* ... payload_length */
	return BOOT_HDR_OFF(hardware_subarch);        /* ... cmdline_size */
}

static bool is_pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

int boot_bzimage_parse(struct boot_ctx *c, const uint8_t *data, size_t len,
		       struct bzimage_info *bi)
{
	uint64_t setup_sects, hdr_end, copy_end, sum;
	uint16_t version, boot_flag, xloadflags;
	struct setup_header *h = &c->hdr;

	memset(bi, 0, sizeof(*bi));
	if (!boot_is_bzimage(data, len))
		return boot_fail(c, -ENOEXEC, "not a bzImage or ELF kernel");

	/* Fields below 0x206 are readable: boot_is_bzimage() checked len. */
	boot_flag = rd16(data + BOOT_HDR_OFF(boot_flag));
	if (boot_flag != BOOT_FLAG_MAGIC)
		return boot_fail(c, -EINVAL, "setup header: boot_flag 0x%04x is not 0xaa55",
				 boot_flag);
	if (len < BOOT_HDR_OFF(version) + 2)
		return boot_fail(c, -EINVAL, "setup header: version beyond file size 0x%zx", len);
	version = rd16(data + BOOT_HDR_OFF(version));
	if (version < 0x0206)
		return boot_fail(c, -EINVAL,
				 "setup header: version %u.%02u < 2.06 (boot protocol too old)",
				 version >> 8, version & 0xff);

	setup_sects = data[BOOT_HDR_OFF(setup_sects)];
	if (setup_sects == 0)
		setup_sects = 4; /* protocol: 0 means 4 */
	bi->setup_size = (setup_sects + 1) * 512;
	if (bi->setup_size >= len)
		return boot_fail(c, -EINVAL,
				 "setup header: setup_sects %llu: setup size 0x%llx leaves no "
				 "protected-mode part in file size 0x%zx",
				 (unsigned long long)setup_sects,
				 (unsigned long long)bi->setup_size, len);
	bi->pm_size = len - bi->setup_size;
	/* From here on, [0, setup_size >= 0x400) is inside the file, which covers
	 * the whole setup header (ends at 0x26c). */

	/* The header's own length: the 2-byte jump at 0x200 jumps over it. */
	hdr_end = 0x202 + (uint64_t)data[0x201];
	if (data[0x200] != 0xeb || hdr_end < hdr_end_needed(version))
		return boot_fail(c, -EINVAL,
				 "setup header: jump 0x%02x%02x ends the header at 0x%llx, too "
				 "short for protocol %u.%02u (needs 0x%llx)",
				 data[0x200], data[0x201], (unsigned long long)hdr_end,
				 version >> 8, version & 0xff,
				 (unsigned long long)hdr_end_needed(version));
	copy_end = hdr_end < BOOT_HDR_OFFSET + sizeof(*h) ? hdr_end
							  : BOOT_HDR_OFFSET + sizeof(*h);
	memset(h, 0, sizeof(*h));
	memcpy(h, data + BOOT_HDR_OFFSET, copy_end - BOOT_HDR_OFFSET);
	bi->hdr_len = copy_end - BOOT_HDR_OFFSET;
	if (version < 0x020a) { /* fields this version does not define are not ours to trust */
		h->pref_address = 0;
		h->init_size = 0;
	}

	if (!(h->loadflags & BOOT_LOADED_HIGH))
		return boot_fail(c, -EINVAL,
				 "setup header: loadflags 0x%02x lacks LOADED_HIGH (zImage is not "
				 "supported)",
				 h->loadflags);
	xloadflags = version >= 0x020c ? h->xloadflags : 0;
	if (!(xloadflags & BOOT_XLF_KERNEL_64))
		return boot_fail(c, -EINVAL,
				 "setup header: xloadflags 0x%04x lacks XLF_KERNEL_64: 32-bit-only "
				 "kernel (or protocol < 2.12); only 64-bit kernels are supported",
				 xloadflags);
	if (!is_pow2(h->kernel_alignment))
		return boot_fail(c, -EINVAL,
				 "setup header: kernel_alignment 0x%x is not a power of two",
				 h->kernel_alignment);

	if (version >= 0x0208 && (h->payload_offset || h->payload_length)) {
		sum = (uint64_t)h->payload_offset + h->payload_length;
		if (sum > bi->pm_size)
			return boot_fail(c, -EINVAL,
					 "setup header: payload_offset 0x%x + payload_length 0x%x "
					 "beyond file size 0x%zx (protected-mode part 0x%llx at 0x%llx)",
					 h->payload_offset, h->payload_length, len,
					 (unsigned long long)bi->pm_size,
					 (unsigned long long)bi->setup_size);
		if (h->payload_length) {
			bi->has_payload = true;
			bi->payload_off = bi->setup_size + h->payload_offset;
			bi->payload_len = h->payload_length;
		}
	}
	if (version >= 0x020a) {
		if (h->init_size == 0)
			return boot_fail(c, -EINVAL, "setup header: init_size is 0");
		if (bh_add_overflow_u64(h->pref_address, h->init_size, &sum) ||
		    sum > GMEM_MAX_SIZE + GMEM_MMIO_HOLE_END)
			return boot_fail(c, -EINVAL,
					 "setup header: pref_address 0x%llx + init_size 0x%x is "
					 "beyond any guest RAM",
					 (unsigned long long)h->pref_address, h->init_size);
		bi->init_size = h->init_size;
		bi->pref_address = h->pref_address;
	}

	c->is_bzimage = true;
	c->cmdline_limit = h->cmdline_size < X86_CMDLINE_MAX - 1 ? h->cmdline_size
								  : X86_CMDLINE_MAX - 1;
	c->initrd_limit = (uint64_t)h->initrd_addr_max + 1;
	return 0;
}

int boot_bzimage_load_guest(struct boot_ctx *c, const uint8_t *data, size_t len,
			    const struct bzimage_info *bi)
{
	uint64_t low_end = gmem_low_end(c->gm);
	uint64_t pm_end, run_base, run_end, end;

	if (bi->setup_size >= len || bi->pm_size != len - bi->setup_size)
		return boot_fail(c, -EINVAL, "setup header: inconsistent setup size");
	if (bi->pm_size <= 0x200)
		return boot_fail(c, -EINVAL,
				 "protected-mode part of 0x%llx bytes has no 64-bit entry at +0x200",
				 (unsigned long long)bi->pm_size);

	pm_end = X86_HIMEM_START + bi->pm_size;
	/* The in-guest decompressor runs at max(aligned load address,
	 * pref_address) and needs init_size bytes from there. */
	run_base = BH_ALIGN_UP(X86_HIMEM_START, (uint64_t)c->hdr.kernel_alignment);
	if (bi->pref_address > run_base)
		run_base = bi->pref_address;
	run_end = bi->init_size ? run_base + bi->init_size : pm_end; /* no overflow: parse */
	end = pm_end > run_end ? pm_end : run_end;
	if (end > low_end || !gmem_valid(c->gm, X86_HIMEM_START, end - X86_HIMEM_START))
		return boot_fail(c, -E2BIG,
				 "protected-mode part (0x%llx bytes at 1 MiB) and init_size 0x%llx "
				 "at 0x%llx need RAM up to 0x%llx; guest RAM below 4 GiB ends at "
				 "0x%llx",
				 (unsigned long long)bi->pm_size,
				 (unsigned long long)bi->init_size, (unsigned long long)run_base,
				 (unsigned long long)end, (unsigned long long)low_end);
	if (gmem_write(c->gm, X86_HIMEM_START, data + bi->setup_size, bi->pm_size))
		return boot_fail(c, -EFAULT, "cannot write the protected-mode part");

	c->kernel_start = X86_HIMEM_START;
	c->kernel_end = end;
	c->entry64 = X86_HIMEM_START + 0x200;
	c->has_pvh = false;
	return 0;
}
