/* i8042.h — the PC keyboard controller (ports 0x60 data, 0x64 status/command)
 * plus system control port B (0x61).
 *
 * Scope: enough for Linux's i8042/atkbd drivers to probe quickly and for the
 * guest to reboot. Controller commands: read/write internal RAM and the
 * command byte (0x20-0x3f / 0x60-0x7f), AUX disable/enable/test (0xa7/0xa8/
 * 0xa9), self-test (0xaa -> 0x55), keyboard test (0xab -> 0x00), keyboard
 * disable/enable (0xad/0xae), input port (0xc0), output port read/write
 * (0xd0/0xd1), write keyboard/AUX output buffer (0xd2/0xd3), write to AUX
 * device (0xd4: no mouse is attached, it answers 0xfe with the timeout bit),
 * test inputs (0xe0), pulse output lines (0xf0-0xff).
 * A keyboard is attached: it ACKs commands (reset -> 0xfa 0xaa, get ID ->
 * 0xfa 0xab 0x83, echo -> 0xee) but never sends scancodes.
 *
 * CPU reset: pulsing output line 0 (command 0xfe, or any even 0xf0-0xfe) or
 * writing the output port with bit 0 clear (0xd1) requests VM_EXIT_RESET on
 * the exit_ctl. This is Linux's "reboot=k" path (and its fallback).
 *
 * Port 0x61 (port B): bits 0-3 (timer-2 gate, speaker data, parity/IOCHK
 * disable) read back as written; bit 4 (refresh) toggles on every read; bit 5
 * (timer-2 OUT) toggles on every read while the gate is set. There is no
 * PIT behind it, so a PIT calibration loop sees OUT2 rise almost at once,
 * fails its sanity check (too few iterations) and Linux falls back to
 * another clock — it never hangs and never calibrates to a wrong value.
 * (If the VM creates KVM's in-kernel PIT, KVM owns 0x61 and this port is
 * never reached.)
 *
 * The output buffer is a bounded queue (I8042_QUEUE_SIZE); excess bytes are
 * dropped. IRQ 1 (keyboard) / IRQ 12 (AUX) follow "output buffer full" gated
 * by the command byte's interrupt-enable bits, with a low→high edge for each
 * new byte, as on the real controller.
 *
 * Threads: io ops on vCPU threads; all state behind the device mutex. IRQ
 * lines are driven with it held; the exit_ctl is called without it.
 */
#ifndef BH_DEVICES_I8042_H
#define BH_DEVICES_I8042_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/state_buf.h"
#include "bus/io_bus.h"
#include "common/compiler.h"
#include "core/exit_ctl.h"
#include "core/irq.h"

#define I8042_DATA_PORT 0x60
#define I8042_PORTB_PORT 0x61
#define I8042_CMD_PORT 0x64
#define I8042_KBD_IRQ 1
#define I8042_AUX_IRQ 12
#define I8042_QUEUE_SIZE 16

struct i8042 {
	pthread_mutex_t lock;
	struct exit_ctl *ec;
	const struct irq_line *kbd_irq;
	const struct irq_line *aux_irq;

	uint8_t ram[32];      /* internal RAM; ram[0] is the command byte */
	uint8_t outport;      /* output port (bit 0: reset line, bit 1: A20) */
	uint8_t pending_cmd;  /* controller command waiting for its data byte */
	uint8_t kbd_param;    /* keyboard command waiting for its parameter */
	uint8_t last_data;    /* what a read of an empty buffer returns */
	bool last_was_cmd;    /* status bit 3: last write went to 0x64 */

	struct {
		uint8_t data;
		uint8_t flags;
	} q[I8042_QUEUE_SIZE];
	unsigned q_head, q_count;
	int kbd_level, aux_level;

	/* port 0x61 */
	uint8_t portb;
	bool refresh, out2;

	uint64_t resets; /* reset requests seen (statistics, tests) */
};

/* Initialise in the post-BIOS state. `ec` receives reset requests (may be
 * NULL: then a reset is only logged). `kbd_irq`/`aux_irq` (GSI 1 and 12 on
 * a PC) may be NULL; borrowed, must outlive the device. 0 or -errno.
 * Setup thread. */
int i8042_init(struct i8042 *k, struct exit_ctl *ec, const struct irq_line *kbd_irq,
	       const struct irq_line *aux_irq) BH_WUR;

/* Register ports 0x60, 0x61 and 0x64 (one byte each) on the PIO bus.
 * 0 / -errno from io_bus_register. Setup thread, before io_bus_seal(). */
int i8042_register(struct i8042 *k, struct io_bus *pio) BH_WUR;

/* Queue the scancodes of Ctrl-Alt-Del pressed and released (set 1 when the
 * command byte asks for translation, else set 2) and raise IRQ 1: the
 * graceful-stop request (there is no ACPI power button). All or nothing:
 * -ENOSPC if the output queue lacks room. Any thread (takes the lock). */
int i8042_ctrl_alt_del(struct i8042 *k) BH_WUR;

/* Release the mutex. The device must be unreachable (vCPUs stopped). */
void i8042_destroy(struct i8042 *k);

/* Device state for the device model's save/load (snapshots). save: the
 * guest-visible state, version 1 (lock taken; the vCPUs are parked). load:
 * validates the blob like guest input — every field in range and consistent
 * with the others (e.g. the interrupt level the registers imply) — and
 * applies it only if all of it is valid; -EINVAL/-ENOTSUP with the reason in
 * err otherwise, state untouched. */
#define I8042_STATE_VERSION 1
void i8042_save(struct i8042 *k, struct sbuf *out);
int i8042_load(struct i8042 *k, struct sreader *in, uint32_t version, char *err,
	     size_t errlen) BH_WUR;

#endif
