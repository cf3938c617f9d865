/* fuzz_frame.c — libFuzzer target for the switch's and the VMM's frame
 * handling (src/net/frame.c): a wire message (12-byte net_port_hdr + frame)
 * goes through the header check, the parser and port security for two port
 * identities (with and without addresses, with an "owned by another port"
 * lookup), exactly as the switch does on every message a port sends. Checks
 * the parser's invariants: offsets inside the frame, a known verdict; and
 * that the VMM's head-only check (net_port_check_head) never admits what
 * the full check refuses. Toward a passt uplink (src/net/stream.c, gso.c):
 * the stream framing reports only whole frames inside the input, the
 * NEEDS_CSUM completion stays inside the frame, and a TSO super-frame the
 * cutter accepts becomes segments that fit their buffer (exact size: ASan)
 * and parse as TCP of the same IP version. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/frame.h"
#include "net/gso.h"
#include "net/stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool owned(void *ctx, int family, const uint8_t *addr)
{
	(void)ctx;
	return family == 4 ? addr[3] == 11 : addr[15] == 11;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct net_port_id ports[2] = {
		{ .mac = { 0x52, 0x54, 0, 0, 0, 0x0a }, .has_ip4 = true, .has_ip6 = true,
		  .ip4 = { 10, 0, 0, 10 }, .ip6 = { 0xfd, [15] = 0x0a } },
		{ .mac = { 0x52, 0x54, 0, 0, 0, 0x0a } },
	};
	struct net_frame f;

	if (size < 12)
		return 0;
	/* an exact-size copy: ASan sees any read past the frame */
	size_t len = size - 12;
	uint8_t *frame = malloc(len ? len : 1);
	if (!frame)
		return 0;
	memcpy(frame, data + 12, len);
	enum net_drop h = net_port_hdr_check(data, len);
	if (h != NET_OK && h != NET_DROP_MALFORMED)
		abort();
	enum net_drop r = net_frame_parse(frame, len, &f);
	if (r == NET_OK) {
		if (f.l3_off > len || (f.has_l4 && f.l4_off >= len))
			abort();
		for (unsigned i = 0; i < 2; i++) {
			enum net_drop c = net_port_check(&ports[i], &f, i ? owned : NULL, NULL);
			if ((unsigned)c >= NET_DROP__COUNT || c == NET_DROP_RATE)
				abort();
		}
	} else if (r != NET_DROP_MALFORMED && r != NET_DROP_ETHERTYPE) {
		abort();
	}
	/* The VMM's tap check sees only a copied head, zeros after: what it
	 * admits, the check on the whole frame must not refuse for anything
	 * but malformation (no verdict may rest on the zeros). */
	size_t heads[2] = { 256, 14u + (len ? data[10] : 0) };
	for (unsigned k = 0; k < 2 && len; k++) {
		uint8_t *view = calloc(1, len);
		if (!view)
			break;
		memcpy(view, frame, heads[k] < len ? heads[k] : len);
		for (unsigned i = 0; i < 2; i++) {
			enum net_drop v = net_port_check_head(&ports[i], view, heads[k], len,
							      i ? owned : NULL, NULL);
			if (v != NET_OK)
				continue;
			enum net_drop w = r;
			if (w == NET_OK)
				w = net_port_check(&ports[i], &f, i ? owned : NULL, NULL);
			if (w != NET_OK && w != NET_DROP_MALFORMED)
				abort();
		}
		free(view);
	}
	size_t fl;
	int st = net_stream_frame(data, size, &fl);
	if ((st == 1 && (fl < NET_STREAM_MIN_FRAME || fl > size - NET_STREAM_PREFIX)) ||
	    (st != 1 && fl != 0))
		abort();
	if (h == NET_OK && (data[0] & 1u) && data[1] == 0 && len) {
		uint8_t *c = malloc(len);
		if (c) {
			memcpy(c, frame, len);
			if (net_csum_complete(c, len, (size_t)(data[6] | data[7] << 8),
					      (size_t)(data[8] | data[9] << 8)))
				abort(); /* the header check put the field inside */
			free(c);
		}
	}
	struct net_gso g;
	if (h == NET_OK && net_gso_init(&g, data, frame, len) == 0) {
		if (g.nseg == 0 || g.hdrs >= len || g.mss < NET_GSO_MIN_MSS ||
		    g.nseg > len / NET_GSO_MIN_MSS + 1)
			abort();
		uint8_t *seg = malloc(g.hdrs + g.mss);
		for (unsigned k = 0; seg && k < g.nseg; k++) {
			size_t n = net_gso_segment(&g, frame, k, seg);
			struct net_frame sf;
			if (n > g.hdrs + g.mss || n <= g.hdrs ||
			    net_frame_parse(seg, n, &sf) != NET_OK || sf.l4_proto != NET_IPPROTO_TCP ||
			    sf.ip_ver != g.ip_ver)
				abort();
		}
		free(seg);
	}
	free(frame);
	return 0;
}
