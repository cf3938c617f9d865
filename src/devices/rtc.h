/* rtc.h — MC146818-compatible CMOS real-time clock (ports 0x70 index, 0x71
 * data).
 *
 * The clock registers are computed from the host's CLOCK_REALTIME (UTC) at
 * every read, in the format register B selects (DM: binary or BCD; 24/12h,
 * PM in bit 7 of the hour). The guest cannot set the time: writes to the
 * time/date registers are accepted and ignored. Setting register B's SET bit
 * freezes the readings at that instant (as the chip stops updating) until
 * SET is cleared; the host clock then takes over again.
 * Register A reads with UIP clear (an update is never in progress, so
 * Linux's UIP polling always ends); its rate bits are writable. Register C
 * reads 0 (no interrupt is ever raised: there is no IRQ 8); register D has
 * VRT (valid RAM and time) set. 0x32 is the century (host clock).
 * Bytes 0x0e-0x7f (except 0x32) are plain CMOS RAM; the alarm registers are
 * stored too. The index is masked to 7 bits: bit 7 of an index write is the
 * NMI-disable bit and is only recorded.
 *
 * Threads: io ops on vCPU threads, state behind the device mutex.
 */
#ifndef BH_DEVICES_RTC_H
#define BH_DEVICES_RTC_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "core/state_buf.h"
#include "bus/io_bus.h"
#include "common/compiler.h"

#define RTC_BASE 0x70
#define RTC_NR_PORTS 2
#define RTC_CMOS_SIZE 128

#define RTC_REG_SECONDS 0x00
#define RTC_REG_MINUTES 0x02
#define RTC_REG_HOURS 0x04
#define RTC_REG_DAY_OF_WEEK 0x06
#define RTC_REG_DAY 0x07
#define RTC_REG_MONTH 0x08
#define RTC_REG_YEAR 0x09
#define RTC_REG_A 0x0a
#define RTC_REG_B 0x0b
#define RTC_REG_C 0x0c
#define RTC_REG_D 0x0d
#define RTC_REG_CENTURY 0x32

#define RTC_B_SET 0x80
#define RTC_B_DM_BINARY 0x04
#define RTC_B_24H 0x02
#define RTC_A_UIP 0x80
#define RTC_D_VRT 0x80

struct rtc {
	pthread_mutex_t lock;
	uint8_t index;
	bool nmi_disabled;
	bool frozen;           /* register B SET: readings held at frozen_at */
	time_t frozen_at;
	uint8_t cmos[RTC_CMOS_SIZE];
};

/* Initialise: register A = 0x26 (32.768 kHz, 1024 Hz), register B = 0x02
 * (24h, BCD), CMOS RAM zeroed. 0 or -errno. Setup thread. */
int rtc_init(struct rtc *r) BH_WUR;

/* Preset a CMOS RAM byte (e.g. memory size for firmware) before the guest
 * runs. `idx` is masked to 7 bits; only plain RAM (0x0e-0x7f except the
 * century, 0x32) can be preset, other indices are ignored. Setup thread. */
void rtc_cmos_set(struct rtc *r, uint8_t idx, uint8_t val);

/* Register ports 0x70-0x71. 0 / -errno from io_bus_register. Setup thread,
 * before io_bus_seal(). */
int rtc_register(struct rtc *r, struct io_bus *pio) BH_WUR;

/* Release the mutex. The device must be unreachable (vCPUs stopped). */
void rtc_destroy(struct rtc *r);

/* Device state for the device model's save/load (snapshots). save: the
 * guest-visible state, version 1 (lock taken; the vCPUs are parked). load:
 * validates the blob like guest input — every field in range and consistent
 * with the others (e.g. the interrupt level the registers imply) — and
 * applies it only if all of it is valid; -EINVAL/-ENOTSUP with the reason in
 * err otherwise, state untouched. */
#define RTC_STATE_VERSION 1
void rtc_save(struct rtc *r, struct sbuf *out);
int rtc_load(struct rtc *r, struct sreader *in, uint32_t version, char *err,
	     size_t errlen) BH_WUR;

#endif
