/* startup.c — see startup.h. */
#include "common/startup.h"

#include <string.h>
#include <time.h>

#include "common/log.h"

uint64_t bh_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void bh_startup_init(struct bh_startup *s, uint64_t t0_ns)
{
	if (!s)
		return;
	memset(s, 0, sizeof(*s));
	s->t0_ns = t0_ns;
}

void bh_startup_mark(struct bh_startup *s, const char *what)
{
	unsigned i;

	if (!s)
		return;
	i = atomic_fetch_add(&s->n, 1);
	if (i >= BH_STARTUP_MAX)
		return;
	s->mark[i].ns = bh_now_ns();
	s->mark[i].what = what;
}

void bh_startup_report(struct bh_startup *s)
{
	uint64_t prev;
	unsigned n;

	if (!s || bh_log_get_level() < BH_LOG_DEBUG || atomic_exchange(&s->reported, true))
		return;
	n = atomic_load(&s->n);
	if (n > BH_STARTUP_MAX)
		n = BH_STARTUP_MAX;
	prev = s->t0_ns;
	bh_dbg("start-up breakdown (ms: this step, since exec):");
	for (unsigned i = 0; i < n; i++) {
		uint64_t t = s->mark[i].ns;

		if (!s->mark[i].what || t < prev)
			continue; /* a concurrent mark not yet written */
		bh_dbg("  %8.3f %8.3f  %s", (double)(t - prev) / 1e6, (double)(t - s->t0_ns) / 1e6,
		       s->mark[i].what);
		prev = t;
	}
}
