/* irq.h — an interrupt line a device can raise, independent of KVM so device
 * models are unit-testable: the VM wires set_level to KVM_IRQ_LINE, tests to a
 * recorder. set_level may be called from any thread. */
#ifndef BH_IRQ_H
#define BH_IRQ_H

#include <stdint.h>

struct irq_line {
	void (*set_level)(void *opaque, uint32_t gsi, int level);
	void *opaque;
	uint32_t gsi;
};

static inline void irq_line_set(const struct irq_line *l, int level)
{
	if (l && l->set_level)
		l->set_level(l->opaque, l->gsi, level);
}

#endif
