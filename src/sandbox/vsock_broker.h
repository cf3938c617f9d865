/* vsock_broker.h — the unjailed end of virtio-vsock's guest→host
 * connections (message format: core/vsock_broker.h). The jail's supervisor
 * serves it (jail_fork); without a jail (--no-sandbox) a thread of the VMM
 * does (vsock_broker_run). For each request it checks the port against the
 * VM's allow-list (config/args.h: args_vsock_port_allowed; default none),
 * connects a non-blocking unix stream socket to "<socket>_<port>" (a full
 * backlog is a refusal, never a wait) and passes it back with SCM_RIGHTS.
 * No state; the caller owns the channel. */
#ifndef BH_SANDBOX_VSOCK_BROKER_H
#define BH_SANDBOX_VSOCK_BROKER_H

#include <stdint.h>

#include "common/compiler.h"

/* Connect to "<socket>_<port>" if the allow-list has port: the connected
 * descriptor, or -errno (-EACCES: not allowed; -ENAMETOOLONG; connect's
 * errno, -EAGAIN for a full backlog). */
int vsock_broker_connect(const char *socket, const char *allow, uint32_t port) BH_WUR;

/* Serve what is waiting on `chan` (non-blocking; at most a small batch).
 * 0, or -EPIPE once the device's end is gone (the caller closes chan). */
int vsock_broker_serve(int chan, const char *socket, const char *allow) BH_WUR;

/* Serve until the device's end is gone (a thread's body without a jail). */
void vsock_broker_run(int chan, const char *socket, const char *allow);

#endif
