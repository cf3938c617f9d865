/* vm.h — one virtual machine: struct vm owns ALL of its state (no globals), so
 * several VMs can live in one process (tests do this).
 *
 * Lifecycle (all on the caller's thread unless stated):
 *   vm_create()  opens KVM, creates the VM, RAM, irqchip/PIT, devices, loads
 *                the kernel, creates vCPUs with their CPUID/MSRs/registers;
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
#include "core/console.h"
#include "core/event_loop.h"
#include "core/exit_ctl.h"
#include "core/guest_mem.h"
#include "core/irq_route.h"
#include "core/vm_config.h"
#include "ctl/pause.h"

struct vm_devices; /* devices.c */

/* The kinds of thread a VM process runs (the sandbox gives each its own
 * seccomp filter):
 *   VM_THREAD_MAIN   the thread that called vm_create()/vm_run(): setup, then
 *                    waits for the stop reason and tears down;
 *   VM_THREAD_VCPU   one per vCPU: KVM_RUN and the thin exit dispatch (PIO/MMIO
 *                    device emulation, PCI config space, MSI-X table writes);
 *   VM_THREAD_EVENT  one per VM: the event loop (console input, stop signals,
 *                    virtio queue notifications via ioeventfd, block I/O
 *                    completions, interrupts via irqfd, the control channel). */
enum vm_thread_kind { VM_THREAD_MAIN, VM_THREAD_VCPU, VM_THREAD_EVENT };
struct vcpu;       /* vcpu.h */
struct ctl_vmm;    /* ctl/ctl_vmm.h */

/* Called by each VM thread as its first action (VM_THREAD_MAIN: by vm_run()
 * once every thread is started), e.g. to load that thread's seccomp filter.
 * Non-zero (-errno) stops the VM with a host error. Set after vm_create(). */
typedef int (*vm_thread_init_fn)(void *opaque, enum vm_thread_kind kind);

struct vm {
	struct vm_config cfg;
	int kvm_fd;
	int vm_fd;
	int vcpu_mmap_size;
	struct kvm_cpuid2 *cpuid;   /* supported CPUID after template filtering */
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
	void *thread_init_opaque;
	bool abandoned;             /* vm_run(): a thread did not stop in time and
	                             * still uses this VM (see vm_run) */
};

/* How long vm_run() kicks vCPUs that do not leave KVM_RUN after a stop
 * request before it gives up on them (and a second stop signal ends the wait
 * at once). */
#define VM_STOP_DEADLINE_MS 5000
#define VM_STOP_DEADLINE_TEXT "5 s"

/* Run vm->thread_init for the calling thread, if any; on failure request a
 * host-error stop naming the thread. Returns 0 or -errno. */
int vm_thread_init(struct vm *vm, enum vm_thread_kind kind, unsigned index) BH_WUR;

/* Errors: -errno. On failure vm->err holds a message naming the cause and
 * vm->err_is_config tells whether the operator's input was at fault (bad
 * image, impossible size, unwritable console file) or the host; the caller
 * then calls vm_destroy(). */
int vm_create(struct vm *vm, const struct vm_config *cfg) BH_WUR;

/* Run until the VM stops. Returns the reason; details in vm->exit.
 * After the stop request every vCPU is kicked, again and again, until its
 * thread ends; the event thread keeps serving stop signals meanwhile. A
 * vCPU thread (or the event thread) still running VM_STOP_DEADLINE_MS later,
 * or when a second stop signal arrives, is given up on: vm->abandoned is
 * set, and the caller must then neither vm_destroy() nor free the VM but
 * end the process promptly (its exit takes the threads along and the kernel
 * reclaims the VM) — a VM must stop whatever its vCPUs do. */
enum vm_exit_reason vm_run(struct vm *vm);

/* Free everything; a no-op for an abandoned VM (see vm_run). */
void vm_destroy(struct vm *vm);

#endif
