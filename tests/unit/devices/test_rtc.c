/* test_rtc.c — unit tests for the CMOS RTC, driven through a real sealed
 * io_bus: the date the guest reads must be the host's UTC date. */
#include "dev_fakes.h"

#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "devices/rtc.h"

struct fx {
	struct io_bus pio;
	struct rtc r;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	io_bus_init(&f->pio, IO_BUS_PIO);
	assert_int_equal(rtc_init(&f->r), 0);
	assert_int_equal(rtc_register(&f->r, &f->pio), 0);
	io_bus_seal(&f->pio);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	rtc_destroy(&f->r);
	free(f);
	return 0;
}

static uint8_t cmos_read(struct fx *f, uint8_t idx)
{
	outb(&f->pio, 0x70, idx);
	return inb(&f->pio, 0x71);
}

static void cmos_write(struct fx *f, uint8_t idx, uint8_t v)
{
	outb(&f->pio, 0x70, idx);
	outb(&f->pio, 0x71, v);
}

static unsigned from_bcd(uint8_t v)
{
	/* every digit must be a decimal digit */
	assert_true((v & 0x0f) <= 9);
	assert_true((v >> 4) <= 9);
	return (v >> 4) * 10 + (v & 0x0f);
}

/* Read the clock the way Linux's mc146818_get_time does (retry if the
 * second changed under us) and convert it to a time_t. */
static time_t read_rtc_time(struct fx *f, bool bcd, bool h24, unsigned *wday)
{
	for (int tries = 0; tries < 5; tries++) {
		uint8_t sec = cmos_read(f, RTC_REG_SECONDS);
		uint8_t min = cmos_read(f, RTC_REG_MINUTES);
		uint8_t hour = cmos_read(f, RTC_REG_HOURS);
		uint8_t dow = cmos_read(f, RTC_REG_DAY_OF_WEEK);
		uint8_t day = cmos_read(f, RTC_REG_DAY);
		uint8_t mon = cmos_read(f, RTC_REG_MONTH);
		uint8_t year = cmos_read(f, RTC_REG_YEAR);
		uint8_t cent = cmos_read(f, RTC_REG_CENTURY);
		bool pm = false;
		struct tm tm = { 0 };

		assert_int_equal(cmos_read(f, RTC_REG_A) & RTC_A_UIP, 0);
		if (sec != cmos_read(f, RTC_REG_SECONDS))
			continue;
		if (!h24) {
			pm = hour & 0x80;
			hour &= 0x7f;
		}
#define CONV(x) (bcd ? from_bcd(x) : (unsigned)(x))
		tm.tm_sec = (int)CONV(sec);
		tm.tm_min = (int)CONV(min);
		tm.tm_hour = (int)CONV(hour);
		if (!h24) {
			assert_true(tm.tm_hour >= 1 && tm.tm_hour <= 12);
			tm.tm_hour = tm.tm_hour % 12 + (pm ? 12 : 0);
		}
		tm.tm_mday = (int)CONV(day);
		tm.tm_mon = (int)CONV(mon) - 1;
		tm.tm_year = (int)(CONV(cent) * 100 + CONV(year)) - 1900;
		*wday = CONV(dow);
#undef CONV
		return timegm(&tm);
	}
	fail_msg("RTC seconds kept changing");
	return 0;
}

static void check_mode(struct fx *f, uint8_t reg_b, bool bcd, bool h24)
{
	time_t host, guest;
	unsigned wday;
	struct tm tm;

	cmos_write(f, RTC_REG_B, reg_b);
	assert_int_equal(cmos_read(f, RTC_REG_B), reg_b);
	host = time(NULL);
	guest = read_rtc_time(f, bcd, h24, &wday);
	assert_true(guest - host >= -2 && guest - host <= 2);
	assert_non_null(gmtime_r(&guest, &tm));
	assert_int_equal(wday, (unsigned)tm.tm_wday + 1);
}

static void test_date_bcd_24h(void **state)
{
	struct fx *f = *state;

	assert_int_equal(cmos_read(f, RTC_REG_B), RTC_B_24H); /* reset: BCD, 24h */
	check_mode(f, RTC_B_24H, true, true);
}

static void test_date_binary_24h(void **state)
{
	check_mode(*state, RTC_B_24H | RTC_B_DM_BINARY, false, true);
}

static void test_date_bcd_12h(void **state)
{
	check_mode(*state, 0x00, true, false);
}

static void test_date_binary_12h(void **state)
{
	check_mode(*state, RTC_B_DM_BINARY, false, false);
}

static void test_status_registers(void **state)
{
	struct fx *f = *state;

	assert_int_equal(cmos_read(f, RTC_REG_A), 0x26);
	cmos_write(f, RTC_REG_A, 0xff); /* UIP is read-only */
	assert_int_equal(cmos_read(f, RTC_REG_A), 0x7f);
	assert_int_equal(cmos_read(f, RTC_REG_C), 0x00);
	cmos_write(f, RTC_REG_C, 0xff);
	assert_int_equal(cmos_read(f, RTC_REG_C), 0x00);
	assert_int_equal(cmos_read(f, RTC_REG_D), RTC_D_VRT);
	cmos_write(f, RTC_REG_D, 0x00);
	assert_int_equal(cmos_read(f, RTC_REG_D), RTC_D_VRT);
}

/* The guest cannot set the time; SET freezes the readings. */
static void test_time_writes_and_set_bit(void **state)
{
	struct fx *f = *state;
	time_t host;
	unsigned wday;
	uint8_t frozen[3];

	cmos_write(f, RTC_REG_B, RTC_B_24H | RTC_B_DM_BINARY | RTC_B_SET);
	assert_int_equal(cmos_read(f, RTC_REG_B), RTC_B_24H | RTC_B_DM_BINARY | RTC_B_SET);
	cmos_write(f, RTC_REG_YEAR, 70);
	cmos_write(f, RTC_REG_CENTURY, 19);
	cmos_write(f, RTC_REG_SECONDS, 0);
	frozen[0] = cmos_read(f, RTC_REG_SECONDS);
	frozen[1] = cmos_read(f, RTC_REG_MINUTES);
	frozen[2] = cmos_read(f, RTC_REG_HOURS);
	usleep(1100 * 1000);
	assert_int_equal(cmos_read(f, RTC_REG_SECONDS), frozen[0]);
	assert_int_equal(cmos_read(f, RTC_REG_MINUTES), frozen[1]);
	assert_int_equal(cmos_read(f, RTC_REG_HOURS), frozen[2]);
	assert_int_not_equal(cmos_read(f, RTC_REG_CENTURY), 19); /* write ignored */

	cmos_write(f, RTC_REG_B, RTC_B_24H | RTC_B_DM_BINARY); /* resume */
	host = time(NULL);
	{
		time_t guest = read_rtc_time(f, false, true, &wday);

		assert_true(guest - host >= -2 && guest - host <= 2);
	}
}

static void test_cmos_ram_and_index_mask(void **state)
{
	struct fx *f = *state;

	for (unsigned i = 0x0e; i < RTC_CMOS_SIZE; i++)
		if (i != RTC_REG_CENTURY)
			cmos_write(f, (uint8_t)i, (uint8_t)(i ^ 0x5a));
	for (unsigned i = 0x0e; i < RTC_CMOS_SIZE; i++)
		if (i != RTC_REG_CENTURY)
			assert_int_equal(cmos_read(f, (uint8_t)i), (uint8_t)(i ^ 0x5a));

	/* bit 7 of the index is NMI-disable, not part of the index */
	cmos_write(f, 0x80 | 0x0e, 0xab);
	assert_true(f->r.nmi_disabled);
	assert_int_equal(cmos_read(f, 0x0e), 0xab);
	assert_false(f->r.nmi_disabled);
	cmos_write(f, 0xff, 0xcd);
	assert_int_equal(cmos_read(f, 0x7f), 0xcd);
	assert_int_equal(cmos_read(f, 0x80 | RTC_REG_D), RTC_D_VRT);
	/* every index, read and written, stays in bounds (ASan) */
	for (unsigned i = 0; i < 256; i++) {
		outb(&f->pio, 0x70, (uint8_t)i);
		(void)inb(&f->pio, 0x71);
	}
	/* alarms are plain storage */
	cmos_write(f, 0x01, 0x30);
	assert_int_equal(cmos_read(f, 0x01), 0x30);
	/* setup-time preset */
	rtc_cmos_set(&f->r, 0x34, 0x12);
	rtc_cmos_set(&f->r, RTC_REG_B, 0xff); /* not RAM: ignored */
	assert_int_equal(cmos_read(f, 0x34), 0x12);
	assert_int_equal(cmos_read(f, RTC_REG_B), RTC_B_24H);
}

static void test_widths(void **state)
{
	struct fx *f = *state;
	bool c;

	/* a 2-byte write at 0x70 is index then data */
	assert_true(pio_out(&f->pio, 0x70, 0x7700 | 0x20, 2));
	assert_int_equal(cmos_read(f, 0x20), 0x77);
	/* a 2-byte read at 0x70: index port floats high, then data */
	outb(&f->pio, 0x70, 0x20);
	assert_int_equal(pio_in(&f->pio, 0x70, 2, &c), 0x77ff);
	assert_true(c);
	/* past the end of the 2-port window: not ours */
	assert_int_equal(pio_in(&f->pio, 0x70, 4, &c), 0xffffffffu);
	assert_false(c);
	assert_false(pio_out(&f->pio, 0x71, 0x1234, 2));
	assert_int_equal(cmos_read(f, 0x20), 0x77);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_date_bcd_24h, setup, teardown),
		cmocka_unit_test_setup_teardown(test_date_binary_24h, setup, teardown),
		cmocka_unit_test_setup_teardown(test_date_bcd_12h, setup, teardown),
		cmocka_unit_test_setup_teardown(test_date_binary_12h, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_registers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_time_writes_and_set_bit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cmos_ram_and_index_mask, setup, teardown),
		cmocka_unit_test_setup_teardown(test_widths, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
