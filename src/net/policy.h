/* policy.h — the egress policy of a switch port toward an uplink.
 *
 * Default-deny for the dangerous ranges: unless a port's own rules allow it,
 * a frame toward the uplink may not go to RFC 1918 (10/8, 172.16/12,
 * 192.168/16), CGNAT 100.64/10, "this network" 0/8, loopback 127/8 and ::1,
 * link-local 169.254/16 (the 169.254.169.254 metadata address) and
 * fe80::/10, ULA fc00::/7, IPv4-mapped ::ffff:0:0/96, multicast and
 * broadcast, nor any address of the host itself (net_policy_add_host).
 * A port's rules ("allow 10.1.0.0/16", "deny 0.0.0.0/0") are checked first,
 * in order, first match wins. Link plumbing toward the uplink always
 * passes: ARP, NDP (ICMPv6 133-136), DHCP (UDP 68->67) and DHCPv6
 * (UDP 546->547) — they reach the uplink's own stack, not beyond it.
 * Pure functions; the caller owns every struct. */
#ifndef BH_NET_POLICY_H
#define BH_NET_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"
#include "net/frame.h"

#define NET_POLICY_MAX_RULES 32u
#define NET_POLICY_MAX_HOST 32u

struct net_cidr {
	uint8_t family;     /* 4 or 6 */
	uint8_t prefix;     /* 0..32 / 0..128 */
	uint8_t allow;      /* 1 allow, 0 deny */
	uint8_t addr[16];   /* IPv4 in the first 4 bytes, host bits zero */
};

struct net_policy {
	unsigned nrules;
	struct net_cidr rules[NET_POLICY_MAX_RULES];
};

/* The host's own addresses (denied unless a rule allows them). */
struct net_host_addrs {
	unsigned n;
	struct net_cidr a[NET_POLICY_MAX_HOST];
};

/* Parse "A.B.C.D/N", "A.B.C.D" (= /32), "X::Y/N" or "X::Y" (= /128) into
 * *out (allow set by the caller). Host bits must be zero. 0 or -EINVAL. */
int net_cidr_parse(const char *s, struct net_cidr *out) BH_WUR;

/* Format as "allow 10.0.0.0/8" / "deny fc00::/7". */
void net_cidr_format(const struct net_cidr *c, char *buf, size_t len);

/* Parse a comma-separated rule list "allow:10.1.0.0/16,deny:0.0.0.0/0" (an
 * empty string = no rules) into *p. 0 or -EINVAL (err names the bad item)
 * or -E2BIG (more than NET_POLICY_MAX_RULES). */
int net_policy_parse(const char *s, struct net_policy *p, char *err, size_t errlen) BH_WUR;

/* Whether addr (family 4/6) lies in c. */
bool net_cidr_match(const struct net_cidr *c, int family, const uint8_t *addr);

/* Whether a parsed frame from a port with policy p may go to the uplink:
 * NET_OK or NET_DROP_POLICY. host may be NULL. */
enum net_drop net_policy_check(const struct net_policy *p, const struct net_host_addrs *host,
	const struct net_frame *f) BH_WUR;

#endif
