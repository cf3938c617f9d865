/* frame.h — Ethernet frame parsing and port-security decisions (the net layer).
 *
 * Pure functions over a HOST-SIDE COPY of a frame: the caller copies the
 * bytes once (the switch receives a message into its own buffer; a VMM copies
 * the L2-L4 header bytes out of guest memory first) and every decision here
 * reads only that copy, so nobody can change what was checked (architecture
 * rule 2). No allocation, no global state, no I/O: safe on any thread.
 *
 * What is parsed: Ethernet II with at most one 802.1Q/802.1ad tag (two tags
 * are refused), ARP (Ethernet/IPv4 only), IPv4 (options skipped, fragments
 * understood), IPv6 (hop-by-hop / routing / destination-options / fragment
 * extension headers walked, at most NET_IP6_MAX_EXT of them), ICMPv6
 * neighbour discovery (NS/NA/RS/RA/redirect and their link-layer options),
 * TCP and UDP headers. Anything else with an ethertype outside
 * IPv4/IPv6/ARP is refused; anything truncated or inconsistent is malformed.
 *
 * Port security (net_port_check): the frame's source MAC must be the
 * port's; its source IP must be the port's when the port has one of that
 * family — for IPv6 also its MAC's EUI-64 link-local, or a link-local NOT
 * in EUI-64 form (a stable-privacy or random one, RFC 7217/8981) that no
 * other port owns (the switch learns those per port); a port sends untagged frames (a VLAN tag is refused); ARP and
 * NDP may only announce the port's own MAC and addresses
 * (and never an address another port owns); router advertisements and
 * redirects from a port are refused (a VM is never a router of its
 * segment). */
#ifndef BH_NET_FRAME_H
#define BH_NET_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"

#define NET_ETH_ALEN 6u
#define NET_ETH_HLEN 14u
#define NET_ETHERTYPE_IPV4 0x0800u
#define NET_ETHERTYPE_ARP 0x0806u
#define NET_ETHERTYPE_IPV6 0x86ddu
#define NET_ETHERTYPE_VLAN 0x8100u
#define NET_ETHERTYPE_QINQ 0x88a8u
#define NET_IP6_MAX_EXT 8u
#define NET_IPPROTO_ICMP 1u
#define NET_IPPROTO_TCP 6u
#define NET_IPPROTO_UDP 17u
#define NET_IPPROTO_ICMPV6 58u

/* Why a frame was dropped. Stable names (net_drop_name) are what `inspect`,
 * /metrics and the switch's events show; append, never renumber. */
enum net_drop {
	NET_OK = 0,
	NET_DROP_MALFORMED,   /* truncated, inconsistent lengths, bad header */
	NET_DROP_ETHERTYPE,   /* not IPv4/IPv6/ARP; a VLAN tag (more than one: parse) */
	NET_DROP_SPOOF_MAC,   /* source MAC is not the port's */
	NET_DROP_SPOOF_IP,    /* source IP is not the port's */
	NET_DROP_SPOOF_ARP,   /* ARP/NDP announcing another MAC or address */
	NET_DROP_ROUTER,      /* router advertisement / redirect from a port */
	NET_DROP_RATE,        /* over the port's token bucket */
	NET_DROP_POLICY,      /* egress policy (toward the uplink) */
	NET_DROP_PEER_FULL,   /* the receiving port's socket was full */
	NET_DROP_NO_ROUTE,    /* unicast toward a closed or foreign port */
	NET_DROP__COUNT
};

/* "malformed", "ethertype", "spoof_mac", ...; "unknown" out of range. */
const char *net_drop_name(enum net_drop why);

/* True for the reasons that are port-security violations (spoofing and
 * rogue routers: what `on_violation` acts on). */
bool net_drop_is_violation(enum net_drop why);

/* What net_frame_parse learned. Offsets index the parsed buffer. */
struct net_frame {
	uint8_t dst[NET_ETH_ALEN];
	uint8_t src[NET_ETH_ALEN];
	bool has_vlan;
	uint16_t vlan_tci;
	uint16_t ethertype;   /* after the tag */
	uint16_t l3_off;
	/* ARP (ethertype ARP) */
	uint16_t arp_op;
	uint8_t arp_sha[NET_ETH_ALEN], arp_spa[4], arp_tha[NET_ETH_ALEN], arp_tpa[4];
	/* IP (ethertype IPv4 / IPv6) */
	uint8_t ip_ver;       /* 4 or 6, 0 otherwise */
	uint8_t ip_src[16], ip_dst[16]; /* IPv4 in the first 4 bytes */
	uint8_t l4_proto;     /* after IPv6 extension headers */
	uint8_t hop_limit;    /* TTL / hop limit */
	bool is_fragment;     /* any fragment (first or later) */
	bool has_l4;          /* the L4 header below was parsed */
	uint32_t l4_off;
	uint16_t sport, dport;   /* TCP/UDP */
	uint8_t icmp_type, icmp_code;
	/* NDP (ICMPv6 133-137) */
	bool nd_has_target;
	uint8_t nd_target[16];
	bool nd_has_lladdr;      /* a source or target link-layer address option */
	uint8_t nd_lladdr[NET_ETH_ALEN];
};

/* Parse frame[0..len) (starting with the destination MAC, no FCS) into *out.
 * Returns NET_OK, NET_DROP_MALFORMED or NET_DROP_ETHERTYPE. Never reads
 * outside the buffer; *out is fully written either way. */
enum net_drop net_frame_parse(const uint8_t *frame, size_t len, struct net_frame *out)
	BH_WUR;

/* A port's identity: its MAC and, optionally, one address per family. */
struct net_port_id {
	uint8_t mac[NET_ETH_ALEN];
	bool has_ip4, has_ip6;
	uint8_t ip4[4];
	uint8_t ip6[16];
};

/* Optional: does a port other than the checked one own this address?
 * family 4 or 6, addr 4 or 16 bytes. NULL = no one else is known. */
typedef bool (*net_owned_fn)(void *ctx, int family, const uint8_t *addr);

/* Port security on a parsed frame the port SENT. Returns NET_OK or the
 * reason to drop. Rules (in order):
 *   source MAC != port MAC -> SPOOF_MAC;
 *   an 802.1Q/802.1ad tag (a port is untagged: a tag could hop onto
 *     another VLAN of the network beyond) -> ETHERTYPE;
 *   ARP: sender MAC != port MAC, or sender IP neither 0.0.0.0 (a probe) nor
 *     the port's IPv4 (when it has one), or owned by another port
 *     -> SPOOF_ARP;
 *   IPv4: source neither the port's IPv4 (when it has one) nor 0.0.0.0 for a
 *     DHCP client (UDP 68 -> 67) -> SPOOF_IP; owned by another -> SPOOF_IP;
 *   IPv6: source neither the port's IPv6 (when it has one), nor the
 *     link-local EUI-64 address of the port's MAC, nor :: for a neighbour
 *     solicitation (DAD) -> SPOOF_IP; owned by another -> SPOOF_IP;
 *   NDP: an NA whose target is not the port's (IPv6 or its EUI-64
 *     link-local, when the port has an IPv6) or is owned by another, or a
 *     link-layer address option != port MAC -> SPOOF_ARP; RA or redirect
 *     -> ROUTER; NDP in a fragment -> MALFORMED.
 * `owned` may be NULL. */
enum net_drop net_port_check(const struct net_port_id *port, const struct net_frame *f,
	net_owned_fn owned, void *ctx) BH_WUR;

/* Port security on a frame of which only the first head_len bytes are real
 * and the rest of the buffer, up to frame_len, is zeros (a VMM checks its
 * host copy of the headers while the payload stays in guest memory and may
 * change): net_frame_parse + net_port_check, and NET_DROP_MALFORMED when the
 * verdict would rest on bytes past the copy — the ARP body or IP header
 * (IPv6: the fixed 40 bytes), the first 8 bytes of an L4 header, or a
 * neighbour discovery message (ICMPv6 133-137) not wholly in it (each only
 * as far as the frame goes). IPv6 extension headers can push the ICMPv6
 * header past any fixed copy, where zeros would read as type 0 and hide a
 * router advertisement or a spoofed neighbour advertisement (RFC 7113's
 * RA-guard evasion). head_len >= frame_len: the whole frame is real. */
enum net_drop net_port_check_head(const struct net_port_id *port, const uint8_t *frame,
	size_t head_len, size_t frame_len, net_owned_fn owned, void *ctx) BH_WUR;

/* The port's IPv6 link-local address (fe80::/64 + modified EUI-64 of mac). */
void net_ip6_linklocal(const uint8_t mac[NET_ETH_ALEN], uint8_t out[16]);

/* Check the per-message header of the switch wire format (ctl/net_port.h's
 * struct net_port_hdr, raw little-endian bytes hdr[0..12)) against a frame of
 * frame_len bytes: known flags and gso_type, a gso_size for GSO frames, the
 * checksum offsets inside the frame. NET_OK or NET_DROP_MALFORMED. */
enum net_drop net_port_hdr_check(const uint8_t *hdr, size_t frame_len) BH_WUR;

/* Per-port drop counters (indexed by enum net_drop; [NET_OK] unused). */
struct net_drop_counters {
	uint64_t n[NET_DROP__COUNT];
};

/* Count one drop (saturating; out-of-range reasons count as malformed). */
void net_drop_count(struct net_drop_counters *c, enum net_drop why);

/* MAC helpers. */
static inline bool net_mac_is_multicast(const uint8_t *mac)
{
	return (mac[0] & 1u) != 0;
}
bool net_mac_parse(const char *s, uint8_t out[NET_ETH_ALEN]) BH_WUR;
void net_mac_format(const uint8_t mac[NET_ETH_ALEN], char out[18]);

#endif
