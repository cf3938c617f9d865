/* acpi_pm.h — the ACPI power-management registers the FADT points at, laid
 * out like a PC chipset's PM block (ports 0x600-0x606):
 *   0x600 PM1a_STS (2 bytes): reads 0 (no wake events), writes ignored;
 *   0x602 PM1a_EN  (2 bytes): read/write, no effect (we raise no SCI);
 *   0x604 PM1a_CNT (2 bytes): reads SCI_EN (ACPI mode); a write with SLP_EN
 *         (bit 13) and SLP_TYP (bits 10-12) = 5 (S5, soft off, as DSDT \_S5
 *         says) powers the VM off;
 *   0x606 reset register (1 byte): writing ACPI_PM_RESET_VALUE resets.
 * Other values are ignored: a guest can do nothing else through it.
 * Thread-safety: PM1a_EN is the only state, a relaxed atomic. */
#ifndef BH_DEVICES_ACPI_PM_H
#define BH_DEVICES_ACPI_PM_H

#include <stdint.h>

#include "arch/x86/layout.h"
#include "core/state_buf.h"
#include "bus/io_bus.h"
#include "common/compiler.h"
#include "core/exit_ctl.h"


struct acpi_pm {
	struct exit_ctl *ec;
	_Atomic uint16_t pm1_en;
};

void acpi_pm_init(struct acpi_pm *pm, struct exit_ctl *ec);
int acpi_pm_register(struct acpi_pm *pm, struct io_bus *pio) BH_WUR;

/* Device state for the device model's save/load (snapshots). save: the
 * guest-visible state, version 1 (lock taken; the vCPUs are parked). load:
 * validates the blob like guest input — every field in range and consistent
 * with the others (e.g. the interrupt level the registers imply) — and
 * applies it only if all of it is valid; -EINVAL/-ENOTSUP with the reason in
 * err otherwise, state untouched. */
#define ACPI_PM_STATE_VERSION 1
void acpi_pm_save(struct acpi_pm *pm, struct sbuf *out);
int acpi_pm_load(struct acpi_pm *pm, struct sreader *in, uint32_t version, char *err,
	     size_t errlen) BH_WUR;

#endif
