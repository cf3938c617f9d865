/* io_bus.c — see io_bus.h. */
#include "io_bus.h"

#include <errno.h>
#include <string.h>

#include "common/log.h"

void io_bus_init(struct io_bus *bus, enum io_bus_kind kind)
{
	memset(bus, 0, sizeof(*bus));
	bus->kind = kind;
}

int io_bus_register(struct io_bus *bus, uint64_t base, uint64_t len,
		    const struct io_dev_ops *ops, void *opaque, const char *name)
{
	uint64_t end;
	unsigned pos;

	if (bus->sealed || len == 0 || !ops || bh_add_overflow_u64(base, len, &end))
		return -EINVAL;
	if (bus->n == IO_BUS_MAX_RANGES)
		return -ENOSPC;
	for (pos = 0; pos < bus->n; pos++) {
		const struct io_range *r = &bus->ranges[pos];

		if (base < r->base + r->len && r->base < end)
			return -EEXIST;
		if (r->base > base)
			break;
	}
	memmove(&bus->ranges[pos + 1], &bus->ranges[pos],
		(bus->n - pos) * sizeof(bus->ranges[0]));
	bus->ranges[pos] = (struct io_range){ base, len, ops, opaque, name };
	bus->n++;
	return 0;
}

void io_bus_seal(struct io_bus *bus)
{
	bus->sealed = true;
}

const struct io_range *io_bus_find(const struct io_bus *bus, uint64_t addr)
{
	unsigned lo = 0, hi = bus->n;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		const struct io_range *r = &bus->ranges[mid];

		if (addr < r->base)
			hi = mid;
		else if (addr - r->base >= r->len)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

bool io_bus_access(struct io_bus *bus, uint64_t addr, void *data, uint32_t len, bool is_write)
{
	const struct io_range *r = NULL;
	const char *kind = bus->kind == IO_BUS_PIO ? "PIO" : "MMIO";

	if (len >= 1 && len <= 8 && bus->sealed)
		r = io_bus_find(bus, addr);
	/* The whole access must fit in the one range (no straddling). */
	if (r && len <= r->len && addr - r->base <= r->len - len) {
		if (is_write) {
			if (r->ops->write)
				r->ops->write(r->opaque, addr - r->base, data, len);
		} else if (r->ops->read) {
			r->ops->read(r->opaque, addr - r->base, data, len);
		} else {
			memset(data, bus->kind == IO_BUS_PIO ? 0xff : 0, len);
		}
		return true;
	}

	atomic_fetch_add(&bus->unclaimed, 1);
	if (!is_write && len <= 8)
		memset(data, bus->kind == IO_BUS_PIO ? 0xff : 0, len);
	/* Debug level: a normal Linux boot probes many absent ports (PCI config,
	 * COM2-4...). The count is reported when the VM stops. */
	if (bh_log_get_level() >= BH_LOG_DEBUG)
		bh_dbg_guest("unclaimed %s %s at 0x%llx size %u (%s)", kind,
		      is_write ? "write" : "read", (unsigned long long)addr, len,
		      is_write ? "dropped" : bus->kind == IO_BUS_PIO ? "reads all-ones" : "reads zero");
	return false;
}
