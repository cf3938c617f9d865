/* stream.h — passt's "qemu" framing on a SOCK_STREAM socket, and the
 * checksum a receiver of NEEDS_CSUM frames must fill (the net layer: pure
 * functions, no allocation, no I/O, no global state).
 *
 * Framing: every Ethernet frame (destination MAC first, no FCS) is preceded
 * by its length as a 4-byte big-endian integer; there are no other bytes on
 * the stream. A length outside NET_STREAM_MIN_FRAME..NET_STREAM_MAX_FRAME is
 * garbage: the stream cannot be resynchronised, its reader drops the
 * connection. */
#ifndef BH_NET_STREAM_H
#define BH_NET_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"

#define NET_STREAM_PREFIX 4u
#define NET_STREAM_MIN_FRAME 14u     /* an Ethernet header */
#define NET_STREAM_MAX_FRAME 65550u  /* the switch's largest frame (ctl/net_port.h) */

/* Look at the unread stream bytes buf[0..len). Returns 1 with *frame_len set
 * when a whole frame is there (it is buf[4..4 + *frame_len)), 0 when more
 * bytes are needed (*frame_len 0), or -EPROTO when the length prefix is
 * out of range (*frame_len 0). Never reads outside buf. */
int net_stream_frame(const uint8_t *buf, size_t len, size_t *frame_len) BH_WUR;

/* Write the 4-byte big-endian prefix for a frame of frame_len bytes
 * (NET_STREAM_MIN_FRAME..NET_STREAM_MAX_FRAME, which the caller checked). */
void net_stream_prefix(uint8_t out[NET_STREAM_PREFIX], size_t frame_len);

/* Complete a NEEDS_CSUM frame (virtio-net semantics: the 16-bit field at
 * frame[start + off] holds the pseudo-header sum; the Internet checksum of
 * frame[start..len) goes there). -EINVAL when start + off + 2 > len, else 0. */
int net_csum_complete(uint8_t *frame, size_t len, size_t start, size_t off) BH_WUR;

#endif
