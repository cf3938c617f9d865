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
#include "bus/io_bus.h"
#include "common/compiler.h"
#include "core/exit_ctl.h"


struct acpi_pm {
	struct exit_ctl *ec;
	_Atomic uint16_t pm1_en;
};

void acpi_pm_init(struct acpi_pm *pm, struct exit_ctl *ec);
int acpi_pm_register(struct acpi_pm *pm, struct io_bus *pio) BH_WUR;

#endif
