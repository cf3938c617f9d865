/* virtio_balloon.c — a virtio-balloon driver, well-behaved and hostile
 * (design/hostile-guests.md cases 38-43), one scenario per `case=`:
 *   normal      num_pages is the target (target_pages=N), the stats buffer is
 *               taken, inflated pages read back as zero (the host released
 *               them), pages never named keep their data, deflate, free page
 *               reporting of 64 pages in 4 ranges (zero afterwards, the rest
 *               intact), `actual` written
 *   outside     inflate PFNs past RAM, in the MMIO hole, 2^32-1, and one
 *               page twice; deflate one never inflated: served, counted,
 *               the device stays healthy, only the one real page is released
 *   flood       one inflate chain of 8192 PFNs (read up to 4096), then 60
 *               chains of 4096 PFNs kicked once (the device defers past its
 *               per-notify budget and still completes all), a malformed and
 *               lying stats buffer: all served, the device healthy
 *   report_bad  an unaligned reported range (refused, the page intact), then a
 *               reported range in the MMIO hole: the queue rejects the chain,
 *               the device needs reset; after a reset it works again
 * vb.qemu (tests/guest/run-qemu.py): num_pages starts at 0 (QEMU's target
 * is set over QMP).
 * The host's end-of-run line ("virtio-balloon: held ...", cases.txt) checks
 * the counters. Runs in ring 0 (MMIO only: natively on every host kind).
 */
#include "rt/rt.h"
#include "rt/virtio.h"

#define NAME "virtio_balloon"
#define VIRTIO_ID_BALLOON 5
#define F_STATS (1ull << 1)
#define F_DEFLATE_ON_OOM (1ull << 2)
#define F_MUST_TELL_HOST (1ull << 0)
#define F_REPORTING (1ull << 5)
#define NPAGES 256
#define QSIZE 64

static uint8_t rings[4][8192] __attribute__((aligned(4096)));
static uint8_t pages[NPAGES][4096] __attribute__((aligned(4096)));
static uint32_t pfns[8192] __attribute__((aligned(4096)));
static uint8_t stats[16 * 10] __attribute__((aligned(64)));
static struct vt_dev d;
static struct vt_queue q[4]; /* inflate, deflate, stats, reporting */

#define FAIL(...) rt_fail(NAME, __VA_ARGS__)
#define CHECK(cond, ...)                                                    \
	do {                                                                \
		if (!(cond))                                                \
			FAIL(__VA_ARGS__);                                  \
	} while (0)

static uint32_t pfn_of(unsigned page)
{
	return (uint32_t)((uint64_t)(uintptr_t)pages[page] / 4096);
}

/* Whole 64-bit words: ring-0 code is emulated on some hosts (PVM), so the
 * checks stay cheap. */
static uint64_t word(unsigned page, unsigned i)
{
	return ((uint64_t)page << 40) ^ (i * 0x9e3779b97f4a7c15ull) ^ 0x62616c6c6f6f6e21ull;
}

static void fill(unsigned page)
{
	uint64_t *w = (uint64_t *)(void *)pages[page];

	for (unsigned i = 0; i < 512; i++)
		w[i] = word(page, i);
}

static int intact(unsigned page)
{
	const uint64_t *w = (const uint64_t *)(const void *)pages[page];

	for (unsigned i = 0; i < 512; i++)
		if (w[i] != word(page, i))
			return 0;
	return 1;
}

static int zero(unsigned page)
{
	const uint64_t *w = (const uint64_t *)(const void *)pages[page];

	for (unsigned i = 0; i < 512; i++)
		if (w[i])
			return 0;
	return 1;
}

static void healthy(const char *when)
{
	uint8_t st = vt_status(&d);

	CHECK(!(st & (VT_S_NEEDS_RESET | VT_S_FAILED)), "device_status %x after %s", st, when);
}

static void put_stat(unsigned i, uint16_t tag, uint64_t v)
{
	memcpy(stats + 10 * i, &tag, 2);
	memcpy(stats + 10 * i + 2, &v, 8);
}

static void setup(void)
{
	CHECK(vt_init(&d, F_STATS | F_DEFLATE_ON_OOM | F_REPORTING | F_MUST_TELL_HOST) == 0,
	      "init failed");
	CHECK((d.offered & (F_STATS | F_DEFLATE_ON_OOM | F_REPORTING)) ==
		      (F_STATS | F_DEFLATE_ON_OOM | F_REPORTING),
	      "features offered %lx: stats, deflate-on-oom and reporting expected", d.offered);
	CHECK(!(d.offered & F_MUST_TELL_HOST), "MUST_TELL_HOST offered");
	for (unsigned i = 0; i < 4; i++)
		CHECK(vt_queue_init(&q[i], &d, i, i == 3 ? 32 : QSIZE, rings[i]) == 0,
		      "queue %u setup failed", i);
	/* Linux posts its stats buffer before DRIVER_OK. */
	put_stat(0, 4, 12345);          /* free memory */
	put_stat(1, 5, 64ull << 20);    /* total memory */
	struct vt_seg s = { (uint64_t)(uintptr_t)stats, 20 };
	CHECK(vt_add(&q[2], &s, 1, 0) >= 0, "stats buffer");
	vt_driver_ok(&d);
	vt_kick(&q[2]);
	healthy("bring-up");
}

/* One chain of n PFNs (from pfns[]) on queue qi; wait for it. */
static void send(unsigned qi, unsigned n, const char *what)
{
	struct vt_seg s = { (uint64_t)(uintptr_t)pfns, 4 * n };
	uint32_t len;
	int head = vt_add(&q[qi], &s, 1, 0);

	CHECK(head >= 0, "%s: queue full", what);
	vt_kick(&q[qi]);
	int id = vt_wait(&q[qi], &len, 0);
	CHECK(id == head, "%s: used id %d, expected %d", what, id, head);
	healthy(what);
}

/* Report ranges (device-writable segments, as Linux posts them). */
static int report(const struct vt_seg *s, unsigned n, const char *what)
{
	uint32_t len;
	int head = vt_add(&q[3], s, 0, n);

	CHECK(head >= 0, "%s: queue full", what);
	vt_kick(&q[3]);
	int id = vt_wait(&q[3], &len, 0);
	CHECK(id == head || id == -2, "%s: used id %d, expected %d", what, id, head);
	return id;
}

static void case_normal(void)
{
	/* vb.qemu: QEMU sets the target over QMP only, so it starts at 0. */
	uint32_t target = rt_flag("vb.qemu") ? 0 : (uint32_t)rt_param_u64("target_pages=", 0);

	CHECK(vt_cfg32(&d, 0) == target, "num_pages %u, target %u", vt_cfg32(&d, 0), target);
	for (unsigned p = 0; p < NPAGES; p++)
		fill(p);
	for (unsigned p = 0; p < 128; p++)
		pfns[p] = pfn_of(p);
	send(0, 128, "inflate 128 pages");
	for (unsigned p = 0; p < 128; p++)
		CHECK(zero(p), "inflated page %u still holds data: not released", p);
	for (unsigned p = 128; p < NPAGES; p++)
		CHECK(intact(p), "page %u was never given and changed", p);
	mmio_write32(d.device + 4, 128); /* `actual`: the driver's claim */
	CHECK(vt_cfg32(&d, 4) == 128, "actual reads %u", vt_cfg32(&d, 4));
	for (unsigned p = 0; p < 64; p++)
		pfns[p] = pfn_of(p);
	send(1, 64, "deflate 64 pages");
	/* A deflated page is the guest's again. */
	fill(0);
	CHECK(intact(0), "deflated page 0 does not keep data");
	struct vt_seg r[4];

	for (unsigned k = 0; k < 4; k++) {
		r[k].addr = (uint64_t)(uintptr_t)pages[128 + 16 * k];
		r[k].len = 16 * 4096;
	}
	report(r, 4, "report 64 pages");
	for (unsigned p = 128; p < 192; p++)
		CHECK(zero(p), "reported page %u still holds data: not released", p);
	for (unsigned p = 192; p < NPAGES; p++)
		CHECK(intact(p), "page %u was never reported and changed", p);
	healthy("reporting");
	rt_printf("normal: inflate, deflate and free page reporting gave memory back\n");
}

static void case_outside(void)
{
	for (unsigned p = 0; p < 4; p++)
		fill(p);
	pfns[0] = (uint32_t)(64ull << 20 >> 12);  /* just past 64 MiB of RAM */
	pfns[1] = 0xc0000;                         /* 3 GiB: the MMIO hole */
	pfns[2] = 0xffffffffu;
	pfns[3] = pfn_of(0);
	pfns[4] = pfn_of(0);                       /* twice */
	send(0, 5, "inflate outside RAM");
	CHECK(zero(0), "page 0 was not released");
	for (unsigned p = 1; p < 4; p++)
		CHECK(intact(p), "page %u changed", p);
	pfns[0] = pfn_of(1);                       /* never inflated */
	pfns[1] = pfn_of(0);
	send(1, 2, "deflate");
	CHECK(intact(1), "page 1 changed");
	rt_printf("outside: bad PFNs refused, the device healthy\n");
}

static void case_flood(void)
{
	uint32_t len;

	fill(5);
	for (unsigned i = 0; i < 8192; i++)
		pfns[i] = 0x100000u + i; /* 4 GiB and up: beyond this VM's RAM */
	send(0, 8192, "one chain of 8192 PFNs");
	struct vt_seg s = { (uint64_t)(uintptr_t)pfns, 4 * 4096 };

	for (unsigned c = 0; c < 60; c++)
		CHECK(vt_add(&q[0], &s, 1, 0) >= 0, "flood: queue full at %u", c);
	vt_kick(&q[0]);
	for (unsigned c = 0; c < 60; c++)
		CHECK(vt_wait(&q[0], &len, 0) >= 0, "flood: chain %u never completed", c);
	healthy("flood");
	/* Stats that lie (free > total) in a malformed buffer (11 bytes). The
	 * first buffer is still with the device: this one makes it return it. */
	put_stat(0, 4, ~0ull >> 1);
	struct vt_seg st = { (uint64_t)(uintptr_t)stats, 11 };

	CHECK(vt_add(&q[2], &st, 1, 0) >= 0, "stats");
	vt_kick(&q[2]);
	CHECK(vt_wait(&q[2], &len, 0) >= 0, "the first stats buffer did not come back");
	healthy("lying stats");
	CHECK(intact(5), "page 5 changed");
	rt_printf("flood: every chain served, the device healthy\n");
}

static void case_report_bad(void)
{
	struct vt_seg r = { (uint64_t)(uintptr_t)pages[7] + 8, 100 };

	fill(7);
	fill(8);
	CHECK(report(&r, 1, "unaligned range") >= 0, "unaligned range: needs reset");
	healthy("an unaligned range");
	CHECK(intact(7), "page 7 changed");
	r.addr = 0xc0000000ull; /* the MMIO hole */
	r.len = 4096;
	CHECK(report(&r, 1, "range in the MMIO hole") == -2,
	      "a range in the MMIO hole did not make the device need reset");
	CHECK(intact(8), "page 8 changed");
	rt_printf("report_bad: needs reset as expected; resetting\n");
	setup();
	pfns[0] = pfn_of(8);
	send(0, 1, "inflate after the reset");
	CHECK(zero(8), "page 8 not released after the reset");
	rt_printf("report_bad: the device works again after a reset\n");
}

int guest_main(void)
{
	const char *c = rt_param("case=");

	if (vt_open(&d, VIRTIO_ID_BALLOON, 0))
		FAIL("no virtio-balloon");
	setup();
	if (c && !memcmp(c, "normal", 6))
		case_normal();
	else if (c && !memcmp(c, "outside", 7))
		case_outside();
	else if (c && !memcmp(c, "flood", 5))
		case_flood();
	else if (c && !memcmp(c, "report_bad", 10))
		case_report_bad();
	else
		FAIL("case=normal|outside|flood|report_bad");
	rt_pass(NAME);
}
