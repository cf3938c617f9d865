/* console.h — virtio-console (virtio 1.x §5.3), one port, no MULTIPORT.
 *
 * receiveq (queue 0): host input is written into device-writable buffers the
 * guest posts; transmitq (queue 1): guest output goes to a char_sink (the
 * console backend, which caps and counts what it writes). Config space:
 * cols = rows = 0, max_nr_ports = 1 (8 bytes, read-only).
 *
 * Bounded work: one transmit notify handles at most 64 chains / 256 KiB and
 * defers the rest (virtio_dev_defer()); bytes past 64 KiB in one chain are
 * dropped and counted. Input goes only where the guest posted buffers; when
 * there are none, virtio_console_input() returns short and the rx-room
 * notifier fires once the guest posts more (same shape as uart_receive() and
 * its rx-room notifier).
 *
 * Threads: ops run as virtio_dev.h says; virtio_console_input() and
 * virtio_console_rx_has_room() on the input thread (any thread is safe: they
 * take the device lock).
 */
#ifndef BH_VIRTIO_CONSOLE_H
#define BH_VIRTIO_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"
#include "core/char_sink.h"
#include "core/event_loop.h"
#include "virtio/virtio_dev.h"

#define VIRTIO_CONSOLE_QUEUE_MAX 256
#define VIRTIO_CONSOLE_CFG_LEN 8
#define VIRTIO_CONSOLE_TX_CHAIN_MAX (64u * 1024u)  /* bytes taken per tx chain */
#define VIRTIO_CONSOLE_TX_BUDGET_CHAINS 64u        /* per notify */
#define VIRTIO_CONSOLE_TX_BUDGET_BYTES (256u * 1024u)
/* Snapshot state (its ops): activated u8, input refused since the guest last
 * posted buffers u8, the configuration space (8 bytes: must be this build's;
 * one port, no MULTIPORT, so there is no control queue or port state). */
#define VIRTIO_CONSOLE_STATE_VERSION 1

/* Called when the guest posts receive buffers after an input call found
 * none (or before the driver was ready). Runs with the device lock held, on
 * the event or a vCPU thread: must only signal (write an eventfd), never call
 * into the device. */
typedef void (*virtio_console_rx_room_fn)(void *opaque);

struct virtio_console;

/* Create "virtio-console". `mem`, `sink` and `el` are borrowed and must
 * outlive the device; sink may be NULL (output dropped); el may be NULL (no
 * deferred work: tests). 0 or -errno. Setup thread. Free with
 * vdev.ops->destroy(). */
int virtio_console_create(struct virtio_console **out, const struct guest_mem *mem,
			  const struct char_sink *sink, struct event_loop *el) BH_WUR;

struct virtio_dev *virtio_console_dev(struct virtio_console *vc);

/* Install the rx-room notifier. Setup thread, before the VM runs. */
void virtio_console_set_rx_notify(struct virtio_console *vc, virtio_console_rx_room_fn fn,
				  void *opaque);

/* Deliver host input. Returns how many leading bytes of buf the guest's
 * posted receive buffers took (0 when the driver is not ready or posted
 * none); the caller keeps the rest and retries after the rx-room notifier
 * fires. Interrupts the guest as its ring asks. */
size_t virtio_console_input(struct virtio_console *vc, const uint8_t *buf, size_t len);

/* True if the guest has posted at least one receive buffer. */
bool virtio_console_rx_has_room(struct virtio_console *vc);

struct virtio_console_stats {
	uint64_t tx_bytes, tx_dropped, rx_bytes;
};
void virtio_console_get_stats(struct virtio_console *vc, struct virtio_console_stats *st);

#endif
