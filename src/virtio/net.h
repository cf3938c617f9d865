/* net.h — virtio-net (virtio 1.x §5.1): one receive queue (0) and one
 * transmit queue (1), 256 entries each, over a net_backend (a tap or a
 * bulkhead switch port: both carry the 12-byte virtio_net_hdr_v1 before every
 * frame, so offloads pass through unchanged).
 *
 * Offered: CSUM, GUEST_CSUM, HOST_TSO4/6, GUEST_TSO4/6, MRG_RXBUF, MAC,
 * STATUS (link up), MTU, and the ring's EVENT_IDX and INDIRECT_DESC. The
 * configuration space (mac, status, max_virtqueue_pairs = 1, mtu) is
 * read-only. A tap is told (TUNSETOFFLOAD) to hand us only the offloads the
 * guest acked, on the event thread before receive polling starts.
 *
 * Transmit (hostile-guests.md 18-20), per chain, on HOST COPIES: the header
 * (12 bytes) and the first VIRTIO_NET_TX_COPY bytes of the frame (its L2-L4
 * headers) are copied once; the decision is made on the copies and the
 * copies are what is sent, followed by the rest of the guest's buffers
 * (writev), so a second vCPU rewriting the buffers cannot change what was
 * checked. Dropped and counted: chains shorter than header + Ethernet header
 * or with a frame over NET_PORT_MAX_FRAME (tx_malformed/tx_oversize), a
 * non-GSO frame over mtu + 18, header flags / gso_type not negotiated or
 * unknown, a checksum offset outside the frame (tx_bad_hdr); with port
 * security (tap modes: the switch does it for ports) a source MAC other
 * than the NIC's, an ethertype other than IPv4, IPv6, ARP, spoofed ARP/NDP
 * (the port-security check the creator plugs in, virtio_net_params.tx_check,
 * counted per reason in tx_refused[]); a send the backend failed
 * (tx_backend). Every such chain is completed (used length 0). A backend
 * that is full (EAGAIN: the switch or the tap's reader is behind) is
 * backpressure, not a drop: the chain goes back to the ring (virtq_unpop),
 * nothing is buffered on the host, and TX resumes when the backend's second
 * descriptor (wfd) polls writable (tx_stalls counts the pauses). One notify
 * serves at most VIRTIO_NET_TX_BUDGET chains, then defers the rest.
 *
 * Receive: the backend descriptor is polled on the event thread while the
 * driver is live. One frame at a time is read into a host buffer (the only
 * host buffering: one frame), checked (port: truncated, shorter than header +
 * Ethernet header, unknown flags/gso_type → rx_malformed), adapted to what
 * the guest acked (a NEEDS_CSUM frame for a guest without GUEST_CSUM gets its
 * checksum filled in here; a GSO frame the guest cannot take is dropped,
 * rx_gso_refused) and copied into one chain, or with MRG_RXBUF into as many
 * as it needs (num_buffers set). A chain (or all of them) too small for the
 * frame: the frame is dropped (rx_too_small) and the chain(s) completed with
 * length 0. No buffers: the frame waits, polling stops (backpressure: the
 * tap/switch queue fills and drops there), and resumes when the driver
 * notifies the receive queue (rx_stalls counts it). At most
 * VIRTIO_NET_RX_BUDGET frames per event, then back to the loop. A backend
 * whose peer is gone (a port read of 0) or that fails a read (a tap whose
 * interface was deleted) stops being polled, with a warning: the link is
 * down for good (no spinning on an error that will not clear).
 *
 * Threads: as virtio_dev.h; the receive handler runs on the event thread and
 * takes vd->lock. */
#ifndef BH_VIRTIO_NET_H
#define BH_VIRTIO_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "backends/net_backend.h"
#include "common/compiler.h"
#include "core/event_loop.h"
#include "virtio/virtio_dev.h"

#define VIRTIO_ID_NET 1

#define VIRTIO_NET_F_CSUM 0
#define VIRTIO_NET_F_GUEST_CSUM 1
#define VIRTIO_NET_F_MTU 3
#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_GUEST_TSO4 7
#define VIRTIO_NET_F_GUEST_TSO6 8
#define VIRTIO_NET_F_GUEST_ECN 9
#define VIRTIO_NET_F_GUEST_UFO 10
#define VIRTIO_NET_F_HOST_TSO4 11
#define VIRTIO_NET_F_HOST_TSO6 12
#define VIRTIO_NET_F_HOST_ECN 13
#define VIRTIO_NET_F_HOST_UFO 14
#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_NET_F_STATUS 16
#define VIRTIO_NET_S_LINK_UP 1

#define VIRTIO_NET_RXQ 0
#define VIRTIO_NET_TXQ 1
#define VIRTIO_NET_QUEUE_MAX 256
#define VIRTIO_NET_CFG_LEN 12        /* mac[6], status, max_virtqueue_pairs, mtu */
/* Snapshot state (its ops): mac[6] (the one the guest read), activated u8,
 * mtu u16 (must be this NIC's: the driver sized its buffers by it). A MAC
 * the operator configured (mac=) is the host's configuration and wins: a
 * clone may get its own (the guest keeps using the one it read at probe
 * until it is told otherwise); a default MAC, random per process, is
 * replaced by the saved one so the restored guest, port security and the
 * switch agree. A frame waiting in the host buffer is dropped, as a network
 * may drop any frame; on resume the device tells the new backend the acked
 * offloads again and starts receiving and transmitting. */
#define VIRTIO_NET_STATE_VERSION 1
#define VIRTIO_NET_TX_COPY 256       /* frame bytes copied before the decision */
#define VIRTIO_NET_TX_BUDGET 256     /* chains per TX notify */
#define VIRTIO_NET_RX_BUDGET 64      /* frames per receive event */
#define VIRTIO_NET_RX_MAX_BUFS 64    /* mergeable buffers for one frame */
#define VIRTIO_NET_TX_REASONS 16     /* tx_check reasons counted (0 unused) */

struct virtio_net_stats {
	uint64_t rx_frames, rx_bytes, tx_frames, tx_bytes;
	uint64_t tx_malformed;     /* shorter than header + Ethernet header */
	uint64_t tx_oversize;      /* longer than the maximum frame / mtu */
	uint64_t tx_bad_hdr;       /* flags, gso_type or checksum offsets not acceptable */
	uint64_t tx_refused[VIRTIO_NET_TX_REASONS]; /* by tx_check's reason (1..) */
	uint64_t tx_backend;       /* the backend refused the frame (an error) */
	uint64_t tx_stalls;        /* the backend was full: TX paused until writable */
	uint64_t rx_malformed;     /* from the backend: truncated, short, bad header */
	uint64_t rx_gso_refused;   /* GSO frame the guest did not ack */
	uint64_t rx_too_small;     /* the guest's buffers could not hold the frame */
	uint64_t rx_stalls;        /* no receive buffers: polling paused */
	uint64_t rx_csum_filled;   /* checksums completed for a guest without GUEST_CSUM */
};

/* Port security on transmit: called with the NIC's MAC (which a snapshot
 * restore may have changed) and the frame as the check may see it
 * — its first head_len bytes copied out of guest memory, the rest up to
 * frame_len ZERO (never the guest's bytes: nothing here can change after the
 * check) — under the device lock. 0: send it (the copy is what is sent);
 * 1..VIRTIO_NET_TX_REASONS-1: drop it, counted in tx_refused[reason]. */
typedef int (*virtio_net_tx_check_fn)(void *ctx, const uint8_t mac[6], const uint8_t *frame,
				      size_t head_len, size_t frame_len);

struct virtio_net_params {
	uint8_t mac[6];
	uint16_t mtu;
	unsigned index;                 /* NIC number, for the name "virtio-net0" */
	bool mac_configured;            /* mac= given (else drawn at random) */
	virtio_net_tx_check_fn tx_check; /* NULL: none (a switch port: the switch checks) */
	void *tx_check_ctx;             /* owned by the device when tx_ctx_free is set */
	void (*tx_ctx_free)(void *ctx);
};

struct virtio_net;

/* Create "virtio-netN" over `be` (taken: closed with the device, also on
 * failure; so is p->tx_check_ctx when p->tx_ctx_free is set). mem, el borrowed; el may be NULL (tests: then call
 * virtio_net_rx_poll() to receive). 0 or -errno. Setup thread. Free with
 * vdev.ops->destroy(). */
int virtio_net_create(struct virtio_net **out, const struct virtio_net_params *p,
		      struct net_backend *be, const struct guest_mem *mem,
		      struct event_loop *el) BH_WUR;

struct virtio_dev *virtio_net_dev(struct virtio_net *n);

/* Receive what the backend has, as the event handler does (tests without an
 * event loop). Takes vd->lock. */
void virtio_net_rx_poll(struct virtio_net *n);

/* Resume a transmit queue paused on a full backend, as the "writable"
 * handler does (tests without an event loop). Takes vd->lock. */
void virtio_net_tx_poll(struct virtio_net *n);

/* A copy of the counters. Any thread (takes vd->lock). */
void virtio_net_stats(struct virtio_net *n, struct virtio_net_stats *out);

/* The NIC's MAC (the one in its config space and port security). A
 * restore never changes it: the saved MAC is the snapshot's VM's, not this
 * one's. Any thread. */
void virtio_net_mac(struct virtio_net *n, uint8_t mac[6]);

/* The device a virtio_dev of VIRTIO_ID_NET is (NULL for any other). */
struct virtio_net *virtio_net_of(struct virtio_dev *vd);

#endif
