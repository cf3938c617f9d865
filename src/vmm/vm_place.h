/* vm_place.h — where a VM's RAM and threads live (issue 17): guest RAM
 * backed as the configuration asks (hugepages, pre-allocation, THP, KSM;
 * core/guest_mem.h) and each thread's host CPUs (config/cpu_place.h).
 *
 * Affinity is applied by each thread to itself with sched_setaffinity(0, ...)
 * BEFORE it loads its own seccomp filter: the process filter allows only
 * pid 0 (the calling thread), and no thread's own filter allows it at all,
 * so a compromised VMM cannot move its threads onto another VM's cores. */
#ifndef BH_VMM_VM_PLACE_H
#define BH_VMM_VM_PLACE_H

#include <stdbool.h>

#include "common/compiler.h"
#include "core/thread_kind.h"

struct vm;

/* Fresh guest RAM of vm->cfg.mem_bytes with the configured backing. On
 * failure vm->err names the option and the host's shortfall (free hugepages,
 * memory for pre-allocation); vm->err_is_config when the operator's input is
 * at fault. 0 or -errno. Before the jail (reads sysfs for the message). */
int vm_place_memory(struct vm *vm) BH_WUR;

/* Guest RAM from a RAM image file `fd` (a snapshot's memory; taken: closed
 * on every path) with the configured placement, as far as a file allows:
 *   default        mapped from the file (copy_on_write: MAP_PRIVATE, nothing
 *                  read up front, clones share unchanged pages); THP and
 *                  KSM advise the mapping;
 *   --mem-prealloc every page made the VM's private copy now (the file is
 *                  read once; the guest can never fault for lack of memory);
 *   --hugepages    fresh hugepage RAM with the file's data copied in (a
 *                  file on an ordinary filesystem cannot be mapped with
 *                  hugepages); the host checks are vm_place_memory's.
 * Errors as vm_place_memory. */
int vm_place_memory_from(struct vm *vm, int fd, bool copy_on_write) BH_WUR;

/* Resolve cpu_affinity / cpu_dedicated against the CPUs this process may
 * use into vm->place (NULL: nothing pinned). Errors as vm_place_memory. */
int vm_place_cpus(struct vm *vm) BH_WUR;

/* Pin the calling thread: a vCPU thread to its vCPU's CPUs (index), the main
 * thread — before it starts the others, so the event thread inherits it — to
 * the CPUs left by dedicated cores. No-op when nothing is pinned. 0 or
 * -errno. */
int vm_place_thread(struct vm *vm, enum vm_thread_kind kind, unsigned index) BH_WUR;

void vm_place_destroy(struct vm *vm);

#endif
