/* test_dev.h — the test device: how freestanding test guests report to the
 * host. Only present when `bulkhead run --test-device` is given.
 *
 * PIO ports (base 0xf0):
 *   0xf0  out 4 bytes: check-in. The host records that the vCPU which did the
 *         write checked in (value ignored); at VM exit bulkhead prints
 *         "test-device: N vCPUs checked in" on stderr.
 *   0xf4  out 1/4 bytes: exit with status S. The VM stops; bulkhead exits 0
 *         if S == 0, else with the "guest reported failure" code and prints S.
 *   0xf8  out 4 bytes: value log. The host prints "test-device: value 0x%x"
 *         (rate-limited). in 4 bytes: returns the magic 0x42484b54 ("BHKT").
 */
#ifndef BH_TEST_DEV_H
#define BH_TEST_DEV_H

#define TEST_DEV_BASE 0xf0
#define TEST_DEV_LEN 0x0c
#define TEST_DEV_PORT_CHECKIN 0xf0
#define TEST_DEV_PORT_EXIT 0xf4
#define TEST_DEV_PORT_VALUE 0xf8
#define TEST_DEV_MAGIC 0x42484b54u

/* Implementation (test_dev.c).
 *
 * Accesses, by offset from TEST_DEV_BASE: writes at 0 check in (any width),
 * at 4 exit with the written value (1/2/4 bytes, zero-extended) as status,
 * at 8 log the value (rate-limited, per device). Reads at 8 return
 * TEST_DEV_MAGIC (truncated to the access width); every other read returns
 * all-ones and every other write is ignored with a rate-limited warning.
 *
 * Threads: io ops on vCPU threads (check-in identifies the caller through
 * vcpu_self_index()); test_dev_checked_in() on any thread.
 */
#include <pthread.h>
#include <stdint.h>

#include "core/state_buf.h"
#include "bus/io_bus.h"
#include "common/compiler.h"
#include "common/log.h"
#include "core/exit_ctl.h"

#define TEST_DEV_MAX_VCPUS 256

struct test_dev {
	pthread_mutex_t lock;
	struct exit_ctl *ec;
	uint64_t checked[TEST_DEV_MAX_VCPUS / 64]; /* bit i: vCPU i checked in */
	struct bh_ratelimit value_rl;              /* per device, not per process */
};

/* `ec` (borrowed, must outlive the device) receives the exit request.
 * 0 or -errno. Setup thread. */
int test_dev_init(struct test_dev *td, struct exit_ctl *ec) BH_WUR;

/* Register [TEST_DEV_BASE, TEST_DEV_BASE + TEST_DEV_LEN) on the PIO bus.
 * 0 / -errno from io_bus_register. Setup thread, before io_bus_seal(). */
int test_dev_register(struct test_dev *td, struct io_bus *pio) BH_WUR;

/* Number of distinct vCPUs (index 0..TEST_DEV_MAX_VCPUS-1) that checked in;
 * a vCPU that checks in twice counts once, writes from threads that are not
 * vCPUs or have an index out of range are not counted. Any thread. */
unsigned test_dev_checked_in(struct test_dev *td);

/* Release the mutex. The device must be unreachable (vCPUs stopped). */
void test_dev_destroy(struct test_dev *td);

/* Device state for the device model's save/load (snapshots). save: the
 * guest-visible state, version 1 (lock taken; the vCPUs are parked). load:
 * validates the blob like guest input — every field in range and consistent
 * with the others (e.g. the interrupt level the registers imply) — and
 * applies it only if all of it is valid; -EINVAL/-ENOTSUP with the reason in
 * err otherwise, state untouched. */
#define TEST_DEV_STATE_VERSION 1
void test_dev_save(struct test_dev *td, struct sbuf *out);
int test_dev_load(struct test_dev *td, struct sreader *in, uint32_t version, char *err,
	     size_t errlen) BH_WUR;

#endif
