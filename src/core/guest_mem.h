/* guest_mem.h — guest RAM and THE one checked door to it.
 *
 * Guest RAM is one memfd, mapped once in the VMM, exposed to KVM as one or two
 * memslots around the 32-bit MMIO hole [3 GiB, 4 GiB):
 *   slot 0: gpa [0, min(size, 3 GiB))          -> memfd offset 0
 *   slot 1: gpa [4 GiB, 4 GiB + size - 3 GiB)  -> memfd offset 3 GiB (only if size > 3 GiB)
 *
 * Rule: no code outside guest_mem.c computes `host_base + gpa`. Every access to
 * guest-physical memory goes through gmem_ptr()/gmem_read()/gmem_write(), which
 * check gpa + len for overflow and require the whole range to sit inside ONE
 * region (never spanning the hole). Guest memory may change under the caller at
 * any time (other vCPUs): copy what you need, then validate the copy.
 *
 * Thread-safety: after gmem_create() the layout is immutable, so every function
 * here may be called from any thread.
 */
#ifndef BH_GUEST_MEM_H
#define BH_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"

#define GMEM_MMIO_HOLE_START (3ULL << 30)
#define GMEM_MMIO_HOLE_END (4ULL << 30)
#define GMEM_MAX_REGIONS 2

struct gmem_region {
	uint64_t gpa;    /* guest-physical start */
	uint64_t size;   /* bytes */
	uint8_t *host;   /* host mapping of the region's first byte */
};

struct guest_mem {
	int memfd;
	uint8_t *base;      /* mmap of the whole memfd (private to guest_mem.c) */
	uint64_t size;      /* total RAM bytes */
	uint64_t map_len;   /* reservation length incl. guard pages */
	uint8_t *map;       /* start of the reservation (guard, RAM, guard) */
	uint64_t page_size; /* backing page size: 4 KiB, or 2 MiB / 1 GiB (hugetlbfs) */
	bool private_map;   /* RAM mapped MAP_PRIVATE (a file copy, or KSM) */
	unsigned nregions;
	struct gmem_region regions[GMEM_MAX_REGIONS];
};

/* Largest RAM size accepted (bytes). Keeps every gpa computation far from 2^64. */
#define GMEM_MAX_SIZE (1ULL << 40)

/* How fresh guest RAM is backed (gmem_create_opts). The defaults (all zero
 * but thp) are what gmem_create() uses. */
struct gmem_opts {
	uint64_t page_size; /* 0 or 4096: ordinary pages; GMEM_HUGE_2M / GMEM_HUGE_1G:
			     * a hugetlbfs memfd of that page size (size must be a
			     * multiple of it; the host must have enough free pages) */
	bool prealloc;      /* populate every page (and its page-table entry) before
			     * returning: the guest can never fault for lack of host
			     * memory later */
	bool thp;           /* MADV_HUGEPAGE on 4 KiB-backed RAM: transparent huge
			     * pages where the host's shmem THP setting allows them
			     * (/sys/kernel/mm/transparent_hugepage/shmem_enabled:
			     * advise, within_size or always) */
	bool ksm;           /* MADV_MERGEABLE: RAM is mapped MAP_PRIVATE (guest writes
			     * stay in anonymous pages KSM can merge; the memfd stays
			     * zero). A cross-VM side channel: opt-in only. Not with
			     * hugepages */
};
#define GMEM_HUGE_2M (2ULL << 20)
#define GMEM_HUGE_1G (1ULL << 30)

/* Create `size` bytes of guest RAM (0 < size <= GMEM_MAX_SIZE, multiple of 4 KiB). The mapping has PROT_NONE guard pages on both sides,
 * is MADV_DONTDUMP and MADV_DONTFORK, and the memfd is sealed against resizing.
 * Returns 0 or -errno (-EINVAL for a bad size, -ENOMEM when the host cannot). */
int gmem_create(struct guest_mem *gm, uint64_t size) BH_WUR;

/* gmem_create() with a backing chosen by `o` (NULL: the defaults). Guard
 * pages, DONTDUMP/DONTFORK and the seals are the same in every mode; the RAM
 * starts on a boundary of max(2 MiB, page size) (hugetlbfs requires it, THP
 * needs it). Errors: -EINVAL (bad size, a size the huge page size does not
 * divide, an unknown page size, ksm with hugepages), -ENOMEM / -ENOSPC (the
 * host has too few free (huge) pages: gmem_hugepages_free() says how many it
 * has), or the -errno of the failing call. */
int gmem_create_opts(struct guest_mem *gm, uint64_t size, const struct gmem_opts *o) BH_WUR;

/* Free hugepages of `page_size` on the host (sysfs), or -errno (-ENOENT: the
 * host does not offer that size). */
int64_t gmem_hugepages_free(uint64_t page_size);

/* The page size guest RAM was created with (gmem_create_opts' page_size):
 * 4096, GMEM_HUGE_2M or GMEM_HUGE_1G; 4096 for RAM mapped from a file
 * (gmem_create_from_fd), whatever that file's filesystem. What the
 * configuration chose, fixed for the RAM's life; for what gmem_discard()
 * can release, which the kernel decides, see gmem_discard_page(). */
uint64_t gmem_page_size(const struct guest_mem *gm);

/* Guest RAM of `size` bytes backed by an existing file or memfd `fd` of at
 * least that size (a snapshot's memory): mapped MAP_PRIVATE when
 * copy_on_write (guest writes never reach the file; untouched pages are
 * shared with every other mapping of it) or MAP_SHARED. Same guard pages and
 * advice as gmem_create(); a memfd that allows it is sealed against
 * shrinking. Takes ownership of fd (closed by gmem_destroy, and on failure).
 * 0 or -errno (-EINVAL: bad size, not a regular file/memfd, or shorter than
 * size). A file shrunk later by another process would fault the VMM
 * (SIGBUS): the caller owns the file (it is opened before the jail). */
int gmem_create_from_fd(struct guest_mem *gm, uint64_t size, int fd, bool copy_on_write) BH_WUR;

/* Placement options for RAM mapped copy-on-write from a file
 * (gmem_create_from_fd with copy_on_write): thp and ksm advise the mapping
 * (they act on the private copies of pages the guest writes), prealloc makes
 * every page a private copy now (the whole file is read; clones then share
 * nothing). page_size must be 0/4096: hugepages cannot back a file mapping
 * (copy into hugepage RAM with gmem_load_file instead). 0 or -errno
 * (-EINVAL: not such a mapping, or hugepages asked; -ENOMEM: the host
 * cannot supply the copies). Before the guest runs. */
int gmem_place_file_copy(struct guest_mem *gm, const struct gmem_opts *o) BH_WUR;

/* Copy a RAM image file (laid out like the RAM's memfd: offset = memfd
 * offset, at least gm->size bytes) into fresh RAM, reading only its data
 * (holes stay zero). Before the guest runs. 0 or -errno (-EINVAL: not a
 * regular file or too short). */
int gmem_load_file(struct guest_mem *gm, int fd) BH_WUR;

/* Unmap and close. Safe on a zeroed or partly-created struct; idempotent. */
void gmem_destroy(struct guest_mem *gm);

/* Host pointer for [gpa, gpa+len) or NULL if any byte is outside one RAM region
 * or gpa+len overflows. len == 0 is allowed (returns a valid pointer if gpa is
 * inside or at the end of a region). The pointer stays valid until destroy. */
void *gmem_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len);

/* Copy helpers built on gmem_ptr(): 0 or -EFAULT. */
int gmem_read(const struct guest_mem *gm, void *dst, uint64_t gpa, uint64_t len) BH_WUR;
int gmem_write(const struct guest_mem *gm, uint64_t gpa, const void *src, uint64_t len) BH_WUR;

/* True if [gpa, gpa+len) is entirely guest RAM in one region. */
bool gmem_valid(const struct guest_mem *gm, uint64_t gpa, uint64_t len);

/* ---- gmem_discard (virtio-balloon: memory the guest gave back) ---- */

/* The unit gmem_discard() releases in: the block size the kernel reports
 * now for the file behind guest RAM (st_blksize: 4 KiB for a shmem memfd,
 * 2 MiB or 1 GiB with hugetlbfs; for a snapshot's memory file, its
 * filesystem's), 0 when it cannot be had. Equals gmem_page_size() for RAM
 * made by gmem_create_opts(); for RAM from a file it may differ (a file on
 * hugetlbfs, or a filesystem reporting larger blocks). */
uint64_t gmem_discard_page(const struct guest_mem *gm);

/* Give the host back the memory behind guest-physical [gpa, gpa+len): the
 * guest said it no longer uses it (balloon inflate, free page reporting).
 * Refuses, releasing nothing: len 0 or gpa/len not multiples of 4 KiB
 * (-EINVAL); any byte outside one RAM region, in the MMIO hole, or gpa+len
 * wrapping (-EFAULT). Otherwise releases every whole backing page inside the
 * range (a shared mapping: MADV_REMOVE, a hole punched in the memfd; a
 * copy-on-write mapping of a snapshot file: MADV_DONTNEED, the file is never
 * written) and stores the bytes released in *released — less than len, maybe
 * 0, when the backing pages are larger than 4 KiB (hugepages: a 4 KiB report
 * cannot free anything). The guest reads zeroes (or the snapshot's bytes)
 * there afterwards. Any thread; 0 or -errno (a host failure). */
int gmem_discard(const struct guest_mem *gm, uint64_t gpa, uint64_t len,
		 uint64_t *released) BH_WUR;

/* Highest gpa+1 of RAM below the MMIO hole (end of region 0). */
uint64_t gmem_low_end(const struct guest_mem *gm);

#endif
