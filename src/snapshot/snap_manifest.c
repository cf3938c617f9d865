/* snap_manifest.c — see snap_manifest.h. */
#include "snapshot/snap_manifest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "snapshot/snap_format.h"

#define HASH_CHUNK (1u << 20)

size_t snap_manifest_format(const struct snap_manifest *m, char *buf, size_t len)
{
	char a[BH_SHA256_HEX], b[BH_SHA256_HEX];
	int n;

	bh_sha256_hex(m->state_sha, a);
	bh_sha256_hex(m->mem_sha, b);
	n = snprintf(buf, len, "bulkhead-snapshot %u\nstate %llu %s\nmemory %llu %s\n", SNAP_MAJOR,
		     (unsigned long long)m->state_size, a, (unsigned long long)m->mem_size, b);
	return n > 0 && (size_t)n < len ? (size_t)n : 0;
}

/* "NAME SIZE HEX\n" at *p; advances *p. */
static int parse_line(const char **p, const char *end, const char *name, uint64_t *size,
		      uint8_t sha[BH_SHA256_LEN], char *err, size_t errlen)
{
	size_t nl = strlen(name);
	const char *q = *p;
	uint64_t v = 0;
	int digits = 0;

	if ((size_t)(end - q) < nl + 1 || memcmp(q, name, nl) || q[nl] != ' ') {
		snprintf(err, errlen, "manifest: the '%s' line is missing", name);
		return -EINVAL;
	}
	q += nl + 1;
	while (q < end && *q >= '0' && *q <= '9' && digits < 20) {
		if (v > (UINT64_MAX - 9) / 10)
			break;
		v = v * 10 + (uint64_t)(*q++ - '0');
		digits++;
	}
	if (!digits || q >= end || *q != ' ' || (digits > 1 && (*p)[nl + 1] == '0')) {
		snprintf(err, errlen, "manifest: the size on the '%s' line is not a number", name);
		return -EINVAL;
	}
	q++;
	if (end - q < 2 * BH_SHA256_LEN + 1 || q[2 * BH_SHA256_LEN] != '\n') {
		snprintf(err, errlen, "manifest: the '%s' line has no SHA-256", name);
		return -EINVAL;
	}
	for (unsigned i = 0; i < 2 * BH_SHA256_LEN; i++) {
		char c = q[i];
		unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
			     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10) : 16;

		if (d > 15) {
			snprintf(err, errlen, "manifest: the '%s' SHA-256 is not lower-case hex",
				 name);
			return -EINVAL;
		}
		if (i % 2 == 0)
			sha[i / 2] = (uint8_t)(d << 4);
		else
			sha[i / 2] |= (uint8_t)d;
	}
	*size = v;
	*p = q + 2 * BH_SHA256_LEN + 1;
	return 0;
}

int snap_manifest_parse(const char *buf, size_t len, struct snap_manifest *m, char *err,
			size_t errlen)
{
	static const char head[] = "bulkhead-snapshot ";
	const char *p = buf, *end = buf + len;
	unsigned major = 0;
	int ret;

	memset(m, 0, sizeof(m[0]));
	if (len > SNAP_MANIFEST_MAX || len < sizeof(head) ||
	    memcmp(buf, head, sizeof(head) - 1)) {
		snprintf(err, errlen, "manifest: not a bulkhead snapshot manifest");
		return -EINVAL;
	}
	p += sizeof(head) - 1;
	while (p < end && *p >= '0' && *p <= '9' && major < 100000)
		major = major * 10 + (unsigned)(*p++ - '0');
	if (p >= end || *p != '\n') {
		snprintf(err, errlen, "manifest: no format version");
		return -EINVAL;
	}
	p++;
	if (major != SNAP_MAJOR) {
		snprintf(err, errlen, "manifest: snapshot format %u; this bulkhead reads format %u",
			 major, SNAP_MAJOR);
		return -ENOTSUP;
	}
	if ((ret = parse_line(&p, end, "state", &m->state_size, m->state_sha, err, errlen)) ||
	    (ret = parse_line(&p, end, "memory", &m->mem_size, m->mem_sha, err, errlen)))
		return ret;
	if (p != end) {
		snprintf(err, errlen, "manifest: text after the memory line");
		return -EINVAL;
	}
	return 0;
}

int snap_hash_fd(int fd, uint64_t size, uint8_t out[BH_SHA256_LEN])
{
	static const uint8_t zeros[65536];
	struct bh_sha256 h;
	uint8_t *buf = malloc(HASH_CHUNK);
	uint64_t off = 0;
	struct stat st;
	int ret;

	if (fstat(fd, &st) < 0) {
		free(buf);
		return -errno;
	}
	if ((uint64_t)st.st_size < size) {
		free(buf);
		return -EIO; /* shorter than the manifest says */
	}
	if (!buf)
		return -ENOMEM;
	if ((ret = bh_sha256_init(&h))) {
		free(buf);
		return ret;
	}
	while (off < size && !ret) {
		off_t data = lseek(fd, (off_t)off, SEEK_DATA), hole;
		uint64_t end;

		/* Holes: zeros, hashed without reading. ENXIO: no data after. */
		if (data < 0 && errno != ENXIO && errno != EINVAL) {
			ret = -errno;
			break;
		}
		if (data < 0 && errno == EINVAL)
			data = (off_t)off; /* no SEEK_DATA here: read it all */
		end = data < 0 || (uint64_t)data > size ? size : (uint64_t)data;
		while (off < end && !ret) {
			size_t n = end - off < sizeof(zeros) ? (size_t)(end - off) : sizeof(zeros);

			ret = bh_sha256_update(&h, zeros, n);
			off += n;
		}
		if (off >= size || ret)
			break;
		hole = lseek(fd, (off_t)off, SEEK_HOLE);
		end = hole < 0 || (uint64_t)hole > size ? size : (uint64_t)hole;
		if (end <= off)
			end = size;
		while (off < end && !ret) {
			size_t want = end - off < HASH_CHUNK ? (size_t)(end - off) : HASH_CHUNK;
			ssize_t n = pread(fd, buf, want, (off_t)off);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				ret = n < 0 ? -errno : -EIO;
				break;
			}
			ret = bh_sha256_update(&h, buf, (size_t)n);
			off += (uint64_t)n;
		}
	}
	free(buf);
	if (ret) {
		bh_sha256_abort(&h);
		return ret;
	}
	return bh_sha256_final(&h, out);
}
