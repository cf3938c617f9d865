/* args.c — see args.h. */
#include "args.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static int parse_u64(const char *s, uint64_t *out, const char **end)
{
	uint64_t v = 0;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	while (isdigit((unsigned char)*p)) {
		if (bh_mul_overflow_u64(v, 10, &v) || bh_add_overflow_u64(v, (uint64_t)(*p - '0'), &v))
			return -ERANGE;
		p++;
	}
	*out = v;
	*end = p;
	return 0;
}

int args_parse_size(const char *opt, const char *s, uint64_t default_unit, uint64_t *out,
		    char *err, size_t errlen)
{
	static const struct {
		const char *suffix;
		uint64_t mult;
	} units[] = {
		{ "B", 1 },          { "K", BH_KiB },     { "KiB", BH_KiB }, { "KB", BH_KiB },
		{ "M", BH_MiB },     { "MiB", BH_MiB },   { "MB", BH_MiB },  { "G", BH_GiB },
		{ "GiB", BH_GiB },   { "GB", BH_GiB },    { "T", BH_GiB * 1024 },
		{ "TiB", BH_GiB * 1024 },
	};
	const char *end;
	uint64_t v, mult = default_unit;
	int ret;

	if (!s || !*s) {
		snprintf(err, errlen, "%s: empty size", opt);
		return -EINVAL;
	}
	ret = parse_u64(s, &v, &end);
	if (ret == -ERANGE) {
		snprintf(err, errlen, "%s %s: number too large", opt, s);
		return ret;
	}
	if (ret) {
		snprintf(err, errlen, "%s %s: not a size (expected e.g. 256M or 2G)", opt, s);
		return ret;
	}
	if (*end) {
		size_t i;

		for (i = 0; i < BH_ARRAY_SIZE(units); i++)
			if (strcasecmp(end, units[i].suffix) == 0)
				break;
		if (i == BH_ARRAY_SIZE(units)) {
			snprintf(err, errlen, "%s %s: unknown unit '%s' (use K, M, G or T)", opt, s,
				 end);
			return -EINVAL;
		}
		mult = units[i].mult;
	}
	if (bh_mul_overflow_u64(v, mult, out)) {
		snprintf(err, errlen, "%s %s: size overflows 64 bits", opt, s);
		return -ERANGE;
	}
	return 0;
}

int args_parse_uint(const char *opt, const char *s, unsigned min, unsigned max, unsigned *out,
		    char *err, size_t errlen)
{
	const char *end = NULL;
	uint64_t v = 0;
	int ret = s ? parse_u64(s, &v, &end) : -EINVAL;

	if (ret == -EINVAL || (ret == 0 && *end)) {
		snprintf(err, errlen, "%s %s: not a whole number", opt, s ? s : "(missing)");
		return -EINVAL;
	}
	if (ret == -ERANGE || v < min || v > max) {
		snprintf(err, errlen, "%s %s: must be between %u and %u", opt, s, min, max);
		return -ERANGE;
	}
	*out = (unsigned)v;
	return 0;
}
