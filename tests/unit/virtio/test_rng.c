/* test_rng.c — virtio-rng: requests filled with entropy, capped at 64 KiB
 * each (hostile-guests.md case 7), a bounded amount per notify with the rest
 * deferred to the event thread, hostile rings. */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>

#include "vq_fake.h"
#include "virtio/rng.h"
#include "../test_wait.h"

#define RAM (64ULL << 20)

struct fx {
	struct guest_mem gm;
	struct fake_ring r;
	struct fake_transport t;
	struct virtio_rng *rng;
	struct virtio_dev *vd;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f || gmem_create(&f->gm, RAM))
		return -1;
	if (virtio_rng_create(&f->rng, &f->gm, NULL))
		return -1;
	f->vd = virtio_rng_dev(f->rng);
	ft_attach(&f->t, f->vd);
	fr_init(&f->r, &f->gm, 64, FQ_DESC, FQ_AVAIL, FQ_USED);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	f->vd->ops->destroy(f->vd);
	gmem_destroy(&f->gm);
	free(f);
	return 0;
}

static void test_fill(void **state)
{
	struct fx *f = *state;
	uint32_t id, len;
	uint8_t buf[64], zero[64] = { 0 };

	assert_int_equal(f->vd->device_id, VIRTIO_ID_RNG);
	assert_int_equal(f->vd->cfg_len, 0);
	assert_int_equal(ft_start(f->vd, 1ULL << VIRTIO_RING_F_EVENT_IDX, &f->r, 1), 0);
	fr_desc(&f->r, 3, FQ_DATA, 64, VIRTQ_DESC_F_WRITE, 0);
	fr_post(&f->r, 3);
	ft_notify(f->vd, 0);
	assert_true(fr_get_used(&f->r, &id, &len));
	assert_int_equal(id, 3);
	assert_int_equal(len, 64);
	assert_int_equal(gmem_read(&f->gm, buf, FQ_DATA, 64), 0);
	assert_memory_not_equal(buf, zero, 64); /* 2^-512 chance of a false failure */
	assert_int_equal(f->t.queue_irqs[0], 1);
	/* A huge request gets 64 KiB, the rest of the buffer is untouched. */
	assert_int_equal(gmem_write(&f->gm, FQ_DATA + VIRTIO_RNG_MAX_REQ, zero, 64), 0);
	fr_desc(&f->r, 4, FQ_DATA, 32u << 20, VIRTQ_DESC_F_WRITE, 0);
	fr_post(&f->r, 4);
	ft_notify(f->vd, 0);
	assert_true(fr_get_used(&f->r, &id, &len));
	assert_int_equal(len, VIRTIO_RNG_MAX_REQ);
	assert_int_equal(gmem_read(&f->gm, buf, FQ_DATA + VIRTIO_RNG_MAX_REQ, 64), 0);
	assert_memory_equal(buf, zero, 64);
	/* Readable-only chain: nothing written. */
	fr_desc(&f->r, 5, FQ_DATA, 64, 0, 0);
	fr_post(&f->r, 5);
	ft_notify(f->vd, 0);
	assert_true(fr_get_used(&f->r, &id, &len));
	assert_int_equal(len, 0);
	assert_int_equal(virtio_rng_bytes(f->rng), 64 + VIRTIO_RNG_MAX_REQ);
}

static void test_hostile(void **state)
{
	struct fx *f = *state;

	assert_int_equal(ft_start(f->vd, 0, &f->r, 1), 0);
	fr_desc(&f->r, 0, RAM - 8, 64, VIRTQ_DESC_F_WRITE, 0); /* beyond RAM */
	fr_post(&f->r, 0);
	ft_notify(f->vd, 0);
	assert_true(f->vd->failed);
	assert_int_equal(f->t.config_irqs, 1);
	assert_int_equal(virtio_rng_bytes(f->rng), 0);
}

static void test_budget_deferred(void **state)
{
	struct fx *f = *state;
	struct floop l;
	struct virtio_rng *rng;
	struct virtio_dev *vd;
	const unsigned n = 40; /* 40 × 64 KiB = 2.5 MiB > the 1 MiB budget */

	floop_init(&l);
	assert_int_equal(virtio_rng_create(&rng, &f->gm, &l.el), 0);
	vd = virtio_rng_dev(rng);
	ft_attach(&f->t, vd);
	assert_int_equal(ft_start(vd, 0, &f->r, 1), 0);
	for (uint16_t i = 0; i < n; i++) {
		fr_desc(&f->r, i, FQ_DATA + 0x10000ULL * i, 0x10000, VIRTQ_DESC_F_WRITE, 0);
		fr_post(&f->r, i);
	}
	ft_notify(vd, 0);
	assert_int_equal(virtio_rng_bytes(rng), VIRTIO_RNG_BUDGET_BYTES);
	floop_start(&l);
	TEST_WAIT_UNTIL(virtio_rng_bytes(rng) >= 0x10000ULL * n,
			"the event thread to fill every posted buffer");
	floop_stop(&l);
	assert_int_equal(fr_used_idx(&f->r), n);
	vd->ops->destroy(vd);
	floop_destroy(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fill, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_budget_deferred, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
