/* state_buf.c — see state_buf.h. */
#include "core/state_buf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void sbuf_init(struct sbuf *b)
{
	memset(b, 0, sizeof(*b));
}

void sbuf_free(struct sbuf *b)
{
	free(b->data);
	sbuf_init(b);
}

void sbuf_put(struct sbuf *b, const void *p, size_t n)
{
	if (b->err)
		return;
	if (n > SBUF_MAX - b->len) {
		b->err = -E2BIG;
		return;
	}
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		uint8_t *d;

		while (cap < b->len + n)
			cap *= 2;
		d = realloc(b->data, cap);
		if (!d) {
			b->err = -ENOMEM;
			return;
		}
		b->data = d;
		b->cap = cap;
	}
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
}

void sbuf_u8(struct sbuf *b, uint8_t v)
{
	sbuf_put(b, &v, 1);
}

void sbuf_u16(struct sbuf *b, uint16_t v)
{
	uint8_t le[2] = { (uint8_t)v, (uint8_t)(v >> 8) };

	sbuf_put(b, le, sizeof(le));
}

void sbuf_u32(struct sbuf *b, uint32_t v)
{
	uint8_t le[4];

	for (unsigned i = 0; i < 4; i++)
		le[i] = (uint8_t)(v >> (8 * i));
	sbuf_put(b, le, sizeof(le));
}

void sbuf_u64(struct sbuf *b, uint64_t v)
{
	uint8_t le[8];

	for (unsigned i = 0; i < 8; i++)
		le[i] = (uint8_t)(v >> (8 * i));
	sbuf_put(b, le, sizeof(le));
}

void sr_init(struct sreader *r, const void *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->off = 0;
	r->bad = false;
}

void sr_get(struct sreader *r, void *out, size_t n)
{
	if (r->bad || n > r->len - r->off) {
		r->bad = true;
		memset(out, 0, n);
		return;
	}
	memcpy(out, r->p + r->off, n);
	r->off += n;
}

uint8_t sr_u8(struct sreader *r)
{
	uint8_t v;

	sr_get(r, &v, 1);
	return v;
}

uint16_t sr_u16(struct sreader *r)
{
	uint8_t le[2];

	sr_get(r, le, sizeof(le));
	return (uint16_t)(le[0] | le[1] << 8);
}

uint32_t sr_u32(struct sreader *r)
{
	uint8_t le[4];
	uint32_t v = 0;

	sr_get(r, le, sizeof(le));
	for (unsigned i = 0; i < 4; i++)
		v |= (uint32_t)le[i] << (8 * i);
	return v;
}

uint64_t sr_u64(struct sreader *r)
{
	uint8_t le[8];
	uint64_t v = 0;

	sr_get(r, le, sizeof(le));
	for (unsigned i = 0; i < 8; i++)
		v |= (uint64_t)le[i] << (8 * i);
	return v;
}

bool sr_bool(struct sreader *r)
{
	uint8_t v = sr_u8(r);

	if (v > 1)
		r->bad = true;
	return v == 1;
}

int sr_finish(const struct sreader *r)
{
	return !r->bad && r->off == r->len ? 0 : -EINVAL;
}
