/* route_match.c — see api.h. Pure; fuzzed by tests/fuzz/fuzz_api.c. */
#include "api/api.h"

#include <string.h>

/* Match `url` against a route path; copies the {id} segment, and a {name}
 * segment after it as "/NAME" appended to id. */
bool api_path_match(const char *pattern, const char *url, char *id, size_t idlen)
{
	size_t used = 0;

	while (*pattern && *url) {
		bool is_id = !strncmp(pattern, "{id}", 4), is_name = !strncmp(pattern, "{name}", 6);

		if (is_id || is_name) {
			size_t n = strcspn(url, "/"), at = is_name ? used + 1 : 0;

			if (n == 0 || (is_name && used == 0) || at + n >= idlen)
				return false;
			for (size_t i = 0; i < n; i++) {
				char ch = url[i];

				if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
				      (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.'))
					return false;
			}
			if (is_name)
				id[used] = '/';
			memcpy(id + at, url, n);
			id[at + n] = '\0';
			used = at + n;
			pattern += is_id ? 4 : 6;
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
