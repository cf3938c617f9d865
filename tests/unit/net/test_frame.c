/* test_frame.c — src/net/frame.c on crafted frames: parsing of Ethernet
 * (with one VLAN tag, refusing two), ARP, IPv4, IPv6 with extension headers,
 * NDP, TCP, UDP; every port-security rule (spoofed MAC, spoofed IPv4/IPv6,
 * ARP and NDP claiming another address, DAD/DHCP exceptions, rogue router
 * advertisements); the wire header check; and every truncation of every
 * valid frame parsed from an exact-size heap copy (ASan catches any read past
 * the end). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "net/frame.h"

static const uint8_t MAC_A[6] = { 0x52, 0x54, 0x00, 0x00, 0x00, 0x0a };
static const uint8_t MAC_B[6] = { 0x52, 0x54, 0x00, 0x00, 0x00, 0x0b };
static const uint8_t BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t IP_A[4] = { 10, 0, 0, 10 };
static const uint8_t IP_B[4] = { 10, 0, 0, 11 };
static const uint8_t IP6_A[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a };
static const uint8_t IP6_B[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0b };

struct fb {
	uint8_t b[256];
	size_t n;
};

static void put(struct fb *f, const void *p, size_t n)
{
	assert_true(f->n + n <= sizeof(f->b));
	memcpy(f->b + f->n, p, n);
	f->n += n;
}
static void put8(struct fb *f, unsigned v)
{
	uint8_t c = (uint8_t)v;
	put(f, &c, 1);
}
static void put16(struct fb *f, unsigned v)
{
	put8(f, v >> 8);
	put8(f, v & 0xff);
}
static void zeros(struct fb *f, size_t n)
{
	static const uint8_t z[64];
	put(f, z, n);
}

static void eth(struct fb *f, const uint8_t *dst, const uint8_t *src, unsigned et)
{
	f->n = 0;
	put(f, dst, 6);
	put(f, src, 6);
	put16(f, et);
}

/* IPv4 + L4 (TCP with doff 5 / UDP / ICMP), total length filled in. */
static void ip4(struct fb *f, const uint8_t *src, const uint8_t *dst, unsigned proto,
	unsigned sport, unsigned dport)
{
	size_t ip = f->n;
	size_t l4 = proto == 6 ? 20 : 8;
	put8(f, 0x45); put8(f, 0); put16(f, (unsigned)(20 + l4));
	put16(f, 0); put16(f, 0x4000); put8(f, 64); put8(f, proto); put16(f, 0);
	put(f, src, 4); put(f, dst, 4);
	if (proto == 6) {
		put16(f, sport); put16(f, dport); zeros(f, 8); put8(f, 0x50); put8(f, 2); zeros(f, 6);
	} else {
		put16(f, sport); put16(f, dport); put16(f, 8); put16(f, 0);
	}
	(void)ip;
}

static void arp(struct fb *f, const uint8_t *ethsrc, unsigned op, const uint8_t *sha,
	const uint8_t *spa, const uint8_t *tpa)
{
	eth(f, BCAST, ethsrc, NET_ETHERTYPE_ARP);
	put16(f, 1); put16(f, 0x0800); put8(f, 6); put8(f, 4); put16(f, op);
	put(f, sha, 6); put(f, spa, 4); zeros(f, 6); put(f, tpa, 4);
}

/* IPv6 header with payload length plen, next header nh. */
static void ip6(struct fb *f, const uint8_t *src, const uint8_t *dst, unsigned nh, unsigned plen)
{
	put8(f, 0x60); zeros(f, 3); put16(f, plen); put8(f, nh); put8(f, 255);
	put(f, src, 16); put(f, dst, 16);
}

/* An NDP message (type) with target and an optional lladdr option. */
static void ndp(struct fb *f, const uint8_t *ethsrc, const uint8_t *src, unsigned type,
	const uint8_t *target, const uint8_t *lladdr)
{
	static const uint8_t allnodes[16] = { 0xff, 0x02, [15] = 1 };
	unsigned plen = 24 + (lladdr ? 8 : 0);
	eth(f, BCAST, ethsrc, NET_ETHERTYPE_IPV6);
	ip6(f, src, allnodes, 58, plen);
	put8(f, type); put8(f, 0); put16(f, 0); zeros(f, 4);
	put(f, target, 16);
	if (lladdr) {
		put8(f, type == 135 ? 1 : 2); put8(f, 1); put(f, lladdr, 6);
	}
}

static struct net_port_id port_a(bool v4, bool v6)
{
	struct net_port_id p = { .has_ip4 = v4, .has_ip6 = v6 };
	memcpy(p.mac, MAC_A, 6);
	memcpy(p.ip4, IP_A, 4);
	memcpy(p.ip6, IP6_A, 16);
	return p;
}

/* Parse from an exact-size heap copy, then check against port. */
static enum net_drop verdict(const struct fb *f, const struct net_port_id *p, net_owned_fn fn,
	struct net_frame *out)
{
	uint8_t *copy = malloc(f->n);
	struct net_frame fr;
	assert_non_null(copy);
	memcpy(copy, f->b, f->n);
	enum net_drop r = net_frame_parse(copy, f->n, &fr);
	free(copy);
	if (out)
		*out = fr;
	if (r != NET_OK)
		return r;
	return net_port_check(p, &fr, fn, NULL);
}

/* Every prefix of a valid frame parses without reading past it. */
static void all_truncations(const struct fb *f)
{
	for (size_t n = 0; n < f->n; n++) {
		uint8_t *copy = malloc(n ? n : 1);
		struct net_frame fr;
		assert_non_null(copy);
		memcpy(copy, f->b, n);
		enum net_drop r = net_frame_parse(copy, n, &fr);
		assert_true(r == NET_OK || r == NET_DROP_MALFORMED);
		free(copy);
	}
}

static void test_ipv4_tcp_ok(void **s)
{
	(void)s;
	struct fb f;
	struct net_frame fr;
	struct net_port_id p = port_a(true, false);
	eth(&f, MAC_B, MAC_A, NET_ETHERTYPE_IPV4);
	ip4(&f, IP_A, IP_B, 6, 40000, 80);
	assert_int_equal(verdict(&f, &p, NULL, &fr), NET_OK);
	assert_int_equal(fr.ip_ver, 4);
	assert_int_equal(fr.l4_proto, 6);
	assert_true(fr.has_l4);
	assert_int_equal(fr.sport, 40000);
	assert_int_equal(fr.dport, 80);
	assert_int_equal(fr.l4_off, 34);
	assert_memory_equal(fr.ip_dst, IP_B, 4);
	all_truncations(&f);
	/* no IPv4 configured: any unicast source passes */
	p = port_a(false, false);
	eth(&f, MAC_B, MAC_A, NET_ETHERTYPE_IPV4);
	ip4(&f, IP_B, IP_B, 17, 1, 2);
	assert_int_equal(verdict(&f, &p, NULL, NULL), NET_OK);
}

static void test_spoofed_mac(void **s)
{
	(void)s;
	struct fb f;
	struct net_port_id p = port_a(true, false);
	eth(&f, MAC_A, MAC_B, NET_ETHERTYPE_IPV4);
	ip4(&f, IP_A, IP_B, 17, 1, 2);
	assert_int_equal(verdict(&f, &p, NULL, NULL), NET_DROP_SPOOF_MAC);
	/* a multicast source is never a port's */
	eth(&f, MAC_B, BCAST, NET_ETHERTYPE_IPV4);
	ip4(&f, IP_A, IP_B, 17, 1, 2);
	assert_int_equal(verdict(&f, &p, NULL, NULL), NET_DROP_SPOOF_MAC);
}

static bool b_owns(void *ctx, int fam, const uint8_t *addr)
{
	(void)ctx;
	return fam == 4 ? memcmp(addr, IP_B, 4) == 0 : memcmp(addr, IP6_B, 16) == 0;
}

/* Someone else owns every link-local (as a neighbour's learned one). */
static bool sp_owned(void *ctx, int fam, const uint8_t *addr)
{
	(void)ctx;
	return fam == 6 && addr[0] == 0xfe && (addr[1] & 0xc0) == 0x80;
}

static void test_spoofed_ip4(void **s)
{
	(void)s;
	struct fb f;
	struct net_port_id p = port_a(true, false);
	eth(&f, MAC_B, MAC_A, NET_ETHERTYPE_IPV4);
	ip4(&f, IP_B, IP_A, 17, 1, 2);
	assert_int_equal(verdict(&f, &p, NULL, NULL), NET_DROP_SPOOF_IP);
	/* unconfigured port, but another port owns the address */
	p = port_a(false, false);
	assert_int_equal(verdict(&f, &p, b_owns, NULL), NET_DROP_SPOOF_IP);
	/* DHCP from 0.0.0.0 passes; anything else from 0.0.0.0 does not */
	static const uint8_t any[4] = { 0 };
	p = port_a(true, false);
	eth(&f, BCAST, MAC_A, NET_ETHERTYPE_IPV4);
	ip4(&f, any, (const uint8_t *)"\xff\xff\xff\xff", 17, 68, 67);
	assert_int_equal(verdict(&f, &p, NULL, NULL), NET_OK);
	eth(&f, BCAST, MAC_A, NET_ETHERTYPE_IPV4);
	ip4(&f, any, IP_B, 6, 68, 67);
	assert_int_equal(verdict(&f, &p, NULL, NULL), NET_DROP_SPOOF_IP);
}

static void test_arp(void **s)
{
	(void)s;
	struct fb f;
	struct net_frame fr;
	static const uint8_t any[4] = { 0 };
	struct net_port_id p = port_a(true, false);
	arp(&f, MAC_A, 1, MAC_A, IP_A, IP_B);
	assert_int_equal(verdict(&f, &p, NULL, &fr), NET_OK);
	assert_int_equal(fr.arp_op, 1);
	assert_memory_equal(fr.arp_tpa, IP_B, 4);
	all_truncations(&f);
	/* gratuitous ARP (reply) for the neighbour's address */
	arp(&f, MAC_A, 2, MAC_A, IP_B, IP_B);
	assert_int_equal(verdict(&f, &p, NULL, NULL), NET_DROP_SPOOF_ARP);
	/* sender hardware address that is not the port's */
	arp(&f, MAC_A, 2, MAC_B, IP_A, IP_B);
	assert_int_equal(verdict(&f, &p, NULL, NULL), NET_DROP_SPOOF_ARP);
	/* a probe (sender 0.0.0.0) may ask, not answer */
	arp(&f, MAC_A, 1, MAC_A, any, IP_A);
	assert_int_equal(verdict(&f, &p, NULL, NULL), NET_OK);
	arp(&f, MAC_A, 2, MAC_A, any, IP_A);
	assert_int_equal(verdict(&f, &p, NULL, NULL), NET_DROP_SPOOF_ARP);
	/* a port without an IPv4 may not claim one another port owns */
	p = port_a(false, false);
	arp(&f, MAC_A, 2, MAC_A, IP_B, IP_B);
	assert_int_equal(verdict(&f, &p, b_owns, NULL), NET_DROP_SPOOF_ARP);
	assert_int_equal(verdict(&f, &p, NULL, NULL), NET_OK);
	/* malformed ARP: hlen 8, opcode 3 */
	arp(&f, MAC_A, 1, MAC_A, IP_A, IP_B);
	f.b[18] = 8;
	assert_int_equal(verdict(&f, &p, NULL, NULL), NET_DROP_MALFORMED);
	arp(&f, MAC_A, 3, MAC_A, IP_A, IP_B);
	assert_int_equal(verdict(&f, &p, NULL, NULL), NET_DROP_MALFORMED);
}

static void test_ethertype_and_vlan(void **s)
{
	(void)s;
	struct fb f;
	struct net_frame fr;
	struct net_port_id p = port_a(true, false);
	eth(&f, MAC_B, MAC_A, 0x88cc); /* LLDP */
	zeros(&f, 30);
	assert_int_equal(verdict(&f, &p, NULL, NULL), NET_DROP_ETHERTYPE);
	eth(&f, MAC_B, MAC_A, 0x8863); /* PPPoE */
	zeros(&f, 30);
	assert_int_equal(verdict(&f, &p, NULL, NULL), NET_DROP_ETHERTYPE);
	/* one tag: parsed through, refused by port security (hostile-guests
	 * 31: a tagged frame from a port could hop onto another VLAN) */
	eth(&f, MAC_B, MAC_A, NET_ETHERTYPE_VLAN);
	put16(&f, 42); put16(&f, NET_ETHERTYPE_IPV4);
	ip4(&f, IP_A, IP_B, 17, 5, 6);
	assert_int_equal(net_frame_parse(f.b, f.n, &fr), NET_OK);
	assert_int_equal(verdict(&f, &p, NULL, &fr), NET_DROP_ETHERTYPE);
	assert_true(fr.has_vlan);
	assert_int_equal(fr.vlan_tci, 42);
	assert_int_equal(fr.l3_off, 18);
	assert_int_equal(fr.dport, 6);
	all_truncations(&f);
	/* two tags: refused */
	eth(&f, MAC_B, MAC_A, NET_ETHERTYPE_QINQ);
	put16(&f, 1); put16(&f, NET_ETHERTYPE_VLAN); put16(&f, 2); put16(&f, NET_ETHERTYPE_IPV4);
	ip4(&f, IP_A, IP_B, 17, 5, 6);
	assert_int_equal(verdict(&f, &p, NULL, NULL), NET_DROP_ETHERTYPE);
}

static void test_malformed_ip4(void **s)
{
	(void)s;
	struct fb f;
	struct net_port_id p = port_a(true, false);
	eth(&f, MAC_B, MAC_A, NET_ETHERTYPE_IPV4);
	ip4(&f, IP_A, IP_B, 6, 1, 2);
	f.b[14] = 0x44; /* ihl 4 */
	assert_int_equal(verdict(&f, &p, NULL, NULL), NET_DROP_MALFORMED);
	eth(&f, MAC_B, MAC_A, NET_ETHERTYPE_IPV4);
	ip4(&f, IP_A, IP_B, 6, 1, 2);
	f.b[17] = 200; /* total length past the frame */
	assert_int_equal(verdict(&f, &p, NULL, NULL), NET_DROP_MALFORMED);
	eth(&f, MAC_B, MAC_A, NET_ETHERTYPE_IPV4);
	ip4(&f, IP_A, IP_B, 6, 1, 2);
	f.b[14 + 20 + 12] = 0x40; /* TCP data offset 4 */
	assert_int_equal(verdict(&f, &p, NULL, NULL), NET_DROP_MALFORMED);
	eth(&f, MAC_B, MAC_A, NET_ETHERTYPE_IPV4);
	ip4(&f, IP_A, IP_B, 6, 1, 2);
	f.b[14 + 20 + 12] = 0xf0; /* TCP data offset 60 > what is there */
	assert_int_equal(verdict(&f, &p, NULL, NULL), NET_DROP_MALFORMED);
	eth(&f, MAC_B, MAC_A, NET_ETHERTYPE_IPV4);
	ip4(&f, IP_A, IP_B, 17, 1, 2);
	f.b[14 + 20 + 5] = 3; /* UDP length 3 */
	assert_int_equal(verdict(&f, &p, NULL, NULL), NET_DROP_MALFORMED);
	eth(&f, MAC_B, MAC_A, NET_ETHERTYPE_IPV4);
	ip4(&f, IP_A, IP_B, 17, 1, 2);
	f.b[14 + 6] |= 0x80; /* reserved fragment flag */
	assert_int_equal(verdict(&f, &p, NULL, NULL), NET_DROP_MALFORMED);
	/* a later fragment has no L4 header and still passes */
	struct net_frame fr;
	eth(&f, MAC_B, MAC_A, NET_ETHERTYPE_IPV4);
	ip4(&f, IP_A, IP_B, 17, 1, 2);
	f.b[14 + 6] = 0x00;
	f.b[14 + 7] = 0x10;
	assert_int_equal(verdict(&f, &p, NULL, &fr), NET_OK);
	assert_true(fr.is_fragment);
	assert_false(fr.has_l4);
	/* padding after the IP datagram (short frames) is fine */
	eth(&f, MAC_B, MAC_A, NET_ETHERTYPE_IPV4);
	ip4(&f, IP_A, IP_B, 17, 1, 2);
	zeros(&f, 10);
	assert_int_equal(verdict(&f, &p, NULL, NULL), NET_OK);
	assert_int_equal(net_frame_parse(NULL, 0, &fr), NET_DROP_MALFORMED);
}

static void test_ipv6(void **s)
{
	(void)s;
	struct fb f;
	struct net_frame fr;
	uint8_t ll_a[16], ll_b[16];
	net_ip6_linklocal(MAC_A, ll_a);
	net_ip6_linklocal(MAC_B, ll_b);
	static const uint8_t expect_ll[16] = { 0xfe, 0x80, 0, 0, 0, 0, 0, 0,
					       0x50, 0x54, 0x00, 0xff, 0xfe, 0x00, 0x00, 0x0a };
	assert_memory_equal(ll_a, expect_ll, 16);

	struct net_port_id p = port_a(false, true);
	/* UDP from the configured address, behind a hop-by-hop and a
	 * destination-options header */
	eth(&f, MAC_B, MAC_A, NET_ETHERTYPE_IPV6);
	ip6(&f, IP6_A, IP6_B, 0, 8 + 8 + 8);
	put8(&f, 60); put8(&f, 0); zeros(&f, 6);
	put8(&f, 17); put8(&f, 0); zeros(&f, 6);
	put16(&f, 546); put16(&f, 547); put16(&f, 8); put16(&f, 0);
	assert_int_equal(verdict(&f, &p, NULL, &fr), NET_OK);
	assert_int_equal(fr.l4_proto, 17);
	assert_int_equal(fr.dport, 547);
	assert_int_equal(fr.l4_off, 14 + 40 + 16);
	all_truncations(&f);
	/* hop-by-hop not first: malformed */
	eth(&f, MAC_B, MAC_A, NET_ETHERTYPE_IPV6);
	ip6(&f, IP6_A, IP6_B, 60, 8 + 8 + 8);
	put8(&f, 0); put8(&f, 0); zeros(&f, 6);
	put8(&f, 17); put8(&f, 0); zeros(&f, 6);
	put16(&f, 546); put16(&f, 547); put16(&f, 8); put16(&f, 0);
	assert_int_equal(verdict(&f, &p, NULL, NULL), NET_DROP_MALFORMED);
	/* a chain of more than NET_IP6_MAX_EXT headers: malformed */
	eth(&f, MAC_B, MAC_A, NET_ETHERTYPE_IPV6);
	ip6(&f, IP6_A, IP6_B, 60, 8 * 10);
	for (int i = 0; i < 10; i++) {
		put8(&f, 60); put8(&f, 0); zeros(&f, 6);
	}
	assert_int_equal(verdict(&f, &p, NULL, NULL), NET_DROP_MALFORMED);
	/* payload length past the frame */
	eth(&f, MAC_B, MAC_A, NET_ETHERTYPE_IPV6);
	ip6(&f, IP6_A, IP6_B, 17, 100);
	put16(&f, 1); put16(&f, 2); put16(&f, 8); put16(&f, 0);
	assert_int_equal(verdict(&f, &p, NULL, NULL), NET_DROP_MALFORMED);
	/* another port's address, another MAC's link-local: spoofed */
	eth(&f, MAC_B, MAC_A, NET_ETHERTYPE_IPV6);
	ip6(&f, IP6_B, IP6_A, 17, 8);
	put16(&f, 1); put16(&f, 2); put16(&f, 8); put16(&f, 0);
	assert_int_equal(verdict(&f, &p, NULL, NULL), NET_DROP_SPOOF_IP);
	eth(&f, MAC_B, MAC_A, NET_ETHERTYPE_IPV6);
	ip6(&f, ll_b, IP6_A, 17, 8);
	put16(&f, 1); put16(&f, 2); put16(&f, 8); put16(&f, 0);
	assert_int_equal(verdict(&f, &p, NULL, NULL), NET_DROP_SPOOF_IP);
	/* its own link-local passes; unconfigured IPv6 but owned by B: spoofed */
	eth(&f, MAC_B, MAC_A, NET_ETHERTYPE_IPV6);
	ip6(&f, ll_a, IP6_A, 17, 8);
	put16(&f, 1); put16(&f, 2); put16(&f, 8); put16(&f, 0);
	assert_int_equal(verdict(&f, &p, NULL, NULL), NET_OK);
	/* a stable-privacy link-local (not EUI-64): the port's unless another
	 * port owns it */
	static const uint8_t ll_sp[16] = { 0xfe, 0x80, [8] = 0x3c, 0x91, 0x5e, 0x02, 0x77,
					   0xa1, 0x0b, 0x42 };
	eth(&f, MAC_B, MAC_A, NET_ETHERTYPE_IPV6);
	ip6(&f, ll_sp, IP6_A, 17, 8);
	put16(&f, 1); put16(&f, 2); put16(&f, 8); put16(&f, 0);
	assert_int_equal(verdict(&f, &p, NULL, NULL), NET_OK);
	assert_int_equal(verdict(&f, &p, sp_owned, NULL), NET_DROP_SPOOF_IP);
	p = port_a(true, false);
	eth(&f, MAC_B, MAC_A, NET_ETHERTYPE_IPV6);
	ip6(&f, IP6_B, IP6_A, 17, 8);
	put16(&f, 1); put16(&f, 2); put16(&f, 8); put16(&f, 0);
	assert_int_equal(verdict(&f, &p, NULL, NULL), NET_OK);
	assert_int_equal(verdict(&f, &p, b_owns, NULL), NET_DROP_SPOOF_IP);
}

static void test_ndp(void **s)
{
	(void)s;
	struct fb f;
	struct net_frame fr;
	uint8_t ll_a[16];
	static const uint8_t unspec[16] = { 0 };
	net_ip6_linklocal(MAC_A, ll_a);
	struct net_port_id p = port_a(false, true);

	/* NA for its own address with its own MAC */
	ndp(&f, MAC_A, ll_a, 136, IP6_A, MAC_A);
	assert_int_equal(verdict(&f, &p, NULL, &fr), NET_OK);
	assert_true(fr.nd_has_target);
	assert_true(fr.nd_has_lladdr);
	assert_memory_equal(fr.nd_target, IP6_A, 16);
	all_truncations(&f);
	/* NA claiming the neighbour's address */
	ndp(&f, MAC_A, ll_a, 136, IP6_B, MAC_A);
	assert_int_equal(verdict(&f, &p, NULL, NULL), NET_DROP_SPOOF_ARP);
	/* NA with another MAC in the target link-layer option */
	ndp(&f, MAC_A, ll_a, 136, IP6_A, MAC_B);
	assert_int_equal(verdict(&f, &p, NULL, NULL), NET_DROP_SPOOF_ARP);
	/* unconfigured IPv6: an NA for an address another port owns */
	p = port_a(false, false);
	ndp(&f, MAC_A, ll_a, 136, IP6_B, MAC_A);
	assert_int_equal(verdict(&f, &p, b_owns, NULL), NET_DROP_SPOOF_ARP);
	/* DAD: NS from :: without a link-layer option passes, with one not */
	ndp(&f, MAC_A, unspec, 135, IP6_A, NULL);
	assert_int_equal(verdict(&f, &p, NULL, NULL), NET_OK);
	ndp(&f, MAC_A, unspec, 135, IP6_A, MAC_A);
	assert_int_equal(verdict(&f, &p, NULL, NULL), NET_DROP_SPOOF_IP);
	/* NS with its own source link-layer address */
	ndp(&f, MAC_A, ll_a, 135, IP6_B, MAC_A);
	assert_int_equal(verdict(&f, &p, NULL, NULL), NET_OK);
	/* a router advertisement and a redirect from a port */
	ndp(&f, MAC_A, ll_a, 134, IP6_B, NULL);
	f.n -= 8; /* RA: 16 bytes fixed */
	f.b[14 + 5] = 16;
	assert_int_equal(verdict(&f, &p, NULL, NULL), NET_DROP_ROUTER);
	ndp(&f, MAC_A, ll_a, 137, IP6_B, NULL);
	f.n += 16; /* redirect: 40 bytes fixed */
	f.b[14 + 5] = 40;
	assert_int_equal(verdict(&f, &p, NULL, NULL), NET_DROP_ROUTER);
	/* option length 0: malformed; two lladdr options that disagree */
	ndp(&f, MAC_A, ll_a, 136, IP6_A, MAC_A);
	f.b[f.n - 7] = 0;
	assert_int_equal(verdict(&f, &p, NULL, NULL), NET_DROP_MALFORMED);
	ndp(&f, MAC_A, ll_a, 136, IP6_A, MAC_A);
	put8(&f, 2); put8(&f, 1); put(&f, MAC_B, 6);
	f.b[14 + 5] += 8;
	assert_int_equal(verdict(&f, &p, NULL, NULL), NET_DROP_MALFORMED);
	/* NDP in a fragment: malformed (RFC 6980) */
	eth(&f, BCAST, MAC_A, NET_ETHERTYPE_IPV6);
	ip6(&f, ll_a, IP6_B, 44, 8 + 24);
	put8(&f, 58); put8(&f, 0); put16(&f, 0); zeros(&f, 4);
	put8(&f, 136); put8(&f, 0); zeros(&f, 6); put(&f, IP6_A, 16);
	assert_int_equal(verdict(&f, &p, NULL, &fr), NET_DROP_MALFORMED);
	/* MLD report from :: passes */
	eth(&f, BCAST, MAC_A, NET_ETHERTYPE_IPV6);
	ip6(&f, unspec, IP6_B, 58, 8);
	put8(&f, 143); zeros(&f, 7);
	assert_int_equal(verdict(&f, &p, NULL, NULL), NET_OK);
}

static void test_hdr_check(void **s)
{
	(void)s;
	uint8_t h[12] = { 0 };
	assert_int_equal(net_port_hdr_check(h, 60), NET_OK);
	h[0] = 4;
	assert_int_equal(net_port_hdr_check(h, 60), NET_DROP_MALFORMED);
	h[0] = 1; /* NEEDS_CSUM at 34+16 in 60 bytes */
	h[6] = 34; h[8] = 16;
	assert_int_equal(net_port_hdr_check(h, 60), NET_OK);
	h[6] = 50; h[8] = 16;
	assert_int_equal(net_port_hdr_check(h, 60), NET_DROP_MALFORMED);
	memset(h, 0, sizeof(h));
	h[1] = 1; /* TSO4 without gso_size */
	assert_int_equal(net_port_hdr_check(h, 60), NET_DROP_MALFORMED);
	h[4] = 0xa8; h[5] = 0x05;
	assert_int_equal(net_port_hdr_check(h, 60), NET_OK);
	h[1] = 0x84; /* TCPv6 | ECN */
	assert_int_equal(net_port_hdr_check(h, 60), NET_OK);
	h[1] = 2;
	assert_int_equal(net_port_hdr_check(h, 60), NET_DROP_MALFORMED);
	h[1] = 0x80;
	assert_int_equal(net_port_hdr_check(h, 60), NET_DROP_MALFORMED);
}

static void test_names_counters_macs(void **s)
{
	(void)s;
	struct net_drop_counters c = { { 0 } };
	uint8_t mac[6];
	char buf[18];
	for (int i = 1; i < NET_DROP__COUNT; i++)
		assert_string_not_equal(net_drop_name((enum net_drop)i), "unknown");
	assert_string_equal(net_drop_name(NET_DROP_SPOOF_MAC), "spoof_mac");
	assert_string_equal(net_drop_name((enum net_drop)99), "unknown");
	assert_true(net_drop_is_violation(NET_DROP_SPOOF_ARP));
	assert_false(net_drop_is_violation(NET_DROP_RATE));
	net_drop_count(&c, NET_DROP_RATE);
	net_drop_count(&c, (enum net_drop)99);
	c.n[NET_DROP_POLICY] = UINT64_MAX;
	net_drop_count(&c, NET_DROP_POLICY);
	assert_int_equal(c.n[NET_DROP_RATE], 1);
	assert_int_equal(c.n[NET_DROP_MALFORMED], 1);
	assert_true(c.n[NET_DROP_POLICY] == UINT64_MAX);
	assert_true(net_mac_parse("52:54:00:AB:cd:0f", mac));
	net_mac_format(mac, buf);
	assert_string_equal(buf, "52:54:00:ab:cd:0f");
	assert_false(net_mac_parse("52:54:00:ab:cd", mac));
	assert_false(net_mac_parse("52:54:00:ab:cd:0g", mac));
	assert_false(net_mac_parse("52-54-00-ab-cd-0f", mac));
	assert_false(net_mac_parse("52:54:00:ab:cd:+f", mac));
	assert_false(net_mac_parse(NULL, mac));
}

/* A frame of flen bytes (in b) as a VMM's check sees it: the first head
 * bytes copied, zeros after (virtio-net's view of guest memory). */
static enum net_drop head_verdict(const uint8_t *b, size_t flen, size_t head,
	const struct net_port_id *p, bool plain)
{
	uint8_t *view = calloc(1, flen);
	struct net_frame fr;
	enum net_drop r;
	assert_non_null(view);
	memcpy(view, b, head < flen ? head : flen);
	if (plain) { /* the check as the tap mode ran it before */
		r = net_frame_parse(view, flen, &fr);
		if (r == NET_OK)
			r = net_port_check(p, &fr, NULL, NULL);
	} else {
		r = net_port_check_head(p, view, head, flen, NULL, NULL);
	}
	free(view);
	return r;
}

/* RFC 7113's RA-guard evasion: a destination-options header pushes the
 * ICMPv6 header past the copied head, where the check reads zeros (type 0,
 * not NDP) — a router advertisement, or a neighbour advertisement whose
 * target straddles the copy, would pass. The head check refuses any verdict
 * resting on bytes past the copy, and only those. */
static void test_check_head(void **s)
{
	(void)s;
	enum { HEAD = 256 };
	static const uint8_t allnodes[16] = { 0xff, 0x02, [15] = 1 };
	static const uint8_t mcast[6] = { 0x33, 0x33, 0, 0, 0, 1 };
	struct net_port_id p = port_a(false, false); /* the tap mode: a MAC only */
	uint8_t ll_a[16], b[2048];
	size_t n = 0, opts;
	net_ip6_linklocal(MAC_A, ll_a);

	/* eth | IPv6 (nh 60) | dest options of 256 bytes (nh 58) | RA */
	memcpy(b, mcast, 6); memcpy(b + 6, MAC_A, 6); b[12] = 0x86; b[13] = 0xdd;
	n = 14;
	memset(b + n, 0, 40);
	b[n] = 0x60; b[n + 4] = (256 + 16) >> 8; b[n + 5] = (256 + 16) & 0xff;
	b[n + 6] = 60; b[n + 7] = 255;
	memcpy(b + n + 8, ll_a, 16); memcpy(b + n + 24, allnodes, 16);
	n += 40;
	opts = n;
	memset(b + n, 0, 256);
	b[n] = 58; b[n + 1] = 31; b[n + 2] = 1; b[n + 3] = 252; /* PadN */
	n += 256;
	memset(b + n, 0, 16);
	b[n] = 134; /* router advertisement */
	b[n + 4] = 64; b[n + 6] = 0x07; b[n + 7] = 0x08;
	n += 16;
	assert_int_equal(head_verdict(b, n, n, &p, true), NET_DROP_ROUTER);
	assert_int_equal(head_verdict(b, n, HEAD, &p, true), NET_OK); /* the hole */
	assert_int_equal(head_verdict(b, n, HEAD, &p, false), NET_DROP_MALFORMED);
	assert_int_equal(head_verdict(b, n, n, &p, false), NET_DROP_ROUTER);

	/* a neighbour advertisement straddling the end of the copy (its type
	 * inside, its target past it): the target, someone else's link-local,
	 * would read as :: */
	/* (in EUI-64 form: another MAC's, never this port's) */
	static const uint8_t ll_other[16] = { 0xfe, 0x80, [11] = 0xff, [12] = 0xfe, [15] = 0x99 };
	size_t dlen = (HEAD - 1) - opts; /* options end where the copy's last byte is */
	assert_int_equal(dlen % 8, 1);
	dlen -= 1; /* a multiple of 8: the NA starts at HEAD - 2 */
	memset(b + opts, 0, dlen);
	b[opts] = 58; b[opts + 1] = (uint8_t)(dlen / 8 - 1); b[opts + 2] = 1;
	b[opts + 3] = (uint8_t)(dlen - 4);
	n = opts + dlen;
	assert_int_equal(n, HEAD - 2);
	memset(b + n, 0, 24);
	b[n] = 136; b[n + 4] = 0x20; /* override */
	memcpy(b + n + 8, ll_other, 16);
	n += 24;
	b[18] = (uint8_t)((n - 54) >> 8); b[19] = (uint8_t)((n - 54) & 0xff);
	assert_int_equal(head_verdict(b, n, n, &p, false), NET_DROP_SPOOF_ARP);
	assert_int_equal(head_verdict(b, n, HEAD, &p, true), NET_OK); /* the hole */
	assert_int_equal(head_verdict(b, n, HEAD, &p, false), NET_DROP_MALFORMED);

	/* what is decided inside the copy is unchanged: a large echo request,
	 * an IPv4 frame, a small NS all pass with a tail past the copy */
	n = 14 + 40 + 1000;
	memset(b + 14, 0, 40 + 1000);
	b[14] = 0x60; b[18] = 1000 >> 8; b[19] = 1000 & 0xff; b[20] = 58; b[21] = 64;
	memcpy(b + 22, ll_a, 16); memcpy(b + 38, allnodes, 16);
	b[54] = 128;
	assert_int_equal(head_verdict(b, n, HEAD, &p, false), NET_OK);
	struct fb f;
	eth(&f, MAC_B, MAC_A, NET_ETHERTYPE_IPV4);
	ip4(&f, IP_A, IP_B, 17, 5, 6);
	memcpy(b, f.b, f.n);
	memset(b + f.n, 0, 1000);
	b[16] = (uint8_t)((f.n - 14 + 1000) >> 8); b[17] = (uint8_t)((f.n - 14 + 1000) & 0xff);
	b[38] = (uint8_t)((8 + 1000) >> 8); b[39] = (uint8_t)((8 + 1000) & 0xff);
	assert_int_equal(head_verdict(b, f.n + 1000, HEAD, &p, false), NET_OK);
	ndp(&f, MAC_A, ll_a, 135, ll_other, MAC_A);
	assert_int_equal(head_verdict(f.b, f.n, HEAD, &p, false), NET_OK);
	assert_int_equal(head_verdict(f.b, f.n, f.n, &p, false), NET_OK);

	/* any head: an ARP request whose sender address lies past a 28-byte
	 * copy would read as a 0.0.0.0 probe */
	struct net_port_id p4 = port_a(true, false);
	arp(&f, MAC_A, 1, MAC_A, IP_B, IP_A);
	assert_int_equal(head_verdict(f.b, f.n, f.n, &p4, false), NET_DROP_SPOOF_ARP);
	assert_int_equal(head_verdict(f.b, f.n, 28, &p4, true), NET_OK); /* the hole */
	assert_int_equal(head_verdict(f.b, f.n, 28, &p4, false), NET_DROP_MALFORMED);
	/* the copy holds the whole ARP body; the Ethernet padding is not read */
	arp(&f, MAC_A, 1, MAC_A, IP_A, IP_B);
	memcpy(b, f.b, f.n);
	memset(b + f.n, 0, 60 - f.n);
	assert_int_equal(head_verdict(b, 60, f.n, &p4, false), NET_OK);
	assert_int_equal(head_verdict(b, 60, f.n - 1, &p4, false), NET_DROP_MALFORMED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4_tcp_ok),
		cmocka_unit_test(test_spoofed_mac),
		cmocka_unit_test(test_spoofed_ip4),
		cmocka_unit_test(test_arp),
		cmocka_unit_test(test_ethertype_and_vlan),
		cmocka_unit_test(test_malformed_ip4),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_ndp),
		cmocka_unit_test(test_check_head),
		cmocka_unit_test(test_hdr_check),
		cmocka_unit_test(test_names_counters_macs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
