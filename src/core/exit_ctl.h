/* exit_ctl.h — how anything in a VM (device, vCPU thread, signal handler
 * thread) asks the whole VM to stop, and how main learns why.
 *
 * The first request wins; later ones are ignored (a reset racing a crash keeps
 * the first reason). Requesting wakes exit_ctl_wait() and makes exit_ctl_fd()
 * readable (an eventfd, for the event loop). Thread-safe; callable from any
 * thread. Async-signal-safe it is not: signals are taken in a thread.
 */
#ifndef BH_EXIT_CTL_H
#define BH_EXIT_CTL_H

#include <pthread.h>
#include <stdbool.h>

#include "common/compiler.h"

enum vm_exit_reason {
	VM_EXIT_NONE = 0,
	VM_EXIT_POWEROFF,    /* guest powered off (KVM system event) */
	VM_EXIT_RESET,       /* guest rebooted (i8042 CPU reset): a clean stop */
	VM_EXIT_TEST,        /* test device wrote a status; `status` holds it */
	VM_EXIT_CRASH,       /* triple fault, failed entry, KVM internal error, unknown exit */
	VM_EXIT_HOST_ERROR,  /* the host failed (ioctl error, out of memory...) */
	VM_EXIT_SIGNAL,      /* the operator stopped the VMM (SIGINT/SIGTERM) */
};

struct exit_ctl {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int efd;                    /* eventfd, readable once a request is made */
	int done_efd;               /* eventfd, readable once every vCPU stopped
	                             * (or the stop deadline passed): ends the
	                             * event thread, which serves stop signals
	                             * until then */
	bool forced;                /* a second stop signal: do not wait */
	unsigned notified;          /* exit_ctl_notify() count (under lock) */
	enum vm_exit_reason reason;
	int status;                 /* test status, errno, or signal number */
	char detail[256];           /* human-readable cause */
};

int exit_ctl_init(struct exit_ctl *ec) BH_WUR;
void exit_ctl_destroy(struct exit_ctl *ec);

/* Request a stop. Returns true if this call set the reason (first request). */
bool exit_ctl_request(struct exit_ctl *ec, enum vm_exit_reason reason, int status,
		      const char *fmt, ...) BH_PRINTF(4, 5);

/* True once any stop was requested (cheap; vCPU loops poll it). */
bool exit_ctl_requested(struct exit_ctl *ec);

/* Block until a stop is requested; returns the reason. */
enum vm_exit_reason exit_ctl_wait(struct exit_ctl *ec);

int exit_ctl_fd(const struct exit_ctl *ec);

/* The eventfd exit_ctl_done() makes readable (the event loop's stop fd). */
int exit_ctl_done_fd(const struct exit_ctl *ec);

/* Every vCPU has stopped (or was given up on): the event thread may end.
 * Main thread, after the stop. */
void exit_ctl_done(struct exit_ctl *ec);

/* A stop was requested and the operator asks again (a second SIGTERM):
 * whoever waits for the vCPUs waits no longer. Any thread. */
void exit_ctl_force(struct exit_ctl *ec);
/* Wake exit_ctl_wait_notified() (a vCPU thread stopped). Any thread. */
void exit_ctl_notify(struct exit_ctl *ec);
/* Wait up to `ms` milliseconds for exit_ctl_notify() (spurious wake-ups
 * possible: re-check the condition). */
void exit_ctl_wait_notified(struct exit_ctl *ec, unsigned ms);
bool exit_ctl_forced(struct exit_ctl *ec);

const char *vm_exit_reason_name(enum vm_exit_reason r);

#endif
