/* blk_stream.c — a stream of sequence-numbered virtio-blk writes that runs
 * across a snapshot and restore (kvm_tests.sh, "snapshot/blk-writes-in-
 * flight"): no acknowledged write may be lost or duplicated.
 *
 * The guest keeps SLOTS one-sector writes in flight at all times: write seq
 * goes to sector seq % window and holds the text record
 *     "BHSEQ <seq, 10 digits> SECTOR <seq % window, 10 digits>\n"
 * followed by zeros. A write counts as acknowledged when its completion is
 * in the used ring with status OK; every completion must name a head that is
 * in flight (a head completed twice, or one never posted, fails the test).
 * The driver polls (no interrupts), so each vCPU pause lands somewhere in
 * the post/kick/poll loop with requests in flight. It stays in ring 0 (it
 * also runs on a PVM-backed /dev/kvm, which refuses port I/O from ring 3).
 *
 * It prints "STREAMING" once the whole window has been written, then keeps
 * going until the VM generation ID (X86_VMGENID_GPA, read every round)
 * changes: the VMM writes a new one on every restore. At that moment it
 * prints what was still in flight from its point of view ("RESTORED:
 * <n> in flight (seqs A..B), <m> of them completed by the device but not
 * yet seen, next seq C") — n must be > 0 for the snapshot to have been
 * taken mid-stream. It then writes window/2 more, waits for every
 * completion, reads the window back through the device, checks each sector
 * holds the newest seq that maps to it, and prints
 * "BLK-STREAM total=<T> window=<W>" and PASS.
 * The host then checks the disk image independently (same rule: sector x
 * holds the largest seq < T with seq % W == x, every record exactly once).
 *
 * Command line:
 *   window=N   sectors used (default 512; at least 64, at most capacity)
 *   max=N      fail if no restore was seen after N writes (default 50000000)
 */
#include "rt/rt.h"
#include "rt/virtio.h"

#define NAME "blk_stream"
#define SLOTS 8
#define VMGENID_GPA 0xf2000ull /* src/arch/x86/layout.h X86_VMGENID_GPA */
#define REC_LEN 35              /* "BHSEQ " 10 " SECTOR " 10 "\n" */

static uint8_t ring0[65536] __attribute__((aligned(4096)));
static uint8_t bufs[SLOTS][512] __attribute__((aligned(4096)));
static uint8_t rbuf[32768] __attribute__((aligned(4096)));
static struct vt_dev disk;
static struct vt_queue q;
static struct {
	struct vt_blk_hdr h;
	volatile uint8_t status;
} req[SLOTS] __attribute__((aligned(64)));
static int head_slot[VT_QMAX];      /* head -> slot, -1 when not in flight */
static uint64_t slot_seq[SLOTS];

static void put_dec(uint8_t *p, uint64_t v) /* 10 digits, zero-padded */
{
	for (int i = 9; i >= 0; i--, v /= 10)
		p[i] = (uint8_t)('0' + v % 10);
}

static void record(uint8_t *p, uint64_t seq, uint64_t window)
{
	memset(p, 0, 512);
	memcpy(p, "BHSEQ ", 6);
	put_dec(p + 6, seq);
	memcpy(p + 16, " SECTOR ", 8);
	put_dec(p + 24, seq % window);
	p[34] = '\n';
}

static void read_genid(uint8_t out[16])
{
	const volatile uint8_t *g = (const volatile uint8_t *)(uintptr_t)VMGENID_GPA;
	for (int i = 0; i < 16; i++)
		out[i] = g[i];
}

/* One completion: check it, free its slot. Returns the slot. */
static int complete(int id, unsigned *inflight)
{
	if (id < 0 || id >= (int)q.size || head_slot[id] < 0)
		rt_fail(NAME, "completion for head %d, which is not in flight (duplicate or "
			"never posted)", id);
	int slot = head_slot[id];
	head_slot[id] = -1;
	if (req[slot].status != VT_BLK_S_OK)
		rt_fail(NAME, "write of seq %lu: status %u", slot_seq[slot], req[slot].status);
	(*inflight)--;
	return slot;
}

int guest_main(void)
{
	uint64_t window = rt_param_u64("window=", 512), max = rt_param_u64("max=", 50000000);
	uint8_t gen0[16], gen[16];
	int free_slots[SLOTS], nfree = SLOTS;
	unsigned inflight = 0;
	uint64_t seq = 0, stop = ~0ull, t_last = rdtsc(), spins = 0;
	int restored = 0;

	if (vt_open(&disk, VIRTIO_ID_BLOCK, 0))
		rt_fail(NAME, "no virtio-blk device");
	if (vt_init(&disk, VT_BLK_F_FLUSH))
		rt_fail(NAME, "init failed");
	if (vt_queue_init(&q, &disk, 0, 32, ring0))
		rt_fail(NAME, "queue setup failed");
	vt_driver_ok(&disk);
	uint64_t cap = vt_cfg64(&disk, VT_BLK_CFG_CAPACITY);
	if (window < 64 || window > cap)
		rt_fail(NAME, "window %lu sectors: must be 64..capacity (%lu)", window, cap);
	for (unsigned i = 0; i < VT_QMAX; i++)
		head_slot[i] = -1;
	for (int k = 0; k < SLOTS; k++)
		free_slots[k] = k;
	read_genid(gen0);
	rt_printf("streaming one-sector writes over %lu sectors, %d in flight\n", window, SLOTS);

	while (seq < stop || inflight) {
		int posted = 0;
		while (seq < stop && nfree) {
			int slot = free_slots[--nfree];
			record(bufs[slot], seq, window);
			struct vt_seg sg = { (uint64_t)(uintptr_t)bufs[slot], 512 };
			req[slot].h.type = VT_BLK_T_OUT;
			req[slot].h.reserved = 0;
			req[slot].h.sector = seq % window;
			req[slot].status = 0xff;
			int head = vt_blk_add(&q, &req[slot].h, &sg, 1, 0, &req[slot].status);
			if (head < 0)
				rt_fail(NAME, "queue full with %u in flight", inflight);
			if (head_slot[head] >= 0)
				rt_fail(NAME, "head %d handed out twice", head);
			head_slot[head] = slot;
			slot_seq[slot] = seq++;
			inflight++;
			posted = 1;
			if (seq == window)
				rt_printf("STREAMING\n");
		}
		if (posted)
			vt_kick(&q);
		read_genid(gen);
		if (!restored && memcmp(gen, gen0, 16)) {
			/* The first round after a restore: what the snapshot caught. */
			uint64_t lo = ~0ull, hi = 0;
			uint16_t unseen = (uint16_t)(vt_used_idx(&q) - q.last_used);
			for (unsigned h = 0; h < q.size; h++)
				if (head_slot[h] >= 0) {
					uint64_t s = slot_seq[head_slot[h]];
					lo = s < lo ? s : lo;
					hi = s > hi ? s : hi;
				}
			rt_printf("RESTORED: %u in flight (seqs %lu..%lu), %u of them completed by "
				  "the device but not yet seen, next seq %lu\n", inflight,
				  inflight ? lo : 0, inflight ? hi : 0, unseen, seq);
			restored = 1;
			stop = seq + window / 2;
		}
		if (!restored && seq >= max)
			rt_fail(NAME, "no restore seen after %lu writes", seq);
		int id = vt_get(&q, NULL);
		if (id >= 0) {
			free_slots[nfree++] = complete(id, &inflight);
			spins = 0;
			t_last = rdtsc();
		} else if ((++spins & 255) == 0 && rdtsc() - t_last > 20000000000ull) {
			rt_fail(NAME, "no completion for 20e9 TSC cycles with %u in flight (lost?)",
				inflight);
		} else {
			cpu_relax();
		}
	}
	if (vt_get(&q, NULL) >= 0)
		rt_fail(NAME, "a completion beyond every request posted");
	if (vt_blk_rw(&q, VT_BLK_T_FLUSH, 0, NULL, 0, NULL) != VT_BLK_S_OK)
		rt_fail(NAME, "flush failed");

	/* Read the window back: sector x holds the newest seq < total with
	 * seq % window == x (or zeros if there is none). */
	uint64_t total = seq;
	for (uint64_t x = 0; x < window; x += 64) {
		struct vt_seg sg = { (uint64_t)(uintptr_t)rbuf, sizeof(rbuf) };
		memset(rbuf, 0xa5, sizeof(rbuf));
		if (vt_blk_rw(&q, VT_BLK_T_IN, x, &sg, 1, NULL) != VT_BLK_S_OK)
			rt_fail(NAME, "read of sector %lu failed", x);
		for (uint64_t k = 0; k < 64 && x + k < window; k++) {
			uint64_t s = x + k;
			if (s >= total)
				continue;
			s += (total - 1 - s) / window * window;
			uint8_t want[512];
			record(want, s, window);
			if (memcmp(want, rbuf + k * 512, 512)) {
				rbuf[k * 512 + REC_LEN - 1] = 0;
				rt_fail(NAME, "sector %lu holds '%s', want seq %lu", x + k,
					(const char *)rbuf + k * 512, s);
			}
		}
	}
	if (!restored)
		rt_fail(NAME, "finished without a restore");
	rt_printf("BLK-STREAM total=%lu window=%lu\n", total, window);
	rt_pass(NAME);
}
