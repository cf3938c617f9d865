/* hugepage_pool.h — reserve hugepages for a test and give them back.
 *
 * As root a test may grow the host's pool of `page`-sized hugepages
 * (/sys/kernel/mm/hugepages/hugepages-NkB/nr_hugepages) by what it needs and
 * must restore the old count afterwards; without root, or where the kernel
 * cannot find that many (fragmented memory, no such page size), the test is
 * skipped with the reason printed. */
#ifndef BULKHEAD_TEST_HUGEPAGE_POOL_H
#define BULKHEAD_TEST_HUGEPAGE_POOL_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline int64_t hp_free(uint64_t page)
{
	char path[96], buf[32];
	FILE *f;
	int64_t v = -1;

	snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/hugepages-%llukB/free_hugepages",
		 (unsigned long long)(page >> 10));
	if ((f = fopen(path, "re"))) {
		if (fgets(buf, sizeof(buf), f))
			v = atoll(buf);
		fclose(f);
	}
	return v;
}

static inline void hp_set(uint64_t page, long n)
{
	char path[96];
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/hugepages-%llukB/nr_hugepages",
		 (unsigned long long)(page >> 10));
	if ((f = fopen(path, "we"))) {
		fprintf(f, "%ld\n", n);
		fclose(f);
	}
}

/* Make `want` pages of `page` bytes free. True and *old (the count to give
 * back to hp_release; -1: nothing was changed), or false with the reason
 * printed. */
static inline bool hp_reserve(uint64_t page, long want, long *old)
{
	char path[96], buf[32];
	FILE *f;
	int64_t now;

	*old = -1;
	snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/hugepages-%llukB/nr_hugepages",
		 (unsigned long long)(page >> 10));
	f = fopen(path, "re");
	if (!f || !fgets(buf, sizeof(buf), f)) {
		printf("SKIP: %s: %s: the host offers no %llu KiB hugepages\n", path,
		       strerror(errno), (unsigned long long)(page >> 10));
		if (f)
			fclose(f);
		return false;
	}
	fclose(f);
	if (hp_free(page) >= want)
		return true;
	if (geteuid() != 0) {
		printf("SKIP: %ld free %llu KiB hugepages needed, not root: cannot reserve them "
		       "(%s)\n", want, (unsigned long long)(page >> 10), path);
		return false;
	}
	*old = atol(buf);
	hp_set(page, *old + want);
	now = hp_free(page);
	if (now < want) {
		printf("SKIP: the host could reserve only %lld of %ld %llu KiB hugepages "
		       "(fragmented memory)\n", (long long)now, want,
		       (unsigned long long)(page >> 10));
		hp_set(page, *old);
		*old = -1;
		return false;
	}
	return true;
}

static inline void hp_release(uint64_t page, long old)
{
	if (old >= 0)
		hp_set(page, old);
}

#endif
