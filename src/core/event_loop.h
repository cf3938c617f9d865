/* event_loop.h — the VM's event thread: one epoll set, one thread.
 *
 * Whatever is not a vCPU exit happens here: console input, stop signals,
 * virtio queue notifications (ioeventfds KVM signals when the guest writes a
 * notify register, so the vCPU thread never handles them), block I/O
 * completions, the daemon's control channel.
 *
 * Handlers run on the event thread, one at a time, and must not block for
 * long (every backend is non-blocking or bounded), and must tolerate a spurious
 * call (fds are non-blocking; a slot freed and reused within one epoll batch
 * can see its predecessor's event). Registration happens on the setup thread
 * before the loop runs, on the event thread itself, or at teardown after it
 * stopped (the handler table is not locked); a handler must stay valid until
 * it is removed or the loop is destroyed. No global state: one loop per VM.
 */
#ifndef BH_EVENT_LOOP_H
#define BH_EVENT_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "common/compiler.h"

/* Called with the epoll events (EPOLLIN, EPOLLHUP, ...) that fired for fd. */
typedef void (*event_fn)(void *opaque, uint32_t events);

struct event_handler {
	int fd;
	event_fn fn;
	void *opaque;
	const char *name;
};

#define EVENT_LOOP_MAX_HANDLERS 128

struct event_loop {
	int epfd;
	int stop_fd;  /* not owned: readable once the VM is stopping */
	unsigned n;
	struct event_handler handlers[EVENT_LOOP_MAX_HANDLERS];
};

/* Create the epoll set. stop_fd (the VM's exit eventfd) ends event_loop_run()
 * when it becomes readable. 0 or -errno. */
int event_loop_init(struct event_loop *el, int stop_fd) BH_WUR;

/* Watch fd for `events` (EPOLLIN, ...). Setup thread (before the loop runs)
 * or the event thread itself. -ENOSPC when the table is full, -EEXIST if fd
 * is already watched. The fd is not owned. */
int event_loop_add(struct event_loop *el, int fd, uint32_t events, event_fn fn, void *opaque,
		   const char *name) BH_WUR;

/* Change the events watched for fd (added before). Same threads as
 * event_loop_add. -ENOENT if fd is not watched. */
int event_loop_mod(struct event_loop *el, int fd, uint32_t events) BH_WUR;

/* Stop watching fd. Event thread, or any thread while the loop is not running
 * (before it starts or after it returned). */
void event_loop_del(struct event_loop *el, int fd);

/* Dispatch events until stop_fd is readable or epoll fails (-errno). */
int event_loop_run(struct event_loop *el);

/* Close the epoll fd. Idempotent. */
void event_loop_destroy(struct event_loop *el);

#endif
