/* listen.c — see listen.h. */
#include "daemon/listen.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define LISTEN_FDS_START 3

/* Parse a decimal variable strictly: digits only, no sign, fits in a long. */
static int parse_env_num(const char *s, long *out)
{
	char *end;
	long v;

	if (!s || !*s || strspn(s, "0123456789") != strlen(s))
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

static void clear_env(void)
{
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
}

int dmn_listen_activated(char *path, size_t pathlen, char *err, size_t errlen)
{
	const char *spid = getenv("LISTEN_PID"), *sfds = getenv("LISTEN_FDS");
	struct sockaddr_un sa;
	socklen_t slen = sizeof(sa);
	struct stat st;
	long pid, nfds;
	int fd = LISTEN_FDS_START, v, ret;
	socklen_t vlen = sizeof(v);

	if (pathlen)
		path[0] = '\0';
	if (!spid && !sfds)
		return -ENOENT;
	if (parse_env_num(spid, &pid) || parse_env_num(sfds, &nfds)) {
		snprintf(err, errlen,
			 "socket activation: LISTEN_PID='%.20s' LISTEN_FDS='%.20s': expected numbers",
			 spid ? spid : "", sfds ? sfds : "");
		clear_env();
		return -EINVAL;
	}
	clear_env();
	if (pid != (long)getpid())
		return -ENOENT; /* meant for another process (our parent) */
	if (nfds != 1) {
		snprintf(err, errlen,
			 "socket activation: %ld sockets passed, expected exactly 1 (the API socket; "
			 "check ListenStream= in bulkheadd.socket)",
			 nfds);
		return -EINVAL;
	}
	if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "socket activation: fd %d is not a socket", fd);
		return -ENOTSOCK;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &vlen) < 0 || v != AF_UNIX) {
		snprintf(err, errlen, "socket activation: fd %d is not a unix socket", fd);
		return -EAFNOSUPPORT;
	}
	vlen = sizeof(v);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &vlen) < 0 || v != SOCK_STREAM) {
		snprintf(err, errlen, "socket activation: fd %d is not a stream socket", fd);
		return -EPROTOTYPE;
	}
	vlen = sizeof(v);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &vlen) < 0 || !v) {
		snprintf(err, errlen,
			 "socket activation: fd %d is not listening (Accept=yes is not supported)", fd);
		return -EINVAL;
	}
	/* Inherited without FD_CLOEXEC by protocol; VMMs must not inherit it. */
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		ret = -errno;
		snprintf(err, errlen, "socket activation: fd %d: %s", fd, strerror(-ret));
		return ret;
	}
	memset(&sa, 0, sizeof(sa));
	if (getsockname(fd, (struct sockaddr *)&sa, &slen) == 0 &&
	    slen > offsetof(struct sockaddr_un, sun_path) && sa.sun_path[0] && pathlen)
		snprintf(path, pathlen, "%.*s", (int)(slen - offsetof(struct sockaddr_un, sun_path)),
			 sa.sun_path);
	return fd;
}
