/* state_buf.h — serialising device state (save) and reading it back
 * bounds-checked (load), for the device model's save/load ops and snapshots.
 *
 * Encoding: little-endian fixed-width integers and raw byte runs, in the
 * order a device writes them; no self-description (the device model wraps
 * each device's blob in a section with its name, instance, version and
 * length, see vmm/devices.h). A saved blob is hostile input on load: the
 * reader never reads past its end, remembers the first short read (`bad`),
 * and sr_finish() requires that the blob was consumed exactly.
 * Plain data, no threads. */
#ifndef BH_CORE_STATE_BUF_H
#define BH_CORE_STATE_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"

/* Largest blob one device may save or load. */
#define SBUF_MAX (1u << 20)

struct sbuf {
	uint8_t *data;
	size_t len, cap;
	int err; /* first error (-ENOMEM, -E2BIG), sticky; 0 */
};

void sbuf_init(struct sbuf *b);
void sbuf_free(struct sbuf *b);
void sbuf_put(struct sbuf *b, const void *p, size_t n);
void sbuf_u8(struct sbuf *b, uint8_t v);
void sbuf_u16(struct sbuf *b, uint16_t v);
void sbuf_u32(struct sbuf *b, uint32_t v);
void sbuf_u64(struct sbuf *b, uint64_t v);

struct sreader {
	const uint8_t *p;
	size_t len, off;
	bool bad; /* a read went past the end */
};

void sr_init(struct sreader *r, const void *p, size_t len);
/* Copy n bytes out (zeros and r->bad on a short read). */
void sr_get(struct sreader *r, void *out, size_t n);
uint8_t sr_u8(struct sreader *r);
uint16_t sr_u16(struct sreader *r);
uint32_t sr_u32(struct sreader *r);
uint64_t sr_u64(struct sreader *r);
/* A byte that must be 0 or 1. Anything else sets r->bad. */
bool sr_bool(struct sreader *r);
/* 0 if every read was in bounds and the blob is consumed exactly, else
 * -EINVAL (truncated or trailing bytes). */
int sr_finish(const struct sreader *r) BH_WUR;

#endif
