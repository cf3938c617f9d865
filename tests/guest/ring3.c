/* ring3.c — runs a compute loop in ring 3 (native speed even where ring 0 is
 * emulated) and reports from ring 3 directly: the result goes to the test
 * device's value log (0xf8, low then high 32 bits) and the verdict to 0xf4,
 * both allowed by IOPL=3. The loop is a 64-bit LCG whose n-th state is
 * recomputed in O(log n) by affine jump-ahead, so the guest checks itself
 * without a baked-in constant. `iters=N` overrides the default 10^8. */
#include "rt/rt.h"

#define LCG_A 6364136223846793005ULL /* Knuth's MMIX constants */
#define LCG_C 1442695040888963407ULL
#define SEED 0x243f6a8885a308d3ULL

static uint64_t iters;
static uint8_t user_stack[16384] __attribute__((aligned(16)));

/* x_n = A^n x_0 + C (A^(n-1) + ... + 1): compose the affine map by squaring. */
static uint64_t lcg_jump(uint64_t x, uint64_t n)
{
	uint64_t a = LCG_A, c = LCG_C, acc_a = 1, acc_c = 0;
	while (n) {
		if (n & 1) {
			acc_a *= a;
			acc_c = acc_c * a + c;
		}
		c = c * (a + 1);
		a *= a;
		n >>= 1;
	}
	return acc_a * x + acc_c;
}

static void user_main(void)
{
	if (rt_cpl() != 3)
		rt_fail("ring3", "running at CPL %u, not 3", rt_cpl());
	uint64_t n = *(volatile uint64_t *)&iters;
	uint64_t x = SEED;
	uint64_t t0 = rdtsc();
	for (uint64_t i = 0; i < n; i++)
		x = x * LCG_A + LCG_C;
	uint64_t dt = rdtsc() - t0;
	outl((uint32_t)x, RT_PORT_VALUE);
	outl((uint32_t)(x >> 32), RT_PORT_VALUE);
	rt_printf("ring3: %lu iterations in %lu Mcycles, result %lx\n", n, dt / 1000000, x);
	uint64_t want = lcg_jump(SEED, n);
	if (x != want)
		rt_fail("ring3", "result %lx, expected %lx", x, want);
	rt_pass("ring3"); /* outl to 0xf4 from CPL 3 */
}

int guest_main(void)
{
	iters = rt_param_u64("iters=", 100000000ULL);
	rt_enter_user(user_main, user_stack + sizeof(user_stack));
}
