/* vm.h — one virtual machine: struct vm owns ALL of its state (no globals), so
 * several VMs can live in one process (tests/unit/vmm/test_two_vms.c does).
 *
 * Lifecycle (all on the caller's thread unless stated):
 *   vm_build()   guest RAM (fresh, or mapped from a file: a restore), the
 *                console, every device of the table (attach, then plug),
 *                the KVM VM with irqchip/PIT, vCPUs with CPUID/MSRs/LAPIC;
 *   vm_boot()    firmware tables and the kernel into RAM, boot registers;
 *                (a restore is vm_build() + loading saved state instead)
 *   vm_create()  vm_build() + vm_boot(), ordered so that bad operator input
 *                is reported before the host's KVM is touched;
 *   vm_run()     starts one thread per vCPU plus the event thread (console
 *                input, signals, device I/O) and blocks until the VM stops;
 *                returns the stop reason;
 *   vm_destroy() joins threads and releases everything (safe after a failed
 *                vm_create and after vm_run).
 */
#ifndef BH_VM_H
#define BH_VM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <linux/kvm.h>

#include "arch/x86/boot.h"
#include "bus/io_bus.h"
#include "vmm/console.h"
#include "core/event_loop.h"
#include "core/exit_ctl.h"
#include "virtio/net.h"
#include "core/guest_mem.h"
#include "core/irq_route.h"
#include "core/thread_kind.h"
#include "config/vm_config.h"
#include "vmm/pause.h"

struct vm_devices; /* devices.c */

struct vcpu;       /* vcpu.h */
struct ctl_vmm;    /* vmm/ctl_vmm.h */
struct fd_table;   /* vmm/fd_table.h */
struct cpu_place;  /* config/cpu_place.h */


struct vm {
	struct vm_config cfg;
	int kvm_fd;              /* /dev/kvm: closed (-1) once the vCPUs exist */
	int vm_fd;
	int vcpu_mmap_size;
	struct kvm_cpuid2 *cpuid;   /* supported CPUID after template filtering (a
	                             * restore replaces it with the snapshot's) */
	uint32_t *msr_index;        /* KVM_GET_MSR_INDEX_LIST: the MSRs a snapshot
	                             * saves, and the allow-list a restore checks */
	unsigned nmsr_index;
	unsigned xsave_size;        /* bytes of KVM_GET_XSAVE2 (4096 without XSAVE2) */
	struct guest_mem mem;
	struct io_bus pio;
	struct io_bus mmio;
	struct exit_ctl exit;
	struct console console;
	struct event_loop el;       /* the event thread's epoll set */
	struct irq_router router;   /* GSI routing + MSI irqfds */
	struct vm_devices *dev;
	struct boot_plan plan;
	unsigned ncpus;
	struct vcpu *vcpus;         /* ncpus entries */
	struct vm_pause pause;      /* pause/resume and the quarantine I/O cut */
	struct ctl_vmm *ctl;        /* daemon control channel, or NULL; borrowed,
	                             * set between vm_create() and vm_run() */
	char err[512];              /* first setup error, for the operator */
	bool err_is_config;         /* err was caused by bad input, not the host */
	vm_thread_init_fn thread_init; /* NULL: none (see vm_thread_init_fn) */
	struct fd_table *fds;       /* named host descriptors (--fd, the control
	                             * channel's ATTACH_FD); borrowed, may be NULL.
	                             * A device's attach takes its own with
	                             * fd_table_take(). Set with vm_set_fds()
	                             * BEFORE vm_build()/vm_create(). */
	void *thread_init_opaque;
	struct cpu_place *place;    /* host CPUs of each thread (vm_place.h), or
	                             * NULL: nothing pinned */
	bool abandoned;             /* vm_run(): a thread did not stop in time and
	                             * still uses this VM (see vm_run) */
};

/* How long vm_run() kicks vCPUs that do not leave KVM_RUN after a stop
 * request before it gives up on them (and a second stop signal ends the wait
 * at once): 5 s plus 40 ms per vCPU (254 vCPU threads on one slow host CPU
 * need a while just to be scheduled once each). */
#define VM_STOP_DEADLINE_MS(ncpus) (5000u + 40u * (unsigned)(ncpus))

/* Run vm->thread_init for the calling thread, if any; on failure request a
 * host-error stop naming the thread. Returns 0 or -errno. */
int vm_thread_init(struct vm *vm, enum vm_thread_kind kind, unsigned index) BH_WUR;

/* Where guest RAM comes from: fd -1 for fresh zeroed memory; otherwise a
 * regular file or memfd of at least cfg->mem_bytes (the VM takes ownership of
 * the fd), mapped copy-on-write (MAP_PRIVATE: a restore reads nothing up
 * front, clones share unchanged pages) or shared. */
struct vm_ram_source {
	int fd;
	bool copy_on_write;
};

/* Build without booting (see top). ram NULL: fresh RAM. Errors as vm_create. */
int vm_build(struct vm *vm, const struct vm_config *cfg, const struct vm_ram_source *ram) BH_WUR;

/* Boot a built VM: tables, kernel, BSP registers. Errors as vm_create. */
int vm_boot(struct vm *vm) BH_WUR;

/* Errors: -errno. On failure vm->err holds a message naming the cause and
 * vm->err_is_config tells whether the operator's input was at fault (bad
 * image, impossible size, unwritable console file) or the host; the caller
 * then calls vm_destroy(). */
int vm_create(struct vm *vm, const struct vm_config *cfg) BH_WUR;

/* Run until the VM stops. Returns the reason; details in vm->exit.
 * After the stop request every vCPU is kicked, again and again, until its
 * thread ends; the event thread keeps serving stop signals meanwhile. A
 * vCPU thread (or the event thread) still running VM_STOP_DEADLINE_MS(n) later,
 * or when a second stop signal arrives, is given up on: vm->abandoned is
 * set, and the caller must then neither vm_destroy() nor free the VM but
 * end the process promptly (its exit takes the threads along and the kernel
 * reclaims the VM) — a VM must stop whatever its vCPUs do. */
enum vm_exit_reason vm_run(struct vm *vm);

/* Free everything; a no-op for an abandoned VM (see vm_run). */
void vm_destroy(struct vm *vm);

/* Before vm_run(), main thread: the control channel the event thread serves
 * (borrowed, NULL: none) and the hook every VM thread runs first. */
void vm_set_control(struct vm *vm, struct ctl_vmm *ctl);
/* The named descriptors devices may take in their attach step: call on a
 * zeroed struct vm before vm_build()/vm_create() (which keep it). */
void vm_set_fds(struct vm *vm, struct fd_table *fds);
void vm_set_thread_init(struct vm *vm, vm_thread_init_fn fn, void *opaque);

/* The VM's verbs (vm_control.c). The control channel calls only these. Any
 * one controlling thread (the event thread for the control channel) while
 * vm_run() runs.
 *
 * vm_pause(): park every vCPU, then quiesce every device (vm_devices_quiesce:
 * no queue work, no backend I/O in flight). 0, or -ETIMEDOUT if the vCPUs did
 * not all park in time (the pause is then undone: no half-paused VM).
 * vm_resume(): resume the devices, then the vCPUs. -EPERM when quarantined.
 * vm_quarantine(): cut guest I/O for good (PIO/MMIO reads all-ones, writes
 * dropped, console input discarded), quiesce every device, park every vCPU.
 * When it returns no guest-visible or host-visible I/O happens any more.
 * 0, or -ETIMEDOUT if a vCPU did not park in time (the cut and the quiesce
 * hold regardless; it parks when it next exits).
 * vm_request_stop(): the graceful stop (Ctrl-Alt-Del); -EAGAIN while paused.
 * vm_stats(): state and counters (a torn read of a counter is harmless). */
struct vm_stats {
	unsigned ncpus;
	bool paused, quarantined, stopping;
	uint64_t exits, io_exits, mmio_exits;
	unsigned nnets;                              /* NICs, in --net order */
	struct virtio_net_stats net[VM_MAX_NETS];    /* their counters */
};
int vm_pause(struct vm *vm) BH_WUR;
int vm_resume(struct vm *vm) BH_WUR;
int vm_quarantine(struct vm *vm) BH_WUR;
int vm_request_stop(struct vm *vm) BH_WUR;
void vm_stats(struct vm *vm, struct vm_stats *out);

#endif
