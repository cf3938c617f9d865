/* fuzz_frame.c — libFuzzer target for the switch's and the VMM's frame
 * handling (src/net/frame.c): a wire message (12-byte net_port_hdr + frame)
 * goes through the header check, the parser and port security for two port
 * identities (with and without addresses, with an "owned by another port"
 * lookup), exactly as the switch does on every message a port sends. Checks
 * the parser's invariants: offsets inside the frame, a known verdict; and
 * that the VMM's head-only check (net_port_check_head) never admits what
 * the full check refuses. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/frame.h"

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
	free(frame);
	return 0;
}
