/* fuzz_virtio.h — what the virtio device targets (fuzz_blk, fuzz_vsock)
 * share: a transport whose interrupts go nowhere, a clean start of the low
 * guest RAM their driver scripts use, and the scripts' "write" op.
 * Header-only: each target is an executable of its own. */
#ifndef BH_FUZZ_VIRTIO_H
#define BH_FUZZ_VIRTIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/guest_mem.h"
#include "virtio/virtio_dev.h"

#define FUZZ_LOW_RAM 0x10000u /* rings, headers and buffers of the scripts */

static void fuzz_noop_irq(void *t, unsigned q)
{
	(void)t;
	(void)q;
}

static void fuzz_noop_cfg_irq(void *t)
{
	(void)t;
}

/* The device's transport: interrupts are dropped (the script polls). */
static const struct virtio_transport_ops fuzz_tops = { fuzz_noop_irq, fuzz_noop_cfg_irq };

/* Zero the first FUZZ_LOW_RAM bytes of gm: each input starts from the same
 * RAM. Traps if gm is smaller. */
static inline void fuzz_clear_low_ram(struct guest_mem *gm)
{
	static const uint8_t zero[FUZZ_LOW_RAM];

	if (gmem_write(gm, 0, zero, sizeof(zero)))
		__builtin_trap();
}

/* The scripts' "write" op at data[*i..size): le16 gpa, u8 len, then len
 * bytes the driver writes into RAM at gpa (anything: rings, headers,
 * buffers). Advances *i past it; false when the input ends first (the
 * script is over). Traps if the write fails: RAM must cover
 * FUZZ_LOW_RAM + 255 bytes. */
static inline bool fuzz_op_write(struct guest_mem *gm, const uint8_t *data, size_t size,
				 size_t *i)
{
	uint16_t gpa;
	uint8_t len;

	if (size - *i < 3)
		return false;
	memcpy(&gpa, data + *i, 2);
	len = data[*i + 2];
	*i += 3;
	if (size - *i < len)
		return false;
	if (gmem_write(gm, gpa, data + *i, len))
		__builtin_trap();
	*i += len;
	return true;
}

#endif
