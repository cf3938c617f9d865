/* exit_codes.c — see exit_codes.h. */
#include "config/exit_codes.h"

#include "common/compiler.h"

static const struct bh_exit_code codes[] = {
	{ BH_EXIT_OK, "poweroff", "guest powered off or rebooted" },
	{ BH_EXIT_HOST, "host-failure", "host failure" },
	{ BH_EXIT_CONFIG, "config-error", "bad arguments or images" },
	{ BH_EXIT_CRASH, "guest-crash", "guest crashed (register dump on stderr)" },
	{ BH_EXIT_SIGNAL, "signal", "stopped by a signal" },
	{ BH_EXIT_TEST_FAIL, "test-failure", "guest reported failure through the test device" },
};

const struct bh_exit_code *bh_exit_codes(size_t *n)
{
	*n = BH_ARRAY_SIZE(codes);
	return codes;
}

const char *bh_exit_name(int code)
{
	if (code < 0 || (size_t)code >= BH_ARRAY_SIZE(codes))
		return NULL;
	return codes[code].name;
}
