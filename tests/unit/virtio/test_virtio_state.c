/* test_virtio_state.c — snapshot state of virtio-pci devices (transport,
 * queues, device models) through the real PCI bus, irq router and guest
 * memory, the way vm_devices_save()/vm_devices_load() use them.
 *
 * Round trip: machine A's rng, console, blk and net are driven by a driver into a
 * non-trivial state (features with EVENT_IDX, rings, MSI-X on with a masked
 * vector and a pending bit, INTx with the ISR set on the console, a request
 * posted but not kicked, console input refused for lack of buffers, a disk
 * write), quiesced and saved; machine B, built the same way, gets A's memory
 * and loads the state. Saving B gives the same bytes, the driver reads the
 * same registers, the MSI routes and the INTx line are live again, and the
 * devices carry on: the un-kicked request is served on resume, the disk
 * reads back A's write, console input lands in posted buffers, the NIC (B
 * has its own MAC, as a clone does, and keeps it) receives.
 *
 * Hostile states (hostile-guests.md 28): every truncation, trailing bytes,
 * unknown versions and each field a guest could not have produced — refused
 * with an error naming the field, nothing applied. Save refuses a device
 * with requests in flight, one that is not quiesced and one without state
 * support. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vq_fake.h"
#include "bus/pci.h"
#include "core/irq_route.h"
#include "virtio/balloon.h"
#include "virtio/blk.h"
#include "virtio/console.h"
#include "virtio/net.h"
#include "virtio/pci_transport.h"
#include "virtio/rng.h"

#define RAM (64ULL << 20)
#define NDEV 5
#define RNG 0
#define CON 1
#define BLK 2
#define NET 3
#define BAL 4
#define QSIZE 16
#define RING(n) (0x10000ULL + 0x10000ULL * (n)) /* desc, avail, used: 3 slots each */
#define BUF(n) (0x400000ULL + 0x10000ULL * (n))
#define SECTORS 64

struct irqrec {
	int level[32];
};

static void irq_set(void *opaque, uint32_t gsi, int level)
{
	((struct irqrec *)opaque)->level[gsi] = level;
}

struct machine {
	struct guest_mem gm;
	struct pci_bus bus;
	struct io_bus pio, mmio;
	struct irq_router router;
	struct irqrec irq;
	struct fsink out;
	struct char_sink sink;
	struct virtio_console *con;
	struct virtio_blk *blk;
	struct virtio_dev *vd[NDEV];
	struct virtio_pci vp[NDEV];
	struct fake_ring r[NDEV][2];
	unsigned rx_room;
	struct virtio_net *net;
	int peer; /* the switch's end of the NIC's port */
	struct virtio_balloon *bal;
	struct fake_ring br[3];
};

static char disk_path[64];

static void rx_room(void *opaque)
{
	((struct machine *)opaque)->rx_room++;
}

static struct machine *machine_new_mac(uint8_t mac_last)
{
	struct machine *m = calloc(1, sizeof(*m));
	struct virtio_blk_disk disk = { .path = disk_path, .id = "snapdisk" };
	struct virtio_rng *rng;
	struct irq_line line;
	struct virtio_net_params np = { .mac = { 2, 0, 0, 0, 0, mac_last }, .mtu = 1500,
					.index = 0 };
	struct net_backend be;
	struct vpci_env env;
	char err[256];
	int sv[2];

	assert_non_null(m);
	assert_int_equal(gmem_create(&m->gm, RAM), 0);
	line = (struct irq_line){ irq_set, &m->irq, 0 };
	assert_int_equal(pci_bus_init(&m->bus, &line), 0);
	assert_int_equal(irq_router_init(&m->router, -1), 0);
	io_bus_init(&m->pio, IO_BUS_PIO);
	io_bus_init(&m->mmio, IO_BUS_MMIO);
	assert_int_equal(pci_bus_register(&m->bus, &m->pio, &m->mmio), 0);
	m->sink = (struct char_sink){ fsink_write, &m->out };
	assert_int_equal(virtio_rng_create(&rng, &m->gm, NULL), 0);
	assert_int_equal(virtio_console_create(&m->con, &m->gm, &m->sink, NULL), 0);
	virtio_console_set_rx_notify(m->con, rx_room, m);
	assert_int_equal(virtio_blk_create(&m->blk, &disk, 0, &m->gm, NULL, BLOCK_MODE_SYNC, err,
					   sizeof(err)), 0);
	m->vd[RNG] = virtio_rng_dev(rng);
	m->vd[CON] = virtio_console_dev(m->con);
	m->vd[BLK] = virtio_blk_dev(m->blk);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(net_backend_adopt_port(&be, sv[0], "sw0", err, sizeof(err)), 0);
	m->peer = sv[1];
	assert_int_equal(virtio_net_create(&m->net, &np, &be, &m->gm, NULL), 0);
	m->vd[NET] = virtio_net_dev(m->net);
	{
		struct virtio_balloon_config bc = { .enabled = true, .target_bytes = 1 << 20,
						    .stats = true };

		assert_int_equal(virtio_balloon_create(&m->bal, &m->gm, NULL, &bc), 0);
		m->vd[BAL] = virtio_balloon_dev(m->bal);
	}
	env = (struct vpci_env){ -1, &m->bus, &m->router, NULL };
	for (unsigned i = 0; i < NDEV; i++)
		assert_int_equal(virtio_pci_create(&m->vp[i], m->vd[i], &env), 0);
	io_bus_seal(&m->pio);
	io_bus_seal(&m->mmio);
	return m;
}

static struct machine *machine_new(void)
{
	return machine_new_mac(0x0a);
}

static void machine_free(struct machine *m)
{
	irq_router_destroy(&m->router);
	for (unsigned i = 0; i < NDEV; i++) {
		virtio_pci_destroy(&m->vp[i]);
		m->vd[i]->ops->destroy(m->vd[i]);
	}
	pci_bus_destroy(&m->bus);
	gmem_destroy(&m->gm);
	close(m->peer);
	free(m);
}

/* ---- a driver ---- */

static uint64_t rd(struct machine *m, unsigned d, uint32_t off, uint32_t len)
{
	uint64_t v = 0;

	io_bus_access(&m->mmio, m->vp[d].pci.bar_decoded[0] + off, &v, len, false);
	return v;
}

static void wr(struct machine *m, unsigned d, uint32_t off, uint64_t v, uint32_t len)
{
	io_bus_access(&m->mmio, m->vp[d].pci.bar_decoded[0] + off, &v, len, true);
}

#define COMMON(o) (VPCI_COMMON_OFF + (o))
#define STATUS COMMON(0x14)
#define S_ACK_DRV (VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER)

static void msix_ctrl(struct machine *m, unsigned d, uint16_t bits)
{
	unsigned devfn = m->vp[d].pci.slot << 3;
	uint16_t ctrl = (uint16_t)pci_cfg_read(&m->bus, devfn, m->vp[d].msix_cap + 2, 2);

	pci_cfg_write(&m->bus, devfn, m->vp[d].msix_cap + 2, (ctrl & 0x07ff) | bits, 2);
}

static void msix_entry(struct machine *m, unsigned d, unsigned v, uint32_t data, bool masked)
{
	wr(m, d, VPCI_MSIX_TABLE_OFF + 16 * v + 0, 0xfee00000, 4);
	wr(m, d, VPCI_MSIX_TABLE_OFF + 16 * v + 8, data, 4);
	wr(m, d, VPCI_MSIX_TABLE_OFF + 16 * v + 12, masked, 4);
}

/* Reset, negotiate `features` (VERSION_1 added), set up nq queues of QSIZE
 * with vector `vec`, DRIVER_OK. */
static void bring_up(struct machine *m, unsigned d, uint64_t features, unsigned nq,
		     uint16_t vec)
{
	features |= 1ull << VIRTIO_F_VERSION_1;
	wr(m, d, STATUS, 0, 1);
	wr(m, d, STATUS, S_ACK_DRV, 1);
	wr(m, d, COMMON(0x08), 0, 4);
	wr(m, d, COMMON(0x0c), (uint32_t)features, 4);
	wr(m, d, COMMON(0x08), 1, 4);
	wr(m, d, COMMON(0x0c), features >> 32, 4);
	wr(m, d, STATUS, S_ACK_DRV | VIRTIO_STATUS_FEATURES_OK, 1);
	wr(m, d, COMMON(0x10), 0, 2); /* msix_config: vector 0 */
	for (unsigned q = 0; q < nq; q++) {
		uint64_t base = RING(3 * (2 * d + q));

		fr_init(&m->r[d][q], &m->gm, QSIZE, base, base + 0x10000, base + 0x20000);
		wr(m, d, COMMON(0x16), q, 2);
		wr(m, d, COMMON(0x18), QSIZE, 2);
		wr(m, d, COMMON(0x20), base, 8);
		wr(m, d, COMMON(0x28), base + 0x10000, 8);
		wr(m, d, COMMON(0x30), base + 0x20000, 8);
		wr(m, d, COMMON(0x1a), vec, 2);
		wr(m, d, COMMON(0x1c), 1, 2);
		assert_int_equal(rd(m, d, COMMON(0x1c), 2), 1);
	}
	wr(m, d, STATUS, S_ACK_DRV | VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK, 1);
	assert_int_equal(rd(m, d, STATUS, 1) & VIRTIO_STATUS_DRIVER_OK, VIRTIO_STATUS_DRIVER_OK);
}

/* The balloon: STATS_VQ, queues inflate/deflate/stats on their own rings. */
static void bring_up_balloon(struct machine *m)
{
	uint64_t f = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_BALLOON_F_STATS_VQ);

	wr(m, BAL, STATUS, 0, 1);
	wr(m, BAL, STATUS, S_ACK_DRV, 1);
	wr(m, BAL, COMMON(0x08), 0, 4);
	wr(m, BAL, COMMON(0x0c), (uint32_t)f, 4);
	wr(m, BAL, COMMON(0x08), 1, 4);
	wr(m, BAL, COMMON(0x0c), f >> 32, 4);
	wr(m, BAL, STATUS, S_ACK_DRV | VIRTIO_STATUS_FEATURES_OK, 1);
	for (unsigned q = 0; q < 3; q++) {
		uint64_t base = RING(30 + 3 * q);

		fr_init(&m->br[q], &m->gm, QSIZE, base, base + 0x10000, base + 0x20000);
		wr(m, BAL, COMMON(0x16), q, 2);
		wr(m, BAL, COMMON(0x18), QSIZE, 2);
		wr(m, BAL, COMMON(0x20), base, 8);
		wr(m, BAL, COMMON(0x28), base + 0x10000, 8);
		wr(m, BAL, COMMON(0x30), base + 0x20000, 8);
		wr(m, BAL, COMMON(0x1c), 1, 2);
	}
	wr(m, BAL, STATUS, S_ACK_DRV | VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK, 1);
}

static void notify(struct machine *m, unsigned d, unsigned q)
{
	pthread_mutex_lock(&m->vd[d]->lock);
	virtio_dev_notify(m->vd[d], q);
	pthread_mutex_unlock(&m->vd[d]->lock);
}

/* A blk request: header at BUF(0), data at BUF(1) (512 bytes), status at
 * BUF(2); heads 0-2 from descriptor `first`. */
static void blk_request(struct machine *m, uint32_t type, uint64_t sector, uint16_t first)
{
	struct fake_ring *r = &m->r[BLK][0];
	uint32_t hdr[4] = { type, 0, (uint32_t)sector, 0 };

	assert_int_equal(gmem_write(&m->gm, BUF(0), hdr, sizeof(hdr)), 0);
	fr_desc(r, first, BUF(0), 16, VIRTQ_DESC_F_NEXT, (uint16_t)(first + 1));
	fr_desc(r, first + 1u, BUF(1), 512,
		(uint16_t)(VIRTQ_DESC_F_NEXT | (type == VIRTIO_BLK_T_IN ? VIRTQ_DESC_F_WRITE : 0)),
		(uint16_t)(first + 2));
	fr_desc(r, first + 2u, BUF(2), 1, VIRTQ_DESC_F_WRITE, 0);
	fr_post(r, first);
	notify(m, BLK, 0);
	(void)virtio_blk_poll(m->blk);
}

/* Machine A's driver: see the top comment. */
static void drive(struct machine *m)
{
	uint32_t id, len;
	uint8_t sector[512];

	/* rng: EVENT_IDX, MSI-X on, vector 1 live, config vector masked; one
	 * request served, a second posted without a kick */
	bring_up(m, RNG, 1ull << VIRTIO_RING_F_EVENT_IDX, 1, 1);
	msix_ctrl(m, RNG, 0x8000);
	msix_entry(m, RNG, 0, 0x30, true);
	msix_entry(m, RNG, 1, 0x31, false);
	fr_desc(&m->r[RNG][0], 0, BUF(3), 64, VIRTQ_DESC_F_WRITE, 0);
	fr_post(&m->r[RNG][0], 0);
	notify(m, RNG, 0);
	assert_true(fr_get_used(&m->r[RNG][0], &id, &len));
	assert_int_equal(len, 64);
	fr_set_used_event(&m->r[RNG][0], 1); /* EVENT_IDX: interrupt me for the next */
	fr_desc(&m->r[RNG][0], 1, BUF(4), 32, VIRTQ_DESC_F_WRITE, 0);
	fr_post(&m->r[RNG][0], 1);
	/* console: INTx (MSI-X off), output written, ISR left unread; input
	 * refused for lack of receive buffers */
	bring_up(m, CON, 0, 2, VPCI_NO_VECTOR);
	assert_int_equal(gmem_write(&m->gm, BUF(5), "hello", 5), 0);
	fr_desc(&m->r[CON][1], 0, BUF(5), 5, 0, 0);
	fr_post(&m->r[CON][1], 0);
	notify(m, CON, 1);
	assert_int_equal(m->out.kept, 5);
	assert_int_equal(virtio_console_input(m->con, (const uint8_t *)"x", 1), 0);
	/* blk: MSI-X on, its queue's vector masked: the completion is pending */
	bring_up(m, BLK, 1ull << VIRTIO_RING_F_EVENT_IDX, 1, 1);
	msix_ctrl(m, BLK, 0x8000);
	msix_entry(m, BLK, 1, 0x41, true);
	for (unsigned i = 0; i < sizeof(sector); i++)
		sector[i] = (uint8_t)(i * 13 + 1);
	assert_int_equal(gmem_write(&m->gm, BUF(1), sector, sizeof(sector)), 0);
	blk_request(m, VIRTIO_BLK_T_OUT, 5, 0);
	assert_true(fr_get_used(&m->r[BLK][0], &id, &len));
	assert_int_equal(rd(m, BLK, VPCI_MSIX_PBA_OFF, 8), 2);
	/* net: both queues, INTx */
	bring_up(m, NET, (1ull << VIRTIO_NET_F_MAC) | (1ull << VIRTIO_NET_F_MTU) |
				 (1ull << VIRTIO_NET_F_STATUS), 2, VPCI_NO_VECTOR);
	/* balloon: 3 pages inflated, the stats buffer kept by the device */
	{
		uint32_t pfns[3] = { 0x800, 0x801, 0x900 };
		uint8_t stat[10] = { VIRTIO_BALLOON_S_MEMFREE, 0, 0x00, 0x10 };

		bring_up_balloon(m);
		assert_int_equal(gmem_write(&m->gm, BUF(8), pfns, sizeof(pfns)), 0);
		fr_desc(&m->br[0], 0, BUF(8), sizeof(pfns), 0, 0);
		fr_post(&m->br[0], 0);
		notify(m, BAL, 0);
		assert_int_equal(gmem_write(&m->gm, BUF(9), stat, sizeof(stat)), 0);
		fr_desc(&m->br[2], 5, BUF(9), sizeof(stat), 0, 0);
		fr_post(&m->br[2], 5);
		notify(m, BAL, 2);
		assert_int_equal(m->vd[BAL]->vq[2].inflight, 1);
	}
	wr(m, BLK, COMMON(0x16), 7, 2);  /* a queue_select out of range */
	wr(m, BLK, COMMON(0x00), 1, 4);  /* device feature select */
}

static void quiesce(struct machine *m)
{
	for (unsigned i = 0; i < NDEV; i++)
		virtio_dev_quiesce(m->vd[i]);
}

static void save_dev(struct machine *m, unsigned d, struct sbuf *out)
{
	char err[256] = "";

	sbuf_init(out);
	if (virtio_pci_save(&m->vp[d], out, err, sizeof(err)))
		fail_msg("save %u: %s", d, err);
}

static int load_dev(struct machine *m, unsigned d, const void *p, size_t n, uint32_t v,
		    char *err, size_t errlen)
{
	struct sreader r;
	int ret;

	err[0] = '\0';
	sr_init(&r, p, n);
	ret = virtio_pci_load(&m->vp[d], &r, v, err, errlen);
	if (ret)
		assert_true(err[0] != '\0');
	return ret;
}

/* Save A's bus and devices, give B A's memory, load everything into B. */
static void transfer(struct machine *a, struct machine *b, struct sbuf *blobs)
{
	struct sbuf bus;
	struct sreader r;
	char err[256] = "";

	sbuf_init(&bus);
	pci_bus_save(&a->bus, &bus);
	for (unsigned d = 0; d < NDEV; d++)
		save_dev(a, d, &blobs[d]);
	memcpy(gmem_ptr(&b->gm, 0, RAM), gmem_ptr(&a->gm, 0, RAM), RAM);
	sr_init(&r, bus.data, bus.len);
	if (pci_bus_load(&b->bus, &r, PCI_STATE_VERSION, err, sizeof(err)))
		fail_msg("bus: %s", err);
	for (unsigned d = 0; d < NDEV; d++)
		if (load_dev(b, d, blobs[d].data, blobs[d].len, VIRTIO_PCI_STATE_VERSION, err,
			     sizeof(err)))
			fail_msg("device %u: %s", d, err);
	sbuf_free(&bus);
}

static int setup(void **state)
{
	int fd;

	(void)state;
	strcpy(disk_path, "/tmp/bh-vstate-XXXXXX");
	fd = mkstemp(disk_path);
	if (fd < 0 || ftruncate(fd, SECTORS * 512) != 0)
		return -1;
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(disk_path);
	return 0;
}

static void test_roundtrip(void **state)
{
	struct machine *a = machine_new(), *b = machine_new_mac(0x0b); /* a clone: its own MAC */
	struct sbuf blobs[NDEV], again;
	uint32_t id, len;
	uint64_t cnt;
	uint8_t sector[512], back[512];

	(void)state;
	drive(a);
	quiesce(a);
	quiesce(b);
	transfer(a, b, blobs);
	for (unsigned d = 0; d < NDEV; d++) {
		save_dev(b, d, &again);
		assert_int_equal(again.len, blobs[d].len);
		if (d == NET) {
			/* The clone kept its own MAC (the device part ends with MAC,
			 * live, MTU): the same bytes but those six. */
			size_t mac_off = again.len - 9;

			assert_int_equal(again.data[mac_off + 5], 0x0b);
			assert_int_equal(blobs[d].data[mac_off + 5], 0x0a);
			again.data[mac_off + 5] = 0x0a;
		}
		assert_memory_equal(again.data, blobs[d].data, again.len);
		sbuf_free(&again);
		/* the driver reads the same common configuration, queue by queue */
		for (unsigned q = 0; q < 3; q++) {
			wr(a, d, COMMON(0x16), q, 2);
			wr(b, d, COMMON(0x16), q, 2);
			for (uint32_t o = 0; o < VPCI_COMMON_LEN; o += 2)
				assert_int_equal(rd(b, d, COMMON(o), 2), rd(a, d, COMMON(o), 2));
		}
		for (uint32_t o = 0; o < 16 * a->vp[d].nvec; o += 4)
			assert_int_equal(rd(b, d, VPCI_MSIX_TABLE_OFF + o, 4),
					 rd(a, d, VPCI_MSIX_TABLE_OFF + o, 4));
		assert_int_equal(rd(b, d, VPCI_MSIX_PBA_OFF, 8), rd(a, d, VPCI_MSIX_PBA_OFF, 8));
		/* KVM wiring: the MSI routes of every vector */
		for (unsigned v = 0; v < a->vp[d].nvec; v++) {
			unsigned ga = a->vp[d].vec_gsi[v] - IRQ_ROUTE_FIRST_MSI;
			unsigned gb = b->vp[d].vec_gsi[v] - IRQ_ROUTE_FIRST_MSI;

			assert_int_equal(b->router.msi[gb].valid, a->router.msi[ga].valid);
			assert_int_equal(b->router.msi[gb].data, a->router.msi[ga].data);
		}
	}
	assert_true(b->router.msi[b->vp[RNG].vec_gsi[1] - IRQ_ROUTE_FIRST_MSI].valid);
	assert_false(b->router.msi[b->vp[RNG].vec_gsi[0] - IRQ_ROUTE_FIRST_MSI].valid);
	/* INTx: the console's ISR is set, its line is up again */
	assert_int_equal(b->irq.level[PCI_INTX_GSI(b->vp[CON].pci.slot)], 1);
	assert_int_equal(rd(b, CON, VPCI_ISR_OFF, 1), 1);
	assert_int_equal(b->irq.level[PCI_INTX_GSI(b->vp[CON].pci.slot)], 0);

	/* rng: the request posted before the snapshot is served on resume */
	b->r[RNG][0] = a->r[RNG][0];
	b->r[RNG][0].gm = &b->gm;
	virtio_dev_resume(b->vd[RNG]);
	assert_true(fr_get_used(&b->r[RNG][0], &id, &len));
	assert_int_equal(id, 1);
	assert_int_equal(len, 32);
	assert_int_equal(read(b->vp[RNG].vec_efd[1], &cnt, 8), 8); /* MSI-X vector 1 */

	/* blk: the completion pending on the masked vector is delivered on
	 * unmask; A's write reads back */
	b->r[BLK][0] = a->r[BLK][0];
	b->r[BLK][0].gm = &b->gm;
	msix_entry(b, BLK, 1, 0x41, false);
	assert_int_equal(read(b->vp[BLK].vec_efd[1], &cnt, 8), 8);
	virtio_dev_resume(b->vd[BLK]);
	memset(back, 0, sizeof(back));
	assert_int_equal(gmem_write(&b->gm, BUF(1), back, sizeof(back)), 0);
	fr_set_used_event(&b->r[BLK][0], 1);
	blk_request(b, VIRTIO_BLK_T_IN, 5, 3);
	assert_true(fr_get_used(&b->r[BLK][0], &id, &len));
	assert_int_equal(id, 3);
	assert_int_equal(len, 513);
	assert_int_equal(gmem_read(&b->gm, back, BUF(1), sizeof(back)), 0);
	for (unsigned i = 0; i < sizeof(sector); i++)
		sector[i] = (uint8_t)(i * 13 + 1);
	assert_memory_equal(back, sector, sizeof(back));
	assert_int_equal(read(b->vp[BLK].vec_efd[1], &cnt, 8), 8);

	/* console: the refused input is remembered — posting receive buffers
	 * signals room; input then lands in them */
	b->r[CON][0] = a->r[CON][0];
	b->r[CON][0].gm = &b->gm;
	virtio_dev_resume(b->vd[CON]);
	fr_desc(&b->r[CON][0], 0, BUF(6), 16, VIRTQ_DESC_F_WRITE, 0);
	fr_post(&b->r[CON][0], 0);
	notify(b, CON, 0);
	assert_int_equal(b->rx_room, 1);
	assert_int_equal(virtio_console_input(b->con, (const uint8_t *)"xy", 2), 2);
	assert_true(fr_get_used(&b->r[CON][0], &id, &len));
	assert_int_equal(len, 2);

	/* net: resumed, it receives into a posted buffer (header + frame) */
	{
		uint8_t msg[12 + 60] = { 0 };

		b->r[NET][0] = a->r[NET][0];
		b->r[NET][0].gm = &b->gm;
		virtio_dev_resume(b->vd[NET]);
		fr_desc(&b->r[NET][0], 0, BUF(7), 2048, VIRTQ_DESC_F_WRITE, 0);
		fr_post(&b->r[NET][0], 0);
		memset(msg + 12, 0xff, 6); /* broadcast */
		msg[12 + 12] = 0x08;       /* IPv4 */
		assert_int_equal(send(b->peer, msg, sizeof(msg), 0), (ssize_t)sizeof(msg));
		virtio_net_rx_poll(b->net);
		assert_true(fr_get_used(&b->r[NET][0], &id, &len));
		assert_int_equal(len, sizeof(msg));
	}
	/* balloon: the host's page record came along; the kept stats buffer
	 * is returned when fresh figures are asked for */
	{
		struct virtio_balloon_info ia, ib;

		virtio_balloon_info(a->bal, &ia);
		virtio_balloon_info(b->bal, &ib);
		assert_int_equal(ib.held_pages, 3);
		assert_int_equal(ib.held_pages, ia.held_pages);
		assert_int_equal(ib.target_pages, ia.target_pages);
		b->br[2] = a->br[2];
		b->br[2].gm = &b->gm;
		virtio_dev_resume(b->vd[BAL]);
		virtio_balloon_request_stats(b->bal);
		assert_true(fr_get_used(&b->br[2], &id, &len));
		assert_int_equal(id, 5);
	}
	for (unsigned d = 0; d < NDEV; d++)
		sbuf_free(&blobs[d]);
	machine_free(a);
	machine_free(b);
}

/* ---- hostile states ---- */

/* Offsets in the blk blob (one queue, enabled; two vectors). */
#define T_STATUS 0
#define T_FAILED 1
#define T_DRVF 2
#define T_MSIXCFG 18
#define T_ISR 23
#define T_NQ 24
#define Q_SIZE 25
#define Q_VEC 27
#define Q_EN 29
#define Q_DESC 30
#define Q_USED 46
#define Q_LAST 54
#define Q_USEDIDX 56
#define Q_BROKEN 61
#define Q_NINFL 62
#define T_NVEC 64
#define T_VEC(v) (66 + 16 * (v))
#define T_PBA 98
#define T_HELD 106
#define T_DVER 110
#define T_DLEN 114
#define D_LIVE 118
#define D_RO 119
#define D_SERIAL 120
#define D_CFG 140

static void expect_refused(struct machine *m, unsigned d, const uint8_t *p, size_t n,
			   uint32_t version, int ret, const char *word)
{
	struct sbuf before, after;
	char err[256];

	save_dev(m, d, &before);
	assert_int_equal(load_dev(m, d, p, n, version, err, sizeof(err)), ret);
	if (word && !strstr(err, word))
		fail_msg("error \"%s\" does not name \"%s\"", err, word);
	save_dev(m, d, &after);
	assert_int_equal(before.len, after.len);
	assert_memory_equal(before.data, after.data, before.len);
	sbuf_free(&before);
	sbuf_free(&after);
}

/* Load blob with n bytes at `at` replaced by the little-endian `v`. */
static void patch_refused(struct machine *m, unsigned d, const struct sbuf *s, size_t at,
			  uint64_t v, size_t n, const char *word)
{
	uint8_t *p = malloc(s->len);

	assert_non_null(p);
	assert_true(at + n <= s->len);
	memcpy(p, s->data, s->len);
	memcpy(p + at, &v, n);
	expect_refused(m, d, p, s->len, VIRTIO_PCI_STATE_VERSION, -EINVAL, word);
	free(p);
}

static uint64_t get(const struct sbuf *s, size_t at, size_t n)
{
	uint64_t v = 0;

	memcpy(&v, s->data + at, n);
	return v;
}

static void test_hostile(void **state)
{
	struct machine *a = machine_new(), *b = machine_new();
	struct sbuf blobs[NDEV], bus;
	struct sreader r;
	char err[256];
	const struct sbuf *s = &blobs[BLK];
	uint64_t f;
	uint8_t *longer;

	(void)state;
	drive(a);
	quiesce(a);
	quiesce(b);
	for (unsigned d = 0; d < NDEV; d++)
		save_dev(a, d, &blobs[d]);
	/* B gets A's memory and bus (MSI-X enable lives there) */
	memcpy(gmem_ptr(&b->gm, 0, RAM), gmem_ptr(&a->gm, 0, RAM), RAM);
	sbuf_init(&bus);
	pci_bus_save(&a->bus, &bus);
	sr_init(&r, bus.data, bus.len);
	assert_int_equal(pci_bus_load(&b->bus, &r, PCI_STATE_VERSION, err, sizeof(err)), 0);
	sbuf_free(&bus);
	assert_int_equal(s->len, D_CFG + VIRTIO_BLK_CFG_LEN);
	assert_int_equal(get(s, Q_EN, 1), 1);

	/* framing and versions */
	for (size_t n = 0; n < s->len; n++)
		expect_refused(b, BLK, s->data, n, VIRTIO_PCI_STATE_VERSION, -EINVAL, "blk");
	longer = calloc(1, s->len + 1);
	assert_non_null(longer);
	memcpy(longer, s->data, s->len);
	expect_refused(b, BLK, longer, s->len + 1, VIRTIO_PCI_STATE_VERSION, -EINVAL, "length");
	free(longer);
	expect_refused(b, BLK, s->data, s->len, VIRTIO_PCI_STATE_VERSION + 1, -ENOTSUP,
		       "version");
	/* status and features */
	f = get(s, T_DRVF, 8);
	patch_refused(b, BLK, s, T_STATUS, 0x07, 1, "DRIVER_OK without FEATURES_OK");
	patch_refused(b, BLK, s, T_STATUS, 0x03, 1, "lacks FEATURES_OK");
	patch_refused(b, BLK, s, T_STATUS, 0x4f, 1, "NEEDS_RESET");
	patch_refused(b, BLK, s, T_FAILED, 1, 1, "NEEDS_RESET");
	patch_refused(b, BLK, s, T_FAILED, 2, 1, "0/1");
	patch_refused(b, BLK, s, T_DRVF, f | (1ull << 20), 8, "not a subset");
	patch_refused(b, BLK, s, T_DRVF, f & ~(1ull << VIRTIO_F_VERSION_1), 8, "VERSION_1");
	patch_refused(b, BLK, s, T_MSIXCFG, 2, 2, "msix_config");
	patch_refused(b, BLK, s, T_ISR, 4, 1, "ISR");
	patch_refused(b, BLK, s, T_ISR, 1, 1, "while MSI-X is enabled");
	patch_refused(b, BLK, s, T_NQ, 2, 1, "queues");
	/* queues: sizes, vectors, rings, positions */
	patch_refused(b, BLK, s, Q_SIZE, 24, 2, "size 24");
	patch_refused(b, BLK, s, Q_SIZE, 512, 2, "size 512");
	patch_refused(b, BLK, s, Q_SIZE, 0, 2, "size 0");
	patch_refused(b, BLK, s, Q_VEC, 2, 2, "MSI-X vector 2");
	patch_refused(b, BLK, s, Q_EN, 2, 1, "0/1");
	patch_refused(b, BLK, s, Q_DESC, 0xc0000000ull, 8, "not inside guest RAM");
	patch_refused(b, BLK, s, Q_DESC, get(s, Q_DESC, 8) + 8, 8, "misaligned");
	patch_refused(b, BLK, s, Q_USED, RAM - 16, 8, "not inside guest RAM");
	patch_refused(b, BLK, s, Q_LAST, get(s, Q_LAST, 2) + 1, 2, "in flight");
	patch_refused(b, BLK, s, Q_LAST, (get(s, Q_LAST, 2) + 1) * 0x10001ull, 4,
		      "used ring in guest memory");
	patch_refused(b, BLK, s, Q_BROKEN, 1, 1, "broken");
	patch_refused(b, BLK, s, Q_NINFL, 1, 2, "heads in flight");
	/* MSI-X */
	patch_refused(b, BLK, s, T_NVEC, 3, 2, "MSI-X vectors");
	patch_refused(b, BLK, s, T_VEC(0) + 12, 2, 4, "control");
	patch_refused(b, BLK, s, T_PBA, 4, 8, "pending bits");
	patch_refused(b, BLK, s, T_VEC(1) + 12, 0, 4, "delivered");
	patch_refused(b, BLK, s, T_HELD, 2, 4, "held");
	/* the device's own part */
	patch_refused(b, BLK, s, T_DLEN, get(s, T_DLEN, 4) + 1, 4, "length");
	{
		uint8_t *p = malloc(s->len);

		assert_non_null(p);
		memcpy(p, s->data, s->len);
		p[T_DVER] = 2;
		expect_refused(b, BLK, p, s->len, VIRTIO_PCI_STATE_VERSION, -ENOTSUP,
			       "device state version 2");
		free(p);
	}
	patch_refused(b, BLK, s, D_LIVE, 0, 1, "never activated");
	patch_refused(b, BLK, s, D_RO, 1, 1, "read-only");
	patch_refused(b, BLK, s, D_SERIAL, 'X', 1, "serial");
	patch_refused(b, BLK, s, D_CFG, SECTORS * 2, 8, "capacity");
	patch_refused(b, BLK, s, D_CFG + 12, 3, 4, "configuration space");
	/* console and rng device parts */
	patch_refused(b, CON, &blobs[CON], blobs[CON].len - 10, 0, 1, "never activated");
	patch_refused(b, CON, &blobs[CON], blobs[CON].len - 9, 7, 1, "0/1");
	patch_refused(b, CON, &blobs[CON], blobs[CON].len - 1, 1, 1, "configuration space");
	patch_refused(b, RNG, &blobs[RNG], blobs[RNG].len - 1, 2, 1, "0/1");
	patch_refused(b, RNG, &blobs[RNG], blobs[RNG].len - 1, 0, 1, "never activated");
	patch_refused(b, NET, &blobs[NET], blobs[NET].len - 2, 9000, 2, "MTU");
	patch_refused(b, NET, &blobs[NET], blobs[NET].len - 3, 0, 1, "never activated");
	{
		/* balloon: live u8, num_pages u32, actual u32, held u8, head u16,
		 * bits u64, bitmap */
		const struct sbuf *bb = &blobs[BAL];
		size_t dev = bb->len - (20 + 16384 / 8); /* 64 MiB: 16384 pages */

		assert_int_equal(get(bb, dev + 9, 1), 1); /* the stats buffer is held */
		assert_int_equal(get(bb, dev + 10, 2), 5); /* ... its head */
		patch_refused(b, BAL, bb, dev + 10, 4, 2, "no such chain in flight");
		patch_refused(b, BAL, bb, dev + 9, 0, 1, "accounts for 0");
		patch_refused(b, BAL, bb, dev + 12, 1 << 20, 8, "another memory size");
		patch_refused(b, BAL, bb, dev + 1, 0x100000, 4, "more than guest RAM");
		patch_refused(b, BAL, bb, dev, 0, 1, "never activated");
	}
	/* and the genuine article loads */
	for (unsigned d = 0; d < NDEV; d++) {
		assert_int_equal(load_dev(b, d, blobs[d].data, blobs[d].len,
					  VIRTIO_PCI_STATE_VERSION, err, sizeof(err)), 0);
		sbuf_free(&blobs[d]);
	}
	machine_free(a);
	machine_free(b);
}

/* Save refuses what a snapshot could not carry. */
static void test_save_refusals(void **state)
{
	struct machine *m = machine_new();
	struct virtq_chain c;
	struct sbuf out;
	char err[256] = "";

	(void)state;
	sbuf_init(&out);
	assert_int_equal(virtio_pci_save(&m->vp[RNG], &out, err, sizeof(err)), -EAGAIN);
	assert_non_null(strstr(err, "not quiesced"));
	drive(m);
	/* a chain popped and not returned (what a device bug would leave) */
	pthread_mutex_lock(&m->vd[RNG]->lock);
	assert_int_equal(virtq_pop(&m->vd[RNG]->vq[0], &c), 1);
	pthread_mutex_unlock(&m->vd[RNG]->lock);
	quiesce(m);
	assert_int_equal(virtio_pci_save(&m->vp[RNG], &out, err, sizeof(err)), -EBUSY);
	assert_non_null(strstr(err, "in flight"));
	sbuf_free(&out);
	machine_free(m);
}

/* A device without state support cannot be saved (nor loaded). */
static void test_unsupported_device(void **state)
{
	static const struct virtio_dev_ops ops = { .features = NULL };
	struct machine *m = machine_new();
	struct virtio_dev vd;
	struct virtio_pci vp;
	struct vpci_env env = { -1, &m->bus, &m->router, NULL };
	struct sbuf out;
	struct sreader r;
	char err[256] = "";
	uint8_t zero[200] = { 0 };

	(void)state;
	assert_int_equal(virtio_dev_init(&vd, &ops, "virtio-new", 99, 1, 16, 0, &m->gm), 0);
	assert_int_equal(virtio_pci_create(&vp, &vd, &env), 0);
	virtio_dev_quiesce(&vd);
	sbuf_init(&out);
	assert_int_equal(virtio_pci_save(&vp, &out, err, sizeof(err)), -ENOTSUP);
	assert_non_null(strstr(err, "virtio-new: saving its state is not supported"));
	sbuf_free(&out);
	sr_init(&r, zero, sizeof(zero));
	assert_int_equal(virtio_pci_load(&vp, &r, VIRTIO_PCI_STATE_VERSION, err, sizeof(err)),
			 -EINVAL); /* 0 queues: refused before the device part */
	virtio_pci_destroy(&vp);
	virtio_dev_deinit(&vd);
	machine_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_save_refusals),
		cmocka_unit_test(test_unsupported_device),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
