/* test_balloon.c — virtio-balloon: inflate/deflate give pages back through
 * gmem_discard, free page reporting, statistics, the target; and the hostile
 * cases of hostile-guests.md 38-43 (pages outside RAM or in the MMIO hole,
 * twice, floods, lying stats, ranges the queue rejects). */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "vq_fake.h"
#include "virtio/balloon.h"

#define RAM (64ULL << 20)
#define PFN_BUF 0x100000ULL   /* PFN arrays / stats buffers */
#define PAGES 0x800000ULL     /* guest pages given back */
#define F_ALL ((1ULL << VIRTIO_BALLOON_F_STATS_VQ) | (1ULL << VIRTIO_BALLOON_F_REPORTING) | \
	       (1ULL << VIRTIO_BALLOON_F_DEFLATE_ON_OOM))

struct fx {
	struct guest_mem gm;
	struct fake_ring r[4];
	struct fake_transport t;
	struct virtio_balloon *b;
	struct virtio_dev *vd;
};

static struct fx *fx_new(uint64_t ram, uint64_t target)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct virtio_balloon_config c = { true, target, true, true, true };

	assert_non_null(f);
	assert_int_equal(gmem_create(&f->gm, ram), 0);
	assert_int_equal(virtio_balloon_create(&f->b, &f->gm, NULL, &c), 0);
	f->vd = virtio_balloon_dev(f->b);
	ft_attach(&f->t, f->vd);
	for (unsigned i = 0; i < 4; i++)
		fr_init(&f->r[i], &f->gm, 64, 0x400000 + 0x10000ULL * i,
			0x404000 + 0x10000ULL * i, 0x408000 + 0x10000ULL * i);
	return f;
}

static void fx_free(struct fx *f)
{
	f->vd->ops->destroy(f->vd);
	gmem_destroy(&f->gm);
	free(f);
}

static struct virtio_balloon_info info(struct fx *f)
{
	struct virtio_balloon_info i;

	virtio_balloon_info(f->b, &i);
	return i;
}

/* Post n PFNs on queue q as one readable chain (head 0 .. ) and notify. */
static void send_pfns(struct fx *f, unsigned q, uint16_t head, const uint32_t *pfn, unsigned n)
{
	uint64_t at = PFN_BUF + 0x10000ULL * head;

	assert_int_equal(gmem_write(&f->gm, at, pfn, 4ULL * n), 0);
	fr_desc(&f->r[q], head, at, 4 * n, 0, 0);
	fr_post(&f->r[q], head);
	ft_notify(f->vd, q);
}

static uint32_t cfg32(struct fx *f, uint32_t off)
{
	uint32_t v;

	f->vd->ops->cfg_read(f->vd, off, &v, 4);
	return v;
}

static void test_inflate_deflate(void **state)
{
	struct fx *f = fx_new(RAM, 16ULL << 20);
	uint32_t pfns[12], id, len, actual = 7, w;
	uint8_t *p = gmem_ptr(&f->gm, PAGES, 8 * 4096);
	struct virtio_balloon_info i;

	(void)state;
	assert_int_equal(f->vd->device_id, VIRTIO_ID_BALLOON);
	assert_int_equal(f->vd->ops->features(f->vd) & F_ALL, F_ALL);
	assert_int_equal(cfg32(f, 0), 4096); /* 16 MiB in 4 KiB pages */
	assert_int_equal(ft_start(f->vd, F_ALL, f->r, 4), 0);
	memset(p, 0xab, 8 * 4096);
	for (unsigned k = 0; k < 8; k++)
		pfns[k] = (uint32_t)(PAGES / 4096) + k;
	pfns[8] = (uint32_t)(PAGES / 4096);          /* twice in one chain */
	pfns[9] = (uint32_t)(RAM / 4096);            /* just past RAM */
	pfns[10] = 0xffffffffu;                      /* far beyond */
	pfns[11] = (uint32_t)(PAGES / 4096) + 100;   /* a lone page */
	send_pfns(f, 0, 0, pfns, 12);
	assert_true(fr_get_used(&f->r[0], &id, &len));
	assert_int_equal(id, 0);
	assert_int_equal(len, 0);
	i = info(f);
	assert_int_equal(i.inflated_pages, 9);
	assert_int_equal(i.held_pages, 9);
	assert_int_equal(i.refused_duplicate, 1);
	assert_int_equal(i.refused_outside, 2);
	assert_int_equal(i.released_bytes, 9 * 4096);
	assert_int_equal(p[0], 0);
	assert_int_equal(p[8 * 4096 - 1], 0);
	/* The driver's claim is kept, not believed. */
	f->vd->ops->cfg_write(f->vd, 4, &actual, 4);
	w = 0xffffffffu;
	f->vd->ops->cfg_write(f->vd, 0, &w, 4); /* num_pages is the host's */
	assert_int_equal(cfg32(f, 0), 4096);
	assert_int_equal(info(f).actual_pages, 7);
	/* Deflate 4 held pages, one twice, one never inflated. */
	pfns[4] = pfns[0];
	pfns[5] = (uint32_t)(PAGES / 4096) + 50;
	send_pfns(f, 1, 1, pfns, 6);
	assert_true(fr_get_used(&f->r[1], &id, &len));
	i = info(f);
	assert_int_equal(i.deflated_pages, 4);
	assert_int_equal(i.held_pages, 5);
	assert_int_equal(i.refused_duplicate, 3);
	/* A deflated page can be inflated again. */
	send_pfns(f, 0, 2, pfns, 1);
	assert_int_equal(info(f).held_pages, 6);
	/* The target: above RAM refused; otherwise a configuration interrupt. */
	assert_int_equal(virtio_balloon_set_target(f->b, RAM + 4096), -ERANGE);
	assert_int_equal(f->t.config_irqs, 0);
	assert_int_equal(virtio_balloon_set_target(f->b, 1 << 20), 0);
	assert_int_equal(f->t.config_irqs, 1);
	assert_int_equal(cfg32(f, 0), 256);
	/* A reset empties the host's record of the balloon. */
	ft_reset(f->vd);
	assert_int_equal(info(f).held_pages, 0);
	fx_free(f);
}

static void test_target_above_ram(void **state)
{
	struct guest_mem gm;
	struct virtio_balloon *b;
	struct virtio_balloon_config c = { true, RAM + 4096, true, true, true };

	(void)state;
	assert_int_equal(gmem_create(&gm, RAM), 0);
	assert_int_equal(virtio_balloon_create(&b, &gm, NULL, &c), -ERANGE);
	assert_null(b);
	gmem_destroy(&gm);
}

/* Free page reporting: each segment a range given back. */
static void test_reporting(void **state)
{
	struct fx *f = fx_new(RAM, 0);
	uint8_t *big = gmem_ptr(&f->gm, 16ULL << 20, 2ULL << 20);
	uint32_t id, len;
	struct virtio_balloon_info i;
	struct stat st;
	uint64_t before;

	(void)state;
	/* Stats negotiated: reporting is queue 3. */
	assert_int_equal(ft_start(f->vd, F_ALL, f->r, 4), 0);
	memset(big, 0x5c, 2ULL << 20);
	assert_int_equal(fstat(f->gm.memfd, &st), 0);
	before = (uint64_t)st.st_blocks * 512;
	fr_desc(&f->r[3], 0, 16ULL << 20, 2u << 20, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	fr_desc(&f->r[3], 1, 20ULL << 20, 4096, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2);
	fr_desc(&f->r[3], 2, (24ULL << 20) + 8, 100, VIRTQ_DESC_F_WRITE, 0); /* unaligned */
	fr_post(&f->r[3], 0);
	ft_notify(f->vd, 3);
	assert_true(fr_get_used(&f->r[3], &id, &len));
	assert_int_equal(len, 0);
	i = info(f);
	assert_int_equal(i.reported_bytes, (2u << 20) + 4096);
	assert_int_equal(i.report_released_bytes, (2u << 20) + 4096);
	assert_int_equal(i.refused_outside, 1);
	/* (before touching it again: a read fault on shmem allocates a page) */
	assert_int_equal(fstat(f->gm.memfd, &st), 0);
	assert_true((uint64_t)st.st_blocks * 512 + (2u << 20) <= before);
	assert_int_equal(big[0], 0);
	/* The same range twice: harmless. */
	fr_post(&f->r[3], 0);
	ft_notify(f->vd, 3);
	assert_true(fr_get_used(&f->r[3], &id, &len));
	assert_false(f->vd->failed);
	/* A range past RAM as a descriptor: the queue rejects the chain, the
	 * device needs reset, nothing is released. */
	memset(big, 0x77, 4096);
	fr_desc(&f->r[3], 4, RAM - 4096, 8192, VIRTQ_DESC_F_WRITE, 0);
	fr_post(&f->r[3], 4);
	ft_notify(f->vd, 3);
	assert_true(f->vd->failed);
	assert_int_equal(big[0], 0x77);
	fx_free(f);
}

/* Without STATS_VQ the reporting queue is number 2. */
static void test_queue_numbering(void **state)
{
	struct fx *f = fx_new(RAM, 0);
	uint32_t id, len;

	(void)state;
	assert_int_equal(ft_start(f->vd, 1ULL << VIRTIO_BALLOON_F_REPORTING, f->r, 3), 0);
	fr_desc(&f->r[2], 0, 16ULL << 20, 4096, VIRTQ_DESC_F_WRITE, 0);
	fr_post(&f->r[2], 0);
	ft_notify(f->vd, 2);
	assert_true(fr_get_used(&f->r[2], &id, &len));
	assert_int_equal(info(f).reported_bytes, 4096);
	assert_int_equal(info(f).stats_updates, 0);
	fx_free(f);
}

static void put_stat(uint8_t *p, uint16_t tag, uint64_t v)
{
	memcpy(p, &tag, 2);
	memcpy(p + 2, &v, 8);
}

static void test_stats(void **state)
{
	struct fx *f = fx_new(RAM, 0);
	uint8_t buf[40];
	uint32_t id, len;
	struct virtio_balloon_info i;

	(void)state;
	assert_int_equal(ft_start(f->vd, F_ALL, f->r, 4), 0);
	put_stat(buf, VIRTIO_BALLOON_S_MEMFREE, 1000);
	put_stat(buf + 10, VIRTIO_BALLOON_S_MEMTOT, 2000);
	put_stat(buf + 20, 99, 5); /* unknown tag: ignored */
	assert_int_equal(gmem_write(&f->gm, PFN_BUF, buf, 30), 0);
	fr_desc(&f->r[2], 0, PFN_BUF, 30, 0, 0);
	fr_post(&f->r[2], 0);
	ft_notify(f->vd, 2);
	assert_false(fr_get_used(&f->r[2], &id, &len)); /* kept until we ask */
	i = info(f);
	assert_int_equal(i.stats_updates, 1);
	assert_int_equal(i.stats[VIRTIO_BALLOON_S_MEMFREE], 1000);
	assert_int_equal(i.stats[VIRTIO_BALLOON_S_MEMTOT], 2000);
	assert_int_equal(i.stats_valid, (1u << VIRTIO_BALLOON_S_MEMFREE) |
					(1u << VIRTIO_BALLOON_S_MEMTOT));
	virtio_balloon_request_stats(f->b);
	assert_true(fr_get_used(&f->r[2], &id, &len));
	assert_int_equal(id, 0);
	assert_int_equal(f->t.queue_irqs[2], 1);
	virtio_balloon_request_stats(f->b); /* nothing held: no-op */
	assert_false(fr_get_used(&f->r[2], &id, &len));
	/* A lying, malformed buffer (11 bytes; MEMFREE above RAM): counted,
	 * shown as the guest's, acted on never. */
	put_stat(buf, VIRTIO_BALLOON_S_MEMFREE, ~0ULL);
	assert_int_equal(gmem_write(&f->gm, PFN_BUF, buf, 11), 0);
	fr_desc(&f->r[2], 1, PFN_BUF, 11, 0, 0);
	fr_post(&f->r[2], 1);
	ft_notify(f->vd, 2);
	i = info(f);
	assert_int_equal(i.refused_stats, 1);
	assert_int_equal(i.stats[VIRTIO_BALLOON_S_MEMFREE], ~0ULL);
	assert_int_equal(i.held_pages, 0);
	/* Another buffer while one is held: the older one goes back. */
	fr_desc(&f->r[2], 2, PFN_BUF, 10, 0, 0);
	fr_post(&f->r[2], 2);
	ft_notify(f->vd, 2);
	assert_true(fr_get_used(&f->r[2], &id, &len));
	assert_int_equal(id, 1);
	fx_free(f);
}

/* RAM above the MMIO hole: pages in the hole refused, above it accepted. */
static void test_hole(void **state)
{
	struct fx *f = fx_new((3ULL << 30) + (16ULL << 20), 0);
	uint32_t pfns[3] = { (uint32_t)(GMEM_MMIO_HOLE_START / 4096),
			     (uint32_t)(GMEM_MMIO_HOLE_END / 4096) - 1,
			     (uint32_t)(GMEM_MMIO_HOLE_END / 4096) };
	uint32_t v = 0x12345678, r;
	struct virtio_balloon_info i;

	(void)state;
	assert_int_equal(ft_start(f->vd, F_ALL, f->r, 4), 0);
	assert_int_equal(gmem_write(&f->gm, GMEM_MMIO_HOLE_END, &v, 4), 0);
	send_pfns(f, 0, 0, pfns, 3);
	i = info(f);
	assert_int_equal(i.refused_outside, 2);
	assert_int_equal(i.inflated_pages, 1);
	assert_int_equal(gmem_read(&f->gm, &r, GMEM_MMIO_HOLE_END, 4), 0);
	assert_int_equal(r, 0);
	fx_free(f);
}

/* A flood: one chain is read up to 4096 PFNs; one notify serves at most
 * VIRTIO_BALLOON_BUDGET_PAGES and leaves the rest. */
static void test_flood(void **state)
{
	struct fx *f = fx_new(RAM, 0);
	uint32_t *pfns = calloc(8192, 4);
	struct virtio_balloon_info i;

	(void)state;
	assert_int_equal(ft_start(f->vd, F_ALL, f->r, 4), 0);
	for (unsigned k = 0; k < 8192; k++)
		pfns[k] = (uint32_t)(PAGES / 4096) + k;
	send_pfns(f, 0, 0, pfns, 8192);
	i = info(f);
	assert_int_equal(i.inflated_pages, 4096);
	assert_int_equal(i.refused_excess, 4096);
	/* 20 chains of 4096 pages each = 81920 > 65536 per notify. */
	assert_int_equal(gmem_write(&f->gm, PFN_BUF, pfns, 4 * 4096), 0);
	for (uint16_t h = 1; h <= 20; h++) {
		fr_desc(&f->r[0], h, PFN_BUF, 4 * 4096, 0, 0);
		fr_post(&f->r[0], h);
	}
	ft_notify(f->vd, 0);
	assert_int_equal(fr_used_idx(&f->r[0]), 1 + VIRTIO_BALLOON_BUDGET_PAGES / 4096);
	ft_notify(f->vd, 0);
	assert_int_equal(fr_used_idx(&f->r[0]), 21);
	assert_int_equal(info(f).held_pages, 4096);
	free(pfns);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inflate_deflate), cmocka_unit_test(test_target_above_ram),
		cmocka_unit_test(test_reporting),       cmocka_unit_test(test_queue_numbering),
		cmocka_unit_test(test_stats),           cmocka_unit_test(test_hole),
		cmocka_unit_test(test_flood),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
