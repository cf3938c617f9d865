/* net_port.h — the wire format between a VMM's virtio-net port and the
 * bulkhead switch (both ends follow it; it is the switch's only input from a
 * VMM, so the switch treats every message as hostile).
 *
 * Transport: an AF_UNIX SOCK_SEQPACKET connection per port (a socketpair the
 * daemon or `bulkhead run` creates and hands to both sides as descriptors;
 * neither side ever connects by path). Message boundaries are frames.
 *
 * One message = struct net_port_hdr (NET_PORT_HDR_LEN bytes, little-endian)
 * followed by exactly one Ethernet frame (NET_PORT_MIN_FRAME..NET_PORT_MAX_FRAME
 * bytes, starting with the destination MAC; no FCS). The header is the
 * virtio-net header of VIRTIO_F_VERSION_1 (struct virtio_net_hdr_v1, 12
 * bytes) with num_buffers 0: flags may carry NEEDS_CSUM (csum_start and
 * csum_offset then name the checksum to fill) and gso_type/gso_size/hdr_len a
 * TSO/UFO super-frame, so VM<->VM traffic keeps its offloads. A receiver that
 * cannot take a GSO frame (its guest did not ack the offload, or an uplink)
 * segments it or drops it and counts the drop — never delivers it as is.
 * Messages shorter than the header + NET_PORT_MIN_FRAME, longer than the
 * maximum (MSG_TRUNC), or with an unknown gso_type / flags are dropped and
 * counted as malformed. */
#ifndef BH_CTL_NET_PORT_H
#define BH_CTL_NET_PORT_H

#include <stdint.h>

#define NET_PORT_HDR_LEN 12u
#define NET_PORT_MIN_FRAME 14u     /* an Ethernet header */
#define NET_PORT_MAX_FRAME 65550u  /* 64 KiB GSO payload + L2 header and VLAN tag */
#define NET_PORT_MAX_MSG (NET_PORT_HDR_LEN + NET_PORT_MAX_FRAME)

/* Same layout and values as struct virtio_net_hdr_v1 (virtio spec 5.1.6). */
struct net_port_hdr {
	uint8_t flags;        /* NET_PORT_F_* */
	uint8_t gso_type;     /* NET_PORT_GSO_* */
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers; /* 0 on the wire */
};
_Static_assert(sizeof(struct net_port_hdr) == NET_PORT_HDR_LEN, "net_port_hdr is 12 bytes");

#define NET_PORT_F_NEEDS_CSUM 1u
#define NET_PORT_F_DATA_VALID 2u
#define NET_PORT_GSO_NONE 0u
#define NET_PORT_GSO_TCPV4 1u
#define NET_PORT_GSO_UDP 3u
#define NET_PORT_GSO_TCPV6 4u
#define NET_PORT_GSO_ECN 0x80u

#endif
