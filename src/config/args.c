/* args.c — see args.h. */
#include "args.h"

#include <ctype.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
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

int args_check_disk_id(const char *name, const char *id, char *err, size_t errlen)
{
	for (const char *c = id; *c; c++)
		if (*c < 0x21 || *c > 0x7e || *c == ',' || *c == '=') {
			snprintf(err, errlen,
				 "%s: printable ASCII without spaces, ',' or '=' only", name);
			return -EINVAL;
		}
	return 0;
}

int args_check_ifname(const char *name, const char *ifname, char *err, size_t errlen)
{
	size_t n = strlen(ifname);

	if (n == 0 || n > VM_NET_IFNAME_MAX || !strcmp(ifname, ".") || !strcmp(ifname, "..")) {
		snprintf(err, errlen, "%s: an interface name of 1-%d characters", name,
			 VM_NET_IFNAME_MAX);
		return -EINVAL;
	}
	for (const char *c = ifname; *c; c++)
		if (*c < 0x21 || *c > 0x7e || *c == '/' || *c == ':' || *c == ',' || *c == '=') {
			snprintf(err, errlen, "%s %.16s: not a valid interface name", name, ifname);
			return -EINVAL;
		}
	return 0;
}

int args_check_fd_name(const char *name, const char *s, char *err, size_t errlen)
{
	if (bh_fd_name_valid(s))
		return 0;
	snprintf(err, errlen,
		 "%s %.40s: a descriptor name is a letter, then up to %d letters, digits, '_', "
		 "'-' or '.'", name, s, BH_FD_NAME_MAX - 1);
	return -EINVAL;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int args_parse_mac(const char *name, const char *s, uint8_t mac[6], char *err, size_t errlen)
{
	bool zero = true;

	if (strlen(s) != VM_NET_MAC_TEXT)
		goto bad;
	for (int i = 0; i < 6; i++) {
		int hi = hexval(s[3 * i]), lo = hexval(s[3 * i + 1]);

		if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
			goto bad;
		mac[i] = (uint8_t)(hi << 4 | lo);
		zero = zero && !mac[i];
	}
	if (mac[0] & 1) {
		snprintf(err, errlen, "%s %s: a multicast/broadcast address cannot be a NIC's", name,
			 s);
		return -EINVAL;
	}
	if (zero) {
		snprintf(err, errlen, "%s %s: the all-zero address cannot be a NIC's", name, s);
		return -EINVAL;
	}
	return 0;
bad:
	snprintf(err, errlen, "%s %.40s: expected a MAC address xx:xx:xx:xx:xx:xx", name, s);
	return -EINVAL;
}

int args_check_segment(const char *name, const char *s, char *err, size_t errlen)
{
	size_t n = strlen(s);

	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
			n = 0;
	if (n == 0 || n > 31) {
		snprintf(err, errlen, "%s '%.40s': a segment name is 1-31 characters of [A-Za-z0-9_.-]",
			 name, s);
		return -EINVAL;
	}
	return 0;
}

int args_check_ip(const char *name, const char *s, char *err, size_t errlen)
{
	unsigned char a[16];

	if (inet_pton(AF_INET, s, a) == 1) {
		if (a[0] == 0 || a[0] >= 224 || a[0] == 127) {
			snprintf(err, errlen, "%s %s: not a unicast host address", name, s);
			return -EINVAL;
		}
		return 0;
	}
	if (inet_pton(AF_INET6, s, a) == 1) {
		static const unsigned char zero[16], one[16] = { [15] = 1 };
		if (a[0] == 0xff || !memcmp(a, zero, 16) || !memcmp(a, one, 16)) {
			snprintf(err, errlen, "%s %s: not a unicast host address", name, s);
			return -EINVAL;
		}
		return 0;
	}
	snprintf(err, errlen, "%s '%.50s': not an IPv4 or IPv6 address", name, s);
	return -EINVAL;
}

int args_check_mac(const char *name, const char *s, char *err, size_t errlen)
{
	uint8_t mac[6];

	return args_parse_mac(name, s, mac, err, errlen);
}

int args_parse_disk(const char *opt, const char *s, struct virtio_blk_disk *d, char *path_buf,
		    size_t path_len, char *err, size_t errlen)
{
	bool have_ro = false, have_id = false;
	const char *p = s;

	memset(d, 0, sizeof(*d));
	if (!s || !*s) {
		snprintf(err, errlen, "%s: empty; expected path=IMAGE[,ro=on][,id=NAME]", opt);
		return -EINVAL;
	}
	while (*p) {
		const char *eq = strchr(p, '='), *end = strchr(p, ',');
		size_t klen, vlen;
		const char *v;

		if (!end)
			end = p + strlen(p);
		if (!eq || eq > end) {
			snprintf(err, errlen, "%s %s: '%.*s' is not key=value", opt, s, (int)(end - p),
				 p);
			return -EINVAL;
		}
		klen = (size_t)(eq - p);
		v = eq + 1;
		vlen = (size_t)(end - v);
		if (klen == 4 && !strncmp(p, "path", 4)) {
			if (d->path || !vlen) {
				snprintf(err, errlen, "%s %s: path given twice or empty", opt, s);
				return -EINVAL;
			}
			if (*end) {
				/* The path is the rest only if no other key follows; paths with
				 * ',' are not supported (say so rather than guess). */
				const char *next = end + 1;

				if (strncmp(next, "ro=", 3) && strncmp(next, "id=", 3) &&
				    strncmp(next, "path=", 5)) {
					snprintf(err, errlen,
						 "%s %s: unknown key after the path (image paths may "
						 "not contain ',')", opt, s);
					return -EINVAL;
				}
			}
			if (vlen >= path_len) {
				snprintf(err, errlen, "%s: image path too long", opt);
				return -ENAMETOOLONG;
			}
			memcpy(path_buf, v, vlen);
			path_buf[vlen] = '\0';
			d->path = path_buf;
		} else if (klen == 2 && !strncmp(p, "ro", 2)) {
			if (have_ro) {
				snprintf(err, errlen, "%s %s: ro given twice", opt, s);
				return -EINVAL;
			}
			have_ro = true;
			if (vlen == 2 && !strncmp(v, "on", 2))
				d->read_only = true;
			else if (vlen == 3 && !strncmp(v, "off", 3))
				d->read_only = false;
			else {
				snprintf(err, errlen, "%s %s: ro must be on or off", opt, s);
				return -EINVAL;
			}
		} else if (klen == 2 && !strncmp(p, "id", 2)) {
			if (have_id || !vlen || vlen > VIRTIO_BLK_ID_MAX) {
				snprintf(err, errlen, "%s %s: id must be 1 to %d characters, given once",
					 opt, s, VIRTIO_BLK_ID_MAX);
				return -EINVAL;
			}
			have_id = true;
			memcpy(d->id, v, vlen);
			d->id[vlen] = '\0';
			{
				char name[64];

				snprintf(name, sizeof(name), "%s %.40s: id", opt, s);
				if (args_check_disk_id(name, d->id, err, errlen))
					return -EINVAL;
			}
		} else {
			snprintf(err, errlen, "%s %s: unknown key '%.*s' (expected path, ro, id)", opt,
				 s, (int)klen, p);
			return -EINVAL;
		}
		p = *end ? end + 1 : end;
		if (*end && !*p) {
			snprintf(err, errlen, "%s %s: trailing ','", opt, s);
			return -EINVAL;
		}
	}
	if (!d->path) {
		snprintf(err, errlen, "%s %s: missing path=IMAGE", opt, s);
		return -EINVAL;
	}
	return 0;
}

int args_parse_named_fd(const char *opt, const char *s, char name[BH_FD_NAME_MAX + 1], int *fd,
			char *err, size_t errlen)
{
	const char *eq = s ? strchr(s, '=') : NULL;
	char num[160];
	unsigned v;

	if (!eq) {
		snprintf(err, errlen, "%s %.100s: expected NAME=N (e.g. net0=5)", opt,
			 s ? s : "(missing)");
		return -EINVAL;
	}
	if (!bh_fd_name_valid_n(s, (size_t)(eq - s))) {
		snprintf(err, errlen,
			 "%s %.100s: the name must be 1-%d letters, digits, '_', '-' or '.', "
			 "starting with a letter", opt, s, BH_FD_NAME_MAX);
		return -EINVAL;
	}
	/* 0-2 are stdio; the upper bound is the kernel's fs.nr_open ceiling. */
	if (args_parse_uint(opt, eq + 1, 3, 1u << 20, &v, num, sizeof(num))) {
		snprintf(err, errlen,
			 "%s %.100s: N must be a descriptor number from 3 to %u (0-2 are stdio)",
			 opt, s, 1u << 20);
		return -EINVAL;
	}
	memcpy(name, s, (size_t)(eq - s));
	name[eq - s] = '\0';
	*fd = (int)v;
	return 0;
}

/* One "P" or "A-B" of an allow-list: *end is past it. */
static int vsock_range(const char *p, const char **end, uint64_t *lo, uint64_t *hi)
{
	uint64_t v[2] = { 0, 0 };
	int k = 0;

	for (;;) {
		int digits = 0;

		while (*p >= '0' && *p <= '9' && digits < 11) {
			v[k] = v[k] * 10 + (uint64_t)(*p++ - '0');
			digits++;
		}
		if (!digits || digits > 10 || v[k] > 0xffffffffu)
			return -EINVAL;
		if (*p == '-' && k == 0) {
			p++;
			k = 1;
			continue;
		}
		break;
	}
	*lo = v[0];
	*hi = k ? v[1] : v[0];
	*end = p;
	return *lo <= *hi ? 0 : -EINVAL;
}

int args_check_vsock_ports(const char *name, const char *s, char *err, size_t errlen)
{
	const char *p = s;

	if (!strcmp(s, "none"))
		return 0;
	if (strlen(s) > VM_VSOCK_ALLOW_MAX)
		goto bad;
	for (;;) {
		uint64_t lo, hi;

		if (vsock_range(p, &p, &lo, &hi))
			goto bad;
		if (!*p)
			return 0;
		if (*p++ != ':')
			goto bad;
	}
bad:
	snprintf(err, errlen, "%s %.80s: expected ports or ranges separated by ':' (e.g. "
		 "1024:5000-5009, each 0-4294967295, at most %d characters) or none", name, s,
		 VM_VSOCK_ALLOW_MAX);
	return -EINVAL;
}

bool args_vsock_port_allowed(const char *allow, uint32_t port)
{
	const char *p = allow;

	if (!allow || !strcmp(allow, "none"))
		return false;
	for (;;) {
		uint64_t lo, hi;

		if (vsock_range(p, &p, &lo, &hi))
			return false;
		if (port >= lo && port <= hi)
			return true;
		if (*p++ != ':')
			return false;
	}
}

int args_parse_vsock(const char *opt, const char *s, struct vm_vsock_config *v, char *path_buf,
		     size_t path_len, char *allow_buf, size_t allow_len, char *err, size_t errlen)
{
	bool have_cid = false;
	const char *p = s;

	memset(v, 0, sizeof(*v));
	while (p && *p) {
		const char *eq = strchr(p, '='), *end = strchr(p, ',');
		size_t klen, vlen;
		char val[32];
		const char *val_p;
		int ret;

		if (!end)
			end = p + strlen(p);
		if (!eq || eq > end) {
			snprintf(err, errlen, "%s %.200s: '%.*s' is not key=value", opt, s,
				 (int)(end - p), p);
			return -EINVAL;
		}
		klen = (size_t)(eq - p);
		val_p = eq + 1;
		vlen = (size_t)(end - val_p);
		if (klen == 3 && !strncmp(p, "cid", 3) && !have_cid) {
			if (vlen >= sizeof(val)) {
				snprintf(err, errlen, "%s cid: not a CID", opt);
				return -EINVAL;
			}
			memcpy(val, val_p, vlen);
			val[vlen] = '\0';
			if ((ret = args_parse_uint("--vsock cid", val, 3, 0xfffffffeu, &v->cid, err,
						   errlen)))
				return ret;
			have_cid = true;
		} else if (klen == 6 && !strncmp(p, "socket", 6) && !v->socket) {
			if (!vlen || vlen >= path_len) {
				snprintf(err, errlen, "%s socket: empty or too long", opt);
				return -EINVAL;
			}
			memcpy(path_buf, val_p, vlen);
			path_buf[vlen] = '\0';
			v->socket = path_buf;
		} else if (klen == 5 && !strncmp(p, "allow", 5) && !v->allow) {
			if (vlen >= allow_len) {
				snprintf(err, errlen, "%s allow: longer than %zu characters", opt,
					 allow_len - 1);
				return -EINVAL;
			}
			memcpy(allow_buf, val_p, vlen);
			allow_buf[vlen] = '\0';
			if ((ret = args_check_vsock_ports("--vsock allow", allow_buf, err, errlen)))
				return ret;
			v->allow = allow_buf;
		} else {
			snprintf(err, errlen, "%s %.200s: unknown or repeated key '%.*s' (expected "
				 "cid=N,socket=PATH[,allow=PORTS]; paths may not contain ',')", opt, s,
				 (int)klen, p);
			return -EINVAL;
		}
		p = *end ? end + 1 : end;
	}
	if (!have_cid || !v->socket) {
		snprintf(err, errlen, "%s %.200s: needs cid=N and socket=PATH", opt, s);
		return -EINVAL;
	}
	return 0;
}
