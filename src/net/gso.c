/* gso.c — TCP segmentation of GSO super-frames (contracts in gso.h). */
#include "net/gso.h"

#include <errno.h>
#include <string.h>

#include "net/frame.h"

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t acc)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		acc += (uint32_t)p[i] << 8 | p[i + 1];
	if (i < n)
		acc += (uint32_t)p[i] << 8;
	return acc;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffffu) + (s >> 16);
	return (uint16_t)s;
}

static void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

int net_gso_init(struct net_gso *g, const uint8_t *hdr, const uint8_t *frame, size_t len)
{
	struct net_frame f;
	unsigned type = hdr[1] & 0x7fu;
	size_t mss = (size_t)(hdr[4] | hdr[5] << 8);

	memset(g, 0, sizeof(*g));
	if ((type != 1u && type != 4u) || mss < NET_GSO_MIN_MSS)
		return -EINVAL;
	if (net_frame_parse(frame, len, &f) != NET_OK || f.is_fragment ||
	    f.l4_proto != NET_IPPROTO_TCP || f.ip_ver != (type == 1u ? 4u : 6u))
		return -EINVAL;
	size_t l4 = f.l4_off;
	if (l4 + 20u > len)
		return -EINVAL;
	size_t thl = (size_t)(frame[l4 + 12] >> 4) * 4u;
	if (thl < 20u || l4 + thl >= len)
		return -EINVAL; /* truncated, or nothing to cut */
	g->l3_off = f.l3_off;
	g->l4_off = l4;
	g->hdrs = l4 + thl;
	g->payload = len - g->hdrs;
	g->mss = mss;
	g->nseg = (unsigned)((g->payload + mss - 1) / mss);
	g->ip_ver = f.ip_ver;
	return 0;
}

size_t net_gso_segment(const struct net_gso *g, const uint8_t *frame, unsigned k, uint8_t *out)
{
	size_t off = (size_t)k * g->mss;
	size_t chunk = g->payload - off < g->mss ? g->payload - off : g->mss;
	size_t l3 = g->l3_off, l4 = g->l4_off, tcplen = g->hdrs - l4 + chunk;
	uint32_t ps;

	memcpy(out, frame, g->hdrs);
	memcpy(out + g->hdrs, frame + g->hdrs + off, chunk);
	if (g->ip_ver == 4) {
		size_t ihl = (size_t)(out[l3] & 0x0fu) * 4u;
		put16(out + l3 + 2, (uint32_t)(l4 - l3 + tcplen));
		put16(out + l3 + 4, (uint32_t)((out[l3 + 4] << 8 | out[l3 + 5]) + k));
		put16(out + l3 + 10, 0);
		put16(out + l3 + 10, (uint16_t)~fold(sum16(out + l3, ihl, 0)));
		ps = sum16(out + l3 + 12, 8, 0);  /* source, destination */
		ps += NET_IPPROTO_TCP + (uint32_t)tcplen;
	} else {
		put16(out + l3 + 4, (uint32_t)(l4 - l3 - 40u + tcplen));
		ps = sum16(out + l3 + 8, 32, 0);
		ps += NET_IPPROTO_TCP + (uint32_t)(tcplen >> 16) + (uint32_t)(tcplen & 0xffffu);
	}
	uint8_t *t = out + l4;
	uint32_t seq = (uint32_t)t[4] << 24 | (uint32_t)t[5] << 16 | (uint32_t)t[6] << 8 | t[7];
	seq += (uint32_t)off;
	t[4] = (uint8_t)(seq >> 24), t[5] = (uint8_t)(seq >> 16), t[6] = (uint8_t)(seq >> 8);
	t[7] = (uint8_t)seq;
	if (k + 1u < g->nseg)
		t[13] &= (uint8_t)~0x09u; /* FIN, PSH: the last segment's */
	if (k > 0)
		t[13] &= (uint8_t)~0x80u; /* CWR: the first one's */
	put16(t + 16, 0);
	put16(t + 16, (uint16_t)~fold(sum16(t, tcplen, ps)));
	return g->hdrs + chunk;
}
