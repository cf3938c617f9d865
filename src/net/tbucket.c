/* tbucket.c — continuous token buckets (contracts in tbucket.h). */
#include "net/tbucket.h"

#include <errno.h>

#define NT 1000000000ull /* nano-tokens per token */

int net_tb_init(struct net_tb *tb, uint64_t rate, uint64_t period_ns, uint64_t min_burst,
	uint64_t now_ns)
{
	uint64_t burst = 0;

	tb->rate = rate;
	tb->last_ns = now_ns;
	if (rate == 0) {
		tb->burst = tb->level_nt = 0;
		return 0;
	}
	/* burst = rate * period / 1e9, without overflow for sane inputs */
	if (period_ns > 0 && rate > UINT64_MAX / period_ns)
		return -EINVAL;
	burst = rate * period_ns / NT;
	if (burst < min_burst)
		burst = min_burst;
	if (burst == 0)
		burst = 1;
	if (burst > NET_TB_MAX_BURST)
		return -EINVAL;
	tb->burst = burst;
	tb->level_nt = burst * NT;
	return 0;
}

static void refill(struct net_tb *tb, uint64_t now_ns)
{
	uint64_t full = tb->burst * NT;

	if (now_ns <= tb->last_ns)
		return;
	uint64_t dt = now_ns - tb->last_ns, need = full - tb->level_nt;
	tb->last_ns = now_ns;
	/* dt * rate could overflow: only compute it when it stays below need */
	if (dt >= (need + tb->rate - 1) / tb->rate)
		tb->level_nt = full;
	else
		tb->level_nt += dt * tb->rate;
}

static uint64_t cost_nt(const struct net_tb *tb, uint64_t n)
{
	return (n > tb->burst ? tb->burst : n) * NT;
}

bool net_tb_take(struct net_tb *tb, uint64_t n, uint64_t now_ns)
{
	if (tb->rate == 0)
		return true;
	refill(tb, now_ns);
	uint64_t c = cost_nt(tb, n);
	if (tb->level_nt < c)
		return false;
	tb->level_nt -= c;
	return true;
}

uint64_t net_tb_wait_ns(struct net_tb *tb, uint64_t n, uint64_t now_ns)
{
	if (tb->rate == 0)
		return 0;
	refill(tb, now_ns);
	uint64_t c = cost_nt(tb, n);
	if (tb->level_nt >= c)
		return 0;
	return (c - tb->level_nt + tb->rate - 1) / tb->rate;
}
