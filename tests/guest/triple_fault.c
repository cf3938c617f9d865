/* triple_fault.c — makes the CPU triple-fault on purpose: loads an IDT with
 * limit 0 and raises an exception, so the exception, the #GP for its missing
 * gate and the #DF all fail -> shutdown. The host must report a crash.
 * `via=de` (default) divides by zero: the PVM lab's emulator cannot deliver
 * int3 in ring 0 (see shared/lab), and #DE is what the lab kernel uses;
 * `via=ud2` and `via=int3` are there for hardware KVM. */
#include "rt/rt.h"

int guest_main(void)
{
	static const struct __attribute__((packed)) {
		uint16_t limit;
		uint64_t base;
	} empty_idt = {0, 0};
	const char *via = rt_param("via=");

	rt_puts("triple-faulting now\n");
	__asm__ volatile("lidt %0" ::"m"(empty_idt));
	if (via && via[0] == 'u')
		__asm__ volatile("ud2");
	else if (via && via[0] == 'i')
		__asm__ volatile("int3");
	else
		__asm__ volatile("xorl %%eax, %%eax; xorl %%edx, %%edx; divl %%eax" ::: "eax", "edx", "memory");
	/* Not reachable if the CPU behaves; the IDT is gone, so no exception
	 * report either: say it plainly. */
	rt_fail("triple_fault", "execution continued after the fault");
}
