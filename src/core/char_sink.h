/* char_sink.h — where a character device's output goes (console backend or a
 * test recorder). write() must not block the caller for long: the console
 * backend drops and counts bytes it cannot take. Any thread. */
#ifndef BH_CHAR_SINK_H
#define BH_CHAR_SINK_H

#include <stddef.h>
#include <stdint.h>

struct char_sink {
	void (*write)(void *opaque, const uint8_t *buf, size_t len);
	void *opaque;
};

static inline void char_sink_write(const struct char_sink *s, const uint8_t *buf, size_t len)
{
	if (s && s->write)
		s->write(s->opaque, buf, len);
}

#endif
