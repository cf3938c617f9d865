/* fdpass.h — one message with descriptors over a unix socket (SCM_RIGHTS):
 * the one place that builds and reads the control-message buffer, for every
 * channel that hands descriptors across (the jail's go message, the vsock
 * broker's replies, the switch and VMM control records, and their tests).
 *
 * Returns are bytes or -errno (never errno). Nothing here retries EINTR or
 * waits: the caller's flags (MSG_DONTWAIT, MSG_NOSIGNAL) and its loop decide.
 * Descriptors sent are borrowed (the caller still owns and closes them);
 * descriptors received are the caller's, opened with MSG_CMSG_CLOEXEC.
 * Any thread; no state. The send side is async-signal-safe (a stack buffer,
 * memset, memcpy and sendmsg only; no allocation), so a child between fork()
 * and exec/_exit may use it (daemon/snap.c's open-as-the-caller child): keep
 * it so. */
#ifndef BH_FDPASS_H
#define BH_FDPASS_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

#define FDPASS_MAX_FDS 16u /* descriptors one fdpass_sendv() may carry */

/* Send iov[0..iovcnt) as one message with nfds descriptors fds[0..nfds)
 * attached as one SCM_RIGHTS record (none when nfds is 0; fds may then be
 * NULL). Returns the bytes sent (the caller judges a short send), -EINVAL
 * when nfds > FDPASS_MAX_FDS, or sendmsg's -errno. */
ssize_t fdpass_sendv(int sock, const struct iovec *iov, size_t iovcnt, const int *fds,
		     unsigned nfds, int flags);

/* fdpass_sendv() of buf[0..len) with one descriptor, or none when fd < 0. */
ssize_t fdpass_send(int sock, const void *buf, size_t len, int fd, int flags);

/* Receive one message into buf[0..len) and at most one descriptor.
 * Returns the bytes received (0: the peer closed, or sent an empty message)
 * with *fd the descriptor that came with them, or -1. Returns -EPROTO, with
 * every descriptor that arrived closed and *fd -1, when the message was
 * longer than len or its descriptors were cut short (MSG_TRUNC, MSG_CTRUNC)
 * or it carried more than one descriptor; or recvmsg's -errno (*fd -1).
 * The peer is not trusted: that is all this says about the message. */
ssize_t fdpass_recv(int sock, void *buf, size_t len, int *fd, int flags);

#endif
