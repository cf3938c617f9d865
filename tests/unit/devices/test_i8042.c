/* test_i8042.c — unit tests for the i8042 keyboard controller and port 0x61,
 * driven through a real sealed io_bus. */
#include "dev_fakes.h"

#include <errno.h>
#include <stdlib.h>

#include "core/exit_ctl.h"
#include "devices/i8042.h"

#define DATA I8042_DATA_PORT
#define CMD I8042_CMD_PORT
#define PORTB I8042_PORTB_PORT

struct fx {
	struct io_bus pio;
	struct i8042 k;
	struct exit_ctl ec;
	struct fake_irq kbd, aux;
	struct irq_line kbd_line, aux_line;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	io_bus_init(&f->pio, IO_BUS_PIO);
	assert_int_equal(exit_ctl_init(&f->ec), 0);
	fake_irq_init(&f->kbd, &f->kbd_line, I8042_KBD_IRQ);
	fake_irq_init(&f->aux, &f->aux_line, I8042_AUX_IRQ);
	assert_int_equal(i8042_init(&f->k, &f->ec, &f->kbd_line, &f->aux_line), 0);
	assert_int_equal(i8042_register(&f->k, &f->pio), 0);
	io_bus_seal(&f->pio);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	i8042_destroy(&f->k);
	exit_ctl_destroy(&f->ec);
	free(f);
	return 0;
}

/* Issue a controller command and return its one-byte reply. */
static uint8_t cmd_reply(struct fx *f, uint8_t cmd)
{
	outb(&f->pio, CMD, cmd);
	assert_int_equal(inb(&f->pio, CMD) & 0x01, 0x01); /* OBF */
	return inb(&f->pio, DATA);
}

static void test_status_and_probe(void **state)
{
	struct fx *f = *state;
	uint8_t st = inb(&f->pio, CMD);

	assert_int_not_equal(st, 0xff);     /* Linux: "no controller" */
	assert_int_equal(st & 0x03, 0x00);  /* OBF and IBF clear */
	assert_int_equal(st & 0x10, 0x10);  /* not inhibited */
	assert_int_equal(cmd_reply(f, 0xaa), 0x55); /* self-test */
	assert_int_equal(inb(&f->pio, CMD) & 0x09, 0x08); /* buffer empty, last was cmd */
	assert_int_equal(cmd_reply(f, 0xab), 0x00); /* kbd interface test */
	assert_int_equal(cmd_reply(f, 0xa9), 0x00); /* aux interface test */
	assert_int_equal(inb(&f->pio, CMD) & 0x04, 0x04); /* system flag */
	/* a read of the empty buffer repeats the last byte, never blocks */
	assert_int_equal(inb(&f->pio, DATA), 0x00);
	assert_false(exit_ctl_requested(&f->ec));
}

static void test_command_byte(void **state)
{
	struct fx *f = *state;

	assert_int_equal(cmd_reply(f, 0x20), 0x47);
	outb(&f->pio, CMD, 0x60);
	outb(&f->pio, DATA, 0x65);
	assert_int_equal(inb(&f->pio, CMD) & 0x08, 0x00); /* last write was data */
	assert_int_equal(cmd_reply(f, 0x20), 0x65);
	outb(&f->pio, CMD, 0xad);
	assert_int_equal(cmd_reply(f, 0x20), 0x75);
	outb(&f->pio, CMD, 0xae);
	outb(&f->pio, CMD, 0xa7);
	assert_int_equal(cmd_reply(f, 0x20), 0x65);
	outb(&f->pio, CMD, 0xa8);
	assert_int_equal(cmd_reply(f, 0x20), 0x45);
	/* internal RAM beyond the command byte, index masked to 32 bytes */
	outb(&f->pio, CMD, 0x7f);
	outb(&f->pio, DATA, 0x99);
	assert_int_equal(cmd_reply(f, 0x3f), 0x99);
	assert_int_equal(cmd_reply(f, 0x20), 0x45);
}

static void test_output_port_and_reset(void **state)
{
	struct fx *f = *state;

	assert_int_equal(cmd_reply(f, 0xd0), 0x03);
	outb(&f->pio, CMD, 0xd1);
	outb(&f->pio, DATA, 0x03); /* reset line high: nothing happens */
	assert_false(exit_ctl_requested(&f->ec));
	assert_int_equal(cmd_reply(f, 0xd0), 0x03);
	outb(&f->pio, CMD, 0xff); /* pulse no line */
	assert_false(exit_ctl_requested(&f->ec));

	outb(&f->pio, CMD, 0xfe); /* Linux reboot=k */
	assert_true(exit_ctl_requested(&f->ec));
	assert_int_equal(f->ec.reason, VM_EXIT_RESET);
	assert_int_equal(f->ec.status, 0);
	assert_string_equal(f->ec.detail, "guest reset via i8042");
	assert_int_equal(f->k.resets, 1);
}

static void test_reset_via_output_port(void **state)
{
	struct fx *f = *state;

	outb(&f->pio, CMD, 0xd1);
	outb(&f->pio, DATA, 0x02); /* bit 0 clear: CPU reset */
	assert_int_equal(f->ec.reason, VM_EXIT_RESET);
	assert_int_equal(f->k.resets, 1);
}

static void test_keyboard_and_irqs(void **state)
{
	struct fx *f = *state;

	outb(&f->pio, DATA, 0xff); /* keyboard reset */
	assert_int_equal(f->kbd.level, 1);
	assert_int_equal(f->kbd.gsi, I8042_KBD_IRQ);
	assert_int_equal(inb(&f->pio, DATA), 0xfa);
	assert_int_equal(f->kbd.level, 1); /* next byte is there... */
	assert_int_equal(f->kbd.rising, 2); /* ...with its own edge */
	assert_int_equal(inb(&f->pio, DATA), 0xaa);
	assert_int_equal(f->kbd.level, 0);
	assert_int_equal(inb(&f->pio, CMD) & 0x01, 0);

	outb(&f->pio, DATA, 0xf2); /* get ID */
	assert_int_equal(inb(&f->pio, DATA), 0xfa);
	assert_int_equal(inb(&f->pio, DATA), 0xab);
	assert_int_equal(inb(&f->pio, DATA), 0x83);
	outb(&f->pio, DATA, 0xed); /* LEDs + parameter */
	assert_int_equal(inb(&f->pio, DATA), 0xfa);
	outb(&f->pio, DATA, 0x07);
	assert_int_equal(inb(&f->pio, DATA), 0xfa);
	assert_int_equal(inb(&f->pio, CMD) & 0x01, 0);

	/* AUX loop (Linux's i8042_check_aux): AUX data flag + IRQ 12 */
	outb(&f->pio, CMD, 0xd3);
	outb(&f->pio, DATA, 0x5a);
	assert_int_equal(inb(&f->pio, CMD) & 0x21, 0x21);
	assert_int_equal(f->aux.level, 1);
	assert_int_equal(f->kbd.level, 0);
	assert_int_equal(inb(&f->pio, DATA), 0x5a);
	assert_int_equal(f->aux.level, 0);
	/* no mouse: a write to the AUX device times out at once */
	outb(&f->pio, CMD, 0xd4);
	outb(&f->pio, DATA, 0xf2);
	assert_int_equal(inb(&f->pio, CMD) & 0x61, 0x61);
	assert_int_equal(inb(&f->pio, DATA), 0xfe);

	/* interrupts disabled in the command byte: no line activity */
	outb(&f->pio, CMD, 0x60);
	outb(&f->pio, DATA, 0x44);
	{
		unsigned calls = f->kbd.calls;

		outb(&f->pio, DATA, 0xf4);
		assert_int_equal(inb(&f->pio, CMD) & 0x01, 0x01);
		assert_int_equal(f->kbd.calls, calls);
		assert_int_equal(inb(&f->pio, DATA), 0xfa);
	}
	assert_int_equal(f->kbd.redundant, 0);
	assert_int_equal(f->aux.redundant, 0);
}

static void test_queue_bounded(void **state)
{
	struct fx *f = *state;
	unsigned n = 0;

	for (int i = 0; i < 1000; i++)
		outb(&f->pio, DATA, 0xf2); /* 3 reply bytes each */
	while (inb(&f->pio, CMD) & 0x01) {
		(void)inb(&f->pio, DATA);
		n++;
		assert_true(n <= I8042_QUEUE_SIZE);
	}
	assert_int_equal(n, I8042_QUEUE_SIZE);
	assert_int_equal(f->kbd.level, 0);
}

static void test_port_b(void **state)
{
	struct fx *f = *state;
	uint8_t a, b;
	int spins = 0;

	a = inb(&f->pio, PORTB);
	b = inb(&f->pio, PORTB);
	assert_int_equal((a ^ b) & 0x10, 0x10); /* refresh toggles */
	assert_int_equal((a | b) & 0x20, 0x00); /* gate off: OUT2 low */

	/* pit_calibrate_tsc: gate on, speaker off, wait for OUT2 */
	outb(&f->pio, PORTB, (uint8_t)((inb(&f->pio, PORTB) & ~0x02) | 0x01));
	while ((inb(&f->pio, PORTB) & 0x20) == 0)
		assert_true(++spins < 4);
	assert_int_equal(inb(&f->pio, PORTB) & 0x0f, 0x01);
	outb(&f->pio, PORTB, 0xff); /* only bits 0-3 are writable */
	assert_int_equal(inb(&f->pio, PORTB) & 0xcf, 0x0f);
	assert_false(exit_ctl_requested(&f->ec));
}

/* Hostile case 1: wide accesses to one-byte ports are not claimed; unknown
 * commands are ignored. */
static void test_hostile(void **state)
{
	struct fx *f = *state;
	bool c;
	static const uint16_t ports[] = { DATA, PORTB, CMD };

	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(pio_in(&f->pio, ports[i], 2, &c), 0xffff);
		assert_false(c);
		assert_int_equal(pio_in(&f->pio, ports[i], 4, &c), 0xffffffffu);
		assert_false(c);
		assert_false(pio_out(&f->pio, ports[i], 0xfefefefe, 4));
		assert_false(pio_out(&f->pio, ports[i], 0xfefe, 2));
	}
	assert_false(exit_ctl_requested(&f->ec));
	for (unsigned v = 0; v < 0xf0; v++) {
		if (v == 0xd1)
			continue;
		outb(&f->pio, CMD, (uint8_t)v);
		outb(&f->pio, DATA, 0x00);
		for (unsigned n = 0; inb(&f->pio, CMD) & 0x01; n++) {
			assert_true(n <= I8042_QUEUE_SIZE); /* the queue is bounded */
			(void)inb(&f->pio, DATA);
		}
	}
	assert_false(exit_ctl_requested(&f->ec));
	assert_int_equal(cmd_reply(f, 0xaa), 0x55);
}

/* The daemon's graceful stop: Ctrl-Alt-Del pressed and released, in the
 * scancode set the command byte asks for, with IRQ 1; all or nothing. */
static void test_ctrl_alt_del(void **state)
{
	static const uint8_t set1[] = { 0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d };
	static const uint8_t set2[] = { 0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71,
					0xf0, 0x11, 0xf0, 0x14 };
	struct fx *f = *state;
	unsigned rising;

	/* translation on (XLATE) + keyboard interrupt enabled: set 1 */
	outb(&f->pio, CMD, 0x60);
	outb(&f->pio, DATA, 0x41);
	rising = f->kbd.rising;
	assert_int_equal(i8042_ctrl_alt_del(&f->k), 0);
	assert_true(f->kbd.rising > rising);
	for (size_t i = 0; i < sizeof(set1); i++) {
		assert_int_equal(inb(&f->pio, CMD) & 0x01, 0x01);
		assert_int_equal(inb(&f->pio, DATA), set1[i]);
	}
	assert_int_equal(inb(&f->pio, CMD) & 0x01, 0x00);
	/* translation off: set 2 */
	outb(&f->pio, CMD, 0x60);
	outb(&f->pio, DATA, 0x01);
	assert_int_equal(i8042_ctrl_alt_del(&f->k), 0);
	for (size_t i = 0; i < sizeof(set2); i++)
		assert_int_equal(inb(&f->pio, DATA), set2[i]);
	/* a queue without room for the whole sequence: nothing is queued */
	assert_int_equal(i8042_ctrl_alt_del(&f->k), 0);
	assert_int_equal(i8042_ctrl_alt_del(&f->k), -ENOSPC);
	for (size_t i = 0; i < sizeof(set2); i++)
		assert_int_equal(inb(&f->pio, DATA), set2[i]);
	assert_int_equal(inb(&f->pio, CMD) & 0x01, 0x00);
	assert_int_equal(f->k.resets, 0); /* a key press is not a reset */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_status_and_probe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_command_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_output_port_and_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_via_output_port, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keyboard_and_irqs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_port_b, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ctrl_alt_del, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
