/* thread_kind.h — the kinds of thread a VM process runs. The sandbox gives
 * each its own seccomp filter, so this lives below both the VMM (which runs
 * the threads) and the sandbox (which confines them):
 *   VM_THREAD_MAIN   the thread that builds the VM and runs vm_run(): setup,
 *                    then waits for the stop reason and tears down;
 *   VM_THREAD_VCPU   one per vCPU: KVM_RUN and the thin exit dispatch (PIO/MMIO
 *                    device emulation, PCI config space, MSI-X table writes);
 *   VM_THREAD_EVENT  one per VM: the event loop (console input, stop signals,
 *                    virtio queue notifications via ioeventfd, block I/O
 *                    completions, interrupts via irqfd, the control channel). */
#ifndef BH_CORE_THREAD_KIND_H
#define BH_CORE_THREAD_KIND_H

#include <signal.h>

/* The signal that kicks a vCPU thread out of KVM_RUN; blocked everywhere
 * except in vCPU threads (the seccomp policy allows tgkill with it only). */
#define VCPU_KICK_SIGNAL SIGUSR1

enum vm_thread_kind { VM_THREAD_MAIN, VM_THREAD_VCPU, VM_THREAD_EVENT };

/* Called by each VM thread as its first action (VM_THREAD_MAIN: once every
 * thread is started), e.g. to load that thread's seccomp filter. 0 or -errno;
 * an error stops the VM with a host error. */
typedef int (*vm_thread_init_fn)(void *opaque, enum vm_thread_kind kind);

#endif
