/* test_uart_8250.c — unit tests for the 8250/16550A UART, driven through a
 * real sealed io_bus exactly as vCPU PIO exits are. */
#include "dev_fakes.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>

#include "devices/uart_8250.h"

#define COM1 UART_COM1_BASE
#define RBR (COM1 + 0)
#define THR (COM1 + 0)
#define DLL (COM1 + 0)
#define IER (COM1 + 1)
#define DLM (COM1 + 1)
#define IIR (COM1 + 2)
#define FCR (COM1 + 2)
#define LCR (COM1 + 3)
#define MCR (COM1 + 4)
#define LSR (COM1 + 5)
#define MSR (COM1 + 6)
#define SCR (COM1 + 7)

struct fx {
	struct io_bus pio;
	struct uart u;
	struct fake_irq irq;
	struct irq_line line;
	struct fake_sink sink;
	struct char_sink cs;
	unsigned room_notes;
};

static void note_room(void *opaque)
{
	struct fx *f = opaque;

	f->room_notes++;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	io_bus_init(&f->pio, IO_BUS_PIO);
	fake_irq_init(&f->irq, &f->line, UART_COM1_IRQ);
	fake_sink_init(&f->sink, &f->cs);
	assert_int_equal(uart_init(&f->u, COM1, &f->line, &f->cs), 0);
	uart_set_rx_notify(&f->u, note_room, f);
	assert_int_equal(uart_register(&f->u, &f->pio), 0);
	io_bus_seal(&f->pio);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	uart_destroy(&f->u);
	free(f);
	return 0;
}

static void test_reset_state(void **state)
{
	struct fx *f = *state;

	assert_int_equal(inb(&f->pio, IIR), 0x01);
	assert_int_equal(inb(&f->pio, LSR), 0x60);
	assert_int_equal(inb(&f->pio, IER), 0x00);
	assert_int_equal(inb(&f->pio, LCR), 0x00);
	assert_int_equal(inb(&f->pio, MCR), 0x00);
	assert_int_equal(inb(&f->pio, MSR), 0xb0); /* DCD DSR CTS, no deltas */
	assert_int_equal(f->irq.calls, 0);
	/* ports just outside the 8-port window are not ours */
	assert_null(io_bus_find(&f->pio, COM1 - 1));
	assert_null(io_bus_find(&f->pio, COM1 + 8));
}

static void test_divisor_latch(void **state)
{
	struct fx *f = *state;

	outb(&f->pio, IER, 0x05);
	outb(&f->pio, LCR, 0x83); /* DLAB, 8N1 */
	assert_int_equal(inb(&f->pio, DLL), 0x0c); /* reset divisor 9600 */
	outb(&f->pio, DLL, 0x01);
	outb(&f->pio, DLM, 0x02);
	assert_int_equal(inb(&f->pio, DLL), 0x01);
	assert_int_equal(inb(&f->pio, DLM), 0x02);
	assert_int_equal(f->sink.total, 0); /* DLL write is not a THR write */
	outb(&f->pio, LCR, 0x03);
	assert_int_equal(inb(&f->pio, LCR), 0x03);
	assert_int_equal(inb(&f->pio, IER), 0x05); /* IER untouched by DLM */
	outb(&f->pio, LCR, 0x83);
	assert_int_equal(inb(&f->pio, DLM), 0x02);
	assert_int_equal(inb(&f->pio, DLL), 0x01);
}

static void test_thr_to_sink(void **state)
{
	struct fx *f = *state;
	const char *msg = "hello, bulkhead\n";

	for (const char *p = msg; *p; p++) {
		outb(&f->pio, THR, (uint8_t)*p);
		/* transmitter never busy */
		assert_int_equal(inb(&f->pio, LSR) & 0x60, 0x60);
	}
	assert_int_equal(f->sink.total, strlen(msg));
	assert_memory_equal(f->sink.buf, msg, strlen(msg));
	assert_int_equal(f->irq.calls, 0); /* IER = 0: line never touched */
}

/* serial8250_do_startup's THRE re-assertion test and the TX-enable test. */
static void test_thre_linux_startup(void **state)
{
	struct fx *f = *state;
	uint8_t iir1, iir, lsr;

	outb(&f->pio, MCR, 0x0b); /* DTR RTS OUT2, as Linux sets them */

	/* "quick test to see if we receive an interrupt when we enable TX" */
	outb(&f->pio, IER, 0x02);
	lsr = inb(&f->pio, LSR);
	assert_int_equal(f->irq.level, 1);
	iir = inb(&f->pio, IIR);
	outb(&f->pio, IER, 0x00);
	assert_true(lsr & 0x40);            /* TEMT */
	assert_int_equal(iir & 0x01, 0);    /* not UART_BUG_TXEN */
	assert_int_equal(iir & 0x0f, 0x02); /* THRE */
	assert_int_equal(f->irq.level, 0);

	/* THRE re-assertion test */
	outb(&f->pio, IER, 0x02);
	assert_int_equal(f->irq.level, 1);
	iir1 = inb(&f->pio, IIR);
	assert_int_equal(f->irq.level, 0); /* IIR read acknowledged THRE */
	assert_int_equal(inb(&f->pio, IIR), 0x01);
	outb(&f->pio, IER, 0x00);
	outb(&f->pio, IER, 0x02);
	iir = inb(&f->pio, IIR);
	outb(&f->pio, IER, 0x00);
	assert_int_equal(iir1 & 0x0f, 0x02);
	assert_int_equal(iir & 0x0f, 0x02); /* re-asserted: not UART_BUG_THRE */
	assert_int_equal(f->irq.level, 0);
	assert_int_equal(f->irq.rising, 3);
	assert_int_equal(f->irq.falling, 3);
	assert_int_equal(f->irq.redundant, 0);
}

/* TX interrupt-driven output as the Linux ISR does it: read IIR (THRE),
 * write a burst of bytes; every burst must present a new rising edge. */
static void test_thre_tx_irq_edges(void **state)
{
	struct fx *f = *state;

	outb(&f->pio, FCR, 0x01);
	outb(&f->pio, IER, 0x02);
	assert_int_equal(f->irq.rising, 1);
	for (int burst = 0; burst < 4; burst++) {
		unsigned rising = f->irq.rising;

		assert_int_equal(inb(&f->pio, IIR), 0xc2);
		assert_int_equal(f->irq.level, 0);
		for (int i = 0; i < 16; i++)
			outb(&f->pio, THR, (uint8_t)('a' + i));
		assert_int_equal(f->irq.level, 1);
		assert_true(f->irq.rising > rising);
	}
	/* writing THR while the line is already up still makes an edge */
	{
		unsigned rising = f->irq.rising;

		outb(&f->pio, THR, 'z');
		assert_int_equal(f->irq.rising, rising + 1);
		assert_int_equal(f->irq.level, 1);
	}
	outb(&f->pio, IER, 0x00); /* __stop_tx */
	assert_int_equal(f->irq.level, 0);
	assert_int_equal(f->sink.total, 4 * 16 + 1);
	assert_int_equal(f->irq.redundant, 0);
}

static void test_rx_fifo_bound(void **state)
{
	struct fx *f = *state;
	uint8_t in[100];

	for (unsigned i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 7 + 1);
	outb(&f->pio, FCR, 0x07); /* FIFO on, clear both, trigger 1 */
	outb(&f->pio, IER, 0x01);
	assert_int_equal(f->irq.level, 0);
	assert_true(uart_rx_has_room(&f->u));

	assert_int_equal(uart_receive(&f->u, in, sizeof(in)), UART_FIFO_SIZE);
	assert_int_equal(uart_receive(&f->u, in + 16, 84), 0);
	assert_false(uart_rx_has_room(&f->u));
	assert_int_equal(f->irq.level, 1);
	assert_int_equal(inb(&f->pio, LSR) & 0x03, 0x01); /* DR, no overrun */
	assert_int_equal(inb(&f->pio, IIR), 0xc4);

	for (unsigned i = 0; i < UART_FIFO_SIZE; i++) {
		assert_int_equal(f->irq.level, 1);
		assert_int_equal(inb(&f->pio, RBR), in[i]);
		if (i == 0)
			assert_int_equal(f->room_notes, 1); /* first byte drained */
	}
	assert_int_equal(f->room_notes, 1);
	assert_int_equal(inb(&f->pio, LSR) & 0x01, 0);
	assert_int_equal(f->irq.level, 0);
	assert_int_equal(inb(&f->pio, IIR), 0xc1);
	assert_true(uart_rx_has_room(&f->u));
	/* the rest arrives when the host retries */
	assert_int_equal(uart_receive(&f->u, in + 16, 84), UART_FIFO_SIZE);
	assert_int_equal(inb(&f->pio, RBR), in[16]);
	assert_int_equal(f->u.rx_overruns, 0);
}

static void test_rx_trigger_and_nonfifo(void **state)
{
	struct fx *f = *state;
	const uint8_t ab[2] = { 'a', 'b' };

	/* FIFO disabled: a 16450 holding register, one byte deep */
	outb(&f->pio, IER, 0x01);
	assert_int_equal(uart_receive(&f->u, ab, 2), 1);
	assert_int_equal(inb(&f->pio, IIR), 0x04);
	assert_int_equal(inb(&f->pio, RBR), 'a');
	assert_int_equal(f->irq.level, 0);

	/* trigger level 8 (Linux's choice): fewer bytes report a timeout */
	outb(&f->pio, FCR, 0x81);
	assert_int_equal(uart_receive(&f->u, ab, 2), 2);
	assert_int_equal(inb(&f->pio, IIR), 0xcc);
	assert_int_equal(f->irq.level, 1);
	/* FCR RX clear empties the FIFO and drops the line */
	outb(&f->pio, FCR, 0x83);
	assert_int_equal(inb(&f->pio, LSR) & 0x01, 0);
	assert_int_equal(f->irq.level, 0);
	/* turning the FIFO off clears it too */
	assert_int_equal(uart_receive(&f->u, ab, 2), 2);
	outb(&f->pio, FCR, 0x00);
	assert_int_equal(inb(&f->pio, LSR) & 0x01, 0);
	assert_int_equal(inb(&f->pio, IIR), 0x01);
}

static void test_loopback(void **state)
{
	struct fx *f = *state;
	const uint8_t x = 'x';

	/* autoconfig's loopback test: MCR = LOOP | OUT2 | RTS */
	outb(&f->pio, MCR, 0x1a);
	assert_int_equal(inb(&f->pio, MSR) & 0xf0, 0x90);
	outb(&f->pio, MCR, 0x1f); /* all outputs */
	assert_int_equal(inb(&f->pio, MSR) & 0xf0, 0xf0);

	outb(&f->pio, THR, 'L');
	assert_int_equal(f->sink.total, 0); /* loopback: nothing on the wire */
	assert_int_equal(inb(&f->pio, LSR) & 0x01, 0x01);
	assert_int_equal(inb(&f->pio, RBR), 'L');
	assert_int_equal(uart_receive(&f->u, &x, 1), 0); /* RX disconnected */
	assert_false(uart_rx_has_room(&f->u));

	/* non-FIFO overrun: second byte is lost, OE reported once */
	outb(&f->pio, THR, '1');
	outb(&f->pio, THR, '2');
	assert_int_equal(inb(&f->pio, LSR) & 0x03, 0x03);
	assert_int_equal(inb(&f->pio, LSR) & 0x02, 0x00);
	assert_int_equal(inb(&f->pio, RBR), '1');
	assert_int_equal(f->u.rx_overruns, 1);

	/* leaving loopback reconnects the line and the host is told */
	outb(&f->pio, MCR, 0x0b);
	assert_int_equal(f->room_notes, 1);
	assert_int_equal(inb(&f->pio, MSR) & 0xf0, 0xb0);
	assert_int_equal(uart_receive(&f->u, &x, 1), 1);
	outb(&f->pio, THR, 'T');
	assert_int_equal(f->sink.total, 1);
	assert_int_equal(f->sink.buf[0], 'T');
}

/* All four sources pending at once: IIR must walk the 16550 priorities. */
static void test_iir_priorities(void **state)
{
	struct fx *f = *state;

	outb(&f->pio, FCR, 0x01);
	outb(&f->pio, MCR, 0x12); /* loopback + RTS: DSR/DCD drop -> deltas */
	outb(&f->pio, IER, 0x0f);
	for (int i = 0; i < UART_FIFO_SIZE + 1; i++)
		outb(&f->pio, THR, (uint8_t)i); /* 16 fit, the 17th overruns */
	assert_int_equal(f->irq.level, 1);

	assert_int_equal(inb(&f->pio, IIR), 0xc6);           /* line status */
	assert_int_equal(inb(&f->pio, LSR), 0x63);           /* OE DR THRE TEMT */
	assert_int_equal(inb(&f->pio, IIR), 0xc4);           /* received data */
	for (int i = 0; i < UART_FIFO_SIZE; i++)
		assert_int_equal(inb(&f->pio, RBR), i);
	assert_int_equal(f->irq.level, 1);
	assert_int_equal(inb(&f->pio, IIR), 0xc2);           /* THR empty */
	assert_int_equal(inb(&f->pio, IIR), 0xc0);           /* modem status */
	assert_int_equal(inb(&f->pio, MSR), 0x10 | 0x02 | 0x08); /* CTS, dDSR, dDCD */
	assert_int_equal(inb(&f->pio, IIR), 0xc1);
	assert_int_equal(f->irq.level, 0);
	assert_int_equal(f->irq.redundant, 0);
}

static void count_sink(void *opaque, const uint8_t *buf, size_t len)
{
	uint64_t *n = opaque;

	(void)buf;
	*n += len;
}

/* Hostile case 23: a guest flood reaches the sink byte for byte and the UART
 * holds nothing back (no buffer to grow). */
static void test_flood(void **state)
{
	struct fx *f = *state;
	uint64_t counted = 0;
	struct char_sink cs = { .write = count_sink, .opaque = &counted };
	struct io_bus pio;
	struct uart u;

	(void)f;
	io_bus_init(&pio, IO_BUS_PIO);
	assert_int_equal(uart_init(&u, UART_COM2_BASE, NULL, &cs), 0);
	assert_int_equal(uart_register(&u, &pio), 0);
	io_bus_seal(&pio);
	assert_true(pio_out(&pio, UART_COM2_BASE + 2, 0x07, 1));
	for (unsigned i = 0; i < 1000000; i++)
		assert_true(pio_out(&pio, UART_COM2_BASE, (uint8_t)i, 1));
	assert_int_equal(counted, 1000000);
	assert_int_equal(u.tx_bytes, 1000000);
	assert_int_equal(u.rx_count, 0);
	assert_int_equal(pio_in(&pio, UART_COM2_BASE + 5, 1, NULL) & 0x61, 0x60);
	uart_destroy(&u);
}

/* Hostile case 1: every offset, every width, both DLAB states, loopback on
 * and off. Accesses that fit are split into byte accesses; accesses running
 * past port 7 are not ours (io_bus: all-ones, not claimed). */
static void test_every_offset_every_width(void **state)
{
	struct fx *f = *state;
	static const uint32_t widths[] = { 1, 2, 4 };
	static const uint8_t lcrs[] = { 0x03, 0x83 };
	static const uint8_t mcrs[] = { 0x0b, 0x1f };

	for (unsigned m = 0; m < 2; m++) {
		for (unsigned l = 0; l < 2; l++) {
			for (unsigned w = 0; w < 3; w++) {
				for (uint16_t off = 0; off < 8; off++) {
					uint32_t len = widths[w];
					bool fits = off + len <= 8;
					bool claimed;
					uint32_t v;

					assert_int_equal(pio_out(&f->pio, COM1 + 4, mcrs[m], 1), true);
					assert_int_equal(pio_out(&f->pio, COM1 + 3, lcrs[l], 1), true);
					v = pio_in(&f->pio, COM1 + off, len, &claimed);
					assert_int_equal(claimed, fits);
					if (!fits)
						assert_int_equal(v, 0xffffffffu >> (32 - 8 * len));
					assert_int_equal(pio_out(&f->pio, COM1 + off, 0xa5c3e1f0u, len),
							 fits);
				}
			}
		}
	}
	/* Split semantics: a 2-byte write at 0 is THR then IER. */
	outb(&f->pio, LCR, 0x03);
	outb(&f->pio, MCR, 0x0b);
	outb(&f->pio, FCR, 0x07);
	(void)inb(&f->pio, LSR);
	(void)inb(&f->pio, MSR);
	f->sink.kept = 0;
	f->sink.total = 0;
	assert_true(pio_out(&f->pio, COM1, 0x0541, 2));
	assert_int_equal(f->sink.total, 1);
	assert_int_equal(f->sink.buf[0], 0x41);
	assert_int_equal(inb(&f->pio, IER), 0x05);
	/* a 4-byte read at 4 returns MCR LSR MSR SCR */
	outb(&f->pio, SCR, 0x5a);
	outb(&f->pio, IER, 0x00);
	assert_int_equal(pio_in(&f->pio, COM1 + 4, 4, NULL), 0x5ab0600bu);
	/* still fully functional */
	outb(&f->pio, THR, 'k');
	assert_int_equal(f->sink.buf[1], 'k');
}

/* Two UARTs on one bus (COM1 + COM2) are independent. */
static void test_two_ports(void **state)
{
	struct fx *f = *state;
	struct io_bus pio;
	struct uart a, b;
	struct fake_sink sa, sb;
	struct char_sink ca, cb;
	struct fake_irq ia, ib;
	struct irq_line la, lb;

	(void)f;
	io_bus_init(&pio, IO_BUS_PIO);
	fake_sink_init(&sa, &ca);
	fake_sink_init(&sb, &cb);
	fake_irq_init(&ia, &la, UART_COM1_IRQ);
	fake_irq_init(&ib, &lb, UART_COM2_IRQ);
	assert_int_equal(uart_init(&a, UART_COM1_BASE, &la, &ca), 0);
	assert_int_equal(uart_init(&b, UART_COM2_BASE, &lb, &cb), 0);
	assert_int_equal(uart_register(&a, &pio), 0);
	assert_int_equal(uart_register(&b, &pio), 0);
	assert_int_equal(uart_register(&b, &pio), -EEXIST);
	io_bus_seal(&pio);
	outb(&pio, UART_COM2_BASE + 1, 0x02);
	outb(&pio, UART_COM1_BASE, '1');
	outb(&pio, UART_COM2_BASE, '2');
	assert_int_equal(sa.total, 1);
	assert_int_equal(sb.total, 1);
	assert_int_equal(sa.buf[0], '1');
	assert_int_equal(sb.buf[0], '2');
	assert_int_equal(ia.calls, 0);
	assert_int_equal(ib.level, 1);
	assert_int_equal(ib.gsi, UART_COM2_IRQ);
	uart_destroy(&a);
	uart_destroy(&b);
}

/* The event thread pushes while a vCPU thread drains RBR: every byte
 * arrives once, in order, and the FIFO bound holds throughout. */
struct rx_feeder {
	struct uart *u;
	unsigned total;
};

static void *feed_thread(void *p)
{
	struct rx_feeder *fd = p;
	unsigned sent = 0;

	while (sent < fd->total) {
		uint8_t chunk[7];
		size_t n = 0;

		for (unsigned i = 0; i < sizeof(chunk); i++)
			chunk[i] = (uint8_t)(sent + i);
		n = uart_receive(fd->u, chunk,
				 fd->total - sent < sizeof(chunk) ? fd->total - sent : sizeof(chunk));
		sent += (unsigned)n;
		if (!n)
			sched_yield();
	}
	return NULL;
}

static void test_concurrent_rx(void **state)
{
	struct fx *f = *state;
	struct rx_feeder fd = { &f->u, 50000 }; /* ~3000 FIFO refills */
	pthread_t th;
	unsigned got = 0;

	outb(&f->pio, FCR, 0x07);
	outb(&f->pio, IER, 0x01);
	assert_int_equal(pthread_create(&th, NULL, feed_thread, &fd), 0);
	while (got < fd.total) {
		if (inb(&f->pio, LSR) & 0x01) {
			assert_int_equal(inb(&f->pio, RBR), (uint8_t)got);
			got++;
		}
		pthread_mutex_lock(&f->u.lock);
		assert_true(f->u.rx_count <= UART_FIFO_SIZE);
		pthread_mutex_unlock(&f->u.lock);
	}
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(inb(&f->pio, LSR) & 0x03, 0x00);
	assert_int_equal(f->irq.level, 0);
	assert_int_equal(f->u.rx_overruns, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reset_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_divisor_latch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_thr_to_sink, setup, teardown),
		cmocka_unit_test_setup_teardown(test_thre_linux_startup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_thre_tx_irq_edges, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_fifo_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_trigger_and_nonfifo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loopback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iir_priorities, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flood, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_offset_every_width, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_ports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_rx, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
