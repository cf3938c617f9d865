/* boot_params.h — the guest-visible boot structures bulkhead writes: the Linux
 * x86 "zero page" (struct boot_params with its embedded setup header), the e820
 * memory map, and the PVH hvm_start_info block.
 *
 * These are ABI with the guest kernel, so every layout is defined here (not
 * taken from kernel-internal headers) and pinned with static_asserts on the
 * offsets the boot protocol documents (Documentation/arch/x86/boot.rst,
 * xen/include/public/arch-x86/hvm/start_info.h). Only the fields bulkhead
 * reads or writes are named; the rest is padding that stays zero.
 */
#ifndef BH_X86_BOOT_PARAMS_H
#define BH_X86_BOOT_PARAMS_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#include "core/guest_mem.h"

/* --- Linux setup header (lives at offset 0x1f1 of both the bzImage file and
 * the zero page) --- */
#define BOOT_HDR_OFFSET 0x1f1
#define BOOT_HDRS_MAGIC 0x53726448U /* "HdrS" little-endian */
#define BOOT_FLAG_MAGIC 0xaa55
#define BOOT_LOADED_HIGH 0x01       /* loadflags */
#define BOOT_CAN_USE_HEAP 0x80      /* loadflags */
#define BOOT_XLF_KERNEL_64 0x01     /* xloadflags: has the 64-bit entry at +0x200 */
#define BOOT_XLF_CAN_BE_LOADED_ABOVE_4G 0x02

struct __attribute__((packed)) setup_header {
	uint8_t setup_sects;
	uint16_t root_flags;
	uint32_t syssize;
	uint16_t ram_size;
	uint16_t vid_mode;
	uint16_t root_dev;
	uint16_t boot_flag;
	uint16_t jump;
	uint32_t header;
	uint16_t version;
	uint32_t realmode_swtch;
	uint16_t start_sys_seg;
	uint16_t kernel_version;
	uint8_t type_of_loader;
	uint8_t loadflags;
	uint16_t setup_move_size;
	uint32_t code32_start;
	uint32_t ramdisk_image;
	uint32_t ramdisk_size;
	uint32_t bootsect_kludge;
	uint16_t heap_end_ptr;
	uint8_t ext_loader_ver;
	uint8_t ext_loader_type;
	uint32_t cmd_line_ptr;
	uint32_t initrd_addr_max;
	uint32_t kernel_alignment;
	uint8_t relocatable_kernel;
	uint8_t min_alignment;
	uint16_t xloadflags;
	uint32_t cmdline_size;
	uint32_t hardware_subarch;
	uint64_t hardware_subarch_data;
	uint32_t payload_offset;
	uint32_t payload_length;
	uint64_t setup_data;
	uint64_t pref_address;
	uint32_t init_size;
	uint32_t handover_offset;
	uint32_t kernel_info_offset;
};

/* Offsets are relative to the zero page / file start, as the protocol documents them. */
#define BOOT_HDR_OFF(f) (BOOT_HDR_OFFSET + offsetof(struct setup_header, f))
static_assert(BOOT_HDR_OFF(setup_sects) == 0x1f1, "setup_sects");
static_assert(BOOT_HDR_OFF(boot_flag) == 0x1fe, "boot_flag");
static_assert(BOOT_HDR_OFF(header) == 0x202, "header");
static_assert(BOOT_HDR_OFF(version) == 0x206, "version");
static_assert(BOOT_HDR_OFF(type_of_loader) == 0x210, "type_of_loader");
static_assert(BOOT_HDR_OFF(loadflags) == 0x211, "loadflags");
static_assert(BOOT_HDR_OFF(code32_start) == 0x214, "code32_start");
static_assert(BOOT_HDR_OFF(ramdisk_image) == 0x218, "ramdisk_image");
static_assert(BOOT_HDR_OFF(heap_end_ptr) == 0x224, "heap_end_ptr");
static_assert(BOOT_HDR_OFF(cmd_line_ptr) == 0x228, "cmd_line_ptr");
static_assert(BOOT_HDR_OFF(initrd_addr_max) == 0x22c, "initrd_addr_max");
static_assert(BOOT_HDR_OFF(kernel_alignment) == 0x230, "kernel_alignment");
static_assert(BOOT_HDR_OFF(xloadflags) == 0x236, "xloadflags");
static_assert(BOOT_HDR_OFF(cmdline_size) == 0x238, "cmdline_size");
static_assert(BOOT_HDR_OFF(payload_offset) == 0x248, "payload_offset");
static_assert(BOOT_HDR_OFF(payload_length) == 0x24c, "payload_length");
static_assert(BOOT_HDR_OFF(setup_data) == 0x250, "setup_data");
static_assert(BOOT_HDR_OFF(pref_address) == 0x258, "pref_address");
static_assert(BOOT_HDR_OFF(init_size) == 0x260, "init_size");
static_assert(BOOT_HDR_OFFSET + sizeof(struct setup_header) == 0x26c, "setup_header size");

/* --- e820 --- */
#define BOOT_E820_RAM 1
#define BOOT_E820_RESERVED 2
#define BOOT_E820_MAX_ZEROPAGE 128

struct __attribute__((packed)) boot_e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};
static_assert(sizeof(struct boot_e820_entry) == 20, "e820 entry");

/* --- struct boot_params, the 4 KiB zero page --- */
struct __attribute__((packed)) boot_params {
	uint8_t _pad0[0x070];
	uint64_t acpi_rsdp_addr;                /* 0x070 */
	uint8_t _pad1[0x0c0 - 0x078];
	uint32_t ext_ramdisk_image;             /* 0x0c0 */
	uint32_t ext_ramdisk_size;              /* 0x0c4 */
	uint32_t ext_cmd_line_ptr;              /* 0x0c8 */
	uint8_t _pad2[0x1e8 - 0x0cc];
	uint8_t e820_entries;                   /* 0x1e8 */
	uint8_t _pad3[0x1ef - 0x1e9];
	uint8_t sentinel;                       /* 0x1ef: must stay 0 */
	uint8_t _pad4[1];
	struct setup_header hdr;                /* 0x1f1 */
	uint8_t _pad5[0x2d0 - 0x26c];
	struct boot_e820_entry e820_table[BOOT_E820_MAX_ZEROPAGE]; /* 0x2d0 */
	uint8_t _pad6[0x1000 - 0xcd0];
};
static_assert(offsetof(struct boot_params, acpi_rsdp_addr) == 0x070, "acpi_rsdp_addr");
static_assert(offsetof(struct boot_params, ext_ramdisk_image) == 0x0c0, "ext_ramdisk_image");
static_assert(offsetof(struct boot_params, ext_cmd_line_ptr) == 0x0c8, "ext_cmd_line_ptr");
static_assert(offsetof(struct boot_params, e820_entries) == 0x1e8, "e820_entries");
static_assert(offsetof(struct boot_params, sentinel) == 0x1ef, "sentinel");
static_assert(offsetof(struct boot_params, hdr) == BOOT_HDR_OFFSET, "hdr");
static_assert(offsetof(struct boot_params, e820_table) == 0x2d0, "e820_table");
static_assert(sizeof(struct boot_params) == 0x1000, "boot_params is one page");

/* --- PVH (Xen HVM direct boot ABI, version 1) --- */
#define BOOT_PVH_MAGIC 0x336ec578U
#define BOOT_XEN_ELFNOTE_PHYS32_ENTRY 18

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
};
static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info");
static_assert(offsetof(struct hvm_start_info, memmap_paddr) == 40, "memmap_paddr");

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};
static_assert(sizeof(struct hvm_modlist_entry) == 32, "hvm_modlist_entry");

struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type; /* same values as e820 */
	uint32_t reserved;
};
static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "hvm_memmap_table_entry");

/* Where the PVH block's parts sit inside the page at X86_PVH_START_INFO_GPA. */
#define BOOT_PVH_MEMMAP_OFF 0x40
#define BOOT_PVH_MEMMAP_MAX 8
#define BOOT_PVH_MODLIST_OFF 0x200

/* The e820 map bulkhead presents (shared by the zero page, PVH and anyone
 * else describing RAM to the guest, so they always agree):
 *   usable   [0, X86_LOW_RAM_END)
 *   reserved [X86_EBDA_GPA, 1 MiB)
 *   usable   [1 MiB, end of region 0)
 *   usable   region 1 (>= 4 GiB), if present
 * Writes up to `max` entries to `out` and returns how many; returns 0 if
 * region 0 does not extend past 1 MiB (no usable layout). Pure function. */
unsigned boot_e820_build(const struct guest_mem *gm, struct boot_e820_entry *out, unsigned max);

#endif
