/* boot_timer.c — process-start → first-guest-write probe; see boot_timer.h. */
#include "boot_timer.h"

#include <stdio.h>
#include <errno.h>
#include <string.h>
#include <time.h>

#include "common/log.h"

static uint64_t boot_timer_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void boot_timer_io_read(void *opaque, uint64_t offset, void *data, uint32_t len)
{
	(void)opaque;
	(void)offset;
	memset(data, 0, len);
}

static void boot_timer_io_write(void *opaque, uint64_t offset, const void *data, uint32_t len)
{
	struct boot_timer *bt = opaque;
	uint64_t now = boot_timer_now_ns();
	uint64_t elapsed = 0;

	(void)offset;
	(void)data;
	(void)len;
	pthread_mutex_lock(&bt->lock);
	if (!bt->triggered) {
		bt->triggered = true;
		elapsed = now > bt->start_ns ? now - bt->start_ns : 1;
		bt->elapsed_ns = elapsed;
	}
	pthread_mutex_unlock(&bt->lock);
	if (elapsed)
		bh_info("boot-timer: first guest write after %.3f ms (process start → guest)",
			(double)elapsed / 1e6);
}

static const struct io_dev_ops boot_timer_ops = {
	.read = boot_timer_io_read,
	.write = boot_timer_io_write,
};

int boot_timer_init(struct boot_timer *bt, uint64_t start_ns)
{
	int rc;

	memset(bt, 0, sizeof(*bt));
	rc = pthread_mutex_init(&bt->lock, NULL);
	if (rc)
		return -rc;
	bt->start_ns = start_ns;
	return 0;
}

int boot_timer_register(struct boot_timer *bt, struct io_bus *pio)
{
	return io_bus_register(pio, BOOT_TIMER_PORT, BOOT_TIMER_LEN, &boot_timer_ops, bt,
			       "boot-timer");
}

uint64_t boot_timer_elapsed_ns(struct boot_timer *bt)
{
	uint64_t v;

	pthread_mutex_lock(&bt->lock);
	v = bt->elapsed_ns;
	pthread_mutex_unlock(&bt->lock);
	return v;
}

void boot_timer_destroy(struct boot_timer *bt)
{
	pthread_mutex_destroy(&bt->lock);
}

void boot_timer_save(struct boot_timer *bt, struct sbuf *out)
{
	pthread_mutex_lock(&bt->lock);
	sbuf_u8(out, bt->triggered);
	sbuf_u64(out, bt->elapsed_ns);
	pthread_mutex_unlock(&bt->lock);
}

int boot_timer_load(struct boot_timer *bt, struct sreader *in, uint32_t version, char *err,
		    size_t errlen)
{
	bool triggered;
	uint64_t elapsed;

	if (version != BOOT_TIMER_STATE_VERSION) {
		snprintf(err, errlen, "boot-timer: state version %u unknown (this build: %u)",
			 version, BOOT_TIMER_STATE_VERSION);
		return -ENOTSUP;
	}
	triggered = sr_bool(in);
	elapsed = sr_u64(in);
	if (sr_finish(in) || (!triggered && elapsed)) {
		snprintf(err, errlen, "boot-timer: invalid state (truncated, trailing bytes, or "
			 "a time without a trigger)");
		return -EINVAL;
	}
	pthread_mutex_lock(&bt->lock);
	bt->triggered = triggered;
	bt->elapsed_ns = elapsed;
	pthread_mutex_unlock(&bt->lock);
	return 0;
}
