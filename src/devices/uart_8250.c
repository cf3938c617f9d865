/* uart_8250.c — 8250/16550A UART model; see uart_8250.h for the contract.
 * Register semantics follow the National/TI PC16550D datasheet. */
#include "uart_8250.h"

#include <stdio.h>
#include <errno.h>
#include <string.h>

#include "common/log.h"

/* Register offsets (DLAB=0 meaning first). */
enum {
	REG_RBR_THR = 0, /* DLAB=1: DLL */
	REG_IER = 1,     /* DLAB=1: DLM */
	REG_IIR_FCR = 2,
	REG_LCR = 3,
	REG_MCR = 4,
	REG_LSR = 5,
	REG_MSR = 6,
	REG_SCR = 7,
};

#define IER_ERBFI 0x01 /* received data available */
#define IER_ETBEI 0x02 /* THR empty */
#define IER_ELSI 0x04  /* receiver line status */
#define IER_EDSSI 0x08 /* modem status */
#define IER_MASK 0x0f

#define IIR_NO_INT 0x01
#define IIR_MSI 0x00
#define IIR_THRE 0x02
#define IIR_RDA 0x04
#define IIR_RLS 0x06
#define IIR_CTI 0x0c
#define IIR_FIFO_BITS 0xc0

#define FCR_FE 0x01
#define FCR_RXCLR 0x02
#define FCR_TXCLR 0x04
#define FCR_TRIG 0xc0

#define LCR_DLAB 0x80

#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define MCR_MASK 0x1f

#define LSR_DR 0x01
#define LSR_OE 0x02
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

#define MSR_DCTS 0x01
#define MSR_DDSR 0x02
#define MSR_TERI 0x04
#define MSR_DDCD 0x08
#define MSR_DELTAS 0x0f
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80

/* Per-access bookkeeping of work to do once the lock is dropped. */
struct uart_deferred {
	uint8_t out[8];
	size_t nout;
	bool notify_room;
};

static unsigned uart_rx_capacity(const struct uart *u)
{
	return (u->fcr & FCR_FE) ? UART_FIFO_SIZE : 1;
}

static unsigned uart_rx_trigger(const struct uart *u)
{
	static const unsigned trig[4] = { 1, 4, 8, 14 };

	return trig[(u->fcr & FCR_TRIG) >> 6];
}

static bool uart_rx_room_locked(const struct uart *u)
{
	return !(u->mcr & MCR_LOOP) && u->rx_count < uart_rx_capacity(u);
}

/* Interrupt identification in 16550 priority order. */
static uint8_t uart_iir_id(const struct uart *u)
{
	if ((u->ier & IER_ELSI) && (u->lsr & LSR_OE))
		return IIR_RLS;
	if ((u->ier & IER_ERBFI) && u->rx_count) {
		if ((u->fcr & FCR_FE) && u->rx_count < uart_rx_trigger(u))
			return IIR_CTI;
		return IIR_RDA;
	}
	if ((u->ier & IER_ETBEI) && u->thr_ipending)
		return IIR_THRE;
	if ((u->ier & IER_EDSSI) && (u->msr & MSR_DELTAS))
		return IIR_MSI;
	return IIR_NO_INT;
}

/* Drive the line to the level the registers imply, only on change. */
static void uart_update_irq(struct uart *u)
{
	int level = uart_iir_id(u) != IIR_NO_INT;

	if (level != u->irq_level) {
		u->irq_level = level;
		irq_line_set(u->irq, level);
	}
}

/* Room appeared: tell the host side if it had been refused input. */
static void uart_room_check(struct uart *u, struct uart_deferred *df)
{
	if (u->rx_starved && uart_rx_room_locked(u)) {
		u->rx_starved = false;
		df->notify_room = true;
	}
}

static void uart_rx_clear(struct uart *u, struct uart_deferred *df)
{
	u->rx_head = 0;
	u->rx_count = 0;
	uart_room_check(u, df);
}

static void uart_rx_push(struct uart *u, uint8_t v)
{
	u->rx[(u->rx_head + u->rx_count) % UART_FIFO_SIZE] = v;
	u->rx_count++;
}

static uint8_t uart_rx_pop(struct uart *u)
{
	uint8_t v = u->rx[u->rx_head];

	u->rx_head = (u->rx_head + 1) % UART_FIFO_SIZE;
	u->rx_count--;
	return v;
}

/* Modem input lines: in loopback they follow MCR, otherwise a connected,
 * ready peer (DCD, DSR, CTS asserted; no ring). */
static uint8_t uart_msr_lines(const struct uart *u)
{
	uint8_t m = 0;

	if (!(u->mcr & MCR_LOOP))
		return MSR_DCD | MSR_DSR | MSR_CTS;
	if (u->mcr & MCR_RTS)
		m |= MSR_CTS;
	if (u->mcr & MCR_DTR)
		m |= MSR_DSR;
	if (u->mcr & MCR_OUT1)
		m |= MSR_RI;
	if (u->mcr & MCR_OUT2)
		m |= MSR_DCD;
	return m;
}

static void uart_msr_update(struct uart *u)
{
	uint8_t now = uart_msr_lines(u);
	uint8_t old = u->msr & 0xf0;
	uint8_t d = u->msr & MSR_DELTAS;

	if ((now ^ old) & MSR_CTS)
		d |= MSR_DCTS;
	if ((now ^ old) & MSR_DSR)
		d |= MSR_DDSR;
	if ((old & MSR_RI) && !(now & MSR_RI))
		d |= MSR_TERI; /* trailing edge only */
	if ((now ^ old) & MSR_DCD)
		d |= MSR_DDCD;
	u->msr = now | d;
}

static void uart_write_thr(struct uart *u, uint8_t v, struct uart_deferred *df)
{
	if (u->mcr & MCR_LOOP) {
		/* The transmitter feeds our own receiver; a full FIFO is an
		 * overrun and the byte is lost, as on the chip. */
		if (u->rx_count < uart_rx_capacity(u)) {
			uart_rx_push(u, v);
		} else {
			u->lsr |= LSR_OE;
			u->rx_overruns++;
		}
	} else if (df->nout < sizeof(df->out)) {
		df->out[df->nout++] = v;
		u->tx_bytes++;
	}
	/* Writing THR clears the THRE interrupt; the byte leaves at once, so
	 * THR is empty again and THRE re-asserts: a low→high edge if THRE was
	 * what held the line up. */
	u->thr_ipending = false;
	uart_update_irq(u);
	u->thr_ipending = true;
	uart_update_irq(u);
}

static void uart_write_fcr(struct uart *u, uint8_t v, struct uart_deferred *df)
{
	/* Changing FIFO enable resets both FIFOs. Other bits are only
	 * programmed while FIFO enable is written as 1. */
	if ((v ^ u->fcr) & FCR_FE)
		uart_rx_clear(u, df);
	if (!(v & FCR_FE)) {
		u->fcr = 0;
		uart_room_check(u, df);
		return;
	}
	if (v & FCR_RXCLR)
		uart_rx_clear(u, df);
	/* FCR_TXCLR: there is no TX FIFO to clear (bytes left at once). */
	u->fcr = v & (FCR_FE | FCR_TRIG);
	uart_room_check(u, df);
}

static void uart_write_reg(struct uart *u, unsigned reg, uint8_t v, struct uart_deferred *df)
{
	bool dlab = u->lcr & LCR_DLAB;
	uint8_t changed;

	switch (reg) {
	case REG_RBR_THR:
		if (dlab)
			u->dll = v;
		else
			uart_write_thr(u, v, df);
		return; /* uart_write_thr drove the line itself */
	case REG_IER:
		if (dlab) {
			u->dlm = v;
			return;
		}
		changed = (u->ier ^ v) & IER_MASK;
		u->ier = v & IER_MASK;
		/* Enabling ETBEI while THR is empty (always, here) raises THRE,
		 * even if it had been cleared by an IIR read: Linux's
		 * serial8250_do_startup test relies on that re-assertion. */
		if (changed & IER_ETBEI)
			u->thr_ipending = (u->ier & IER_ETBEI) != 0;
		break;
	case REG_IIR_FCR:
		uart_write_fcr(u, v, df);
		break;
	case REG_LCR:
		u->lcr = v;
		break;
	case REG_MCR:
		u->mcr = v & MCR_MASK;
		uart_msr_update(u);
		uart_room_check(u, df); /* leaving loopback reconnects RX */
		break;
	case REG_SCR:
		u->scr = v;
		break;
	default:
		/* LSR and MSR are read-only (factory test writes): ignore. */
		break;
	}
	uart_update_irq(u);
}

static uint8_t uart_read_reg(struct uart *u, unsigned reg, struct uart_deferred *df)
{
	bool dlab = u->lcr & LCR_DLAB;
	uint8_t v = 0;

	switch (reg) {
	case REG_RBR_THR:
		if (dlab)
			return u->dll;
		if (u->rx_count) {
			v = uart_rx_pop(u);
			uart_room_check(u, df);
		}
		break;
	case REG_IER:
		return dlab ? u->dlm : u->ier;
	case REG_IIR_FCR: {
		uint8_t id = uart_iir_id(u);

		v = id | ((u->fcr & FCR_FE) ? IIR_FIFO_BITS : 0);
		/* Reading IIR while it reports THRE acknowledges THRE. */
		if (id == IIR_THRE)
			u->thr_ipending = false;
		break;
	}
	case REG_LCR:
		return u->lcr;
	case REG_MCR:
		return u->mcr;
	case REG_LSR:
		v = u->lsr | LSR_THRE | LSR_TEMT | (u->rx_count ? LSR_DR : 0);
		u->lsr &= (uint8_t)~LSR_OE; /* error bits clear on read */
		break;
	case REG_MSR:
		v = u->msr;
		u->msr &= (uint8_t)~MSR_DELTAS;
		break;
	case REG_SCR:
		return u->scr;
	default:
		return 0xff;
	}
	uart_update_irq(u);
	return v;
}

static void uart_deferred_run(struct uart *u, const struct uart_deferred *df)
{
	if (df->nout)
		char_sink_write(u->sink, df->out, df->nout);
	if (df->notify_room && u->rx_room)
		u->rx_room(u->rx_room_opaque);
}

/* Wider accesses are split into byte accesses, as for an 8-bit ISA chip;
 * io_bus guarantees offset + len <= UART_NR_PORTS. */
static void uart_io_read(void *opaque, uint64_t offset, void *data, uint32_t len)
{
	struct uart *u = opaque;
	struct uart_deferred df = { .nout = 0 };
	uint8_t *d = data;

	pthread_mutex_lock(&u->lock);
	for (uint32_t i = 0; i < len; i++) {
		uint64_t reg = offset + i;

		d[i] = reg < UART_NR_PORTS ? uart_read_reg(u, (unsigned)reg, &df) : 0xff;
	}
	pthread_mutex_unlock(&u->lock);
	uart_deferred_run(u, &df);
}

static void uart_io_write(void *opaque, uint64_t offset, const void *data, uint32_t len)
{
	struct uart *u = opaque;
	struct uart_deferred df = { .nout = 0 };
	const uint8_t *d = data;

	pthread_mutex_lock(&u->lock);
	for (uint32_t i = 0; i < len && i < sizeof(df.out); i++) {
		uint64_t reg = offset + i;

		if (reg < UART_NR_PORTS)
			uart_write_reg(u, (unsigned)reg, d[i], &df);
	}
	pthread_mutex_unlock(&u->lock);
	/* The sink is called unlocked: a slow console never holds up the
	 * event thread's uart_receive(), and there is no lock-order issue. */
	uart_deferred_run(u, &df);
}

static const struct io_dev_ops uart_ops = {
	.read = uart_io_read,
	.write = uart_io_write,
};

int uart_init(struct uart *u, uint16_t base, const struct irq_line *irq,
	      const struct char_sink *sink)
{
	int rc;

	memset(u, 0, sizeof(*u));
	rc = pthread_mutex_init(&u->lock, NULL);
	if (rc)
		return -rc;
	u->base = base;
	u->irq = irq;
	u->sink = sink;
	u->dll = 0x0c; /* 9600 baud with the 1.8432 MHz clock */
	u->msr = uart_msr_lines(u);
	return 0;
}

void uart_set_rx_notify(struct uart *u, uart_rx_room_fn fn, void *opaque)
{
	u->rx_room = fn;
	u->rx_room_opaque = opaque;
}

int uart_register(struct uart *u, struct io_bus *pio)
{
	return io_bus_register(pio, u->base, UART_NR_PORTS, &uart_ops, u, "uart-8250");
}

size_t uart_receive(struct uart *u, const uint8_t *buf, size_t len)
{
	size_t n = 0;

	pthread_mutex_lock(&u->lock);
	while (n < len && uart_rx_room_locked(u))
		uart_rx_push(u, buf[n++]);
	if (n < len)
		u->rx_starved = true;
	uart_update_irq(u);
	pthread_mutex_unlock(&u->lock);
	return n;
}

bool uart_rx_has_room(struct uart *u)
{
	bool room;

	pthread_mutex_lock(&u->lock);
	room = uart_rx_room_locked(u);
	if (!room)
		u->rx_starved = true; /* the caller will wait for the notifier */
	pthread_mutex_unlock(&u->lock);
	return room;
}

void uart_destroy(struct uart *u)
{
	pthread_mutex_destroy(&u->lock);
}

void uart_save(struct uart *u, struct sbuf *out)
{
	pthread_mutex_lock(&u->lock);
	sbuf_u8(out, u->ier);
	sbuf_u8(out, u->lcr);
	sbuf_u8(out, u->mcr);
	sbuf_u8(out, u->lsr);
	sbuf_u8(out, u->msr);
	sbuf_u8(out, u->scr);
	sbuf_u8(out, u->fcr);
	sbuf_u8(out, u->dll);
	sbuf_u8(out, u->dlm);
	sbuf_u8(out, u->thr_ipending);
	sbuf_u8(out, (uint8_t)u->irq_level);
	sbuf_u8(out, (uint8_t)u->rx_count);
	for (unsigned i = 0; i < u->rx_count; i++)
		sbuf_u8(out, u->rx[(u->rx_head + i) % UART_FIFO_SIZE]);
	pthread_mutex_unlock(&u->lock);
}

int uart_load(struct uart *u, struct sreader *in, uint32_t version, char *err, size_t errlen)
{
	struct uart t;
	uint8_t level, count;

	if (version != UART_STATE_VERSION) {
		snprintf(err, errlen, "uart: state version %u unknown (this build: %u)", version,
			 UART_STATE_VERSION);
		return -ENOTSUP;
	}
	pthread_mutex_lock(&u->lock);
	t = *u; /* host wiring (irq, sink, room callback) stays ours */
	t.ier = sr_u8(in);
	t.lcr = sr_u8(in);
	t.mcr = sr_u8(in);
	t.lsr = sr_u8(in);
	t.msr = sr_u8(in);
	t.scr = sr_u8(in);
	t.fcr = sr_u8(in);
	t.dll = sr_u8(in);
	t.dlm = sr_u8(in);
	t.thr_ipending = sr_bool(in);
	level = sr_u8(in);
	count = sr_u8(in);
	t.rx_head = 0;
	t.rx_count = count;
	if (count <= UART_FIFO_SIZE)
		sr_get(in, t.rx, count);
	if (sr_finish(in) || count > uart_rx_capacity(&t) || level > 1 || (t.ier & ~IER_MASK) ||
	    (t.mcr & ~MCR_MASK) || (t.lsr & ~LSR_OE) || (t.fcr & ~(FCR_FE | FCR_TRIG))) {
		pthread_mutex_unlock(&u->lock);
		snprintf(err, errlen, "uart: invalid state (truncated, trailing bytes, a register "
			 "value the UART cannot hold, or more input than its FIFO)");
		return -EINVAL;
	}
	/* The interrupt line must be what the registers imply. */
	t.irq_level = level;
	if ((uart_iir_id(&t) != IIR_NO_INT) != (level == 1)) {
		pthread_mutex_unlock(&u->lock);
		snprintf(err, errlen, "uart: interrupt level %u contradicts the registers", level);
		return -EINVAL;
	}
	t.rx_starved = false;
	*u = t;
	pthread_mutex_unlock(&u->lock);
	return 0;
}
