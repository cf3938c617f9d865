/* log.h — diagnostics to stderr, with a per-call-site rate limit for anything a
 * guest can trigger (a hostile guest must not be able to flood the host log).
 * Thread-safe: each message is emitted with a single write(2). */
#ifndef BH_LOG_H
#define BH_LOG_H

#include <stdatomic.h>
#include <stdint.h>

#include "compiler.h"

enum bh_log_level { BH_LOG_ERROR, BH_LOG_WARN, BH_LOG_INFO, BH_LOG_DEBUG };

/* Process-wide verbosity, set once by main() before any thread starts
 * (the only process-global: it is configuration, not VM state). */
void bh_log_set_level(enum bh_log_level level);
enum bh_log_level bh_log_get_level(void);

/* Journal-friendly output: if stderr is connected to systemd's journal
 * (JOURNAL_STREAM names the device:inode of our fd 2), every later message
 * starts with its syslog priority, "<3>" error, "<4>" warning, "<6>" info,
 * "<7>" debug, which journald strips and records as PRIORITY=. Messages never
 * carry timestamps of their own (the journal, or whoever collects stderr,
 * adds them). Call from main() of a long-running service before any thread
 * starts; returns 1 if the journal was detected, else 0. */
int bh_log_detect_journal(void);

void bh_log(enum bh_log_level level, const char *fmt, ...) BH_PRINTF(2, 3);

/* Rate limiter state, one per call site (static at the call site is fine: it
 * only counts messages, it holds no VM state). Allows `burst` messages per
 * `interval_ms` window and reports how many were suppressed. */
struct bh_ratelimit {
	_Atomic uint64_t window_start_ms;
	_Atomic uint32_t in_window;
	_Atomic uint64_t suppressed;
};
int bh_ratelimit_ok(struct bh_ratelimit *rl, uint32_t burst, uint32_t interval_ms);

#define bh_err(...) bh_log(BH_LOG_ERROR, __VA_ARGS__)
#define bh_warn(...) bh_log(BH_LOG_WARN, __VA_ARGS__)
#define bh_info(...) bh_log(BH_LOG_INFO, __VA_ARGS__)
#define bh_dbg(...) bh_log(BH_LOG_DEBUG, __VA_ARGS__)

/* Guest-triggerable warning: at most 10 per second per call site. */
#define bh_warn_guest(...)                                        \
	do {                                                      \
		static struct bh_ratelimit bh_rl_;                \
		if (bh_ratelimit_ok(&bh_rl_, 10, 1000))           \
			bh_log(BH_LOG_WARN, __VA_ARGS__);         \
	} while (0)

/* Same, at debug level. */
#define bh_dbg_guest(...)                                         \
	do {                                                      \
		static struct bh_ratelimit bh_rl_;                \
		if (bh_ratelimit_ok(&bh_rl_, 10, 1000))           \
			bh_log(BH_LOG_DEBUG, __VA_ARGS__);        \
	} while (0)

#endif
