/* cpu_place.h — where a VM's threads may run (issue 17): the meaning of
 * vm_config's cpu_affinity and cpu_dedicated, shared by the VMM (which
 * applies it with sched_setaffinity) and the daemon (whose allocator hands
 * dedicated cores out and keeps other VMs off them).
 *
 * cpu_affinity (--cpu-affinity), two forms:
 *   LIST          every vCPU thread may run on the host CPUs of LIST, in the
 *                 kernel's cpulist syntax: "3", "0-3", "0-3,6,8-9";
 *   V:C,V:C,...   per vCPU: vCPU V runs on host CPU C or the range C-D
 *                 ("0:2,1:3", "0:0-1,1:2-3"); every vCPU of the VM needs
 *                 exactly one entry.
 * cpu_dedicated (--cpu-dedicated): each vCPU on a host CPU of its own, the
 *   VMM's other threads (main, event) on the CPUs left. With cpu_affinity
 *   the form LIST must name exactly one CPU per vCPU (vCPU i gets the i-th)
 *   and the form V:C one single CPU per vCPU, all distinct; without it the
 *   last `cpus` CPUs the process may use are taken. At least one CPU must
 *   remain for the other threads.
 * Without either, nothing is pinned (the scheduler decides).
 *
 * Pure functions over the configuration and a host CPU set; any thread. */
#ifndef BH_CONFIG_CPU_PLACE_H
#define BH_CONFIG_CPU_PLACE_H

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/compiler.h"
#include "config/vm_config.h"

/* Syntax of a cpu_affinity value alone (the schema row's check): 0 or
 * -EINVAL with a message naming `name`. */
int cpu_place_check_syntax(const char *name, const char *value, char *err, size_t errlen) BH_WUR;

struct cpu_place {
	bool pinned;            /* false: no affinity applies at all */
	cpu_set_t vcpu[VM_MAX_VCPUS]; /* vCPU i's CPUs (ncpus entries used) */
	cpu_set_t other;        /* main and event threads: the host set, or what
				 * dedicated cores leave */
	cpu_set_t dedicated;    /* the cores the VM holds alone (cpu_dedicated) */
};

/* Resolve cfg's placement against the CPUs `host` the process may use.
 * `cli` names options in messages ("--cpu-affinity"), else keys
 * ("cpu_affinity"). 0 or -EINVAL (a CPU outside `host`, a vCPU without or
 * with two entries, a dedicated core named twice, nothing left for the
 * other threads) with a message. */
int cpu_place_resolve(const struct vm_config *cfg, const cpu_set_t *host, bool cli,
		      struct cpu_place *out, char *err, size_t errlen) BH_WUR;

/* A plain cpulist ("0-1,3") into *out. 0 or -EINVAL. */
int cpu_place_parse_list(const char *s, cpu_set_t *out) BH_WUR;

/* "0-1,3" for a set (buf always terminated). */
void cpu_place_format(const cpu_set_t *set, char *buf, size_t len);

#endif
