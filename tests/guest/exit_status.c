/* exit_status.c — exits through the test device with the status given as
 * `status=N` on the command line (default 0), to test that the host maps it to
 * its own exit code and message. */
#include "rt/rt.h"

int guest_main(void)
{
	uint32_t st = (uint32_t)rt_param_u64("status=", 0);
	rt_printf("exit_status: exiting with status %u\n", st);
	rt_exit(st);
}
