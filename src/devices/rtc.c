/* rtc.c — MC146818 CMOS RTC backed by the host clock; see rtc.h. */
#include "rtc.h"

#include <stdio.h>
#include <errno.h>
#include <string.h>

static uint8_t rtc_to_bcd(unsigned v)
{
	return (uint8_t)(((v / 10) << 4) | (v % 10));
}

static uint8_t rtc_encode(const struct rtc *r, unsigned v)
{
	return (r->cmos[RTC_REG_B] & RTC_B_DM_BINARY) ? (uint8_t)v : rtc_to_bcd(v % 100);
}

static time_t rtc_now(const struct rtc *r)
{
	struct timespec ts;

	if (r->frozen)
		return r->frozen_at;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec;
}

static uint8_t rtc_hour(const struct rtc *r, unsigned h)
{
	unsigned h12;

	if (r->cmos[RTC_REG_B] & RTC_B_24H)
		return rtc_encode(r, h);
	h12 = h % 12 ? h % 12 : 12;
	return (uint8_t)(rtc_encode(r, h12) | (h >= 12 ? 0x80 : 0));
}

/* Value of a clock register, or -1 if `idx` is plain storage. */
static int rtc_clock_reg(const struct rtc *r, uint8_t idx)
{
	time_t now;
	struct tm tm;

	switch (idx) {
	case RTC_REG_SECONDS:
	case RTC_REG_MINUTES:
	case RTC_REG_HOURS:
	case RTC_REG_DAY_OF_WEEK:
	case RTC_REG_DAY:
	case RTC_REG_MONTH:
	case RTC_REG_YEAR:
	case RTC_REG_CENTURY:
		break;
	default:
		return -1;
	}
	now = rtc_now(r);
	if (!gmtime_r(&now, &tm))
		memset(&tm, 0, sizeof(tm));
	switch (idx) {
	case RTC_REG_SECONDS:
		/* A leap second (60) would look invalid to the guest. */
		return rtc_encode(r, (unsigned)(tm.tm_sec > 59 ? 59 : tm.tm_sec));
	case RTC_REG_MINUTES:
		return rtc_encode(r, (unsigned)tm.tm_min);
	case RTC_REG_HOURS:
		return rtc_hour(r, (unsigned)tm.tm_hour);
	case RTC_REG_DAY_OF_WEEK:
		return rtc_encode(r, (unsigned)tm.tm_wday + 1); /* 1 = Sunday */
	case RTC_REG_DAY:
		return rtc_encode(r, (unsigned)tm.tm_mday);
	case RTC_REG_MONTH:
		return rtc_encode(r, (unsigned)tm.tm_mon + 1);
	case RTC_REG_YEAR:
		return rtc_encode(r, (unsigned)(tm.tm_year + 1900) % 100);
	default: /* RTC_REG_CENTURY */
		return rtc_encode(r, (unsigned)(tm.tm_year + 1900) / 100 % 100);
	}
}

static uint8_t rtc_read_data(struct rtc *r)
{
	uint8_t idx = r->index;
	int v = rtc_clock_reg(r, idx);

	if (v >= 0)
		return (uint8_t)v;
	switch (idx) {
	case RTC_REG_A:
		return r->cmos[RTC_REG_A] & (uint8_t)~RTC_A_UIP;
	case RTC_REG_C:
		return 0; /* no interrupt flags: no IRQ 8 source */
	case RTC_REG_D:
		return RTC_D_VRT;
	default:
		return r->cmos[idx];
	}
}

static void rtc_write_data(struct rtc *r, uint8_t v)
{
	uint8_t idx = r->index;

	if (rtc_clock_reg(r, idx) >= 0)
		return; /* the guest does not set the host's time */
	switch (idx) {
	case RTC_REG_A:
		r->cmos[RTC_REG_A] = v & (uint8_t)~RTC_A_UIP;
		break;
	case RTC_REG_B:
		if ((v & RTC_B_SET) && !r->frozen) {
			r->frozen_at = rtc_now(r);
			r->frozen = true;
		} else if (!(v & RTC_B_SET)) {
			r->frozen = false;
		}
		r->cmos[RTC_REG_B] = v;
		break;
	case RTC_REG_C:
	case RTC_REG_D:
		break; /* read-only */
	default:
		r->cmos[idx] = v;
		break;
	}
}

static uint8_t rtc_access(struct rtc *r, uint64_t port, const uint8_t *wr)
{
	uint8_t v = 0xff;

	if (port == 0) {
		if (wr) {
			r->index = *wr & (RTC_CMOS_SIZE - 1);
			r->nmi_disabled = (*wr & 0x80) != 0;
		}
		/* The index port is write-only: reads float high. */
	} else if (port == 1) {
		if (wr)
			rtc_write_data(r, *wr);
		else
			v = rtc_read_data(r);
	}
	return v;
}

/* A 2-byte access at 0x70 is split into index then data, as the chipset
 * does for an 8-bit device; io_bus keeps offset + len <= 2. */
static void rtc_io_read(void *opaque, uint64_t offset, void *data, uint32_t len)
{
	struct rtc *r = opaque;
	uint8_t *d = data;

	pthread_mutex_lock(&r->lock);
	for (uint32_t i = 0; i < len; i++)
		d[i] = rtc_access(r, offset + i, NULL);
	pthread_mutex_unlock(&r->lock);
}

static void rtc_io_write(void *opaque, uint64_t offset, const void *data, uint32_t len)
{
	struct rtc *r = opaque;
	const uint8_t *d = data;

	pthread_mutex_lock(&r->lock);
	for (uint32_t i = 0; i < len; i++)
		(void)rtc_access(r, offset + i, &d[i]);
	pthread_mutex_unlock(&r->lock);
}

static const struct io_dev_ops rtc_ops = {
	.read = rtc_io_read,
	.write = rtc_io_write,
};

int rtc_init(struct rtc *r)
{
	int rc;

	memset(r, 0, sizeof(*r));
	rc = pthread_mutex_init(&r->lock, NULL);
	if (rc)
		return -rc;
	r->cmos[RTC_REG_A] = 0x26;
	r->cmos[RTC_REG_B] = RTC_B_24H;
	return 0;
}

void rtc_cmos_set(struct rtc *r, uint8_t idx, uint8_t val)
{
	idx &= RTC_CMOS_SIZE - 1;
	pthread_mutex_lock(&r->lock);
	if (idx >= 0x0e && idx != RTC_REG_CENTURY)
		r->cmos[idx] = val;
	pthread_mutex_unlock(&r->lock);
}

int rtc_register(struct rtc *r, struct io_bus *pio)
{
	return io_bus_register(pio, RTC_BASE, RTC_NR_PORTS, &rtc_ops, r, "cmos-rtc");
}

void rtc_destroy(struct rtc *r)
{
	pthread_mutex_destroy(&r->lock);
}

void rtc_save(struct rtc *r, struct sbuf *out)
{
	pthread_mutex_lock(&r->lock);
	sbuf_u8(out, r->index);
	sbuf_u8(out, r->nmi_disabled);
	sbuf_u8(out, r->frozen);
	sbuf_u64(out, (uint64_t)(int64_t)r->frozen_at);
	sbuf_put(out, r->cmos, sizeof(r->cmos));
	pthread_mutex_unlock(&r->lock);
}

int rtc_load(struct rtc *r, struct sreader *in, uint32_t version, char *err, size_t errlen)
{
	uint8_t index, cmos[RTC_CMOS_SIZE];
	bool nmi, frozen;
	int64_t at;

	if (version != RTC_STATE_VERSION) {
		snprintf(err, errlen, "rtc: state version %u unknown (this build: %u)", version,
			 RTC_STATE_VERSION);
		return -ENOTSUP;
	}
	index = sr_u8(in);
	nmi = sr_bool(in);
	frozen = sr_bool(in);
	at = (int64_t)sr_u64(in);
	sr_get(in, cmos, sizeof(cmos));
	/* The clock registers are computed from the host clock at read time;
	 * a frozen reading must be a time gmtime can represent. */
	if (sr_finish(in) || index >= RTC_CMOS_SIZE || at < 0 || at > (int64_t)1 << 40) {
		snprintf(err, errlen, "rtc: invalid state (truncated, trailing bytes, index "
			 "past the CMOS or an impossible frozen time)");
		return -EINVAL;
	}
	pthread_mutex_lock(&r->lock);
	r->index = index;
	r->nmi_disabled = nmi;
	r->frozen = frozen;
	r->frozen_at = (time_t)at;
	memcpy(r->cmos, cmos, sizeof(cmos));
	pthread_mutex_unlock(&r->lock);
	return 0;
}
