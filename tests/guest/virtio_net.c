/* virtio_net.c — drives a virtio-net NIC through the guest-side virtio-pci
 * driver (rt/virtio.h): negotiation, the 12-byte header, receive buffers,
 * transmit; exchanges IPv4 frames with a peer. Runs in ring 3 (ring0: in
 * ring 0, for hosts where ring-3 port I/O faults).
 *
 * Command line:
 *   role=echo   answer `frames=N` UDP frames "BHNET <seq>" (seq 0..N-1, in
 *               order, nothing else may arrive) back to their sender, from
 *               its own MAC (so a switch's port security passes them)
 *   role=ping   send them (sizes 60..1514, the header in its own descriptor
 *               every other frame) and check every echo; with `hostile`, first
 *               send what the device must drop: a chain shorter than the
 *               header, a 2000-byte frame (MTU 1500, no GSO), a header with
 *               NEEDS_CSUM not negotiated — the echo fails if any arrives
 *   role=tap    10.0.2.2 on a tap whose host end is 10.0.2.1: ARP for the
 *               host (retried while the host configures its end), then an
 *               ARP request with a spoofed source MAC, which port security
 *               must drop (a reply to that MAC would prove it went out),
 *               then 3 ICMP echo requests that must be answered
 *   spoof       (ping) first send one frame with a source MAC that is not
 *               the NIC's, then wait for anything: a switch must drop it and
 *               the daemon quarantine the VM (fails if an echo ever arrives)
 *   hold        (after the role) print "holding" and wait: fails if any
 *               frame arrives (a neighbour's spoofed frame must not)
 *   mac=XX:..   the MAC the device must report (config space)
 *   mrg         negotiate VIRTIO_NET_F_MRG_RXBUF (num_buffers must be 1 for
 *               these small frames)
 */
#include "rt/rt.h"
#include "rt/virtio.h"

#define NAME "virtio_net"
#define VIRTIO_ID_NET 1
#define F_MTU (1ull << 3)
#define F_MAC (1ull << 5)
#define F_MRG (1ull << 15)
#define F_STATUS (1ull << 16)
#define NBUF 32
#define BUFSZ 2048
#define HDR 12
#define SEC 3000000000ull /* ~1 s of TSC on the hosts we run on */

static uint8_t user_stack[16384] __attribute__((aligned(16)));
static uint8_t ring_rx[65536] __attribute__((aligned(4096)));
static uint8_t ring_tx[65536] __attribute__((aligned(4096)));
static uint8_t rxbufs[NBUF][BUFSZ] __attribute__((aligned(4096)));
static uint8_t txhdr[HDR] __attribute__((aligned(64)));
static uint8_t txbuf[4096] __attribute__((aligned(4096)));
static int head_buf[VT_QMAX];
static struct vt_dev nic;
static struct vt_queue rxq, txq;
static uint8_t mymac[6];
static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static uint16_t csum(const uint8_t *p, unsigned n)
{
	uint32_t s = 0;
	for (unsigned i = 0; i + 1 < n; i += 2)
		s += get16(p + i);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static void post_rx(int i)
{
	struct vt_seg s = { (uint64_t)(uintptr_t)rxbufs[i], BUFSZ };
	int head = vt_add(&rxq, &s, 0, 1);
	if (head < 0)
		rt_fail(NAME, "receive queue full");
	head_buf[head] = i;
}

static void healthy(const char *when)
{
	uint8_t st = vt_status(&nic);
	if (st & (VT_S_NEEDS_RESET | VT_S_FAILED))
		rt_fail(NAME, "device_status %x %s", st, when);
}

/* Send hdr + frame[0..len) (split: the header in its own descriptor). */
static void send_raw(const uint8_t *hdr, const uint8_t *frame, unsigned len, int split)
{
	struct vt_seg s[2];
	uint32_t ul;
	unsigned n;
	memcpy(txhdr, hdr, HDR);
	if (split) {
		memcpy(txbuf, frame, len);
		s[0] = (struct vt_seg){ (uint64_t)(uintptr_t)txhdr, HDR };
		s[1] = (struct vt_seg){ (uint64_t)(uintptr_t)txbuf, len };
		n = len ? 2 : 1;
	} else {
		memcpy(txbuf, hdr, HDR);
		memcpy(txbuf + HDR, frame, len);
		s[0] = (struct vt_seg){ (uint64_t)(uintptr_t)txbuf, HDR + len };
		n = 1;
	}
	if (vt_add(&txq, s, n, 0) < 0)
		rt_fail(NAME, "transmit queue full");
	vt_kick(&txq);
	if (vt_wait(&txq, &ul, 10 * SEC) < 0)
		rt_fail(NAME, "transmit not completed");
}

static void send_frame(const uint8_t *frame, unsigned len, int split)
{
	static const uint8_t zero[HDR];
	send_raw(zero, frame, len, split);
}

/* Next received frame into *f (pointer into the buffer, reposted after the
 * caller is done: call rx_done), length; -1 on timeout. */
static int cur = -1;
static int recv_frame(uint8_t **f, unsigned *len, uint64_t budget)
{
	uint32_t ul;
	int id = vt_wait(&rxq, &ul, budget);
	if (id == -2)
		rt_fail(NAME, "NEEDS_RESET while receiving");
	if (id < 0)
		return -1;
	if (id >= VT_QMAX || ul < HDR + 14 || ul > BUFSZ)
		rt_fail(NAME, "receive: used id %d len %u", id, ul);
	cur = head_buf[id];
	uint8_t *b = rxbufs[cur];
	uint16_t nb = (uint16_t)(b[10] | b[11] << 8);
	if (nb != 1)
		rt_fail(NAME, "num_buffers %u for a %u-byte frame", nb, ul);
	if (b[0] & ~2u)
		rt_fail(NAME, "receive header flags %x", b[0]);
	*f = b + HDR;
	*len = ul - HDR;
	return 0;
}

static void rx_done(void)
{
	post_rx(cur);
	vt_kick(&rxq);
}

/* An IPv4/UDP frame "BHNET" + seq + pattern, `len` bytes in all. */
static unsigned udp_frame(uint8_t *b, const uint8_t *dst, uint32_t seq, unsigned len)
{
	memcpy(b, dst, 6);
	memcpy(b + 6, mymac, 6);
	put16(b + 12, 0x0800);
	uint8_t *ip = b + 14;
	memset(ip, 0, 28);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(len - 14));
	put16(ip + 4, (uint16_t)seq);
	ip[8] = 64;
	ip[9] = 17;
	ip[12] = 10; ip[13] = 0; ip[14] = 9; ip[15] = 1;
	ip[16] = 10; ip[17] = 0; ip[18] = 9; ip[19] = 2;
	put16(ip + 10, csum(ip, 20));
	put16(ip + 20, 4000);
	put16(ip + 22, 4000);
	put16(ip + 24, (uint16_t)(len - 34));
	memcpy(ip + 28, "BHNET", 5);
	memcpy(ip + 33, &seq, 4);
	for (unsigned i = 14 + 28 + 9; i < len; i++)
		b[i] = (uint8_t)(seq * 31 + i);
	return len;
}

static int udp_ok(const uint8_t *b, unsigned len, uint32_t seq)
{
	uint32_t s;
	if (len < 60 || get16(b + 12) != 0x0800 || b[23] != 17 || memcmp(b + 42, "BHNET", 5))
		return 0;
	memcpy(&s, b + 47, 4);
	if (s != seq)
		return 0;
	for (unsigned i = 51; i < len; i++)
		if (b[i] != (uint8_t)(seq * 31 + i))
			return 0;
	return 1;
}

static unsigned size_of(uint32_t k) { return 60 + (k * 277) % (1514 - 60 + 1); }

static void role_echo(uint32_t n)
{
	for (uint32_t k = 0; k < n; k++) {
		uint8_t *f, tmp[6];
		unsigned len;
		if (recv_frame(&f, &len, 60 * SEC))
			rt_fail(NAME, "echo: frame %u never arrived", k);
		if (!udp_ok(f, len, k) || len != size_of(k))
			rt_fail(NAME, "echo: unexpected frame (%u bytes, ethertype %x) where #%u (%u bytes) "
				"was due", len, get16(f + 12), k, size_of(k));
		memcpy(tmp, f, 6);
		memcpy(f, f + 6, 6);
		memcpy(f + 6, mymac, 6); /* from us, whatever it was sent to */
		(void)tmp;
		memcpy(txbuf + 2048, f, len); /* out of the receive buffer first */
		rx_done();
		send_frame(txbuf + 2048, len, k & 1);
	}
	rt_printf("echoed %u frames\n", n);
}

static void role_ping(uint32_t n)
{
	static uint8_t fr[2048];
	if (rt_flag("hostile")) {
		uint8_t h[HDR];
		memset(h, 0, HDR);
		send_raw(h, fr, 0, 0);          /* 12 bytes: no frame at all */
		udp_frame(fr, bcast, 999, 60);
		send_raw(h, fr, 2, 1);          /* shorter than an Ethernet header */
		memset(fr, 0x11, sizeof(fr));
		memcpy(fr, bcast, 6);
		memcpy(fr + 6, mymac, 6);
		put16(fr + 12, 0x0800);
		send_raw(h, fr, 2000, 1);       /* over MTU 1500 without GSO */
		udp_frame(fr, bcast, 998, 100);
		h[0] = 1; h[6] = 34; h[8] = 6;  /* NEEDS_CSUM, CSUM not negotiated */
		send_raw(h, fr, 100, 0);
		healthy("after the hostile frames");
		rt_printf("sent 4 frames the device must drop\n");
	}
	if (rt_flag("spoof")) {
		static const uint8_t other[6] = { 0x02, 0xde, 0xad, 0xbe, 0xef, 0x02 };
		uint8_t *f;
		unsigned len;
		udp_frame(fr, bcast, 0, 60);
		memcpy(fr + 6, other, 6);
		send_frame(fr, 60, 0);
		rt_printf("sent a frame with a spoofed source MAC\n");
		if (recv_frame(&f, &len, 600 * SEC) == 0)
			rt_fail(NAME, "spoof: a %u-byte frame arrived (the spoofed one was answered?)", len);
		rt_fail(NAME, "spoof: still running: not quarantined");
	}
	for (uint32_t k = 0; k < n; k++) {
		uint8_t *f;
		unsigned len, sz = size_of(k);
		udp_frame(fr, bcast, k, sz);
		send_frame(fr, sz, k & 1);
		if (recv_frame(&f, &len, 60 * SEC))
			rt_fail(NAME, "ping: no echo of frame %u", k);
		if (len != sz || !udp_ok(f, len, k) || memcmp(f, mymac, 6))
			rt_fail(NAME, "ping: echo of %u wrong (%u bytes)", k, len);
		rx_done();
	}
	rt_printf("%u frames echoed intact\n", n);
}

/* ---- tap role: ARP and ICMP with the host's end ---- */
static const uint8_t my_ip[4] = { 10, 0, 2, 2 }, host_ip[4] = { 10, 0, 2, 1 };
static const uint8_t spoof[6] = { 0x02, 0xde, 0xad, 0xbe, 0xef, 0x01 };

static unsigned arp_req(uint8_t *b, const uint8_t *src)
{
	memset(b, 0, 60);
	memcpy(b, bcast, 6);
	memcpy(b + 6, src, 6);
	put16(b + 12, 0x0806);
	put16(b + 14, 1);
	put16(b + 16, 0x0800);
	b[18] = 6;
	b[19] = 4;
	put16(b + 20, 1);
	memcpy(b + 22, src, 6);
	memcpy(b + 28, my_ip, 4);
	memcpy(b + 38, host_ip, 4);
	return 60;
}

/* Wait for an ARP reply from the host to `to`; other frames are ignored
 * (IPv6 chatter of the host), except any frame addressed to the spoofed MAC. */
static int arp_wait(const uint8_t *to, uint8_t *host_mac, uint64_t budget)
{
	uint64_t t0 = rdtsc();
	while (rdtsc() - t0 < budget) {
		uint8_t *f;
		unsigned len;
		if (recv_frame(&f, &len, budget))
			return -1;
		if (!memcmp(f, spoof, 6))
			rt_fail(NAME, "a frame came back to the spoofed MAC: the spoofed request went out");
		int hit = len >= 42 && get16(f + 12) == 0x0806 && get16(f + 20) == 2 &&
			  !memcmp(f + 28, host_ip, 4) && !memcmp(f, to, 6);
		if (hit)
			memcpy(host_mac, f + 22, 6);
		rx_done();
		if (hit)
			return 0;
	}
	return -1;
}

static void role_tap(void)
{
	static uint8_t fr[2048];
	uint8_t hmac[6];
	int got = -1;
	for (int tries = 0; tries < 60 && got; tries++) {
		send_frame(fr, arp_req(fr, mymac), 0);
		got = arp_wait(mymac, hmac, SEC / 2);
	}
	if (got)
		rt_fail(NAME, "tap: no ARP reply from 10.0.2.1");
	rt_printf("host 10.0.2.1 is at %x:%x:%x:%x:%x:%x\n", hmac[0], hmac[1], hmac[2], hmac[3],
		  hmac[4], hmac[5]);
	/* Spoofed: must be dropped by port security (nothing may answer it). */
	send_frame(fr, arp_req(fr, spoof), 0);
	if (arp_wait(spoof, hmac, 2 * SEC) == 0)
		rt_fail(NAME, "tap: the host answered a spoofed ARP request");
	rt_printf("spoofed ARP request: no answer\n");
	for (uint16_t seq = 1; seq <= 3; seq++) {
		unsigned len = 14 + 20 + 8 + 56;
		memcpy(fr, hmac, 6);
		memcpy(fr + 6, mymac, 6);
		put16(fr + 12, 0x0800);
		uint8_t *ip = fr + 14;
		memset(ip, 0, 20);
		ip[0] = 0x45;
		put16(ip + 2, (uint16_t)(len - 14));
		ip[8] = 64;
		ip[9] = 1;
		memcpy(ip + 12, my_ip, 4);
		memcpy(ip + 16, host_ip, 4);
		put16(ip + 10, csum(ip, 20));
		uint8_t *ic = ip + 20;
		memset(ic, 0, 8);
		ic[0] = 8;
		put16(ic + 4, 0x4248);
		put16(ic + 6, seq);
		for (unsigned i = 8; i < 64; i++)
			ic[i] = (uint8_t)(i + seq);
		put16(ic + 2, csum(ic, 64));
		send_frame(fr, len, seq & 1);
		uint64_t t0 = rdtsc();
		int ok = 0;
		while (!ok && rdtsc() - t0 < 10 * SEC) {
			uint8_t *f;
			unsigned l;
			if (recv_frame(&f, &l, 10 * SEC))
				break;
			ok = l >= len && get16(f + 12) == 0x0800 && f[23] == 1 && f[34] == 0 &&
			     get16(f + 38) == 0x4248 && get16(f + 40) == seq &&
			     !memcmp(f + 26, host_ip, 4) && !memcmp(f + 42, ic + 8, 56);
			rx_done();
		}
		if (!ok)
			rt_fail(NAME, "tap: no echo reply %u from 10.0.2.1", seq);
	}
	rt_printf("3 ICMP echo replies from 10.0.2.1\n");
}

static void user_main(void)
{
	if (vt_open(&nic, VIRTIO_ID_NET, 0))
		rt_fail(NAME, "no virtio-net device");
	if (vt_init(&nic, F_MAC | F_STATUS | F_MTU | (rt_flag("mrg") ? F_MRG : 0)))
		rt_fail(NAME, "init failed");
	if (!(nic.features & F_MAC) || !(nic.features & F_STATUS) || !(nic.features & F_MTU))
		rt_fail(NAME, "MAC/STATUS/MTU not offered (features %lx)", nic.offered);
	if (vt_queue_init(&rxq, &nic, 0, 64, ring_rx) || vt_queue_init(&txq, &nic, 1, 64, ring_tx))
		rt_fail(NAME, "queue setup failed");
	for (unsigned i = 0; i < 6; i++)
		mymac[i] = vt_cfg8(&nic, i);
	uint16_t status = vt_cfg16(&nic, 6), mtu = vt_cfg16(&nic, 10);
	rt_printf("virtio-net mac %x:%x:%x:%x:%x:%x status %u mtu %u features %lx\n", mymac[0],
		  mymac[1], mymac[2], mymac[3], mymac[4], mymac[5], status, mtu, nic.features);
	if (!(status & 1))
		rt_fail(NAME, "link down");
	if ((mymac[0] & 3) != 2 && !rt_param("mac="))
		rt_fail(NAME, "default MAC not locally administered unicast");
	const char *want = rt_param("mac=");
	if (want) {
		for (unsigned i = 0; i < 6; i++) {
			unsigned v = 0;
			for (unsigned j = 0; j < 2; j++) {
				char c = want[3 * i + j];
				v = v * 16 + (unsigned)(c <= '9' ? c - '0' : (c | 32) - 'a' + 10);
			}
			if (mymac[i] != v)
				rt_fail(NAME, "mac byte %u is %x, expected %x", i, mymac[i], v);
		}
	}
	for (int i = 0; i < NBUF; i++)
		post_rx(i);
	vt_driver_ok(&nic);
	vt_kick(&rxq);
	const char *role = rt_param("role=");
	uint32_t n = (uint32_t)rt_param_u64("frames=", 64);
	if (role && !memcmp(role, "echo", 4))
		role_echo(n);
	else if (role && !memcmp(role, "ping", 4))
		role_ping(n);
	else if (role && !memcmp(role, "tap", 3))
		role_tap();
	else
		rt_fail(NAME, "role=echo|ping|tap missing");
	healthy("at the end");
	if (rt_flag("hold")) {
		uint8_t *f;
		unsigned len;
		rt_printf("holding\n");
		if (recv_frame(&f, &len, 600 * SEC) == 0)
			rt_fail(NAME, "hold: an unexpected %u-byte frame from %x:%x:%x:%x:%x:%x", len,
				f[6], f[7], f[8], f[9], f[10], f[11]);
	}
	rt_pass(NAME);
}

int guest_main(void)
{
	if (rt_flag("ring0"))
		user_main();
	rt_enter_user(user_main, user_stack + sizeof(user_stack));
}
