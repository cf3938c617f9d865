/* hello.c — the smallest test guest: prints a greeting, the command line, which
 * entry it came through and whether the test device answers; exits 0. Proves
 * loading, entry, COM1 output, cmdline passing and exit through 0xf4. */
#include "rt/rt.h"

int guest_main(void)
{
	rt_puts("hello from bulkhead test guest\n");
	rt_printf("cmdline: %s\n", rt_cmdline());
	rt_printf("entry: %s, test device: %s\n", rt_boot_kind == RT_BOOT_PVH ? "pvh" : "linux64",
		  rt_test_device_present() ? "present" : "absent");
	rt_puts("PASS hello\n");
	return 0;
}
