/* i8042.c — PC keyboard controller and port 0x61; see i8042.h. */
#include "i8042.h"

#include <stdio.h>
#include <errno.h>
#include <string.h>

#include "common/log.h"

/* Status register (read 0x64). */
#define STR_OBF 0x01
#define STR_SYS 0x04
#define STR_CMD 0x08
#define STR_UNLOCKED 0x10
#define STR_AUXDATA 0x20
#define STR_TIMEOUT 0x40

/* Command byte. */
#define CTR_KBDINT 0x01
#define CTR_AUXINT 0x02
#define CTR_SYS 0x04
#define CTR_KBDDIS 0x10
#define CTR_AUXDIS 0x20
#define CTR_XLATE 0x40

/* Output port. */
#define OUTP_RESET 0x01 /* 0 = CPU held in reset */
#define OUTP_A20 0x02
#define OUTP_KBD_OBF 0x10
#define OUTP_AUX_OBF 0x20

/* Queue entry flags. */
#define QF_AUX 0x01
#define QF_TIMEOUT 0x02

#define PORTB_WRITABLE 0x0f
#define PORTB_GATE2 0x01
#define PORTB_REFRESH 0x10
#define PORTB_OUT2 0x20

static void i8042_update_irq(struct i8042 *k)
{
	int kbd = 0, aux = 0;

	if (k->q_count) {
		if (k->q[k->q_head].flags & QF_AUX)
			aux = (k->ram[0] & CTR_AUXINT) != 0;
		else
			kbd = (k->ram[0] & CTR_KBDINT) != 0;
	}
	if (kbd != k->kbd_level) {
		k->kbd_level = kbd;
		irq_line_set(k->kbd_irq, kbd);
	}
	if (aux != k->aux_level) {
		k->aux_level = aux;
		irq_line_set(k->aux_irq, aux);
	}
}

static void i8042_enqueue(struct i8042 *k, uint8_t data, uint8_t flags)
{
	if (k->q_count >= I8042_QUEUE_SIZE) {
		bh_warn_guest("i8042: output buffer full, byte 0x%02x dropped", data);
		return;
	}
	k->q[(k->q_head + k->q_count) % I8042_QUEUE_SIZE].data = data;
	k->q[(k->q_head + k->q_count) % I8042_QUEUE_SIZE].flags = flags;
	k->q_count++;
	i8042_update_irq(k);
}

static uint8_t i8042_read_data(struct i8042 *k)
{
	if (k->q_count) {
		k->last_data = k->q[k->q_head].data;
		k->q_head = (k->q_head + 1) % I8042_QUEUE_SIZE;
		k->q_count--;
		/* Reading empties the output buffer (the IRQ pin follows OBF):
		 * drop the lines, then let the next byte raise them again. */
		if (k->kbd_level) {
			k->kbd_level = 0;
			irq_line_set(k->kbd_irq, 0);
		}
		if (k->aux_level) {
			k->aux_level = 0;
			irq_line_set(k->aux_irq, 0);
		}
		i8042_update_irq(k);
	}
	return k->last_data;
}

static uint8_t i8042_read_status(const struct i8042 *k)
{
	uint8_t st = STR_UNLOCKED; /* input buffer always empty: IBF = 0 */

	if (k->q_count) {
		st |= STR_OBF;
		if (k->q[k->q_head].flags & QF_AUX)
			st |= STR_AUXDATA;
		if (k->q[k->q_head].flags & QF_TIMEOUT)
			st |= STR_TIMEOUT;
	}
	if (k->ram[0] & CTR_SYS)
		st |= STR_SYS;
	if (k->last_was_cmd)
		st |= STR_CMD;
	return st;
}

static uint8_t i8042_outport_value(const struct i8042 *k)
{
	uint8_t v = k->outport & (uint8_t)~(OUTP_KBD_OBF | OUTP_AUX_OBF);

	if (k->q_count)
		v |= (k->q[k->q_head].flags & QF_AUX) ? OUTP_AUX_OBF : OUTP_KBD_OBF;
	return v;
}

/* The keyboard device behind the controller: ACKs, no scancodes. */
static void i8042_kbd_write(struct i8042 *k, uint8_t v)
{
	if (k->kbd_param) {
		uint8_t cmd = k->kbd_param;

		k->kbd_param = 0;
		i8042_enqueue(k, 0xfa, 0);
		if (cmd == 0xf0 && v == 0)
			i8042_enqueue(k, 0x02, 0); /* current scancode set */
		return;
	}
	switch (v) {
	case 0xed: /* set LEDs */
	case 0xf0: /* scancode set */
	case 0xf3: /* typematic rate */
		i8042_enqueue(k, 0xfa, 0);
		k->kbd_param = v;
		break;
	case 0xee: /* echo */
		i8042_enqueue(k, 0xee, 0);
		break;
	case 0xf2: /* get ID: MF2 keyboard */
		i8042_enqueue(k, 0xfa, 0);
		i8042_enqueue(k, 0xab, 0);
		i8042_enqueue(k, 0x83, 0);
		break;
	case 0xff: /* reset: ACK, then BAT passed */
		i8042_enqueue(k, 0xfa, 0);
		i8042_enqueue(k, 0xaa, 0);
		break;
	default: /* enable/disable/defaults/...: plain ACK */
		i8042_enqueue(k, 0xfa, 0);
		break;
	}
}

/* Returns true if the guest asked for a CPU reset. */
static bool i8042_command(struct i8042 *k, uint8_t cmd)
{
	if (cmd >= 0x20 && cmd <= 0x3f) {
		i8042_enqueue(k, k->ram[cmd & 0x1f], 0);
		return false;
	}
	if ((cmd >= 0x60 && cmd <= 0x7f) || cmd == 0xd1 || cmd == 0xd2 || cmd == 0xd3 ||
	    cmd == 0xd4) {
		k->pending_cmd = cmd;
		return false;
	}
	if (cmd >= 0xf0) {
		/* Pulse output lines: a 0 bit selects a line; line 0 is reset. */
		return !(cmd & 0x01);
	}
	switch (cmd) {
	case 0xa7:
		k->ram[0] |= CTR_AUXDIS;
		break;
	case 0xa8:
		k->ram[0] &= (uint8_t)~CTR_AUXDIS;
		break;
	case 0xa9: /* AUX interface test: no error */
	case 0xab: /* keyboard interface test: no error */
	case 0xc0: /* input port */
	case 0xe0: /* test inputs */
		i8042_enqueue(k, 0x00, 0);
		break;
	case 0xaa: /* self-test passed; the system flag is set */
		k->ram[0] |= CTR_SYS;
		i8042_enqueue(k, 0x55, 0);
		break;
	case 0xad:
		k->ram[0] |= CTR_KBDDIS;
		break;
	case 0xae:
		k->ram[0] &= (uint8_t)~CTR_KBDDIS;
		break;
	case 0xd0:
		i8042_enqueue(k, i8042_outport_value(k), 0);
		break;
	default:
		bh_warn_guest("i8042: unsupported controller command 0x%02x ignored", cmd);
		break;
	}
	i8042_update_irq(k); /* the command byte may have changed */
	return false;
}

/* Data byte written to 0x60. Returns true if it requests a CPU reset. */
static bool i8042_data(struct i8042 *k, uint8_t v)
{
	uint8_t cmd = k->pending_cmd;

	k->pending_cmd = 0;
	if (cmd >= 0x60 && cmd <= 0x7f) {
		k->ram[cmd & 0x1f] = v;
		i8042_update_irq(k);
		return false;
	}
	switch (cmd) {
	case 0xd1:
		k->outport = v;
		return !(v & OUTP_RESET);
	case 0xd2:
		i8042_enqueue(k, v, 0);
		return false;
	case 0xd3:
		i8042_enqueue(k, v, QF_AUX);
		return false;
	case 0xd4:
		/* No mouse attached: answer like a controller whose AUX device
		 * timed out, so the guest's PS/2 probe fails at once. */
		i8042_enqueue(k, 0xfe, QF_AUX | QF_TIMEOUT);
		return false;
	default:
		i8042_kbd_write(k, v);
		return false;
	}
}

static void i8042_request_reset(struct i8042 *k)
{
	if (k->ec)
		exit_ctl_request(k->ec, VM_EXIT_RESET, 0, "guest reset via i8042");
	else
		bh_warn_guest("i8042: guest requested a CPU reset (no exit control wired)");
}

/* 0x60 and 0x64 are registered as separate one-byte ranges; the opaque
 * pointer is the device, the port is told apart by which ops were called. */
static void i8042_data_read(void *opaque, uint64_t offset, void *data, uint32_t len)
{
	struct i8042 *k = opaque;
	uint8_t *d = data;

	(void)offset;
	pthread_mutex_lock(&k->lock);
	d[0] = i8042_read_data(k);
	pthread_mutex_unlock(&k->lock);
	memset(d + 1, 0xff, len - 1);
}

static void i8042_data_write(void *opaque, uint64_t offset, const void *data, uint32_t len)
{
	struct i8042 *k = opaque;
	bool reset;

	(void)offset;
	(void)len;
	pthread_mutex_lock(&k->lock);
	k->last_was_cmd = false;
	reset = i8042_data(k, *(const uint8_t *)data);
	if (reset)
		k->resets++;
	pthread_mutex_unlock(&k->lock);
	if (reset)
		i8042_request_reset(k);
}

static void i8042_cmd_read(void *opaque, uint64_t offset, void *data, uint32_t len)
{
	struct i8042 *k = opaque;
	uint8_t *d = data;

	(void)offset;
	pthread_mutex_lock(&k->lock);
	d[0] = i8042_read_status(k);
	pthread_mutex_unlock(&k->lock);
	memset(d + 1, 0xff, len - 1);
}

static void i8042_cmd_write(void *opaque, uint64_t offset, const void *data, uint32_t len)
{
	struct i8042 *k = opaque;
	bool reset;

	(void)offset;
	(void)len;
	pthread_mutex_lock(&k->lock);
	k->last_was_cmd = true;
	k->pending_cmd = 0; /* a new command aborts a pending one */
	reset = i8042_command(k, *(const uint8_t *)data);
	if (reset)
		k->resets++;
	pthread_mutex_unlock(&k->lock);
	if (reset)
		i8042_request_reset(k);
}

static void i8042_portb_read(void *opaque, uint64_t offset, void *data, uint32_t len)
{
	struct i8042 *k = opaque;
	uint8_t *d = data;
	uint8_t v;

	(void)offset;
	pthread_mutex_lock(&k->lock);
	k->refresh = !k->refresh;
	k->out2 = (k->portb & PORTB_GATE2) ? !k->out2 : false;
	v = (uint8_t)((k->portb & PORTB_WRITABLE) | (k->refresh ? PORTB_REFRESH : 0) |
		      (k->out2 ? PORTB_OUT2 : 0));
	pthread_mutex_unlock(&k->lock);
	d[0] = v;
	memset(d + 1, 0xff, len - 1);
}

static void i8042_portb_write(void *opaque, uint64_t offset, const void *data, uint32_t len)
{
	struct i8042 *k = opaque;

	(void)offset;
	(void)len;
	pthread_mutex_lock(&k->lock);
	k->portb = *(const uint8_t *)data & PORTB_WRITABLE;
	pthread_mutex_unlock(&k->lock);
}

static const struct io_dev_ops i8042_data_ops = {
	.read = i8042_data_read,
	.write = i8042_data_write,
};

static const struct io_dev_ops i8042_cmd_ops = {
	.read = i8042_cmd_read,
	.write = i8042_cmd_write,
};

static const struct io_dev_ops i8042_portb_ops = {
	.read = i8042_portb_read,
	.write = i8042_portb_write,
};

int i8042_init(struct i8042 *k, struct exit_ctl *ec, const struct irq_line *kbd_irq,
	       const struct irq_line *aux_irq)
{
	int rc;

	memset(k, 0, sizeof(*k));
	rc = pthread_mutex_init(&k->lock, NULL);
	if (rc)
		return -rc;
	k->ec = ec;
	k->kbd_irq = kbd_irq;
	k->aux_irq = aux_irq;
	/* As a BIOS leaves it: interrupts on, system flag, translation. */
	k->ram[0] = CTR_KBDINT | CTR_AUXINT | CTR_SYS | CTR_XLATE;
	k->outport = OUTP_RESET | OUTP_A20;
	return 0;
}

int i8042_register(struct i8042 *k, struct io_bus *pio)
{
	int rc;

	rc = io_bus_register(pio, I8042_DATA_PORT, 1, &i8042_data_ops, k, "i8042-data");
	if (rc)
		return rc;
	rc = io_bus_register(pio, I8042_PORTB_PORT, 1, &i8042_portb_ops, k, "port-b");
	if (rc)
		return rc;
	return io_bus_register(pio, I8042_CMD_PORT, 1, &i8042_cmd_ops, k, "i8042-cmd");
}

void i8042_destroy(struct i8042 *k)
{
	pthread_mutex_destroy(&k->lock);
}

int i8042_ctrl_alt_del(struct i8042 *k)
{
	static const uint8_t set1[] = { 0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d };
	static const uint8_t set2[] = { 0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71,
					0xf0, 0x11, 0xf0, 0x14 };
	const uint8_t *codes;
	size_t n;

	pthread_mutex_lock(&k->lock);
	if (k->ram[0] & CTR_XLATE) {
		codes = set1;
		n = sizeof(set1);
	} else {
		codes = set2;
		n = sizeof(set2);
	}
	if (k->q_count + n > I8042_QUEUE_SIZE) {
		pthread_mutex_unlock(&k->lock);
		return -ENOSPC;
	}
	for (size_t i = 0; i < n; i++)
		i8042_enqueue(k, codes[i], 0);
	pthread_mutex_unlock(&k->lock);
	return 0;
}

void i8042_save(struct i8042 *k, struct sbuf *out)
{
	pthread_mutex_lock(&k->lock);
	sbuf_put(out, k->ram, sizeof(k->ram));
	sbuf_u8(out, k->outport);
	sbuf_u8(out, k->pending_cmd);
	sbuf_u8(out, k->kbd_param);
	sbuf_u8(out, k->last_data);
	sbuf_u8(out, k->last_was_cmd);
	sbuf_u8(out, (uint8_t)k->q_count);
	for (unsigned i = 0; i < k->q_count; i++) {
		sbuf_u8(out, k->q[(k->q_head + i) % I8042_QUEUE_SIZE].data);
		sbuf_u8(out, k->q[(k->q_head + i) % I8042_QUEUE_SIZE].flags);
	}
	sbuf_u8(out, (uint8_t)k->kbd_level);
	sbuf_u8(out, (uint8_t)k->aux_level);
	sbuf_u8(out, k->portb);
	sbuf_u8(out, k->refresh);
	sbuf_u8(out, k->out2);
	pthread_mutex_unlock(&k->lock);
}

int i8042_load(struct i8042 *k, struct sreader *in, uint32_t version, char *err, size_t errlen)
{
	struct i8042 t;
	uint8_t count, kl, al;
	bool bad_flags = false;

	if (version != I8042_STATE_VERSION) {
		snprintf(err, errlen, "i8042: state version %u unknown (this build: %u)", version,
			 I8042_STATE_VERSION);
		return -ENOTSUP;
	}
	pthread_mutex_lock(&k->lock);
	t = *k;
	sr_get(in, t.ram, sizeof(t.ram));
	t.outport = sr_u8(in);
	t.pending_cmd = sr_u8(in);
	t.kbd_param = sr_u8(in);
	t.last_data = sr_u8(in);
	t.last_was_cmd = sr_bool(in);
	count = sr_u8(in);
	t.q_head = 0;
	t.q_count = count;
	for (unsigned i = 0; i < count && i < I8042_QUEUE_SIZE; i++) {
		t.q[i].data = sr_u8(in);
		t.q[i].flags = sr_u8(in);
		bad_flags |= (t.q[i].flags & ~(QF_AUX | QF_TIMEOUT)) != 0;
	}
	kl = sr_u8(in);
	al = sr_u8(in);
	t.portb = sr_u8(in);
	t.refresh = sr_bool(in);
	t.out2 = sr_bool(in);
	if (sr_finish(in) || count > I8042_QUEUE_SIZE || bad_flags || kl > 1 || al > 1) {
		pthread_mutex_unlock(&k->lock);
		snprintf(err, errlen, "i8042: invalid state (truncated, trailing bytes, a queue "
			 "over %d entries or unknown flags)", I8042_QUEUE_SIZE);
		return -EINVAL;
	}
	t.kbd_level = kl;
	t.aux_level = al;
	{
		/* The lines must be what the queue and command byte imply. */
		int kbd = 0, aux = 0;

		if (t.q_count) {
			if (t.q[t.q_head].flags & QF_AUX)
				aux = (t.ram[0] & CTR_AUXINT) != 0;
			else
				kbd = (t.ram[0] & CTR_KBDINT) != 0;
		}
		if (kbd != kl || aux != al) {
			pthread_mutex_unlock(&k->lock);
			snprintf(err, errlen, "i8042: interrupt levels %u/%u contradict the queue",
				 kl, al);
			return -EINVAL;
		}
	}
	*k = t;
	pthread_mutex_unlock(&k->lock);
	return 0;
}
