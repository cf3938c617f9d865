/* vsock_priv.h — what vsock.c (the virtio side: queues, packets, credit),
 * vsock_conn.c (the connection table) and
 * vsock_host.c (the host side: sockets, the CONNECT line, the broker,
 * deadlines) share. Same threading as vsock.h: everything under vdev.lock. */
#ifndef BH_VIRTIO_VSOCK_PRIV_H
#define BH_VIRTIO_VSOCK_PRIV_H

#include "virtio/vsock.h"

#define VSOCK_RXQ 0
#define VSOCK_TXQ 1
#define VSOCK_EVQ 2
#define VSOCK_LINE_MAX 32u     /* "CONNECT 4294967295\n" is 19 */
#define VSOCK_RST_QUEUE 16u    /* RSTs for unknown connections waiting for rx buffers */
#define VSOCK_EPHEMERAL_BASE 0x40000000u /* host ports of host-initiated connections */

enum vsock_conn_state {
	VC_LINE,       /* host-initiated: reading "CONNECT <port>\n" (deadline) */
	VC_CONNECTING, /* host-initiated: REQUEST queued/sent, awaiting RESPONSE (deadline) */
	VC_BROKER,     /* guest-initiated: the broker has the request (deadline) */
	VC_OPEN,       /* connected */
};

/* Control packets a connection owes the guest. */
#define VP_REQUEST 1u
#define VP_RESPONSE 2u
#define VP_CREDIT 4u
#define VP_SHUTDOWN 8u
#define VP_RST 16u     /* then the connection is freed */

struct vsock_ring {
	uint8_t *buf;
	uint32_t head, len; /* bytes [head, head + len) mod size */
};

struct vsock_conn {
	struct virtio_vsock *vs;
	int fd;
	enum vsock_conn_state state;
	uint32_t id;                 /* broker request id */
	uint32_t host_port, guest_port;
	uint64_t deadline_ms;        /* 0: none */
	unsigned pend;               /* VP_* */
	uint32_t interest;           /* epoll events registered (0: not registered) */
	char line[VSOCK_LINE_MAX];
	unsigned line_len;
	/* host → guest */
	struct vsock_ring rx;
	uint32_t rx_cnt;             /* payload bytes sent to the guest */
	uint32_t peer_buf_alloc, peer_fwd_cnt;
	bool host_eof;               /* the socket said EOF: SHUTDOWN(SEND) once rx drains */
	bool shut_sent;
	/* guest → host */
	struct vsock_ring tx;
	uint32_t fwd_cnt, fwd_sent;  /* bytes written to the socket; last advertised */
	bool guest_eof;              /* guest sent SHUTDOWN(SEND): shut our write side once tx drains */
	bool guest_norecv;           /* guest sent SHUTDOWN(RCV) */
	bool wr_shut;
};

struct virtio_vsock {
	struct virtio_dev vdev;
	struct virtio_vsock_params p;
	struct event_loop *el;
	int kick_fd, timer_fd;
	bool live;            /* DRIVER_OK, not reset since */
	bool teardown;        /* reset happened: close every connection (event thread) */
	bool host_paused;     /* quiesced: no host fd is watched */
	bool timer_on;
	bool event_pending;   /* transport reset to post on the event queue */
	bool listen_on, broker_on;
	bool listen_err;      /* accept failed hard: unwatched until the next tick */
	struct vsock_conn *c[VSOCK_MAX_CONNS_LIMIT];
	unsigned n;
	unsigned rr;          /* round-robin start for rx */
	uint32_t next_port, next_id;
	struct { uint32_t host_port, guest_port; } rst[VSOCK_RST_QUEUE];
	unsigned nrst;
	struct virtio_vsock_stats st;
};

static inline uint32_t vsock_ring_free(const struct virtio_vsock *vs, const struct vsock_ring *r)
{
	return vs->p.buf_size - r->len;
}

/* vsock.c */
void vsock_rx_flush(struct virtio_vsock *vs);

/* vsock_conn.c */
void vsock_conn_free(struct virtio_vsock *vs, struct vsock_conn *c);
struct vsock_conn *vsock_conn_new(struct virtio_vsock *vs, int fd, enum vsock_conn_state st);
/* The connection is broken: RST to the guest once there is an rx buffer
 * (host data still buffered is dropped), then freed. */
void vsock_conn_reset(struct virtio_vsock *vs, struct vsock_conn *c);
/* Host→guest: connect c (VC_LINE or fresh) to the guest's port. */
void vsock_conn_start_request(struct virtio_vsock *vs, struct vsock_conn *c, uint32_t port);
/* The live (not VC_LINE) connection between these ports, or NULL. */
struct vsock_conn *vsock_conn_find(struct virtio_vsock *vs, uint32_t host_port,
				   uint32_t guest_port);
uint64_t vsock_now_ms(void);

/* vsock_host.c */
/* Recompute c's epoll interest and (de)register its fd. */
void vsock_conn_update(struct virtio_vsock *vs, struct vsock_conn *c);
/* Try to move bytes between the socket and the rings (both directions). */
void vsock_conn_pump(struct virtio_vsock *vs, struct vsock_conn *c);
/* A guest REQUEST for host port `port`: ask the broker. 0 or -errno. */
int vsock_broker_ask(struct virtio_vsock *vs, struct vsock_conn *c, uint32_t port);
/* Arm or disarm the deadline tick as the connections need. */
void vsock_timer_update(struct virtio_vsock *vs);
/* Register the listener, broker, kick and timer fds. Setup thread. */
int vsock_host_init(struct virtio_vsock *vs);
/* (Un)watch the listener and the broker (quiesce/resume). */
void vsock_host_watch(struct virtio_vsock *vs, bool on);
void vsock_host_close(struct virtio_vsock *vs);

#endif
