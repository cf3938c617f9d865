/* exit_ctl.c — see exit_ctl.h. */
#include "exit_ctl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

int exit_ctl_init(struct exit_ctl *ec)
{
	memset(ec, 0, sizeof(*ec));
	ec->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (ec->efd < 0)
		return -errno;
	ec->done_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (ec->done_efd < 0) {
		int e = errno;

		close(ec->efd);
		ec->efd = -1;
		return -e;
	}
	pthread_mutex_init(&ec->lock, NULL);
	pthread_cond_init(&ec->cond, NULL);
	return 0;
}

void exit_ctl_destroy(struct exit_ctl *ec)
{
	if (ec->efd >= 0)
		close(ec->efd);
	ec->efd = -1;
	if (ec->done_efd >= 0)
		close(ec->done_efd);
	ec->done_efd = -1;
	pthread_cond_destroy(&ec->cond);
	pthread_mutex_destroy(&ec->lock);
}

bool exit_ctl_request(struct exit_ctl *ec, enum vm_exit_reason reason, int status,
		      const char *fmt, ...)
{
	bool first = false;
	va_list ap;

	pthread_mutex_lock(&ec->lock);
	if (ec->reason == VM_EXIT_NONE) {
		first = true;
		ec->status = status;
		va_start(ap, fmt);
		vsnprintf(ec->detail, sizeof(ec->detail), fmt, ap);
		va_end(ap);
		__atomic_store_n(&ec->reason, reason, __ATOMIC_RELEASE);
		pthread_cond_broadcast(&ec->cond);
		uint64_t one = 1;
		if (write(ec->efd, &one, sizeof(one)) < 0) {
			/* Counter cannot overflow with one write; nothing to do. */
		}
	}
	pthread_mutex_unlock(&ec->lock);
	return first;
}

bool exit_ctl_requested(struct exit_ctl *ec)
{
	return __atomic_load_n(&ec->reason, __ATOMIC_ACQUIRE) != VM_EXIT_NONE;
}

enum vm_exit_reason exit_ctl_wait(struct exit_ctl *ec)
{
	enum vm_exit_reason r;

	pthread_mutex_lock(&ec->lock);
	while (ec->reason == VM_EXIT_NONE)
		pthread_cond_wait(&ec->cond, &ec->lock);
	r = ec->reason;
	pthread_mutex_unlock(&ec->lock);
	return r;
}

int exit_ctl_fd(const struct exit_ctl *ec)
{
	return ec->efd;
}

int exit_ctl_done_fd(const struct exit_ctl *ec)
{
	return ec->done_efd;
}

void exit_ctl_done(struct exit_ctl *ec)
{
	uint64_t one = 1;

	if (write(ec->done_efd, &one, sizeof(one)) < 0) {
		/* Counter cannot overflow with one write; nothing to do. */
	}
}

void exit_ctl_force(struct exit_ctl *ec)
{
	__atomic_store_n(&ec->forced, true, __ATOMIC_RELEASE);
}

void exit_ctl_notify(struct exit_ctl *ec)
{
	pthread_mutex_lock(&ec->lock);
	ec->notified++;
	pthread_cond_broadcast(&ec->cond);
	pthread_mutex_unlock(&ec->lock);
}

void exit_ctl_wait_notified(struct exit_ctl *ec, unsigned ms)
{
	struct timespec t;
	unsigned seen;

	clock_gettime(CLOCK_REALTIME, &t); /* the condition variable's clock */
	t.tv_nsec += (long)ms * 1000000L;
	t.tv_sec += t.tv_nsec / 1000000000L;
	t.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&ec->lock);
	seen = ec->notified;
	while (ec->notified == seen)
		if (pthread_cond_timedwait(&ec->cond, &ec->lock, &t))
			break;
	pthread_mutex_unlock(&ec->lock);
}

bool exit_ctl_forced(struct exit_ctl *ec)
{
	return __atomic_load_n(&ec->forced, __ATOMIC_ACQUIRE);
}

const char *vm_exit_reason_name(enum vm_exit_reason r)
{
	switch (r) {
	case VM_EXIT_NONE: return "none";
	case VM_EXIT_POWEROFF: return "poweroff";
	case VM_EXIT_RESET: return "reset";
	case VM_EXIT_TEST: return "test-status";
	case VM_EXIT_CRASH: return "crash";
	case VM_EXIT_HOST_ERROR: return "host-error";
	case VM_EXIT_SIGNAL: return "signal";
	}
	return "unknown";
}
