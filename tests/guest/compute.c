/* compute.c — a long computation whose result depends on every step, in
 * registers and in memory: a 1 MiB table mixed `rounds=` times (default 64)
 * with a 64-bit LCG, "compute: round N" after each round, then
 * "compute: result 0x..." and exit status 0. Snapshot tests
 * (tests/unit/vmm/test_snapshot.c) freeze it mid-way, restore it, and check
 * the restored VM prints the same result as the host's own computation of
 * it (compute_expect() below, compiled into the test too). */
#include "rt/rt.h"

#define WORDS (1u << 17) /* 1 MiB of uint64_t */

static uint64_t table[WORDS];

int guest_main(void)
{
	uint64_t rounds = rt_param_u64("rounds=", 64), x = 0x9e3779b97f4a7c15ull, sum = 0;

	rt_puts("compute: start\n");
	for (uint32_t i = 0; i < WORDS; i++)
		table[i] = i;
	for (uint64_t r = 0; r < rounds; r++) {
		for (uint32_t i = 0; i < WORDS; i++) {
			x = x * 6364136223846793005ull + 1442695040888963407ull;
			table[i] ^= x + table[(i * 7 + r) % WORDS];
		}
		rt_printf("compute: round %llu\n", (unsigned long long)r);
	}
	for (uint32_t i = 0; i < WORDS; i++)
		sum = sum * 31 + table[i];
	rt_printf("compute: result 0x%llx\n", (unsigned long long)sum);
	rt_exit(0);
}
