/* vm_control.c — the VM's verbs: pause, resume, quarantine, graceful stop,
 * statistics (see vm.h). Pause and quarantine are loops over the device
 * table (devices.h) plus the vCPU parking protocol (pause.h). */
#include <errno.h>

#include "common/log.h"
#include "vmm/devices.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

#define PARK_TIMEOUT_MS 2000

static unsigned running_vcpus(struct vm *vm)
{
	unsigned n = 0;

	for (unsigned i = 0; i < vm->ncpus; i++)
		if (vm->vcpus[i].thread_started)
			n++;
	return n;
}

/* Ask every vCPU to park and wait for them. 0 or -ETIMEDOUT. */
static int park_vcpus(struct vm *vm)
{
	vm_pause_begin(&vm->pause);
	for (unsigned i = 0; i < vm->ncpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	return vm_pause_wait_parked(&vm->pause, &vm->exit, running_vcpus(vm), PARK_TIMEOUT_MS);
}

int vm_pause(struct vm *vm)
{
	int ret = park_vcpus(vm);

	if (ret) {
		/* A vCPU that does not park would keep the guest half-running
		 * while the devices are stopped: undo, report. */
		if (!vm_pause_io_cut(&vm->pause))
			vm_pause_end(&vm->pause);
		return ret;
	}
	/* The vCPUs are parked: nothing can start new device work, so what is
	 * in flight now is all there is. */
	vm_devices_quiesce(vm);
	return 0;
}

int vm_resume(struct vm *vm)
{
	if (vm_pause_io_cut(&vm->pause))
		return -EPERM; /* quarantine is for good */
	vm_devices_resume(vm);
	vm_pause_end(&vm->pause);
	return 0;
}

int vm_quarantine(struct vm *vm)
{
	int ret;

	/* The cut first: from here on register accesses are dropped, whatever
	 * the vCPUs do before they park. */
	vm_pause_cut_io(&vm->pause);
	ret = park_vcpus(vm);
	/* Event-thread data paths and in-flight backend I/O: the devices. Even
	 * if a vCPU did not park in time (it parks at its next exit, and the
	 * cut already drops what it does). */
	vm_devices_quiesce(vm);
	bh_warn("VM quarantined: vCPUs %s, devices quiesced, guest I/O and console input cut "
		"off", ret ? "asked to park (not all parked yet)" : "parked");
	return ret;
}

int vm_request_stop(struct vm *vm)
{
	if (vm_pause_requested(&vm->pause))
		return -EAGAIN; /* a parked guest cannot react */
	return vm_devices_ctrl_alt_del(vm);
}

void vm_stats(struct vm *vm, struct vm_stats *out)
{
	*out = (struct vm_stats){ .ncpus = vm->ncpus };
	out->paused = vm_pause_requested(&vm->pause);
	out->quarantined = vm_pause_io_cut(&vm->pause);
	out->stopping = exit_ctl_requested(&vm->exit);
	for (unsigned i = 0; vm->vcpus && i < vm->ncpus; i++) {
		/* Written by the vCPU threads; a torn read is harmless. */
		out->exits += __atomic_load_n(&vm->vcpus[i].exits, __ATOMIC_RELAXED);
		out->io_exits += __atomic_load_n(&vm->vcpus[i].io_exits, __ATOMIC_RELAXED);
		out->mmio_exits += __atomic_load_n(&vm->vcpus[i].mmio_exits, __ATOMIC_RELAXED);
	}
	out->nnets = vm_devices_net_stats(vm, out->net, VM_MAX_NETS);
}
