/* test_queue.c — the split virtqueue against hostile drivers
 * (hostile-guests.md cases 5, 6, 8–13 and 11), on a real guest_mem. */
#include <errno.h>
#include <stdlib.h>

#include "vq_fake.h"

#define RAM (64ULL << 20)

struct fx {
	struct guest_mem gm;
	struct fake_ring r;
	struct virtq q;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f || gmem_create(&f->gm, RAM))
		return -1;
	fr_init(&f->r, &f->gm, 16, FQ_DESC, FQ_AVAIL, FQ_USED);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	virtq_reset(&f->q);
	gmem_destroy(&f->gm);
	free(f);
	return 0;
}

/* Pop must fail with err, break the queue, and stay quiet afterwards. */
static void expect_violation(struct fx *f, int err)
{
	struct virtq_chain c;

	assert_int_equal(virtq_pop(&f->q, &c), err);
	assert_true(f->q.broken);
	assert_int_equal(virtq_pop(&f->q, &c), 0);
	assert_int_equal(f->q.violations, 1);
}

static void test_activate_refuses(void **state)
{
	struct fx *f = *state;
	struct virtq *q = &f->q;
	struct guest_mem *gm = &f->gm;

	assert_int_equal(virtq_activate(q, gm, 0, 256, FQ_DESC, FQ_AVAIL, FQ_USED, 0), -EINVAL);
	assert_int_equal(virtq_activate(q, gm, 12, 256, FQ_DESC, FQ_AVAIL, FQ_USED, 0), -EINVAL);
	assert_int_equal(virtq_activate(q, gm, 512, 256, FQ_DESC, FQ_AVAIL, FQ_USED, 0), -EINVAL);
	assert_int_equal(virtq_activate(q, gm, 16, 256, FQ_DESC + 8, FQ_AVAIL, FQ_USED, 0),
			 -EINVAL);
	assert_int_equal(virtq_activate(q, gm, 16, 256, FQ_DESC, FQ_AVAIL + 1, FQ_USED, 0),
			 -EINVAL);
	assert_int_equal(virtq_activate(q, gm, 16, 256, FQ_DESC, FQ_AVAIL, FQ_USED + 2, 0),
			 -EINVAL);
	/* beyond RAM, running off its end, wrapping 2^64 */
	assert_int_equal(virtq_activate(q, gm, 16, 256, RAM, FQ_AVAIL, FQ_USED, 0), -EFAULT);
	assert_int_equal(virtq_activate(q, gm, 16, 256, FQ_DESC, RAM - 16, FQ_USED, 0), -EFAULT);
	assert_int_equal(virtq_activate(q, gm, 16, 256, FQ_DESC, FQ_AVAIL, UINT64_MAX - 63, 0),
			 -EFAULT);
	assert_false(q->active);
	assert_int_equal(virtq_activate(q, gm, 16, 256, FQ_DESC, FQ_AVAIL, FQ_USED, 0), 0);
	assert_true(q->active);
}

static void test_rings_in_hole(void **state)
{
	struct guest_mem gm;
	struct virtq q = { 0 };
	uint64_t hole = GMEM_MMIO_HOLE_START;

	(void)state;
	/* Sparse: only address space is reserved. */
	assert_int_equal(gmem_create(&gm, (3ULL << 30) + (64ULL << 20)), 0);
	assert_int_equal(virtq_activate(&q, &gm, 16, 256, hole, FQ_AVAIL, FQ_USED, 0), -EFAULT);
	assert_int_equal(virtq_activate(&q, &gm, 16, 256, FQ_DESC, hole + 0x1000, FQ_USED, 0),
			 -EFAULT);
	/* A used ring straddling the start of the hole. */
	assert_int_equal(virtq_activate(&q, &gm, 16, 256, FQ_DESC, FQ_AVAIL, hole - 64, 0),
			 -EFAULT);
	/* Above the hole is RAM again. */
	assert_int_equal(virtq_activate(&q, &gm, 16, 256, GMEM_MMIO_HOLE_END, FQ_AVAIL, FQ_USED,
					0), 0);
	virtq_reset(&q);
	gmem_destroy(&gm);
}

static void test_roundtrip(void **state)
{
	struct fx *f = *state;
	struct virtq_chain c;
	uint32_t id, len;
	uint8_t out[8] = "abcdefg", got[8] = { 0 };

	assert_int_equal(gmem_write(&f->gm, FQ_DATA, out, 8), 0);
	fr_desc(&f->r, 3, FQ_DATA, 8, VIRTQ_DESC_F_NEXT, 7);
	fr_desc(&f->r, 7, FQ_DATA + 0x1000, 100, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	fr_desc(&f->r, 1, FQ_DATA + 0x2000, 28, VIRTQ_DESC_F_WRITE, 0);
	assert_int_equal(fr_activate(&f->r, &f->q, 0), 0);
	assert_int_equal(virtq_pop(&f->q, &c), 0); /* nothing offered yet */
	fr_post(&f->r, 3);
	assert_int_equal(virtq_pop(&f->q, &c), 1);
	assert_int_equal(c.head, 3);
	assert_int_equal(c.nout, 1);
	assert_int_equal(c.nin, 2);
	assert_int_equal(c.out_bytes, 8);
	assert_int_equal(c.in_bytes, 128);
	assert_int_equal(f->q.inflight, 1);
	assert_int_equal(virtq_chain_read(&f->q, &c, 0, got, 8), 8);
	assert_memory_equal(got, out, 8);
	assert_int_equal(virtq_chain_read(&f->q, &c, 6, got, 8), 2); /* short */
	/* A write spanning the two writable segments. */
	assert_int_equal(virtq_chain_write(&f->q, &c, 96, "WXYZwxyz", 8), 8);
	assert_int_equal(gmem_read(&f->gm, got, FQ_DATA + 0x1000 + 96, 4), 0);
	assert_memory_equal(got, "WXYZ", 4);
	assert_int_equal(gmem_read(&f->gm, got, FQ_DATA + 0x2000, 4), 0);
	assert_memory_equal(got, "wxyz", 4);
	assert_int_equal(virtq_chain_write(&f->q, &c, 120, "12345678ab", 10), 8);
	assert_int_equal(virtq_pop(&f->q, &c), 0);
	assert_int_equal(virtq_push(&f->q, 3, 104), 0);
	assert_true(fr_get_used(&f->r, &id, &len));
	assert_int_equal(id, 3);
	assert_int_equal(len, 104);
	assert_int_equal(f->q.inflight, 0);
	assert_true(virtq_should_notify(&f->q));
	assert_false(virtq_should_notify(&f->q)); /* nothing new since */
	fr_post(&f->r, 3);
	assert_int_equal(virtq_pop(&f->q, &c), 1);
	assert_int_equal(virtq_push(&f->q, 3, 0), 0);
	fr_set_avail_flags(&f->r, VIRTQ_AVAIL_F_NO_INTERRUPT);
	assert_false(virtq_should_notify(&f->q));
}

static void test_iov(void **state)
{
	struct fx *f = *state;
	struct virtq_chain c;
	struct iovec iov[4];

	fr_desc(&f->r, 0, FQ_DATA, 16, VIRTQ_DESC_F_NEXT, 1);
	fr_desc(&f->r, 1, FQ_DATA + 0x1000, 512, VIRTQ_DESC_F_NEXT, 2);
	fr_desc(&f->r, 2, FQ_DATA + 0x2000, 512, VIRTQ_DESC_F_NEXT, 3);
	fr_desc(&f->r, 3, FQ_DATA + 0x3000, 1, VIRTQ_DESC_F_WRITE, 0);
	assert_int_equal(fr_activate(&f->r, &f->q, 0), 0);
	fr_post(&f->r, 0);
	assert_int_equal(virtq_pop(&f->q, &c), 1);
	assert_int_equal(virtq_chain_iov(&f->q, &c, false, 16, 1024, iov, 4), 2);
	assert_ptr_equal(iov[0].iov_base, gmem_ptr(&f->gm, FQ_DATA + 0x1000, 512));
	assert_int_equal(iov[0].iov_len, 512);
	assert_int_equal(iov[1].iov_len, 512);
	assert_int_equal(virtq_chain_iov(&f->q, &c, false, 8, 16, iov, 4), 2);
	assert_int_equal(iov[0].iov_len, 8);
	assert_int_equal(iov[1].iov_len, 8);
	assert_int_equal(virtq_chain_iov(&f->q, &c, false, 0, 1040, iov, 2), -E2BIG);
	assert_int_equal(virtq_chain_iov(&f->q, &c, false, 16, 1025, iov, 4), -EINVAL);
	assert_int_equal(virtq_chain_iov(&f->q, &c, false, UINT64_MAX, 2, iov, 4), -EINVAL);
	assert_int_equal(virtq_chain_iov(&f->q, &c, true, 0, 1, iov, 4), 1);
	assert_int_equal(virtq_chain_iov(&f->q, &c, true, 0, 0, iov, 4), 0);
}

static void test_loop(void **state)
{
	struct fx *f = *state;

	fr_desc(&f->r, 0, FQ_DATA, 8, VIRTQ_DESC_F_NEXT, 1);   /* A */
	fr_desc(&f->r, 1, FQ_DATA, 8, VIRTQ_DESC_F_NEXT, 0);   /* B -> A */
	assert_int_equal(fr_activate(&f->r, &f->q, 0), 0);
	fr_post(&f->r, 0);
	expect_violation(f, -ELOOP);
	/* Reset + reactivate recovers. */
	virtq_reset(&f->q);
	fr_init(&f->r, &f->gm, 16, FQ_DESC, FQ_AVAIL, FQ_USED);
	fr_desc(&f->r, 0, FQ_DATA, 8, 0, 0);
	assert_int_equal(fr_activate(&f->r, &f->q, 0), 0);
	fr_post(&f->r, 0);
	struct virtq_chain c;
	assert_int_equal(virtq_pop(&f->q, &c), 1);
}

static void test_self_loop(void **state)
{
	struct fx *f = *state;

	fr_desc(&f->r, 5, FQ_DATA, 8, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 5);
	assert_int_equal(fr_activate(&f->r, &f->q, 0), 0);
	fr_post(&f->r, 5);
	expect_violation(f, -ELOOP);
}

static void test_next_out_of_range(void **state)
{
	struct fx *f = *state;

	fr_desc(&f->r, 0, FQ_DATA, 8, VIRTQ_DESC_F_NEXT, 16);
	assert_int_equal(fr_activate(&f->r, &f->q, 0), 0);
	fr_post(&f->r, 0);
	expect_violation(f, -EINVAL);
}

static void test_head_out_of_range(void **state)
{
	struct fx *f = *state;

	assert_int_equal(fr_activate(&f->r, &f->q, 0), 0);
	fr_post(&f->r, 16);
	expect_violation(f, -EINVAL);
}

static void test_zero_length(void **state)
{
	struct fx *f = *state;

	/* A zero-length descriptor in the middle, and a zero-length chain. */
	fr_desc(&f->r, 0, FQ_DATA, 8, VIRTQ_DESC_F_NEXT, 1);
	fr_desc(&f->r, 1, FQ_DATA, 0, VIRTQ_DESC_F_WRITE, 0);
	assert_int_equal(fr_activate(&f->r, &f->q, 0), 0);
	fr_post(&f->r, 0);
	expect_violation(f, -EINVAL);
	virtq_reset(&f->q);
	fr_init(&f->r, &f->gm, 16, FQ_DESC, FQ_AVAIL, FQ_USED);
	fr_desc(&f->r, 2, FQ_DATA, 0, 0, 0);
	assert_int_equal(fr_activate(&f->r, &f->q, 0), 0);
	fr_post(&f->r, 2);
	expect_violation(f, -EINVAL);
}

static void test_length_overflow(void **state)
{
	struct fx *f = *state;
	uint32_t seg = 48u << 20; /* 90 × 48 MiB > 2^32 */

	fr_init(&f->r, &f->gm, 128, FQ_DESC, FQ_AVAIL, FQ_USED);
	for (unsigned i = 0; i < 90; i++)
		fr_desc(&f->r, i, 0, seg, i < 89 ? VIRTQ_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	assert_int_equal(fr_activate(&f->r, &f->q, 0), 0);
	fr_post(&f->r, 0);
	expect_violation(f, -EOVERFLOW);
}

static void test_readable_after_writable(void **state)
{
	struct fx *f = *state;

	fr_desc(&f->r, 0, FQ_DATA, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	fr_desc(&f->r, 1, FQ_DATA, 8, 0, 0);
	assert_int_equal(fr_activate(&f->r, &f->q, 0), 0);
	fr_post(&f->r, 0);
	expect_violation(f, -EINVAL);
}

static void test_too_many_segments(void **state)
{
	struct fx *f = *state;
	struct virtq_chain c;

	fr_init(&f->r, &f->gm, 256, FQ_DESC, FQ_AVAIL, FQ_USED);
	/* Exactly VIRTQ_MAX_SEGS is fine... */
	for (unsigned i = 0; i < VIRTQ_MAX_SEGS; i++)
		fr_desc(&f->r, i, FQ_DATA + i, 1, i + 1 < VIRTQ_MAX_SEGS ? VIRTQ_DESC_F_NEXT : 0,
			(uint16_t)(i + 1));
	assert_int_equal(fr_activate(&f->r, &f->q, 0), 0);
	fr_post(&f->r, 0);
	assert_int_equal(virtq_pop(&f->q, &c), 1);
	assert_int_equal(c.nout, VIRTQ_MAX_SEGS);
	assert_int_equal(virtq_push(&f->q, 0, 0), 0);
	/* ...one more is not. */
	for (unsigned i = 0; i <= VIRTQ_MAX_SEGS; i++)
		fr_desc(&f->r, i, FQ_DATA + i, 1, i < VIRTQ_MAX_SEGS ? VIRTQ_DESC_F_NEXT : 0,
			(uint16_t)(i + 1));
	fr_post(&f->r, 0);
	assert_int_equal(virtq_pop(&f->q, &c), -E2BIG);
	assert_true(f->q.broken);
}

static void test_bad_addresses(void **state)
{
	struct fx *f = *state;
	struct guest_mem big;
	struct fake_ring r;
	struct virtq q = { 0 };
	struct virtq_chain c;

	fr_desc(&f->r, 0, RAM - 4, 8, 0, 0); /* runs off the end of RAM */
	assert_int_equal(fr_activate(&f->r, &f->q, 0), 0);
	fr_post(&f->r, 0);
	expect_violation(f, -EFAULT);

	virtq_reset(&f->q);
	fr_init(&f->r, &f->gm, 16, FQ_DESC, FQ_AVAIL, FQ_USED);
	fr_desc(&f->r, 0, UINT64_MAX - 7, 16, 0, 0); /* wraps 2^64 */
	assert_int_equal(fr_activate(&f->r, &f->q, 0), 0);
	fr_post(&f->r, 0);
	expect_violation(f, -EFAULT);

	/* A segment spanning the 3–4 GiB hole on a >3 GiB (sparse) RAM. */
	assert_int_equal(gmem_create(&big, (3ULL << 30) + (64ULL << 20)), 0);
	fr_init(&r, &big, 16, FQ_DESC, FQ_AVAIL, FQ_USED);
	fr_desc(&r, 0, GMEM_MMIO_HOLE_START - 8, 16, 0, 0);
	fr_desc(&r, 1, GMEM_MMIO_HOLE_END - 8, 16, 0, 0);
	fr_desc(&r, 2, GMEM_MMIO_HOLE_START - 16, 16, VIRTQ_DESC_F_NEXT, 3);
	fr_desc(&r, 3, GMEM_MMIO_HOLE_END, 16, 0, 0); /* two segments around it: fine */
	assert_int_equal(fr_activate(&r, &q, 0), 0);
	fr_post(&r, 2);
	assert_int_equal(virtq_pop(&q, &c), 1);
	assert_int_equal(c.nout, 2);
	fr_post(&r, 0);
	assert_int_equal(virtq_pop(&q, &c), -EFAULT);
	virtq_reset(&q);
	fr_init(&r, &big, 16, FQ_DESC, FQ_AVAIL, FQ_USED);
	fr_desc(&r, 1, GMEM_MMIO_HOLE_END - 8, 16, 0, 0);
	assert_int_equal(fr_activate(&r, &q, 0), 0);
	fr_post(&r, 1);
	assert_int_equal(virtq_pop(&q, &c), -EFAULT);
	virtq_reset(&q);
	gmem_destroy(&big);
}

static void test_avail_runs_ahead(void **state)
{
	struct fx *f = *state;

	fr_desc(&f->r, 0, FQ_DATA, 8, 0, 0);
	assert_int_equal(fr_activate(&f->r, &f->q, 0), 0);
	fr_set_avail_idx(&f->r, 17); /* size 16 */
	expect_violation(f, -EINVAL);
}

static void test_duplicate_inflight_head(void **state)
{
	struct fx *f = *state;
	struct virtq_chain c;

	fr_desc(&f->r, 4, FQ_DATA, 8, 0, 0);
	assert_int_equal(fr_activate(&f->r, &f->q, 0), 0);
	fr_post(&f->r, 4);
	fr_post(&f->r, 4);
	assert_int_equal(virtq_pop(&f->q, &c), 1);
	expect_violation(f, -EBUSY);
}

static void test_push_checks(void **state)
{
	struct fx *f = *state;
	struct virtq_chain c;

	assert_int_equal(virtq_push(&f->q, 0, 0), -EINVAL); /* inactive */
	fr_desc(&f->r, 2, FQ_DATA, 8, 0, 0);
	assert_int_equal(fr_activate(&f->r, &f->q, 0), 0);
	assert_int_equal(virtq_push(&f->q, 2, 0), -EINVAL); /* never popped */
	assert_int_equal(virtq_push(&f->q, 999, 0), -EINVAL);
	fr_post(&f->r, 2);
	assert_int_equal(virtq_pop(&f->q, &c), 1);
	assert_int_equal(virtq_push(&f->q, 2, 8), 0);
	assert_int_equal(virtq_push(&f->q, 2, 8), -EINVAL); /* twice */
	assert_int_equal(fr_used_idx(&f->r), 1);
}

/* A driver that never consumes used entries and keeps re-offering: the device
 * holds at most `size` chains, the used ring just wraps. */
static void test_bounded_inflight(void **state)
{
	struct fx *f = *state;
	struct virtq_chain c;
	unsigned popped = 0;

	for (unsigned i = 0; i < 16; i++)
		fr_desc(&f->r, i, FQ_DATA, 8, 0, 0);
	assert_int_equal(fr_activate(&f->r, &f->q, 0), 0);
	for (unsigned i = 0; i < 16; i++)
		fr_post(&f->r, (uint16_t)i);
	while (virtq_pop(&f->q, &c) == 1)
		popped++;
	assert_int_equal(popped, 16);
	assert_int_equal(f->q.inflight, 16);
	/* Every head is in flight: anything further offered is a duplicate. */
	fr_post(&f->r, 0);
	expect_violation(f, -EBUSY);
	assert_int_equal(f->q.inflight, 16);

	/* Completing and re-offering forever wraps the 16-bit indices. */
	virtq_reset(&f->q);
	fr_init(&f->r, &f->gm, 4, FQ_DESC, FQ_AVAIL, FQ_USED);
	for (unsigned i = 0; i < 4; i++)
		fr_desc(&f->r, i, FQ_DATA, 8, 0, 0);
	assert_int_equal(fr_activate(&f->r, &f->q, 0), 0);
	for (unsigned n = 0; n < 70000; n++) {
		fr_post(&f->r, (uint16_t)(n % 4));
		assert_int_equal(virtq_pop(&f->q, &c), 1);
		assert_int_equal(c.head, n % 4);
		assert_int_equal(virtq_push(&f->q, c.head, 1), 0);
		assert_true(f->q.inflight <= 4);
	}
	assert_int_equal(fr_used_idx(&f->r), (uint16_t)70000);
}

static void test_event_idx(void **state)
{
	struct fx *f = *state;
	struct virtq_chain c;
	uint64_t feat = 1ULL << VIRTIO_RING_F_EVENT_IDX;

	for (unsigned i = 0; i < 16; i++)
		fr_desc(&f->r, i, FQ_DATA, 8, 0, 0);
	assert_int_equal(fr_activate(&f->r, &f->q, feat), 0);
	assert_true(f->q.event_idx);
	fr_post(&f->r, 0);
	fr_post(&f->r, 1);
	assert_int_equal(virtq_pop(&f->q, &c), 1);
	assert_int_equal(virtq_pop(&f->q, &c), 1);
	assert_int_equal(virtq_pop(&f->q, &c), 0);
	assert_int_equal(fr_avail_event(&f->r), 2); /* kick me at the next one */
	/* Driver wants an interrupt only once used idx passes 1. */
	fr_set_used_event(&f->r, 1);
	assert_int_equal(virtq_push(&f->q, 0, 0), 0);
	assert_true(virtq_should_notify(&f->q));   /* first one always */
	assert_int_equal(virtq_push(&f->q, 1, 0), 0);
	assert_true(virtq_should_notify(&f->q));   /* 1 -> 2 crosses used_event 1 */
	fr_post(&f->r, 2);
	assert_int_equal(virtq_pop(&f->q, &c), 1);
	assert_int_equal(virtq_push(&f->q, 2, 0), 0);
	assert_false(virtq_should_notify(&f->q));  /* used_event still 1 */
	fr_set_used_event(&f->r, 3);
	fr_post(&f->r, 3);
	assert_int_equal(virtq_pop(&f->q, &c), 1);
	assert_int_equal(virtq_push(&f->q, 3, 0), 0);
	assert_true(virtq_should_notify(&f->q));
	/* NO_INTERRUPT is ignored with EVENT_IDX. */
	fr_set_avail_flags(&f->r, VIRTQ_AVAIL_F_NO_INTERRUPT);
	fr_set_used_event(&f->r, 4);
	fr_post(&f->r, 4);
	assert_int_equal(virtq_pop(&f->q, &c), 1);
	assert_int_equal(virtq_push(&f->q, 4, 0), 0);
	assert_true(virtq_should_notify(&f->q));
}

/* Indirect tables live at FQ_DATA + 0x10000. */
#define IND (FQ_DATA + 0x10000)

static void test_indirect_ok(void **state)
{
	struct fx *f = *state;
	struct virtq_chain c;

	fr_desc_at(&f->gm, IND, 0, FQ_DATA, 16, VIRTQ_DESC_F_NEXT, 2);
	fr_desc_at(&f->gm, IND, 2, FQ_DATA + 0x1000, 4096, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT,
		   1);
	fr_desc_at(&f->gm, IND, 1, FQ_DATA + 0x3000, 1, VIRTQ_DESC_F_WRITE, 0);
	fr_desc(&f->r, 6, IND, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	assert_int_equal(fr_activate(&f->r, &f->q, 1ULL << VIRTIO_RING_F_INDIRECT_DESC), 0);
	fr_post(&f->r, 6);
	assert_int_equal(virtq_pop(&f->q, &c), 1);
	assert_int_equal(c.head, 6);
	assert_int_equal(c.nout, 1);
	assert_int_equal(c.nin, 2);
	assert_int_equal(c.in_bytes, 4097);
	assert_int_equal(virtq_push(&f->q, 6, 4097), 0);
}

static void indirect_case(struct fx *f, uint64_t feat, uint64_t addr, uint32_t len,
			  uint16_t flags, int err)
{
	virtq_reset(&f->q);
	fr_init(&f->r, &f->gm, 16, FQ_DESC, FQ_AVAIL, FQ_USED);
	fr_desc(&f->r, 0, addr, len, flags, 1);
	fr_desc(&f->r, 1, FQ_DATA, 8, 0, 0);
	assert_int_equal(fr_activate(&f->r, &f->q, feat), 0);
	fr_post(&f->r, 0);
	expect_violation(f, err);
}

static void test_indirect_hostile(void **state)
{
	struct fx *f = *state;
	uint64_t feat = 1ULL << VIRTIO_RING_F_INDIRECT_DESC;
	uint16_t ind = VIRTQ_DESC_F_INDIRECT;

	fr_desc_at(&f->gm, IND, 0, FQ_DATA, 16, 0, 0);
	indirect_case(f, 0, IND, 16, ind, -EINVAL);               /* not negotiated */
	indirect_case(f, feat, IND, 0, ind, -EINVAL);             /* zero length */
	indirect_case(f, feat, IND, 24, ind, -EINVAL);            /* not a multiple of 16 */
	indirect_case(f, feat, IND, 17 * 16, ind, -EINVAL);       /* more entries than size */
	indirect_case(f, feat, RAM - 16, 32, ind, -EFAULT);       /* unmapped */
	indirect_case(f, feat, UINT64_MAX - 15, 32, ind, -EFAULT); /* wraps */
	indirect_case(f, feat, IND, 16, ind | VIRTQ_DESC_F_NEXT, -EINVAL); /* with NEXT */
	/* nested */
	fr_desc_at(&f->gm, IND, 0, IND + 0x100, 16, ind, 0);
	indirect_case(f, feat, IND, 16, ind, -EINVAL);
	/* loop inside the table */
	fr_desc_at(&f->gm, IND, 0, FQ_DATA, 16, VIRTQ_DESC_F_NEXT, 1);
	fr_desc_at(&f->gm, IND, 1, FQ_DATA, 16, VIRTQ_DESC_F_NEXT, 0);
	indirect_case(f, feat, IND, 32, ind, -ELOOP);
	/* next beyond the table */
	fr_desc_at(&f->gm, IND, 1, FQ_DATA, 16, VIRTQ_DESC_F_NEXT, 2);
	indirect_case(f, feat, IND, 32, ind, -EINVAL);
	/* an indirect descriptor after a direct one */
	virtq_reset(&f->q);
	fr_init(&f->r, &f->gm, 16, FQ_DESC, FQ_AVAIL, FQ_USED);
	fr_desc_at(&f->gm, IND, 0, FQ_DATA, 16, 0, 0);
	fr_desc(&f->r, 0, FQ_DATA, 8, VIRTQ_DESC_F_NEXT, 1);
	fr_desc(&f->r, 1, IND, 16, ind, 0);
	assert_int_equal(fr_activate(&f->r, &f->q, feat), 0);
	fr_post(&f->r, 0);
	expect_violation(f, -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_activate_refuses, setup, teardown),
		cmocka_unit_test(test_rings_in_hole),
		cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iov, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_self_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_next_out_of_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_head_out_of_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zero_length, setup, teardown),
		cmocka_unit_test_setup_teardown(test_length_overflow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readable_after_writable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_many_segments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_addresses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_avail_runs_ahead, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_inflight_head, setup, teardown),
		cmocka_unit_test_setup_teardown(test_push_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bounded_inflight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_idx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indirect_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indirect_hostile, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
