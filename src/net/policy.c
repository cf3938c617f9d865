/* policy.c — egress policy toward an uplink (contracts in policy.h). */
#include "net/policy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The ranges denied unless a port's rule allows them. */
static const struct {
	int family;
	unsigned prefix;
	uint8_t addr[16];
} deny_default[] = {
	{ 4, 8, { 0 } },                          /* 0.0.0.0/8 "this network" */
	{ 4, 8, { 10 } },                         /* RFC 1918 */
	{ 4, 12, { 172, 16 } },                   /* RFC 1918 */
	{ 4, 16, { 192, 168 } },                  /* RFC 1918 */
	{ 4, 10, { 100, 64 } },                   /* CGNAT */
	{ 4, 8, { 127 } },                        /* loopback */
	{ 4, 16, { 169, 254 } },                  /* link-local, metadata services */
	{ 4, 4, { 224 } },                        /* multicast */
	{ 4, 4, { 240 } },                        /* reserved + 255.255.255.255 */
	{ 6, 128, { [15] = 1 } },                 /* ::1 */
	{ 6, 128, { 0 } },                        /* :: */
	{ 6, 96, { [10] = 0xff, [11] = 0xff } },  /* IPv4-mapped */
	{ 6, 7, { 0xfc } },                       /* ULA */
	{ 6, 10, { 0xfe, 0x80 } },                /* link-local */
	{ 6, 8, { 0xff } },                       /* multicast */
};

bool net_cidr_match(const struct net_cidr *c, int family, const uint8_t *addr)
{
	unsigned full, rem;

	if (c->family != family)
		return false;
	full = c->prefix / 8u;
	rem = c->prefix % 8u;
	if (memcmp(c->addr, addr, full) != 0)
		return false;
	if (rem == 0)
		return true;
	uint8_t mask = (uint8_t)(0xffu << (8u - rem));
	return (c->addr[full] & mask) == (addr[full] & mask);
}

int net_cidr_parse(const char *s, struct net_cidr *out)
{
	char buf[64];
	const char *slash;
	unsigned long prefix;
	size_t alen;

	memset(out, 0, sizeof(*out));
	if (!s || strlen(s) >= sizeof(buf))
		return -EINVAL;
	slash = strchr(s, '/');
	alen = slash ? (size_t)(slash - s) : strlen(s);
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	if (inet_pton(AF_INET, buf, out->addr) == 1)
		out->family = 4;
	else if (inet_pton(AF_INET6, buf, out->addr) == 1)
		out->family = 6;
	else
		return -EINVAL;
	unsigned max = out->family == 4 ? 32u : 128u;
	if (slash) {
		char *end;
		if (slash[1] < '0' || slash[1] > '9')
			return -EINVAL;
		prefix = strtoul(slash + 1, &end, 10);
		if (*end || prefix > max || end - (slash + 1) > 3)
			return -EINVAL;
	} else {
		prefix = max;
	}
	out->prefix = (uint8_t)prefix;
	/* host bits must be zero */
	for (unsigned bit = out->prefix; bit < max; bit++)
		if (out->addr[bit / 8] & (0x80u >> (bit % 8)))
			return -EINVAL;
	return 0;
}

void net_cidr_format(const struct net_cidr *c, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?";

	inet_ntop(c->family == 4 ? AF_INET : AF_INET6, c->addr, a, sizeof(a));
	snprintf(buf, len, "%s %s/%u", c->allow ? "allow" : "deny", a, c->prefix);
}

int net_policy_parse(const char *s, struct net_policy *p, char *err, size_t errlen)
{
	char item[96];

	memset(p, 0, sizeof(*p));
	if (!s)
		return 0;
	while (*s) {
		const char *comma = strchr(s, ',');
		size_t n = comma ? (size_t)(comma - s) : strlen(s);
		struct net_cidr c;
		int allow;

		if (n >= sizeof(item)) {
			snprintf(err, errlen, "egress rule too long: '%.40s...'", s);
			return -EINVAL;
		}
		memcpy(item, s, n);
		item[n] = '\0';
		if (strncmp(item, "allow:", 6) == 0)
			allow = 1;
		else if (strncmp(item, "deny:", 5) == 0)
			allow = 0;
		else {
			snprintf(err, errlen, "egress rule '%s': expected allow:CIDR or deny:CIDR", item);
			return -EINVAL;
		}
		if (net_cidr_parse(item + (allow ? 6 : 5), &c)) {
			snprintf(err, errlen, "egress rule '%s': not an IPv4/IPv6 CIDR with zero host bits",
				 item);
			return -EINVAL;
		}
		if (p->nrules >= NET_POLICY_MAX_RULES) {
			snprintf(err, errlen, "more than %u egress rules", NET_POLICY_MAX_RULES);
			return -E2BIG;
		}
		c.allow = (uint8_t)allow;
		p->rules[p->nrules++] = c;
		s += n;
		if (*s == ',')
			s++;
	}
	return 0;
}

static bool plumbing(const struct net_frame *f)
{
	if (f->ethertype == NET_ETHERTYPE_ARP)
		return true;
	if (!f->has_l4)
		return false;
	if (f->ip_ver == 6 && f->l4_proto == NET_IPPROTO_ICMPV6 && f->icmp_type >= 133 &&
	    f->icmp_type <= 136)
		return true;
	if (f->l4_proto == NET_IPPROTO_UDP &&
	    ((f->ip_ver == 4 && f->sport == 68 && f->dport == 67) ||
	     (f->ip_ver == 6 && f->sport == 546 && f->dport == 547)))
		return true;
	return false;
}

enum net_drop net_policy_check(const struct net_policy *p, const struct net_host_addrs *host,
	const struct net_frame *f)
{
	int fam = f->ip_ver;

	if (plumbing(f))
		return NET_OK;
	if (fam != 4 && fam != 6)
		return NET_DROP_POLICY;
	for (unsigned i = 0; p && i < p->nrules && i < NET_POLICY_MAX_RULES; i++)
		if (net_cidr_match(&p->rules[i], fam, f->ip_dst))
			return p->rules[i].allow ? NET_OK : NET_DROP_POLICY;
	for (size_t i = 0; i < BH_ARRAY_SIZE(deny_default); i++) {
		struct net_cidr c = { .family = (uint8_t)deny_default[i].family,
				      .prefix = (uint8_t)deny_default[i].prefix };
		memcpy(c.addr, deny_default[i].addr, 16);
		if (net_cidr_match(&c, fam, f->ip_dst))
			return NET_DROP_POLICY;
	}
	for (unsigned i = 0; host && i < host->n && i < NET_POLICY_MAX_HOST; i++)
		if (net_cidr_match(&host->a[i], fam, f->ip_dst))
			return NET_DROP_POLICY;
	return NET_OK;
}
