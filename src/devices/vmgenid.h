/* vmgenid.h — the VM generation ID: a 16-byte random identifier in guest
 * memory that changes whenever the VM may have been duplicated or moved back
 * in time (every restore of a snapshot, every clone), so a guest can tell
 * and must not reuse what it derived from its past (RNG state, UUIDs, nonces).
 * The contract (Microsoft's "Virtual Machine Generation ID", which Linux's
 * drivers/virt/vmgenid.c follows, Linux >= 5.18 reseeding its RNG from it):
 * the DSDT's device \_SB.VGEN (arch/x86/acpi_dsdt.h) names the ID's address
 * through ADDR; after the ID changes, the VMM raises a GPE whose method
 * notifies VGEN with 0x80 (the acpi-pm device asserts the SCI).
 *
 * The ID lives at X86_VMGENID_GPA in the e820-reserved BIOS area (the guest
 * never uses it as RAM). A fresh one is drawn from getrandom() when the model
 * is created and written into guest memory by vmgenid_publish(); a load
 * (restore) draws another one, writes it and notifies the guest when the VM
 * resumes.
 * Threads: init, publish and load on the main thread before any vCPU runs;
 * save and notify on the controlling thread (notify only raises the GPE). */
#ifndef BH_DEVICES_VMGENID_H
#define BH_DEVICES_VMGENID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/x86/layout.h"
#include "common/compiler.h"
#include "core/guest_mem.h"
#include "core/state_buf.h"
#include "devices/acpi_pm.h"

struct vmgenid {
	const struct guest_mem *mem;
	struct acpi_pm *pm;         /* raises the notification GPE */
	uint64_t gpa;               /* where the guest reads the ID */
	uint8_t id[X86_VMGENID_LEN];
	bool notify_pending;        /* a new ID the guest has not been told of */
};

/* Draw a random ID. mem and pm borrowed. 0, -EFAULT (the ID's address is
 * not guest RAM: too little memory) or -EIO (getrandom). */
int vmgenid_init(struct vmgenid *g, const struct guest_mem *mem, struct acpi_pm *pm) BH_WUR;

/* Write the current ID into guest memory (a booting VM: the guest reads it
 * when its driver starts). 0 or -EFAULT. */
int vmgenid_publish(struct vmgenid *g) BH_WUR;

/* Tell the guest about an ID it has not been told of (after a load): raise
 * the GPE once. */
void vmgenid_notify(struct vmgenid *g);

/* Device state (snapshots), version 1: the ID's guest-physical address (u64)
 * and the ID the guest had (16 bytes, for the record: the guest's copy is
 * in its memory). load: refuses an address other than this VM's (the
 * guest's tables would name one place and the VMM write another), then
 * draws a new ID different from the saved one, writes it into guest memory
 * and marks the notification pending (vmgenid_notify). -EINVAL/-ENOTSUP/
 * -EFAULT/-EIO with the reason in err, nothing applied. */
#define VMGENID_STATE_VERSION 1
void vmgenid_save(struct vmgenid *g, struct sbuf *out);
int vmgenid_load(struct vmgenid *g, struct sreader *in, uint32_t version, char *err,
		 size_t errlen) BH_WUR;

/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (the 16 bytes in order) into out. */
#define VMGENID_TEXT 37
void vmgenid_format(const uint8_t id[X86_VMGENID_LEN], char out[VMGENID_TEXT]);

#endif
