/* make_state_seeds.c — writes fuzz_state's seed corpus
 * (tests/fuzz/corpus/state): device states saved from the device set of
 * state_machine.h after a driver brought it to a few typical states, each
 * with the first 12 KiB of guest memory (where the rings and buffers are);
 * each is checked to load into a fresh device set. Usage:
 *   make_state_seeds CORPUS_DIR   (writes into CORPUS_DIR/state) */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/log.h"
#include "state_machine.h"

#define QSIZE 16
#define MEM 0x3000u                /* guest memory in a seed: rings and buffers */
#define RING(k) (0x400u * (k))    /* desc +0, avail +0x100, used +0x200 */
#define BUF(k) (0x2000u + 0x200u * (k))
#define COMMON(o) (VPCI_COMMON_OFF + (o))
#define STATUS COMMON(0x14)

static void wr(struct sm *m, unsigned d, uint32_t off, uint64_t v, uint32_t len)
{
	io_bus_access(&m->mmio, m->vp[d].pci.bar_decoded[0] + off, &v, len, true);
}

static void put(struct sm *m, uint64_t gpa, const void *p, size_t n)
{
	if (gmem_write(&m->gm, gpa, p, n))
		fprintf(stderr, "make_state_seeds: gmem_write 0x%llx\n", (unsigned long long)gpa);
}

static void desc(struct sm *m, unsigned ring, unsigned i, uint64_t addr, uint32_t len,
		 uint16_t flags, uint16_t next)
{
	uint8_t d[16];

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
	put(m, RING(ring) + 16u * i, d, 16);
}

static void post(struct sm *m, unsigned ring, uint16_t slot, uint16_t head)
{
	uint16_t idx = (uint16_t)(slot + 1);

	put(m, RING(ring) + 0x100 + 4 + 2u * slot, &head, 2);
	put(m, RING(ring) + 0x100 + 2, &idx, 2);
}

static void kick(struct sm *m, unsigned d, unsigned q)
{
	pthread_mutex_lock(&m->vd[d]->lock);
	virtio_dev_notify(m->vd[d], q);
	pthread_mutex_unlock(&m->vd[d]->lock);
}

/* Negotiate (VERSION_1 + extra), nq queues on rings first.., vector vec. */
static void bring_up(struct sm *m, unsigned d, uint64_t extra, unsigned nq, unsigned first,
		     uint16_t vec)
{
	uint64_t f = extra | (1ull << VIRTIO_F_VERSION_1);

	wr(m, d, STATUS, 0, 1);
	wr(m, d, STATUS, 3, 1);
	wr(m, d, COMMON(0x08), 0, 4);
	wr(m, d, COMMON(0x0c), (uint32_t)f, 4);
	wr(m, d, COMMON(0x08), 1, 4);
	wr(m, d, COMMON(0x0c), f >> 32, 4);
	wr(m, d, STATUS, 3 | VIRTIO_STATUS_FEATURES_OK, 1);
	wr(m, d, COMMON(0x10), 0, 2);
	for (unsigned q = 0; q < nq; q++) {
		wr(m, d, COMMON(0x16), q, 2);
		wr(m, d, COMMON(0x18), QSIZE, 2);
		wr(m, d, COMMON(0x20), RING(first + q), 8);
		wr(m, d, COMMON(0x28), RING(first + q) + 0x100, 8);
		wr(m, d, COMMON(0x30), RING(first + q) + 0x200, 8);
		wr(m, d, COMMON(0x1a), vec, 2);
		wr(m, d, COMMON(0x1c), 1, 2);
	}
	wr(m, d, STATUS, 3 | VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK, 1);
}

static void msix_on(struct sm *m, unsigned d, unsigned nvec)
{
	unsigned devfn = m->vp[d].pci.slot << 3;
	uint32_t cap = (uint32_t)m->vp[d].msix_cap + 2;

	pci_cfg_write(&m->bus, devfn, cap, 0x8000, 2);
	for (unsigned v = 0; v < nvec; v++) {
		wr(m, d, VPCI_MSIX_TABLE_OFF + 16 * v, 0xfee00000, 4);
		wr(m, d, VPCI_MSIX_TABLE_OFF + 16 * v + 8, 0x40 + v, 4);
		wr(m, d, VPCI_MSIX_TABLE_OFF + 16 * v + 12, v == 0, 4); /* config masked */
	}
}

/* Does the seed (p, n) load into a fresh device set? */
static int check_loads(const uint8_t *p, size_t n, const char *name)
{
	struct sm f;
	struct sreader r;
	char err[512] = "";
	int ret;

	if (sm_create(&f))
		return -1;
	if (gmem_write(&f.gm, 0, p + 2, MEM))
		return -1;
	sm_quiesce(&f);
	sr_init(&r, p + 2 + MEM, n - 2 - MEM);
	ret = sm_load_devices(&f, &r, err, sizeof(err));
	sm_destroy(&f);
	if (ret)
		fprintf(stderr, "make_state_seeds: %s does not load: %s\n", name, err);
	return ret ? -1 : 0;
}

static int write_seed(struct sm *m, const char *dir, const char *name)
{
	struct sbuf out;
	char path[512];
	FILE *f;
	int ok;

	sm_quiesce(m);
	sbuf_init(&out);
	sbuf_u16(&out, MEM);
	sbuf_put(&out, gmem_ptr(&m->gm, 0, MEM), MEM);
	if (sm_save_devices(m, &out)) {
		fprintf(stderr, "make_state_seeds: %s: save failed\n", name);
		sbuf_free(&out);
		return -1;
	}
	if (check_loads(out.data, out.len, name)) {
		sbuf_free(&out);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f) {
		fprintf(stderr, "make_state_seeds: %s: %s\n", path, strerror(errno));
		sbuf_free(&out);
		return -1;
	}
	ok = fwrite(out.data, 1, out.len, f) == out.len;
	ok = fclose(f) == 0 && ok;
	sbuf_free(&out);
	return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct sm m;
	char dir[400];
	uint32_t hdr[4] = { VIRTIO_BLK_T_OUT, 0, 3, 0 };
	int bad = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: make_state_seeds CORPUS_DIR\n");
		return 2;
	}
	bh_log_set_level(BH_LOG_ERROR);
	snprintf(dir, sizeof(dir), "%s/state", argv[1]);
	mkdir(dir, 0755);

	/* 1. a VM whose drivers never ran */
	if (sm_create(&m))
		return 1;
	bad |= write_seed(&m, dir, "fresh");
	sm_destroy(&m);

	/* 2. all three running: blk with MSI-X and EVENT_IDX after a write,
	 * console on INTx with its ISR set after output, rng with a request
	 * posted but not kicked */
	if (sm_create(&m))
		return 1;
	bring_up(&m, SM_BLK, 1ull << VIRTIO_RING_F_EVENT_IDX, 1, 0, 1);
	msix_on(&m, SM_BLK, 2);
	put(&m, BUF(0), hdr, sizeof(hdr));
	desc(&m, 0, 0, BUF(0), 16, VIRTQ_DESC_F_NEXT, 1);
	desc(&m, 0, 1, BUF(1), 512, VIRTQ_DESC_F_NEXT, 2);
	desc(&m, 0, 2, BUF(2), 1, VIRTQ_DESC_F_WRITE, 0);
	post(&m, 0, 0, 0);
	kick(&m, SM_BLK, 0);
	(void)virtio_blk_poll(m.blk);
	bring_up(&m, SM_CON, 0, 2, 1, VPCI_NO_VECTOR);
	put(&m, BUF(3), "hello", 5);
	desc(&m, 2, 0, BUF(3), 5, 0, 0);
	post(&m, 2, 0, 0);
	kick(&m, SM_CON, 1);
	desc(&m, 1, 0, BUF(4), 64, VIRTQ_DESC_F_WRITE, 0);
	post(&m, 1, 0, 0);
	bring_up(&m, SM_RNG, 1ull << VIRTIO_RING_F_INDIRECT_DESC, 1, 3, 1);
	msix_on(&m, SM_RNG, 2);
	desc(&m, 3, 0, BUF(5), 32, VIRTQ_DESC_F_WRITE, 0);
	post(&m, 3, 0, 0);
	/* balloon: a page inflated, the stats buffer kept by the device */
	bring_up(&m, SM_BAL, (1ull << VIRTIO_BALLOON_F_STATS_VQ) |
				     (1ull << VIRTIO_BALLOON_F_REPORTING), 4, 4, VPCI_NO_VECTOR);
	{
		uint32_t pfn = 0x80;
		uint8_t stat[10] = { VIRTIO_BALLOON_S_MEMFREE, 0, 0, 0x10 };

		put(&m, BUF(6), &pfn, 4);
		desc(&m, 4, 0, BUF(6), 4, 0, 0);
		post(&m, 4, 0, 0);
		kick(&m, SM_BAL, 0);
		put(&m, BUF(7), stat, sizeof(stat));
		desc(&m, 6, 0, BUF(7), sizeof(stat), 0, 0);
		post(&m, 6, 0, 0);
		kick(&m, SM_BAL, 2);
	}
	bad |= write_seed(&m, dir, "running");
	sm_destroy(&m);

	/* 3. a device that needs reset: an rng chain that loops */
	if (sm_create(&m))
		return 1;
	bring_up(&m, SM_RNG, 0, 1, 3, VPCI_NO_VECTOR);
	desc(&m, 3, 0, BUF(5), 32, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 0);
	post(&m, 3, 0, 0);
	kick(&m, SM_RNG, 0);
	bad |= write_seed(&m, dir, "needs-reset");
	sm_destroy(&m);
	return bad ? 1 : 0;
}
