/* blk_guest.c — the block-I/O benchmark guest (tests/guest/rt runtime and its
 * virtio-pci driver, rt/virtio.h): one phase per boot, everything in ring 3.
 *   mode=randread|randwrite  4 KiB requests at pseudo-random 4 KiB-aligned
 *                            offsets over the whole disk
 *   mode=seqread|seqwrite    1 MiB requests (16 segments of 64 KiB) in order,
 *                            wrapping at the end of the disk
 *   n=N                      requests to complete (default 1000)
 *   qd=Q                     requests kept in flight (default 16, max 32)
 * The driver (bench/bhbench.c) times '[' → ']' on COM1: '[' just before the
 * first request is posted, ']' once the N-th has completed, then exit 0
 * through the test device (QEMU: isa-debug-exit). Any request that does not
 * complete with status OK fails the run (status 1). Buffers live at 16 MiB+
 * (needs --mem 64M). The offsets come from the same LCG as bench/blk_host.c
 * (x = x * 6364136223846793005 + 1442695040888963407, offset = (x >> 33) mod
 * (disk size / request size)), so the host limit program does the same I/O.
 */
#include "rt/rt.h"
#include "rt/virtio.h"

#define COM1 0x3f8
#define QD_MAX 32
#define SEG 65536u
#define BUF_BASE ((uint64_t)0x1000000) /* 16 MiB */

static uint8_t user_stack[16384] __attribute__((aligned(16)));
static uint8_t ring[65536] __attribute__((aligned(4096)));
static struct vt_dev d;
static struct vt_queue q;
static struct {
	struct vt_blk_hdr h;
	volatile uint8_t status;
} req[QD_MAX] __attribute__((aligned(64)));
static int head_slot[VT_QMAX];

static int mode_is(const char *want)
{
	const char *m = rt_param("mode=");
	size_t n = strlen(want);
	return m && memcmp(m, want, n) == 0 && (m[n] == 0 || m[n] == ' ');
}

static void user_main(void)
{
	int rnd = mode_is("randread") || mode_is("randwrite");
	int wr = mode_is("randwrite") || mode_is("seqwrite");
	if (!rnd && !mode_is("seqread") && !mode_is("seqwrite"))
		rt_fail("blk_guest", "unknown mode (cmdline: %s)", rt_cmdline());
	uint64_t n = rt_param_u64("n=", 1000);
	unsigned qd = (unsigned)rt_param_u64("qd=", 16);
	if (qd < 1 || qd > QD_MAX)
		rt_fail("blk_guest", "qd=%u out of range 1..%u", qd, QD_MAX);
	uint32_t bytes = rnd ? 4096 : 1u << 20;
	unsigned nseg = (bytes + SEG - 1) / SEG;

	if (vt_open(&d, VIRTIO_ID_BLOCK, 0) ||
	    vt_init(&d, VT_BLK_F_SEG_MAX | VT_BLK_F_BLK_SIZE | VT_BLK_F_FLUSH) ||
	    vt_queue_init(&q, &d, 0, 0, ring))
		rt_fail("blk_guest", "virtio-blk setup failed");
	vt_driver_ok(&d);
	if ((d.features & VT_BLK_F_SEG_MAX) && vt_cfg32(&d, VT_BLK_CFG_SEG_MAX) < nseg)
		rt_fail("blk_guest", "seg_max %u < %u", vt_cfg32(&d, VT_BLK_CFG_SEG_MAX), nseg);
	if ((nseg + 2) * qd > q.size)
		rt_fail("blk_guest", "queue size %u too small for qd %u", q.size, qd);
	uint64_t slots = vt_cfg64(&d, VT_BLK_CFG_CAPACITY) / (bytes / 512);
	if (!slots)
		rt_fail("blk_guest", "disk smaller than one request");
	struct rt_mem_region r[32];
	int nr = rt_mem_map(r, 32), ram_ok = 0;
	for (int i = 0; i < nr; i++)
		if (r[i].type == 1 && r[i].addr <= BUF_BASE &&
		    r[i].addr + r[i].size >= BUF_BASE + (uint64_t)qd * bytes)
			ram_ok = 1;
	if (!ram_ok)
		rt_fail("blk_guest", "needs RAM up to %lu MiB", (BUF_BASE + (uint64_t)qd * bytes) >> 20);
	if (wr) /* something other than zeros to write */
		for (uint64_t a = BUF_BASE; a < BUF_BASE + (uint64_t)qd * bytes; a += 8)
			*(uint64_t *)(uintptr_t)a = a * 0x9e3779b97f4a7c15ull;

	uint64_t x = 1, next = 0, posted = 0, done = 0;
	int free_slot[QD_MAX], nfree = (int)qd;
	for (unsigned i = 0; i < qd; i++)
		free_slot[i] = (int)i;
	outb('[', COM1);
	while (done < n) {
		while (posted < n && nfree) {
			int s = free_slot[--nfree];
			uint64_t slot;
			if (rnd) {
				x = x * 6364136223846793005ull + 1442695040888963407ull;
				slot = (x >> 33) % slots;
			} else {
				slot = next++ % slots;
			}
			struct vt_seg sg[16];
			uint64_t buf = BUF_BASE + (uint64_t)s * bytes;
			for (unsigned j = 0; j < nseg; j++) {
				sg[j].addr = buf + (uint64_t)j * SEG;
				sg[j].len = bytes < SEG ? bytes : SEG;
			}
			req[s].h.type = wr ? VT_BLK_T_OUT : VT_BLK_T_IN;
			req[s].h.reserved = 0;
			req[s].h.sector = slot * (bytes / 512);
			req[s].status = 0xff;
			int head = vt_blk_add(&q, &req[s].h, sg, nseg, !wr, &req[s].status);
			if (head < 0)
				rt_fail("blk_guest", "queue full");
			head_slot[head] = s;
			posted++;
		}
		vt_kick(&q);
		int id = vt_wait(&q, NULL, 0);
		if (id < 0)
			rt_fail("blk_guest", "device stopped (%s) after %lu requests",
				id == -2 ? "NEEDS_RESET" : "timeout", done);
		for (; id >= 0; id = vt_get(&q, NULL)) { /* harvest all, then refill */
			int s = head_slot[id];
			if (req[s].status != VT_BLK_S_OK)
				rt_fail("blk_guest", "request at sector %lu: status %u", req[s].h.sector,
					req[s].status);
			free_slot[nfree++] = s;
			done++;
		}
	}
	outb(']', COM1);
	outb('\n', COM1);
	rt_exit(0);
}

int guest_main(void)
{
	rt_enter_user(user_main, user_stack + sizeof(user_stack));
}
