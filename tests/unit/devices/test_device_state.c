/* test_device_state.c — the legacy devices' save/load (the device model's
 * state ops, used by snapshots). For each device: put it in a non-trivial
 * state the way a guest would (port writes through a real io_bus), save,
 * load into a fresh instance, and check that saving again gives the same
 * bytes and that the guest sees the same registers. Then the blob as hostile
 * input (hostile-guests.md 28): truncated at every length, one byte too
 * many, an unknown version, and values no real device could hold — each
 * refused with a message, the target's state untouched. */
#include "dev_fakes.h"

#include <errno.h>
#include <stdlib.h>

#include "core/exit_ctl.h"
#include "core/state_buf.h"
#include "devices/acpi_pm.h"
#include "devices/boot_timer.h"
#include "devices/i8042.h"
#include "devices/rtc.h"
#include "devices/test_dev.h"
#include "devices/uart_8250.h"
#include "devices/vmgenid.h"

/* A device under test, generically. */
struct dut {
	void (*save)(void *dev, struct sbuf *out);
	int (*load)(void *dev, struct sreader *in, uint32_t version, char *err, size_t errlen);
	uint32_t version;
};

static void blob_of(const struct dut *t, void *dev, struct sbuf *out)
{
	sbuf_init(out);
	t->save(dev, out);
	assert_int_equal(out->err, 0);
}

static int load_bytes(const struct dut *t, void *dev, const void *p, size_t n, uint32_t v)
{
	struct sreader r;
	char err[256] = "";
	int ret;

	sr_init(&r, p, n);
	ret = t->load(dev, &r, v, err, sizeof(err));
	if (ret)
		assert_true(err[0] != '\0'); /* every refusal says why */
	return ret;
}

/* Round trip src -> dst, then every truncation and a trailing byte against
 * dst (whose saved form must not change), and a wrong version. */
static void check_roundtrip_and_framing(const struct dut *t, void *src, void *dst)
{
	struct sbuf a, b, c;
	uint8_t *longer;

	blob_of(t, src, &a);
	assert_int_equal(load_bytes(t, dst, a.data, a.len, t->version), 0);
	blob_of(t, dst, &b);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.data, b.data, a.len);
	for (size_t n = 0; n < a.len; n++)
		assert_int_equal(load_bytes(t, dst, a.data, n, t->version), -EINVAL);
	longer = malloc(a.len + 1);
	assert_non_null(longer);
	memcpy(longer, a.data, a.len);
	longer[a.len] = 0;
	assert_int_equal(load_bytes(t, dst, longer, a.len + 1, t->version), -EINVAL);
	assert_int_equal(load_bytes(t, dst, a.data, a.len, t->version + 1), -ENOTSUP);
	assert_int_equal(load_bytes(t, dst, a.data, a.len, 0), -ENOTSUP);
	blob_of(t, dst, &c);
	assert_int_equal(c.len, b.len);
	assert_memory_equal(c.data, b.data, b.len);
	free(longer);
	sbuf_free(&a);
	sbuf_free(&b);
	sbuf_free(&c);
}

/* Load `a` with byte `at` replaced by `v`: expect -EINVAL. */
static void check_bad_byte(const struct dut *t, void *dst, const struct sbuf *a, size_t at,
			   uint8_t v)
{
	uint8_t *p = malloc(a->len);

	assert_non_null(p);
	memcpy(p, a->data, a->len);
	assert_true(at < a->len);
	p[at] = v;
	assert_int_equal(load_bytes(t, dst, p, a->len, t->version), -EINVAL);
	free(p);
}

/* ---- uart ---- */
static void u_save(void *d, struct sbuf *o) { uart_save(d, o); }
static int u_load(void *d, struct sreader *i, uint32_t v, char *e, size_t n)
{
	return uart_load(d, i, v, e, n);
}

static void test_uart_state(void **state)
{
	const struct dut t = { u_save, u_load, UART_STATE_VERSION };
	struct fake_irq fa, fb;
	struct irq_line la, lb;
	struct fake_sink sa, sb;
	struct char_sink ca, cb;
	struct io_bus pa, pb;
	struct uart a, b;
	struct sbuf blob;

	(void)state;
	fake_irq_init(&fa, &la, 4);
	fake_irq_init(&fb, &lb, 4);
	fake_sink_init(&sa, &ca);
	fake_sink_init(&sb, &cb);
	io_bus_init(&pa, IO_BUS_PIO);
	io_bus_init(&pb, IO_BUS_PIO);
	assert_int_equal(uart_init(&a, UART_COM1_BASE, &la, &ca), 0);
	assert_int_equal(uart_init(&b, UART_COM1_BASE, &lb, &cb), 0);
	assert_int_equal(uart_register(&a, &pa), 0);
	assert_int_equal(uart_register(&b, &pb), 0);
	io_bus_seal(&pa);
	io_bus_seal(&pb);
	/* Guest programming: divisor 3, 8N1, FIFO on, RDA interrupt, OUT2. */
	outb(&pa, UART_COM1_BASE + 3, 0x80);
	outb(&pa, UART_COM1_BASE + 0, 3);
	outb(&pa, UART_COM1_BASE + 3, 0x03);
	outb(&pa, UART_COM1_BASE + 2, 0x01);
	outb(&pa, UART_COM1_BASE + 1, 0x01);
	outb(&pa, UART_COM1_BASE + 4, 0x0b);
	outb(&pa, UART_COM1_BASE + 7, 0x5a);
	assert_int_equal(uart_receive(&a, (const uint8_t *)"hi!", 3), 3);
	assert_int_equal(fa.level, 1);
	check_roundtrip_and_framing(&t, &a, &b);
	/* The guest reads the same from both. */
	for (int reg = 1; reg < 8; reg++)
		assert_int_equal(inb(&pb, (uint16_t)(UART_COM1_BASE + reg)),
				 inb(&pa, (uint16_t)(UART_COM1_BASE + reg)));
	assert_int_equal(inb(&pb, UART_COM1_BASE), 'h');
	assert_int_equal(inb(&pa, UART_COM1_BASE), 'h');
	/* Values no UART can hold. */
	blob_of(&t, &a, &blob);
	check_bad_byte(&t, &b, &blob, 0, 0xf0);  /* IER bits 4-7 */
	check_bad_byte(&t, &b, &blob, 2, 0xe0);  /* MCR bits 5-7 */
	check_bad_byte(&t, &b, &blob, 9, 2);     /* a bool that is not */
	check_bad_byte(&t, &b, &blob, 10, 7);    /* irq level */
	check_bad_byte(&t, &b, &blob, 10, 0);    /* level contradicting pending RX */
	check_bad_byte(&t, &b, &blob, 11, 200);  /* more than the FIFO */
	sbuf_free(&blob);
	uart_destroy(&a);
	uart_destroy(&b);
}

/* ---- i8042 ---- */
static void k_save(void *d, struct sbuf *o) { i8042_save(d, o); }
static int k_load(void *d, struct sreader *i, uint32_t v, char *e, size_t n)
{
	return i8042_load(d, i, v, e, n);
}

static void test_i8042_state(void **state)
{
	const struct dut t = { k_save, k_load, I8042_STATE_VERSION };
	struct fake_irq f1, f12, g1, g12;
	struct irq_line l1, l12, m1, m12;
	struct exit_ctl ea, eb;
	struct i8042 a, b;
	struct sbuf blob;

	(void)state;
	fake_irq_init(&f1, &l1, 1);
	fake_irq_init(&f12, &l12, 12);
	fake_irq_init(&g1, &m1, 1);
	fake_irq_init(&g12, &m12, 12);
	assert_int_equal(exit_ctl_init(&ea), 0);
	assert_int_equal(exit_ctl_init(&eb), 0);
	assert_int_equal(i8042_init(&a, &ea, &l1, &l12), 0);
	assert_int_equal(i8042_init(&b, &eb, &m1, &m12), 0);
	/* Pending scancodes (Ctrl-Alt-Del), like a host request does. */
	assert_int_equal(i8042_ctrl_alt_del(&a), 0);
	check_roundtrip_and_framing(&t, &a, &b);
	blob_of(&t, &a, &blob);
	/* ram[32] outport pending kbd_param last_data last_was_cmd count ... */
	check_bad_byte(&t, &b, &blob, 36, 2);          /* last_was_cmd */
	check_bad_byte(&t, &b, &blob, 37, 17);         /* queue over 16 */
	check_bad_byte(&t, &b, &blob, 39, 0x80);       /* unknown entry flag */
	sbuf_free(&blob);
	i8042_destroy(&a);
	i8042_destroy(&b);
	exit_ctl_destroy(&ea);
	exit_ctl_destroy(&eb);
}

/* ---- rtc ---- */
static void r_save(void *d, struct sbuf *o) { rtc_save(d, o); }
static int r_load(void *d, struct sreader *i, uint32_t v, char *e, size_t n)
{
	return rtc_load(d, i, v, e, n);
}

static void test_rtc_state(void **state)
{
	const struct dut t = { r_save, r_load, RTC_STATE_VERSION };
	struct rtc a, b;
	struct sbuf blob;

	(void)state;
	assert_int_equal(rtc_init(&a), 0);
	assert_int_equal(rtc_init(&b), 0);
	rtc_cmos_set(&a, 0x40, 0x12);
	rtc_cmos_set(&a, 0x7f, 0x34);
	check_roundtrip_and_framing(&t, &a, &b);
	blob_of(&t, &a, &blob);
	check_bad_byte(&t, &b, &blob, 0, 0x80);   /* index past the CMOS */
	check_bad_byte(&t, &b, &blob, 2, 9);      /* frozen: not a bool */
	check_bad_byte(&t, &b, &blob, 10, 0x80);  /* frozen_at negative */
	sbuf_free(&blob);
	rtc_destroy(&a);
	rtc_destroy(&b);
}

/* ---- acpi_pm, boot timer, test device ---- */
static void p_save(void *d, struct sbuf *o) { acpi_pm_save(d, o); }
static int p_load(void *d, struct sreader *i, uint32_t v, char *e, size_t n)
{
	return acpi_pm_load(d, i, v, e, n);
}
static void bt_save(void *d, struct sbuf *o) { boot_timer_save(d, o); }
static int bt_load(void *d, struct sreader *i, uint32_t v, char *e, size_t n)
{
	return boot_timer_load(d, i, v, e, n);
}
static void td_save(void *d, struct sbuf *o) { test_dev_save(d, o); }
static int td_load(void *d, struct sreader *i, uint32_t v, char *e, size_t n)
{
	return test_dev_load(d, i, v, e, n);
}

static void test_small_devices_state(void **state)
{
	const struct dut tp = { p_save, p_load, ACPI_PM_STATE_VERSION };
	const struct dut tb = { bt_save, bt_load, BOOT_TIMER_STATE_VERSION };
	const struct dut tt = { td_save, td_load, TEST_DEV_STATE_VERSION };
	struct exit_ctl ea, eb;
	struct acpi_pm pa, pb;
	struct fake_irq sci_a, sci_b;
	struct irq_line line_a, line_b;
	struct io_bus bus;
	struct boot_timer ta, tb2;
	struct test_dev da, db;
	struct sbuf blob;

	(void)state;
	assert_int_equal(exit_ctl_init(&ea), 0);
	assert_int_equal(exit_ctl_init(&eb), 0);
	fake_irq_init(&sci_a, &line_a, ACPI_PM_SCI_IRQ);
	fake_irq_init(&sci_b, &line_b, ACPI_PM_SCI_IRQ);
	assert_int_equal(acpi_pm_init(&pa, &ea, &line_a), 0);
	assert_int_equal(acpi_pm_init(&pb, &eb, &line_b), 0);
	io_bus_init(&bus, IO_BUS_PIO);
	assert_int_equal(acpi_pm_register(&pa, &bus), 0);
	io_bus_seal(&bus);
	assert_true(pio_out(&bus, ACPI_PM1A_EVT + 2, 0x0120, 2));
	/* A GPE raised before the guest enables it: pending, no SCI; enabling
	 * it (a byte write, as ACPICA does) asserts the SCI. */
	acpi_pm_gpe_raise(&pa, ACPI_GPE_VMGENID);
	acpi_pm_gpe_raise(&pa, 5); /* nothing raises GPE 5: ignored */
	assert_int_equal(pio_in(&bus, ACPI_GPE0_BLK, 2, NULL), 1u << ACPI_GPE_VMGENID);
	assert_int_equal(sci_a.level, 0);
	assert_true(pio_out(&bus, ACPI_GPE0_BLK + 2, 1u << ACPI_GPE_VMGENID, 1));
	assert_int_equal(sci_a.level, 1);
	assert_int_equal(pio_in(&bus, ACPI_GPE0_BLK + 2, 1, NULL), 1u << ACPI_GPE_VMGENID);
	/* Raised and enabled, saved with the SCI up: the load drives the
	 * target's line to the same level. */
	check_roundtrip_and_framing(&tp, &pa, &pb);
	assert_int_equal(sci_b.level, 1);
	/* Writing 1 clears the status (write-0 bits stay): the SCI drops. */
	assert_true(pio_out(&bus, ACPI_GPE0_BLK, 0xfe, 1));
	assert_int_equal(sci_a.level, 1);
	assert_true(pio_out(&bus, ACPI_GPE0_BLK, 1u << ACPI_GPE_VMGENID, 1));
	assert_int_equal(sci_a.level, 0);
	assert_int_equal(pio_in(&bus, ACPI_GPE0_BLK, 4, NULL), (1u << ACPI_GPE_VMGENID) << 16);
	blob_of(&tp, &pa, &blob);
	check_bad_byte(&tp, &pb, &blob, 2, 0x02); /* status of a GPE nothing raises */
	check_bad_byte(&tp, &pb, &blob, 3, 0x80);
	sbuf_free(&blob);
	/* Version 1 (PM1a_EN alone) still loads: no GPE pending, SCI low. */
	{
		uint8_t v1[2] = { 0x20, 0x01 };
		uint16_t sts, en;

		assert_int_equal(load_bytes(&tp, &pb, v1, sizeof(v1), 1), 0);
		acpi_pm_gpe_regs(&pb, &sts, &en);
		assert_int_equal(sts, 0);
		assert_int_equal(en, 0);
		assert_int_equal(sci_b.level, 0);
	}
	acpi_pm_destroy(&pa);
	acpi_pm_destroy(&pb);

	assert_int_equal(boot_timer_init(&ta, 1), 0);
	assert_int_equal(boot_timer_init(&tb2, 1), 0);
	check_roundtrip_and_framing(&tb, &ta, &tb2);
	blob_of(&tb, &ta, &blob);
	/* A time without a trigger: no real timer is in that state. */
	check_bad_byte(&tb, &tb2, &blob, 1, 1);
	sbuf_free(&blob);

	assert_int_equal(test_dev_init(&da, &ea), 0);
	assert_int_equal(test_dev_init(&db, &eb), 0);
	check_roundtrip_and_framing(&tt, &da, &db);

	test_dev_destroy(&da);
	test_dev_destroy(&db);
	boot_timer_destroy(&ta);
	boot_timer_destroy(&tb2);
	exit_ctl_destroy(&ea);
	exit_ctl_destroy(&eb);
}

/* ---- vmgenid: the ID's address is checked, every load is a new ID ---- */
static void g_save(void *d, struct sbuf *o) { vmgenid_save(d, o); }
static int g_load(void *d, struct sreader *i, uint32_t v, char *e, size_t n)
{
	return vmgenid_load(d, i, v, e, n);
}

static void test_vmgenid_state(void **state)
{
	const struct dut tg = { g_save, g_load, VMGENID_STATE_VERSION };
	uint8_t in_mem[X86_VMGENID_LEN], before[X86_VMGENID_LEN];
	struct fake_irq sci;
	struct irq_line line;
	struct exit_ctl ec;
	struct guest_mem gm;
	struct acpi_pm pm;
	struct vmgenid a, b;
	struct sbuf blob;
	uint16_t sts, en;

	(void)state;
	assert_int_equal(exit_ctl_init(&ec), 0);
	fake_irq_init(&sci, &line, ACPI_PM_SCI_IRQ);
	assert_int_equal(acpi_pm_init(&pm, &ec, &line), 0);
	assert_int_equal(gmem_create(&gm, 2 << 20), 0);
	assert_int_equal(vmgenid_init(&a, &gm, &pm), 0);
	assert_int_equal(vmgenid_init(&b, &gm, &pm), 0);
	assert_memory_not_equal(a.id, b.id, sizeof(a.id)); /* random */
	assert_int_equal(vmgenid_publish(&a), 0);
	assert_int_equal(gmem_read(&gm, in_mem, X86_VMGENID_GPA, sizeof(in_mem)), 0);
	assert_memory_equal(in_mem, a.id, sizeof(in_mem));
	/* Nothing to tell after a boot. */
	vmgenid_notify(&a);
	acpi_pm_gpe_regs(&pm, &sts, &en);
	assert_int_equal(sts, 0);

	/* A load: a new ID (not the saved one, not b's old one), in guest
	 * memory, told to the guest exactly once. */
	blob_of(&tg, &a, &blob);
	assert_int_equal(blob.len, 8 + X86_VMGENID_LEN);
	memcpy(before, b.id, sizeof(before));
	assert_int_equal(load_bytes(&tg, &b, blob.data, blob.len, VMGENID_STATE_VERSION), 0);
	assert_memory_not_equal(b.id, a.id, sizeof(b.id));
	assert_memory_not_equal(b.id, before, sizeof(b.id));
	assert_int_equal(gmem_read(&gm, in_mem, X86_VMGENID_GPA, sizeof(in_mem)), 0);
	assert_memory_equal(in_mem, b.id, sizeof(in_mem));
	vmgenid_notify(&b);
	vmgenid_notify(&b);
	acpi_pm_gpe_regs(&pm, &sts, &en);
	assert_int_equal(sts, 1u << ACPI_GPE_VMGENID);
	assert_int_equal(sci.level, 0); /* the guest has not enabled it */

	/* Hostile: every truncation, a trailing byte, other versions, and an
	 * address other than this VM's (byte 0: the low byte of the address). */
	memcpy(before, b.id, sizeof(before));
	for (size_t n = 0; n < blob.len; n++)
		assert_int_equal(load_bytes(&tg, &b, blob.data, n, VMGENID_STATE_VERSION), -EINVAL);
	assert_int_equal(load_bytes(&tg, &b, blob.data, blob.len, 2), -ENOTSUP);
	check_bad_byte(&tg, &b, &blob, 0, 0x10);
	check_bad_byte(&tg, &b, &blob, 7, 0x80);
	assert_memory_equal(b.id, before, sizeof(before)); /* refused: untouched */
	sbuf_free(&blob);
	gmem_destroy(&gm);
	/* RAM that does not reach the ID's address: refused at creation. */
	assert_int_equal(gmem_create(&gm, 512 << 10), 0);
	assert_int_equal(vmgenid_init(&a, &gm, &pm), -EFAULT);
	gmem_destroy(&gm);
	acpi_pm_destroy(&pm);
	exit_ctl_destroy(&ec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uart_state),
		cmocka_unit_test(test_i8042_state),
		cmocka_unit_test(test_rtc_state),
		cmocka_unit_test(test_small_devices_state),
		cmocka_unit_test(test_vmgenid_state),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
