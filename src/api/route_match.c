/* route_match.c — see api.h. Pure; fuzzed by tests/fuzz/fuzz_api.c. */
#include "api/api.h"

#include <string.h>

/* Match `url` against a route path; copies the {id} segment. */
bool api_path_match(const char *pattern, const char *url, char *id, size_t idlen)
{
	while (*pattern && *url) {
		if (!strncmp(pattern, "{id}", 4)) {
			size_t n = strcspn(url, "/");

			if (n == 0 || n >= idlen)
				return false;
			for (size_t i = 0; i < n; i++) {
				char ch = url[i];

				if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
				      (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.'))
					return false;
			}
			memcpy(id, url, n);
			id[n] = '\0';
			pattern += 4;
			url += n;
			continue;
		}
		if (*pattern != *url)
			return false;
		pattern++;
		url++;
	}
	return !*pattern && !*url;
}
