/* blk_host.c — the block-I/O limit for bhbench's blk group: the same I/O
 * pattern as guest/blk_guest.c, done by the host itself on the same image
 * file, so "what the disk and the host kernel can do" sits next to what each
 * VMM's virtio-blk delivers to a guest.
 *
 * usage: blk_host FILE MODE N QD
 *   MODE  randread | randwrite (4 KiB at pseudo-random 4 KiB-aligned offsets)
 *         seqread | seqwrite   (1 MiB in order, wrapping)
 *   N     requests, QD threads each doing synchronous pread/pwrite (so QD
 *         requests are in flight, like the guest's queue depth)
 * Offsets come from the guest's LCG (one shared sequence handed out under a
 * mutex, in the guest's order). The file is opened O_DIRECT; where the file
 * system refuses that (tmpfs in the nested test host) it falls back to the
 * page cache and says so.
 * Prints "blk_host MODE N SECONDS direct|cached" and exits 0, or a message
 * and 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define QD_MAX 64

struct job {
	pthread_mutex_t lock;
	int fd;
	bool rnd, wr;
	size_t bytes;
	uint64_t slots, n, issued, x, next;
	int err;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The next request's slot, or false when all N are handed out. */
static bool take(struct job *j, uint64_t *slot)
{
	bool ok = false;
	pthread_mutex_lock(&j->lock);
	if (j->issued < j->n && !j->err) {
		j->issued++;
		if (j->rnd) {
			j->x = j->x * 6364136223846793005ull + 1442695040888963407ull;
			*slot = (j->x >> 33) % j->slots;
		} else {
			*slot = j->next++ % j->slots;
		}
		ok = true;
	}
	pthread_mutex_unlock(&j->lock);
	return ok;
}

static void *worker(void *arg)
{
	struct job *j = arg;
	void *buf;
	if (posix_memalign(&buf, 4096, j->bytes)) {
		pthread_mutex_lock(&j->lock);
		j->err = ENOMEM;
		pthread_mutex_unlock(&j->lock);
		return NULL;
	}
	memset(buf, 0x5a, j->bytes);
	uint64_t slot;
	while (take(j, &slot)) {
		off_t off = (off_t)(slot * j->bytes);
		ssize_t got = j->wr ? pwrite(j->fd, buf, j->bytes, off) : pread(j->fd, buf, j->bytes, off);
		if (got != (ssize_t)j->bytes) {
			pthread_mutex_lock(&j->lock);
			j->err = got < 0 ? errno : EIO;
			pthread_mutex_unlock(&j->lock);
		}
	}
	free(buf);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: blk_host FILE randread|randwrite|seqread|seqwrite N QD\n");
		return 2;
	}
	struct job j = { .lock = PTHREAD_MUTEX_INITIALIZER, .x = 1 };
	const char *mode = argv[2];
	j.rnd = !strcmp(mode, "randread") || !strcmp(mode, "randwrite");
	j.wr = !strcmp(mode, "randwrite") || !strcmp(mode, "seqwrite");
	if (!j.rnd && strcmp(mode, "seqread") && strcmp(mode, "seqwrite")) {
		fprintf(stderr, "blk_host: unknown mode '%s'\n", mode);
		return 2;
	}
	char *end;
	j.n = strtoull(argv[3], &end, 10);
	long qd = strtol(argv[4], &end, 10);
	if (!j.n || *end || qd < 1 || qd > QD_MAX) {
		fprintf(stderr, "blk_host: bad N or QD (1..%d)\n", QD_MAX);
		return 2;
	}
	j.bytes = j.rnd ? 4096 : 1u << 20;
	bool direct = true;
	j.fd = open(argv[1], (j.wr ? O_RDWR : O_RDONLY) | O_DIRECT | O_CLOEXEC);
	if (j.fd < 0 && errno == EINVAL) {
		direct = false;
		j.fd = open(argv[1], (j.wr ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	}
	struct stat st;
	if (j.fd < 0 || fstat(j.fd, &st) < 0) {
		fprintf(stderr, "blk_host: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	j.slots = (uint64_t)st.st_size / j.bytes;
	if (!j.slots) {
		fprintf(stderr, "blk_host: %s is smaller than one request\n", argv[1]);
		return 1;
	}
	pthread_t t[QD_MAX];
	double t0 = now();
	long started = 0;
	for (; started < qd; started++)
		if (pthread_create(&t[started], NULL, worker, &j))
			break;
	for (long i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	double dt = now() - t0;
	if (!started || j.err) {
		fprintf(stderr, "blk_host: %s\n", started ? strerror(j.err) : "no thread started");
		return 1;
	}
	if (j.wr && fdatasync(j.fd) < 0) { /* not timed: the guests do not flush either */
		fprintf(stderr, "blk_host: fdatasync: %s\n", strerror(errno));
		return 1;
	}
	close(j.fd);
	printf("blk_host %s %llu %.6f %s\n", mode, (unsigned long long)j.n, dt, direct ? "direct" : "cached");
	return 0;
}
