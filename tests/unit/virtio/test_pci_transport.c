/* test_pci_transport.c — the virtio-pci modern transport driven through the
 * real PCI bus and BAR window like a (hostile) driver would, with the real
 * virtio-rng model behind it (hostile-guests.md cases 6, 14, 24, 25 and the
 * driver contract in docs/virtio.md): feature negotiation and FEATURES_OK
 * refusal, queue registers only writable in the right state, invalid queue
 * sizes, selects and vectors, rings in the MMIO hole refused on enable,
 * device-config and capability bounds, the slow-path notify, MSI-X masking
 * with pending bits, INTx through ISR, reset. */
#include <errno.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vq_fake.h"
#include "bus/pci.h"
#include "core/irq_route.h"
#include "virtio/pci_transport.h"
#include "virtio/rng.h"

#define RAM (64ULL << 20)

struct irqrec {
	int level[32];
};

static void irq_set(void *opaque, uint32_t gsi, int level)
{
	((struct irqrec *)opaque)->level[gsi] = level;
}

struct fx {
	struct guest_mem gm;
	struct pci_bus bus;
	struct io_bus pio, mmio;
	struct irq_router router;
	struct irqrec irq;
	struct virtio_rng *rng;
	struct virtio_dev *vd;
	struct virtio_pci vp;
	uint64_t bar;
	struct fake_ring r;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct irq_line line;
	struct vpci_env env;

	if (!f || gmem_create(&f->gm, RAM))
		return -1;
	line = (struct irq_line){ irq_set, &f->irq, 0 };
	if (pci_bus_init(&f->bus, &line) || irq_router_init(&f->router, -1))
		return -1;
	io_bus_init(&f->pio, IO_BUS_PIO);
	io_bus_init(&f->mmio, IO_BUS_MMIO);
	if (pci_bus_register(&f->bus, &f->pio, &f->mmio))
		return -1;
	if (virtio_rng_create(&f->rng, &f->gm, NULL))
		return -1;
	f->vd = virtio_rng_dev(f->rng);
	env = (struct vpci_env){ -1, &f->bus, &f->router, NULL };
	if (virtio_pci_create(&f->vp, f->vd, &env))
		return -1;
	io_bus_seal(&f->pio);
	io_bus_seal(&f->mmio);
	f->bar = f->vp.pci.bar_decoded[0];
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	irq_router_destroy(&f->router);
	virtio_pci_destroy(&f->vp);
	f->vd->ops->destroy(f->vd);
	pci_bus_destroy(&f->bus);
	gmem_destroy(&f->gm);
	free(f);
	return 0;
}

static uint64_t rd(struct fx *f, uint32_t off, uint32_t len)
{
	uint64_t v = 0;

	io_bus_access(&f->mmio, f->bar + off, &v, len, false);
	return v;
}

static void wr(struct fx *f, uint32_t off, uint64_t v, uint32_t len)
{
	io_bus_access(&f->mmio, f->bar + off, &v, len, true);
}

#define COMMON(o) (VPCI_COMMON_OFF + (o))
#define STATUS COMMON(0x14)

/* Driver init up to FEATURES_OK with VERSION_1 only. */
static void negotiate(struct fx *f)
{
	wr(f, STATUS, 0, 1);
	wr(f, STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER, 1);
	wr(f, COMMON(0x08), 1, 4);
	wr(f, COMMON(0x0c), 1, 4); /* bit 32: VERSION_1 */
	wr(f, COMMON(0x08), 0, 4);
	wr(f, COMMON(0x0c), 0, 4);
	wr(f, STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			      VIRTIO_STATUS_FEATURES_OK, 1);
}

static void set_rings(struct fx *f, uint64_t desc, uint64_t avail, uint64_t used)
{
	wr(f, COMMON(0x20), (uint32_t)desc, 4);
	wr(f, COMMON(0x24), desc >> 32, 4);
	wr(f, COMMON(0x28), avail, 8);
	wr(f, COMMON(0x30), used, 8);
}

static void test_identity_and_caps(void **state)
{
	struct fx *f = *state;
	unsigned devfn = f->vp.pci.slot << 3;
	uint8_t p;
	int seen = 0;

	assert_int_equal(pci_cfg_read(&f->bus, devfn, 0, 4), 0x10441af4);
	assert_int_equal(pci_cfg_read(&f->bus, devfn, PCI_REVISION_ID, 1), 1);
	/* walk the capability list: 4 virtio caps (no DEVICE cap: rng has no
	 * config), PCI_CFG, MSI-X; every pointer stays inside config space */
	p = (uint8_t)pci_cfg_read(&f->bus, devfn, PCI_CAPABILITY_LIST, 1);
	while (p) {
		assert_true(p >= 0x40 && p < 0xfc);
		seen++;
		p = (uint8_t)pci_cfg_read(&f->bus, devfn, p + 1, 1);
		assert_true(seen < 16);
	}
	assert_int_equal(seen, 5);
	/* MSI-X table size = queues + 1 */
	assert_int_equal(pci_cfg_read(&f->bus, devfn, f->vp.msix_cap + 2, 2) & 0x7ff, 1);
	assert_int_equal(rd(f, COMMON(0x12), 2), 1); /* num_queues */
}

static void test_feature_negotiation(void **state)
{
	struct fx *f = *state;

	/* device_feature with select 1 offers VERSION_1; select 7 reads 0 */
	wr(f, COMMON(0x00), 1, 4);
	assert_true(rd(f, COMMON(0x04), 4) & 1);
	wr(f, COMMON(0x00), 7, 4);
	assert_int_equal(rd(f, COMMON(0x04), 4), 0);
	/* without VERSION_1 FEATURES_OK does not stick */
	wr(f, STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER, 1);
	wr(f, STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			      VIRTIO_STATUS_FEATURES_OK, 1);
	assert_int_equal(rd(f, STATUS, 1) & VIRTIO_STATUS_FEATURES_OK, 0);
	/* an unoffered bit also refuses */
	wr(f, COMMON(0x08), 1, 4);
	wr(f, COMMON(0x0c), 1 | (1u << 20), 4);
	wr(f, STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			      VIRTIO_STATUS_FEATURES_OK, 1);
	assert_int_equal(rd(f, STATUS, 1) & VIRTIO_STATUS_FEATURES_OK, 0);
	/* DRIVER_OK without FEATURES_OK does not stick either */
	wr(f, STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DRIVER_OK,
	   1);
	assert_int_equal(rd(f, STATUS, 1) & VIRTIO_STATUS_DRIVER_OK, 0);
	negotiate(f);
	assert_true(rd(f, STATUS, 1) & VIRTIO_STATUS_FEATURES_OK);
	assert_int_equal(f->vd->features, 1ull << VIRTIO_F_VERSION_1);
	/* features are frozen after FEATURES_OK */
	wr(f, COMMON(0x08), 0, 4);
	wr(f, COMMON(0x0c), 0xffffffff, 4);
	assert_int_equal(rd(f, COMMON(0x0c), 4), 0);
	/* the driver cannot set NEEDS_RESET itself */
	wr(f, STATUS, 0xff & ~VIRTIO_STATUS_FAILED, 1);
	assert_int_equal(rd(f, STATUS, 1) & VIRTIO_STATUS_NEEDS_RESET, 0);
}

static void test_queue_registers(void **state)
{
	struct fx *f = *state;

	/* before FEATURES_OK: ignored */
	wr(f, COMMON(0x18), 16, 2);
	assert_int_equal(rd(f, COMMON(0x18), 2), 256);
	negotiate(f);
	/* size: 0, not a power of two, above the maximum: ignored */
	wr(f, COMMON(0x18), 0, 2);
	wr(f, COMMON(0x18), 48, 2);
	wr(f, COMMON(0x18), 512, 2);
	assert_int_equal(rd(f, COMMON(0x18), 2), 256);
	wr(f, COMMON(0x18), 64, 2);
	assert_int_equal(rd(f, COMMON(0x18), 2), 64);
	/* select out of range: reads 0, writes ignored */
	wr(f, COMMON(0x16), 5, 2);
	assert_int_equal(rd(f, COMMON(0x18), 2), 0);
	wr(f, COMMON(0x18), 32, 2);
	wr(f, COMMON(0x1c), 1, 2);
	assert_int_equal(rd(f, COMMON(0x1c), 2), 0);
	wr(f, COMMON(0x16), 0, 2);
	assert_int_equal(rd(f, COMMON(0x18), 2), 64);
	/* vectors beyond the table read back NO_VECTOR */
	wr(f, COMMON(0x1a), 7, 2);
	assert_int_equal(rd(f, COMMON(0x1a), 2), VPCI_NO_VECTOR);
	wr(f, COMMON(0x10), 2, 2);
	assert_int_equal(rd(f, COMMON(0x10), 2), VPCI_NO_VECTOR);
	wr(f, COMMON(0x1a), 1, 2);
	assert_int_equal(rd(f, COMMON(0x1a), 2), 1);
	/* rings in the MMIO hole or misaligned: enable refused */
	set_rings(f, 0xc0000000ull, FQ_AVAIL, FQ_USED);
	wr(f, COMMON(0x1c), 1, 2);
	assert_int_equal(rd(f, COMMON(0x1c), 2), 0);
	set_rings(f, FQ_DESC + 8, FQ_AVAIL, FQ_USED);
	wr(f, COMMON(0x1c), 1, 2);
	assert_int_equal(rd(f, COMMON(0x1c), 2), 0);
	set_rings(f, FQ_DESC, FQ_AVAIL, FQ_USED + 2);
	wr(f, COMMON(0x1c), 1, 2);
	assert_int_equal(rd(f, COMMON(0x1c), 2), 0);
	set_rings(f, FQ_DESC, FQ_AVAIL, RAM - 16); /* runs past the end of RAM */
	wr(f, COMMON(0x1c), 1, 2);
	assert_int_equal(rd(f, COMMON(0x1c), 2), 0);
	/* good rings: enabled, then frozen */
	set_rings(f, FQ_DESC, FQ_AVAIL, FQ_USED);
	wr(f, COMMON(0x1c), 1, 2);
	assert_int_equal(rd(f, COMMON(0x1c), 2), 1);
	assert_int_equal(rd(f, COMMON(0x20), 8), FQ_DESC);
	set_rings(f, 0x40000, 0x50000, 0x60000);
	wr(f, COMMON(0x18), 16, 2);
	assert_int_equal(rd(f, COMMON(0x20), 8), FQ_DESC);
	assert_int_equal(rd(f, COMMON(0x18), 2), 64);
	/* odd-width accesses to the common area are ignored, not misapplied */
	wr(f, COMMON(0x17), 0xff, 1);
	assert_int_equal(rd(f, COMMON(0x16), 2), 0);
	/* reset clears everything */
	wr(f, STATUS, 0, 1);
	assert_int_equal(rd(f, STATUS, 1), 0);
	assert_int_equal(rd(f, COMMON(0x1c), 2), 0);
	assert_int_equal(rd(f, COMMON(0x18), 2), 256);
	assert_int_equal(rd(f, COMMON(0x1a), 2), VPCI_NO_VECTOR);
	assert_false(f->vd->vq[0].active);
}

/* A working queue: the rng fills a buffer; the interrupt goes out as INTx
 * (MSI-X off) with ISR bit 0, then through MSI-X with masking. */
static void test_data_path_and_interrupts(void **state)
{
	struct fx *f = *state;
	uint32_t id, len;
	uint64_t cnt;
	int gsi = PCI_INTX_GSI(f->vp.pci.slot);
	unsigned devfn = f->vp.pci.slot << 3;

	negotiate(f);
	fr_init(&f->r, &f->gm, 64, FQ_DESC, FQ_AVAIL, FQ_USED);
	wr(f, COMMON(0x18), 64, 2);
	set_rings(f, FQ_DESC, FQ_AVAIL, FQ_USED);
	wr(f, COMMON(0x1a), 1, 2);
	wr(f, COMMON(0x1c), 1, 2);
	wr(f, STATUS, 0x0f, 1);
	assert_int_equal(rd(f, STATUS, 1), 0x0f);
	/* queue registers are frozen after DRIVER_OK */
	wr(f, COMMON(0x1a), 0, 2);
	assert_int_equal(rd(f, COMMON(0x1a), 2), 1);

	fr_desc(&f->r, 0, FQ_DATA, 32, VIRTQ_DESC_F_WRITE, 0);
	fr_post(&f->r, 0);
	/* slow-path kick: lands on the notify eventfd (event thread's job) */
	wr(f, VPCI_NOTIFY_OFF + 0, 0, 2);
	wr(f, VPCI_NOTIFY_OFF + 4 * 9, 9, 2); /* queue 9 does not exist: ignored */
	assert_int_equal(read(f->vp.notify[0].efd, &cnt, 8), 8);
	assert_int_equal(cnt, 1);
	pthread_mutex_lock(&f->vd->lock);
	f->vd->ops->notify(f->vd, 0);
	pthread_mutex_unlock(&f->vd->lock);
	assert_true(fr_get_used(&f->r, &id, &len));
	assert_int_equal(len, 32);
	/* MSI-X disabled: INTx + ISR; reading ISR clears both */
	assert_int_equal(f->irq.level[gsi], 1);
	assert_int_equal(rd(f, VPCI_ISR_OFF, 1), 1);
	assert_int_equal(f->irq.level[gsi], 0);
	assert_int_equal(rd(f, VPCI_ISR_OFF, 1), 0);

	/* MSI-X on, vector 1 masked: pending bit instead of an interrupt */
	uint16_t ctrl = (uint16_t)pci_cfg_read(&f->bus, devfn, f->vp.msix_cap + 2, 2);
	pci_cfg_write(&f->bus, devfn, f->vp.msix_cap + 2, ctrl | 0x8000, 2);
	assert_true(f->vp.msix_enabled);
	fr_desc(&f->r, 1, FQ_DATA, 16, VIRTQ_DESC_F_WRITE, 0);
	fr_post(&f->r, 1);
	pthread_mutex_lock(&f->vd->lock);
	f->vd->ops->notify(f->vd, 0);
	pthread_mutex_unlock(&f->vd->lock);
	assert_int_equal(rd(f, VPCI_MSIX_PBA_OFF, 8), 2);
	assert_int_equal(read(f->vp.vec_efd[1], &cnt, 8), -1); /* nothing fired */
	/* program and unmask entry 1: the pending interrupt is delivered */
	wr(f, VPCI_MSIX_TABLE_OFF + 16 + 0, 0xfee00000, 4);
	wr(f, VPCI_MSIX_TABLE_OFF + 16 + 8, 0x41, 4);
	wr(f, VPCI_MSIX_TABLE_OFF + 16 + 12, 0, 4);
	assert_int_equal(rd(f, VPCI_MSIX_PBA_OFF, 8), 0);
	assert_int_equal(read(f->vp.vec_efd[1], &cnt, 8), 8);
	assert_true(f->router.msi[f->vp.vec_gsi[1] - IRQ_ROUTE_FIRST_MSI].valid);
	assert_int_equal(f->router.msi[f->vp.vec_gsi[1] - IRQ_ROUTE_FIRST_MSI].data, 0x41);
	assert_int_equal(rd(f, VPCI_MSIX_TABLE_OFF + 16 + 8, 4), 0x41);
	/* out-of-range table/PBA accesses: zero, ignored */
	wr(f, VPCI_MSIX_TABLE_OFF + 16 * 5, 0x1234, 4);
	assert_int_equal(rd(f, VPCI_MSIX_TABLE_OFF + 16 * 5, 4), 0);
	wr(f, VPCI_MSIX_PBA_OFF, 0xff, 8);
	assert_int_equal(rd(f, VPCI_MSIX_PBA_OFF, 8), 0);
	/* function mask masks everything again; the route is withdrawn */
	pci_cfg_write(&f->bus, devfn, f->vp.msix_cap + 2, ctrl | 0xc000, 2);
	assert_false(f->router.msi[f->vp.vec_gsi[1] - IRQ_ROUTE_FIRST_MSI].valid);
}

static void test_config_bounds(void **state)
{
	struct fx *f = *state;
	unsigned devfn = f->vp.pci.slot << 3;
	uint32_t cfg = (uint32_t)f->vp.cfg_cap;

	/* rng has no device config: all ones, writes ignored */
	assert_int_equal(rd(f, VPCI_DEVCFG_OFF, 4), 0xffffffffu);
	wr(f, VPCI_DEVCFG_OFF, 0, 4);
	/* ISR and PBA are read-only, gaps read zero */
	wr(f, VPCI_ISR_OFF, 0xff, 1);
	assert_int_equal(rd(f, VPCI_ISR_OFF, 1), 0);
	assert_int_equal(rd(f, 0x6000, 4), 0);
	/* the PCI_CFG window reaches BAR0 only with sane bar/offset/length */
	pci_cfg_write(&f->bus, devfn, cfg + 4, 0, 1);
	pci_cfg_write(&f->bus, devfn, cfg + 8, COMMON(0x12), 4);
	pci_cfg_write(&f->bus, devfn, cfg + 12, 2, 4);
	assert_int_equal(pci_cfg_read(&f->bus, devfn, cfg + 16, 4), 1); /* num_queues */
	pci_cfg_write(&f->bus, devfn, cfg + 8, VPCI_BAR_SIZE - 1, 4);
	assert_int_equal(pci_cfg_read(&f->bus, devfn, cfg + 16, 4), 0);
	pci_cfg_write(&f->bus, devfn, cfg + 8, 0xfffffffe, 4);
	pci_cfg_write(&f->bus, devfn, cfg + 16, 0x1234, 4);
	pci_cfg_write(&f->bus, devfn, cfg + 4, 3, 1);
	pci_cfg_write(&f->bus, devfn, cfg + 8, COMMON(0x16), 4);
	pci_cfg_write(&f->bus, devfn, cfg + 16, 0x1234, 4);
	assert_int_equal(rd(f, COMMON(0x16), 2), 0);
	/* and works when it is sane: queue_select via the window */
	pci_cfg_write(&f->bus, devfn, cfg + 4, 0, 1);
	pci_cfg_write(&f->bus, devfn, cfg + 16, 0x3, 4);
	assert_int_equal(rd(f, COMMON(0x16), 2), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_identity_and_caps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_feature_negotiation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_registers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_data_path_and_interrupts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_bounds, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
