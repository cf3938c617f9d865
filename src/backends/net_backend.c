/* net_backend.c — tap and switch-port descriptors for virtio-net. See
 * net_backend.h. */
#include "backends/net_backend.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

_Static_assert(NET_OFFLOAD_CSUM == TUN_F_CSUM && NET_OFFLOAD_TSO4 == TUN_F_TSO4 &&
		       NET_OFFLOAD_TSO6 == TUN_F_TSO6 && NET_OFFLOAD_TSO_ECN == TUN_F_TSO_ECN,
	       "TUNSETOFFLOAD flags");

/* The second descriptor for waiting on "writable" (same open file). */
static int add_wfd(struct net_backend *b, char *err, size_t errlen)
{
	b->wfd = fcntl(b->fd, F_DUPFD_CLOEXEC, 3);
	if (b->wfd < 0) {
		snprintf(err, errlen, "%s: dup: %s", b->what, strerror(errno));
		return -errno;
	}
	return 0;
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

/* The header size and no offloads: common to both ways of getting a tap. */
static int tap_setup(int fd, const char *what, char *err, size_t errlen)
{
	int hdr = (int)NET_PORT_HDR_LEN;

	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0) {
		snprintf(err, errlen, "%s: TUNSETVNETHDRSZ %d: %s", what, hdr, strerror(errno));
		return -errno;
	}
	if (ioctl(fd, TUNSETOFFLOAD, 0UL) < 0) {
		snprintf(err, errlen, "%s: TUNSETOFFLOAD: %s", what, strerror(errno));
		return -errno;
	}
	return 0;
}

int net_backend_open_tap(struct net_backend *b, const char *ifname, char *err, size_t errlen)
{
	struct ifreq ifr;
	int fd, ret;

	b->fd = b->wfd = -1;
	b->kind = NET_BACKEND_TAP;
	snprintf(b->what, sizeof(b->what), "tap %.16s", ifname);
	if (strlen(ifname) >= IFNAMSIZ) {
		snprintf(err, errlen, "%s: interface name too long", b->what);
		return -EINVAL;
	}
	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: open /dev/net/tun: %s", b->what, strerror(errno));
		return ret;
	}
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, ifname, strlen(ifname));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		ret = -errno;
		snprintf(err, errlen,
			 "%s: TUNSETIFF: %s (the interface must be a tap that this user may attach "
			 "to: `ip tuntap add %.16s mode tap user UID`)",
			 b->what, strerror(errno), ifname);
		close(fd);
		return ret;
	}
	if ((ret = tap_setup(fd, b->what, err, errlen))) {
		close(fd);
		return ret;
	}
	b->fd = fd;
	if ((ret = add_wfd(b, err, errlen))) {
		net_backend_close(b);
		return ret;
	}
	return 0;
}

int net_backend_adopt_tap(struct net_backend *b, int fd, const char *name, char *err,
			  size_t errlen)
{
	struct ifreq ifr;
	int ret;

	b->fd = b->wfd = -1;
	b->kind = NET_BACKEND_TAP;
	snprintf(b->what, sizeof(b->what), "tapfd %.31s", name);
	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(fd, TUNGETIFF, &ifr) < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: not an attached tap descriptor (TUNGETIFF: %s)", b->what,
			 strerror(errno));
		return ret;
	}
	if ((ifr.ifr_flags & (IFF_TAP | IFF_TUN)) != IFF_TAP || !(ifr.ifr_flags & IFF_NO_PI) ||
	    !(ifr.ifr_flags & IFF_VNET_HDR)) {
		snprintf(err, errlen,
			 "%s: the tap must be attached with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR "
			 "(flags 0x%x)", b->what, (unsigned)(uint16_t)ifr.ifr_flags);
		return -EINVAL;
	}
	if ((ret = tap_setup(fd, b->what, err, errlen)))
		return ret;
	if ((ret = set_nonblock(fd))) {
		snprintf(err, errlen, "%s: O_NONBLOCK: %s", b->what, strerror(-ret));
		return ret;
	}
	b->fd = fd;
	if ((ret = add_wfd(b, err, errlen))) {
		b->fd = -1; /* still the caller's */
		return ret;
	}
	return 0;
}

int net_backend_adopt_port(struct net_backend *b, int fd, const char *name, char *err,
			   size_t errlen)
{
	int type = 0, domain = 0, ret;
	socklen_t l1 = sizeof(type), l2 = sizeof(domain);

	b->fd = b->wfd = -1;
	b->kind = NET_BACKEND_PORT;
	snprintf(b->what, sizeof(b->what), "port %.31s", name);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l1) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &l2) < 0 || type != SOCK_SEQPACKET ||
	    domain != AF_UNIX) {
		snprintf(err, errlen, "%s: not an AF_UNIX SOCK_SEQPACKET socket", b->what);
		return -ENOTSOCK;
	}
	if ((ret = set_nonblock(fd))) {
		snprintf(err, errlen, "%s: O_NONBLOCK: %s", b->what, strerror(-ret));
		return ret;
	}
	b->fd = fd;
	if ((ret = add_wfd(b, err, errlen))) {
		b->fd = -1; /* still the caller's */
		return ret;
	}
	return 0;
}

int net_backend_set_offload(struct net_backend *b, unsigned flags)
{
	if (b->kind != NET_BACKEND_TAP)
		return 0;
	if (ioctl(b->fd, TUNSETOFFLOAD, (unsigned long)flags) < 0)
		return -errno;
	return 0;
}

ssize_t net_backend_send(struct net_backend *b, const struct iovec *iov, int n)
{
	ssize_t w;

	do
		w = writev(b->fd, iov, n);
	while (w < 0 && errno == EINTR);
	return w < 0 ? -errno : w;
}

ssize_t net_backend_recv(struct net_backend *b, void *buf, size_t len, bool *truncated,
			 bool *hup)
{
	struct iovec iov = { buf, len };
	ssize_t r;

	*truncated = false;
	*hup = false;
	if (b->kind == NET_BACKEND_PORT) {
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

		do
			r = recvmsg(b->fd, &mh, MSG_DONTWAIT);
		while (r < 0 && errno == EINTR);
		if (r > 0 && (mh.msg_flags & MSG_TRUNC))
			*truncated = true;
		if (r == 0)
			*hup = true; /* the switch end is closed */
	} else {
		do
			r = readv(b->fd, &iov, 1);
		while (r < 0 && errno == EINTR);
		if (r > 0 && (size_t)r >= len)
			*truncated = true;
	}
	if (r < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
	return r;
}

void net_backend_close(struct net_backend *b)
{
	if (b->wfd >= 0)
		close(b->wfd);
	if (b->fd >= 0)
		close(b->fd);
	b->fd = b->wfd = -1;
}
