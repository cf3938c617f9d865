/* vsock.h — virtio-vsock (virtio 1.x §5.10), stream sockets, with the host
 * side of the "hybrid vsock" convention of Firecracker and Cloud Hypervisor.
 *
 * Queues: rx (0, device → driver packets), tx (1, driver → device), event (2,
 * the transport-reset event). Configuration space: le64 guest_cid. Only
 * VIRTIO_VSOCK_TYPE_STREAM; every other type is answered with RST.
 *
 * Host side, one connection = one host stream socket:
 *   host → guest: a client connects to the VM's listening unix socket (fd
 *     `listen_fd`, bound before the jail) and writes "CONNECT <port>\n"
 *     within VSOCK_CONNECT_DEADLINE_MS; the device sends REQUEST to the
 *     guest's port; on RESPONSE the client reads "OK <hostport>\n" and the
 *     stream is connected; on RST (or no answer within
 *     VSOCK_RESPONSE_DEADLINE_MS) the client's socket is closed.
 *   guest → host: a REQUEST to port P (dst_cid 2) is handed to the broker
 *     (`broker_fd`, a SOCK_SEQPACKET socket to the unjailed supervisor, see
 *     core/vsock_broker.h), which checks P against the VM's allow-list,
 *     connects to "<socket path>_<P>" and passes the connected descriptor
 *     back (SCM_RIGHTS); the device then answers RESPONSE, or RST on refusal.
 *     Without a broker every guest REQUEST gets RST.
 *
 * Bounds (hostile-guests.md cases 21, 22): at most `max_conns` connections
 * (handshakes, pending and connected together; the next client is closed at
 * once, the next guest REQUEST gets RST); per connection one host→guest and
 * one guest→host buffer of `buf_size` bytes each. The credit this device
 * advertises is its guest→host buffer: a guest that sends beyond it (forged
 * credit) has the connection reset. Host→guest data is read from the socket
 * only while the host→guest buffer has room; it goes to the guest only within
 * the credit the guest advertised, so a guest that never reads stalls its own
 * connection and nothing else. Unknown operations, types and connections are
 * answered with RST (a bounded queue of them; beyond it they are dropped);
 * every fd's epoll interest follows what can make progress, so nothing spins.
 *
 * Threads: everything runs on the event thread (queue notifications, socket
 * events, the deadline tick) under vdev.lock, except reset (status 0, vCPU
 * thread), which only marks the connections for teardown and wakes the event
 * thread (which then closes them). Snapshot/restore: virtio_vsock_transport_reset()
 * drops every connection and posts the transport-reset event; the listener
 * survives.
 */
#ifndef BH_VIRTIO_VSOCK_H
#define BH_VIRTIO_VSOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "common/compiler.h"
#include "core/event_loop.h"
#include "virtio/virtio_dev.h"

#define VIRTIO_ID_VSOCK 19

#define VIRTIO_VSOCK_QUEUE_MAX 256
#define VIRTIO_VSOCK_CFG_LEN 8
#define VIRTIO_VSOCK_STATE_VERSION 1
#define VSOCK_HOST_CID 2
#define VSOCK_MAX_CONNS_DEFAULT 64       /* connections per VM */
#define VSOCK_MAX_CONNS_LIMIT 64         /* each is an event-loop handler (of 128) */
#define VSOCK_BUF_SIZE_DEFAULT (64u * 1024u) /* per connection, each direction */
#define VSOCK_MAX_PKT (64u * 1024u)      /* payload of one packet (Linux's maximum) */
#define VSOCK_CONNECT_DEADLINE_MS 5000u  /* the client's "CONNECT <port>\n" line */
#define VSOCK_RESPONSE_DEADLINE_MS 10000u /* the guest's RESPONSE, the broker's answer */
#define VSOCK_CLOSE_DEADLINE_MS 5000u    /* the guest's RST after our SHUTDOWN */
#define VSOCK_TICK_MS 250u               /* deadline granularity */
#define VSOCK_TX_BUDGET_CHAINS 256u      /* tx chains per notify, then deferred */

/* Packet header (le), §5.10.6. */
struct virtio_vsock_hdr {
	uint64_t src_cid;
	uint64_t dst_cid;
	uint32_t src_port;
	uint32_t dst_port;
	uint32_t len;
	uint16_t type;
	uint16_t op;
	uint32_t flags;
	uint32_t buf_alloc;
	uint32_t fwd_cnt;
} __attribute__((packed));
#define VSOCK_HDR_LEN 44u

enum {
	VSOCK_TYPE_STREAM = 1,
};
enum {
	VSOCK_OP_INVALID = 0,
	VSOCK_OP_REQUEST = 1,
	VSOCK_OP_RESPONSE = 2,
	VSOCK_OP_RST = 3,
	VSOCK_OP_SHUTDOWN = 4,
	VSOCK_OP_RW = 5,
	VSOCK_OP_CREDIT_UPDATE = 6,
	VSOCK_OP_CREDIT_REQUEST = 7,
};
#define VSOCK_SHUTDOWN_RCV 1u
#define VSOCK_SHUTDOWN_SEND 2u
#define VSOCK_EVENT_TRANSPORT_RESET 0u

struct virtio_vsock_params {
	uint64_t guest_cid;   /* >= 3 */
	int listen_fd;        /* listening unix stream socket, or -1; owned from create on */
	int broker_fd;        /* SOCK_SEQPACKET to the broker, or -1; owned from create on */
	unsigned max_conns;   /* 1..VSOCK_MAX_CONNS_LIMIT */
	uint32_t buf_size;    /* 4 KiB..1 MiB, per connection and direction */
};

struct virtio_vsock_stats {
	uint64_t accepted, refused_cap, guest_requests, guest_refused;
	uint64_t established, resets_sent, rst_dropped, credit_violations, malformed;
	uint64_t deadline_closes, rx_bytes, tx_bytes;
	unsigned conns;
};

struct virtio_vsock;

/* Create "virtio-vsock". mem and el borrowed; el may be NULL only without
 * host fds (unit tests of the packet machine); the fds are owned from the
 * call on (closed on failure too). Setup thread. 0 or -errno. Free with
 * vdev.ops->destroy(). */
int virtio_vsock_create(struct virtio_vsock **out, const struct guest_mem *mem,
			struct event_loop *el, const struct virtio_vsock_params *p) BH_WUR;

struct virtio_dev *virtio_vsock_dev(struct virtio_vsock *vs);
/* The guest's CID (config space). A restore keeps this VM's own, not the
 * snapshot's. Any thread. */
uint64_t virtio_vsock_cid(struct virtio_vsock *vs);
/* The device of a virtio_dev made by virtio_vsock_create(). */
struct virtio_vsock *virtio_vsock_of(struct virtio_dev *vd);

/* Connect a host stream socket (owned from the call on) to guest port
 * `port`, as if a client had sent "CONNECT <port>\n" on it. Event thread (or
 * tests without an event loop). 0 or -errno (the fd is closed). */
int virtio_vsock_host_connect(struct virtio_vsock *vs, int fd, uint32_t port) BH_WUR;

/* Drop every connection (their sockets are closed) and post the
 * transport-reset event to the guest; the listener stays. For a restore.
 * Event/main thread with the VM's threads parked. */
void virtio_vsock_transport_reset(struct virtio_vsock *vs);

/* After a quiesce: take up the host sockets again (resume of the row).
 * Takes vdev.lock. */
void virtio_vsock_host_resume(struct virtio_vsock *vs);

/* Counters (a copy under the lock). */
void virtio_vsock_get_stats(struct virtio_vsock *vs, struct virtio_vsock_stats *st);

/* Run one deadline sweep now as if `now_ms` were the monotonic time (tests
 * and the fuzzer; the event thread's tick calls it with the real time). */
void virtio_vsock_tick(struct virtio_vsock *vs, uint64_t now_ms);

#endif
