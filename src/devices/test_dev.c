/* test_dev.c — the test device freestanding test guests report through;
 * see test_dev.h for the protocol and the contract. */
#include "test_dev.h"

#include <stdio.h>
#include <errno.h>
#include <string.h>

#include "core/vcpu_self.h"

enum {
	TD_OFF_CHECKIN = TEST_DEV_PORT_CHECKIN - TEST_DEV_BASE,
	TD_OFF_EXIT = TEST_DEV_PORT_EXIT - TEST_DEV_BASE,
	TD_OFF_VALUE = TEST_DEV_PORT_VALUE - TEST_DEV_BASE,
};

static uint32_t td_value(const void *data, uint32_t len)
{
	uint8_t b[4] = { 0 };

	memcpy(b, data, len < 4 ? len : 4);
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	       (uint32_t)b[3] << 24;
}

static void test_dev_io_read(void *opaque, uint64_t offset, void *data, uint32_t len)
{
	uint8_t magic[4] = { TEST_DEV_MAGIC & 0xff, (TEST_DEV_MAGIC >> 8) & 0xff,
			     (TEST_DEV_MAGIC >> 16) & 0xff, TEST_DEV_MAGIC >> 24 };

	(void)opaque;
	memset(data, 0xff, len);
	if (offset == TD_OFF_VALUE)
		memcpy(data, magic, len < 4 ? len : 4);
}

static void test_dev_checkin(struct test_dev *td)
{
	int idx = vcpu_self_index();

	if (idx < 0 || idx >= TEST_DEV_MAX_VCPUS) {
		bh_warn_guest("test-device: check-in from vCPU index %d ignored", idx);
		return;
	}
	pthread_mutex_lock(&td->lock);
	td->checked[idx / 64] |= 1ull << (idx % 64);
	pthread_mutex_unlock(&td->lock);
}

static void test_dev_io_write(void *opaque, uint64_t offset, const void *data, uint32_t len)
{
	struct test_dev *td = opaque;
	uint32_t v = td_value(data, len);

	switch (offset) {
	case TD_OFF_CHECKIN:
		test_dev_checkin(td);
		break;
	case TD_OFF_EXIT:
		exit_ctl_request(td->ec, VM_EXIT_TEST, (int)v, "guest test status %u", v);
		break;
	case TD_OFF_VALUE:
		if (bh_ratelimit_ok(&td->value_rl, 10, 1000))
			bh_info("test-device: value 0x%x", v);
		break;
	default:
		bh_warn_guest("test-device: write at offset %llu ignored",
			      (unsigned long long)offset);
		break;
	}
}

static const struct io_dev_ops test_dev_ops = {
	.read = test_dev_io_read,
	.write = test_dev_io_write,
};

int test_dev_init(struct test_dev *td, struct exit_ctl *ec)
{
	int rc;

	memset(td, 0, sizeof(*td));
	rc = pthread_mutex_init(&td->lock, NULL);
	if (rc)
		return -rc;
	td->ec = ec;
	return 0;
}

int test_dev_register(struct test_dev *td, struct io_bus *pio)
{
	return io_bus_register(pio, TEST_DEV_BASE, TEST_DEV_LEN, &test_dev_ops, td, "test-dev");
}

unsigned test_dev_checked_in(struct test_dev *td)
{
	unsigned n = 0;

	pthread_mutex_lock(&td->lock);
	for (size_t i = 0; i < BH_ARRAY_SIZE(td->checked); i++)
		n += (unsigned)__builtin_popcountll(td->checked[i]);
	pthread_mutex_unlock(&td->lock);
	return n;
}

void test_dev_destroy(struct test_dev *td)
{
	pthread_mutex_destroy(&td->lock);
}

void test_dev_save(struct test_dev *td, struct sbuf *out)
{
	pthread_mutex_lock(&td->lock);
	for (unsigned i = 0; i < BH_ARRAY_SIZE(td->checked); i++)
		sbuf_u64(out, td->checked[i]);
	pthread_mutex_unlock(&td->lock);
}

int test_dev_load(struct test_dev *td, struct sreader *in, uint32_t version, char *err,
		  size_t errlen)
{
	uint64_t checked[BH_ARRAY_SIZE(td->checked)];

	if (version != TEST_DEV_STATE_VERSION) {
		snprintf(err, errlen, "test-device: state version %u unknown (this build: %u)",
			 version, TEST_DEV_STATE_VERSION);
		return -ENOTSUP;
	}
	for (unsigned i = 0; i < BH_ARRAY_SIZE(checked); i++)
		checked[i] = sr_u64(in);
	if (sr_finish(in)) {
		snprintf(err, errlen, "test-device: invalid state (truncated or trailing bytes)");
		return -EINVAL;
	}
	pthread_mutex_lock(&td->lock);
	memcpy(td->checked, checked, sizeof(checked));
	pthread_mutex_unlock(&td->lock);
	return 0;
}
