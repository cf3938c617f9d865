/* switch_ctl.h — the control protocol of the bulkhead switch (`bulkhead
 * switch`), spoken by `bulkhead run`, bulkheadd and the tests.
 *
 * Transport: an AF_UNIX SOCK_SEQPACKET connection (a listening socket the
 * switch was given, or a socketpair end it was started with). One message =
 * struct swctl_hdr + `len` payload bytes, at most SWCTL_MAX_MSG in all;
 * ADD_PORT carries exactly one descriptor (SCM_RIGHTS): the switch's end of
 * the port's own SOCK_SEQPACKET socketpair (frames: ctl/net_port.h), or for
 * an uplink with SWCTL_F_STREAM a SOCK_STREAM socket to passt (net/stream.h).
 * Requests (client -> switch), each answered by the same type | SWCTL_REPLY
 * with status 0 or -errno and a text payload (an error message, or JSON):
 *   ADD_PORT    struct swctl_port + 1 fd   -> "" (or the error)
 *   DEL_PORT    name (NUL-padded, 32)      -> ""
 *   SET_POLICY  struct swctl_port (name + rules; other fields ignored)
 *   STATS       nothing                    -> JSON {"ports":[...]}
 *   SUBSCRIBE   nothing                    -> ""; then EVENT messages
 *               (status 0, JSON {"event":"violation","port":..,"reason":..})
 *               arrive on this connection, at most one per port and reason
 *               per second (every drop is still counted).
 * Both ends treat every received message as hostile: swctl_recv() refuses
 * wrong magic/version, lengths that disagree, and closes any descriptor a
 * message it refuses carried. */
#ifndef BH_CTL_SWITCH_CTL_H
#define BH_CTL_SWITCH_CTL_H

#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"

#define SWCTL_MAGIC 0x57534842u /* "BHSW" */
#define SWCTL_VERSION 1u
#define SWCTL_MAX_MSG 65536u
#define SWCTL_NAME_LEN 32u
#define SWCTL_MAX_RULES 32u

enum swctl_type {
	SWCTL_ADD_PORT = 1,
	SWCTL_DEL_PORT = 2,
	SWCTL_SET_POLICY = 3,
	SWCTL_STATS = 4,
	SWCTL_SUBSCRIBE = 5,
	SWCTL_EVENT = 6,
};
#define SWCTL_REPLY 0x8000u

struct swctl_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t type;
	int32_t status;
	uint32_t len; /* payload bytes after the header */
};

#define SWCTL_F_IP4 1u     /* ip4 is the port's IPv4 address */
#define SWCTL_F_IP6 2u     /* ip6 is the port's IPv6 address */
#define SWCTL_F_UPLINK 4u  /* an uplink (passt, a tap): no port security, egress policy applies toward it */
#define SWCTL_F_STREAM 8u  /* with UPLINK only: the descriptor is a connected SOCK_STREAM socket
			    * speaking passt's framing (net/stream.h: 4-byte big-endian length +
			    * Ethernet frame, no net_port_hdr) instead of SOCK_SEQPACKET messages */
#define SWCTL_F_TAP 16u    /* with UPLINK only (not STREAM): the descriptor is a host tap
			    * (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, a 12-byte header, no offloads,
			    * O_NONBLOCK: switch/tap_uplink.h) — one net_port message per
			    * read()/write() */

struct swctl_rule {
	uint8_t family;  /* 4 or 6 */
	uint8_t prefix;
	uint8_t allow;   /* 1 allow, 0 deny */
	uint8_t reserved;
	uint8_t addr[16];
};

struct swctl_port {
	char name[SWCTL_NAME_LEN];     /* NUL-terminated, [A-Za-z0-9_.-]+ */
	char segment[SWCTL_NAME_LEN];  /* NUL-terminated, same alphabet */
	uint8_t mac[6];
	uint8_t flags;                 /* SWCTL_F_* */
	uint8_t reserved;
	uint8_t ip4[4];
	uint8_t ip6[16];
	uint8_t reserved3[4];          /* zero: explicit padding */
	uint64_t rate_bytes;           /* bytes/s the port may send; 0 = unlimited */
	uint64_t rate_packets;         /* frames/s; 0 = unlimited */
	uint64_t period_ns;            /* refill period: burst = rate x period */
	uint32_t nrules;               /* egress rules toward an uplink, in order */
	uint32_t reserved2;
	struct swctl_rule rules[SWCTL_MAX_RULES];
};
_Static_assert(sizeof(struct swctl_rule) == 20, "swctl_rule is 20 bytes");
_Static_assert(sizeof(struct swctl_port) == 768, "swctl_port is 768 bytes, no hidden padding");

/* Send one message (+ fd when fd >= 0). flags: 0 or MSG_DONTWAIT (the
 * switch never blocks on a client). 0 or -errno (EAGAIN when the peer is
 * full; EMSGSIZE over SWCTL_MAX_MSG). */
int swctl_send(int sock, uint16_t type, int32_t status, const void *payload, size_t len,
	int fd, int flags) BH_WUR;

/* Receive one message: *hdr, the payload copied to buf (room for
 * SWCTL_MAX_MSG bytes), *fd = a received descriptor or -1. Returns the
 * payload length or -errno: -EPROTO for a malformed message (any
 * descriptor it carried closed), -ECONNRESET at end of file. flags: 0 or
 * MSG_DONTWAIT. */
int swctl_recv(int sock, struct swctl_hdr *hdr, void *buf, int *fd, int flags) BH_WUR;

/* Whether s (a NUL-terminated field of at most SWCTL_NAME_LEN bytes) is a
 * valid port/segment name. */
int swctl_name_ok(const char *s, size_t field_len);

/* Send a request and wait (blocking) for its reply: *status, the reply text
 * in reply[0..replylen) NUL-terminated. 0 or -errno (transport). */
int swctl_call(int sock, uint16_t type, const void *payload, size_t len, int fd,
	int32_t *status, char *reply, size_t replylen) BH_WUR;

#endif
