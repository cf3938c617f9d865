/* pause.h — pausing a running VM's vCPUs, and the quarantine I/O cut.
 *
 * Pause protocol (see vcpu.c): the controller calls vm_pause_begin() and then
 * vcpu_kick() on every vCPU; each vCPU thread checks vm_pause_requested()
 * before every KVM_RUN and parks in vm_pause_park() until vm_pause_end() or a
 * stop request. vm_pause_wait_parked() lets the controller wait until all
 * running vCPUs are parked. A stop while paused: the stopper calls
 * vm_pause_wake() after exit_ctl_request() and parked threads leave.
 *
 * Lost kicks: the requested flag, kvm_run->immediate_exit and the vCPU's
 * check all use sequentially consistent atomics, so a vCPU that clears
 * immediate_exit after a kick always sees a pause request made before it.
 *
 * I/O cut (quarantine): once set, never cleared for the process's life.
 * Device code may check vm_pause_io_cut() and then must not service the
 * guest (PIO reads all-ones, writes dropped, console input discarded).
 * Thread-safe: any thread. */
#ifndef BH_CTL_PAUSE_H
#define BH_CTL_PAUSE_H

#include <pthread.h>
#include <stdbool.h>

#include "common/compiler.h"

struct exit_ctl;

struct vm_pause {
	pthread_mutex_t lock;
	pthread_cond_t cond;   /* parked threads wait here; the controller too */
	bool requested;        /* atomic (seq_cst) */
	bool io_cut;           /* atomic (seq_cst) */
	unsigned parked;       /* under lock */
};

void vm_pause_init(struct vm_pause *p);
void vm_pause_destroy(struct vm_pause *p);

bool vm_pause_requested(struct vm_pause *p);

/* vCPU thread: park until resumed or the VM is stopping. */
void vm_pause_park(struct vm_pause *p, struct exit_ctl *ec);

/* Controller: request a pause (then kick every vCPU). */
void vm_pause_begin(struct vm_pause *p);

/* Controller: wait up to timeout_ms for `n` parked vCPUs (or a stop).
 * 0, or -ETIMEDOUT. */
int vm_pause_wait_parked(struct vm_pause *p, struct exit_ctl *ec, unsigned n,
			 unsigned timeout_ms) BH_WUR;

/* Controller: let parked vCPUs run again. */
void vm_pause_end(struct vm_pause *p);

/* After a stop request: wake parked vCPUs so they see it. */
void vm_pause_wake(struct vm_pause *p);

void vm_pause_cut_io(struct vm_pause *p);
bool vm_pause_io_cut(struct vm_pause *p);

#endif
