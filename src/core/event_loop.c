/* event_loop.c — see event_loop.h. */
#include "event_loop.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "common/log.h"

/* epoll_event.data.u64 carries the handler's table index + 1 (0 = stop fd). */
#define EV_STOP_TOKEN 0

int event_loop_init(struct event_loop *el, int stop_fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = EV_STOP_TOKEN };

	memset(el, 0, sizeof(*el));
	el->stop_fd = stop_fd;
	el->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (el->epfd < 0) {
		el->epfd = -1;
		return -errno;
	}
	if (stop_fd >= 0 && epoll_ctl(el->epfd, EPOLL_CTL_ADD, stop_fd, &ev) < 0) {
		int e = errno;

		close(el->epfd);
		el->epfd = -1;
		return -e;
	}
	return 0;
}

int event_loop_add(struct event_loop *el, int fd, uint32_t events, event_fn fn, void *opaque,
		   const char *name)
{
	struct epoll_event ev = { .events = events };
	unsigned slot = EVENT_LOOP_MAX_HANDLERS;

	if (fd < 0 || !fn)
		return -EINVAL;
	for (unsigned i = 0; i < el->n; i++) {
		if (el->handlers[i].fn && el->handlers[i].fd == fd)
			return -EEXIST;
		if (!el->handlers[i].fn && slot == EVENT_LOOP_MAX_HANDLERS)
			slot = i;
	}
	if (slot == EVENT_LOOP_MAX_HANDLERS) {
		if (el->n == EVENT_LOOP_MAX_HANDLERS)
			return -ENOSPC;
		slot = el->n;
	}
	el->handlers[slot] = (struct event_handler){ fd, fn, opaque, name };
	ev.data.u64 = (uint64_t)slot + 1;
	if (epoll_ctl(el->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int e = errno;

		el->handlers[slot].fn = NULL;
		return -e;
	}
	if (slot == el->n)
		el->n++;
	return 0;
}

int event_loop_mod(struct event_loop *el, int fd, uint32_t events)
{
	for (unsigned i = 0; i < el->n; i++) {
		if (el->handlers[i].fn && el->handlers[i].fd == fd) {
			struct epoll_event ev = { .events = events, .data.u64 = (uint64_t)i + 1 };

			return epoll_ctl(el->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
		}
	}
	return -ENOENT;
}

void event_loop_del(struct event_loop *el, int fd)
{
	for (unsigned i = 0; i < el->n; i++) {
		if (el->handlers[i].fn && el->handlers[i].fd == fd) {
			epoll_ctl(el->epfd, EPOLL_CTL_DEL, fd, NULL);
			el->handlers[i].fn = NULL;
			el->handlers[i].fd = -1;
			return;
		}
	}
}

int event_loop_run(struct event_loop *el)
{
	struct epoll_event evs[16];

	for (;;) {
		int n = epoll_wait(el->epfd, evs, (int)BH_ARRAY_SIZE(evs), -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			uint64_t tok = evs[i].data.u64;
			struct event_handler *h;

			if (tok == EV_STOP_TOKEN)
				return 0;
			if (tok > el->n)
				continue;
			h = &el->handlers[tok - 1];
			/* A handler earlier in this batch may have removed this one. */
			if (h->fn)
				h->fn(h->opaque, evs[i].events);
		}
	}
}

void event_loop_destroy(struct event_loop *el)
{
	if (el->epfd >= 0)
		close(el->epfd);
	el->epfd = -1;
	el->n = 0;
}
