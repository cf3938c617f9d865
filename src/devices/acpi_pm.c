/* acpi_pm.c — see acpi_pm.h. */
#include "acpi_pm.h"

#include <stdio.h>
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "common/log.h"

#define PM1_CNT_SCI_EN (1u << 0)
#define PM1_CNT_SLP_EN (1u << 13)

static void pm_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct acpi_pm *pm = opaque;
	uint8_t regs[ACPI_PM_LEN] = { 0 };
	uint16_t en = atomic_load_explicit(&pm->pm1_en, memory_order_relaxed);

	memcpy(&regs[ACPI_PM1A_EVT - ACPI_PM_BASE + 2], &en, 2);
	regs[ACPI_PM1A_CNT - ACPI_PM_BASE] = PM1_CNT_SCI_EN;
	memset(data, 0, len);
	/* The bus guarantees off + len <= ACPI_PM_LEN. */
	memcpy(data, &regs[off], len);
}

static void pm_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct acpi_pm *pm = opaque;
	uint8_t b[8] = { 0 };
	uint16_t v;

	memcpy(b, data, len);
	memcpy(&v, b, 2);
	if (off == ACPI_PM1A_EVT - ACPI_PM_BASE + 2 && len == 2) {
		atomic_store_explicit(&pm->pm1_en, v, memory_order_relaxed);
	} else if (off == ACPI_PM1A_CNT - ACPI_PM_BASE && len == 2) {
		unsigned typ = (v >> 10) & 7;

		if ((v & PM1_CNT_SLP_EN) && typ == ACPI_PM_S5_TYPE)
			exit_ctl_request(pm->ec, VM_EXIT_POWEROFF, 0, "guest powered off (ACPI S5)");
		else if (v & PM1_CNT_SLP_EN)
			bh_warn_guest("ACPI sleep type %u requested: only S5 (off) is supported",
				      typ);
	} else if (off == ACPI_PM_RESET - ACPI_PM_BASE && b[0] == ACPI_PM_RESET_VALUE) {
		exit_ctl_request(pm->ec, VM_EXIT_RESET, 0, "guest reset (ACPI reset register)");
	}
}

static const struct io_dev_ops acpi_pm_ops = { pm_read, pm_write };

void acpi_pm_init(struct acpi_pm *pm, struct exit_ctl *ec)
{
	pm->ec = ec;
	atomic_init(&pm->pm1_en, 0);
}

int acpi_pm_register(struct acpi_pm *pm, struct io_bus *pio)
{
	return io_bus_register(pio, ACPI_PM_BASE, ACPI_PM_LEN, &acpi_pm_ops, pm, "acpi-pm");
}

void acpi_pm_save(struct acpi_pm *pm, struct sbuf *out)
{
	sbuf_u16(out, atomic_load_explicit(&pm->pm1_en, memory_order_relaxed));
}

int acpi_pm_load(struct acpi_pm *pm, struct sreader *in, uint32_t version, char *err,
		 size_t errlen)
{
	uint16_t en;

	if (version != ACPI_PM_STATE_VERSION) {
		snprintf(err, errlen, "acpi-pm: state version %u unknown (this build: %u)", version,
			 ACPI_PM_STATE_VERSION);
		return -ENOTSUP;
	}
	en = sr_u16(in);
	if (sr_finish(in)) {
		snprintf(err, errlen, "acpi-pm: invalid state (truncated or trailing bytes)");
		return -EINVAL;
	}
	atomic_store_explicit(&pm->pm1_en, en, memory_order_relaxed);
	return 0;
}
