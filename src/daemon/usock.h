/* usock.h — the daemon's one unix-socket helper: the API socket, each VM's
 * control socket (listening end, handed to the VMM) and the daemon's client
 * end of it. Any thread; no state. */
#ifndef BH_DAEMON_USOCK_H
#define BH_DAEMON_USOCK_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include "common/compiler.h"

/* Fill *sa for `path`: -ENAMETOOLONG if it does not fit sun_path. */
int usock_addr(const char *path, struct sockaddr_un *sa) BH_WUR;

/* A listening socket of `type` (SOCK_STREAM, SOCK_SEQPACKET) bound at `path`
 * (a stale file there is replaced), with permissions `mode` from the start
 * (bound under a umask that admits nobody, then chmod), close-on-exec.
 * The fd, or -errno. */
int usock_listen(const char *path, int type, mode_t mode, int backlog) BH_WUR;

/* Connect to `path` without ever blocking past `deadline_ns`
 * (CLOCK_MONOTONIC): a non-blocking connect, retried while the listener's
 * backlog is full (EAGAIN) — a peer that stopped accepting costs the caller
 * at most the deadline. Returns a non-blocking, close-on-exec fd or -errno
 * (-ETIMEDOUT at the deadline). */
int usock_connect(const char *path, int type, uint64_t deadline_ns) BH_WUR;

/* Milliseconds left until deadline_ns (CLOCK_MONOTONIC), 0 if past. */
int usock_ms_left(uint64_t deadline_ns);

#endif
