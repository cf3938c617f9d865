/* snap_format.c — see snap_format.h. */
#include "snapshot/snap_format.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#ifndef BULKHEAD_VERSION
#define BULKHEAD_VERSION "unknown"
#endif

static int bad(char *err, size_t errlen, int ret, const char *fmt, ...) BH_PRINTF(4, 5);
static int bad(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return ret;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

unsigned snap_layout(uint64_t mem, struct snap_region out[2])
{
	memset(out, 0, 2 * sizeof(out[0]));
	out[0].gpa = 0;
	out[0].size = mem < SNAP_HOLE_START ? mem : SNAP_HOLE_START;
	if (mem <= SNAP_HOLE_START)
		return 1;
	out[1].gpa = SNAP_HOLE_END;
	out[1].size = mem - SNAP_HOLE_START;
	return 2;
}

void snap_header_encode(uint8_t out[SNAP_HEADER_LEN], uint32_t ncpus, uint32_t cpu_template,
			uint64_t mem_bytes, uint32_t nsections)
{
	struct snap_region r[2];
	unsigned n = snap_layout(mem_bytes, r);

	memset(out, 0, SNAP_HEADER_LEN);
	memcpy(out, SNAP_MAGIC, 8);
	put16(out + 8, SNAP_MAJOR);
	put16(out + 10, SNAP_MINOR);
	put32(out + 12, SNAP_HEADER_LEN);
	strncpy((char *)out + 16, BULKHEAD_VERSION, 31);
	put32(out + 48, ncpus);
	put32(out + 52, cpu_template);
	put64(out + 56, mem_bytes);
	put32(out + 64, n);
	put32(out + 68, nsections);
	for (unsigned i = 0; i < 2; i++) {
		put64(out + 72 + 16 * i, r[i].gpa);
		put64(out + 80 + 16 * i, r[i].size);
	}
}

void snap_section_encode(uint8_t out[SNAP_SECTION_HDR], uint32_t type, uint32_t id,
			 uint32_t version, uint64_t len)
{
	put32(out, type);
	put32(out + 4, id);
	put32(out + 8, version);
	put32(out + 12, 0);
	put64(out + 16, len);
}

static int parse_header(const uint8_t *b, size_t len, struct snap_header *h, char *err,
			size_t errlen)
{
	struct snap_region want[2];
	unsigned nwant;

	if (len < SNAP_HEADER_LEN || memcmp(b, SNAP_MAGIC, 8))
		return bad(err, errlen, -EINVAL, "not a bulkhead snapshot state file (%s)",
			   len < SNAP_HEADER_LEN ? "shorter than its header" : "no magic");
	memset(h, 0, sizeof(*h));
	h->major = get16(b + 8);
	h->minor = get16(b + 10);
	if (h->major != SNAP_MAJOR)
		return bad(err, errlen, -ENOTSUP, "snapshot format %u.%u: this bulkhead reads "
			   "format %u only", h->major, h->minor, SNAP_MAJOR);
	if (get32(b + 12) != SNAP_HEADER_LEN)
		return bad(err, errlen, -EINVAL, "header length %u, not %u", get32(b + 12),
			   SNAP_HEADER_LEN);
	memcpy(h->version, b + 16, 32);
	h->version[32] = '\0';
	for (size_t i = 0; i < 32 && h->version[i]; i++)
		if (h->version[i] < 0x20 || h->version[i] > 0x7e)
			return bad(err, errlen, -EINVAL, "the writer's version string is not text");
	h->ncpus = get32(b + 48);
	h->cpu_template = get32(b + 52);
	h->mem_bytes = get64(b + 56);
	h->nregions = get32(b + 64);
	h->nsections = get32(b + 68);
	for (unsigned i = 0; i < 2; i++) {
		h->regions[i].gpa = get64(b + 72 + 16 * i);
		h->regions[i].size = get64(b + 80 + 16 * i);
	}
	for (unsigned i = 104; i < SNAP_HEADER_LEN; i++)
		if (b[i])
			return bad(err, errlen, -EINVAL, "reserved header bytes are not zero");
	if (h->ncpus == 0 || h->ncpus > SNAP_MAX_VCPUS)
		return bad(err, errlen, -EINVAL, "%u vCPUs (1-%u)", h->ncpus, SNAP_MAX_VCPUS);
	if (h->cpu_template > 1)
		return bad(err, errlen, -EINVAL, "CPU template %u unknown", h->cpu_template);
	if (h->mem_bytes < SNAP_MIN_MEM || h->mem_bytes > SNAP_MAX_MEM || h->mem_bytes % 4096)
		return bad(err, errlen, -EINVAL, "guest memory of %llu bytes: not whole pages "
			   "between 8 MiB and 1 TiB", (unsigned long long)h->mem_bytes);
	nwant = snap_layout(h->mem_bytes, want);
	if (h->nregions != nwant || memcmp(h->regions, want, sizeof(want)))
		return bad(err, errlen, -EINVAL, "memory layout (%u regions) is not the layout of "
			   "%llu MiB of RAM", h->nregions,
			   (unsigned long long)(h->mem_bytes >> 20));
	if (h->nsections > 4 + h->ncpus + 64)
		return bad(err, errlen, -EINVAL, "%u sections for %u vCPUs", h->nsections,
			   h->ncpus);
	return 0;
}

static int take_once(struct snap_blob *b, const uint8_t *p, uint64_t len, uint32_t version,
		     const char *name, char *err, size_t errlen)
{
	if (b->p)
		return bad(err, errlen, -EINVAL, "the %s section appears twice", name);
	b->p = p;
	b->len = (size_t)len;
	b->version = version;
	return 0;
}

int snap_parse(const void *buf, size_t len, struct snap_state *s, char *err, size_t errlen)
{
	const uint8_t *b = buf;
	size_t off = SNAP_HEADER_LEN;
	int ret;

	memset(s, 0, sizeof(*s));
	if (len > SNAP_STATE_MAX)
		return bad(err, errlen, -EINVAL, "state file of %zu bytes: larger than %u MiB", len,
			   SNAP_STATE_MAX >> 20);
	if ((ret = parse_header(b, len, &s->h, err, errlen)))
		return ret;
	for (uint32_t i = 0; i < s->h.nsections; i++) {
		uint32_t type, id, version, flags;
		uint64_t slen;
		const uint8_t *p;

		if (len - off < SNAP_SECTION_HDR)
			return bad(err, errlen, -EINVAL, "truncated: section %u of %u is missing", i,
				   s->h.nsections);
		type = get32(b + off);
		id = get32(b + off + 4);
		version = get32(b + off + 8);
		flags = get32(b + off + 12);
		slen = get64(b + off + 16);
		off += SNAP_SECTION_HDR;
		if (flags)
			return bad(err, errlen, -EINVAL, "section %u: flags 0x%x", i, flags);
		if (slen > len - off)
			return bad(err, errlen, -EINVAL, "truncated: section %u (type %u) claims %llu "
				   "bytes, %zu remain", i, type, (unsigned long long)slen, len - off);
		p = b + off;
		off += (size_t)slen;
		if (type != SNAP_SEC_VCPU && id != 0)
			return bad(err, errlen, -EINVAL, "section %u (type %u): id %u", i, type, id);
		switch (type) {
		case SNAP_SEC_CONFIG:
			if (slen == 0 || slen > SNAP_CONFIG_MAX)
				return bad(err, errlen, -EINVAL, "configuration of %llu bytes",
					   (unsigned long long)slen);
			ret = take_once(&s->config, p, slen, version, "configuration", err, errlen);
			break;
		case SNAP_SEC_CPUID:
			ret = take_once(&s->cpuid, p, slen, version, "CPUID", err, errlen);
			break;
		case SNAP_SEC_VM:
			ret = take_once(&s->vm, p, slen, version, "VM", err, errlen);
			break;
		case SNAP_SEC_DEVICES:
			ret = take_once(&s->devices, p, slen, version, "devices", err, errlen);
			break;
		case SNAP_SEC_VCPU:
			if (id >= s->h.ncpus)
				return bad(err, errlen, -EINVAL, "a section for vCPU %u of %u", id,
					   s->h.ncpus);
			ret = take_once(&s->vcpu[id], p, slen, version, "vCPU", err, errlen);
			break;
		default:
			if (type >= SNAP_SEC_OPTIONAL)
				continue; /* a newer minor's addition */
			return bad(err, errlen, -ENOTSUP, "section %u: type %u is unknown to this "
				   "bulkhead (written by %s)", i, type, s->h.version);
		}
		if (ret)
			return ret;
	}
	if (off != len)
		return bad(err, errlen, -EINVAL, "%zu bytes after the last section", len - off);
	if (!s->config.p || !s->cpuid.p || !s->vm.p || !s->devices.p)
		return bad(err, errlen, -EINVAL, "the %s section is missing",
			   !s->config.p ? "configuration" : !s->cpuid.p ? "CPUID"
							  : !s->vm.p  ? "VM" : "devices");
	for (uint32_t i = 0; i < s->h.ncpus; i++)
		if (!s->vcpu[i].p)
			return bad(err, errlen, -EINVAL, "the section of vCPU %u is missing", i);
	if (memchr(s->config.p, '\0', s->config.len))
		return bad(err, errlen, -EINVAL, "the configuration contains a NUL byte");
	return 0;
}
