/* vsock_probe.c — a hostile program for the exec containment cases
 * (tests/e2e/exec_suite.sh): run inside a `bulkhead exec` guest as the
 * unprivileged user, it tries what the busybox userland cannot (AF_VSOCK,
 * other processes' descriptors) and prints one line per attempt saying what
 * happened; the suite decides what is a containment failure. Static (the
 * busybox exec root filesystem has no libc); copied in by the suite.
 *
 *   vsock_probe connect CID PORT
 *       one stream connection to CID:PORT, at most 15 s. Prints
 *       "connect CID:PORT: connected" (exit 0), or ": failed: REASON" /
 *       ": timed out" (exit 1).
 *   vsock_probe flood CID PORT N
 *       N connections to CID:PORT one after another, each at most 5 s.
 *       Prints "flood CID:PORT: N attempts, R refused, C connected, T timed
 *       out"; exit 0 if none connected, 1 otherwise.
 *   vsock_probe listen PORT SECS
 *       binds PORT on any CID and waits SECS for a connection (someone
 *       taking the agent's port to impersonate it). Prints "listen PORT:
 *       bind failed: REASON" or "listen PORT: bound, no connection in SECS s"
 *       (exit 0), or "listen PORT: accepted from CID:PORT" (exit 1).
 *   vsock_probe fds
 *       the AF_VSOCK descriptors this process inherited (the agent's channel
 *       must not be among them): "fds: N vsock descriptors inherited";
 *       exit 0 if N is 0.
 *   vsock_probe procfd
 *       every process of uid 0 other than this one (init, the agent, kernel
 *       threads): can its descriptor table be opened? "procfd: N root
 *       processes, M descriptor tables reachable"; exit 0 if M is 0.
 * Exit 2: usage or a setup failure (named on stderr). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

enum { P_CONNECTED, P_FAILED, P_TIMED_OUT, P_SETUP };

static int parse_u32(const char *s, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > 0xffffffffu)
		return -1;
	*out = (unsigned)v;
	return 0;
}

/* One connection attempt; the reason of a failure in why. */
static int try_connect(unsigned cid, unsigned port, int timeout_ms, char *why, size_t len)
{
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port };
	int s = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), r;

	if (s < 0) {
		snprintf(why, len, "socket: %s", strerror(errno));
		return P_SETUP;
	}
	if (!connect(s, (struct sockaddr *)&sa, sizeof(sa))) {
		close(s);
		return P_CONNECTED;
	}
	if (errno != EINPROGRESS) {
		snprintf(why, len, "%s", strerror(errno));
		close(s);
		return P_FAILED;
	}
	struct pollfd p = { .fd = s, .events = POLLOUT };

	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r == 0) {
		close(s);
		return P_TIMED_OUT;
	}
	int e = 0;
	socklen_t el = sizeof(e);

	if (r < 0 || getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
		e = errno;
	close(s);
	if (!e)
		return P_CONNECTED;
	snprintf(why, len, "%s", strerror(e));
	return P_FAILED;
}

static int do_connect(unsigned cid, unsigned port)
{
	char why[128] = "";
	int r = try_connect(cid, port, 15000, why, sizeof(why));

	if (r == P_SETUP) {
		fprintf(stderr, "vsock_probe: %s\n", why);
		return 2;
	}
	printf("connect %u:%u: %s%s\n", cid, port,
	       r == P_CONNECTED ? "connected" : r == P_TIMED_OUT ? "timed out" : "failed: ",
	       r == P_FAILED ? why : "");
	return r == P_CONNECTED ? 0 : 1;
}

static int do_flood(unsigned cid, unsigned port, unsigned n)
{
	unsigned refused = 0, connected = 0, timed_out = 0;
	char why[128];

	for (unsigned i = 0; i < n; i++) {
		int r = try_connect(cid, port, 5000, why, sizeof(why));

		if (r == P_SETUP) {
			fprintf(stderr, "vsock_probe: %s\n", why);
			return 2;
		}
		connected += r == P_CONNECTED;
		refused += r == P_FAILED;
		timed_out += r == P_TIMED_OUT;
	}
	printf("flood %u:%u: %u attempts, %u refused, %u connected, %u timed out\n", cid, port, n,
	       refused, connected, timed_out);
	return connected ? 1 : 0;
}

static int do_listen(unsigned port, unsigned secs)
{
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY,
				  .svm_port = port };
	int s = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0), r;

	if (s < 0) {
		fprintf(stderr, "vsock_probe: socket: %s\n", strerror(errno));
		return 2;
	}
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s, 1) < 0) {
		printf("listen %u: bind failed: %s\n", port, strerror(errno));
		close(s);
		return 0;
	}
	struct pollfd p = { .fd = s, .events = POLLIN };

	do
		r = poll(&p, 1, (int)secs * 1000);
	while (r < 0 && errno == EINTR);
	if (r <= 0) {
		printf("listen %u: bound, no connection in %u s\n", port, secs);
		close(s);
		return 0;
	}
	struct sockaddr_vm peer = { 0 };
	socklen_t pl = sizeof(peer);
	int c = accept4(s, (struct sockaddr *)&peer, &pl, SOCK_CLOEXEC);

	printf("listen %u: accepted from %u:%u\n", port, c < 0 ? 0u : peer.svm_cid,
	       c < 0 ? 0u : peer.svm_port);
	if (c >= 0)
		close(c);
	close(s);
	return 1;
}

static int do_fds(void)
{
	unsigned n = 0;

	for (int fd = 0; fd < 1024; fd++) {
		int dom = 0;
		socklen_t dl = sizeof(dom);

		if (!getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &dl) && dom == AF_VSOCK) {
			printf("fd %d: an AF_VSOCK socket\n", fd);
			n++;
		}
	}
	printf("fds: %u vsock descriptors inherited\n", n);
	return n ? 1 : 0;
}

static int do_procfd(void)
{
	DIR *d = opendir("/proc");
	unsigned roots = 0, reached = 0;
	struct dirent *de;
	pid_t self = getpid();

	if (!d) {
		fprintf(stderr, "vsock_probe: /proc: %s\n", strerror(errno));
		return 2;
	}
	while ((de = readdir(d))) {
		char path[64];
		struct stat st;
		unsigned pid;

		if (parse_u32(de->d_name, &pid) || (pid_t)pid == self)
			continue;
		snprintf(path, sizeof(path), "/proc/%u", pid);
		if (stat(path, &st) || st.st_uid != 0)
			continue;
		roots++;
		snprintf(path, sizeof(path), "/proc/%u/fd", pid);
		int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (fd >= 0) {
			printf("reached %s\n", path);
			reached++;
			close(fd);
		}
	}
	closedir(d);
	printf("procfd: %u root processes, %u descriptor tables reachable\n", roots, reached);
	return reached || !roots ? 1 : 0;
}

int main(int argc, char **argv)
{
	unsigned a = 0, b = 0, c = 0;
	int r = 2;

	alarm(120); /* whatever happens, this probe ends */
	if (argc == 4 && !strcmp(argv[1], "connect") && !parse_u32(argv[2], &a) &&
	    !parse_u32(argv[3], &b))
		r = do_connect(a, b);
	else if (argc == 5 && !strcmp(argv[1], "flood") && !parse_u32(argv[2], &a) &&
		 !parse_u32(argv[3], &b) && !parse_u32(argv[4], &c) && c <= 10000)
		r = do_flood(a, b, c);
	else if (argc == 4 && !strcmp(argv[1], "listen") && !parse_u32(argv[2], &a) &&
		 !parse_u32(argv[3], &b) && b <= 60)
		r = do_listen(a, b);
	else if (argc == 2 && !strcmp(argv[1], "fds"))
		r = do_fds();
	else if (argc == 2 && !strcmp(argv[1], "procfd"))
		r = do_procfd();
	else
		fprintf(stderr, "usage: vsock_probe connect CID PORT | flood CID PORT N | "
				"listen PORT SECS | fds | procfd\n");
	fflush(stdout);
	return r;
}
