/* test_virtio_dev.c — the device base: parameter checks, fail() (once,
 * NEEDS_RESET + config interrupt, inert), queue_done(), reset(), deferred
 * work gated on a live device. A minimal device records its ops calls. */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>

#include "vq_fake.h"
#include "../test_wait.h"

#define RAM (16ULL << 20)

struct mini {
	struct virtio_dev vd;
	unsigned notifies, resets, activates;
	bool push_on_notify;
};

static void m_notify(struct virtio_dev *vd, unsigned q)
{
	struct mini *m = bh_container_of(vd, struct mini, vd);
	struct virtq_chain c;

	m->notifies++;
	if (m->push_on_notify && virtq_pop(&vd->vq[q], &c) == 1 &&
	    virtq_push(&vd->vq[q], c.head, 0) == 0)
		virtio_dev_queue_done(vd, q);
}

static int m_activate(struct virtio_dev *vd)
{
	bh_container_of(vd, struct mini, vd)->activates++;
	return 0;
}

static void m_reset(struct virtio_dev *vd)
{
	bh_container_of(vd, struct mini, vd)->resets++;
}

static const struct virtio_dev_ops m_ops = { .notify = m_notify, .activate = m_activate,
					     .reset = m_reset };

static void test_init_checks(void **state)
{
	struct guest_mem gm;
	struct mini m;

	(void)state;
	assert_int_equal(gmem_create(&gm, RAM), 0);
	assert_int_equal(virtio_dev_init(&m.vd, &m_ops, "m", 99, 0, 16, 0, &gm), -EINVAL);
	assert_int_equal(virtio_dev_init(&m.vd, &m_ops, "m", 99, VIRTIO_DEV_MAX_QUEUES + 1, 16, 0,
					 &gm), -EINVAL);
	assert_int_equal(virtio_dev_init(&m.vd, &m_ops, "m", 99, 1, 24, 0, &gm), -EINVAL);
	assert_int_equal(virtio_dev_init(&m.vd, &m_ops, "m", 99, 1, 0, 0, &gm), -EINVAL);
	assert_int_equal(virtio_dev_init(&m.vd, NULL, "m", 99, 1, 16, 0, &gm), -EINVAL);
	assert_int_equal(virtio_dev_init(&m.vd, &m_ops, "m", 99, 1, 16, 0, NULL), -EINVAL);
	assert_int_equal(virtio_dev_init(&m.vd, &m_ops, "m", 99, 2, 16, 4, &gm), 0);
	assert_int_equal(m.vd.defer_fd, -1);
	virtio_dev_defer(&m.vd, 0); /* no event loop: a no-op */
	assert_int_equal(m.vd.defer_mask, 0);
	virtio_dev_deinit(&m.vd);
	gmem_destroy(&gm);
}

static void test_fail_and_reset(void **state)
{
	struct guest_mem gm;
	struct fake_ring r;
	struct fake_transport t;
	struct mini m = { 0 };

	(void)state;
	assert_int_equal(gmem_create(&gm, RAM), 0);
	assert_int_equal(virtio_dev_init(&m.vd, &m_ops, "mini", 99, 1, 16, 0, &gm), 0);
	ft_attach(&t, &m.vd);
	fr_init(&r, &gm, 16, FQ_DESC, FQ_AVAIL, FQ_USED);
	fr_desc(&r, 0, FQ_DATA, 8, 0, 0);
	assert_int_equal(ft_start(&m.vd, 0, &r, 1), 0);
	assert_int_equal(m.activates, 1);
	m.push_on_notify = true;
	fr_post(&r, 0);
	ft_notify(&m.vd, 0);
	assert_int_equal(t.queue_irqs[0], 1);
	ft_notify(&m.vd, 0); /* nothing pushed: no interrupt */
	assert_int_equal(t.queue_irqs[0], 1);

	pthread_mutex_lock(&m.vd.lock);
	virtio_dev_fail(&m.vd, "test");
	virtio_dev_fail(&m.vd, "again"); /* once */
	pthread_mutex_unlock(&m.vd.lock);
	assert_true(m.vd.failed);
	assert_true(m.vd.status & VIRTIO_STATUS_NEEDS_RESET);
	assert_true(m.vd.status & VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(t.config_irqs, 1);
	/* queue_done raises nothing while failed */
	pthread_mutex_lock(&m.vd.lock);
	virtio_dev_queue_done(&m.vd, 0);
	virtio_dev_queue_done(&m.vd, 5); /* out of range: ignored */
	pthread_mutex_unlock(&m.vd.lock);
	assert_int_equal(t.queue_irqs[0], 1);

	ft_reset(&m.vd);
	assert_int_equal(m.resets, 1);
	assert_false(m.vd.failed);
	assert_int_equal(m.vd.status, 0);
	assert_int_equal(m.vd.features, 0);
	assert_false(m.vd.vq[0].active);
	assert_null(m.vd.vq[0].inflight_map);
	virtio_dev_deinit(&m.vd);
	gmem_destroy(&gm);
}

/* Deferred work runs notify() on the event thread, but not for a queue that
 * was reset in between. */
static void test_defer(void **state)
{
	struct guest_mem gm;
	struct fake_ring r;
	struct fake_transport t;
	struct mini m = { 0 };
	struct floop l;

	(void)state;
	assert_int_equal(gmem_create(&gm, RAM), 0);
	floop_init(&l);
	assert_int_equal(virtio_dev_init(&m.vd, &m_ops, "mini", 99, 1, 16, 0, &gm), 0);
	assert_int_equal(virtio_dev_defer_init(&m.vd, &l.el), 0);
	assert_int_equal(virtio_dev_defer_init(&m.vd, &l.el), -EINVAL); /* once */
	ft_attach(&t, &m.vd);
	fr_init(&r, &gm, 16, FQ_DESC, FQ_AVAIL, FQ_USED);
	assert_int_equal(ft_start(&m.vd, 0, &r, 1), 0);
	/* scheduled, then reset before the loop runs: dropped */
	pthread_mutex_lock(&m.vd.lock);
	virtio_dev_defer(&m.vd, 0);
	virtio_dev_defer(&m.vd, 0);
	virtio_dev_reset(&m.vd);
	pthread_mutex_unlock(&m.vd.lock);
	assert_int_equal(ft_start(&m.vd, 0, &r, 1), 0);
	floop_start(&l);
	/* scheduled on a live device: runs on the event thread */
	pthread_mutex_lock(&m.vd.lock);
	virtio_dev_defer(&m.vd, 0);
	pthread_mutex_unlock(&m.vd.lock);
	{
		unsigned n = 0;

		TEST_WAIT_UNTIL((pthread_mutex_lock(&m.vd.lock), n = m.notifies,
				 pthread_mutex_unlock(&m.vd.lock), n != 0),
				"the deferred work to run on the event thread");
	}
	floop_stop(&l);
	assert_int_equal(m.notifies, 1);
	virtio_dev_deinit(&m.vd);
	floop_destroy(&l);
	gmem_destroy(&gm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_checks),
		cmocka_unit_test(test_fail_and_reset),
		cmocka_unit_test(test_defer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
