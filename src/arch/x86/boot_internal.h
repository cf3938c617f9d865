/* boot_internal.h — shared state and helpers of the x86 kernel loader
 * (boot.c, boot_bzimage.c, boot_elf.c, boot_zeropage.c, boot_decompress.c,
 * boot_cache.c, boot_file.c). Not for use outside the loader.
 *
 * Every input (the image file, a cached vmlinux, the initrd) is host memory
 * owned by the loader; guest RAM is only written, always through gmem_*.
 */
#ifndef BH_X86_BOOT_INTERNAL_H
#define BH_X86_BOOT_INTERNAL_H

#include <stdbool.h>
#include <sys/stat.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/x86/boot.h"
#include "arch/x86/boot_params.h"
#include "common/compiler.h"

/* One boot_load() call. Lives on the caller's stack; no globals. */
struct boot_ctx {
	struct guest_mem *gm;
	const struct boot_config *cfg;
	const char *name;      /* kernel path (or a label) for messages */
	const struct stat *src_st; /* the kernel file as read, or NULL (image in memory) */
	const char *what;      /* "" or a sub-input prefix such as "decompressed lz4 payload: " */
	char *err;
	size_t errlen;

	/* Setup header for the zero page: copied from a bzImage or synthesized. */
	struct setup_header hdr;
	bool is_bzimage;
	uint64_t initrd_limit;  /* initrd must end at or below this gpa (exclusive) */
	uint64_t cmdline_limit; /* max cmdline bytes, NUL excluded */

	/* Result of loading the kernel. */
	uint64_t kernel_start, kernel_end;
	uint64_t entry64;       /* 64-bit entry */
	bool has_pvh;
	uint64_t pvh_entry;     /* XEN_ELFNOTE_PHYS32_ENTRY */
	char format[64];
};

/* Format "kernel <name>: <what><msg>" into ctx->err and return `ret`
 * (use as `return boot_fail(c, -EINVAL, ...)`). */
int boot_fail(struct boot_ctx *c, int ret, const char *fmt, ...) BH_PRINTF(3, 4) BH_WUR;

/* Format a message into err/errlen (no prefix, NULL/0 allowed) and return `ret`. */
int boot_errf(char *err, size_t errlen, int ret, const char *fmt, ...) BH_PRINTF(4, 5) BH_WUR;

/* --- boot_file.c --- */
/* Upper bounds on what is read from the host file system. */
#define BOOT_KERNEL_MAX (512ULL * BH_MiB)
#define BOOT_INITRD_MAX (2ULL * BH_GiB)

/* Open `path` read-only (O_CLOEXEC|O_NOCTTY|O_NONBLOCK so a FIFO cannot block
 * us), require a regular non-empty file of at most `max` bytes. `what` is
 * "kernel"/"initrd" for messages. On success *fdp owns the fd.
 * -errno of open/fstat, -EISDIR for a directory, -EINVAL for another
 * non-regular file or an empty one, -E2BIG over `max`. */
int boot_file_open(const char *what, const char *path, uint64_t max, int *fdp, uint64_t *sizep,
		   char *err, size_t errlen) BH_WUR;

/* Read exactly `size` bytes from offset 0 of `fd` into `buf`, retrying short
 * reads and EINTR. -EIO if the file ended early (it shrank), -errno else. */
int boot_file_read(int fd, const char *what, const char *path, void *buf, uint64_t size,
		   char *err, size_t errlen) BH_WUR;

/* boot_file_open + malloc + boot_file_read. *bufp is the caller's (free()).
 * If stp is not NULL it receives the fstat() of the file that was read. */
int boot_file_load(const char *what, const char *path, uint64_t max, uint8_t **bufp,
		   size_t *lenp, struct stat *stp, char *err, size_t errlen) BH_WUR;

/* --- boot_bzimage.c --- */
struct bzimage_info {
	uint64_t setup_size;      /* (setup_sects + 1) * 512: file offset of the PM part */
	uint64_t pm_size;         /* bytes of the protected-mode part */
	uint64_t hdr_len;         /* setup header bytes present in the file */
	bool has_payload;         /* protocol >= 2.08 and payload_length != 0 */
	uint64_t payload_off;     /* file offset of the compressed payload */
	uint64_t payload_len;
	uint64_t init_size;       /* 0 if protocol < 2.10 */
	uint64_t pref_address;    /* 0 if protocol < 2.10 */
};

/* True if `data` carries the "HdrS" magic at 0x202 (claims to be a bzImage). */
bool boot_is_bzimage(const uint8_t *data, size_t len);

/* Validate the setup header of a bzImage against the file size and copy it into
 * ctx->hdr (and set initrd_limit/cmdline_limit). -EINVAL naming the field. */
int boot_bzimage_parse(struct boot_ctx *c, const uint8_t *data, size_t len,
		       struct bzimage_info *bi) BH_WUR;

/* Load the protected-mode part at X86_HIMEM_START for in-guest decompression;
 * sets kernel range and the 64-bit entry (1 MiB + 0x200). -E2BIG if it or its
 * decompression area (init_size) does not fit in RAM. */
int boot_bzimage_load_guest(struct boot_ctx *c, const uint8_t *data, size_t len,
			    const struct bzimage_info *bi) BH_WUR;

/* --- boot_elf.c --- */
/* True if `data` starts with the ELF magic. */
bool boot_is_elf(const uint8_t *data, size_t len);

/* Validate an ELF64 x86-64 executable completely (headers, every PT_LOAD
 * against the file and guest RAM, entry inside a segment, PVH note) and, if
 * `copy`, load it into guest RAM. Sets kernel_start/end, entry64, has_pvh,
 * pvh_entry. -ENOEXEC not an x86-64 ELF64 executable, -EINVAL a lying field,
 * -E2BIG a segment outside guest RAM. Nothing is written unless all checks pass. */
int boot_elf_load(struct boot_ctx *c, const uint8_t *data, size_t len, bool copy) BH_WUR;

/* --- boot_zeropage.c --- */
/* Fill ctx->hdr with a synthesized setup header for a bare ELF kernel. */
void boot_hdr_synthesize(struct boot_ctx *c);

/* Write the command line, the zero page (always) and, if `pvh`, the
 * hvm_start_info block. -E2BIG if the command line is too long. */
int boot_write_params(struct boot_ctx *c, uint64_t initrd_start, uint64_t initrd_size,
		      bool pvh) BH_WUR;

/* --- boot_decompress.c --- */
enum boot_comp {
	BOOT_COMP_UNKNOWN,
	BOOT_COMP_GZIP,
	BOOT_COMP_XZ,
	BOOT_COMP_LZMA,
	BOOT_COMP_LZ4,
	BOOT_COMP_ZSTD,
	BOOT_COMP_BZIP2,
};
/* Largest decompressed kernel accepted (a decompression bomb fails with -E2BIG). */
#define BOOT_DECOMP_MAX (256ULL * BH_MiB)

/* Detect the compression format of `data` by its magic. */
enum boot_comp boot_comp_detect(const uint8_t *data, size_t len);
const char *boot_comp_name(enum boot_comp comp);

/* Decompress `in` (one stream; trailing bytes such as the kernel's appended
 * size are ignored) into a new buffer *outp (caller frees) of *outlenp bytes.
 * 0; -E2BIG output would exceed `cap`; -EINVAL corrupt or truncated input;
 * -ENOMEM; -ENOTSUP unknown format. Thread-safe, no global state. */
int boot_decompress(enum boot_comp comp, const uint8_t *in, size_t inlen, size_t cap,
		    uint8_t **outp, size_t *outlenp) BH_WUR;

/* --- boot_cache.c --- */
/* Cache key of a bzImage: SHA-256 of the whole file (libcrypto,
 * common/sha256.h). 0, or -errno when the library cannot hash. */
int boot_cache_key(const uint8_t *image, size_t len, uint8_t key[32]) BH_WUR;

/* Look up `<dir>/vmlinux-<hex key>`. `dir` must be owned by the euid and not
 * group/other-writable (else -EPERM: an entry there could be planted). Returns 0 and a malloc'd copy of the ELF
 * bytes (trailer verified: magic, version, length, source key, CRC-32) in
 * elfp/lenp; -ENOENT on a miss; -EBADMSG when the file exists but is not a
 * valid cache entry (caller rebuilds); other -errno on I/O failure. */
int boot_cache_lookup(const char *dir, const uint8_t key[32], uint8_t **elfp, size_t *lenp) BH_WUR;

/* Store `elf` as `<dir>/vmlinux-<hex key>` atomically (0600 temp file, then
 * rename), creating `dir` (0700) if missing; -EPERM for a dir that is not
 * ours or is group/other-writable. 0 or -errno; never partial. */
int boot_cache_store(const char *dir, const uint8_t key[32], const uint8_t *elf,
		     size_t len) BH_WUR;

/* Remove a bad cache entry (best effort). */
void boot_cache_drop(const char *dir, const uint8_t key[32]);

/* Memo of content keys by file identity (see boot_cache.c): get returns true
 * and fills key if this exact file (dev, ino, size, mtime, ctime) was hashed
 * before; put records it (best effort). */
bool boot_cache_memo_get(const char *dir, const struct stat *st, uint8_t key[32]);
void boot_cache_memo_put(const char *dir, const struct stat *st, const uint8_t key[32]);

#endif
