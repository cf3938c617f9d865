/* boot.h — loading a kernel image into guest RAM and describing how to enter it.
 *
 * Formats (detected by content, never by file name):
 *  - bzImage (Linux x86 boot protocol >= 2.06, 64-bit capable: XLF_KERNEL_64):
 *    by default its compressed payload is extracted and decompressed on the
 *    host (gzip, xz, lzma, lz4, zstd, bzip2) into a vmlinux ELF, cached by
 *    content hash, and booted as an ELF with the bzImage's setup header kept in
 *    the zero page; if the payload cannot be handled, the bzImage itself is
 *    loaded at 1 MiB and entered at its 64-bit entry (code32_start + 0x200),
 *    decompressing in the guest.
 *  - ELF64 x86-64 (vmlinux or a freestanding test guest): PT_LOAD segments are
 *    copied to p_paddr; entry is e_entry in 64-bit mode, or the PVH entry
 *    (XEN_ELFNOTE_PHYS32_ENTRY) when BOOT_PROTO_PVH is asked for.
 *
 * Every header field is validated against the file size and guest RAM before
 * use; a bad image fails with -EINVAL (or -E2BIG/-ENOEXEC, see below) and a
 * message in `err` naming the offending field. Nothing is written outside RAM.
 *
 * Entry contract (what the vCPU code sets up, see regs.h):
 *  BOOT_ENTRY_LINUX64: long mode, identity-mapped [0, 4 GiB) with 2 MiB pages,
 *    CS = 0x10 (64-bit), DS/ES/SS = 0x18, interrupts off, RSI = zero page gpa,
 *    RIP = entry, RSP = X86_BOOT_STACK_GPA.
 *  BOOT_ENTRY_PVH32: 32-bit protected mode, paging off, flat CS = 0x08,
 *    EBX = hvm_start_info gpa, RIP = entry.
 */
#ifndef BH_X86_BOOT_H
#define BH_X86_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"
#include "core/guest_mem.h"

enum boot_proto {
	BOOT_PROTO_AUTO,  /* bzImage: 64-bit entry; ELF: 64-bit entry */
	BOOT_PROTO_LINUX64,
	BOOT_PROTO_PVH,   /* ELF with a PVH note (or a bzImage whose payload has one) */
};

enum boot_entry_kind { BOOT_ENTRY_LINUX64, BOOT_ENTRY_PVH32 };

enum boot_decompress {
	BOOT_DECOMPRESS_HOST,  /* default: host-side, cached, fall back to guest */
	BOOT_DECOMPRESS_GUEST, /* load the bzImage as is */
};

struct boot_config {
	const char *kernel_path;
	const char *initrd_path;   /* NULL: none */
	const char *cmdline;       /* NULL: empty */
	enum boot_proto proto;
	enum boot_decompress decompress;
	const char *cache_dir;     /* where decompressed payloads are cached; NULL: no cache */
	uint64_t acpi_rsdp_gpa;    /* ACPI RSDP handed to the kernel (zero page / PVH); 0: none */
};

struct boot_plan {
	enum boot_entry_kind kind;
	uint64_t entry;        /* guest-physical RIP */
	uint64_t params_gpa;   /* zero page (LINUX64) or hvm_start_info (PVH32) */
	uint64_t kernel_start, kernel_end; /* loaded image range (gpa) */
	uint64_t initrd_start, initrd_size;
	char format[64];       /* e.g. "bzImage: lz4 payload decompressed on host (cache hit)" */
};

/* Load kernel (+ initrd, cmdline) into `gm` and fill `plan`.
 * Returns 0; -ENOENT/-EACCES/... (file errors, errno of open/read; -EISDIR a
 * directory, -EINVAL another non-regular or an empty file, -EIO a file that
 * shrank while read); -ENOEXEC not a kernel format we know; -EINVAL a header
 * field is invalid; -E2BIG the image or initrd does not fit in guest RAM, a
 * file is over its cap (kernel 512 MiB, initrd 2 GiB), the payload
 * decompresses past 256 MiB, or cmdline too long.
 * A host-decompression failure other than the size cap is not an error: it is
 * logged and the bzImage is loaded for in-guest decompression (format says so).
 * Cache problems (unwritable dir, corrupt entry) are logged and bypassed.
 * No global state: callable for several VMs from several threads.
 * `err` (errlen bytes) receives a one-line message naming the input and field. */
int boot_load(struct guest_mem *gm, const struct boot_config *cfg, struct boot_plan *plan,
	      char *err, size_t errlen) BH_WUR;

/* Same as boot_load() for a kernel image already in host memory (`image`,
 * `len` bytes, borrowed, never modified); cfg->kernel_path is only used as the
 * name in messages (NULL: "<memory>"). The initrd, if any, is still read from
 * cfg->initrd_path. This is the entry point of the fuzz target. */
int boot_load_image(struct guest_mem *gm, const struct boot_config *cfg, const uint8_t *image,
		    size_t len, struct boot_plan *plan, char *err, size_t errlen) BH_WUR;

#endif
