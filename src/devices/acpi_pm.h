/* acpi_pm.h — the ACPI power-management registers the FADT points at, laid
 * out like a PC chipset's PM block (ports 0x600-0x60b):
 *   0x600 PM1a_STS (2 bytes): reads 0 (no fixed events), writes ignored;
 *   0x602 PM1a_EN  (2 bytes): read/write, no effect (no fixed events);
 *   0x604 PM1a_CNT (2 bytes): reads SCI_EN (ACPI mode); a write with SLP_EN
 *         (bit 13) and SLP_TYP (bits 10-12) = 5 (S5, soft off, as DSDT \_S5
 *         says) powers the VM off;
 *   0x606 reset register (1 byte): writing ACPI_PM_RESET_VALUE resets;
 *   0x608 GPE0_STS (2 bytes): a bit per general-purpose event the VMM raised
 *         (acpi_pm_gpe_raise); writing 1 to a bit clears it;
 *   0x60a GPE0_EN  (2 bytes): read/write, which GPEs may interrupt.
 * The SCI (ISA IRQ 9, level-triggered) is asserted while any GPE is both
 * raised and enabled — the ACPI contract: the guest's handler runs the
 * DSDT's \_GPE._Exx method for the bit, then clears it. GPE registers take
 * byte and word accesses (ACPICA uses bytes). Other values are ignored: a
 * guest can do nothing else through it.
 * Thread-safety: the GPE and enable registers sit under one lock (vCPU
 * threads write them, acpi_pm_gpe_raise may run on any thread). */
#ifndef BH_DEVICES_ACPI_PM_H
#define BH_DEVICES_ACPI_PM_H

#include <pthread.h>
#include <stdint.h>

#include "arch/x86/layout.h"
#include "core/state_buf.h"
#include "bus/io_bus.h"
#include "common/compiler.h"
#include "core/exit_ctl.h"
#include "core/irq.h"

struct acpi_pm {
	struct exit_ctl *ec;
	const struct irq_line *sci; /* may be NULL (unit tests without interrupts) */
	pthread_mutex_t lock;
	uint16_t pm1_en;
	uint16_t gpe_sts, gpe_en;
	int sci_level;              /* last level driven on the SCI */
};

/* sci: the SCI line (borrowed; NULL: none). 0 or -errno (mutex). */
int acpi_pm_init(struct acpi_pm *pm, struct exit_ctl *ec, const struct irq_line *sci) BH_WUR;
void acpi_pm_destroy(struct acpi_pm *pm);
int acpi_pm_register(struct acpi_pm *pm, struct io_bus *pio) BH_WUR;

/* Raise general-purpose event `gpe` (one of ACPI_GPE0_RAISED; others are
 * ignored): its status bit is
 * set and, if the guest enabled it, the SCI asserted. A guest that has not
 * enabled it yet sees it when it does. Any thread. */
void acpi_pm_gpe_raise(struct acpi_pm *pm, unsigned gpe);

/* GPE0 status and enable registers, for tests and reports. Any thread. */
void acpi_pm_gpe_regs(struct acpi_pm *pm, uint16_t *sts, uint16_t *en);

/* Device state for the device model's save/load (snapshots). save: the
 * guest-visible state (version 2: PM1a_EN, GPE0_STS, GPE0_EN; version 1,
 * PM1a_EN alone, still loads). load: validates the blob like guest input
 * (status bits only for GPEs of ACPI_GPE0_RAISED) and applies it only if all of it is
 * valid, driving the SCI to the level the registers imply; -EINVAL/-ENOTSUP
 * with the reason in err otherwise, state untouched. */
#define ACPI_PM_STATE_VERSION 2
void acpi_pm_save(struct acpi_pm *pm, struct sbuf *out);
int acpi_pm_load(struct acpi_pm *pm, struct sreader *in, uint32_t version, char *err,
		 size_t errlen) BH_WUR;

#endif
