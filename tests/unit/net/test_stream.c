/* test_stream.c — src/net/stream.c: passt's length-prefixed framing (whole,
 * partial and out-of-range prefixes) and the NEEDS_CSUM checksum completion
 * (checked against a checksum computed the plain way over a real UDP/IPv4
 * frame); src/net/gso.c: an IPv6 TSO super-frame cut into segments (lengths,
 * sequence numbers, flags, checksums, the payload in order) and refusals. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "net/gso.h"
#include "net/stream.h"

static void test_frame_lengths(void **s)
{
	(void)s;
	uint8_t buf[4 + 100] = { 0 };
	size_t fl = 99;

	assert_int_equal(net_stream_frame(buf, 0, &fl), 0);
	assert_int_equal(fl, 0);
	assert_int_equal(net_stream_frame(buf, 3, &fl), 0);
	net_stream_prefix(buf, 60);
	assert_memory_equal(buf, "\0\0\0\x3c", 4);
	assert_int_equal(net_stream_frame(buf, 4, &fl), 0);       /* the prefix alone */
	assert_int_equal(net_stream_frame(buf, 63, &fl), 0);      /* one byte short */
	assert_int_equal(net_stream_frame(buf, 64, &fl), 1);
	assert_int_equal(fl, 60);
	assert_int_equal(net_stream_frame(buf, sizeof(buf), &fl), 1); /* the next one's bytes after */
	assert_int_equal(fl, 60);
	net_stream_prefix(buf, 13);                                /* under an Ethernet header */
	assert_int_equal(net_stream_frame(buf, sizeof(buf), &fl), -EPROTO);
	assert_int_equal(fl, 0);
	memcpy(buf, "\0\x01\0\x0f", 4);                            /* 65551: one over the max */
	assert_int_equal(net_stream_frame(buf, 4, &fl), -EPROTO);
	memcpy(buf, "\0\x01\0\x0e", 4);                            /* 65550: the max, incomplete */
	assert_int_equal(net_stream_frame(buf, sizeof(buf), &fl), 0);
	memcpy(buf, "\xff\xff\xff\xff", 4);
	assert_int_equal(net_stream_frame(buf, 4, &fl), -EPROTO);
	assert_int_equal(net_stream_frame(buf, 0, &fl), 0);        /* nothing read yet */
}

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t acc)
{
	for (size_t i = 0; i < n; i += 2)
		acc += (uint32_t)p[i] << 8 | (i + 1 < n ? p[i + 1] : 0);
	return acc;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static void test_csum_complete(void **s)
{
	(void)s;
	/* Ethernet + IPv4 (20) + UDP (8) + 11 payload bytes (odd) */
	uint8_t f[14 + 20 + 8 + 11] = { 0 };
	const uint8_t src[4] = { 10, 0, 0, 1 }, dst[4] = { 192, 0, 2, 1 };
	size_t l4 = 34, ulen = sizeof(f) - l4;

	f[12] = 0x08;
	f[14] = 0x45;
	f[23] = 17;
	memcpy(f + 26, src, 4);
	memcpy(f + 30, dst, 4);
	f[l4 + 1] = 100, f[l4 + 3] = 200;
	f[l4 + 5] = (uint8_t)ulen;
	memcpy(f + l4 + 8, "hello world", 11);
	/* what a sender with checksum offload leaves: the pseudo-header sum */
	uint8_t ph[12] = { 0 };
	memcpy(ph, src, 4);
	memcpy(ph + 4, dst, 4);
	ph[9] = 17;
	ph[11] = (uint8_t)ulen;
	uint16_t part = fold(sum16(ph, 12, 0));
	f[l4 + 6] = (uint8_t)(part >> 8), f[l4 + 7] = (uint8_t)part;
	assert_int_equal(net_csum_complete(f, sizeof(f), l4, 6), 0);
	/* the receiver's check: pseudo-header + segment sums to 0xffff */
	assert_int_equal(fold(sum16(f + l4, ulen, sum16(ph, 12, 0))), 0xffff);
	/* offsets outside the frame */
	assert_int_equal(net_csum_complete(f, sizeof(f), sizeof(f) - 1, 0), -EINVAL);
	assert_int_equal(net_csum_complete(f, sizeof(f), l4, sizeof(f)), -EINVAL);
	assert_int_equal(net_csum_complete(f, sizeof(f), SIZE_MAX, 6), -EINVAL);
}

static void test_gso_ipv6(void **s)
{
	(void)s;
	enum { L3 = 14, L4 = 54, HDRS = 74, PAY = 2500, MSS = 1000 };
	static uint8_t f[HDRS + PAY], out[HDRS + MSS];
	uint8_t hdr[12] = { 0, 4 /* GSO_TCPV6 */, HDRS, 0, MSS & 0xff, MSS >> 8 };
	struct net_gso g;

	memset(f, 0, sizeof(f));
	f[12] = 0x86, f[13] = 0xdd;
	f[L3] = 0x60;
	f[L3 + 4] = (20 + PAY) >> 8, f[L3 + 5] = (20 + PAY) & 0xff;
	f[L3 + 6] = 6, f[L3 + 7] = 64;
	f[L3 + 8] = 0x20, f[L3 + 9] = 0x01, f[L3 + 10] = 0x0d, f[L3 + 11] = 0xb8, f[L3 + 23] = 1;
	f[L3 + 24] = 0x20, f[L3 + 25] = 0x01, f[L3 + 26] = 0x0d, f[L3 + 27] = 0xb8, f[L3 + 39] = 2;
	f[L4 + 1] = 1, f[L4 + 3] = 2;
	f[L4 + 4] = 0xff, f[L4 + 5] = 0xff, f[L4 + 6] = 0xff, f[L4 + 7] = 0x00; /* wraps */
	f[L4 + 12] = 5 << 4;
	f[L4 + 13] = 0x10 | 0x08 | 0x01; /* ACK PSH FIN */
	for (int i = 0; i < PAY; i++)
		f[HDRS + i] = (uint8_t)(i * 7);
	assert_int_equal(net_gso_init(&g, hdr, f, sizeof(f)), 0);
	assert_int_equal(g.nseg, 3);
	for (unsigned k = 0; k < g.nseg; k++) {
		size_t n = net_gso_segment(&g, f, k, out), chunk = k < 2 ? MSS : PAY - 2 * MSS;
		assert_int_equal(n, HDRS + chunk);
		assert_int_equal(out[L3 + 4] << 8 | out[L3 + 5], 20 + chunk);
		uint32_t seq = (uint32_t)out[L4 + 4] << 24 | (uint32_t)out[L4 + 5] << 16 |
			       (uint32_t)out[L4 + 6] << 8 | out[L4 + 7];
		assert_int_equal(seq, (uint32_t)(0xffffff00u + k * MSS));
		assert_int_equal(out[L4 + 13], k < 2 ? 0x10 : 0x19);
		assert_memory_equal(out + HDRS, f + HDRS + k * MSS, chunk);
		/* pseudo-header (addresses, length, next header) + segment */
		uint32_t ps = sum16(out + L3 + 8, 32, 0) + 6 + (uint32_t)(20 + chunk);
		assert_int_equal(fold(sum16(out + L4, 20 + chunk, ps)), 0xffff);
	}
	/* refused: the header says TCPV4; a tiny gso_size; not TCP */
	hdr[1] = 1;
	assert_int_equal(net_gso_init(&g, hdr, f, sizeof(f)), -EINVAL);
	hdr[1] = 4, hdr[4] = 10, hdr[5] = 0;
	assert_int_equal(net_gso_init(&g, hdr, f, sizeof(f)), -EINVAL);
	hdr[4] = MSS & 0xff, hdr[5] = MSS >> 8;
	f[L3 + 6] = 17;
	assert_int_equal(net_gso_init(&g, hdr, f, sizeof(f)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_lengths),
		cmocka_unit_test(test_csum_complete),
		cmocka_unit_test(test_gso_ipv6),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
