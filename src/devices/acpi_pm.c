/* acpi_pm.c — see acpi_pm.h. */
#include "acpi_pm.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"

#define PM1_CNT_SCI_EN (1u << 0)
#define PM1_CNT_SLP_EN (1u << 13)
#define GPE_STS_OFF (ACPI_GPE0_BLK - ACPI_PM_BASE)
#define GPE_EN_OFF (GPE_STS_OFF + ACPI_GPE0_BLK_LEN / 2)

_Static_assert(ACPI_GPE0_COUNT == 8 * ACPI_GPE0_BLK_LEN / 2, "one STS and one EN bit per GPE");
_Static_assert(GPE_EN_OFF + 2 == ACPI_PM_LEN, "the GPE block ends the PM block");

/* Lock held: drive the SCI to what the registers say (only on a change). */
static void update_sci(struct acpi_pm *pm)
{
	int level = (pm->gpe_sts & pm->gpe_en) != 0;

	if (level != pm->sci_level) {
		pm->sci_level = level;
		irq_line_set(pm->sci, level);
	}
}

static void pm_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct acpi_pm *pm = opaque;
	uint8_t regs[ACPI_PM_LEN] = { 0 };

	pthread_mutex_lock(&pm->lock);
	memcpy(&regs[ACPI_PM1A_EVT - ACPI_PM_BASE + 2], &pm->pm1_en, 2);
	memcpy(&regs[GPE_STS_OFF], &pm->gpe_sts, 2);
	memcpy(&regs[GPE_EN_OFF], &pm->gpe_en, 2);
	pthread_mutex_unlock(&pm->lock);
	regs[ACPI_PM1A_CNT - ACPI_PM_BASE] = PM1_CNT_SCI_EN;
	memset(data, 0, len);
	/* The bus guarantees off + len <= ACPI_PM_LEN. */
	memcpy(data, &regs[off], len);
}

/* Lock held: a byte or word write into the GPE block at block offset off. */
static void gpe_write(struct acpi_pm *pm, uint64_t off, const uint8_t *b, uint32_t len)
{
	for (uint32_t i = 0; i < len && off + i < ACPI_PM_LEN; i++) {
		uint64_t o = off + i;

		if (o < GPE_EN_OFF) /* status: write 1 to clear */
			pm->gpe_sts &= (uint16_t)~((unsigned)b[i] << (8 * (o - GPE_STS_OFF)));
		else
			pm->gpe_en = (uint16_t)((pm->gpe_en & ~(0xffu << (8 * (o - GPE_EN_OFF)))) |
						((unsigned)b[i] << (8 * (o - GPE_EN_OFF))));
	}
	update_sci(pm);
}

static void pm_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct acpi_pm *pm = opaque;
	uint8_t b[8] = { 0 };
	uint16_t v;

	memcpy(b, data, len < sizeof(b) ? len : sizeof(b));
	memcpy(&v, b, 2);
	if (off >= GPE_STS_OFF) {
		pthread_mutex_lock(&pm->lock);
		gpe_write(pm, off, b, len);
		pthread_mutex_unlock(&pm->lock);
	} else if (off == ACPI_PM1A_EVT - ACPI_PM_BASE + 2 && len == 2) {
		pthread_mutex_lock(&pm->lock);
		pm->pm1_en = v;
		pthread_mutex_unlock(&pm->lock);
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

int acpi_pm_init(struct acpi_pm *pm, struct exit_ctl *ec, const struct irq_line *sci)
{
	int ret;

	memset(pm, 0, sizeof(*pm));
	pm->ec = ec;
	pm->sci = sci;
	if ((ret = pthread_mutex_init(&pm->lock, NULL)))
		return -ret;
	return 0;
}

void acpi_pm_destroy(struct acpi_pm *pm)
{
	pthread_mutex_destroy(&pm->lock);
}

int acpi_pm_register(struct acpi_pm *pm, struct io_bus *pio)
{
	return io_bus_register(pio, ACPI_PM_BASE, ACPI_PM_LEN, &acpi_pm_ops, pm, "acpi-pm");
}

void acpi_pm_gpe_raise(struct acpi_pm *pm, unsigned gpe)
{
	if (gpe >= ACPI_GPE0_COUNT || !(ACPI_GPE0_RAISED & (1u << gpe)))
		return;
	pthread_mutex_lock(&pm->lock);
	pm->gpe_sts |= (uint16_t)(1u << gpe);
	update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
}

void acpi_pm_gpe_regs(struct acpi_pm *pm, uint16_t *sts, uint16_t *en)
{
	pthread_mutex_lock(&pm->lock);
	*sts = pm->gpe_sts;
	*en = pm->gpe_en;
	pthread_mutex_unlock(&pm->lock);
}

void acpi_pm_save(struct acpi_pm *pm, struct sbuf *out)
{
	pthread_mutex_lock(&pm->lock);
	sbuf_u16(out, pm->pm1_en);
	sbuf_u16(out, pm->gpe_sts);
	sbuf_u16(out, pm->gpe_en);
	pthread_mutex_unlock(&pm->lock);
}

int acpi_pm_load(struct acpi_pm *pm, struct sreader *in, uint32_t version, char *err,
		 size_t errlen)
{
	uint16_t en, sts = 0, gen = 0;

	if (version != 1 && version != ACPI_PM_STATE_VERSION) {
		snprintf(err, errlen, "acpi-pm: state version %u unknown (this build: 1-%u)",
			 version, ACPI_PM_STATE_VERSION);
		return -ENOTSUP;
	}
	en = sr_u16(in);
	if (version >= 2) {
		sts = sr_u16(in);
		gen = sr_u16(in);
	}
	if (sr_finish(in)) {
		snprintf(err, errlen, "acpi-pm: invalid state (truncated or trailing bytes)");
		return -EINVAL;
	}
	/* The guest may enable any GPE, but only the VMM sets status bits, and
	 * only those of ACPI_GPE0_RAISED. */
	if (sts & ~ACPI_GPE0_RAISED) {
		snprintf(err, errlen, "acpi-pm: GPE0 status 0x%04x names events nothing raises "
			 "(only 0x%04x exist)", sts, ACPI_GPE0_RAISED);
		return -EINVAL;
	}
	pthread_mutex_lock(&pm->lock);
	pm->pm1_en = en;
	pm->gpe_sts = sts;
	pm->gpe_en = gen;
	pm->sci_level = -1; /* drive it whatever it was */
	update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
	return 0;
}
