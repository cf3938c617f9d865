/* log.c — see log.h. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static _Atomic int bh_level = BH_LOG_INFO;
/* Configuration like the level: set once by main(), read by every thread. */
static _Atomic int bh_journal;

int bh_log_detect_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char tail;

	if (!js || sscanf(js, "%llu:%llu%c", &dev, &ino, &tail) != 2 ||
	    fstat(STDERR_FILENO, &st) < 0 || (unsigned long long)st.st_dev != dev ||
	    (unsigned long long)st.st_ino != ino)
		return 0;
	atomic_store(&bh_journal, 1);
	return 1;
}

void bh_log_set_level(enum bh_log_level level)
{
	atomic_store(&bh_level, (int)level);
}

enum bh_log_level bh_log_get_level(void)
{
	return (enum bh_log_level)atomic_load(&bh_level);
}

void bh_log(enum bh_log_level level, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	static const char prio[] = { '3', '4', '6', '7' }; /* LOG_ERR ... LOG_DEBUG */
	char buf[1024];
	va_list ap;
	int n = 0;

	if ((int)level > atomic_load(&bh_level))
		return;
	if (atomic_load(&bh_journal)) {
		buf[n++] = '<';
		buf[n++] = prio[level];
		buf[n++] = '>';
	}
	n += snprintf(buf + n, sizeof(buf) - (size_t)n, "bulkhead: %s: ", names[level]);
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	/* One write per message: lines from concurrent threads never interleave. */
	if (write(STDERR_FILENO, buf, (size_t)n) < 0) {
		/* Nothing sensible to do if stderr is gone. */
	}
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int bh_ratelimit_ok(struct bh_ratelimit *rl, uint32_t burst, uint32_t interval_ms)
{
	uint64_t now = now_ms();
	uint64_t start = atomic_load(&rl->window_start_ms);

	if (now - start >= interval_ms &&
	    atomic_compare_exchange_strong(&rl->window_start_ms, &start, now)) {
		uint64_t sup = atomic_exchange(&rl->suppressed, 0);

		atomic_store(&rl->in_window, 0);
		if (sup)
			bh_log(BH_LOG_WARN, "(%llu similar messages suppressed)",
			       (unsigned long long)sup);
	}
	if (atomic_fetch_add(&rl->in_window, 1) < burst)
		return 1;
	atomic_fetch_add(&rl->suppressed, 1);
	return 0;
}
