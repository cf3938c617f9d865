/* stream.c — passt's stream framing and checksum completion (contracts in
 * stream.h). */
#include "net/stream.h"

#include <errno.h>

int net_stream_frame(const uint8_t *buf, size_t len, size_t *frame_len)
{
	*frame_len = 0;
	if (len < NET_STREAM_PREFIX)
		return 0;
	uint32_t n = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 |
		     (uint32_t)buf[3];
	if (n < NET_STREAM_MIN_FRAME || n > NET_STREAM_MAX_FRAME)
		return -EPROTO;
	if (len - NET_STREAM_PREFIX < n)
		return 0;
	*frame_len = n;
	return 1;
}

void net_stream_prefix(uint8_t out[NET_STREAM_PREFIX], size_t frame_len)
{
	out[0] = (uint8_t)(frame_len >> 24);
	out[1] = (uint8_t)(frame_len >> 16);
	out[2] = (uint8_t)(frame_len >> 8);
	out[3] = (uint8_t)frame_len;
}

int net_csum_complete(uint8_t *frame, size_t len, size_t start, size_t off)
{
	uint64_t sum = 0;
	size_t i;

	if (start > len || off > len || start + off + 2u > len)
		return -EINVAL;
	for (i = start; i + 1 < len; i += 2)
		sum += (uint32_t)frame[i] << 8 | frame[i + 1];
	if (i < len)
		sum += (uint32_t)frame[i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffffu) + (sum >> 16);
	/* 0 and 0xffff are the same sum; 0 would mean "no checksum" to UDP */
	uint16_t c = (uint16_t)~sum ? (uint16_t)~sum : 0xffffu;
	frame[start + off] = (uint8_t)(c >> 8);
	frame[start + off + 1] = (uint8_t)c;
	return 0;
}
