/* boot_timer.h — boot-time probe: the guest writes anything to PIO port
 * 0x440 when it reaches a milestone (e.g. its init), and bulkhead logs how
 * long it took from process start to that write.
 *
 * The first write (any width 1/2/4 at 0x440-0x443, any value) records the
 * elapsed time and logs once, at info level:
 *   "boot-timer: first guest write after X.XXX ms (process start → guest)"
 * Later writes are ignored, so a guest cannot flood the log. Reads return 0.
 *
 * Threads: io ops on vCPU threads; boot_timer_elapsed_ns() on any thread.
 */
#ifndef BH_DEVICES_BOOT_TIMER_H
#define BH_DEVICES_BOOT_TIMER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/state_buf.h"
#include "bus/io_bus.h"
#include "common/compiler.h"

#define BOOT_TIMER_PORT 0x440
#define BOOT_TIMER_LEN 4

struct boot_timer {
	pthread_mutex_t lock;
	uint64_t start_ns;   /* CLOCK_MONOTONIC at process start */
	uint64_t elapsed_ns; /* 0 until the first guest write */
	bool triggered;
};

/* `start_ns` is a CLOCK_MONOTONIC timestamp in nanoseconds taken as early as
 * possible in main(). 0 or -errno. Setup thread. */
int boot_timer_init(struct boot_timer *bt, uint64_t start_ns) BH_WUR;

/* Register [0x440, 0x444) on the PIO bus. 0 / -errno from io_bus_register.
 * Setup thread, before io_bus_seal(). */
int boot_timer_register(struct boot_timer *bt, struct io_bus *pio) BH_WUR;

/* Nanoseconds from start_ns to the first guest write; 0 if the guest has
 * not written yet (a real measurement is never 0: it is at least 1). Any
 * thread. */
uint64_t boot_timer_elapsed_ns(struct boot_timer *bt);

/* Release the mutex. The device must be unreachable (vCPUs stopped). */
void boot_timer_destroy(struct boot_timer *bt);

/* Device state for the device model's save/load (snapshots). save: the
 * guest-visible state, version 1 (lock taken; the vCPUs are parked). load:
 * validates the blob like guest input — every field in range and consistent
 * with the others (e.g. the interrupt level the registers imply) — and
 * applies it only if all of it is valid; -EINVAL/-ENOTSUP with the reason in
 * err otherwise, state untouched. */
#define BOOT_TIMER_STATE_VERSION 1
void boot_timer_save(struct boot_timer *bt, struct sbuf *out);
int boot_timer_load(struct boot_timer *bt, struct sreader *in, uint32_t version, char *err,
	     size_t errlen) BH_WUR;

#endif
