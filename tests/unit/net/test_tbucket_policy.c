/* test_tbucket_policy.c — src/net/tbucket.c (continuous refill: the wait it
 * reports is exact to the nanosecond, the achieved rate over a simulated
 * second equals the setting for refill periods of 10 ms, 100 ms and 1 s) and
 * src/net/policy.c (CIDR parsing, rule lists, the default-deny ranges, the
 * host's own addresses, link plumbing that always passes). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "net/policy.h"
#include "net/tbucket.h"

static void test_tb_exact_wait(void **s)
{
	(void)s;
	struct net_tb tb;
	/* 1000 tokens/s, 10 ms of burst = 10 tokens */
	assert_int_equal(net_tb_init(&tb, 1000, 10000000, 1, 0), 0);
	assert_int_equal(tb.burst, 10);
	for (int i = 0; i < 10; i++)
		assert_true(net_tb_take(&tb, 1, 0));
	assert_false(net_tb_take(&tb, 1, 0));
	assert_int_equal(net_tb_wait_ns(&tb, 1, 0), 1000000);     /* 1 ms per token */
	assert_int_equal(net_tb_wait_ns(&tb, 1, 999999), 1);
	assert_false(net_tb_take(&tb, 1, 999999));
	assert_true(net_tb_take(&tb, 1, 1000000));
	assert_int_equal(net_tb_wait_ns(&tb, 3, 1000000), 3000000);
	/* a request above the burst costs the whole burst */
	assert_false(net_tb_take(&tb, 50, 5000000));
	assert_true(net_tb_take(&tb, 50, 11000000));
	/* rate 0 = unlimited */
	assert_int_equal(net_tb_init(&tb, 0, 1000, 1, 0), 0);
	assert_true(net_tb_take(&tb, UINT64_MAX, 0));
	assert_int_equal(net_tb_wait_ns(&tb, 5, 0), 0);
	/* a burst past the limit is refused */
	assert_int_equal(net_tb_init(&tb, 10000000000ull, 2000000000ull, 1, 0), -EINVAL);
	assert_int_equal(net_tb_init(&tb, UINT64_MAX, 2, 1, 0), -EINVAL);
}

/* A sender that always waits exactly what net_tb_wait_ns says achieves the
 * rate: burst + rate x time, for every refill period. */
static void test_tb_achieved_rate(void **s)
{
	(void)s;
	static const uint64_t periods[] = { 10000000, 100000000, 1000000000 };
	for (size_t p = 0; p < 3; p++) {
		struct net_tb tb;
		uint64_t now = 5, sent = 0, bytes = 0;
		assert_int_equal(net_tb_init(&tb, 1250000, periods[p], 1514, now), 0);
		uint64_t burst = tb.burst;
		while (now < 5 + 3000000000ull) {
			uint64_t w = net_tb_wait_ns(&tb, 1000, now);
			if (w) {
				now += w;
				continue;
			}
			assert_true(net_tb_take(&tb, 1000, now));
			sent++;
			bytes += 1000;
		}
		uint64_t expect = burst + 1250000ull * 3;
		assert_true(bytes <= expect + 1000);
		assert_true(bytes + 2000 >= expect);
		(void)sent;
	}
}

static void test_cidr_parse(void **s)
{
	(void)s;
	struct net_cidr c;
	char buf[64];
	assert_int_equal(net_cidr_parse("10.1.0.0/16", &c), 0);
	assert_int_equal(c.family, 4);
	assert_int_equal(c.prefix, 16);
	c.allow = 1;
	net_cidr_format(&c, buf, sizeof(buf));
	assert_string_equal(buf, "allow 10.1.0.0/16");
	assert_int_equal(net_cidr_parse("fd00::/8", &c), 0);
	assert_int_equal(c.family, 6);
	assert_int_equal(net_cidr_parse("192.0.2.7", &c), 0);
	assert_int_equal(c.prefix, 32);
	assert_int_equal(net_cidr_parse("10.1.0.1/16", &c), -EINVAL); /* host bits */
	assert_int_equal(net_cidr_parse("10.1.0.0/33", &c), -EINVAL);
	assert_int_equal(net_cidr_parse("10.1.0.0/", &c), -EINVAL);
	assert_int_equal(net_cidr_parse("10.1.0.0/-1", &c), -EINVAL);
	assert_int_equal(net_cidr_parse("10.1.0/8", &c), -EINVAL);
	assert_int_equal(net_cidr_parse("::/129", &c), -EINVAL);
	assert_int_equal(net_cidr_parse("host", &c), -EINVAL);
	assert_int_equal(net_cidr_parse(NULL, &c), -EINVAL);
}

static struct net_frame udp_to(int fam, const char *dst, unsigned dport)
{
	struct net_frame f;
	memset(&f, 0, sizeof(f));
	f.ethertype = fam == 4 ? NET_ETHERTYPE_IPV4 : NET_ETHERTYPE_IPV6;
	f.ip_ver = (uint8_t)fam;
	f.l4_proto = NET_IPPROTO_UDP;
	f.has_l4 = true;
	f.sport = 5000;
	f.dport = (uint16_t)dport;
	struct net_cidr c;
	assert_int_equal(net_cidr_parse(dst, &c), 0);
	memcpy(f.ip_dst, c.addr, 16);
	return f;
}

static void test_policy_defaults(void **s)
{
	(void)s;
	static const char *const denied4[] = { "10.0.0.1", "172.16.5.5", "172.31.255.255",
		"192.168.1.1", "100.64.0.1", "100.127.255.255", "127.0.0.1", "169.254.169.254",
		"0.0.0.0", "224.0.0.1", "255.255.255.255" };
	static const char *const denied6[] = { "::1", "fc00::1", "fd12:3456::1", "fe80::1",
		"::ffff:127.0.0.1", "ff02::1" };
	static const char *const allowed[] = { "192.0.2.1", "8.8.8.8", "172.32.0.1",
		"100.128.0.1", "2001:db8::1" };
	for (size_t i = 0; i < BH_ARRAY_SIZE(denied4); i++) {
		struct net_frame f = udp_to(4, denied4[i], 53);
		assert_int_equal(net_policy_check(NULL, NULL, &f), NET_DROP_POLICY);
	}
	for (size_t i = 0; i < BH_ARRAY_SIZE(denied6); i++) {
		struct net_frame f = udp_to(6, denied6[i], 53);
		assert_int_equal(net_policy_check(NULL, NULL, &f), NET_DROP_POLICY);
	}
	for (size_t i = 0; i < BH_ARRAY_SIZE(allowed); i++) {
		struct net_frame f = udp_to(strchr(allowed[i], ':') ? 6 : 4, allowed[i], 53);
		assert_int_equal(net_policy_check(NULL, NULL, &f), NET_OK);
	}
	/* the host's own address */
	struct net_host_addrs host = { .n = 1 };
	assert_int_equal(net_cidr_parse("192.0.2.1", &host.a[0]), 0);
	struct net_frame f = udp_to(4, "192.0.2.1", 80);
	assert_int_equal(net_policy_check(NULL, &host, &f), NET_DROP_POLICY);
	/* plumbing: DHCP broadcast, ARP, NDP */
	f = udp_to(4, "255.255.255.255", 67);
	f.sport = 68;
	assert_int_equal(net_policy_check(NULL, NULL, &f), NET_OK);
	f = udp_to(6, "fe80::1", 0);
	f.l4_proto = NET_IPPROTO_ICMPV6;
	f.icmp_type = 135;
	assert_int_equal(net_policy_check(NULL, NULL, &f), NET_OK);
	memset(&f, 0, sizeof(f));
	f.ethertype = NET_ETHERTYPE_ARP;
	assert_int_equal(net_policy_check(NULL, NULL, &f), NET_OK);
	f.ethertype = 0x88cc;
	assert_int_equal(net_policy_check(NULL, NULL, &f), NET_DROP_POLICY);
}

static void test_policy_rules(void **s)
{
	(void)s;
	struct net_policy p;
	char err[128] = "";
	assert_int_equal(net_policy_parse("allow:10.1.0.0/16,deny:8.8.8.0/24,allow:fd00::/8", &p,
		err, sizeof(err)), 0);
	assert_int_equal(p.nrules, 3);
	struct net_frame f = udp_to(4, "10.1.2.3", 80);
	assert_int_equal(net_policy_check(&p, NULL, &f), NET_OK);
	f = udp_to(4, "10.2.0.1", 80);
	assert_int_equal(net_policy_check(&p, NULL, &f), NET_DROP_POLICY);
	f = udp_to(4, "8.8.8.8", 53);
	assert_int_equal(net_policy_check(&p, NULL, &f), NET_DROP_POLICY);
	f = udp_to(4, "8.8.4.4", 53);
	assert_int_equal(net_policy_check(&p, NULL, &f), NET_OK);
	f = udp_to(6, "fd00::5", 53);
	assert_int_equal(net_policy_check(&p, NULL, &f), NET_OK);
	/* deny everything, first match wins */
	assert_int_equal(net_policy_parse("allow:192.0.2.0/24,deny:0.0.0.0/0,deny:::/0", &p, err,
		sizeof(err)), 0);
	f = udp_to(4, "192.0.2.9", 80);
	assert_int_equal(net_policy_check(&p, NULL, &f), NET_OK);
	f = udp_to(4, "198.51.100.1", 80);
	assert_int_equal(net_policy_check(&p, NULL, &f), NET_DROP_POLICY);
	assert_int_equal(net_policy_parse("", &p, err, sizeof(err)), 0);
	assert_int_equal(p.nrules, 0);
	assert_int_equal(net_policy_parse("permit:10.0.0.0/8", &p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "permit:10.0.0.0/8"));
	assert_int_equal(net_policy_parse("allow:10.0.0.1/8", &p, err, sizeof(err)), -EINVAL);
	char many[2048] = "";
	for (int i = 0; i < 33; i++)
		strcat(many, i ? ",deny:10.0.0.0/8" : "deny:10.0.0.0/8");
	assert_int_equal(net_policy_parse(many, &p, err, sizeof(err)), -E2BIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tb_exact_wait),
		cmocka_unit_test(test_tb_achieved_rate),
		cmocka_unit_test(test_cidr_parse),
		cmocka_unit_test(test_policy_defaults),
		cmocka_unit_test(test_policy_rules),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
