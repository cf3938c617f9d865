/* vcpu.c — see vcpu.h. The exit loop stays thin: everything device-specific
 * happens behind the buses. */
#include "vcpu.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arch/x86/regs.h"
#include "common/log.h"
#include "common/startup.h"
#include "core/vcpu_self.h"
#include "vmm/vm.h"
#include "vmm/vm_place.h"

int vcpu_create(struct vcpu *v, struct vm *vm, unsigned index)
{
	void *run;

	memset(v, 0, sizeof(*v));
	v->vm = vm;
	v->index = index;
	v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)index);
	if (v->fd < 0) {
		v->fd = -1;
		return -errno;
	}
	run = mmap(NULL, (size_t)vm->vcpu_mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (run == MAP_FAILED) {
		int e = errno;

		close(v->fd);
		v->fd = -1;
		return -e;
	}
	v->run = run;
	return 0;
}

static void crash(struct vcpu *v, const char *fmt, ...) BH_PRINTF(2, 3);
static void crash(struct vcpu *v, const char *fmt, ...)
{
	char detail[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (exit_ctl_request(&v->vm->exit, VM_EXIT_CRASH, 0, "vCPU %u: %s", v->index, detail)) {
		flockfile(stderr);
		fprintf(stderr, "bulkhead: guest crashed: vCPU %u: %s\n", v->index, detail);
		x86_dump_regs(v->fd, stderr);
		funlockfile(stderr);
		fflush(stderr);
	}
}

static void handle_io(struct vcpu *v)
{
	struct kvm_run *r = v->run;
	/* Copy the exit once; decide on the copy only. */
	const uint16_t port = r->io.port;
	const uint8_t size = r->io.size, dir = r->io.direction;
	const uint32_t count = r->io.count;
	const uint64_t data_off = r->io.data_offset;
	const uint64_t total = (uint64_t)size * count;
	uint8_t *data;

	/* KVM owns these fields, but a bounds check costs nothing. */
	if (data_off >= (uint64_t)v->vm->vcpu_mmap_size ||
	    total > (uint64_t)v->vm->vcpu_mmap_size - data_off) {
		crash(v, "bad PIO exit: I/O data 0x%llx+0x%llx outside kvm_run",
		      (unsigned long long)data_off, (unsigned long long)total);
		return;
	}
	data = (uint8_t *)r + data_off;
	if (vm_pause_io_cut(&v->vm->pause)) { /* quarantined: serve nothing */
		if (dir != KVM_EXIT_IO_OUT)
			memset(data, 0xff, (size_t)total);
		return;
	}
	for (uint32_t i = 0; i < count; i++)
		io_bus_access(&v->vm->pio, port, data + (size_t)i * size, size,
			      dir == KVM_EXIT_IO_OUT);
}

static void handle_system_event(struct vcpu *v)
{
	switch (v->run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		exit_ctl_request(&v->vm->exit, VM_EXIT_POWEROFF, 0, "guest powered off");
		break;
	case KVM_SYSTEM_EVENT_RESET:
		exit_ctl_request(&v->vm->exit, VM_EXIT_RESET, 0, "guest reset");
		break;
	default:
		crash(v, "unknown system event type %llu flags 0x%llx",
		      (unsigned long long)v->run->system_event.type,
		      (unsigned long long)v->run->system_event.flags);
		break;
	}
}

/* One exit. Returns false when the loop must stop. */
static bool handle_exit(struct vcpu *v)
{
	struct kvm_run *r = v->run;

	v->exits++;
	switch (r->exit_reason) {
	case KVM_EXIT_IO:
		v->io_exits++;
		handle_io(v);
		return true;
	case KVM_EXIT_MMIO:
		v->mmio_exits++;
		if (vm_pause_io_cut(&v->vm->pause)) { /* quarantined: serve nothing */
			if (!r->mmio.is_write)
				memset(r->mmio.data, 0, sizeof(r->mmio.data));
			return true;
		}
		io_bus_access(&v->vm->mmio, r->mmio.phys_addr, r->mmio.data, r->mmio.len,
			      r->mmio.is_write);
		return true;
	case KVM_EXIT_INTR:
		return true;
	case KVM_EXIT_HLT:
		/* Only without an in-kernel LAPIC; ours has one. Treat as a stop
		 * request from a CPU with nothing left to do. */
		exit_ctl_request(&v->vm->exit, VM_EXIT_POWEROFF, 0, "vCPU %u halted", v->index);
		return false;
	case KVM_EXIT_SHUTDOWN:
		crash(v, "triple fault (KVM_EXIT_SHUTDOWN)");
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		crash(v, "failed entry: hardware entry failure reason 0x%llx (cpu %llu)",
		      (unsigned long long)r->fail_entry.hardware_entry_failure_reason,
		      (unsigned long long)r->fail_entry.cpu);
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		/* Includes emulation failures; on PVM-backed hosts a triple fault
		 * surfaces here too. */
	{
		/* Copy what KVM reported (bounded by the array it sits in). */
		uint32_t nd = r->internal.ndata;
		unsigned long long d[4] = { 0 };

		if (nd > BH_ARRAY_SIZE(r->internal.data))
			nd = BH_ARRAY_SIZE(r->internal.data);
		for (uint32_t i = 0; i < nd && i < BH_ARRAY_SIZE(d); i++)
			d[i] = r->internal.data[i];
		crash(v, "KVM internal error: suberror %u%s, data %llx %llx %llx %llx (%u words)",
		      r->internal.suberror,
		      r->internal.suberror == KVM_INTERNAL_ERROR_EMULATION ? " (emulation failure)" : "",
		      d[0], d[1], d[2], d[3], nd);
		return false;
	}
	case KVM_EXIT_SYSTEM_EVENT:
		handle_system_event(v);
		return false;
	default:
		crash(v, "unhandled exit reason %u", r->exit_reason);
		return false;
	}
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	bool first_exit = false;
	sigset_t set;

	/* Its host CPUs first: the thread's own seccomp filter (loaded next)
	 * no longer allows changing them. */
	int pin = vm_place_thread(v->vm, VM_THREAD_VCPU, v->index);

	__atomic_store_n(&v->tid, (int)gettid(), __ATOMIC_SEQ_CST);

	if (pin) {
		exit_ctl_request(&v->vm->exit, VM_EXIT_HOST_ERROR, -pin,
				 "vCPU %u: cannot pin to its host CPUs: %s", v->index, strerror(-pin));
		goto out;
	}
	if (vm_thread_init(v->vm, VM_THREAD_VCPU, v->index))
		goto out;
	vcpu_self_set((int)v->index);
	/* Only vCPU threads take the kick signal. */
	sigemptyset(&set);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	if (v->index == 0)
		bh_startup_mark(v->vm->cfg.startup, "vCPU 0 thread up (its filter loaded)");

	while (!exit_ctl_requested(&v->vm->exit)) {
		if (vm_pause_requested(&v->vm->pause)) {
			vm_pause_park(&v->vm->pause, &v->vm->exit);
			continue;
		}
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				/* seq_cst, like the kicker's flag and immediate_exit
				 * stores: the flag checks above then see any request
				 * made before this kick (pause.h). */
				__atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
				continue;
			}
			exit_ctl_request(&v->vm->exit, VM_EXIT_HOST_ERROR, errno,
					 "vCPU %u: KVM_RUN failed: %s", v->index, strerror(errno));
			break;
		}
		if (v->index == 0 && v->vm->cfg.startup && !first_exit) {
			first_exit = true;
			bh_startup_mark(v->vm->cfg.startup, "first KVM_RUN: guest ran until its first exit");
			bh_startup_report(v->vm->cfg.startup);
		}
		if (!handle_exit(v))
			break;
	}
out:
	/* vm_run() waits for this (with a deadline) before it joins. */
	__atomic_store_n(&v->stopped, true, __ATOMIC_SEQ_CST);
	exit_ctl_notify(&v->vm->exit);
	return NULL;
}

bool vcpu_stopped(struct vcpu *v)
{
	return __atomic_load_n(&v->stopped, __ATOMIC_SEQ_CST);
}

int vcpu_start(struct vcpu *v)
{
	int ret = pthread_create(&v->thread, NULL, vcpu_thread, v);

	if (ret)
		return -ret;
	v->thread_started = true;
	return 0;
}

void vcpu_kick(struct vcpu *v)
{
	if (v->run)
		__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (v->thread_started)
		pthread_kill(v->thread, VCPU_KICK_SIGNAL);
}

void vcpu_destroy(struct vcpu *v)
{
	if (v->thread_started) {
		pthread_join(v->thread, NULL);
		v->thread_started = false;
	}
	if (v->run)
		munmap(v->run, (size_t)v->vm->vcpu_mmap_size);
	v->run = NULL;
	if (v->fd >= 0)
		close(v->fd);
	v->fd = -1;
}
