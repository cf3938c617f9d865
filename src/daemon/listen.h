/* listen.h — socket activation: take the API socket from systemd (or any
 * supervisor speaking the sd_listen_fds(3) protocol, e.g.
 * systemd-socket-activate) instead of binding it ourselves.
 *
 * Protocol (implemented here in ~100 lines rather than linking libsystemd for
 * one function): the supervisor passes listening sockets as fds 3, 4, ...,
 * sets LISTEN_FDS to their number and LISTEN_PID to the receiving process's
 * pid (so a child that inherits the environment does not take them too).
 *
 * Thread: main(), before any thread starts (it reads and clears environment
 * variables, which is not thread-safe). */
#ifndef BH_DAEMON_LISTEN_H
#define BH_DAEMON_LISTEN_H

#include <stddef.h>

#include "common/compiler.h"

/* Look for an activated socket.
 * Returns:
 *   the listening fd (>= 3, now close-on-exec) and writes the path it is
 *   bound to into path[pathlen] ("" for an abstract or unnamed socket);
 *   -ENOENT  when the process was not socket-activated (no LISTEN_FDS, or
 *            LISTEN_PID names another process): bind your own socket;
 *   other -errno with a message in err naming what was wrong (more than one
 *            fd, not a listening AF_UNIX stream socket, malformed variables).
 * In every case LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES are removed from
 * the environment, so VMM processes the daemon spawns never see them. */
int dmn_listen_activated(char *path, size_t pathlen, char *err, size_t errlen) BH_WUR;

#endif
