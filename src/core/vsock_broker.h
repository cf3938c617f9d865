/* vsock_broker.h — the message format between the jailed VMM's virtio-vsock
 * device and the unjailed broker (the jail's supervisor) that opens
 * guest→host vsock connections for it. The VMM cannot connect() by path; the
 * broker can, and checks every port against the VM's allow-list first.
 *
 * One SOCK_SEQPACKET socketpair per VM. The device sends a request, the
 * broker answers every request exactly once, in order:
 *   request: { magic VSOCK_BROKER_REQ, id (the device's, echoed), port }
 *   reply:   { magic VSOCK_BROKER_REP, id, result (0 or -errno) }, and when
 *            result == 0 exactly one connected stream socket (SCM_RIGHTS).
 * A malformed request is answered with -EINVAL; the broker never blocks on
 * the device (replies are sent MSG_DONTWAIT; a device that does not read
 * them loses them, and its connection then times out).
 * Plain data, no state: both ends are in their own layers. */
#ifndef BH_CORE_VSOCK_BROKER_H
#define BH_CORE_VSOCK_BROKER_H

#include <stdint.h>

#define VSOCK_BROKER_REQ 0x76735251u /* "QRsv" */
#define VSOCK_BROKER_REP 0x76735250u /* "PRsv" */

struct vsock_broker_req {
	uint32_t magic;
	uint32_t id;
	uint32_t port;
};

struct vsock_broker_rep {
	uint32_t magic;
	uint32_t id;
	int32_t result;
};

#endif
