/* tbucket.h — token buckets without a fixed timer quantum.
 *
 * A bucket holds up to `burst` tokens and gains `rate` tokens per second,
 * continuously: the level is kept in nano-tokens (tokens x 1e9) and refilled
 * from the nanoseconds elapsed, so a caller that runs out asks
 * net_tb_wait_ns() when exactly the next frame fits and arms its timer for
 * that instant — never a 100 ms step (the peers' limiters wait in fixed
 * steps, which can cut the real rate far below the setting). Pure functions;
 * the caller owns the struct and passes CLOCK_MONOTONIC nanoseconds. */
#ifndef BH_NET_TBUCKET_H
#define BH_NET_TBUCKET_H

#include <stdbool.h>
#include <stdint.h>

#include "common/compiler.h"

/* Largest burst (tokens): burst x 1e9 must fit in 63 bits. */
#define NET_TB_MAX_BURST 9000000000ull

struct net_tb {
	uint64_t rate;      /* tokens per second; 0 = unlimited */
	uint64_t burst;     /* bucket size in tokens */
	uint64_t level_nt;  /* current level, nano-tokens */
	uint64_t last_ns;   /* when level_nt was last brought up to date */
};

/* A bucket of `rate` tokens/s whose size is what `period_ns` of refill
 * gives (at least `min_burst` tokens, e.g. one maximum frame), full at
 * now_ns. rate 0 = unlimited. -EINVAL if the burst would exceed
 * NET_TB_MAX_BURST. */
int net_tb_init(struct net_tb *tb, uint64_t rate, uint64_t period_ns, uint64_t min_burst,
	uint64_t now_ns) BH_WUR;

/* Take `n` tokens at now_ns if the bucket holds them (a request above the
 * burst costs the whole burst, so it passes once the bucket is full).
 * true = taken. */
bool net_tb_take(struct net_tb *tb, uint64_t n, uint64_t now_ns);

/* Nanoseconds from now_ns until `n` tokens are there (0 = now). */
uint64_t net_tb_wait_ns(struct net_tb *tb, uint64_t n, uint64_t now_ns);

#endif
