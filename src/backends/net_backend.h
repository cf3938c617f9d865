/* net_backend.h — the host side of a virtio-net NIC: one descriptor that
 * carries one Ethernet frame per read/write, each preceded by the 12-byte
 * virtio_net_hdr_v1 (ctl/net_port.h's struct net_port_hdr has its layout):
 *   - a tap device (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, TUNSETVNETHDRSZ 12),
 *     opened by interface name before the jail (net_backend_open_tap) or
 *     inherited as a descriptor (net_backend_adopt_tap);
 *   - a bulkhead switch port: an AF_UNIX SOCK_SEQPACKET descriptor speaking
 *     ctl/net_port.h (net_backend_adopt_port).
 * The descriptor is non-blocking. The jailed VMM only reads, writes and (tap)
 * sets offloads on it: readv/writev/recvmsg and ioctl(TUNSETOFFLOAD) on the
 * event thread. No state beyond the descriptor; one thread at a time (the
 * device's lock). */
#ifndef BH_BACKENDS_NET_BACKEND_H
#define BH_BACKENDS_NET_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "common/compiler.h"
#include "ctl/net_port.h"

enum net_backend_kind { NET_BACKEND_TAP, NET_BACKEND_PORT };

/* TUNSETOFFLOAD flags (linux/if_tun.h), re-exported so devices need not
 * include the kernel header. */
#define NET_OFFLOAD_CSUM 0x01u
#define NET_OFFLOAD_TSO4 0x02u
#define NET_OFFLOAD_TSO6 0x04u
#define NET_OFFLOAD_TSO_ECN 0x08u

struct net_backend {
	int fd;                    /* -1: none */
	int wfd;                   /* a dup of fd, to wait for "writable" on its own
				    * (fd is on the event loop for reading); -1: none */
	enum net_backend_kind kind;
	char what[48];             /* "tap tap0", "port fd sw0": for messages */
};

/* Open the existing tap interface `ifname` (TUNSETIFF on /dev/net/tun; the
 * interface must exist or the caller must be allowed to create it) with the
 * 12-byte virtio-net header and no offloads yet. 0 or -errno with err
 * naming the interface and what failed. */
int net_backend_open_tap(struct net_backend *b, const char *ifname, char *err,
			 size_t errlen) BH_WUR;

/* Take an inherited descriptor (owned by b on success only): a tap opened
 * with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR (checked with TUNGETIFF), or an
 * AF_UNIX SOCK_SEQPACKET socket. `name` names it in messages. */
int net_backend_adopt_tap(struct net_backend *b, int fd, const char *name, char *err,
			  size_t errlen) BH_WUR;
int net_backend_adopt_port(struct net_backend *b, int fd, const char *name, char *err,
			   size_t errlen) BH_WUR;

/* Offloads the tap may hand us (NET_OFFLOAD_*: what the guest acked); a
 * port has none to set (0). 0 or -errno. */
int net_backend_set_offload(struct net_backend *b, unsigned flags) BH_WUR;

/* One message (header + frame) out: writev. Bytes or -errno (-EAGAIN: the
 * peer's queue is full: wait for wfd to be writable). */
ssize_t net_backend_send(struct net_backend *b, const struct iovec *iov, int n) BH_WUR;

/* One message in, into buf (len >= NET_PORT_MAX_MSG + 1). Bytes, 0 = none
 * waiting (or the peer is gone: *hup), or -errno. *truncated: the message was
 * longer than len (a port's MSG_TRUNC; a tap's frame filling the buffer). */
ssize_t net_backend_recv(struct net_backend *b, void *buf, size_t len, bool *truncated,
			 bool *hup) BH_WUR;

void net_backend_close(struct net_backend *b);

#endif
