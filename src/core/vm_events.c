/* vm_events.c — see vm_events.h. */
#include "vm_events.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "common/log.h"
#include "core/devices.h"
#include "core/vm.h"

static void input_handler(void *opaque, uint32_t events);

static void watch_input(struct vm_input *in, bool on)
{
	if (in->in_fd < 0 || in->in_watched == on)
		return;
	if (on) {
		int ret = event_loop_add(&in->vm->el, in->in_fd, EPOLLIN, input_handler, in,
					 "console-input");
		if (ret) {
			bh_warn("console input disabled: %s", strerror(-ret));
			in->in_fd = -1;
			return;
		}
	} else {
		event_loop_del(&in->vm->el, in->in_fd);
	}
	in->in_watched = on;
}

/* Hand buffered bytes to the console device; stop reading stdin while it is
 * full (its room eventfd resumes us). */
static void push(struct vm_input *in)
{
	if (in->have) {
		size_t took = vm_devices_console_input(in->vm, in->buf + in->off, in->have);

		in->off += took;
		in->have -= took;
	}
	watch_input(in, in->have == 0);
}

static void input_handler(void *opaque, uint32_t events)
{
	struct vm_input *in = opaque;
	ssize_t r;

	if (in->have || !(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	r = read(in->in_fd, in->buf, sizeof(in->buf));
	if (r < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (r <= 0) { /* EOF or error: no more input, the guest runs on */
		watch_input(in, false);
		in->in_fd = -1;
		return;
	}
	in->have = (size_t)r;
	in->off = 0;
	push(in);
}

static void room_handler(void *opaque, uint32_t events)
{
	struct vm_input *in = opaque;
	uint64_t cnt;

	(void)events;
	if (read(in->room_fd, &cnt, sizeof(cnt)) < 0) {
		/* EAGAIN: already drained */
	}
	if (in->have)
		push(in);
}

static void signal_handler(void *opaque, uint32_t events)
{
	struct vm_input *in = opaque;
	struct signalfd_siginfo si;

	(void)events;
	if (read(in->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		exit_ctl_request(&in->vm->exit, VM_EXIT_SIGNAL, (int)si.ssi_signo,
				 "stopped by signal %u", si.ssi_signo);
}

int vm_events_setup(struct vm *vm, struct vm_input *in, int sig_fd)
{
	int ret;

	memset(in, 0, sizeof(*in));
	in->vm = vm;
	in->sig_fd = sig_fd;
	in->in_fd = vm->console.in_fd;
	in->room_fd = vm_devices_console_room_fd(vm);
	if ((ret = event_loop_add(&vm->el, sig_fd, EPOLLIN, signal_handler, in, "signals")))
		return ret;
	if (in->room_fd >= 0 &&
	    (ret = event_loop_add(&vm->el, in->room_fd, EPOLLIN, room_handler, in, "console-room")))
		return ret;
	watch_input(in, true);
	return 0;
}

void *vm_event_thread(void *arg)
{
	struct vm *vm = arg;
	int ret = event_loop_run(&vm->el);

	if (ret)
		exit_ctl_request(&vm->exit, VM_EXIT_HOST_ERROR, -ret, "event loop: %s",
				 strerror(-ret));
	return NULL;
}
