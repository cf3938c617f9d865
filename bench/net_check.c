/* net_check.c — what port security costs per frame by itself: the switch's
 * own check (src/net/frame.c net_port_check, with an "owned by another
 * port" callback that scans a port table as the switch's does) on the
 * network group's frames, timed over many iterations. The frame is parsed
 * once (the switch parses every frame to forward it anyway).
 *   net_check [N]   prints "net_check <ns per check, 1514-byte UDP> <ns, 60-byte ARP>"
 * exit 0, or 1 if a frame was not accepted (the check must pass them). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "net/frame.h"

#define PORTS 16 /* the table scanned by owned(): a busy segment */

struct table {
	struct net_port_id p[PORTS];
	unsigned self;
};

static bool owned(void *ctx, int family, const uint8_t *addr)
{
	const struct table *t = ctx;
	for (unsigned i = 0; i < PORTS; i++) {
		if (i == t->self)
			continue;
		if (family == 4 && t->p[i].has_ip4 && !memcmp(t->p[i].ip4, addr, 4))
			return true;
		if (family == 6 && t->p[i].has_ip6 && !memcmp(t->p[i].ip6, addr, 16))
			return true;
	}
	return false;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double time_check(const struct net_port_id *id, const uint8_t *fr, size_t len, struct table *t,
			 long n, bool *ok)
{
	struct net_frame f;
	volatile int sink = 0;
	*ok = net_frame_parse(fr, len, &f) == NET_OK && net_port_check(id, &f, owned, t) == NET_OK;
	double t0 = now();
	for (long i = 0; i < n; i++)
		sink += (int)net_port_check(id, &f, owned, t);
	double dt = now() - t0;
	*ok = *ok && sink == 0;
	return dt / (double)n * 1e9;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 2000000;
	static uint8_t udp[1514], arp[60];
	struct table t;

	if (n < 1)
		return 2;
	memset(&t, 0, sizeof(t));
	for (unsigned i = 0; i < PORTS; i++) {
		uint8_t mac[6] = { 2, 0, 0, 0, 9, (uint8_t)(i + 1) };
		memcpy(t.p[i].mac, mac, 6);
		t.p[i].has_ip4 = true;
		t.p[i].ip4[0] = 10;
		t.p[i].ip4[2] = 9;
		t.p[i].ip4[3] = (uint8_t)(i + 1);
	}
	t.self = 0;
	/* the group's frame: UDP 10.0.9.1 -> 10.0.9.2 from port 0's MAC */
	memcpy(udp, t.p[1].mac, 6);
	memcpy(udp + 6, t.p[0].mac, 6);
	udp[12] = 0x08;
	udp[14] = 0x45;
	udp[16] = (1500 >> 8) & 0xff;
	udp[17] = 1500 & 0xff;
	udp[22] = 64;
	udp[23] = 17;
	memcpy(udp + 26, t.p[0].ip4, 4);
	memcpy(udp + 30, t.p[1].ip4, 4);
	udp[34] = 0x0f; udp[35] = 0xa0; udp[36] = 0x0f; udp[37] = 0xa0;
	udp[38] = (1480 >> 8) & 0xff;
	udp[39] = 1480 & 0xff;
	/* an ARP request from port 0 for 10.0.9.2 */
	memset(arp, 0xff, 6);
	memcpy(arp + 6, t.p[0].mac, 6);
	arp[12] = 0x08; arp[13] = 0x06;
	arp[15] = 1; arp[16] = 0x08; arp[18] = 6; arp[19] = 4; arp[21] = 1;
	memcpy(arp + 22, t.p[0].mac, 6);
	memcpy(arp + 28, t.p[0].ip4, 4);
	memcpy(arp + 38, t.p[1].ip4, 4);
	bool ok1, ok2;
	double a = time_check(&t.p[0], udp, sizeof(udp), &t, n, &ok1);
	double b = time_check(&t.p[0], arp, sizeof(arp), &t, n, &ok2);
	if (!ok1 || !ok2) {
		fprintf(stderr, "net_check: the check refused a frame it must accept (udp %d, arp %d)\n", ok1,
			ok2);
		return 1;
	}
	printf("net_check %.1f %.1f\n", a, b);
	return 0;
}
