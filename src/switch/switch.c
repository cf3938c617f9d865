/* switch.c — ports, MAC learning, port security, rate limiting and
 * forwarding of the bulkhead switch (contracts in switch.h). The event loop
 * and the control server are in switch_loop.c. */
#include "switch/switch_priv.h"

#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "ctl/net_port.h"

#define EV_PORT 1ull
#define NS_PER_S 1000000000ull

void sw_learn_host_addrs(struct sw *s)
{
	struct ifaddrs *ifa, *i;

	s->host.n = 0;
	if (getifaddrs(&ifa) < 0)
		return;
	for (i = ifa; i && s->host.n < NET_POLICY_MAX_HOST; i = i->ifa_next) {
		struct net_cidr *c = &s->host.a[s->host.n];
		if (!i->ifa_addr)
			continue;
		memset(c, 0, sizeof(*c));
		if (i->ifa_addr->sa_family == AF_INET) {
			c->family = 4;
			c->prefix = 32;
			memcpy(c->addr, &((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr, 4);
		} else if (i->ifa_addr->sa_family == AF_INET6) {
			c->family = 6;
			c->prefix = 128;
			memcpy(c->addr, &((struct sockaddr_in6 *)(void *)i->ifa_addr)->sin6_addr, 16);
		} else {
			continue;
		}
		s->host.n++;
	}
	freeifaddrs(ifa);
}

static unsigned seg_id(struct sw *s, const char *name)
{
	for (unsigned i = 0; i < s->nsegs; i++)
		if (!strcmp(s->segs[i], name))
			return i;
	if (s->nsegs >= SW_MAX_PORTS)
		return 0; /* cannot happen: at most one new segment per port */
	snprintf(s->segs[s->nsegs], SWCTL_NAME_LEN, "%s", name);
	return s->nsegs++;
}

static struct sw_port *find_port(struct sw *s, const char *name)
{
	for (unsigned i = 0; i < SW_MAX_PORTS; i++)
		if (s->ports[i].used && !strcmp(s->ports[i].name, name))
			return &s->ports[i];
	return NULL;
}

static int rules_from_wire(const struct swctl_port *p, struct net_policy *pol, char *err,
	size_t errlen)
{
	memset(pol, 0, sizeof(*pol));
	if (p->nrules > SWCTL_MAX_RULES || p->nrules > NET_POLICY_MAX_RULES) {
		snprintf(err, errlen, "too many egress rules (%u)", p->nrules);
		return -EINVAL;
	}
	for (unsigned i = 0; i < p->nrules; i++) {
		const struct swctl_rule *r = &p->rules[i];
		unsigned max = r->family == 4 ? 32u : 128u;
		if ((r->family != 4 && r->family != 6) || r->prefix > max || r->allow > 1) {
			snprintf(err, errlen, "egress rule %u: bad family/prefix/action", i);
			return -EINVAL;
		}
		pol->rules[i].family = r->family;
		pol->rules[i].prefix = r->prefix;
		pol->rules[i].allow = r->allow;
		memcpy(pol->rules[i].addr, r->addr, 16);
		for (unsigned bit = r->prefix; bit < max; bit++)
			if (r->addr[bit / 8] & (0x80u >> (bit % 8))) {
				snprintf(err, errlen, "egress rule %u: host bits set", i);
				return -EINVAL;
			}
	}
	pol->nrules = p->nrules;
	return 0;
}

int sw_port_add(struct sw *s, const struct swctl_port *p, int fd, uint64_t now_ns, char *err,
	size_t errlen)
{
	struct sw_port *n = NULL;
	struct net_policy pol;
	unsigned idx = 0, seg;
	int ret = -EINVAL;

	if (!swctl_name_ok(p->name, sizeof(p->name)) ||
	    !swctl_name_ok(p->segment, sizeof(p->segment))) {
		snprintf(err, errlen, "port and segment names: 1-31 characters of [A-Za-z0-9_.-]");
		goto fail;
	}
	if (p->flags & ~(SWCTL_F_IP4 | SWCTL_F_IP6 | SWCTL_F_UPLINK | SWCTL_F_STREAM | SWCTL_F_TAP)) {
		snprintf(err, errlen, "unknown port flags 0x%x", p->flags);
		goto fail;
	}
	if ((p->flags & SWCTL_F_STREAM) && !(p->flags & SWCTL_F_UPLINK)) {
		snprintf(err, errlen, "port %s: a stream port (passt's framing) must be an uplink",
			 p->name);
		goto fail;
	}
	if ((p->flags & SWCTL_F_TAP) &&
	    (!(p->flags & SWCTL_F_UPLINK) || (p->flags & SWCTL_F_STREAM))) {
		snprintf(err, errlen, "port %s: a tap port must be an uplink, not a stream", p->name);
		goto fail;
	}
	if (!(p->flags & SWCTL_F_UPLINK) &&
	    (net_mac_is_multicast(p->mac) || !memcmp(p->mac, "\0\0\0\0\0\0", 6))) {
		snprintf(err, errlen, "port %s: a port's MAC must be unicast and not zero", p->name);
		goto fail;
	}
	if (find_port(s, p->name)) {
		snprintf(err, errlen, "port %s exists already", p->name);
		ret = -EEXIST;
		goto fail;
	}
	if ((ret = rules_from_wire(p, &pol, err, errlen)))
		goto fail;
	seg = seg_id(s, p->segment);
	for (unsigned i = 0; i < SW_MAX_PORTS; i++) {
		struct sw_port *o = &s->ports[i];
		if (!o->used) {
			if (!n) {
				n = o;
				idx = i;
			}
			continue;
		}
		if (o->seg != seg || o->uplink || (p->flags & SWCTL_F_UPLINK))
			continue;
		if (!memcmp(o->id.mac, p->mac, 6) ||
		    ((p->flags & SWCTL_F_IP4) && o->id.has_ip4 && !memcmp(o->id.ip4, p->ip4, 4)) ||
		    ((p->flags & SWCTL_F_IP6) && o->id.has_ip6 && !memcmp(o->id.ip6, p->ip6, 16))) {
			snprintf(err, errlen, "port %s: its MAC or address is port %s's in segment %s",
				 p->name, o->name, p->segment);
			ret = -EEXIST;
			goto fail;
		}
	}
	if (!n) {
		snprintf(err, errlen, "the switch has %u ports already", SW_MAX_PORTS);
		ret = -ENOSPC;
		goto fail;
	}
	uint8_t *srx = NULL, *stx = NULL;
	if ((p->flags & SWCTL_F_STREAM) &&
	    (!(srx = malloc(SW_STREAM_RX)) || !(stx = malloc(SW_STREAM_TX)))) {
		free(srx);
		snprintf(err, errlen, "port %s: out of memory for its stream buffers", p->name);
		ret = -ENOMEM;
		goto fail;
	}
	uint32_t gen = n->gen + 1;
	memset(n, 0, sizeof(*n));
	n->stream = srx != NULL;
	n->tap = (p->flags & SWCTL_F_TAP) != 0;
	n->srx = srx;
	n->stx = stx;
	n->gen = gen;
	n->fd = fd;
	n->seg = seg;
	n->uplink = (p->flags & SWCTL_F_UPLINK) != 0;
	snprintf(n->name, sizeof(n->name), "%s", p->name);
	snprintf(n->segment, sizeof(n->segment), "%s", p->segment);
	memcpy(n->id.mac, p->mac, 6);
	n->id.has_ip4 = (p->flags & SWCTL_F_IP4) != 0;
	n->id.has_ip6 = (p->flags & SWCTL_F_IP6) != 0;
	memcpy(n->id.ip4, p->ip4, 4);
	memcpy(n->id.ip6, p->ip6, 16);
	n->policy = pol;
	uint64_t period = p->period_ns ? p->period_ns : 100000000ull;
	if (period > 10 * NS_PER_S ||
	    net_tb_init(&n->tb_bytes, p->rate_bytes, period, NET_PORT_MAX_MSG, now_ns) ||
	    net_tb_init(&n->tb_pkts, p->rate_packets, period, 1, now_ns)) {
		snprintf(err, errlen, "port %s: rate x refill period too large (period at most 10 s)",
			 p->name);
		ret = -EINVAL;
		goto fail_buffers;
	}
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (EV_PORT << 32) | idx };
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		ret = -errno;
		snprintf(err, errlen, "port %s: epoll: %s", p->name, strerror(-ret));
		goto fail_buffers;
	}
	n->used = true;
	char mac[18];
	net_mac_format(n->id.mac, mac);
	bh_info("switch: port %s (%s%s) joined segment %s", n->name,
		n->stream ? "stream uplink " : n->tap ? "tap uplink " : n->uplink ? "uplink " : "",
		mac, n->segment);
	return 0;
fail_buffers:
	free(n->srx);
	free(n->stx);
	n->srx = n->stx = NULL;
fail:
	close(fd);
	return ret;
}

static void port_free(struct sw *s, struct sw_port *p)
{
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, p->fd, NULL);
	close(p->fd);
	free(p->held);
	free(p->srx);
	free(p->stx);
	p->held = p->srx = p->stx = NULL;
	p->used = false;
	p->dead = false;
	bh_info("switch: port %s left segment %s", p->name, p->segment);
}

int sw_port_del(struct sw *s, const char *name)
{
	struct sw_port *p = find_port(s, name);

	if (!p)
		return -ENOENT;
	port_free(s, p);
	return 0;
}

int sw_port_set_policy(struct sw *s, const struct swctl_port *w, char *err, size_t errlen)
{
	struct sw_port *p = find_port(s, w->name);
	struct net_policy pol;
	int ret;

	if (!p) {
		snprintf(err, errlen, "no port %.31s", w->name);
		return -ENOENT;
	}
	if ((ret = rules_from_wire(w, &pol, err, errlen)))
		return ret;
	p->policy = pol;
	return 0;
}

/* ---- MAC learning: open addressing over (segment, MAC) ---- */

static unsigned mac_hash(unsigned seg, const uint8_t *mac)
{
	uint32_t h = 2166136261u ^ seg;
	for (int i = 0; i < 6; i++)
		h = (h ^ mac[i]) * 16777619u;
	return h % SW_MAC_SLOTS;
}

static bool mac_live(const struct sw *s, const struct sw_mac_entry *e, uint64_t now)
{
	const struct sw_port *p = &s->ports[e->port];
	return e->used && p->used && !p->dead && p->gen == e->gen && now - e->seen_ns < SW_MAC_AGE_NS;
}

static void mac_learn(struct sw *s, unsigned seg, const uint8_t *mac, unsigned port, uint64_t now)
{
	unsigned h = mac_hash(seg, mac);
	struct sw_mac_entry *free_e = NULL;

	for (unsigned k = 0; k < 16; k++) {
		struct sw_mac_entry *e = &s->macs[(h + k) % SW_MAC_SLOTS];
		if (e->used && e->seg == seg && !memcmp(e->mac, mac, 6)) {
			e->port = (uint16_t)port;
			e->gen = s->ports[port].gen;
			e->seen_ns = now;
			return;
		}
		if (!free_e && !mac_live(s, e, now))
			free_e = e;
	}
	if (free_e) { /* else: the neighbourhood is full; unknown = flooded */
		free_e->used = true;
		free_e->seg = (uint16_t)seg;
		memcpy(free_e->mac, mac, 6);
		free_e->port = (uint16_t)port;
		free_e->gen = s->ports[port].gen;
		free_e->seen_ns = now;
	}
}

static int mac_lookup(const struct sw *s, unsigned seg, const uint8_t *mac, uint64_t now)
{
	unsigned h = mac_hash(seg, mac);

	for (unsigned k = 0; k < 16; k++) {
		const struct sw_mac_entry *e = &s->macs[(h + k) % SW_MAC_SLOTS];
		if (e->used && e->seg == seg && !memcmp(e->mac, mac, 6))
			return mac_live(s, e, now) ? e->port : -1;
	}
	return -1;
}

/* ---- port security helpers ---- */

struct owned_ctx {
	const struct sw *s;
	unsigned self;
};

static bool owned_by_other(void *opaque, int family, const uint8_t *addr)
{
	const struct owned_ctx *c = opaque;
	const struct sw_port *me = &c->s->ports[c->self];

	for (unsigned i = 0; i < SW_MAX_PORTS; i++) {
		const struct sw_port *o = &c->s->ports[i];
		if (!o->used || i == c->self || o->seg != me->seg || o->uplink)
			continue;
		if (family == 4 && o->id.has_ip4 && !memcmp(o->id.ip4, addr, 4))
			return true;
		if (family == 6 && o->id.has_ip6 && !memcmp(o->id.ip6, addr, 16))
			return true;
		for (unsigned k = 0; family == 6 && k < o->nll6 && k < SW_LL6_MAX; k++)
			if (!memcmp(o->ll6[k], addr, 16))
				return true;
	}
	return false;
}

/* A VM port's frame passed port security: remember a link-local source that
 * is not its MAC's (net_port_check let it through as no one else's). */
static void learn_ll6(struct sw_port *p, const struct net_frame *f)
{
	uint8_t eui[16];

	if (f->ethertype != NET_ETHERTYPE_IPV6 || f->ip_src[0] != 0xfe ||
	    (f->ip_src[1] & 0xc0) != 0x80)
		return;
	net_ip6_linklocal(p->id.mac, eui);
	if (!memcmp(f->ip_src, eui, 16))
		return;
	for (unsigned k = 0; k < p->nll6 && k < SW_LL6_MAX; k++)
		if (!memcmp(p->ll6[k], f->ip_src, 16))
			return;
	if (p->nll6 < SW_LL6_MAX) {
		memcpy(p->ll6[p->nll6++], f->ip_src, 16);
		return;
	}
	/* full: the oldest goes */
	memmove(p->ll6[0], p->ll6[1], (SW_LL6_MAX - 1) * 16);
	memcpy(p->ll6[SW_LL6_MAX - 1], f->ip_src, 16);
}

static bool mac_of_vm_port(const struct sw *s, unsigned seg, const uint8_t *mac)
{
	for (unsigned i = 0; i < SW_MAX_PORTS; i++) {
		const struct sw_port *o = &s->ports[i];
		if (o->used && !o->uplink && o->seg == seg && !memcmp(o->id.mac, mac, 6))
			return true;
	}
	return false;
}


static void drop(struct sw *s, struct sw_port *p, enum net_drop why, uint64_t now)
{
	net_drop_count(&p->drops, why);
	if (!net_drop_is_violation(why) || (unsigned)why >= NET_DROP__COUNT)
		return;
	if (p->last_event_ns[why] && now - p->last_event_ns[why] < NS_PER_S)
		return;
	p->last_event_ns[why] = now;
	char ev[192];
	int n = snprintf(ev, sizeof(ev),
			 "{\"event\":\"violation\",\"port\":\"%s\",\"segment\":\"%s\","
			 "\"reason\":\"%s\",\"count\":%llu}",
			 p->name, p->segment, net_drop_name(why),
			 (unsigned long long)p->drops.n[why]);
	if (n > 0 && (size_t)n < sizeof(ev))
		sw_client_event(s, ev, (size_t)n);
}

/* ---- forwarding ---- */

static void deliver(struct sw *s, struct sw_port *from, struct sw_port *to,
	const struct net_frame *f, const uint8_t *msg, size_t len, uint64_t now)
{
	if (to->dead)
		return;
	if (to->uplink && !from->uplink) {
		enum net_drop r = net_policy_check(&from->policy, &s->host, f);
		if (r != NET_OK) {
			drop(s, from, r, now);
			return;
		}
		if (msg[1] != NET_PORT_GSO_NONE && !to->stream && !to->tap) {
			/* an uplink takes no GSO super-frames (net_port.h); a
			 * stream (passt) uplink gets them cut (switch_stream.c),
			 * a tap's kernel segments them (the virtio-net header) */
			drop(s, to, NET_DROP_MALFORMED, now);
			return;
		}
	}
	if (to->stream) {
		sw_stream_send(s, to, msg, len);
		return;
	}
	/* a tap (O_NONBLOCK) takes one message per write() */
	ssize_t n = to->tap ? write(to->fd, msg, len)
			    : send(to->fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n == (ssize_t)len) {
		to->tx_frames++;
		to->tx_bytes += len;
	} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS ||
			     (to->tap && errno == EIO))) {
		/* (a tap whose interface is down: EIO) */
		net_drop_count(&to->drops, NET_DROP_PEER_FULL);
	} else if (n < 0 && (errno == EMSGSIZE || (to->tap && errno == EINVAL))) {
		net_drop_count(&to->drops, NET_DROP_MALFORMED);
	} else {
		to->dead = true; /* EPIPE, ECONNRESET, ...: removed after this batch */
	}
}

static void forward(struct sw *s, unsigned i, const struct net_frame *f, const uint8_t *msg,
	size_t len, uint64_t now)
{
	struct sw_port *p = &s->ports[i];

	if (!net_mac_is_multicast(f->dst)) {
		int q = mac_lookup(s, p->seg, f->dst, now);
		if (q < 0) {
			/* a port's own MAC (a VM's, an uplink's gateway) is known
			 * without learning: never flooded to the neighbours */
			for (unsigned k = 0; k < SW_MAX_PORTS && q < 0; k++) {
				const struct sw_port *o = &s->ports[k];
				if (o->used && o->seg == p->seg && !memcmp(o->id.mac, f->dst, 6))
					q = (int)k;
			}
		}
		if (q >= 0) {
			if ((unsigned)q != i)
				deliver(s, p, &s->ports[q], f, msg, len, now);
			else
				net_drop_count(&p->drops, NET_DROP_NO_ROUTE); /* no hairpin */
			return;
		}
	}
	for (unsigned k = 0; k < SW_MAX_PORTS; k++) {
		struct sw_port *o = &s->ports[k];
		if (k != i && o->used && o->seg == p->seg)
			deliver(s, p, o, f, msg, len, now);
	}
}

/* Check a message; NET_OK with *f filled, or the reason to drop it. */
static enum net_drop admit(struct sw *s, unsigned i, const uint8_t *msg, size_t len,
	struct net_frame *f)
{
	struct sw_port *p = &s->ports[i];
	enum net_drop r;

	if (len < NET_PORT_HDR_LEN + NET_PORT_MIN_FRAME || len > NET_PORT_MAX_MSG)
		return NET_DROP_MALFORMED;
	if ((r = net_port_hdr_check(msg, len - NET_PORT_HDR_LEN)) != NET_OK)
		return r;
	if ((r = net_frame_parse(msg + NET_PORT_HDR_LEN, len - NET_PORT_HDR_LEN, f)) != NET_OK)
		return r;
	if (p->uplink) {
		if (net_mac_is_multicast(f->src) || mac_of_vm_port(s, p->seg, f->src))
			return NET_DROP_SPOOF_MAC;
		return NET_OK;
	}
	if (s->no_port_security)
		return NET_OK; /* bench only: struct sw */
	struct owned_ctx c = { s, i };
	return net_port_check(&p->id, f, owned_by_other, &c);
}


/* Hold msg until the port's tokens are due; stop reading the port. */
static void hold(struct sw *s, struct sw_port *p, const uint8_t *msg, size_t len, uint64_t due)
{
	if (!p->held && !(p->held = malloc(NET_PORT_MAX_MSG))) {
		net_drop_count(&p->drops, NET_DROP_RATE);
		return;
	}
	memcpy(p->held, msg, len);
	p->held_len = len;
	p->due_ns = due;
	sw_port_watch(s, (unsigned)(p - s->ports));
	sw_rearm_timer(s);
}

/* Take the frame's tokens, or the nanoseconds until they are due. */
static uint64_t tokens(struct sw_port *p, size_t len, uint64_t now)
{
	uint64_t wb = net_tb_wait_ns(&p->tb_bytes, len - NET_PORT_HDR_LEN, now);
	uint64_t wp = net_tb_wait_ns(&p->tb_pkts, 1, now);
	uint64_t w = wb > wp ? wb : wp;

	if (w)
		return w;
	(void)net_tb_take(&p->tb_bytes, len - NET_PORT_HDR_LEN, now);
	(void)net_tb_take(&p->tb_pkts, 1, now);
	return 0;
}

void sw_port_message(struct sw *s, unsigned i, uint8_t *msg, size_t len, uint64_t now)
{
	struct sw_port *p = &s->ports[i];
	struct net_frame f;
	enum net_drop r = admit(s, i, msg, len, &f);

	if (r != NET_OK) {
		drop(s, p, r, now);
		return;
	}
	uint64_t w = tokens(p, len, now);
	if (w) {
		hold(s, p, msg, len, now + w);
		return;
	}
	mac_learn(s, p->seg, f.src, i, now);
	if (!p->uplink)
		learn_ll6(p, &f);
	forward(s, i, &f, msg, len, now);
}

/* A held frame whose tokens are due: send it, read the port again. */
bool sw_port_release(struct sw *s, unsigned i, uint64_t now)
{
	struct sw_port *p = &s->ports[i];
	struct net_frame f;

	if (!p->held_len || now < p->due_ns)
		return false;
	uint64_t w = tokens(p, p->held_len, now);
	if (w) {
		p->due_ns = now + w;
		return false;
	}
	size_t len = p->held_len;
	p->held_len = 0;
	if (admit(s, i, p->held, len, &f) == NET_OK) {
		mac_learn(s, p->seg, f.src, i, now);
		if (!p->uplink)
			learn_ll6(p, &f);
		forward(s, i, &f, p->held, len, now);
	}
	sw_port_watch(s, i);
	return true;
}

void sw_reap_dead(struct sw *s)
{
	for (unsigned i = 0; i < SW_MAX_PORTS; i++)
		if (s->ports[i].used && s->ports[i].dead)
			port_free(s, &s->ports[i]);
}

size_t sw_stats_json(const struct sw *s, char *buf, size_t len)
{
	size_t o = 0;
	int first = 1;
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);

#define OUT(...) do { \
		int n_ = snprintf(buf + o, len - o, __VA_ARGS__); \
		if (n_ < 0 || (size_t)n_ >= len - o) goto full; \
		o += (size_t)n_; \
	} while (0)
	/* when the counters were read: rates from two snapshots need no guess
	 * at the control round trip */
	OUT("{\"now_ns\":%llu,\"ports\":[",
	    (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec);
	for (unsigned i = 0; i < SW_MAX_PORTS; i++) {
		const struct sw_port *p = &s->ports[i];
		char mac[18];
		if (!p->used)
			continue;
		net_mac_format(p->id.mac, mac);
		OUT("%s{\"name\":\"%s\",\"segment\":\"%s\",\"mac\":\"%s\",\"uplink\":%s,"
		    "\"rx_frames\":%llu,\"rx_bytes\":%llu,\"tx_frames\":%llu,\"tx_bytes\":%llu,"
		    "\"egress_rules\":%u,\"drops\":{",
		    first ? "" : ",", p->name, p->segment, mac, p->uplink ? "true" : "false",
		    (unsigned long long)p->rx_frames, (unsigned long long)p->rx_bytes,
		    (unsigned long long)p->tx_frames, (unsigned long long)p->tx_bytes,
		    p->policy.nrules);
		first = 0;
		for (int r = 1; r < NET_DROP__COUNT; r++)
			OUT("%s\"%s\":%llu", r > 1 ? "," : "", net_drop_name((enum net_drop)r),
			    (unsigned long long)p->drops.n[r]);
		OUT("}}");
	}
	OUT("]}");
	return o;
full:
	/* too long: an honest, valid document instead of a cut one */
	o = (size_t)snprintf(buf, len, "{\"ports\":[],\"truncated\":true}");
	return o < len ? o : 0;
#undef OUT
}
