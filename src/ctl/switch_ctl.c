/* switch_ctl.c — codec of the switch's control protocol (switch_ctl.h). */
#include "ctl/switch_ctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/fdpass.h"

int swctl_send(int sock, uint16_t type, int32_t status, const void *payload, size_t len, int fd,
	int flags)
{
	struct swctl_hdr h = { SWCTL_MAGIC, SWCTL_VERSION, type, status, (uint32_t)len };
	struct iovec iov[2] = { { &h, sizeof(h) }, { (void *)(uintptr_t)payload, len } };
	ssize_t n;

	if (len > SWCTL_MAX_MSG - sizeof(h))
		return -EMSGSIZE;
	n = fdpass_sendv(sock, iov, len ? 2 : 1, &fd, fd >= 0 ? 1 : 0, MSG_NOSIGNAL | flags);
	if (n < 0)
		return (int)n;
	return (size_t)n == sizeof(h) + len ? 0 : -EIO;
}

int swctl_recv(int sock, struct swctl_hdr *hdr, void *buf, int *fd, int flags)
{
	char *msg = malloc(SWCTL_MAX_MSG);
	int got = -1, ret;
	ssize_t n;

	*fd = -1;
	if (!msg)
		return -ENOMEM;
	/* A cut-short message or more than one descriptor: -EPROTO, all closed. */
	n = fdpass_recv(sock, msg, SWCTL_MAX_MSG, &got, flags);
	if (n < 0) {
		ret = (int)n;
		goto out;
	}
	if (n == 0 && got < 0) {
		ret = -ECONNRESET;
		goto out;
	}
	ret = -EPROTO;
	if ((size_t)n < sizeof(*hdr))
		goto out;
	memcpy(hdr, msg, sizeof(*hdr));
	if (hdr->magic != SWCTL_MAGIC || hdr->version != SWCTL_VERSION ||
	    hdr->len != (size_t)n - sizeof(*hdr))
		goto out;
	memcpy(buf, msg + sizeof(*hdr), hdr->len);
	*fd = got;
	got = -1;
	ret = (int)hdr->len;
out:
	if (got >= 0)
		close(got);
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
