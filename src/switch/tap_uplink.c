/* tap_uplink.c — open an operator-named tap as a switch uplink (contracts
 * in tap_uplink.h). */
#include "switch/tap_uplink.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "ctl/net_port.h"
#include "switch/passt.h"

int tap_uplink_name_ok(const char *name)
{
	size_t n = strlen(name);

	return n >= 1 && n < IFNAMSIZ &&
	       strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

int tap_uplink_open(const char *name, char *err, size_t errlen)
{
	struct ifreq ifr;
	int fd, hdr = (int)NET_PORT_HDR_LEN, ret;

	if (!tap_uplink_name_ok(name)) {
		snprintf(err, errlen, "tap '%.40s': an interface name is 1-15 of [A-Za-z0-9_.-]",
			 name);
		return -EINVAL;
	}
	if (!if_nametoindex(name)) {
		snprintf(err, errlen, "tap %s: no such interface (create it first: ip tuntap add %s "
			 "mode tap)", name, name);
		return -ENODEV;
	}
	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "tap %s: open /dev/net/tun: %s", name, strerror(errno));
		return ret;
	}
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, name, strlen(name));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		ret = -errno;
		snprintf(err, errlen, "tap %s: TUNSETIFF: %s (it must be a tap this user may attach "
			 "to, not in use: ip tuntap add %s mode tap user UID)", name, strerror(errno),
			 name);
		goto fail;
	}
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0 || ioctl(fd, TUNSETOFFLOAD, 0UL) < 0) {
		ret = -errno;
		snprintf(err, errlen, "tap %s: header size / offloads: %s", name, strerror(errno));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return ret;
}

int tap_uplink_port_record(struct swctl_port *rec, const char *port, const char *segment)
{
	int ret = passt_port_record(rec, port, segment);

	if (!ret)
		rec->flags = SWCTL_F_UPLINK | SWCTL_F_TAP;
	return ret;
}
