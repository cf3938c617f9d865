/* boot_zeropage.c — what the guest kernel reads at entry: the command line,
 * the Linux zero page (boot_params + e820) and the PVH hvm_start_info block.
 * All written through gmem_write() at the fixed addresses of layout.h. */
#include <errno.h>
#include <string.h>

#include "arch/x86/boot_internal.h"
#include "arch/x86/layout.h"

unsigned boot_e820_build(const struct guest_mem *gm, struct boot_e820_entry *out, unsigned max)
{
	struct boot_e820_entry e[4];
	uint64_t low_end = gmem_low_end(gm);
	unsigned n = 0, i;

	if (low_end <= X86_HIMEM_START)
		return 0;
	e[n++] = (struct boot_e820_entry){ 0, X86_LOW_RAM_END, BOOT_E820_RAM };
	e[n++] = (struct boot_e820_entry){ X86_EBDA_GPA, X86_HIMEM_START - X86_EBDA_GPA,
					   BOOT_E820_RESERVED };
	e[n++] = (struct boot_e820_entry){ X86_HIMEM_START, low_end - X86_HIMEM_START,
					   BOOT_E820_RAM };
	if (gm->nregions > 1 && gm->regions[1].size)
		e[n++] = (struct boot_e820_entry){ gm->regions[1].gpa, gm->regions[1].size,
						   BOOT_E820_RAM };
	for (i = 0; i < n && i < max; i++)
		out[i] = e[i];
	return i;
}

void boot_hdr_synthesize(struct boot_ctx *c)
{
	struct setup_header *h = &c->hdr;

	memset(h, 0, sizeof(*h));
	h->boot_flag = BOOT_FLAG_MAGIC;
	h->header = BOOT_HDRS_MAGIC;
	h->version = 0x020f;
	h->kernel_alignment = 0x1000000;
	h->initrd_addr_max = 0xffffffffU;
	h->cmdline_size = (uint32_t)(X86_CMDLINE_MAX - 1);
	h->xloadflags = BOOT_XLF_KERNEL_64;
	h->loadflags = BOOT_LOADED_HIGH;
	c->is_bzimage = false;
	c->cmdline_limit = X86_CMDLINE_MAX - 1;
	c->initrd_limit = X86_IDENTITY_MAP_END; /* end <= 4 GiB, i.e. last byte <= 4 GiB - 1 */
}

static BH_WUR int write_cmdline(struct boot_ctx *c, size_t *lenp)
{
	const char *cmd = c->cfg->cmdline ? c->cfg->cmdline : "";
	size_t len = strnlen(cmd, (size_t)c->cmdline_limit + 1);

	if (len > c->cmdline_limit)
		return boot_fail(c, -E2BIG,
				 "cmdline longer than %llu bytes (setup header cmdline_size %u, "
				 "bulkhead limit %llu)",
				 (unsigned long long)c->cmdline_limit, c->hdr.cmdline_size,
				 (unsigned long long)(X86_CMDLINE_MAX - 1));
	if (gmem_write(c->gm, X86_CMDLINE_GPA, cmd, len) ||
	    gmem_write(c->gm, X86_CMDLINE_GPA + len, "", 1))
		return boot_fail(c, -E2BIG, "cmdline does not fit in guest RAM at 0x%llx",
				 (unsigned long long)X86_CMDLINE_GPA);
	*lenp = len;
	return 0;
}

static BH_WUR int write_zero_page(struct boot_ctx *c, uint64_t initrd_start, uint64_t initrd_size)
{
	struct boot_params bp;
	unsigned n;

	memset(&bp, 0, sizeof(bp));
	bp.hdr = c->hdr;
	bp.hdr.type_of_loader = 0xff; /* undefined loader */
	bp.hdr.loadflags |= BOOT_LOADED_HIGH | BOOT_CAN_USE_HEAP;
	bp.hdr.heap_end_ptr = 0xfe00 - 0x200;
	bp.hdr.cmd_line_ptr = (uint32_t)X86_CMDLINE_GPA;
	bp.ext_cmd_line_ptr = (uint32_t)(X86_CMDLINE_GPA >> 32);
	bp.hdr.ramdisk_image = (uint32_t)initrd_start;
	bp.hdr.ramdisk_size = (uint32_t)initrd_size;
	bp.ext_ramdisk_image = (uint32_t)(initrd_start >> 32);
	bp.ext_ramdisk_size = (uint32_t)(initrd_size >> 32);
	bp.hdr.setup_data = 0; /* we pass no setup_data chain: never the image's pointer */
	bp.acpi_rsdp_addr = c->cfg->acpi_rsdp_gpa;
	n = boot_e820_build(c->gm, bp.e820_table, BOOT_E820_MAX_ZEROPAGE);
	if (n == 0)
		return boot_fail(c, -E2BIG, "guest RAM ends at or below 1 MiB");
	bp.e820_entries = (uint8_t)n;
	if (gmem_write(c->gm, X86_ZERO_PAGE_GPA, &bp, sizeof(bp)))
		return boot_fail(c, -E2BIG, "zero page does not fit in guest RAM");
	return 0;
}

static BH_WUR int write_pvh(struct boot_ctx *c, uint64_t initrd_start, uint64_t initrd_size)
{
	struct boot_e820_entry e[BOOT_PVH_MEMMAP_MAX];
	struct hvm_memmap_table_entry mm[BOOT_PVH_MEMMAP_MAX];
	struct hvm_modlist_entry mod;
	struct hvm_start_info si;
	unsigned n, i;

	static_assert(BOOT_PVH_MEMMAP_OFF >= sizeof(si), "memmap after start_info");
	static_assert(BOOT_PVH_MEMMAP_OFF + sizeof(mm) <= BOOT_PVH_MODLIST_OFF, "memmap size");
	static_assert(X86_PVH_START_INFO_GPA + BOOT_PVH_MODLIST_OFF + sizeof(mod) <=
			      X86_ZERO_PAGE_GPA,
		      "PVH block below the zero page");

	n = boot_e820_build(c->gm, e, BOOT_PVH_MEMMAP_MAX);
	if (n == 0)
		return boot_fail(c, -E2BIG, "guest RAM ends at or below 1 MiB");
	memset(mm, 0, sizeof(mm));
	for (i = 0; i < n; i++) {
		mm[i].addr = e[i].addr;
		mm[i].size = e[i].size;
		mm[i].type = e[i].type;
	}
	memset(&si, 0, sizeof(si));
	si.magic = BOOT_PVH_MAGIC;
	si.version = 1;
	si.cmdline_paddr = X86_CMDLINE_GPA;
	si.rsdp_paddr = c->cfg->acpi_rsdp_gpa;
	si.memmap_paddr = X86_PVH_START_INFO_GPA + BOOT_PVH_MEMMAP_OFF;
	si.memmap_entries = n;
	if (initrd_size) {
		memset(&mod, 0, sizeof(mod));
		mod.paddr = initrd_start;
		mod.size = initrd_size;
		si.nr_modules = 1;
		si.modlist_paddr = X86_PVH_START_INFO_GPA + BOOT_PVH_MODLIST_OFF;
		if (gmem_write(c->gm, si.modlist_paddr, &mod, sizeof(mod)))
			return boot_fail(c, -E2BIG, "PVH module list does not fit in guest RAM");
	}
	if (gmem_write(c->gm, si.memmap_paddr, mm, n * sizeof(mm[0])) ||
	    gmem_write(c->gm, X86_PVH_START_INFO_GPA, &si, sizeof(si)))
		return boot_fail(c, -E2BIG, "PVH start info does not fit in guest RAM");
	return 0;
}

int boot_write_params(struct boot_ctx *c, uint64_t initrd_start, uint64_t initrd_size, bool pvh)
{
	size_t cmdlen;
	int ret;

	ret = write_cmdline(c, &cmdlen);
	if (ret)
		return ret;
	ret = write_zero_page(c, initrd_start, initrd_size);
	if (ret)
		return ret;
	if (pvh)
		return write_pvh(c, initrd_start, initrd_size);
	return 0;
}
