/* switch_stream.c — the switch's stream ports: passt's framing (net/stream.h)
 * over a SOCK_STREAM socket, reassembled into and converted from the
 * switch's messages (contracts in switch.h / switch_priv.h). */
#include "switch/switch_priv.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>

#include "common/log.h"
#include "ctl/net_port.h"
#include "net/gso.h"
#include "net/stream.h"

#define EV_PORT 1ull

_Static_assert(NET_STREAM_MIN_FRAME == NET_PORT_MIN_FRAME &&
		       NET_STREAM_MAX_FRAME == NET_PORT_MAX_FRAME,
	       "a stream frame is a switch frame");

uint64_t sw_now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

void sw_port_watch(struct sw *s, unsigned i)
{
	struct sw_port *p = &s->ports[i];
	struct epoll_event ev = { .events = 0, .data.u64 = (EV_PORT << 32) | i };

	if (!p->held_len)
		ev.events |= EPOLLIN;
	if (p->stream && p->stx_len)
		ev.events |= EPOLLOUT;
	p->want_out = (ev.events & EPOLLOUT) != 0;
	epoll_ctl(s->epfd, EPOLL_CTL_MOD, p->fd, &ev);
}

/* Send what the socket takes of the queue; arm/disarm EPOLLOUT. */
static void flush(struct sw *s, struct sw_port *p)
{
	while (p->stx_len && !p->dead) {
		ssize_t n = send(p->fd, p->stx + p->stx_off, p->stx_len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				p->dead = true; /* EPIPE, ECONNRESET: removed after this batch */
			break;
		}
		p->stx_off += (size_t)n;
		p->stx_len -= (size_t)n;
	}
	if (!p->stx_len)
		p->stx_off = 0;
	if (!p->dead && p->want_out != (p->stx_len != 0))
		sw_port_watch(s, (unsigned)(p - s->ports));
}

/* Room for need more bytes at the queue's end (compacting it), or false. */
static bool room(struct sw_port *to, size_t need)
{
	if (to->stx_len + need > SW_STREAM_TX)
		return false;
	if (to->stx_off + to->stx_len + need > SW_STREAM_TX) {
		memmove(to->stx, to->stx + to->stx_off, to->stx_len);
		to->stx_off = 0;
	}
	return true;
}

/* A TSO super-frame: passt takes plain frames, so it is cut into
 * gso_size segments (net/gso.h), each queued whole or dropped (peer_full);
 * a super-frame that is not TCP as its header says is malformed. */
static void send_gso(struct sw *s, struct sw_port *to, const uint8_t *msg, size_t len)
{
	struct net_gso g;

	if (net_gso_init(&g, msg, msg + NET_PORT_HDR_LEN, len - NET_PORT_HDR_LEN)) {
		net_drop_count(&to->drops, NET_DROP_MALFORMED);
		return;
	}
	for (unsigned k = 0; k < g.nseg; k++) {
		size_t most = g.hdrs + g.mss < NET_STREAM_MAX_FRAME ? g.hdrs + g.mss
								  : NET_STREAM_MAX_FRAME;
		if (!room(to, NET_STREAM_PREFIX + most)) {
			net_drop_count(&to->drops, NET_DROP_PEER_FULL);
			continue;
		}
		uint8_t *q = to->stx + to->stx_off + to->stx_len;
		size_t fl = net_gso_segment(&g, msg + NET_PORT_HDR_LEN, k, q + NET_STREAM_PREFIX);
		net_stream_prefix(q, fl);
		to->stx_len += NET_STREAM_PREFIX + fl;
		to->tx_frames++;
		to->tx_bytes += NET_PORT_HDR_LEN + fl;
	}
	flush(s, to);
}

void sw_stream_send(struct sw *s, struct sw_port *to, const uint8_t *msg, size_t len)
{
	size_t fl = len - NET_PORT_HDR_LEN, need = NET_STREAM_PREFIX + fl;

	if (msg[1] != NET_PORT_GSO_NONE) {
		send_gso(s, to, msg, len);
		return;
	}
	if (to->stx_len + need > SW_STREAM_TX) {
		/* the whole frame or nothing: a stream cannot lose half of one */
		net_drop_count(&to->drops, NET_DROP_PEER_FULL);
		return;
	}
	if (to->stx_off + to->stx_len + need > SW_STREAM_TX) {
		memmove(to->stx, to->stx + to->stx_off, to->stx_len);
		to->stx_off = 0;
	}
	uint8_t *q = to->stx + to->stx_off + to->stx_len;
	net_stream_prefix(q, fl);
	memcpy(q + NET_STREAM_PREFIX, msg + NET_PORT_HDR_LEN, fl);
	if (msg[0] & NET_PORT_F_NEEDS_CSUM) {
		/* the sender left the checksum to the receiver (offload); passt
		 * wants it filled. The offsets were checked by admit(). */
		size_t start = (size_t)(msg[6] | msg[7] << 8), off = (size_t)(msg[8] | msg[9] << 8);
		if (net_csum_complete(q + NET_STREAM_PREFIX, fl, start, off)) {
			net_drop_count(&to->drops, NET_DROP_MALFORMED);
			return;
		}
	}
	to->stx_len += need;
	to->tx_frames++;
	to->tx_bytes += len;
	flush(s, to);
}

void sw_stream_io(struct sw *s, unsigned i, uint32_t events)
{
	struct sw_port *p = &s->ports[i];
	unsigned reads = 0;

	if (!p->used)
		return;
	if (events & EPOLLOUT)
		flush(s, p);
	while (!p->held_len && !p->dead) {
		size_t fl;
		int r = net_stream_frame(p->srx + p->srx_off, p->srx_len, &fl);
		if (r < 0) {
			net_drop_count(&p->drops, NET_DROP_MALFORMED);
			bh_warn("switch: uplink %s sent a frame length out of range: port removed",
				p->name);
			p->dead = true;
			break;
		}
		if (r > 0) {
			/* the switch's message: an all-zero header (complete
			 * checksums, no GSO) + the frame, in its own buffer */
			memset(s->buf, 0, NET_PORT_HDR_LEN);
			memcpy(s->buf + NET_PORT_HDR_LEN, p->srx + p->srx_off + NET_STREAM_PREFIX, fl);
			p->srx_off += NET_STREAM_PREFIX + fl;
			p->srx_len -= NET_STREAM_PREFIX + fl;
			if (!p->srx_len)
				p->srx_off = 0;
			p->rx_frames++;
			p->rx_bytes += NET_PORT_HDR_LEN + fl;
			sw_port_message(s, i, s->buf, NET_PORT_HDR_LEN + fl, sw_now_ns());
			continue;
		}
		/* only a partial frame is buffered: read more. Stopping here
		 * leaves no whole frame behind, so level-triggered epoll wakes
		 * the loop again for what the socket still holds. */
		if (reads++ >= SW_STREAM_READS || (events & (EPOLLHUP | EPOLLERR)))
			break;
		if (p->srx_off) {
			memmove(p->srx, p->srx + p->srx_off, p->srx_len);
			p->srx_off = 0;
		}
		ssize_t n = recv(p->fd, p->srx + p->srx_len, SW_STREAM_RX - p->srx_len, MSG_DONTWAIT);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				p->dead = true;
			break;
		}
		if (n == 0) {
			p->dead = true; /* passt closed its end */
			break;
		}
		p->srx_len += (size_t)n;
	}
	if (events & (EPOLLHUP | EPOLLERR))
		p->dead = true;
}
