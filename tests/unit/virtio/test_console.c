/* test_console.c — virtio-console: output to the sink (bounded per chain and
 * per notify, the rest deferred to the event thread), input into posted
 * buffers with the rx-room signal, hostile rings. */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>

#include "vq_fake.h"
#include "virtio/console.h"
#include "../test_wait.h"

#define RAM (64ULL << 20)
#define RXD FQ_DESC
#define RXA FQ_AVAIL
#define RXU FQ_USED
#define TXD 0x40000ULL
#define TXA 0x50000ULL
#define TXU 0x60000ULL

struct fx {
	struct guest_mem gm;
	struct fake_ring r[2];
	struct fake_transport t;
	struct fsink out;
	struct char_sink sink;
	struct virtio_console *vc;
	struct virtio_dev *vd;
	unsigned rooms;
};

static void on_room(void *opaque)
{
	((struct fx *)opaque)->rooms++;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f || gmem_create(&f->gm, RAM))
		return -1;
	f->sink = (struct char_sink){ fsink_write, &f->out };
	if (virtio_console_create(&f->vc, &f->gm, &f->sink, NULL))
		return -1;
	f->vd = virtio_console_dev(f->vc);
	virtio_console_set_rx_notify(f->vc, on_room, f);
	ft_attach(&f->t, f->vd);
	fr_init(&f->r[0], &f->gm, 16, RXD, RXA, RXU);
	fr_init(&f->r[1], &f->gm, 128, TXD, TXA, TXU);
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

static void tx(struct fx *f, uint16_t d, const char *s)
{
	size_t n = strlen(s);

	assert_int_equal(gmem_write(&f->gm, FQ_DATA + 0x100ULL * d, s, n), 0);
	fr_desc(&f->r[1], d, FQ_DATA + 0x100ULL * d, (uint32_t)n, 0, 0);
	fr_post(&f->r[1], d);
}

static void test_config(void **state)
{
	struct fx *f = *state;
	uint8_t cfg[8];

	assert_int_equal(f->vd->device_id, VIRTIO_ID_CONSOLE);
	assert_int_equal(f->vd->nqueues, 2);
	assert_int_equal(f->vd->cfg_len, 8);
	f->vd->ops->cfg_read(f->vd, 0, cfg, 8);
	assert_memory_equal(cfg, ((uint8_t[8]){ 0, 0, 0, 0, 1, 0, 0, 0 }), 8);
	f->vd->ops->cfg_write(f->vd, 4, &(uint32_t){ 9 }, 4);
	f->vd->ops->cfg_read(f->vd, 4, cfg, 4);
	assert_int_equal(cfg[0], 1);
	assert_false(f->vd->ops->features(f->vd) & (1ULL << 1)); /* no MULTIPORT */
}

static void test_output(void **state)
{
	struct fx *f = *state;
	uint32_t id, len;

	/* Posted before DRIVER_OK: sent when the driver is ready. */
	tx(f, 0, "hello ");
	assert_int_equal(ft_start(f->vd, 0, f->r, 2), 0);
	assert_int_equal(f->out.total, 6);
	tx(f, 1, "world");
	ft_notify(f->vd, 1);
	assert_int_equal(f->out.total, 11);
	assert_memory_equal(f->out.buf, "hello world", 11);
	assert_true(fr_get_used(&f->r[1], &id, &len));
	assert_int_equal(id, 0);
	assert_int_equal(len, 0);
	assert_true(f->t.queue_irqs[1] >= 1);
	/* A huge chain: only the first 64 KiB reach the sink. */
	fr_desc(&f->r[1], 2, FQ_DATA, 1u << 20, 0, 0);
	fr_post(&f->r[1], 2);
	ft_notify(f->vd, 1);
	assert_int_equal(f->out.total, 11 + VIRTIO_CONSOLE_TX_CHAIN_MAX);
	struct virtio_console_stats st;
	virtio_console_get_stats(f->vc, &st);
	assert_int_equal(st.tx_dropped, (1u << 20) - VIRTIO_CONSOLE_TX_CHAIN_MAX);
}

static void test_input(void **state)
{
	struct fx *f = *state;
	uint32_t id, len;
	uint8_t got[8];

	/* Not ready yet: nothing taken; readiness signals room. */
	assert_int_equal(virtio_console_input(f->vc, (const uint8_t *)"abc", 3), 0);
	assert_int_equal(f->rooms, 0);
	assert_int_equal(ft_start(f->vd, 0, f->r, 2), 0);
	assert_int_equal(f->rooms, 1);
	assert_false(virtio_console_rx_has_room(f->vc));
	assert_int_equal(virtio_console_input(f->vc, (const uint8_t *)"abc", 3), 0);
	/* The guest posts a 2-byte and an 8-byte buffer and kicks. */
	fr_desc(&f->r[0], 0, FQ_DATA, 2, VIRTQ_DESC_F_WRITE, 0);
	fr_desc(&f->r[0], 1, FQ_DATA + 0x10, 8, VIRTQ_DESC_F_WRITE, 0);
	fr_post(&f->r[0], 0);
	fr_post(&f->r[0], 1);
	ft_notify(f->vd, 0);
	assert_int_equal(f->rooms, 2);
	ft_notify(f->vd, 0);
	assert_int_equal(f->rooms, 2); /* once per starvation */
	assert_true(virtio_console_rx_has_room(f->vc));
	assert_int_equal(virtio_console_input(f->vc, (const uint8_t *)"abc", 3), 3);
	assert_true(fr_get_used(&f->r[0], &id, &len));
	assert_int_equal(id, 0);
	assert_int_equal(len, 2);
	assert_true(fr_get_used(&f->r[0], &id, &len));
	assert_int_equal(id, 1);
	assert_int_equal(len, 1);
	assert_int_equal(gmem_read(&f->gm, got, FQ_DATA, 2), 0);
	assert_memory_equal(got, "ab", 2);
	assert_int_equal(gmem_read(&f->gm, got, FQ_DATA + 0x10, 1), 0);
	assert_int_equal(got[0], 'c');
	assert_true(f->t.queue_irqs[0] >= 1);
	/* A short buffer takes what fits; the caller keeps the rest. */
	fr_post(&f->r[0], 0);
	assert_int_equal(virtio_console_input(f->vc, (const uint8_t *)"xyz", 3), 2);
	/* Readable-only "receive buffers" take nothing and cannot loop. */
	fr_desc(&f->r[0], 2, FQ_DATA, 8, 0, 0);
	fr_post(&f->r[0], 2);
	assert_int_equal(virtio_console_input(f->vc, (const uint8_t *)"z", 1), 0);
	assert_true(fr_get_used(&f->r[0], &id, &len));
	assert_true(fr_get_used(&f->r[0], &id, &len));
	assert_int_equal(id, 2);
	assert_int_equal(len, 0);
}

static void test_hostile(void **state)
{
	struct fx *f = *state;

	assert_int_equal(ft_start(f->vd, 0, f->r, 2), 0);
	/* receive queue: a loop found during input fails the device */
	fr_desc(&f->r[0], 0, FQ_DATA, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 0);
	fr_post(&f->r[0], 0);
	assert_int_equal(virtio_console_input(f->vc, (const uint8_t *)"a", 1), 0);
	assert_true(f->vd->failed);
	assert_int_equal(f->t.config_irqs, 1);
	/* inert: transmit ignored until reset */
	tx(f, 0, "zzz");
	ft_notify(f->vd, 1);
	assert_int_equal(f->out.total, 0);
	ft_reset(f->vd);
	fr_init(&f->r[0], &f->gm, 16, RXD, RXA, RXU);
	fr_init(&f->r[1], &f->gm, 128, TXD, TXA, TXU);
	assert_int_equal(ft_start(f->vd, 0, f->r, 2), 0);
	/* transmit queue: avail index far ahead */
	fr_set_avail_idx(&f->r[1], 1000);
	ft_notify(f->vd, 1);
	assert_true(f->vd->failed);
	assert_int_equal(f->t.config_irqs, 2);
}

/* A flood of transmit chains: one notify takes the budget, the event thread
 * finishes the rest (deferred work), the guest kicks only once. */
static void test_tx_budget_deferred(void **state)
{
	struct fx *f = *state;
	struct floop l;
	struct virtio_console *vc;
	struct virtio_dev *vd;
	unsigned n = 100;

	(void)state;
	floop_init(&l);
	assert_int_equal(virtio_console_create(&vc, &f->gm, &f->sink, &l.el), 0);
	vd = virtio_console_dev(vc);
	ft_attach(&f->t, vd);
	assert_int_equal(ft_start(vd, 0, f->r, 2), 0);
	for (uint16_t i = 0; i < n; i++)
		tx(f, i, "0123456789");
	ft_notify(vd, 1);
	assert_int_equal(f->out.total, 10 * VIRTIO_CONSOLE_TX_BUDGET_CHAINS);
	floop_start(&l);
	{
		struct virtio_console_stats st;

		TEST_WAIT_UNTIL((virtio_console_get_stats(vc, &st), st.tx_bytes == 10ULL * n),
				"the event thread to transmit every chain");
	}
	floop_stop(&l);
	assert_int_equal(f->out.total, 10ULL * n);
	assert_int_equal(fr_used_idx(&f->r[1]), n);
	vd->ops->destroy(vd);
	floop_destroy(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_output, setup, teardown),
		cmocka_unit_test_setup_teardown(test_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_budget_deferred, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
