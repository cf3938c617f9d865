/* dev_fakes.h — test doubles shared by the device unit tests: an irq_line
 * recorder, a recording/counting char_sink, and PIO helpers that go through
 * a real, sealed io_bus exactly like a vCPU exit does. Header-only. */
#ifndef BH_TEST_DEV_FAKES_H
#define BH_TEST_DEV_FAKES_H

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bus/io_bus.h"
#include "core/char_sink.h"
#include "core/irq.h"

/* Records every set_level call on one line. */
struct fake_irq {
	pthread_mutex_t lock;
	uint32_t gsi;
	int level;
	unsigned calls;
	unsigned rising;  /* 0 -> 1 transitions */
	unsigned falling; /* 1 -> 0 transitions */
	unsigned redundant; /* set to the level it already had */
};

static inline void fake_irq_set_level(void *opaque, uint32_t gsi, int level)
{
	struct fake_irq *f = opaque;

	pthread_mutex_lock(&f->lock);
	f->gsi = gsi;
	f->calls++;
	if (level && !f->level)
		f->rising++;
	else if (!level && f->level)
		f->falling++;
	else
		f->redundant++;
	f->level = level;
	pthread_mutex_unlock(&f->lock);
}

static inline void fake_irq_init(struct fake_irq *f, struct irq_line *line, uint32_t gsi)
{
	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->lock, NULL);
	line->set_level = fake_irq_set_level;
	line->opaque = f;
	line->gsi = gsi;
}

/* Keeps the first FAKE_SINK_KEEP bytes and counts all of them. */
#define FAKE_SINK_KEEP 256
struct fake_sink {
	uint8_t buf[FAKE_SINK_KEEP];
	size_t kept;
	uint64_t total;
	uint64_t calls;
};

static inline void fake_sink_write(void *opaque, const uint8_t *buf, size_t len)
{
	struct fake_sink *s = opaque;

	s->calls++;
	s->total += len;
	for (size_t i = 0; i < len && s->kept < FAKE_SINK_KEEP; i++)
		s->buf[s->kept++] = buf[i];
}

static inline void fake_sink_init(struct fake_sink *s, struct char_sink *cs)
{
	memset(s, 0, sizeof(*s));
	cs->write = fake_sink_write;
	cs->opaque = s;
}

/* PIO helpers: `claimed` tells whether a device took the access. */
static inline uint32_t pio_in(struct io_bus *bus, uint16_t port, uint32_t len, bool *claimed)
{
	uint8_t b[8] = { 0 };
	uint32_t v;
	bool c = io_bus_access(bus, port, b, len, false);

	if (claimed)
		*claimed = c;
	v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
	return v;
}

static inline bool pio_out(struct io_bus *bus, uint16_t port, uint32_t v, uint32_t len)
{
	uint8_t b[8] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };

	return io_bus_access(bus, port, b, len, true);
}

/* One-byte accesses that a device must claim (asserted). */
static inline uint8_t inb(struct io_bus *bus, uint16_t port)
{
	bool c;
	uint8_t v = (uint8_t)pio_in(bus, port, 1, &c);

	assert_true(c);
	return v;
}

static inline void outb(struct io_bus *bus, uint16_t port, uint8_t v)
{
	assert_true(pio_out(bus, port, v, 1));
}

#endif
