/* net_guest.c — the network benchmark guest (tests/guest/rt runtime and its
 * virtio-pci driver, rt/virtio.h). Set-up (PCI configuration: port I/O) runs
 * in ring 0, the data path in ring 3: on a PVM-backed host every ring-0
 * instruction is emulated while ring 3 runs natively, and the data path only
 * touches memory and MMIO (the notify register). Ring 3 reaches ring 0 for
 * its few COM1 lines and its exit through `ud2` (rt_exc_handled below): port
 * I/O from ring 3 faults on such a host.
 *
 * Command line:
 *   role=echo            answer every benchmark frame (UDP 10.0.9.x port 4000,
 *                        "BHNB" + seq) with source and destination MAC and IP
 *                        swapped, until the stop frame (seq 0xffffffff):
 *                        echo it too, then exit 0
 *   role=ping            measure against a peer (first probing it until it
 *                        answers: it may still be booting), two timed phases:
 *                        "R[" ... "R]": rtt=N round trips of 60-byte frames,
 *                        one in flight (latency);
 *                        "T[" ... "T]": n=N round trips of size=S-byte frames
 *                        (default 1514), win=W in flight (default 8; the
 *                        switch's port sockets queue about 10 messages)
 *                        (throughput); then the stop frame and exit 0
 *   peer=MAC             (ping) the echo VM's MAC: UDP to it
 *   host                 (ping) instead: ICMP echo to 10.0.2.1 on a tap whose
 *                        host side answers (ARP first; the guest is 10.0.2.2)
 *   smp                  bring up the other vCPUs (they halt): a VM with 2
 *                        vCPUs whose NIC is driven from the first
 * The driver (bench/net.c) times the markers on the VMM's stdout. No frame
 * may be lost: nothing echoed for ~5 s fails the run (status 1), as does a
 * wrong-sized echo.
 */
#include "rt/rt.h"
#include "rt/virtio.h"

#define NAME "net_guest"
#define VIRTIO_ID_NET 1
#define F_MAC (1ull << 5)
#define QSZ 128
#define BUFSZ 2048
#define HDR 12
#define WIN_MAX 64
#define STOP 0xffffffffu
#define PROBE 0xfffffffeu /* "are you there": until the echo VM answers */
#define SEC 3000000000ull /* ~1 s of TSC on the hosts we run on */

static uint8_t user_stack[16384] __attribute__((aligned(16)));
static uint8_t ring_rx[65536] __attribute__((aligned(4096)));
static uint8_t ring_tx[65536] __attribute__((aligned(4096)));
static uint8_t rxbuf[QSZ][BUFSZ] __attribute__((aligned(4096)));
static uint8_t txbuf[QSZ][BUFSZ] __attribute__((aligned(4096)));
static int rx_slot[VT_QMAX], tx_slot[VT_QMAX];
static int tx_free[QSZ], ntx_free;
static unsigned rx_unkicked;
static struct vt_dev nic;
static struct vt_queue rxq, txq;
static uint8_t mymac[6], peermac[6];
static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t my_ip[4] = { 10, 0, 2, 2 }, host_ip[4] = { 10, 0, 2, 1 };
static const uint8_t vm_ip[2][4] = { { 10, 0, 9, 1 }, { 10, 0, 9, 2 } };

/* ---- ring 3 -> ring 0: ud2 with a request in memory ---- */
static const char *volatile say_msg;
static volatile int exit_req = -1;

int rt_exc_handled(struct rt_exc_frame *f)
{
	const uint8_t *ip = (const uint8_t *)f->rip;

	if (f->vector != 6 || (f->cs & 3) != 3 || ip[0] != 0x0f || ip[1] != 0x0b)
		return 0;
	if (say_msg) {
		rt_puts(say_msg);
		say_msg = 0;
	}
	if (exit_req >= 0)
		rt_exit((uint32_t)exit_req);
	f->rip += 2;
	return 1;
}

static void say(const char *s)
{
	if (rt_cpl() == 0) {
		rt_puts(s);
		return;
	}
	say_msg = s;
	__asm__ volatile("ud2" ::: "memory");
}

__attribute__((noreturn)) static void finish(int status, const char *s)
{
	exit_req = status;
	say_msg = s;
	if (rt_cpl() == 0) {
		rt_puts(s);
		rt_exit((uint32_t)status);
	}
	__asm__ volatile("ud2" ::: "memory");
	for (;;)
		;
}

/* ---- frames ---- */
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static uint32_t sum16(const uint8_t *p, unsigned n, uint32_t s)
{
	for (unsigned i = 0; i + 1 < n; i += 2)
		s += get16(p + i);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* IPv4 header at ip (20 bytes), protocol proto, total length len. */
static void ip_hdr(uint8_t *ip, const uint8_t *src, const uint8_t *dst, uint8_t proto,
		   unsigned len, uint16_t id)
{
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)len);
	put16(ip + 4, id);
	ip[8] = 64;
	ip[9] = proto;
	memcpy(ip + 12, src, 4);
	memcpy(ip + 16, dst, 4);
	put16(ip + 10, fold(sum16(ip, 20, 0)));
}

/* The payload is the same for every frame of a size: written once per
 * transmit buffer and size (filled[]), its checksum sum once per size. */
static uint32_t pay_sum;
static unsigned pay_len = ~0u, filled[QSZ];

static void fill_payload(uint8_t *p, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 7 + 1);
}

/* A frame of `size` bytes with sequence number seq into transmit buffer
 * `slot` (after the virtio-net header); its length. */
static unsigned build(int slot, int host, uint32_t seq, unsigned size)
{
	uint8_t *b = txbuf[slot] + HDR;
	int fill = filled[slot] != size;
	filled[slot] = size;
	memcpy(b + 6, mymac, 6);
	put16(b + 12, 0x0800);
	uint8_t *ip = b + 14;
	if (host) {
		/* ICMP echo request: 8-byte header, then seq, then the pattern */
		unsigned plen = size - 14 - 20 - 8;
		uint8_t *ic = ip + 20;
		memcpy(b, peermac, 6);
		ip_hdr(ip, my_ip, host_ip, 1, size - 14, (uint16_t)seq);
		if (fill)
			fill_payload(ic + 8, plen);
		if (plen != pay_len) {
			pay_sum = sum16(ic + 12, plen - 4, 0);
			pay_len = plen;
		}
		ic[0] = 8;
		ic[1] = 0;
		put16(ic + 2, 0);
		put16(ic + 4, 0x4248);
		put16(ic + 6, (uint16_t)seq);
		memcpy(ic + 8, &seq, 4);
		put16(ic + 2, fold(sum16(ic, 12, pay_sum)));
		return size;
	}
	memcpy(b, peermac, 6);
	ip_hdr(ip, vm_ip[0], vm_ip[1], 17, size - 14, (uint16_t)seq);
	uint8_t *u = ip + 20;
	put16(u, 4000);
	put16(u + 2, 4000);
	put16(u + 4, (uint16_t)(size - 34));
	put16(u + 6, 0); /* no UDP checksum (IPv4 allows it) */
	memcpy(u + 8, "BHNB", 4);
	memcpy(u + 12, &seq, 4);
	if (fill)
		fill_payload(u + 16, size - 50);
	return size;
}

/* The sequence number of an echo of ours (ICMP reply / swapped UDP), or -1. */
static int64_t echo_seq(const uint8_t *f, unsigned len, int host)
{
	uint32_t seq;
	if (len < 60 || memcmp(f, mymac, 6) || get16(f + 12) != 0x0800)
		return -1;
	if (host) {
		if (f[23] != 1 || f[34] != 0 || get16(f + 38) != 0x4248)
			return -1;
		memcpy(&seq, f + 42, 4);
		return seq;
	}
	if (f[23] != 17 || memcmp(f + 42, "BHNB", 4) || memcmp(f + 26, vm_ip[1], 4))
		return -1;
	memcpy(&seq, f + 46, 4);
	return seq;
}

/* ---- queues ---- */
static void post_rx(int slot)
{
	struct vt_seg s = { (uint64_t)(uintptr_t)rxbuf[slot], BUFSZ };
	int head = vt_add(&rxq, &s, 0, 1);
	if (head < 0)
		finish(1, "FAIL net_guest: receive queue full\n");
	rx_slot[head] = slot;
	if (++rx_unkicked >= QSZ / 4) {
		vt_kick(&rxq);
		rx_unkicked = 0;
	}
}

static void reclaim_tx(void)
{
	int id;
	while ((id = vt_get(&txq, NULL)) >= 0)
		if (id < VT_QMAX)
			tx_free[ntx_free++] = tx_slot[id];
}

/* Queue txbuf[slot][0..HDR+len) (header zeroed by the caller's build). */
static void queue_tx(int slot, unsigned len)
{
	struct vt_seg s = { (uint64_t)(uintptr_t)txbuf[slot], HDR + len };
	int head = vt_add(&txq, &s, 1, 0);
	if (head < 0)
		finish(1, "FAIL net_guest: transmit queue full\n");
	tx_slot[head] = slot;
}

static int take_tx(void)
{
	uint64_t t0 = rdtsc();
	while (!ntx_free) {
		reclaim_tx();
		if (rdtsc() - t0 > 5 * SEC)
			finish(1, "FAIL net_guest: transmit not completed for 5 s\n");
	}
	int slot = tx_free[--ntx_free];
	memset(txbuf[slot], 0, HDR);
	return slot;
}

/* ---- ARP (host peer) ---- */
static unsigned arp(uint8_t *b, int op, const uint8_t *tha, const uint8_t *tip)
{
	memset(b, 0, 60);
	memcpy(b, op == 1 ? bcast : tha, 6);
	memcpy(b + 6, mymac, 6);
	put16(b + 12, 0x0806);
	put16(b + 14, 1);
	put16(b + 16, 0x0800);
	b[18] = 6;
	b[19] = 4;
	put16(b + 20, (uint16_t)op);
	memcpy(b + 22, mymac, 6);
	memcpy(b + 28, my_ip, 4);
	if (op == 2)
		memcpy(b + 32, tha, 6);
	memcpy(b + 38, tip, 4);
	return 60;
}

/* An ARP request for our address: answer it (the host may re-check). */
static int arp_for_me(const uint8_t *f, unsigned len)
{
	if (len < 42 || get16(f + 12) != 0x0806 || get16(f + 20) != 1 || memcmp(f + 38, my_ip, 4))
		return 0;
	int slot = take_tx();
	filled[slot] = 0; /* the ARP frame overwrites the payload pattern */
	queue_tx(slot, arp(txbuf[slot] + HDR, 2, f + 22, f + 28));
	vt_kick(&txq);
	return 1;
}

static void resolve_host(void)
{
	for (int tries = 0; tries < 60; tries++) {
		int slot = take_tx();
		filled[slot] = 0;
		queue_tx(slot, arp(txbuf[slot] + HDR, 1, bcast, host_ip));
		vt_kick(&txq);
		uint64_t t0 = rdtsc();
		while (rdtsc() - t0 < SEC / 2) {
			uint32_t ul;
			int id = vt_get(&rxq, &ul);
			reclaim_tx();
			if (id < 0)
				continue;
			int s = rx_slot[id];
			const uint8_t *f = rxbuf[s] + HDR;
			unsigned len = ul > HDR ? ul - HDR : 0;
			int hit = len >= 42 && get16(f + 12) == 0x0806 && get16(f + 20) == 2 &&
				  !memcmp(f + 28, host_ip, 4) && !memcmp(f, mymac, 6);
			if (hit)
				memcpy(peermac, f + 22, 6);
			else
				arp_for_me(f, len);
			post_rx(s);
			if (hit)
				return;
		}
	}
	finish(1, "FAIL net_guest: no ARP reply from 10.0.2.1\n");
}

/* ---- the roles (ring 3) ---- */

/* n round trips of `size`-byte frames, `win` in flight. */
static void phase(int host, uint32_t n, unsigned win, unsigned size)
{
	uint32_t sent = 0, got = 0;
	uint64_t last = rdtsc();

	while (got < n) {
		int k = 0;
		while (sent < n && sent - got < win && ntx_free) {
			int slot = take_tx();
			queue_tx(slot, build(slot, host, sent, size));
			sent++;
			k++;
		}
		if (k)
			vt_kick(&txq);
		reclaim_tx();
		uint32_t ul;
		int id;
		while ((id = vt_get(&rxq, &ul)) >= 0) {
			int s = rx_slot[id];
			const uint8_t *f = rxbuf[s] + HDR;
			unsigned len = ul > HDR ? ul - HDR : 0;
			int64_t seq = echo_seq(f, len, host);
			if (seq == PROBE) {
				/* a late answer to the start-up probe */
			} else if (seq >= 0 && seq < sent && len >= size) {
				got++;
				last = rdtsc();
			} else if (seq >= 0) {
				finish(1, "FAIL net_guest: an echo of the wrong size or sequence\n");
			} else if (host) {
				arp_for_me(f, len);
			}
			post_rx(s);
		}
		if (rdtsc() - last > 5 * SEC)
			finish(1, "FAIL net_guest: no echo for 5 s (a frame was lost)\n");
	}
}

/* Until the echo VM answers (it may still be booting: what is sent before
 * its driver is up is lost), at most ~30 s. */
static void probe_peer(void)
{
	for (int tries = 0; tries < 150; tries++) {
		int slot = take_tx();
		queue_tx(slot, build(slot, 0, PROBE, 60));
		vt_kick(&txq);
		uint64_t t0 = rdtsc();
		while (rdtsc() - t0 < SEC / 5) {
			uint32_t ul;
			int id = vt_get(&rxq, &ul);
			reclaim_tx();
			if (id < 0)
				continue;
			int s = rx_slot[id];
			const uint8_t *f = rxbuf[s] + HDR;
			int hit = echo_seq(f, ul > HDR ? ul - HDR : 0, 0) == PROBE;
			post_rx(s);
			if (hit)
				return;
		}
	}
	finish(1, "FAIL net_guest: the echo VM never answered\n");
}

static void role_ping(void)
{
	int host = rt_flag("host");
	uint32_t rtt = (uint32_t)rt_param_u64("rtt=", 1000), n = (uint32_t)rt_param_u64("n=", 10000);
	unsigned win = (unsigned)rt_param_u64("win=", 8), size = (unsigned)rt_param_u64("size=", 1514);

	if (win < 1 || win > WIN_MAX || size < 60 || size > 1514)
		finish(1, "FAIL net_guest: win=1..64, size=60..1514\n");
	if (host)
		resolve_host();
	else
		probe_peer();
	say("R[\n");
	phase(host, rtt, 1, 60);
	say("R]\n");
	say("T[\n");
	phase(host, n, win, size);
	say("T]\n");
	if (!host) {
		int slot = take_tx();
		queue_tx(slot, build(slot, 0, STOP, 60));
		vt_kick(&txq);
		uint64_t t0 = rdtsc();
		while (ntx_free < QSZ && rdtsc() - t0 < SEC)
			reclaim_tx();
	}
	finish(0, "PASS net_guest\n");
}

static void role_echo(void)
{
	int stopping = 0;
	for (;;) {
		uint32_t ul;
		int id, k = 0;
		while ((id = vt_get(&rxq, &ul)) >= 0) {
			int s = rx_slot[id];
			uint8_t *f = rxbuf[s] + HDR;
			unsigned len = ul > HDR ? ul - HDR : 0;
			uint32_t seq;
			if (len >= 60 && len <= 1514 && get16(f + 12) == 0x0800 && f[23] == 17 &&
			    !memcmp(f + 42, "BHNB", 4) && !memcmp(f + 30, vm_ip[1], 4)) {
				int t = take_tx();
				uint8_t *o = txbuf[t] + HDR;
				memcpy(o, f + 6, 6);
				memcpy(o + 6, mymac, 6);
				memcpy(o + 12, f + 12, len - 12);
				memcpy(o + 26, vm_ip[1], 4);
				memcpy(o + 30, f + 26, 4);
				queue_tx(t, len);
				k++;
				memcpy(&seq, f + 46, 4);
				if (seq == STOP)
					stopping = 1;
			}
			post_rx(s);
		}
		if (k)
			vt_kick(&txq);
		reclaim_tx();
		if (stopping && ntx_free == QSZ)
			finish(0, "PASS net_guest\n");
	}
}

static void user_main(void)
{
	const char *role = rt_param("role=");
	if (role && !memcmp(role, "ping", 4))
		role_ping();
	else if (role && !memcmp(role, "echo", 4))
		role_echo();
	finish(1, "FAIL net_guest: role=ping|echo missing\n");
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 32);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int guest_main(void)
{
	if (rt_flag("smp"))
		rt_start_aps();
	const char *peer = rt_param("peer=");
	for (unsigned i = 0; peer && i < 6; i++) {
		int hi = hexval(peer[3 * i]), lo = hexval(peer[3 * i + 1]);
		if (hi < 0 || lo < 0)
			rt_fail(NAME, "peer=MAC malformed");
		peermac[i] = (uint8_t)(hi * 16 + lo);
	}
	if (vt_open(&nic, VIRTIO_ID_NET, 0))
		rt_fail(NAME, "no virtio-net device");
	if (vt_init(&nic, F_MAC))
		rt_fail(NAME, "init failed");
	if (!(nic.features & F_MAC))
		rt_fail(NAME, "no MAC offered");
	if (vt_queue_init(&rxq, &nic, 0, QSZ, ring_rx) || vt_queue_init(&txq, &nic, 1, QSZ, ring_tx))
		rt_fail(NAME, "queue setup failed (size %u)", QSZ);
	for (unsigned i = 0; i < 6; i++)
		mymac[i] = vt_cfg8(&nic, i);
	for (int i = 0; i < QSZ; i++)
		tx_free[ntx_free++] = i;
	for (int i = 0; i < QSZ; i++)
		post_rx(i);
	vt_driver_ok(&nic);
	vt_kick(&rxq);
	rx_unkicked = 0;
	rt_printf("net_guest: mac %x:%x:%x:%x:%x:%x\n", mymac[0], mymac[1], mymac[2], mymac[3],
		  mymac[4], mymac[5]);
	if (rt_flag("ring0"))
		user_main();
	rt_enter_user(user_main, user_stack + sizeof(user_stack));
}
