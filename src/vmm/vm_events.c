/* vm_events.c — see vm_events.h. */
#include "vm_events.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "common/log.h"
#include "vmm/devices.h"
#include "vmm/vm.h"
#include "vmm/ctl_vmm.h"

static void input_handler(void *opaque, uint32_t events);

/* Hand buffered bytes to the console device. */
static void feed(struct vm_input *in)
{
	if (in->have) {
		size_t took = vm_devices_console_input(in->vm, in->buf + in->off, in->have);

		bh_dbg("console input: %zu of %zu bytes taken", took, in->have);
		in->off += took;
		in->have -= took;
	}
}

/* Read one chunk; false at EOF/error (input then ends, the guest runs on). */
static bool fill(struct vm_input *in)
{
	ssize_t r = read(in->in_fd, in->buf, sizeof(in->buf));

	if (r < 0 && (errno == EINTR || errno == EAGAIN))
		return true;
	if (r <= 0) {
		if (in->in_watched)
			event_loop_del(&in->vm->el, in->in_fd);
		in->in_watched = false;
		in->in_fd = -1;
		return false;
	}
	in->have = (size_t)r;
	in->off = 0;
	return true;
}

/* Keep input flowing: while the device is full, stdin is not watched (the
 * room eventfd resumes us). A regular file or /dev/null cannot be watched by
 * epoll (EPERM) but is always readable: read it here until the device is full
 * or the file ends. */
static void pump(struct vm_input *in)
{
	feed(in);
	while (in->in_fd >= 0 && in->have == 0) {
		if (!in->always_ready) {
			if (!in->in_watched) {
				int ret = event_loop_add(&in->vm->el, in->in_fd, EPOLLIN,
							 input_handler, in, "console-input");
				if (ret == -EPERM) {
					in->always_ready = true;
					continue;
				}
				if (ret) {
					bh_warn("console input disabled: %s", strerror(-ret));
					in->in_fd = -1;
					return;
				}
				in->in_watched = true;
			}
			return;
		}
		if (!fill(in))
			return;
		feed(in);
	}
	if (in->have && in->in_watched) {
		event_loop_del(&in->vm->el, in->in_fd);
		in->in_watched = false;
	}
}

static void input_handler(void *opaque, uint32_t events)
{
	struct vm_input *in = opaque;

	if (in->have || in->in_fd < 0 || !(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	if (fill(in))
		pump(in);
}

static void room_handler(void *opaque, uint32_t events)
{
	struct vm_input *in = opaque;
	uint64_t cnt;

	(void)events;
	if (read(in->room_fd, &cnt, sizeof(cnt)) < 0) {
		/* EAGAIN: already drained */
	}
	pump(in);
}

/* The daemon's control channel (ctl/ctl_vmm.h): one epoll fd covering its
 * listening socket and connection. */
static void ctl_handler(void *opaque, uint32_t events)
{
	(void)events;
	ctl_vmm_handle(opaque);
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
	if (vm->ctl && (ret = event_loop_add(&vm->el, ctl_vmm_fd(vm->ctl), EPOLLIN, ctl_handler,
					     vm->ctl, "control")))
		return ret;
	if (in->room_fd >= 0 &&
	    (ret = event_loop_add(&vm->el, in->room_fd, EPOLLIN, room_handler, in, "console-room")))
		return ret;
	pump(in);
	return 0;
}

void *vm_event_thread(void *arg)
{
	struct vm *vm = arg;
	int ret;

	if (vm_thread_init(vm, VM_THREAD_EVENT, 0))
		return NULL; /* the VM is already stopping, with the reason */
	ret = event_loop_run(&vm->el);

	if (ret)
		exit_ctl_request(&vm->exit, VM_EXIT_HOST_ERROR, -ret, "event loop: %s",
				 strerror(-ret));
	return NULL;
}
