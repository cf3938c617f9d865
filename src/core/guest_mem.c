/* guest_mem.c — see guest_mem.h. The only file that does host-pointer arithmetic
 * on guest-physical addresses. */
#include "guest_mem.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* <linux/memfd.h>'s huge page size encodings (glibc's sys/mman.h lacks them). */
#ifndef MFD_HUGE_2MB
#define MFD_HUGE_2MB (21u << 26)
#endif
#ifndef MFD_HUGE_1GB
#define MFD_HUGE_1GB (30u << 26)
#endif

#define GMEM_GUARD (2ULL * 1024 * 1024) /* one huge-page worth each side */

/* Map [0, size) of fd between two PROT_NONE guard areas and fill in the
 * regions. RAM starts on an `align` boundary (a power of two >= GMEM_GUARD:
 * hugetlbfs mappings must be aligned to their page size, and transparent
 * huge pages need 2 MiB-aligned virtual addresses). Takes ownership of fd on
 * success only. */
static int gmem_map(struct guest_mem *gm, uint64_t size, int fd, int flags, uint64_t align)
{
	uint8_t *map, *ram;
	uintptr_t at;

	/* Reserve guard + alignment slack + RAM + guard, then map RAM in the
	 * middle: a linear overrun past either end faults instead of touching
	 * VMM memory. */
	gm->map_len = size + 2 * GMEM_GUARD + align;
	map = mmap(NULL, gm->map_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		   -1, 0);
	if (map == MAP_FAILED) {
		gm->map_len = 0;
		return -errno;
	}
	at = ((uintptr_t)map + GMEM_GUARD + align - 1) & ~(uintptr_t)(align - 1);
	ram = map + (at - (uintptr_t)map);
	if (mmap(ram, size, PROT_READ | PROT_WRITE, flags | MAP_FIXED, fd, 0) == MAP_FAILED) {
		int ret = -errno;

		munmap(map, gm->map_len);
		gm->map_len = 0;
		return ret;
	}
	/* Guest RAM is guest data: never in a core dump, never in a forked child. */
	(void)madvise(ram, size, MADV_DONTDUMP);
	(void)madvise(ram, size, MADV_DONTFORK);

	gm->memfd = fd;
	gm->map = map;
	gm->base = ram;
	gm->size = size;
	gm->private_map = (flags & MAP_PRIVATE) != 0;
	if (!gm->page_size)
		gm->page_size = 4096;
	gm->regions[0].gpa = 0;
	gm->regions[0].size = size < GMEM_MMIO_HOLE_START ? size : GMEM_MMIO_HOLE_START;
	gm->regions[0].host = gm->base;
	gm->nregions = 1;
	if (size > GMEM_MMIO_HOLE_START) {
		gm->regions[1].gpa = GMEM_MMIO_HOLE_END;
		gm->regions[1].size = size - GMEM_MMIO_HOLE_START;
		gm->regions[1].host = gm->base + GMEM_MMIO_HOLE_START;
		gm->nregions = 2;
	}
	return 0;
}

static bool size_ok(uint64_t size)
{
	return size != 0 && size <= GMEM_MAX_SIZE && !(size & 4095);
}

/* ---- backing modes (issue 17: hugepages, pre-allocation, THP, KSM) ---- */

int64_t gmem_hugepages_free(uint64_t page_size)
{
	char path[96], buf[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/hugepages-%llukB/free_hugepages",
		 (unsigned long long)(page_size >> 10));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	return strtoll(buf, NULL, 10);
}

/* Populate every page of the fresh RAM mapping: page-table entries included,
 * so the RAM is resident (RSS) before the guest's first instruction. */
static int gmem_populate(struct guest_mem *gm)
{
	if (madvise(gm->base, gm->size, MADV_POPULATE_WRITE) == 0)
		return 0;
	if (errno != EINVAL)
		return errno == EFAULT || errno == EHWPOISON ? -ENOMEM : -errno;
	/* Before Linux 5.14: touch each page (fresh RAM is all zero). */
	for (uint64_t off = 0; off < gm->size; off += gm->page_size)
		((volatile uint8_t *)gm->base)[off] = 0;
	return 0;
}

int gmem_create_opts(struct guest_mem *gm, uint64_t size, const struct gmem_opts *o)
{
	static const struct gmem_opts defaults = { .thp = true };
	unsigned mfd = MFD_CLOEXEC | MFD_ALLOW_SEALING;
	uint64_t page;
	int fd, ret;

	memset(gm, 0, sizeof(*gm));
	gm->memfd = -1;
	if (!o)
		o = &defaults;
	page = o->page_size ? o->page_size : 4096;
	if (!size_ok(size) || (page != 4096 && page != GMEM_HUGE_2M && page != GMEM_HUGE_1G) ||
	    size % page || (o->ksm && page != 4096))
		return -EINVAL;
	if (page == GMEM_HUGE_2M)
		mfd |= MFD_HUGETLB | MFD_HUGE_2MB;
	else if (page == GMEM_HUGE_1G)
		mfd |= MFD_HUGETLB | MFD_HUGE_1GB;

	fd = memfd_create("bulkhead-guest-ram", mfd);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0) {
		ret = -errno;
		goto err_close;
	}
	/* The guest's RAM never changes size: a VMM bug cannot shrink it under KVM. */
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		ret = -errno;
		goto err_close;
	}
	/* Allocate the file's pages first: a host without enough (huge) pages
	 * answers ENOSPC/ENOMEM here instead of a SIGBUS at the guest's touch.
	 * Not for KSM: its private mapping never uses the file's pages. */
	if (o->prealloc && !o->ksm && fallocate(fd, 0, 0, (off_t)size) < 0) {
		ret = -errno;
		goto err_close;
	}
	gm->page_size = page;
	if ((ret = gmem_map(gm, size, fd, o->ksm ? MAP_PRIVATE : MAP_SHARED,
			    page > GMEM_GUARD ? page : GMEM_GUARD)))
		goto err_close;
	/* THP: only meaningful for 4 KiB-backed RAM; KSM: a private mapping. */
	if (page == 4096 && o->thp)
		(void)madvise(gm->base, size, MADV_HUGEPAGE);
	if (o->ksm && madvise(gm->base, size, MADV_MERGEABLE) < 0) {
		ret = -errno;
		gmem_destroy(gm);
		return ret;
	}
	if (o->prealloc && (ret = gmem_populate(gm))) {
		gmem_destroy(gm);
		return ret;
	}
	return 0;

err_close:
	close(fd);
	gm->page_size = 0;
	return ret;
}

uint64_t gmem_page_size(const struct guest_mem *gm)
{
	return gm->page_size ? gm->page_size : 4096;
}

/* ---- end of the backing modes ---- */

int gmem_create(struct guest_mem *gm, uint64_t size)
{
	return gmem_create_opts(gm, size, NULL);
}

int gmem_create_from_fd(struct guest_mem *gm, uint64_t size, int fd, bool copy_on_write)
{
	struct stat st;
	int ret;

	memset(gm, 0, sizeof(*gm));
	gm->memfd = -1;
	if (!size_ok(size) || fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size < size) {
		ret = -EINVAL;
		goto err_close;
	}
	/* A memfd that allows sealing is held to its size; a file cannot be. */
	(void)fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK);
	if ((ret = gmem_map(gm, size, fd, copy_on_write ? MAP_PRIVATE : MAP_SHARED, GMEM_GUARD)))
		goto err_close;
	return 0;

err_close:
	if (fd >= 0)
		close(fd);
	return ret;
}

int gmem_place_file_copy(struct guest_mem *gm, const struct gmem_opts *o)
{
	uint64_t off;

	if (!gm->private_map || gm->page_size != 4096 || (o && o->page_size > 4096))
		return -EINVAL;
	if (!o)
		return 0;
	if (o->thp)
		(void)madvise(gm->base, gm->size, MADV_HUGEPAGE);
	if (o->ksm && madvise(gm->base, gm->size, MADV_MERGEABLE) < 0)
		return -errno;
	if (!o->prealloc)
		return 0;
	/* Every page becomes this VM's own private copy now (reading the file
	 * once): no fault can find the host short of memory later. */
	if (madvise(gm->base, gm->size, MADV_POPULATE_WRITE) == 0)
		return 0;
	if (errno != EINVAL)
		return errno == EFAULT || errno == EHWPOISON ? -ENOMEM : -errno;
	/* Before Linux 5.14: write each page's first byte back (the guest has
	 * not run: nothing races with it). */
	for (off = 0; off < gm->size; off += 4096) {
		volatile uint8_t *b = gm->base + off;

		*b = *b;
	}
	return 0;
}

int gmem_load_file(struct guest_mem *gm, int fd)
{
	struct stat st;
	off_t data, hole = 0, end;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size < gm->size)
		return -EINVAL;
	end = (off_t)gm->size;
	for (;;) {
		data = lseek(fd, hole, SEEK_DATA);
		if (data < 0 && errno == ENXIO)
			return 0; /* only holes (zeroes) left: fresh RAM is zero */
		if (data < 0)
			return -errno;
		if (data >= end)
			return 0;
		hole = lseek(fd, data, SEEK_HOLE);
		if (hole < 0)
			return -errno;
		if (hole > end)
			hole = end;
		for (off_t o = data; o < hole;) {
			ssize_t n = pread(fd, gm->base + o, (size_t)(hole - o), o);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return n < 0 ? -errno : -EIO;
			o += n;
		}
	}
}

void gmem_destroy(struct guest_mem *gm)
{
	if (gm->map)
		munmap(gm->map, gm->map_len);
	if (gm->memfd >= 0)
		close(gm->memfd);
	memset(gm, 0, sizeof(*gm));
	gm->memfd = -1;
}

void *gmem_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	uint64_t end;

	if (bh_add_overflow_u64(gpa, len, &end))
		return NULL;
	for (unsigned i = 0; i < gm->nregions; i++) {
		const struct gmem_region *r = &gm->regions[i];

		if (gpa >= r->gpa && end <= r->gpa + r->size)
			return r->host + (gpa - r->gpa);
	}
	return NULL;
}

bool gmem_valid(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	return gmem_ptr(gm, gpa, len) != NULL;
}

int gmem_read(const struct guest_mem *gm, void *dst, uint64_t gpa, uint64_t len)
{
	const void *p = gmem_ptr(gm, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(dst, p, len);
	return 0;
}

int gmem_write(const struct guest_mem *gm, uint64_t gpa, const void *src, uint64_t len)
{
	void *p = gmem_ptr(gm, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(p, src, len);
	return 0;
}

uint64_t gmem_low_end(const struct guest_mem *gm)
{
	return gm->nregions ? gm->regions[0].size : 0;
}

/* ---- gmem_discard (see guest_mem.h) ---- */

uint64_t gmem_discard_page(const struct guest_mem *gm)
{
	struct stat st;

	/* hugetlbfs reports its page size as the block size; shmem 4 KiB. */
	if (gm->memfd < 0 || fstat(gm->memfd, &st) < 0 || st.st_blksize < 4096 ||
	    (st.st_blksize & (st.st_blksize - 1)))
		return 0;
	return (uint64_t)st.st_blksize;
}

int gmem_discard(const struct guest_mem *gm, uint64_t gpa, uint64_t len, uint64_t *released)
{
	uint64_t page = gmem_discard_page(gm), start, end;
	uint8_t *p;

	*released = 0;
	if (!len || (gpa & 4095) || (len & 4095))
		return -EINVAL;
	p = gmem_ptr(gm, gpa, len); /* one region, no overflow, not in the hole */
	if (!p)
		return -EFAULT;
	if (!page)
		return -EIO;
	/* Whole backing pages inside the range (regions start page-aligned in
	 * the memfd, so gpa alignment is memfd-offset alignment). */
	start = (gpa + page - 1) & ~(page - 1);
	end = (gpa + len) & ~(page - 1);
	if (end <= start)
		return 0;
	p += start - gpa;
	if (madvise(p, end - start, MADV_REMOVE) < 0) {
		/* EACCES: a private (copy-on-write) mapping. Dropping our copies
		 * is all there is to release, and the file stays untouched. */
		if (errno != EACCES)
			return -errno;
		if (madvise(p, end - start, MADV_DONTNEED) < 0)
			return -errno;
	}
	*released = end - start;
	return 0;
}
