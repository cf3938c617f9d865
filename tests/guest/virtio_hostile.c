/* virtio_hostile.c — a deliberately misbehaving virtio driver: one case per
 * hostile-driver rule of docs/virtio.md (design/hostile-guests.md cases 5, 6,
 * 8-10, 12-17, 24, 25), chosen with `case=NAME` (a comma list, or `all`).
 * (dup_head relies on a read being in flight while the device pops the
 * next entry, as bulkhead's io_uring backend does under the device lock.)
 * Runs in ring 3 against the first virtio-blk disk (a scratch image: the
 * recovery check writes sectors 200-207).
 *
 * Protocol violations in a queue must set DEVICE_NEEDS_RESET (0x40) in
 * device_status and the configuration-change bit in ISR; then the driver
 * resets, sets the device up again and a write + read-back of 8 sectors must
 * round-trip. Register-level abuse must be ignored (values read back as the
 * contract says) and leave the device working. Each case prints what it saw;
 * the first broken expectation fails the guest (status 1).
 *
 * Case list: `case=list` prints it. Cases marked "QEMU differs" in cases()
 * behave differently under QEMU 7.2 (tests/guest/run-qemu.py runs them as
 * expected failures, each with the symptom it prints there).
 */
#include "rt/pci.h"
#include "rt/rt.h"
#include "rt/virtio.h"

#define NAME "virtio_hostile"
#define MIB (1024u * 1024u)

static uint8_t user_stack[16384] __attribute__((aligned(16)));
static uint8_t ring[65536] __attribute__((aligned(4096)));
static uint8_t ring2[65536] __attribute__((aligned(4096)));
static uint8_t data[8192] __attribute__((aligned(4096)));
static uint8_t itab[4096] __attribute__((aligned(4096)));
static struct vt_dev d;
static struct vt_queue q;
static struct {
	struct vt_blk_hdr h;
	uint8_t pad[16];
	volatile uint8_t status;
} rq __attribute__((aligned(64)));
static const char *cur = "?";
static uint64_t ram_end; /* end of the usable RAM region holding 1 MiB */

#define FAIL(...) rt_fail(NAME, __VA_ARGS__)
#define CHECK(cond, ...)                                                    \
	do {                                                                \
		if (!(cond)) {                                              \
			rt_printf("%s: ", cur);                             \
			FAIL(__VA_ARGS__);                                  \
		}                                                           \
	} while (0)

/* Full, well-behaved bring-up: reset, negotiate, queue 0, DRIVER_OK. */
static void setup(void)
{
	CHECK(vt_init(&d, VT_BLK_F_SEG_MAX | VT_BLK_F_BLK_SIZE | VT_BLK_F_FLUSH) == 0, "init failed");
	CHECK(vt_queue_init(&q, &d, 0, 0, ring) == 0, "queue setup failed");
	vt_driver_ok(&d);
	CHECK(vt_status(&d) == (VT_S_ACKNOWLEDGE | VT_S_DRIVER | VT_S_FEATURES_OK | VT_S_DRIVER_OK),
	      "status %x after bring-up", vt_status(&d));
}

/* A good request round-trips: 8 sectors written at 200 and read back. */
static void roundtrip(const char *when)
{
	struct vt_seg sg = { (uint64_t)(uintptr_t)data, 4096 };
	for (unsigned i = 0; i < 4096; i++)
		data[i] = (uint8_t)(i * 13 + 5);
	int st = vt_blk_rw(&q, VT_BLK_T_OUT, 200, &sg, 1, NULL);
	CHECK(st == VT_BLK_S_OK, "write %s: status %d", when, st);
	memset(data, 0, 4096);
	st = vt_blk_rw(&q, VT_BLK_T_IN, 200, &sg, 1, NULL);
	CHECK(st == VT_BLK_S_OK, "read %s: status %d", when, st);
	for (unsigned i = 0; i < 4096; i++)
		CHECK(data[i] == (uint8_t)(i * 13 + 5), "read-back mismatch %s at byte %u", when, i);
	uint8_t s = vt_status(&d);
	CHECK(!(s & (VT_S_NEEDS_RESET | VT_S_FAILED)), "status %x %s", s, when);
	rt_printf("  %s: a request round-trips %s\n", cur, when);
}

/* After a violation: NEEDS_RESET (bounded wait), ISR config bit, then reset,
 * bring-up and a good round trip. */
static void expect_needs_reset(void)
{
	uint64_t t0 = rdtsc();
	uint8_t s;
	while (!((s = vt_status(&d)) & VT_S_NEEDS_RESET) && rdtsc() - t0 < 20000000000ull)
		rt_delay_cycles(200000); /* each read is an exit: leave the VMM CPU time */
	CHECK(s & VT_S_NEEDS_RESET, "no DEVICE_NEEDS_RESET (status %x, used idx %u)", s, vt_used_idx(&q));
	uint8_t isr = mmio_read8(d.isr);
	rt_printf("  %s: status %x (NEEDS_RESET), ISR %x\n", cur, s, isr);
	CHECK(isr & 2, "ISR %x lacks the configuration-change bit", isr);
	CHECK(vt_reset(&d) == 0, "reset after NEEDS_RESET failed");
	setup();
	roundtrip("after reset");
}

static void desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	q.desc[i].addr = addr;
	q.desc[i].len = len;
	q.desc[i].flags = flags;
	q.desc[i].next = next;
}

static uint64_t A(const volatile void *p) { return (uint64_t)(uintptr_t)p; }

/* Header for a request, descriptor 0 = header (readable, NEXT -> 1). */
static void hdr(uint32_t type, uint64_t sector)
{
	rq.h.type = type;
	rq.h.reserved = 0;
	rq.h.sector = sector;
	rq.status = 0xff;
	desc(0, A(&rq.h), 16, VT_DESC_F_NEXT, 1);
}

static void post(uint16_t head)
{
	vt_publish(&q, head);
	vt_kick(&q);
}

/* ---------------- queue protocol violations ---------------- */
static void c_loop(void)
{
	hdr(VT_BLK_T_OUT, 300);
	desc(1, A(data), 512, VT_DESC_F_NEXT, 2);
	desc(2, A(data + 512), 512, VT_DESC_F_NEXT, 1); /* 0 -> 1 -> 2 -> 1 ... */
	post(0);
	expect_needs_reset();
}

static void c_next_oob(void)
{
	hdr(VT_BLK_T_IN, 300);
	desc(1, A(data), 512, VT_DESC_F_NEXT | VT_DESC_F_WRITE, q.size); /* next == size */
	post(0);
	expect_needs_reset();
}

static void c_zero_len(void)
{
	hdr(VT_BLK_T_OUT, 300);
	desc(1, A(data), 0, VT_DESC_F_NEXT, 2);
	desc(2, A(&rq.status), 1, VT_DESC_F_WRITE, 0);
	post(0);
	expect_needs_reset();
}

static void c_len_overflow(void)
{
	/* 100 readable segments of 48 MiB over the same RAM: 4.8 GB > 2^32 - 1,
	 * each segment valid on its own, fewer than 128 segments. */
	uint64_t base = 4 * MIB, len = 48 * MIB;
	CHECK(ram_end >= base + len, "needs RAM up to %lu MiB (have %lu MiB)", (base + len) / MIB, ram_end / MIB);
	hdr(VT_BLK_T_OUT, 0);
	for (unsigned i = 1; i <= 100; i++)
		desc(i, base, (uint32_t)len, VT_DESC_F_NEXT, (uint16_t)(i + 1));
	desc(101, A(&rq.status), 1, VT_DESC_F_WRITE, 0);
	post(0);
	expect_needs_reset();
	/* nothing was written: sector 0 still reads zero */
	struct vt_seg sg = { A(data), 512 };
	memset(data, 0xa5, 512);
	CHECK(vt_blk_rw(&q, VT_BLK_T_IN, 0, &sg, 1, NULL) == 0, "read of sector 0 failed");
	for (unsigned i = 0; i < 512; i++)
		CHECK(data[i] == 0, "sector 0 was written by a rejected chain");
}

static void c_read_after_write(void)
{
	hdr(VT_BLK_T_IN, 300);
	desc(1, A(data), 512, VT_DESC_F_NEXT | VT_DESC_F_WRITE, 2);
	desc(2, A(data + 512), 512, VT_DESC_F_NEXT, 3); /* readable after writable */
	desc(3, A(&rq.status), 1, VT_DESC_F_WRITE, 0);
	post(0);
	expect_needs_reset();
}

static void c_too_many_segs(void)
{
	/* header + 130 data + status = 132 segments > 128 */
	CHECK(q.size >= 132, "queue too small (%u)", q.size);
	hdr(VT_BLK_T_OUT, 300);
	for (unsigned i = 1; i <= 130; i++)
		desc(i, A(data + 512 * (i % 8)), 512, VT_DESC_F_NEXT, (uint16_t)(i + 1));
	desc(131, A(&rq.status), 1, VT_DESC_F_WRITE, 0);
	post(0);
	expect_needs_reset();
}

static void bad_buffer(uint64_t addr, uint32_t len)
{
	hdr(VT_BLK_T_IN, 300);
	desc(1, addr, len, VT_DESC_F_NEXT | VT_DESC_F_WRITE, 2);
	desc(2, A(&rq.status), 1, VT_DESC_F_WRITE, 0);
	post(0);
	expect_needs_reset();
}

static void c_beyond_ram(void) { bad_buffer(ram_end, 4096); }
static void c_straddle_ram(void) { bad_buffer(ram_end - 2048, 4096); }
static void c_in_hole(void) { bad_buffer(0xd0000000u, 4096); }

static void c_indirect(void)
{
	/* INDIRECT without VIRTIO_RING_F_INDIRECT_DESC negotiated (vt_init never
	 * accepts it); the table itself is well-formed. */
	CHECK(!(d.features & VT_F_INDIRECT_DESC), "indirect negotiated");
	volatile struct vt_desc *t = (volatile struct vt_desc *)itab;
	rq.h.type = VT_BLK_T_IN;
	rq.h.sector = 300;
	rq.status = 0xff;
	t[0] = (struct vt_desc){ A(&rq.h), 16, VT_DESC_F_NEXT, 1 };
	t[1] = (struct vt_desc){ A(data), 512, VT_DESC_F_NEXT | VT_DESC_F_WRITE, 2 };
	t[2] = (struct vt_desc){ A(&rq.status), 1, VT_DESC_F_WRITE, 0 };
	desc(0, A(itab), 48, VT_DESC_F_INDIRECT, 0);
	post(0);
	expect_needs_reset();
}

static void c_avail_ahead(void)
{
	hdr(VT_BLK_T_IN, 300);
	desc(1, A(data), 512, VT_DESC_F_NEXT | VT_DESC_F_WRITE, 2);
	desc(2, A(&rq.status), 1, VT_DESC_F_WRITE, 0);
	for (unsigned i = 0; i < q.size; i++)
		q.avail[2 + i] = 0;
	q.avail[1] = (uint16_t)(q.size + 1); /* size + 1 entries "available" */
	vt_kick(&q);
	expect_needs_reset();
}

static void c_dup_head(void)
{
	/* The same head offered twice in one batch while the first is in
	 * flight (a read: the device hands it to its backend before popping
	 * the next entry). */
	hdr(VT_BLK_T_IN, 300);
	desc(1, A(data), 512, VT_DESC_F_NEXT | VT_DESC_F_WRITE, 2);
	desc(2, A(&rq.status), 1, VT_DESC_F_WRITE, 0);
	vt_publish(&q, 0);
	vt_publish(&q, 0);
	vt_kick(&q);
	expect_needs_reset();
}

/* ---------------- virtio-blk framing (not violations: completed) ---------------- */
static int complete_raw(uint16_t head, uint32_t *len)
{
	post(head);
	int id = vt_wait(&q, len, 0);
	CHECK(id == head, "completion: id %d (want %u)", id, head);
	return id;
}

static void c_blk_badframe(void)
{
	uint32_t len = 7;
	unsigned b = q.size / 2;
	/* no device-writable status byte */
	rq.h.type = VT_BLK_T_IN;
	rq.h.sector = 300;
	rq.status = 0xee;
	desc(b, A(&rq.h), 16, VT_DESC_F_NEXT, (uint16_t)(b + 1));
	desc(b + 1, A(&rq.status), 1, 0, 0);
	complete_raw((uint16_t)b, &len);
	CHECK(len == 0 && rq.status == 0xee, "no writable status: used len %u, status %x", len, rq.status);
	/* header only 8 readable bytes */
	desc(b, A(&rq.h), 8, VT_DESC_F_NEXT, (uint16_t)(b + 1));
	desc(b + 1, A(&rq.status), 1, VT_DESC_F_WRITE, 0);
	len = 7;
	complete_raw((uint16_t)b, &len);
	CHECK(len == 0 && rq.status == 0xee, "short header: used len %u, status %x", len, rq.status);
	/* a chain of the header alone */
	desc(b, A(&rq.h), 16, 0, 0);
	len = 7;
	complete_raw((uint16_t)b, &len);
	CHECK(len == 0 && rq.status == 0xee, "header-only chain: used len %u, status %x", len, rq.status);
	rt_printf("  %s: all three completed with used length 0, no status\n", cur);
	roundtrip("after unusable framing");
}

static void c_blk_wrongdir(void)
{
	unsigned b = q.size / 2;
	/* IN whose data is device-readable */
	hdr(VT_BLK_T_IN, 300);
	desc(b, A(&rq.h), 16, VT_DESC_F_NEXT, (uint16_t)(b + 1));
	desc(b + 1, A(data), 512, VT_DESC_F_NEXT, (uint16_t)(b + 2));
	desc(b + 2, A(&rq.status), 1, VT_DESC_F_WRITE, 0);
	complete_raw((uint16_t)b, NULL);
	CHECK(rq.status == VT_BLK_S_IOERR, "IN with readable data: status %x, want IOERR", rq.status);
	/* OUT whose data is device-writable */
	hdr(VT_BLK_T_OUT, 300);
	desc(b, A(&rq.h), 16, VT_DESC_F_NEXT, (uint16_t)(b + 1));
	desc(b + 1, A(data), 512, VT_DESC_F_NEXT | VT_DESC_F_WRITE, (uint16_t)(b + 2));
	complete_raw((uint16_t)b, NULL);
	CHECK(rq.status == VT_BLK_S_IOERR, "OUT with writable data: status %x, want IOERR", rq.status);
	rt_printf("  %s: both IOERR\n", cur);
	roundtrip("after wrong-direction requests");
}

static void c_blk_getid_short(void)
{
	struct vt_seg sg = { A(data), 8 };
	int st = vt_blk_rw(&q, VT_BLK_T_GET_ID, 0, &sg, 1, NULL);
	CHECK(st == VT_BLK_S_IOERR, "GET_ID with 8 bytes: status %d, want IOERR", st);
	roundtrip("after a short GET_ID");
}

/* ---------------- register abuse ---------------- */
/* Up to FEATURES_OK, no queue touched yet. */
static void to_features_ok(void)
{
	CHECK(vt_init(&d, VT_BLK_F_SEG_MAX | VT_BLK_F_BLK_SIZE | VT_BLK_F_FLUSH) == 0, "init failed");
}

static void qsize_case(uint16_t bad)
{
	to_features_ok();
	vt_w16(&d, VT_Q_SELECT, 0);
	uint16_t max = vt_c16(&d, VT_Q_SIZE);
	if (bad == 1)
		bad = (uint16_t)(max * 2); /* "too big": twice the offered maximum */
	vt_w16(&d, VT_Q_SIZE, bad);
	uint16_t got = vt_c16(&d, VT_Q_SIZE);
	rt_printf("  %s: queue_size max %u, wrote %u, reads %u\n", cur, max, bad, got);
	CHECK(got == max, "queue_size %u after writing %u (max %u): not ignored", got, bad, max);
	vt_reset(&d);
	setup();
	roundtrip("afterwards");
}
static void c_qsize_zero(void) { qsize_case(0); }
static void c_qsize_npot(void) { qsize_case(100); }
static void c_qsize_big(void) { qsize_case(1); }

static void c_qreg_before_fok(void)
{
	CHECK(vt_reset(&d) == 0, "reset");
	vt_w8(&d, VT_STATUS, VT_S_ACKNOWLEDGE | VT_S_DRIVER);
	vt_w16(&d, VT_Q_SELECT, 0);
	uint16_t max = vt_c16(&d, VT_Q_SIZE);
	vt_w16(&d, VT_Q_SIZE, 16);
	vt_w64(&d, VT_Q_DESC, A(ring2));
	uint16_t sz = vt_c16(&d, VT_Q_SIZE);
	uint64_t dsc = vt_r64(&d, VT_Q_DESC);
	rt_printf("  %s: before FEATURES_OK: size %u (max %u), desc %lx\n", cur, sz, max, dsc);
	CHECK(sz == max && dsc == 0, "queue registers written before FEATURES_OK");
	setup();
	roundtrip("afterwards");
}

static void c_qreg_after_ok(void)
{
	vt_w16(&d, VT_Q_SELECT, 0);
	uint16_t sz = vt_c16(&d, VT_Q_SIZE);
	uint64_t dsc = vt_r64(&d, VT_Q_DESC), drv = vt_r64(&d, VT_Q_DRIVER), dev = vt_r64(&d, VT_Q_DEVICE);
	vt_w16(&d, VT_Q_SIZE, (uint16_t)(sz / 2));
	vt_w64(&d, VT_Q_DESC, A(ring2));
	vt_w64(&d, VT_Q_DRIVER, A(ring2) + 8192);
	vt_w64(&d, VT_Q_DEVICE, A(ring2) + 16384);
	vt_w16(&d, VT_Q_ENABLE, 0);
	rt_printf("  %s: after DRIVER_OK: size %u->%u, desc %lx->%lx, enable %u\n", cur, sz,
		  vt_c16(&d, VT_Q_SIZE), dsc, vt_r64(&d, VT_Q_DESC), vt_c16(&d, VT_Q_ENABLE));
	CHECK(vt_c16(&d, VT_Q_SIZE) == sz && vt_r64(&d, VT_Q_DESC) == dsc &&
		      vt_r64(&d, VT_Q_DRIVER) == drv && vt_r64(&d, VT_Q_DEVICE) == dev &&
		      vt_c16(&d, VT_Q_ENABLE) == 1,
	      "queue registers changed after DRIVER_OK");
	roundtrip("with the original rings");
}

static void c_qreg_enabled(void)
{
	/* an enabled queue before DRIVER_OK: its registers are frozen too */
	to_features_ok();
	CHECK(vt_queue_init(&q, &d, 0, 0, ring) == 0, "queue setup");
	uint16_t sz = vt_c16(&d, VT_Q_SIZE);
	uint64_t dsc = vt_r64(&d, VT_Q_DESC);
	vt_w16(&d, VT_Q_SIZE, (uint16_t)(sz / 2));
	vt_w64(&d, VT_Q_DESC, A(ring2));
	CHECK(vt_c16(&d, VT_Q_SIZE) == sz && vt_r64(&d, VT_Q_DESC) == dsc,
	      "registers of an enabled queue changed (size %u, desc %lx)", vt_c16(&d, VT_Q_SIZE),
	      vt_r64(&d, VT_Q_DESC));
	vt_driver_ok(&d);
	roundtrip("with the original rings");
}

static void c_qsel_range(void)
{
	to_features_ok();
	uint16_t sels[] = { d.num_queues, (uint16_t)(d.num_queues + 1), 0x7fff, 0xffff };
	for (unsigned i = 0; i < 4; i++) {
		vt_w16(&d, VT_Q_SELECT, sels[i]);
		vt_w16(&d, VT_Q_SIZE, 16);
		vt_w64(&d, VT_Q_DESC, A(ring2));
		vt_w64(&d, VT_Q_DRIVER, A(ring2) + 8192);
		vt_w64(&d, VT_Q_DEVICE, A(ring2) + 16384);
		vt_w16(&d, VT_Q_MSIX, 0);
		vt_w16(&d, VT_Q_ENABLE, 1);
		uint16_t sz = vt_c16(&d, VT_Q_SIZE), en = vt_c16(&d, VT_Q_ENABLE);
		uint16_t mv = vt_c16(&d, VT_Q_MSIX), no = vt_c16(&d, VT_Q_NOTIFY_OFF);
		uint64_t dsc = vt_r64(&d, VT_Q_DESC), drv = vt_r64(&d, VT_Q_DRIVER), dev = vt_r64(&d, VT_Q_DEVICE);
		rt_printf("  %s: select %u: size %u enable %u msix %x notify_off %u desc %lx\n", cur,
			  sels[i], sz, en, mv, no, dsc);
		CHECK(!sz && !en && !mv && !no && !dsc && !drv && !dev,
		      "queue %u (of %u) registers not all 0", sels[i], d.num_queues);
	}
	vt_reset(&d);
	setup();
	roundtrip("afterwards");
}

static void c_notify_range(void)
{
	uint16_t idx[] = { d.num_queues, (uint16_t)(d.num_queues + 7), 0x8000, 0xffff };
	for (unsigned i = 0; i < 4; i++) {
		mmio_write16(d.notify, idx[i]);
		mmio_write16(q.notify_addr, idx[i]);
	}
	roundtrip("after out-of-range notifications");
}

static void c_msix_range(void)
{
	CHECK(d.msix_cap, "no MSI-X capability");
	unsigned n = (pci_read16((unsigned)d.devfn, d.msix_cap + 2) & 0x7ff) + 1;
	to_features_ok();
	vt_w16(&d, VT_MSIX_CONFIG, 0);
	CHECK(vt_c16(&d, VT_MSIX_CONFIG) == 0, "config vector 0 reads %x", vt_c16(&d, VT_MSIX_CONFIG));
	uint16_t bad[] = { (uint16_t)n, (uint16_t)(n + 1), 0x7ff, 0xfffe };
	for (unsigned i = 0; i < 4; i++) {
		vt_w16(&d, VT_MSIX_CONFIG, bad[i]);
		uint16_t c = vt_c16(&d, VT_MSIX_CONFIG);
		vt_w16(&d, VT_Q_SELECT, 0);
		vt_w16(&d, VT_Q_MSIX, bad[i]);
		uint16_t qv = vt_c16(&d, VT_Q_MSIX);
		rt_printf("  %s: table size %u, vector %u: config reads %x, queue reads %x\n", cur, n,
			  bad[i], c, qv);
		CHECK(c == VT_NO_VECTOR && qv == VT_NO_VECTOR, "out-of-range vector not NO_VECTOR");
	}
	vt_w16(&d, VT_MSIX_CONFIG, VT_NO_VECTOR);
	vt_reset(&d);
	setup();
	roundtrip("afterwards");
}

static void c_features_unoffered(void)
{
	CHECK(vt_reset(&d) == 0, "reset");
	vt_w8(&d, VT_STATUS, VT_S_ACKNOWLEDGE | VT_S_DRIVER);
	vt_w32(&d, VT_DFSELECT, 0);
	uint64_t off = vt_c32(&d, VT_DF);
	vt_w32(&d, VT_DFSELECT, 1);
	off |= (uint64_t)vt_c32(&d, VT_DF) << 32;
	uint64_t extra = 0;
	for (unsigned b = 0; b < 64 && !extra; b++) /* the lowest bit not offered */
		if (!(off & (1ull << b)))
			extra = 1ull << b;
	vt_write_features(&d, off | extra);
	vt_w8(&d, VT_STATUS, VT_S_ACKNOWLEDGE | VT_S_DRIVER | VT_S_FEATURES_OK);
	uint8_t s = vt_status(&d);
	rt_printf("  %s: offered %lx, accepted %lx: status %x\n", cur, off, off | extra, s);
	CHECK(!(s & VT_S_FEATURES_OK), "FEATURES_OK stuck with an unoffered bit");
	setup();
	roundtrip("after a refused negotiation");
}

static void c_features_nov1(void)
{
	CHECK(vt_reset(&d) == 0, "reset");
	vt_w8(&d, VT_STATUS, VT_S_ACKNOWLEDGE | VT_S_DRIVER);
	vt_write_features(&d, 0);
	vt_w8(&d, VT_STATUS, VT_S_ACKNOWLEDGE | VT_S_DRIVER | VT_S_FEATURES_OK);
	uint8_t s = vt_status(&d);
	rt_printf("  %s: accepted 0 (no VERSION_1): status %x\n", cur, s);
	CHECK(!(s & VT_S_FEATURES_OK), "FEATURES_OK stuck without VERSION_1");
	setup();
	roundtrip("after a refused negotiation");
}

static void ring_case(uint64_t desc_a, uint64_t avail_a, uint64_t used_a)
{
	to_features_ok();
	vt_w16(&d, VT_Q_SELECT, 0);
	vt_w16(&d, VT_Q_SIZE, 16);
	vt_w64(&d, VT_Q_DESC, desc_a);
	vt_w64(&d, VT_Q_DRIVER, avail_a);
	vt_w64(&d, VT_Q_DEVICE, used_a);
	vt_w16(&d, VT_Q_ENABLE, 1);
	uint16_t en = vt_c16(&d, VT_Q_ENABLE);
	rt_printf("  %s: desc %lx avail %lx used %lx: queue_enable reads %u\n", cur, desc_a, avail_a, used_a, en);
	CHECK(en == 0, "queue enabled with bad rings");
	vt_reset(&d);
	setup();
	roundtrip("afterwards");
}

static void c_ring_misaligned(void)
{
	uint64_t r = A(ring2);
	ring_case(r + 8, r + 4096, r + 8192);      /* desc 8 mod 16 */
	ring_case(r, r + 4096 + 1, r + 8192);      /* avail odd */
	ring_case(r, r + 4096, r + 8192 + 2);      /* used 2 mod 4 */
}

static void c_ring_hole(void)
{
	uint64_t r = A(ring2);
	ring_case(0xd0000000u, r + 4096, r + 8192);
	ring_case(r, 0xd0000000u, r + 8192);
	ring_case(r, r + 4096, 0xd0000000u);
	ring_case(r, r + 4096, ram_end - 64); /* used ring (6 + 8*16 bytes) straddles the end of RAM */
}

/* ---------------- PCI configuration space ---------------- */
static void c_pci_identity(void)
{
	/* docs/virtio.md: host bridge at 00:00.0, the disk at 00:01.0, revision 1,
	 * subsystem 1af4:<device ID>, INTx pin A */
	unsigned fn = (unsigned)d.devfn;
	CHECK(pci_read16(0, PCI_VENDOR_ID) != 0xffff, "no host bridge at 00:00.0");
	CHECK(pci_read8(0, PCI_CLASS + 2) == 6 && pci_read8(0, PCI_CLASS + 1) == 0,
	      "00:00.0 class %x, not a host bridge", pci_read32(0, 8) >> 8);
	CHECK(fn == 0x08, "first disk at %02x.%x, not 01.0", fn >> 3, fn & 7);
	CHECK(pci_read8(fn, PCI_REVISION) == 1, "revision %u", pci_read8(fn, PCI_REVISION));
	CHECK(pci_read16(fn, PCI_SUBSYS_VENDOR) == VT_VENDOR && pci_read16(fn, PCI_SUBSYS_ID) == VIRTIO_ID_BLOCK,
	      "subsystem %x:%x", pci_read16(fn, PCI_SUBSYS_VENDOR), pci_read16(fn, PCI_SUBSYS_ID));
	CHECK(pci_read8(fn, PCI_INT_LINE + 1) == 1, "interrupt pin %u", pci_read8(fn, PCI_INT_LINE + 1));
	uint32_t bar0 = pci_read32(fn, PCI_BAR0);
	CHECK(!(bar0 & 7) && (bar0 & ~0xfu) >= PCI_WINDOW_BASE && (bar0 & ~0xfu) < PCI_WINDOW_END,
	      "BAR0 %x is not a 32-bit memory BAR in the PCI window", bar0);
	rt_printf("  %s: host bridge, 01.0, revision 1, subsystem 1af4:2, pin A, BAR0 %x ok\n", cur, bar0);
}

static void c_pcicfg(void)
{
	unsigned fn = (unsigned)d.devfn;
	/* missing functions: all ones at every width */
	unsigned missing = 0;
	for (unsigned f = 0xf8; f < 0x100 && !missing; f++) /* 00:1f.x, unused in the cases */
		if (pci_read16(f, 0) == 0xffff)
			missing = f;
	CHECK(missing, "no missing function found in 00:1f");
	CHECK(pci_read32(missing, 0) == 0xffffffffu && pci_read16(missing, 2) == 0xffff &&
		      pci_read8(missing, 3) == 0xff && pci_read32(missing, 0x40) == 0xffffffffu,
	      "missing function %02x.%x does not read all ones", missing >> 3, missing & 7);
	pci_write32(missing, 0x04, 0x7);
	CHECK(pci_read32(missing, 4) == 0xffffffffu, "a write made a missing function appear");
	/* read-only registers ignore writes */
	uint32_t id = pci_read32(fn, 0), cls = pci_read32(fn, 8);
	pci_write32(fn, 0, 0x12345678u);
	pci_write32(fn, 8, 0);
	pci_write8(fn, PCI_CAP_PTR, 0x00);
	CHECK(pci_read32(fn, 0) == id && pci_read32(fn, 8) == cls && pci_read8(fn, PCI_CAP_PTR) != 0,
	      "read-only header registers changed");
	/* byte/word reads of the data port see the right lanes */
	CHECK(pci_read8(fn, 1) == ((id >> 8) & 0xff) && pci_read16(fn, 2) == (id >> 16) &&
		      pci_read8(fn, 3) == (id >> 24),
	      "sub-dword config reads wrong");
	/* non-dword accesses to 0xCF8 do not change the address */
	outl(pci_addr(0, 0), PCI_CFG_ADDR);
	uint32_t hb = inl(PCI_CFG_DATA);
	outl(pci_addr(fn, 0), PCI_CFG_ADDR);
	outb(0, PCI_CFG_ADDR);
	outw(0, PCI_CFG_ADDR);
	CHECK(inl(PCI_CFG_DATA) == id, "a byte/word write to 0xCF8 changed the address (host bridge %x)", hb);
	rt_printf("  %s: missing function %02x.%x, read-only registers, 0xCF8 widths ok\n",
		  cur, missing >> 3, missing & 7);
	roundtrip("afterwards");
}

static void c_pcicfg_ext(void)
{
	/* CF8 bits 24-27 (the extended-register bits some chipsets use) set:
	 * mechanism #1 reaches only 256 bytes, so the access must either read
	 * all ones or be the same register with those bits ignored — never
	 * anything else (an index past the 256-byte space). Writes likewise. */
	unsigned fn = (unsigned)d.devfn;
	for (unsigned reg = 0x100; reg < 0x1000; reg += 0x2fc) {
		uint32_t v = pci_read32(fn, reg), low = pci_read32(fn, reg & 0xfc);
		CHECK(v == 0xffffffffu || v == low, "config register %x reads %x (register %x: %x)", reg,
		      v, reg & 0xfc, low);
		rt_printf("  %s: register %x reads %x (%s)\n", cur, reg, v,
			  v == 0xffffffffu ? "all ones" : "aliases the low register");
	}
	uint32_t id = pci_read32(fn, 0);
	pci_write32(fn, 0x100, 0); /* vendor/device: read-only either way */
	CHECK(pci_read32(fn, 0) == id && (pci_read16(fn, PCI_COMMAND) & PCI_CMD_MEM),
	      "a write with bits 24-27 set changed the header");
	roundtrip("afterwards");
}

static void c_devcfg_range(void)
{
	/* The blk config space is < 256 bytes. Reads at 0xf8 (inside the cap's
	 * window when it is larger) or just past the window read all ones. */
	uint32_t off = d.device_len > 0xfc ? 0xf8 : d.device_len;
	uint32_t v = vt_cfg32(&d, off);
	uint8_t b = vt_cfg8(&d, off + 3);
	rt_printf("  %s: device cfg window %u bytes, read at %x: %x / %x\n", cur, d.device_len, off, v, b);
	CHECK(v == 0xffffffffu && b == 0xff, "device-config read beyond its length: %x", v);
	roundtrip("afterwards");
}

/* ---------------- table ---------------- */
struct hcase {
	const char *name;
	void (*fn)(void);
	const char *qemu; /* NULL: QEMU 7.2 behaves the same; else how it differs */
};

static const struct hcase cases[] = {
	{ "loop", c_loop, NULL },
	{ "next_oob", c_next_oob, NULL },
	{ "zero_len", c_zero_len, NULL },
	{ "len_overflow", c_len_overflow, "no total-length check: IOERR (past the end)" },
	{ "read_after_write", c_read_after_write, NULL },
	{ "too_many_segs", c_too_many_segs, "accepts up to seg_max 254: completes OK" },
	{ "beyond_ram", c_beyond_ram, "maps unassigned addresses through a bounce buffer: completes" },
	{ "straddle_ram", c_straddle_ram, "maps unassigned addresses through a bounce buffer: completes" },
	{ "in_hole", c_in_hole, "maps unassigned addresses through a bounce buffer: completes" },
	{ "indirect", c_indirect, "processes INDIRECT without negotiation" },
	{ "avail_ahead", c_avail_ahead, NULL },
	{ "dup_head", c_dup_head, "does not track heads in flight: serves both" },
	{ "blk_badframe", c_blk_badframe, "NEEDS_RESET instead of completing with length 0" },
	{ "blk_wrongdir", c_blk_wrongdir, "treats wrong-direction data as absent: OK" },
	{ "blk_getid_short", c_blk_getid_short, "truncates the serial: OK" },
	{ "qsize_zero", c_qsize_zero, NULL },
	{ "qsize_npot", c_qsize_npot, "accepts sizes that are not powers of two" },
	{ "qsize_big", c_qsize_big, "accepts sizes up to 1024" },
	{ "qreg_before_fok", c_qreg_before_fok, "queue registers writable before FEATURES_OK" },
	{ "qreg_after_ok", c_qreg_after_ok, "queue registers writable after DRIVER_OK" },
	{ "qreg_enabled", c_qreg_enabled, "registers of an enabled queue writable" },
	{ "qsel_range", c_qsel_range, "keeps per-index register copies; 0xffff select ignored" },
	{ "notify_range", c_notify_range, NULL },
	{ "msix_range", c_msix_range, NULL },
	{ "features_unoffered", c_features_unoffered, "masks unoffered bits, FEATURES_OK sticks" },
	{ "features_nov1", c_features_nov1, "FEATURES_OK sticks without VERSION_1" },
	{ "ring_misaligned", c_ring_misaligned, "does not validate ring alignment" },
	{ "ring_hole", c_ring_hole, "does not validate ring placement" },
	{ "pci_identity", c_pci_identity, "subsystem ID 0x1100, not the device ID" },
	{ "pcicfg", c_pcicfg, NULL },
	{ "pcicfg_ext", c_pcicfg_ext, NULL },
	{ "devcfg_range", c_devcfg_range, NULL },
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

static int token_eq(const char *s, const char *name)
{
	size_t n = strlen(name);
	return !memcmp(s, name, n) && (s[n] == 0 || s[n] == ' ' || s[n] == ',');
}

static void run(const struct hcase *c)
{
	cur = c->name;
	rt_printf("case %s\n", c->name);
	CHECK(vt_reset(&d) == 0, "reset");
	setup();
	c->fn();
}

static void user_main(void)
{
	const char *sel = rt_param("case=");
	if (!sel || token_eq(sel, "list")) {
		for (unsigned i = 0; i < NCASES; i++)
			rt_printf("%s%s%s%s\n", cases[i].name, cases[i].qemu ? "  (QEMU 7.2 differs: " : "",
				  cases[i].qemu ? cases[i].qemu : "", cases[i].qemu ? ")" : "");
		rt_exit(sel ? 0 : 2);
	}
	struct rt_mem_region r[32];
	int n = rt_mem_map(r, 32);
	for (int i = 0; i < n; i++)
		if (r[i].type == 1 && r[i].addr <= MIB && r[i].addr + r[i].size > MIB)
			ram_end = r[i].addr + r[i].size;
	CHECK(ram_end, "no RAM region around 1 MiB");
	if (vt_open(&d, VIRTIO_ID_BLOCK, 0))
		FAIL("no virtio-blk device");
	unsigned ran = 0;
	for (const char *s = sel; *s && *s != ' ';) {
		int found = 0;
		for (unsigned i = 0; i < NCASES; i++)
			if (token_eq(s, cases[i].name) || token_eq(s, "all") ||
			    (token_eq(s, "qemu") && !cases[i].qemu)) {
				run(&cases[i]);
				ran++;
				found = 1;
			}
		if (!found)
			FAIL("unknown case '%s' (case=list)", s);
		while (*s && *s != ' ' && *s != ',')
			s++;
		if (*s == ',')
			s++;
	}
	rt_printf("%u case(s) done\n", ran);
	rt_pass(NAME);
}

int guest_main(void)
{
	rt_enter_user(user_main, user_stack + sizeof(user_stack));
}
