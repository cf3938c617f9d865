/* switch_ctl.c — codec of the switch's control protocol (switch_ctl.h). */
#include "ctl/switch_ctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

int swctl_send(int sock, uint16_t type, int32_t status, const void *payload, size_t len, int fd,
	int flags)
{
	struct swctl_hdr h = { SWCTL_MAGIC, SWCTL_VERSION, type, status, (uint32_t)len };
	struct iovec iov[2] = { { &h, sizeof(h) }, { (void *)(uintptr_t)payload, len } };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };

	if (len > SWCTL_MAX_MSG - sizeof(h))
		return -EMSGSIZE;
	if (fd >= 0) {
		memset(&u, 0, sizeof(u));
		m.msg_control = u.buf;
		m.msg_controllen = sizeof(u.buf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	ssize_t n = sendmsg(sock, &m, MSG_NOSIGNAL | flags);
	if (n < 0)
		return -errno;
	return (size_t)n == sizeof(h) + len ? 0 : -EIO;
}

int swctl_recv(int sock, struct swctl_hdr *hdr, void *buf, int *fd, int flags)
{
	union {
		char b[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} u;
	char *msg = malloc(SWCTL_MAX_MSG);
	struct iovec iov = { msg, SWCTL_MAX_MSG };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b,
			    .msg_controllen = sizeof(u.b) };
	int got[4], ngot = 0, ret;

	*fd = -1;
	if (!msg)
		return -ENOMEM;
	ssize_t n = recvmsg(sock, &m, flags | MSG_CMSG_CLOEXEC);
	if (n < 0) {
		ret = -errno;
		goto out;
	}
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int) && ngot < 4;
			     i++)
				memcpy(&got[ngot++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
	if (n == 0 && ngot == 0) {
		ret = -ECONNRESET;
		goto out;
	}
	ret = -EPROTO;
	if ((m.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || (size_t)n < sizeof(*hdr) || ngot > 1)
		goto out;
	memcpy(hdr, msg, sizeof(*hdr));
	if (hdr->magic != SWCTL_MAGIC || hdr->version != SWCTL_VERSION ||
	    hdr->len != (size_t)n - sizeof(*hdr))
		goto out;
	memcpy(buf, msg + sizeof(*hdr), hdr->len);
	if (ngot == 1) {
		*fd = got[0];
		ngot = 0;
	}
	ret = (int)hdr->len;
out:
	for (int i = 0; i < ngot; i++)
		close(got[i]);
	free(msg);
	return ret;
}

int swctl_name_ok(const char *s, size_t field_len)
{
	size_t n = strnlen(s, field_len);

	if (n == 0 || n >= field_len)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return 0;
	}
	return 1;
}

int swctl_call(int sock, uint16_t type, const void *payload, size_t len, int fd,
	int32_t *status, char *reply, size_t replylen)
{
	struct swctl_hdr h;
	char *buf = malloc(SWCTL_MAX_MSG);
	int rfd, ret;

	if (!buf)
		return -ENOMEM;
	if ((ret = swctl_send(sock, type, 0, payload, len, fd, 0)))
		goto out;
	for (;;) {
		ret = swctl_recv(sock, &h, buf, &rfd, 0);
		if (ret < 0)
			goto out;
		if (rfd >= 0)
			close(rfd);
		if (h.type == (type | SWCTL_REPLY))
			break; /* events of a subscription in between are skipped */
	}
	*status = h.status;
	if (replylen) {
		size_t n = (size_t)ret < replylen - 1 ? (size_t)ret : replylen - 1;
		memcpy(reply, buf, n);
		reply[n] = '\0';
	}
	ret = 0;
out:
	free(buf);
	return ret;
}
