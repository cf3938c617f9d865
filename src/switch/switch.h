/* switch.h — the bulkhead switch: an isolating L2 switch in its own process.
 *
 * Ports are SOCK_SEQPACKET descriptors (frames: ctl/net_port.h) registered
 * over the control protocol (ctl/switch_ctl.h), or, for an uplink to passt
 * (SWCTL_F_STREAM), a SOCK_STREAM socket in passt's framing (net/stream.h):
 * what arrives is reassembled in a bounded per-port buffer and handled as a
 * message with an all-zero header; a length prefix out of range removes the
 * port (a stream cannot be resynchronised). Toward passt every frame is
 * queued WHOLE into a bounded per-port buffer (a NEEDS_CSUM checksum filled
 * in, a TSO super-frame cut into segments: net/gso.h) or, if it does not fit, dropped and counted as
 * peer_full — never half a frame; the queue drains as the socket takes it
 * (EPOLLOUT). The processes the switch started for its uplinks
 * (sw_watch_child) are watched through pidfds: one that exits is reported
 * (log line and an "uplink_exit" event) and its port removed. For every message a port
 * sends — received into the switch's own buffer, so a sender cannot change
 * it after the check — the switch: checks the wire header and parses the
 * frame (net/frame.h: malformed / foreign ethertype -> drop); enforces port
 * security on VM ports (spoofed MAC/IP, ARP/NDP claims, router
 * advertisements -> drop, count, violation event); refuses on an uplink a
 * source MAC that belongs to a VM port; takes the frame's cost from the
 * port's token buckets (bytes/s and frames/s) and, when they are empty,
 * holds that one frame, stops reading the port (back-pressure: its VMM's
 * socket fills up) and arms a timerfd for the exact nanosecond the tokens
 * are due; learns the source MAC per segment; forwards a known unicast to
 * its port, floods broadcast/multicast/unknown unicast to the other ports of
 * the SAME segment only; applies the sender's egress policy (net/policy.h)
 * to every frame toward an uplink port. A destination whose socket is full
 * drops the frame (counted as peer_full on that port) — the switch never
 * blocks; a port that hangs up or errors is removed.
 *
 * Counters per port: rx = messages the switch received from the port, tx =
 * messages it delivered to the port; drops by reason (net_drop_name) —
 * counted on the sending port, except peer_full on the receiving one.
 *
 * Threads: one; struct sw is owned by the caller; no global state. */
#ifndef BH_SWITCH_SWITCH_H
#define BH_SWITCH_SWITCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"
#include "ctl/net_port.h"
#include "ctl/switch_ctl.h"
#include "net/frame.h"
#include "net/policy.h"
#include "net/tbucket.h"

#define SW_MAX_PORTS 256u
#define SW_MAX_CLIENTS 16u
#define SW_MAC_SLOTS 4096u
#define SW_MAC_AGE_NS (300ull * 1000000000ull)
#define SW_BATCH 64u /* messages read from one port per wake-up (fairness) */
/* a stream port's reassembly buffer: one largest frame with its prefix, and
 * some room to read several small ones at once */
#define SW_STREAM_RX (2u * (NET_PORT_MAX_FRAME + 4u))
/* a stream port's queue toward its peer: a few largest frames */
#define SW_STREAM_TX (4u * (NET_PORT_MAX_FRAME + 4u))
#define SW_STREAM_READS 4u /* recv() calls on a stream port per wake-up */
#define SW_MAX_CHILDREN 16u
/* IPv6 link-locals a VM port may use beyond its MAC's EUI-64 one (a
 * stable-privacy or random one; learned on first use, then another port
 * that sends from it or advertises it is a spoofer) */
#define SW_LL6_MAX 2u

struct sw_port {
	bool used;
	int fd;
	uint32_t gen;             /* bumps on reuse: stale MAC entries die */
	char name[SWCTL_NAME_LEN];
	char segment[SWCTL_NAME_LEN];
	unsigned seg;             /* segment id */
	bool uplink;
	struct net_port_id id;
	struct net_policy policy;
	struct net_tb tb_bytes, tb_pkts;
	uint8_t *held;            /* one frame waiting for tokens, or NULL */
	size_t held_len;
	uint64_t due_ns;          /* when the held frame's tokens are there */
	uint64_t rx_frames, rx_bytes, tx_frames, tx_bytes;
	struct net_drop_counters drops;
	uint64_t last_event_ns[NET_DROP__COUNT];
	bool dead;                /* hung up: removed after the current batch */
	bool stream;              /* SOCK_STREAM in passt's framing (uplinks only) */
	bool tap;                 /* a host tap: read()/write() of messages (uplinks only) */
	uint8_t ll6[SW_LL6_MAX][16]; /* link-locals not from its MAC it used (learned) */
	unsigned nll6;            /* how many (<= SW_LL6_MAX; when full the oldest goes) */
	bool want_out;            /* EPOLLOUT is armed (stream queue not empty) */
	uint8_t *srx, *stx;       /* stream: SW_STREAM_RX / SW_STREAM_TX bytes */
	size_t srx_off, srx_len;  /* unread bytes srx[off..off+len) */
	size_t stx_off, stx_len;  /* unsent bytes stx[off..off+len) */
};

/* A process the switch started for an uplink (passt), watched by pidfd. */
struct sw_child {
	int pidfd;                /* -1: free */
	int pid;
	char port[SWCTL_NAME_LEN];
	unsigned port_idx;        /* its port: removed when it exits, if still */
	uint32_t port_gen;        /*   the same port (index and generation) */
};

struct sw_mac_entry {
	uint16_t seg;
	uint8_t mac[6];
	uint16_t port;
	uint32_t gen;
	uint64_t seen_ns;
	bool used;
};

struct sw_client {
	int fd;                   /* -1: free */
	bool subscribed;
	bool owner;               /* the switch ends when this one hangs up */
};

struct sw {
	int epfd, timerfd, listen_fd, sig_fd;
	bool stop;
	bool owner_gone;          /* the owner client hung up: stop with the last port */
	unsigned nsegs;
	char segs[SW_MAX_PORTS][SWCTL_NAME_LEN];
	struct sw_port ports[SW_MAX_PORTS];
	struct sw_client clients[SW_MAX_CLIENTS];
	struct sw_child children[SW_MAX_CHILDREN];
	struct sw_mac_entry macs[SW_MAC_SLOTS];
	struct net_host_addrs host;  /* the host's addresses: denied toward uplinks */
	uint8_t *buf;             /* one message (NET_PORT_MAX_MSG + 1) */
	uint64_t armed_ns;        /* the timerfd's current deadline, 0 = disarmed */
	/* Benchmark only (`bulkhead switch --no-port-security`, bench/net.c):
	 * VM ports skip net_port_check (spoofed MAC/IP, ARP/NDP claims, router
	 * messages); the header check, the frame parse, rates and the egress
	 * policy stay. Never set by bulkhead run or bulkheadd. */
	bool no_port_security;
};

/* Set up an empty switch (epoll, timerfd). listen_fd: a listening
 * SOCK_SEQPACKET socket or -1; sig_fd: a signalfd that stops the switch or
 * -1. Takes ownership of both. 0 or -errno. */
int sw_init(struct sw *s, int listen_fd, int sig_fd) BH_WUR;

/* Add a connected control client (e.g. the socketpair end `bulkhead run`
 * started the switch with); owner: once it has hung up, the switch stops
 * when its last VM port is gone (at once if it has none; its uplinks do not
 * keep it running).
 * Takes ownership of fd. 0 or -errno. */
int sw_add_client(struct sw *s, int fd, bool owner) BH_WUR;

/* Record the host's own addresses (getifaddrs, before the jail). */
void sw_learn_host_addrs(struct sw *s);

/* Register a port (takes ownership of fd, also on failure). 0 or -errno
 * with a message in err (bad name/segment/MAC, duplicate name, a MAC or
 * address already owned in the segment, too many ports, bad rate). */
int sw_port_add(struct sw *s, const struct swctl_port *p, int fd, uint64_t now_ns, char *err,
	size_t errlen) BH_WUR;

/* Watch a process started for the registered port `port` (takes ownership
 * of pidfd, also on failure): when it exits it is reaped, reported and that
 * port removed (if it is still there). 0, -ENOENT (no such port), -ENOSPC
 * (SW_MAX_CHILDREN) or -errno of epoll. */
int sw_watch_child(struct sw *s, int pidfd, int pid, const char *port) BH_WUR;

/* Remove a port by name. 0 or -ENOENT. */
int sw_port_del(struct sw *s, const char *name) BH_WUR;

/* Replace a port's egress rules. 0, -ENOENT or -EINVAL. */
int sw_port_set_policy(struct sw *s, const struct swctl_port *p, char *err, size_t errlen) BH_WUR;

/* Write {"now_ns":CLOCK_MONOTONIC,"ports":[...]} into buf. Returns the length (truncated output ends
 * the JSON early but stays valid). */
size_t sw_stats_json(const struct sw *s, char *buf, size_t len);

/* Handle one message `msg[0..len)` received from port i at now_ns
 * (exposed for the fuzz target). */
void sw_port_message(struct sw *s, unsigned i, uint8_t *msg, size_t len, uint64_t now_ns);

/* Run until stopped (a signal on sig_fd; the owner gone and no VM port left).
 * 0 or -errno (a host failure of epoll/timerfd). */
int sw_run(struct sw *s) BH_WUR;

/* Close everything; a watched child (passt) sees its socket close and
 * exits: it is given up to 2 s and reaped (the jailed switch cannot signal
 * it: one that does not end is reported and left to end on its own). */
void sw_destroy(struct sw *s);

/* CLOCK_MONOTONIC in ns (the clock of every now_ns above). */
uint64_t sw_now_ns(void);

#endif
