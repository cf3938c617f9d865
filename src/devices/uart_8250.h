/* uart_8250.h — an 8250/16550A UART (the PC "COM" serial port).
 *
 * One instance models one port (COM1 = 0x3f8/IRQ 4, COM2 = 0x2f8/IRQ 3,
 * COM3 = 0x3e8/IRQ 4, COM4 = 0x2e8/IRQ 3). Eight consecutive PIO ports.
 *
 * Guest-facing behaviour (16550A datasheet):
 *  - TX: every THR write goes to the char_sink at once; the transmitter is
 *    always idle, so LSR.THRE and LSR.TEMT read 1. Nothing is buffered, so a
 *    guest flood costs only sink calls (the sink drops and counts).
 *  - RX: a bounded FIFO of UART_FIFO_SIZE bytes (1 byte when the FIFO is
 *    disabled, like a 16450). The host pushes with uart_receive(); bytes that
 *    do not fit are not taken (back-pressure, never an overrun). Overrun
 *    (LSR.OE) happens only in loopback mode, where the guest feeds itself.
 *  - Interrupts, highest priority first: line status (OE), received data
 *    (or character timeout when the FIFO holds fewer bytes than the trigger
 *    level: we report it at once instead of after four character times),
 *    THR empty, modem status. THRE is asserted when IER.ETBEI is turned on
 *    while THR is empty and after every THR write (the byte leaves at once);
 *    it is cleared by reading IIR while IIR reports it, or by writing THR.
 *  - The IRQ output is not gated by MCR.OUT2 (as in QEMU and Firecracker;
 *    Linux sets OUT2 anyway). The level is driven through irq_line_set and
 *    only on changes, except that a THR write which clears and re-asserts
 *    THRE produces a low→high edge, as the real chip does (edge-triggered
 *    PIC/IOAPIC inputs need it to see the next THRE interrupt).
 *  - Accesses wider than one byte are split into byte accesses at
 *    consecutive offsets, as the chipset does for an 8-bit ISA device.
 *
 * Threads: the io ops run on vCPU threads, uart_receive()/uart_rx_has_room()
 * on the event thread; all state is behind the per-port mutex. The irq_line
 * is driven with that mutex held (set_level must not call back into the
 * UART); the char_sink and the rx-room notifier are called without it.
 */
#ifndef BH_DEVICES_UART_8250_H
#define BH_DEVICES_UART_8250_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/state_buf.h"
#include "bus/io_bus.h"
#include "common/compiler.h"
#include "core/char_sink.h"
#include "core/irq.h"

#define UART_COM1_BASE 0x3f8
#define UART_COM1_IRQ 4
#define UART_COM2_BASE 0x2f8
#define UART_COM2_IRQ 3
#define UART_COM3_BASE 0x3e8
#define UART_COM3_IRQ 4
#define UART_COM4_BASE 0x2e8
#define UART_COM4_IRQ 3
#define UART_NR_PORTS 8
#define UART_FIFO_SIZE 16

/* Called (event-notification only) when the RX FIFO regains room after the
 * host could not push; must not block and must not call into the UART
 * (write an eventfd). Runs on a vCPU thread, UART mutex not held. */
typedef void (*uart_rx_room_fn)(void *opaque);

struct uart {
	pthread_mutex_t lock;
	uint16_t base;
	const struct irq_line *irq;
	const struct char_sink *sink;
	uart_rx_room_fn rx_room;
	void *rx_room_opaque;

	/* registers (lsr holds only the sticky OE bit; DR/THRE/TEMT are
	 * computed at read time) */
	uint8_t ier, lcr, mcr, lsr, msr, scr, fcr;
	uint8_t dll, dlm;
	bool thr_ipending;   /* THRE interrupt latched (see header comment) */
	bool rx_starved;     /* host was refused input since the last drain */
	int irq_level;       /* last level driven on the irq_line */

	/* RX FIFO (ring); capacity depends on FCR.FIFO_EN, never grows */
	uint8_t rx[UART_FIFO_SIZE];
	unsigned rx_head, rx_count;

	/* statistics */
	uint64_t tx_bytes;
	uint64_t rx_overruns;
};

/* Initialise a port in its reset state. `irq` and `sink` are borrowed and
 * must outlive the UART; either may be NULL (no interrupt / output dropped).
 * `base` is the first of the 8 PIO ports. 0 or -errno (mutex init).
 * Setup thread. */
int uart_init(struct uart *u, uint16_t base, const struct irq_line *irq,
	      const struct char_sink *sink) BH_WUR;

/* Install the optional rx-room notifier (see uart_rx_room_fn). Setup
 * thread, before the vCPUs start. */
void uart_set_rx_notify(struct uart *u, uart_rx_room_fn fn, void *opaque);

/* Register the 8 ports [base, base+8) on the PIO bus. 0 / -errno from
 * io_bus_register. Setup thread, before io_bus_seal(). */
int uart_register(struct uart *u, struct io_bus *pio) BH_WUR;

/* Push host input (console stdin). Returns how many leading bytes of `buf`
 * were accepted (0 when the FIFO is full or the port is in loopback mode,
 * whose receiver is disconnected from the line); the caller keeps the rest
 * and retries once uart_rx_has_room() is true again. Raises the IRQ if the
 * guest enabled the RX interrupt. Event thread (any thread is safe). */
size_t uart_receive(struct uart *u, const uint8_t *buf, size_t len);

/* True if uart_receive() would accept at least one byte now. Any thread. */
bool uart_rx_has_room(struct uart *u);

/* Release the mutex. The port must be unreachable (vCPUs stopped). */
void uart_destroy(struct uart *u);

/* Device state for the device model's save/load (snapshots). save: the
 * guest-visible state, version 1 (lock taken; the vCPUs are parked). load:
 * validates the blob like guest input — every field in range and consistent
 * with the others (e.g. the interrupt level the registers imply) — and
 * applies it only if all of it is valid; -EINVAL/-ENOTSUP with the reason in
 * err otherwise, state untouched. */
#define UART_STATE_VERSION 1
void uart_save(struct uart *u, struct sbuf *out);
int uart_load(struct uart *u, struct sreader *in, uint32_t version, char *err,
	     size_t errlen) BH_WUR;

#endif
