/* pause.c — see pause.h. */
#include "vmm/pause.h"

#include <errno.h>
#include <time.h>

#include "core/exit_ctl.h"

void vm_pause_init(struct vm_pause *p)
{
	pthread_condattr_t ca;

	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cond, &ca);
	pthread_condattr_destroy(&ca);
	p->requested = false;
	p->io_cut = false;
	p->parked = 0;
}

void vm_pause_destroy(struct vm_pause *p)
{
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
}

bool vm_pause_requested(struct vm_pause *p)
{
	return __atomic_load_n(&p->requested, __ATOMIC_SEQ_CST);
}

void vm_pause_park(struct vm_pause *p, struct exit_ctl *ec)
{
	pthread_mutex_lock(&p->lock);
	p->parked++;
	pthread_cond_broadcast(&p->cond);
	while (__atomic_load_n(&p->requested, __ATOMIC_SEQ_CST) && !exit_ctl_requested(ec))
		pthread_cond_wait(&p->cond, &p->lock);
	p->parked--;
	pthread_mutex_unlock(&p->lock);
}

void vm_pause_begin(struct vm_pause *p)
{
	pthread_mutex_lock(&p->lock);
	__atomic_store_n(&p->requested, true, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&p->lock);
}

int vm_pause_wait_parked(struct vm_pause *p, struct exit_ctl *ec, unsigned n,
			 unsigned timeout_ms)
{
	struct timespec dl;
	int ret = 0;

	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += timeout_ms / 1000;
	dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&p->lock);
	while (p->parked < n && !exit_ctl_requested(ec)) {
		/* A stop does not broadcast this cond: poll it at least every 50 ms. */
		struct timespec now, t;

		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > dl.tv_sec || (now.tv_sec == dl.tv_sec && now.tv_nsec >= dl.tv_nsec)) {
			ret = -ETIMEDOUT;
			break;
		}
		t = now;
		t.tv_nsec += 50000000L;
		if (t.tv_nsec >= 1000000000L) {
			t.tv_sec++;
			t.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&p->cond, &p->lock, &t);
	}
	pthread_mutex_unlock(&p->lock);
	return ret;
}

void vm_pause_end(struct vm_pause *p)
{
	pthread_mutex_lock(&p->lock);
	__atomic_store_n(&p->requested, false, __ATOMIC_SEQ_CST);
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

void vm_pause_wake(struct vm_pause *p)
{
	pthread_mutex_lock(&p->lock);
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

void vm_pause_cut_io(struct vm_pause *p)
{
	__atomic_store_n(&p->io_cut, true, __ATOMIC_SEQ_CST);
}

bool vm_pause_io_cut(struct vm_pause *p)
{
	return __atomic_load_n(&p->io_cut, __ATOMIC_SEQ_CST);
}
