/* vcpu.h — one vCPU: its KVM fd, its kvm_run page and the thread that runs the
 * thin exit loop (KVM_RUN, dispatch PIO/MMIO to the buses, explicit fatal
 * cases that dump registers and stop the VM).
 *
 * Stopping: any thread calls vcpu_kick() after exit_ctl_request(); the vCPU
 * thread sees immediate_exit or gets EINTR from KVM_RUN and leaves its loop. */
#ifndef BH_VCPU_H
#define BH_VCPU_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <linux/kvm.h>

#include "common/compiler.h"
#include "core/thread_kind.h" /* VCPU_KICK_SIGNAL */

struct vm;

struct vcpu {
	struct vm *vm;
	unsigned index;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool thread_started;
	bool stopped;       /* the thread left its loop (atomic; vcpu_stopped) */
	int tid;            /* its host thread id once running (atomic; 0 before):
			     * /proc/PID/task/TID shows its CPU affinity */
	uint64_t exits;     /* statistics, written by the vCPU thread only */
	uint64_t io_exits;
	uint64_t mmio_exits;
};

/* Create vCPU `index` (KVM_CREATE_VCPU + mmap of kvm_run). Setup thread. */
int vcpu_create(struct vcpu *v, struct vm *vm, unsigned index) BH_WUR;

/* Start the vCPU thread (the signal used for kicks must already be set up by
 * vm_run()). */
int vcpu_start(struct vcpu *v) BH_WUR;

/* Make the vCPU leave KVM_RUN soon. Any thread. */
void vcpu_kick(struct vcpu *v);

/* True once the vCPU thread has left its loop for good (it then notifies
 * vm->exit: exit_ctl_wait_notified). Any thread. */
bool vcpu_stopped(struct vcpu *v);

/* Join the thread (if started), unmap and close. Idempotent. */
void vcpu_destroy(struct vcpu *v);


#endif
