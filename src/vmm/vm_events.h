/* vm_events.h — what the VM's event thread does besides device work: stop
 * signals (a signalfd) and console input (stdin -> the console device, with
 * back-pressure: while the device's receive buffer is full stdin is not read,
 * and the device's "room again" eventfd resumes it).
 *
 * Everything runs on vm->el (core/event_loop.h); devices register their own
 * fds there during vm_create(). Event thread only, except vm_events_setup().
 */
#ifndef BH_VM_EVENTS_H
#define BH_VM_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"

struct vm;

struct vm_input {
	struct vm *vm;
	int sig_fd;        /* signalfd for the stop signals, not owned */
	int in_fd;         /* console input, -1 once at EOF */
	int room_fd;       /* device: receive buffer has room again, or -1 */
	bool in_watched;   /* in_fd is on the event loop */
	bool always_ready; /* in_fd is a file epoll refuses: read it directly */
	uint8_t buf[256];  /* bytes read from in_fd, not yet taken by the device */
	size_t have, off;
};

/* Register the signal and console-input handlers on vm->el. Called by
 * vm_run() before the event thread starts. 0 or -errno. */
int vm_events_setup(struct vm *vm, struct vm_input *in, int sig_fd) BH_WUR;

/* The event thread: runs vm->el until the VM stops. */
void *vm_event_thread(void *vm);

#endif
