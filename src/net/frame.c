/* frame.c — Ethernet/ARP/IP/NDP/TCP/UDP parsing and port security over a
 * host-side copy (contracts in frame.h). Every read goes through rd8/rd16
 * after an explicit bounds check against the buffer's length. */
#include "net/frame.h"

#include <stdio.h>
#include <string.h>

static const char *const drop_names[NET_DROP__COUNT] = {
	[NET_OK] = "ok",
	[NET_DROP_MALFORMED] = "malformed",
	[NET_DROP_ETHERTYPE] = "ethertype",
	[NET_DROP_SPOOF_MAC] = "spoof_mac",
	[NET_DROP_SPOOF_IP] = "spoof_ip",
	[NET_DROP_SPOOF_ARP] = "spoof_arp",
	[NET_DROP_ROUTER] = "router",
	[NET_DROP_RATE] = "rate",
	[NET_DROP_POLICY] = "policy",
	[NET_DROP_PEER_FULL] = "peer_full",
	[NET_DROP_NO_ROUTE] = "no_route",
};

const char *net_drop_name(enum net_drop why)
{
	if ((unsigned)why >= NET_DROP__COUNT)
		return "unknown";
	return drop_names[why];
}

bool net_drop_is_violation(enum net_drop why)
{
	return why == NET_DROP_SPOOF_MAC || why == NET_DROP_SPOOF_IP ||
	       why == NET_DROP_SPOOF_ARP || why == NET_DROP_ROUTER;
}

void net_drop_count(struct net_drop_counters *c, enum net_drop why)
{
	if ((unsigned)why >= NET_DROP__COUNT || why == NET_OK)
		why = NET_DROP_MALFORMED;
	if (c->n[why] != UINT64_MAX)
		c->n[why]++;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static bool is_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* L4 header at off (within [off, end)): TCP/UDP ports, ICMP type/code. */
static enum net_drop parse_l4(const uint8_t *b, size_t off, size_t end, struct net_frame *f)
{
	f->l4_off = (uint32_t)off;
	switch (f->l4_proto) {
	case NET_IPPROTO_TCP: {
		if (end - off < 20)
			return NET_DROP_MALFORMED;
		unsigned doff = (unsigned)(b[off + 12] >> 4) * 4u;
		if (doff < 20 || doff > end - off)
			return NET_DROP_MALFORMED;
		f->sport = rd16(b + off);
		f->dport = rd16(b + off + 2);
		break;
	}
	case NET_IPPROTO_UDP: {
		if (end - off < 8)
			return NET_DROP_MALFORMED;
		unsigned ulen = rd16(b + off + 4);
		/* 0 is legal for a UDP-over-IPv6 jumbogram / GSO super-frame */
		if (ulen != 0 && (ulen < 8 || ulen > end - off))
			return NET_DROP_MALFORMED;
		f->sport = rd16(b + off);
		f->dport = rd16(b + off + 2);
		break;
	}
	case NET_IPPROTO_ICMP:
	case NET_IPPROTO_ICMPV6:
		if (end - off < 4)
			return NET_DROP_MALFORMED;
		f->icmp_type = b[off];
		f->icmp_code = b[off + 1];
		break;
	default:
		return NET_OK; /* other protocols: no L4 header of ours */
	}
	f->has_l4 = true;
	return NET_OK;
}

/* NDP (RFC 4861): fixed part, then 8-byte-unit options; keep the target and
 * the one link-layer address option (two that disagree = malformed). */
static enum net_drop parse_ndp(const uint8_t *b, size_t off, size_t end, struct net_frame *f)
{
	size_t fixed;

	switch (f->icmp_type) {
	case 133: fixed = 8; break;                  /* RS */
	case 134: fixed = 16; break;                 /* RA */
	case 135: case 136: fixed = 24; break;       /* NS, NA */
	case 137: fixed = 40; break;                 /* redirect */
	default: return NET_OK;
	}
	if (end - off < fixed)
		return NET_DROP_MALFORMED;
	if (f->icmp_type == 135 || f->icmp_type == 136 || f->icmp_type == 137) {
		memcpy(f->nd_target, b + off + 8, 16);
		f->nd_has_target = true;
	}
	for (size_t o = off + fixed; o < end;) {
		if (end - o < 2)
			return NET_DROP_MALFORMED;
		size_t olen = (size_t)b[o + 1] * 8u;
		if (olen == 0 || olen > end - o)
			return NET_DROP_MALFORMED;
		if (b[o] == 1 || b[o] == 2) { /* source / target link-layer address */
			if (olen != 8)
				return NET_DROP_MALFORMED; /* Ethernet: exactly one unit */
			if (f->nd_has_lladdr && memcmp(f->nd_lladdr, b + o + 2, NET_ETH_ALEN) != 0)
				return NET_DROP_MALFORMED;
			memcpy(f->nd_lladdr, b + o + 2, NET_ETH_ALEN);
			f->nd_has_lladdr = true;
		}
		o += olen;
	}
	return NET_OK;
}

static enum net_drop parse_ip4(const uint8_t *b, size_t off, size_t len, struct net_frame *f)
{
	if (len - off < 20)
		return NET_DROP_MALFORMED;
	const uint8_t *ip = b + off;
	unsigned ihl = (unsigned)(ip[0] & 0x0f) * 4u;
	unsigned total = rd16(ip + 2);
	if ((ip[0] >> 4) != 4 || ihl < 20 || total < ihl || total > len - off)
		return NET_DROP_MALFORMED;
	f->ip_ver = 4;
	f->hop_limit = ip[8];
	f->l4_proto = ip[9];
	memcpy(f->ip_src, ip + 12, 4);
	memcpy(f->ip_dst, ip + 16, 4);
	uint16_t frag = rd16(ip + 6);
	if (frag & 0x8000u)
		return NET_DROP_MALFORMED; /* the reserved flag */
	f->is_fragment = (frag & 0x3fffu) != 0;
	if ((frag & 0x1fffu) != 0)
		return NET_OK; /* a later fragment: no L4 header */
	return parse_l4(b, off + ihl, off + total, f);
}

static enum net_drop parse_ip6(const uint8_t *b, size_t off, size_t len, struct net_frame *f)
{
	if (len - off < 40)
		return NET_DROP_MALFORMED;
	const uint8_t *ip = b + off;
	if ((ip[0] >> 4) != 6)
		return NET_DROP_MALFORMED;
	size_t plen = rd16(ip + 4);
	size_t end;
	/* 0 = a GSO super-frame longer than 64 KiB or a jumbogram: the frame's
	 * own end bounds it (there is no hop-by-hop jumbo option parsing). */
	if (plen == 0)
		end = len;
	else if (plen > len - off - 40)
		return NET_DROP_MALFORMED;
	else
		end = off + 40 + plen;
	f->ip_ver = 6;
	f->hop_limit = ip[7];
	memcpy(f->ip_src, ip + 8, 16);
	memcpy(f->ip_dst, ip + 24, 16);
	uint8_t nh = ip[6];
	size_t o = off + 40;
	for (unsigned n = 0;; n++) {
		if (nh != 0 && nh != 43 && nh != 44 && nh != 60)
			break;
		if (n >= NET_IP6_MAX_EXT || end - o < 8)
			return NET_DROP_MALFORMED;
		if (nh == 0 && n != 0)
			return NET_DROP_MALFORMED; /* hop-by-hop only first (RFC 8200) */
		if (nh == 44) {
			uint16_t fo = rd16(b + o + 2);
			f->is_fragment = true;
			nh = b[o];
			o += 8;
			if ((fo & 0xfff8u) != 0) {
				f->l4_proto = nh;
				return NET_OK; /* a later fragment: no L4 header */
			}
			continue;
		}
		size_t elen = ((size_t)b[o + 1] + 1u) * 8u;
		if (elen > end - o)
			return NET_DROP_MALFORMED;
		nh = b[o];
		o += elen;
	}
	f->l4_proto = nh;
	enum net_drop r = parse_l4(b, o, end, f);
	if (r != NET_OK || nh != NET_IPPROTO_ICMPV6 || !f->has_l4)
		return r;
	return parse_ndp(b, o, end, f);
}

static enum net_drop parse_arp(const uint8_t *b, size_t off, size_t len, struct net_frame *f)
{
	if (len - off < 28)
		return NET_DROP_MALFORMED;
	const uint8_t *a = b + off;
	/* Ethernet (1) / IPv4, hlen 6, plen 4; request or reply only */
	if (rd16(a) != 1 || rd16(a + 2) != NET_ETHERTYPE_IPV4 || a[4] != 6 || a[5] != 4)
		return NET_DROP_MALFORMED;
	f->arp_op = rd16(a + 6);
	if (f->arp_op != 1 && f->arp_op != 2)
		return NET_DROP_MALFORMED;
	memcpy(f->arp_sha, a + 8, 6);
	memcpy(f->arp_spa, a + 14, 4);
	memcpy(f->arp_tha, a + 18, 6);
	memcpy(f->arp_tpa, a + 24, 4);
	return NET_OK;
}

enum net_drop net_frame_parse(const uint8_t *b, size_t len, struct net_frame *f)
{
	memset(f, 0, sizeof(*f));
	if (b == NULL || len < NET_ETH_HLEN)
		return NET_DROP_MALFORMED;
	memcpy(f->dst, b, 6);
	memcpy(f->src, b + 6, 6);
	size_t off = 12;
	uint16_t et = rd16(b + off);
	if (et == NET_ETHERTYPE_VLAN || et == NET_ETHERTYPE_QINQ) {
		if (len - off < 6)
			return NET_DROP_MALFORMED;
		f->has_vlan = true;
		f->vlan_tci = rd16(b + off + 2);
		off += 4;
		et = rd16(b + off);
		if (et == NET_ETHERTYPE_VLAN || et == NET_ETHERTYPE_QINQ)
			return NET_DROP_ETHERTYPE; /* one tag at most */
	}
	f->ethertype = et;
	off += 2;
	f->l3_off = (uint16_t)off;
	switch (et) {
	case NET_ETHERTYPE_IPV4: return parse_ip4(b, off, len, f);
	case NET_ETHERTYPE_IPV6: return parse_ip6(b, off, len, f);
	case NET_ETHERTYPE_ARP: return parse_arp(b, off, len, f);
	default: return NET_DROP_ETHERTYPE;
	}
}

void net_ip6_linklocal(const uint8_t mac[NET_ETH_ALEN], uint8_t out[16])
{
	memset(out, 0, 16);
	out[0] = 0xfe;
	out[1] = 0x80;
	out[8] = (uint8_t)(mac[0] ^ 0x02u);
	out[9] = mac[1];
	out[10] = mac[2];
	out[11] = 0xff;
	out[12] = 0xfe;
	out[13] = mac[3];
	out[14] = mac[4];
	out[15] = mac[5];
}

static bool other_owns(net_owned_fn owned, void *ctx, int fam, const uint8_t *addr)
{
	return owned != NULL && owned(ctx, fam, addr);
}

/* An IPv6 address the port may use as a source or NDP target (the caller
 * also asks whether another port owns it). */
static bool ip6_is_ports(const struct net_port_id *p, const uint8_t *a)
{
	uint8_t ll[16];

	net_ip6_linklocal(p->mac, ll);
	if (memcmp(a, ll, 16) == 0)
		return true;
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
		/* another link-local: one in EUI-64 form (ff:fe in the middle of
		 * its interface ID) is derived from a MAC, so it is another
		 * MAC's; any other (RFC 7217 stable-privacy, the default of
		 * NetworkManager and systemd-networkd; RFC 8981 random) may be
		 * the port's, unless another port owns it */
		return !(a[11] == 0xff && a[12] == 0xfe);
	if (p->has_ip6)
		return memcmp(a, p->ip6, 16) == 0;
	return true; /* no IPv6 configured: any global address not another's */
}

static enum net_drop check_arp(const struct net_port_id *p, const struct net_frame *f,
	net_owned_fn owned, void *ctx)
{
	if (memcmp(f->arp_sha, p->mac, NET_ETH_ALEN) != 0)
		return NET_DROP_SPOOF_ARP;
	if (is_zero(f->arp_spa, 4))
		return f->arp_op == 1 ? NET_OK : NET_DROP_SPOOF_ARP; /* a probe asks */
	if (p->has_ip4 && memcmp(f->arp_spa, p->ip4, 4) != 0)
		return NET_DROP_SPOOF_ARP;
	if (other_owns(owned, ctx, 4, f->arp_spa))
		return NET_DROP_SPOOF_ARP;
	return NET_OK;
}

static enum net_drop check_ip4(const struct net_port_id *p, const struct net_frame *f,
	net_owned_fn owned, void *ctx)
{
	if (is_zero(f->ip_src, 4)) {
		/* a DHCP client before it has an address */
		if (f->has_l4 && f->l4_proto == NET_IPPROTO_UDP && f->sport == 68 && f->dport == 67)
			return NET_OK;
		return NET_DROP_SPOOF_IP;
	}
	if (p->has_ip4 && memcmp(f->ip_src, p->ip4, 4) != 0)
		return NET_DROP_SPOOF_IP;
	if (other_owns(owned, ctx, 4, f->ip_src))
		return NET_DROP_SPOOF_IP;
	return NET_OK;
}

static enum net_drop check_ip6(const struct net_port_id *p, const struct net_frame *f,
	net_owned_fn owned, void *ctx)
{
	bool nd = f->l4_proto == NET_IPPROTO_ICMPV6 && f->has_l4 &&
		  f->icmp_type >= 133 && f->icmp_type <= 137;

	if (nd && f->is_fragment)
		return NET_DROP_MALFORMED; /* RFC 6980 */
	if (is_zero(f->ip_src, 16)) {
		/* DAD: a neighbour solicitation from ::, without a source
		 * link-layer address option (RFC 4861 7.2.2) — or an RS */
		if (nd && (f->icmp_type == 135 || f->icmp_type == 133) && !f->nd_has_lladdr)
			return NET_OK;
		/* MLD reports a host sends before it has an address (RFC 3810 5.2.13) */
		if (f->l4_proto == NET_IPPROTO_ICMPV6 && f->has_l4 &&
		    (f->icmp_type == 131 || f->icmp_type == 143))
			return NET_OK;
		return NET_DROP_SPOOF_IP;
	}
	if (!ip6_is_ports(p, f->ip_src) || other_owns(owned, ctx, 6, f->ip_src))
		return NET_DROP_SPOOF_IP;
	if (!nd)
		return NET_OK;
	if (f->icmp_type == 134 || f->icmp_type == 137)
		return NET_DROP_ROUTER;
	if (f->nd_has_lladdr && memcmp(f->nd_lladdr, p->mac, NET_ETH_ALEN) != 0)
		return NET_DROP_SPOOF_ARP;
	if (f->icmp_type == 136 &&
	    (!ip6_is_ports(p, f->nd_target) || other_owns(owned, ctx, 6, f->nd_target)))
		return NET_DROP_SPOOF_ARP;
	return NET_OK;
}

enum net_drop net_port_check(const struct net_port_id *p, const struct net_frame *f,
	net_owned_fn owned, void *ctx)
{
	if (memcmp(f->src, p->mac, NET_ETH_ALEN) != 0)
		return NET_DROP_SPOOF_MAC;
	if (f->has_vlan)
		return NET_DROP_ETHERTYPE; /* a tag would hop onto another VLAN */
	switch (f->ethertype) {
	case NET_ETHERTYPE_ARP: return check_arp(p, f, owned, ctx);
	case NET_ETHERTYPE_IPV4: return check_ip4(p, f, owned, ctx);
	case NET_ETHERTYPE_IPV6: return check_ip6(p, f, owned, ctx);
	default: return NET_DROP_ETHERTYPE;
	}
}

enum net_drop net_port_check_head(const struct net_port_id *p, const uint8_t *frame,
	size_t head_len, size_t frame_len, net_owned_fn owned, void *ctx)
{
	struct net_frame f;
	enum net_drop r = net_frame_parse(frame, frame_len, &f);

	if (r != NET_OK)
		return r;
	if (head_len < frame_len) {
		/* the bytes the verdict reads: L3 addresses, the first 8 bytes
		 * of L4, all of an NDP message (its options); past the copy
		 * the parser read zeros, not what will be sent */
		size_t need = f.l3_off;

		if (f.ethertype == NET_ETHERTYPE_ARP)
			need += 28;
		else if (f.ethertype == NET_ETHERTYPE_IPV4)
			need += 20;
		else if (f.ethertype == NET_ETHERTYPE_IPV6)
			need += 40;
		if (f.has_l4 && (size_t)f.l4_off + 8u > need)
			need = (size_t)f.l4_off + 8u;
		if (f.has_l4 && f.l4_proto == NET_IPPROTO_ICMPV6 && f.icmp_type >= 133 &&
		    f.icmp_type <= 137)
			need = frame_len;
		if ((need < frame_len ? need : frame_len) > head_len)
			return NET_DROP_MALFORMED;
	}
	return net_port_check(p, &f, owned, ctx);
}

enum net_drop net_port_hdr_check(const uint8_t *h, size_t frame_len)
{
	uint8_t flags = h[0], gso = h[1];
	uint16_t gso_size = (uint16_t)(h[4] | (h[5] << 8));
	uint16_t cstart = (uint16_t)(h[6] | (h[7] << 8));
	uint16_t coff = (uint16_t)(h[8] | (h[9] << 8));

	if (flags & ~3u)
		return NET_DROP_MALFORMED;
	switch (gso & 0x7fu) {
	case 0:
		if (gso & 0x80u)
			return NET_DROP_MALFORMED; /* ECN without GSO */
		break;
	case 1: case 3: case 4:
		if (gso_size == 0)
			return NET_DROP_MALFORMED;
		break;
	default:
		return NET_DROP_MALFORMED;
	}
	if ((flags & 1u) && (size_t)cstart + coff + 2u > frame_len)
		return NET_DROP_MALFORMED;
	return NET_OK;
}

bool net_mac_parse(const char *s, uint8_t out[NET_ETH_ALEN])
{
	unsigned v[6];
	int n = 0;

	if (s == NULL || strlen(s) != 17)
		return false;
	for (int i = 0; i < 6; i++) {
		const char *p = s + i * 3;
		if (i < 5 && p[2] != ':')
			return false;
		for (int k = 0; k < 2; k++) {
			char c = p[k];
			if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
				return false;
		}
		if (sscanf(p, "%2x", &v[i]) != 1)
			return false;
		n++;
	}
	for (int i = 0; i < n; i++)
		out[i] = (uint8_t)v[i];
	return true;
}

void net_mac_format(const uint8_t mac[NET_ETH_ALEN], char out[18])
{
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
		 mac[4], mac[5]);
}
