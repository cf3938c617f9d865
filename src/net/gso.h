/* gso.h — cutting a TCP segmentation-offload super-frame (virtio-net's
 * GSO_TCPV4 / GSO_TCPV6, as a guest with HOST_TSO sends it) into frames of
 * at most gso_size payload bytes each, with complete IP and TCP checksums:
 * what a receiver that takes no super-frames (a passt uplink) needs. The net
 * layer: pure functions over the caller's copy, no allocation, no I/O.
 *
 * Per segment k of n: the Ethernet/IP/TCP headers are copied; IPv4 total
 * length, identification (+k) and header checksum, or IPv6 payload length,
 * are set; the TCP sequence number advances by k x gso_size; FIN and PSH
 * stay on the last segment only, CWR on the first only; the TCP checksum is
 * computed over the pseudo-header and the segment (whatever the sender left
 * in the field). */
#ifndef BH_NET_GSO_H
#define BH_NET_GSO_H

#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"

#define NET_GSO_MIN_MSS 64u /* smaller is refused (one tiny frame per byte pair) */

struct net_gso {
	size_t l3_off, l4_off, hdrs; /* offsets; hdrs = all headers' bytes */
	size_t payload;              /* TCP payload bytes of the super-frame */
	size_t mss;
	unsigned nseg;
	uint8_t ip_ver;
};

/* Check a super-frame frame[0..len) with the per-message header hdr (12
 * bytes, ctl/net_port.h layout: gso_type TCPV4 or TCPV6, optionally with
 * the ECN bit, gso_size) and fill *g. 0, or -EINVAL: not IPv4/IPv6 + TCP
 * as gso_type says, a fragment, truncated headers, gso_size under
 * NET_GSO_MIN_MSS, or no payload. */
int net_gso_init(struct net_gso *g, const uint8_t *hdr, const uint8_t *frame, size_t len) BH_WUR;

/* Write segment k (< g->nseg) of frame into out, which has room for
 * g->hdrs + g->mss bytes; returns its length. */
size_t net_gso_segment(const struct net_gso *g, const uint8_t *frame, unsigned k, uint8_t *out);

#endif
