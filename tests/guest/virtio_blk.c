/* virtio_blk.c — drives a virtio-blk disk through the guest-side virtio-pci
 * driver (rt/virtio.h) and checks the data path and the error statuses of
 * docs/virtio.md. Everything after boot runs in ring 3.
 *
 * Command line:
 *   serial=NAME   GET_ID must return NAME (NUL-padded to 20 bytes); without
 *                 it GET_ID must only succeed
 *   sectors=N     the capacity the first disk must report (default: not checked,
 *                 but it must be at least 4224 sectors)
 *   disks=2       a second disk, which must be read-only (offers VIRTIO_BLK_F_RO):
 *                 a write to it must fail with UNSUPP and change nothing
 *   vblk.qemu     QEMU 7.2's deviations: accept IOERR for writes and
 *                 write-zeroes to the read-only drive (bulkhead: UNSUPP), OK
 *                 for a discard there (QEMU drops it), and DISCARD /
 *                 WRITE_ZEROES offered on it
 * On the first disk WRITE_ZEROES (over written data) and DISCARD are
 * exercised when offered; on the read-only one both must be UNSUPP.
 *
 * What it leaves on the first disk (the host compares the image afterwards):
 * sectors [0, 4096) hold the pattern below, every other byte is zero. The
 * 64-bit little-endian word k (0..63) of sector s is
 *     (s * 0x100000001b3) ^ (k * 0x9e3779b97f4a7c15) ^ 0x626c6b7061747465
 * (mod 2^64). For an 8 MiB image the md5 is in cases.txt; tests/guest/README.md
 * has the three lines of Python that regenerate it. The read-only disk must stay
 * byte-identical (zero-filled in the cases).
 */
#include "rt/rt.h"
#include "rt/virtio.h"

#define NAME "virtio_blk"
#define NW 4096u           /* sectors written with the pattern */
#define SLOTS 4            /* requests in flight at once */
#define SLOT_BYTES (288u * 1024) /* 128 KiB of data scattered with gaps */

static uint8_t user_stack[16384] __attribute__((aligned(16)));
static uint8_t ring0[65536] __attribute__((aligned(4096)));
static uint8_t ring1[65536] __attribute__((aligned(4096)));
static uint8_t bufs[SLOTS][SLOT_BYTES] __attribute__((aligned(4096)));
static uint8_t small[4096] __attribute__((aligned(4096)));
static struct vt_dev disk, rodisk;
static struct vt_queue q, roq;
static struct {
	struct vt_blk_hdr h;
	volatile uint8_t status;
} req[VT_QMAX] __attribute__((aligned(64)));
static int head_slot[VT_QMAX];

static uint64_t pat(uint64_t s, unsigned k)
{
	return (s * 0x100000001b3ull) ^ (k * 0x9e3779b97f4a7c15ull) ^ 0x626c6b7061747465ull;
}

/* A request shape: nsec sectors split into segments of these byte lengths. */
struct shape {
	unsigned nsec, nseg;
	uint32_t seg[16];
};
static const struct shape shapes[] = {
	{ 1, 1, { 512 } },
	{ 8, 1, { 4096 } },
	{ 8, 8, { 512, 512, 512, 512, 512, 512, 512, 512 } },
	{ 3, 2, { 1024, 512 } },
	{ 64, 1, { 32768 } },
	{ 128, 16, { 4096, 4096, 4096, 4096, 4096, 4096, 4096, 4096,
		     4096, 4096, 4096, 4096, 4096, 4096, 4096, 4096 } },
	{ 256, 1, { 131072 } },
	{ 24, 3, { 512, 8192, 3584 } },
};
#define NSHAPES (sizeof(shapes) / sizeof(shapes[0]))

/* Lay a shape's segments out in slot memory: segment j at a gap of 512*(j%3+1)
 * after the previous, so a device that treats the chain as one contiguous
 * buffer gets caught. */
static unsigned layout(const struct shape *sh, uint8_t *base, struct vt_seg *segs)
{
	uint64_t a = (uint64_t)(uintptr_t)base;
	for (unsigned j = 0; j < sh->nseg; j++) {
		segs[j].addr = a;
		segs[j].len = sh->seg[j];
		a += sh->seg[j] + 512u * (j % 3 + 1);
	}
	return sh->nseg;
}

/* Fill (or check) the pattern for sectors [s, s+nsec) through the segments. */
static int pattern_io(const struct vt_seg *segs, unsigned nseg, uint64_t s, int check)
{
	uint64_t off = 0;
	for (unsigned j = 0; j < nseg; j++)
		for (uint32_t b = 0; b < segs[j].len; b += 8, off += 8) {
			uint64_t *w = (uint64_t *)(uintptr_t)(segs[j].addr + b);
			uint64_t want = pat(s + off / 512, (unsigned)(off % 512) / 8);
			if (!check)
				*w = want;
			else if (*w != want) {
				rt_printf("sector %lu word %lu: %lx, want %lx\n", s + off / 512,
					  (off % 512) / 8, *w, want);
				return -1;
			}
		}
	return 0;
}

static void check_healthy(const char *when)
{
	uint8_t st = vt_status(&disk);
	if (st & (VT_S_NEEDS_RESET | VT_S_FAILED))
		rt_fail(NAME, "device_status %x after %s", st, when);
}

/* Move [0, NW) through the disk with the shapes (starting at shape `first`),
 * SLOTS requests in flight; write the pattern or read and check it. */
static void pass_all(uint32_t type, unsigned first)
{
	unsigned inflight = 0, i = first;
	uint64_t s = 0;
	struct vt_seg segs[SLOTS][16];
	uint64_t slot_sector[SLOTS];
	unsigned slot_nseg[SLOTS];
	int free_slots[SLOTS], nfree = SLOTS;
	for (int k = 0; k < SLOTS; k++)
		free_slots[k] = k;
	while (s < NW || inflight) {
		while (s < NW && nfree) {
			const struct shape *sh = &shapes[i++ % NSHAPES];
			if (s + sh->nsec > NW)
				sh = &shapes[0];
			int slot = free_slots[--nfree];
			unsigned n = layout(sh, bufs[slot], segs[slot]);
			if (type == VT_BLK_T_OUT)
				pattern_io(segs[slot], n, s, 0);
			else
				for (unsigned j = 0; j < n; j++)
					memset((void *)(uintptr_t)segs[slot][j].addr, 0xa5, segs[slot][j].len);
			slot_sector[slot] = s;
			slot_nseg[slot] = n;
			req[slot].h.type = type;
			req[slot].h.reserved = 0;
			req[slot].h.sector = s;
			req[slot].status = 0xff;
			int head = vt_blk_add(&q, &req[slot].h, segs[slot], n, type == VT_BLK_T_IN,
					      &req[slot].status);
			if (head < 0)
				rt_fail(NAME, "queue full with %u in flight", inflight);
			head_slot[head] = slot;
			inflight++;
			s += sh->nsec;
		}
		vt_kick(&q);
		uint32_t len;
		int id = vt_wait(&q, &len, 0);
		if (id < 0)
			rt_fail(NAME, "%s: no completion (%s)", type == VT_BLK_T_IN ? "read" : "write",
				id == -2 ? "NEEDS_RESET" : "timeout");
		int slot = head_slot[id];
		if (req[slot].status != VT_BLK_S_OK)
			rt_fail(NAME, "%s of sector %lu: status %u", type == VT_BLK_T_IN ? "read" : "write",
				slot_sector[slot], req[slot].status);
		if (type == VT_BLK_T_IN && pattern_io(segs[slot], slot_nseg[slot], slot_sector[slot], 1))
			rt_fail(NAME, "read-back mismatch (request at sector %lu, %u segments)",
				slot_sector[slot], slot_nseg[slot]);
		free_slots[nfree++] = slot;
		inflight--;
	}
}

static int rw1(struct vt_queue *qq, uint32_t type, uint64_t sector, void *buf, uint32_t len)
{
	struct vt_seg sg = { (uint64_t)(uintptr_t)buf, len };
	return vt_blk_rw(qq, type, sector, &sg, len ? 1 : 0, NULL);
}

/* DISCARD / WRITE_ZEROES: one 16-byte range descriptor as the data. */
static int range_req(struct vt_queue *qq, uint32_t type, uint64_t sector, uint32_t n)
{
	static struct {
		uint64_t sector;
		uint32_t num, flags;
	} rng __attribute__((aligned(16)));
	rng.sector = sector;
	rng.num = n;
	rng.flags = 0;
	struct vt_seg sg = { (uint64_t)(uintptr_t)&rng, sizeof(rng) };
	return vt_blk_rw(qq, type, 0, &sg, 1, NULL);
}

static int all_zero(const uint8_t *p, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

static void expect(int got, int want, const char *what)
{
	if (got != want)
		rt_fail(NAME, "%s: status %d, want %d%s", what, got, want,
			got == -2 ? " (device NEEDS_RESET)" : got == -1 ? " (no completion)" : "");
	rt_printf("  %s: status %d ok\n", what, got);
}

static void test_ro_disk(void)
{
	if (vt_open(&rodisk, VIRTIO_ID_BLOCK, 1))
		rt_fail(NAME, "second disk missing");
	if (vt_init(&rodisk, VT_BLK_F_RO | VT_BLK_F_FLUSH | VT_BLK_F_SEG_MAX | VT_BLK_F_BLK_SIZE))
		rt_fail(NAME, "second disk: init failed");
	if (!(rodisk.features & VT_BLK_F_RO))
		rt_fail(NAME, "second disk does not offer VIRTIO_BLK_F_RO (features %lx)", rodisk.offered);
	if (vt_queue_init(&roq, &rodisk, 0, 16, ring1))
		rt_fail(NAME, "second disk: queue setup failed");
	vt_driver_ok(&rodisk);
	static uint8_t before[4096] __attribute__((aligned(4096)));
	expect(rw1(&roq, VT_BLK_T_IN, 0, before, 4096), VT_BLK_S_OK, "ro disk: read 8 sectors");
	for (unsigned i = 0; i < 4096; i++)
		small[i] = (uint8_t)(i * 7 + 1);
	int st = rw1(&roq, VT_BLK_T_OUT, 0, small, 4096);
	int want = VT_BLK_S_UNSUPP;
	if (rt_flag("vblk.qemu") && st == VT_BLK_S_IOERR)
		want = VT_BLK_S_IOERR; /* QEMU's answer, see the header */
	expect(st, want, "ro disk: write -> UNSUPP");
	/* docs/virtio.md: DISCARD and WRITE_ZEROES only on writable disks
	 * (QEMU 7.2 offers them on read-only drives too). */
	if (!rt_flag("vblk.qemu") && (rodisk.offered & (VT_BLK_F_WRITE_ZEROES | VT_BLK_F_DISCARD)))
		rt_fail(NAME, "ro disk offers DISCARD/WRITE_ZEROES (features %lx)", rodisk.offered);
	/* docs/virtio.md: discard and write-zeroes on a read-only disk are
	 * UNSUPP too, offered or not */
	st = range_req(&roq, VT_BLK_T_WRITE_ZEROES, 0, 8);
	expect(st, rt_flag("vblk.qemu") && st == VT_BLK_S_IOERR ? st : VT_BLK_S_UNSUPP,
	       "ro disk: write-zeroes -> UNSUPP");
	st = range_req(&roq, VT_BLK_T_DISCARD, 0, 8);
	expect(st, rt_flag("vblk.qemu") && (st == VT_BLK_S_IOERR || st == VT_BLK_S_OK) ? st : VT_BLK_S_UNSUPP,
	       "ro disk: discard -> UNSUPP");
	memset(small, 0x5a, 4096);
	expect(rw1(&roq, VT_BLK_T_IN, 0, small, 4096), VT_BLK_S_OK, "ro disk: read again");
	if (memcmp(small, before, 4096))
		rt_fail(NAME, "ro disk: contents changed by a refused write");
	if (vt_status(&rodisk) & VT_S_NEEDS_RESET)
		rt_fail(NAME, "ro disk: NEEDS_RESET");
}

static void user_main(void)
{
	if (vt_open(&disk, VIRTIO_ID_BLOCK, 0))
		rt_fail(NAME, "no virtio-blk device");
	rt_printf("virtio-blk at %02x.%x, common %lx notify %lx (x%u) device %lx (len %u), %u queues\n",
		  disk.devfn >> 3, disk.devfn & 7, disk.common, disk.notify, disk.notify_mul,
		  disk.device, disk.device_len, disk.num_queues);
	if (vt_init(&disk, VT_BLK_F_SEG_MAX | VT_BLK_F_BLK_SIZE | VT_BLK_F_FLUSH | VT_BLK_F_DISCARD |
			    VT_BLK_F_WRITE_ZEROES))
		rt_fail(NAME, "init failed");
	if (vt_queue_init(&q, &disk, 0, 0, ring0))
		rt_fail(NAME, "queue setup failed");
	vt_driver_ok(&disk);
	uint64_t cap = vt_cfg64(&disk, VT_BLK_CFG_CAPACITY);
	uint32_t seg_max = (disk.features & VT_BLK_F_SEG_MAX) ? vt_cfg32(&disk, VT_BLK_CFG_SEG_MAX) : 0;
	uint32_t bsz = (disk.features & VT_BLK_F_BLK_SIZE) ? vt_cfg32(&disk, VT_BLK_CFG_BLK_SIZE) : 512;
	rt_printf("features %lx, capacity %lu sectors, seg_max %u, blk_size %u, queue size %u\n",
		  disk.features, cap, seg_max, bsz, q.size);
	if (disk.offered & VT_BLK_F_RO)
		rt_fail(NAME, "the first disk claims to be read-only");
	uint64_t want_cap = rt_param_u64("sectors=", 0);
	if (want_cap && cap != want_cap)
		rt_fail(NAME, "capacity %lu sectors, expected %lu", cap, want_cap);
	if (cap < NW + 128)
		rt_fail(NAME, "disk too small (%lu sectors)", cap);
	if (seg_max && seg_max < 16)
		rt_fail(NAME, "seg_max %u too small for the test's 16-segment chains", seg_max);

	/* 1. the whole pattern area through every shape, then FLUSH */
	pass_all(VT_BLK_T_OUT, 0);
	rt_printf("  wrote %u sectors (%u request shapes, %d in flight)\n", NW, (unsigned)NSHAPES, SLOTS);
	if (disk.features & VT_BLK_F_FLUSH)
		expect(rw1(&q, VT_BLK_T_FLUSH, 0, NULL, 0), VT_BLK_S_OK, "flush");
	/* 2. read back with the shapes shifted (other boundaries) */
	pass_all(VT_BLK_T_IN, 3);
	rt_printf("  read back and compared %u sectors\n", NW);
	memset(small, 0xa5, 4096);
	expect(rw1(&q, VT_BLK_T_IN, NW, small, 4096), VT_BLK_S_OK, "read past the pattern");
	if (!all_zero(small, 4096))
		rt_fail(NAME, "sectors after the pattern are not zero");

	/* 3. GET_ID */
	static char id[21];
	memset(id, 0, sizeof(id));
	expect(rw1(&q, VT_BLK_T_GET_ID, 0, id, 20), VT_BLK_S_OK, "get_id");
	rt_printf("  serial '%s'\n", id);
	const char *want_id = rt_param("serial=");
	if (want_id) {
		char w[21];
		memset(w, 0, sizeof(w));
		for (unsigned i = 0; i < 20 && want_id[i] && want_id[i] != ' '; i++)
			w[i] = want_id[i];
		if (memcmp(w, id, 20))
			rt_fail(NAME, "serial '%s', expected '%s'", id, w);
	}

	/* 4. WRITE_ZEROES over written data, DISCARD of a zero range (both
	 * only if offered; the areas end up zero, as the image check wants) */
	if (disk.features & VT_BLK_F_WRITE_ZEROES) {
		for (unsigned i = 0; i < 4096; i++)
			small[i] = (uint8_t)(i | 1);
		expect(rw1(&q, VT_BLK_T_OUT, NW + 32, small, 4096), VT_BLK_S_OK, "write before write-zeroes");
		expect(range_req(&q, VT_BLK_T_WRITE_ZEROES, NW + 32, 8), VT_BLK_S_OK, "write-zeroes");
		memset(small, 0xa5, 4096);
		expect(rw1(&q, VT_BLK_T_IN, NW + 32, small, 4096), VT_BLK_S_OK, "read zeroed sectors");
		if (!all_zero(small, 4096))
			rt_fail(NAME, "write-zeroes left data behind");
	}
	if (disk.features & VT_BLK_F_DISCARD)
		expect(range_req(&q, VT_BLK_T_DISCARD, NW + 64, 8), VT_BLK_S_OK, "discard");

	/* 5. errors: nothing may change on the disk */
	memset(small, 0x77, 4096);
	expect(rw1(&q, VT_BLK_T_OUT, cap - 1, small, 1024), VT_BLK_S_IOERR, "write across the end");
	expect(rw1(&q, VT_BLK_T_IN, cap, small, 512), VT_BLK_S_IOERR, "read at capacity");
	expect(rw1(&q, VT_BLK_T_IN, 0xfffffffffffffff8ull, small, 4096), VT_BLK_S_IOERR,
	       "read near sector 2^64");
	expect(rw1(&q, VT_BLK_T_OUT, NW + 8, small, 100), VT_BLK_S_IOERR, "write of 100 bytes");
	expect(rw1(&q, 0x55, NW + 8, small, 512), VT_BLK_S_UNSUPP, "unknown type 0x55");
	memset(small, 0xa5, 4096);
	expect(rw1(&q, VT_BLK_T_IN, cap - 1, small, 512), VT_BLK_S_OK, "read the last sector");
	if (!all_zero(small, 512))
		rt_fail(NAME, "the last sector changed after a refused write");
	memset(small, 0xa5, 4096);
	expect(rw1(&q, VT_BLK_T_IN, NW + 8, small, 512), VT_BLK_S_OK, "read a refused target");
	if (!all_zero(small, 512))
		rt_fail(NAME, "sector %u changed after refused requests", NW + 8);
	check_healthy("the error requests");
	if (disk.features & VT_BLK_F_FLUSH)
		expect(rw1(&q, VT_BLK_T_FLUSH, 0, NULL, 0), VT_BLK_S_OK, "final flush");

	if (rt_param_u64("disks=", 1) >= 2)
		test_ro_disk();
	check_healthy("the test");
	rt_pass(NAME);
}

int guest_main(void)
{
	rt_enter_user(user_main, user_stack + sizeof(user_stack));
}
