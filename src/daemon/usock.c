/* usock.c — see usock.h. */
#include "daemon/usock.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int usock_ms_left(uint64_t deadline_ns)
{
	uint64_t now = now_ns();

	if (now >= deadline_ns)
		return 0;
	return (int)((deadline_ns - now + 999999u) / 1000000u);
}

int usock_addr(const char *path, struct sockaddr_un *sa)
{
	size_t n = strlen(path);

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (n == 0 || n >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	memcpy(sa->sun_path, path, n + 1);
	return 0;
}

int usock_listen(const char *path, int type, mode_t mode, int backlog)
{
	struct sockaddr_un sa;
	mode_t old;
	int fd, r, e;

	if ((r = usock_addr(path, &sa)))
		return r;
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	old = umask(0177); /* no window in which others could connect */
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	e = errno;
	umask(old);
	if (r < 0 || chmod(path, mode) < 0 || listen(fd, backlog) < 0) {
		e = r < 0 ? e : errno;
		close(fd);
		return -e;
	}
	return fd;
}

int usock_connect(const char *path, int type, uint64_t deadline_ns)
{
	struct sockaddr_un sa;
	int fd, r;

	if ((r = usock_addr(path, &sa)))
		return r;
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	for (;;) {
		struct timespec pause = { 0, 5 * 1000 * 1000 };

		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EINPROGRESS) {
			r = -errno;
			break;
		}
		/* AF_UNIX: EAGAIN means the backlog is full (an unresponsive
		 * listener); nothing to poll for, so retry until the deadline. */
		if (usock_ms_left(deadline_ns) == 0) {
			r = -ETIMEDOUT;
			break;
		}
		nanosleep(&pause, NULL);
	}
	close(fd);
	return r;
}
