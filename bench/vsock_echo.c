/* vsock_echo.c — the guest side of the exec group's vsock figures
 * (bench/exec.c): a static program (the busybox exec root filesystem has no
 * libc) that bench/run.sh puts into the group's root filesystem image as
 * /bin/bh-vsock-echo and the driver starts through the guest agent.
 *
 *   bh-vsock-echo PORT CONNS
 *       listens on vsock PORT (any CID) and serves CONNS connections one
 *       after another, then exits 0. Each connection's first byte says what
 *       it is for:
 *         'E'  echo: every byte read is written back, until EOF;
 *         'S'  sink: the host sends a count (8 bytes, little endian), then
 *              that many bytes; once all arrived the program writes the
 *              count back (host → guest throughput: no half-close needed);
 *         'G'  source: the host sends an 8-byte count and the program
 *              writes that many bytes (guest → host throughput).
 * Prints nothing on success (the agent would forward it); on a failure one
 * line on stderr naming it, exit 1. Exit 2: usage. */
#include <errno.h>
#include <linux/vm_sockets.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF (256 * 1024)
#define MAX_BYTES (1ull << 34) /* 16 GiB: a sanity cap on the host's count */

static char buf[BUF];

static int read_full(int fd, void *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, (char *)p + got, n - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

static int write_full(int fd, const void *p, size_t n)
{
	size_t put = 0;

	while (put < n) {
		ssize_t r = write(fd, (const char *)p + put, n - put);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		put += (size_t)r;
	}
	return 0;
}

static uint64_t get_u64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static int echo(int c)
{
	for (;;) {
		ssize_t r = read(c, buf, sizeof(buf));

		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0)
			return 0;
		if (r < 0 || write_full(c, buf, (size_t)r) < 0)
			return -1;
	}
}

static int sink(int c)
{
	unsigned char cnt[8];
	uint64_t want, got = 0;

	if (read_full(c, cnt, 8) < 0)
		return -1;
	want = get_u64(cnt);
	if (want > MAX_BYTES)
		return -1;
	while (got < want) {
		size_t n = want - got < sizeof(buf) ? (size_t)(want - got) : sizeof(buf);
		ssize_t r = read(c, buf, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (uint64_t)r;
	}
	return write_full(c, cnt, 8);
}

static int source(int c)
{
	unsigned char cnt[8];
	uint64_t want, put = 0;

	if (read_full(c, cnt, 8) < 0)
		return -1;
	want = get_u64(cnt);
	if (want > MAX_BYTES)
		return -1;
	memset(buf, 0x5a, sizeof(buf));
	while (put < want) {
		size_t n = want - put < sizeof(buf) ? (size_t)(want - put) : sizeof(buf);

		if (write_full(c, buf, n) < 0)
			return -1;
		put += n;
	}
	return 0;
}

int main(int argc, char **argv)
{
	char *end;
	unsigned long port, conns;

	if (argc != 3)
		goto usage;
	port = strtoul(argv[1], &end, 10);
	if (*end || !port || port > 0xffffffffu)
		goto usage;
	conns = strtoul(argv[2], &end, 10);
	if (*end || !conns || conns > 1000)
		goto usage;

	struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY,
				  .svm_port = (unsigned)port };
	int s = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s, 4) < 0) {
		fprintf(stderr, "bh-vsock-echo: vsock port %lu: %s\n", port, strerror(errno));
		return 1;
	}
	for (unsigned long i = 0; i < conns; i++) {
		int c = accept4(s, NULL, NULL, SOCK_CLOEXEC);
		unsigned char mode;
		int r;

		if (c < 0) {
			if (errno == EINTR) {
				i--;
				continue;
			}
			fprintf(stderr, "bh-vsock-echo: accept: %s\n", strerror(errno));
			return 1;
		}
		if (read_full(c, &mode, 1) < 0) {
			/* connected and closed without a mode byte: not counted */
			close(c);
			i--;
			continue;
		}
		r = mode == 'E' ? echo(c) : mode == 'S' ? sink(c) : mode == 'G' ? source(c) : -1;
		close(c);
		if (r < 0) {
			fprintf(stderr, "bh-vsock-echo: connection %lu (mode '%c') failed\n", i + 1,
				mode);
			return 1;
		}
	}
	close(s);
	return 0;
usage:
	fprintf(stderr, "usage: bh-vsock-echo PORT CONNS\n");
	return 2;
}
