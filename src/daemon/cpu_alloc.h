/* cpu_alloc.h — the daemon's host-wide CPU allocator for dedicated cores
 * (issue 17; the VM side is config/cpu_place.h).
 *
 * Rules: a host CPU is dedicated to at most one VM at a time; a start that
 * asks for a CPU another VM holds (or that a running VM's cpu_affinity
 * names) is refused with -EBUSY and a message naming that VM; a dedicated VM
 * without a cpu_affinity gets the highest free CPUs; at least one CPU always
 * stays shared (the VMM threads and every other VM run there). Every VM's
 * process tree is confined to the shared CPUs (plus its own dedicated ones)
 * from before the VMM is executed, and VMs already running are narrowed
 * thread by thread when a core is dedicated (the VMM's seccomp filters
 * forbid it to widen its affinity again). Released when the VM's process is
 * gone.
 *
 * Locking: d->lock held for dcpu_claim and dcpu_release; dcpu_narrow_others
 * takes it. */
#ifndef BH_DAEMON_CPU_ALLOC_H
#define BH_DAEMON_CPU_ALLOC_H

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/compiler.h"

struct daemon;
struct dvm;

/* What a VM holds while its process runs (part of struct dvm). */
struct dcpu {
	bool placed;            /* claimed for the current run */
	cpu_set_t dedicated;    /* its dedicated cores */
	cpu_set_t pinned;       /* the CPUs its own cpu_affinity names (shared VMs) */
	cpu_set_t confine;      /* the whole process tree's CPUs (set before exec) */
	char arg[256];          /* --cpu-affinity for the VMM ("" = its own) */
	unsigned weight;        /* cpu_weight of the configuration */
};

/* Read v's config.json and claim its CPUs for a start. 0; -EBUSY (a CPU held
 * by another VM, named in err); -EINVAL (the configuration cannot be placed
 * on this host, e.g. nothing left shared); -EIO (config unreadable). */
int dcpu_claim(struct daemon *d, struct dvm *v, char *err, size_t errlen) BH_WUR;

/* A restarted daemon re-attached v's running VMM: claim again what it holds
 * (dedicated: the cores state.json recorded, vm_record.c; a shared VM's
 * cpu_affinity: that list). Best effort, never fails. d->lock held or
 * single-threaded start-up. */
void dcpu_reattach(struct daemon *d, struct dvm *v);

/* v's process is gone (or never started): its cores return to the pool. */
void dcpu_release(struct dvm *v);

/* After v started with dedicated cores: move every thread of every other
 * VM's processes off them. Returns how many threads were narrowed. */
unsigned dcpu_narrow_others(struct daemon *d, const struct dvm *v);

#endif
