/* io_bus.h — the PIO and MMIO buses a vCPU exit is dispatched to.
 *
 * A bus is a sorted, non-overlapping table of [base, base+len) ranges, each
 * owned by one device. Devices register during VM setup (single-threaded);
 * after io_bus_seal() the table is immutable and lookups from any number of
 * vCPU threads need no lock. Each device serialises its own state.
 *
 * Unclaimed accesses follow the documented hostile-guest rules:
 *   PIO read  -> all ones;  MMIO read -> zeros;  writes -> dropped;
 * each with a rate-limited warning. An access that straddles two ranges or
 * runs past the end of one is treated as unclaimed (no device ever sees an
 * access extending beyond its range).
 */
#ifndef BH_IO_BUS_H
#define BH_IO_BUS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/compiler.h"

/* Device callbacks. `offset` is relative to the registered base; `len` is
 * 1, 2, 4 or 8 and offset+len <= registered length. `data` is little-endian.
 * read must fill all `len` bytes. Called on a vCPU thread. */
struct io_dev_ops {
	void (*read)(void *opaque, uint64_t offset, void *data, uint32_t len);
	void (*write)(void *opaque, uint64_t offset, const void *data, uint32_t len);
};

struct io_range {
	uint64_t base;
	uint64_t len;
	const struct io_dev_ops *ops;
	void *opaque;
	const char *name;
};

enum io_bus_kind { IO_BUS_PIO, IO_BUS_MMIO };

#define IO_BUS_MAX_RANGES 64

struct io_bus {
	enum io_bus_kind kind;
	bool sealed;
	unsigned n;
	struct io_range ranges[IO_BUS_MAX_RANGES];
	_Atomic uint64_t unclaimed; /* count of unclaimed accesses (statistics) */
};

void io_bus_init(struct io_bus *bus, enum io_bus_kind kind);

/* Register a range. -EINVAL: len 0, wraps, or bus sealed; -EEXIST: overlaps an
 * existing range; -ENOSPC: table full. Setup thread only. */
int io_bus_register(struct io_bus *bus, uint64_t base, uint64_t len,
		    const struct io_dev_ops *ops, void *opaque, const char *name) BH_WUR;

/* Freeze the table; lookups are only allowed afterwards. */
void io_bus_seal(struct io_bus *bus);

/* Dispatch one access. `len` must be 1..8 (other sizes are treated as
 * unclaimed). Returns true if a device handled it, false if the unclaimed
 * rule was applied. Any thread, after seal. */
bool io_bus_access(struct io_bus *bus, uint64_t addr, void *data, uint32_t len, bool is_write);

/* Lookup for tests/diagnostics: the range containing addr, or NULL. */
const struct io_range *io_bus_find(const struct io_bus *bus, uint64_t addr);

#endif
