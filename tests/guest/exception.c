/* exception.c — checks the runtime's own safety net, which every other guest
 * relies on: an unexpected CPU exception must print "FAIL: exception N at RIP"
 * and exit with status 0xEE (bulkhead: exit 5, "test status 238").
 *   default:  #DE (vector 0) in ring 0. Not ud2: on the PVM lab ring 0 is run
 *             by KVM's emulator, which turns ud2 into an emulation failure
 *             (a VM crash) instead of a #UD.
 *   ring=3:   ud2 (#UD, vector 6) in ring 3, delivered through the TSS's RSP0
 *             stack: proves ring 3 -> ring 0 exception delivery. */
#include "rt/rt.h"

static uint8_t user_stack[8192] __attribute__((aligned(16)));

static void user_main(void)
{
	rt_puts("exception: ud2 in ring 3\n");
	__asm__ volatile("ud2");
	rt_fail("exception", "ud2 did not fault");
}

int guest_main(void)
{
	if (rt_param_u64("ring=", 0) == 3)
		rt_enter_user(user_main, user_stack + sizeof(user_stack));
	rt_puts("exception: divide by zero in ring 0\n");
	__asm__ volatile("xorl %%eax, %%eax; xorl %%edx, %%edx; divl %%eax" ::: "eax", "edx", "memory");
	rt_fail("exception", "divide by zero did not fault");
}
