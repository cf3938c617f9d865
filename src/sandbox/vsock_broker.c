/* vsock_broker.c — see vsock_broker.h. */
#include "sandbox/vsock_broker.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/fdpass.h"
#include "common/log.h"
#include "config/args.h"
#include "core/vsock_broker.h"

#define SERVE_BATCH 16

int vsock_broker_connect(const char *socket_path, const char *allow, uint32_t port)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int n, fd, ret;

	if (!socket_path || !args_vsock_port_allowed(allow, port))
		return -EACCES;
	n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", socket_path, port);
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = errno == EINPROGRESS ? 0 : -errno;
		if (ret) {
			close(fd);
			return ret;
		}
	}
	return fd;
}

static void reply(int chan, uint32_t id, int result, int fd)
{
	struct vsock_broker_rep rep = { VSOCK_BROKER_REP, id, result };
	ssize_t n;

	/* Never wait for the device: a reply it does not take is its loss. */
	n = fdpass_send(chan, &rep, sizeof(rep), fd, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n < 0)
		bh_dbg("vsock broker: reply %u: %s", id, strerror((int)-n));
}

int vsock_broker_serve(int chan, const char *socket_path, const char *allow)
{
	for (int i = 0; i < SERVE_BATCH; i++) {
		struct vsock_broker_req req;
		ssize_t n = recv(chan, &req, sizeof(req), MSG_DONTWAIT);
		int fd;

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return 0;
		if (n <= 0)
			return -EPIPE;
		if (n != (ssize_t)sizeof(req) || req.magic != VSOCK_BROKER_REQ) {
			reply(chan, n >= 8 ? req.id : 0, -EINVAL, -1);
			continue;
		}
		fd = vsock_broker_connect(socket_path, allow, req.port);
		if (fd == -EACCES)
			bh_warn_guest("vsock: the guest asked for host port %u, which is not in "
				      "its allow-list: refused", req.port);
		reply(chan, req.id, fd < 0 ? fd : 0, fd);
		if (fd >= 0)
			close(fd);
	}
	return 0;
}

void vsock_broker_run(int chan, const char *socket_path, const char *allow)
{
	for (;;) {
		struct pollfd pf = { .fd = chan, .events = POLLIN };

		if (poll(&pf, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		if (vsock_broker_serve(chan, socket_path, allow) < 0)
			return;
	}
}
