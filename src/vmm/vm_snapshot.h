/* vm_snapshot.h — saving a VM into snapshot files and restoring one from
 * them (the format: snapshot/snap_format.h). The VMM never opens a path
 * (it is jailed): the files arrive as descriptors, opened by the CLI or the
 * daemon, which also write the manifest and rename the files into place
 * (snapshot/snap_manifest.h, docs/snapshots.md).
 *
 * vm_snapshot_save(): the VM must be paused (vm_pause: vCPUs parked,
 * devices quiesced). Writes the state file to state_fd from offset 0 (the
 * header, the configuration as JSON, the CPUID, one section per vCPU, the
 * VM's irqchip/PIT/clock, every device's section) and guest RAM to mem_fd,
 * which must be empty: only pages with a non-zero byte are written, so
 * pages the guest never wrote stay holes; the last page is always written,
 * so the file has its full length. Uses pwrite only (the event thread's
 * seccomp filter allows it). The controlling thread (event thread).
 * 0 or -errno, err naming what failed.
 *
 * vm_snapshot_restore(): after vm_build() of the snapshot's configuration
 * with RAM mapped from its memory file, before vm_run(): checks that the VM
 * matches the snapshot (vCPU count, memory layout, CPU template), then loads
 * the CPUID, every vCPU, the devices and the VM state (irqchip, clock), and
 * last resumes the devices (the VM generation ID, new with every load,
 * notifies the guest then).
 * Every section is checked before it is applied; on failure the VM must not
 * run (the caller destroys it). Main thread. */
#ifndef BH_VMM_VM_SNAPSHOT_H
#define BH_VMM_VM_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"
#include "snapshot/snap_format.h"

struct vm;

int vm_snapshot_save(struct vm *vm, int state_fd, int mem_fd, char *err, size_t errlen) BH_WUR;

/* Bytes of guest RAM and of the state file written by the last save. */
struct vm_snapshot_stats {
	uint64_t state_bytes, mem_data_bytes;
};
int vm_snapshot_save_stats(struct vm *vm, int state_fd, int mem_fd,
			   struct vm_snapshot_stats *st, char *err, size_t errlen) BH_WUR;

int vm_snapshot_restore(struct vm *vm, const struct snap_state *s, char *err,
			size_t errlen) BH_WUR;

#endif
