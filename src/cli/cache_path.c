/* cache_path.c — the user's bulkhead cache (cli.h: cli_cache_path), one
 * definition for `run --guest`, the kernel cache and `exec`. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"

int cli_cache_path(char *buf, size_t len, const char *sub)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	int n;

	if (xdg && *xdg)
		n = snprintf(buf, len, "%s/bulkhead/%s", xdg, sub);
	else if (home && *home)
		n = snprintf(buf, len, "%s/.cache/bulkhead/%s", home, sub);
	else
		return -ENOENT;
	return n > 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
}
