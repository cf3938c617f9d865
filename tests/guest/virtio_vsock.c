/* virtio_vsock.c — a vsock peer on bulkhead's virtio-vsock, driven from ring
 * 0 only (so it runs natively on PVM hosts), polling (no interrupts). The host
 * side is tests/unit/vmm/test_vsock_vm.c.
 *
 * Phase 1, server: listens on port 1024 and echoes every byte back on the
 * same connection; REQUESTs for other ports get RST. It advertises a small
 * receive buffer (buf_alloc 4096) and credits only what it has echoed, and
 * FAILs if the device ever sends beyond that credit (credit exhaustion is
 * then exercised by any transfer larger than 4 KiB). A SHUTDOWN from the host
 * ends a connection (RST back). After `h2g=N` connections have ended:
 * Phase 2, client: connects to host ports: `ok=P` must be accepted (sends
 * "hello from guest\n", expects "HELLO FROM GUEST\n", then closes), each of
 * `rst=P1:P2:...` must be refused with RST (not allowed, or a dead
 * listener). Then PASS.
 * Command line: cid=N (must equal the device's), h2g=N, ok=P, rst=LIST.
 */
#include "rt/rt.h"
#include "rt/virtio.h"

#define NAME "virtio_vsock"
#define VIRTIO_ID_VSOCK 19
#define QS 64
#define NRX 32
#define RXB (4096 + 44)
#define MYBUF 4096u
#define MAXC 8

enum { OP_REQUEST = 1, OP_RESPONSE, OP_RST, OP_SHUTDOWN, OP_RW, OP_CREDIT_UPDATE,
       OP_CREDIT_REQUEST };

struct hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
} __attribute__((packed));

struct conn {
	int used;
	uint32_t hport, gport;
	uint32_t rx_cnt, fwd;        /* received from the host; consumed (echoed) */
	uint32_t tx_cnt;             /* sent to the host */
	uint32_t peer_alloc, peer_fwd;
	uint8_t pend[MYBUF];         /* received, not yet echoed */
	uint32_t npend;
	int state;                   /* client: 0 waiting, 1 open, 2 refused, 3 done */
	uint8_t in[64];
	uint32_t nin;
};

static uint8_t qmem[3][2 * 4096 * 4] __attribute__((aligned(4096)));
static uint8_t rxbuf[NRX][RXB] __attribute__((aligned(64)));
static uint8_t txbuf[QS][RXB] __attribute__((aligned(64)));
static uint32_t evbuf[4];
static struct vt_dev dev;
static struct vt_queue rxq, txq, evq;
static struct conn conns[MAXC];
static uint64_t cid;
static unsigned ended;

static void post_rx(unsigned i)
{
	struct vt_seg s = { (uint64_t)(uintptr_t)rxbuf[i], RXB };
	int h = vt_add(&rxq, &s, 0, 1);

	if (h < 0) /* vt_add publishes */
		rt_fail(NAME, "rx queue full");
}

/* Send one packet (waits for a free tx descriptor). */
static void send_pkt(uint32_t sport, uint32_t dport, uint16_t op, uint32_t flags, const void *data,
		     uint32_t len, uint32_t fwd)
{
	static unsigned slot;
	struct hdr h = { cid, 2, sport, dport, len, 1, op, flags, MYBUF, fwd };
	uint8_t *b = txbuf[slot++ % QS];
	struct vt_seg s = { (uint64_t)(uintptr_t)b, (uint32_t)sizeof(h) + len };
	uint32_t l;
	int hd;

	while (vt_get(&txq, &l) >= 0)
		;
	memcpy(b, &h, sizeof(h));
	if (len)
		memcpy(b + sizeof(h), data, len);
	while ((hd = vt_add(&txq, &s, 1, 0)) < 0)
		if (vt_wait(&txq, &l, 0) < 0)
			rt_fail(NAME, "tx queue stuck");
	vt_kick(&txq);
}

static struct conn *find(uint32_t hport, uint32_t gport)
{
	for (int i = 0; i < MAXC; i++)
		if (conns[i].used && conns[i].hport == hport && conns[i].gport == gport)
			return &conns[i];
	return 0;
}

/* Echo what is pending, within the host's credit. */
static void flush(struct conn *c)
{
	while (c->npend) {
		uint32_t credit = c->peer_alloc - (c->tx_cnt - c->peer_fwd), n = c->npend;

		if (c->tx_cnt - c->peer_fwd > c->peer_alloc || !credit)
			return; /* wait for a credit update */
		if (n > credit)
			n = credit;
		c->tx_cnt += n;
		c->fwd += n;
		send_pkt(c->gport, c->hport, OP_RW, 0, c->pend, n, c->fwd);
		memcpy(c->pend, c->pend + n, c->npend - n);
		c->npend -= n;
	}
}

static void packet(const struct hdr *h, const uint8_t *data)
{
	struct conn *c = find(h->src_port, h->dst_port);

	if (h->src_cid != 2 || h->dst_cid != cid)
		rt_fail(NAME, "packet from cid %lu to %lu", (unsigned long)h->src_cid,
			(unsigned long)h->dst_cid);
	if (c) {
		c->peer_alloc = h->buf_alloc;
		c->peer_fwd = h->fwd_cnt;
	}
	switch (h->op) {
	case OP_REQUEST:
		if (h->dst_port != 1024 || c) {
			send_pkt(h->dst_port, h->src_port, OP_RST, 0, 0, 0, 0);
			return;
		}
		for (int i = 0; i < MAXC && !c; i++)
			if (!conns[i].used)
				c = &conns[i];
		if (!c) {
			send_pkt(h->dst_port, h->src_port, OP_RST, 0, 0, 0, 0);
			return;
		}
		memset(c, 0, sizeof(*c));
		c->used = 1;
		c->hport = h->src_port;
		c->gport = h->dst_port;
		c->peer_alloc = h->buf_alloc;
		c->peer_fwd = h->fwd_cnt;
		send_pkt(c->gport, c->hport, OP_RESPONSE, 0, 0, 0, 0);
		return;
	case OP_RESPONSE:
		if (c && c->state == 0)
			c->state = 1;
		return;
	case OP_RST:
		if (c && c->gport >= 2000) {
			c->state = c->state == 0 ? 2 : 3;
			return;
		}
		if (c)
			c->used = 0;
		return;
	case OP_RW:
		if (!c)
			rt_fail(NAME, "data for no connection (%u -> %u)", h->src_port, h->dst_port);
		if (c->gport >= 2000) {
			for (uint32_t i = 0; i < h->len && c->nin < sizeof(c->in); i++)
				c->in[c->nin++] = data[i];
			return;
		}
		if (c->rx_cnt + h->len - c->fwd > MYBUF)
			rt_fail(NAME, "the device sent %u bytes beyond the credit of %u",
				c->rx_cnt + h->len - c->fwd - MYBUF, MYBUF);
		memcpy(c->pend + c->npend, data, h->len);
		c->npend += h->len;
		c->rx_cnt += h->len;
		flush(c);
		return;
	case OP_CREDIT_UPDATE:
		if (c)
			flush(c);
		return;
	case OP_CREDIT_REQUEST:
		if (c)
			send_pkt(c->gport, c->hport, OP_CREDIT_UPDATE, 0, 0, 0, c->fwd);
		return;
	case OP_SHUTDOWN:
		if (c && c->gport < 2000) {
			flush(c);
			send_pkt(c->gport, c->hport, OP_RST, 0, 0, 0, c->fwd);
			c->used = 0;
			ended++;
		}
		return;
	default:
		rt_fail(NAME, "unknown op %u from the device", h->op);
	}
}

/* Take every used rx buffer; returns how many. */
static int poll_rx(void)
{
	uint32_t len;
	int id, n = 0;

	while ((id = vt_get(&rxq, &len)) >= 0) {
		struct hdr h;
		unsigned i;

		for (i = 0; i < NRX; i++)
			if ((uint64_t)(uintptr_t)rxbuf[i] == rxq.desc[id].addr)
				break;
		if (i == NRX || len < sizeof(h))
			rt_fail(NAME, "rx element %d, length %u", id, len);
		memcpy(&h, rxbuf[i], sizeof(h));
		if (sizeof(h) + h.len != len)
			rt_fail(NAME, "rx length %u, header says %u", len, h.len);
		packet(&h, rxbuf[i] + sizeof(h));
		post_rx(i);
		n++;
	}
	if (n)
		vt_kick(&rxq);
	if (vt_status(&dev) & (VT_S_NEEDS_RESET | VT_S_FAILED))
		rt_fail(NAME, "device status %x", vt_status(&dev));
	return n;
}

/* Connect to host port `port` from guest port `gp`; 1 accepted, 0 refused. */
static int client(uint32_t port, uint32_t gp)
{
	struct conn *c = &conns[MAXC - 1];
	uint64_t t0 = rdtsc();

	memset(c, 0, sizeof(*c));
	c->used = 1;
	c->hport = port;
	c->gport = gp;
	send_pkt(gp, port, OP_REQUEST, 0, 0, 0, 0);
	while (c->state == 0) {
		poll_rx();
		if (rdtsc() - t0 > 200000000000ull)
			rt_fail(NAME, "no answer to a connection to host port %u", port);
	}
	if (c->state == 2) {
		c->used = 0;
		return 0;
	}
	send_pkt(gp, port, OP_RW, 0, "hello from guest\n", 17, 0);
	c->tx_cnt = 17;
	while (c->nin < 17) {
		poll_rx();
		if (rdtsc() - t0 > 200000000000ull)
			rt_fail(NAME, "no reply on host port %u", port);
	}
	if (memcmp(c->in, "HELLO FROM GUEST\n", 17))
		rt_fail(NAME, "host port %u replied something else", port);
	send_pkt(gp, port, OP_SHUTDOWN, 3, 0, 0, 0);
	while (c->state != 3) {
		poll_rx();
		if (rdtsc() - t0 > 200000000000ull)
			rt_fail(NAME, "no RST after our SHUTDOWN on host port %u", port);
	}
	c->used = 0;
	return 1;
}

int guest_main(void)
{
	unsigned want = (unsigned)rt_param_u64("h2g=", 0), gp = 2000;
	uint32_t ok = (uint32_t)rt_param_u64("ok=", 0);
	const char *rst = rt_param("rst=");

	if (vt_open(&dev, VIRTIO_ID_VSOCK, 0) || vt_init(&dev, 0))
		rt_fail(NAME, "no virtio-vsock device");
	cid = vt_cfg64(&dev, 0);
	if (cid != rt_param_u64("cid=", 3))
		rt_fail(NAME, "guest_cid %lu, expected %lu", (unsigned long)cid,
			(unsigned long)rt_param_u64("cid=", 3));
	if (vt_queue_init(&rxq, &dev, 0, QS, qmem[0]) || vt_queue_init(&txq, &dev, 1, QS, qmem[1]) ||
	    vt_queue_init(&evq, &dev, 2, 8, qmem[2]))
		rt_fail(NAME, "queue setup");
	for (unsigned i = 0; i < NRX; i++)
		post_rx(i);
	{
		struct vt_seg s = { (uint64_t)(uintptr_t)evbuf, 4 };
		if (vt_add(&evq, &s, 0, 1) < 0)
			rt_fail(NAME, "event queue");
	}
	vt_driver_ok(&dev);
	vt_kick(&rxq);
	vt_kick(&evq);
	rt_printf("vsock: cid %lu, serving port 1024 until %u connections ended\n",
		  (unsigned long)cid, want);
	while (ended < want)
		poll_rx();
	rt_printf("vsock: %u host connections served\n", ended);
	if (ok) {
		if (!client(ok, gp++))
			rt_fail(NAME, "host port %u refused", ok);
		rt_printf("vsock: host port %u: connected, echoed\n", ok);
	}
	while (rst && *rst && *rst != ' ') {
		uint32_t p = 0;

		while (*rst >= '0' && *rst <= '9')
			p = p * 10 + (uint32_t)(*rst++ - '0');
		if (*rst == ':')
			rst++;
		if (client(p, gp++))
			rt_fail(NAME, "host port %u accepted, expected a refusal", p);
		rt_printf("vsock: host port %u: refused (RST)\n", p);
	}
	rt_pass(NAME);
}
