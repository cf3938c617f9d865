/* busy_io.c — keeps a virtio-blk disk and a virtio-console busy for ever, in
 * ring 0 (so it also runs on a PVM-backed host): both queues are kept full
 * of requests, refilled as the device completes them. The host quarantines or
 * pauses the VM under it (tests/unit/vmm/test_quarantine.c) and checks that
 * neither the disk image nor the console output changes afterwards — i.e.
 * that the event thread stopped serving the rings, not only the vCPUs.
 *
 * Disk: 512 KiB writes to sector (n * 1024) % span, where span is the first
 * 32 MiB, 64 in flight: a backlog the host needs tens of milliseconds to
 * write, so I/O still in flight when the vCPUs park is visible. Each buffer
 * starts with the request number n (the rest stays zero: on a PVM-backed host
 * ring-0 code is emulated, so the guest touches as little as it can). Console: lines "busy N\n". Never returns; the host ends it.
 */
#include "rt/rt.h"
#include "rt/virtio.h"

#define NAME "busy_io"
#define QSIZE 64  /* requests kept in flight per queue (3 descriptors per disk write) */
#define BUF_BYTES (512u * 1024)
#define BUF_SECTORS (BUF_BYTES / 512)
#define SPAN_SECTORS (32u * 1024 * 1024 / 512)
#define LINE 32

static uint8_t ring_blk[65536] __attribute__((aligned(4096)));
static uint8_t ring_con[2][65536] __attribute__((aligned(4096)));
static uint8_t bufs[QSIZE][BUF_BYTES] __attribute__((aligned(4096)));
static char lines[QSIZE][LINE] __attribute__((aligned(64)));
static struct vt_dev disk, con;
static struct vt_queue bq, rxq, txq;
static struct {
	struct vt_blk_hdr h;
	volatile uint8_t status;
} req[VT_QMAX] __attribute__((aligned(64)));
static int slot_of_head[VT_QMAX];
static int line_of_head[VT_QMAX];

static unsigned fmt_line(char *out, uint64_t n)
{
	char digits[24];
	unsigned k = 0, len = 0;

	do
		digits[k++] = (char)('0' + n % 10);
	while ((n /= 10) && k < sizeof(digits));
	memcpy(out, "busy ", 5);
	len = 5;
	while (k)
		out[len++] = digits[--k];
	out[len++] = '\n';
	return len;
}

static void post_write(uint64_t n, int slot)
{
	struct vt_seg seg = { (uint64_t)(uintptr_t)bufs[slot], BUF_BYTES };
	int head;

	*(volatile uint64_t *)bufs[slot] = n + 1;
	req[slot].h.type = VT_BLK_T_OUT;
	req[slot].h.reserved = 0;
	req[slot].h.sector = (n * BUF_SECTORS) % SPAN_SECTORS;
	req[slot].status = 0xff;
	head = vt_blk_add(&bq, &req[slot].h, &seg, 1, 0, &req[slot].status);
	if (head >= 0)
		slot_of_head[head] = slot;
}

static void post_line(uint64_t n, int l)
{
	struct vt_seg seg = { (uint64_t)(uintptr_t)lines[l], fmt_line(lines[l], n) };
	int head = vt_add(&txq, &seg, 1, 0);

	if (head >= 0)
		line_of_head[head] = l; /* vt_add() published it */
}

int guest_main(void)
{
	uint64_t nblk = 0, ncon = 0;
	uint32_t len;
	int id;

	if (vt_open(&disk, VIRTIO_ID_BLOCK, 0) || vt_init(&disk, 0) ||
	    vt_queue_init(&bq, &disk, 0, VT_QMAX, ring_blk))
		return 1;
	vt_driver_ok(&disk);
	if (vt_open(&con, VIRTIO_ID_CONSOLE, 0) || vt_init(&con, 0) ||
	    vt_queue_init(&rxq, &con, 0, QSIZE, ring_con[0]) ||
	    vt_queue_init(&txq, &con, 1, QSIZE, ring_con[1]))
		return 1;
	vt_driver_ok(&con);
	rt_puts(NAME ": disk and console open; keeping both busy\n");
	for (int s = 0; s < QSIZE; s++) {
		post_write(nblk++, s);
		post_line(ncon++, s);
	}
	vt_kick(&bq);
	vt_kick(&txq);
	for (;;) {
		int kb = 0, kc = 0;

		while ((id = vt_get(&bq, &len)) >= 0) {
			post_write(nblk++, slot_of_head[id]);
			kb = 1;
		}
		while ((id = vt_get(&txq, &len)) >= 0) {
			post_line(ncon++, line_of_head[id]);
			kc = 1;
		}
		if (kb)
			vt_kick(&bq);
		if (kc)
			vt_kick(&txq);
		cpu_relax();
	}
}
