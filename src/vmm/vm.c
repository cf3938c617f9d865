/* vm.c — see vm.h. Creation order matters and is spelled out in vm_create(). */
#include "vm.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "arch/x86/acpi.h"
#include "arch/x86/cpuid.h"
#include "arch/x86/layout.h"
#include "arch/x86/mptable.h"
#include "arch/x86/regs.h"
#include "common/log.h"
#include "common/startup.h"
#include "vmm/devices.h"
#include "vmm/vcpu.h"
#include "vmm/vm_events.h"
#include "vmm/vm_place.h"
#include "vmm/ctl_vmm.h"

#define KVM_API_VERSION_EXPECTED 12
#define VM_MIN_MEM (8ULL << 20)

static int fail(struct vm *vm, int ret, const char *fmt, ...) BH_PRINTF(3, 4);
static int fail(struct vm *vm, int ret, const char *fmt, ...)
{
	va_list ap;

	if (vm->err[0] == '\0') {
		va_start(ap, fmt);
		vsnprintf(vm->err, sizeof(vm->err), fmt, ap);
		va_end(ap);
	}
	return ret;
}

/* A failure caused by the operator's input (exit code "config error"). */
#define fail_cfg(vm, ...) ((vm)->err_is_config = true, fail((vm), __VA_ARGS__))

/* Host RAM from /proc/meminfo (bytes), 0 if unknown. */
static uint64_t host_mem_total(void)
{
	FILE *f = fopen("/proc/meminfo", "re");
	unsigned long long kib = 0;
	char line[128];

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemTotal: %llu kB", &kib) == 1)
			break;
	fclose(f);
	return (uint64_t)kib * 1024;
}

static int kvm_open(struct vm *vm)
{
	int v, max;

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		int e = errno;

		return fail(vm, -e, "cannot open /dev/kvm: %s (KVM is not available on this host%s)",
			    strerror(e), e == EACCES ? "; is this user in the kvm group?" : "");
	}
	v = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (v != KVM_API_VERSION_EXPECTED)
		return fail(vm, -ENOTSUP, "/dev/kvm speaks API version %d, need %d", v,
			    KVM_API_VERSION_EXPECTED);
	static const struct {
		int cap;
		const char *name;
	} need[] = {
		{ KVM_CAP_USER_MEMORY, "USER_MEMORY" }, { KVM_CAP_IRQCHIP, "IRQCHIP" },
		{ KVM_CAP_SET_TSS_ADDR, "SET_TSS_ADDR" }, { KVM_CAP_PIT2, "PIT2" },
		{ KVM_CAP_IMMEDIATE_EXIT, "IMMEDIATE_EXIT" }, { KVM_CAP_EXT_CPUID, "EXT_CPUID" },
	};
	for (size_t i = 0; i < BH_ARRAY_SIZE(need); i++)
		if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, need[i].cap) <= 0)
			return fail(vm, -ENOTSUP, "KVM lacks the required capability KVM_CAP_%s",
				    need[i].name);

	max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (max <= 0)
		max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	if (max <= 0)
		max = 4;
	if (max > VM_MAX_VCPUS)
		max = VM_MAX_VCPUS;
	if (vm->cfg.ncpus > (unsigned)max)
		return fail_cfg(vm, -ERANGE, "--cpus %u: more vCPUs than this host's KVM allows (%d)",
			    vm->cfg.ncpus, max);

	vm->vcpu_mmap_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vm->vcpu_mmap_size < (int)sizeof(struct kvm_run))
		return fail(vm, -ENOTSUP, "KVM_GET_VCPU_MMAP_SIZE returned %d", vm->vcpu_mmap_size);
	return 0;
}

static int vm_create_kvm_vm(struct vm *vm)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	uint64_t idmap = X86_KVM_IDENTITY_MAP_ADDR;

	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		vm->vm_fd = -1;
		return fail(vm, -errno, "KVM_CREATE_VM failed: %s", strerror(errno));
	}
	/* Real-mode TSS and EPT identity map live in the MMIO hole, not in RAM. */
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)X86_KVM_TSS_ADDR) < 0)
		return fail(vm, -errno, "KVM_SET_TSS_ADDR failed: %s", strerror(errno));
	/* Only meaningful on Intel; KVM's default is the same address. */
	if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0)
		bh_dbg("KVM_SET_IDENTITY_MAP_ADDR: %s (ignored)", strerror(errno));
	/* In-kernel PIC/IOAPIC/LAPIC and PIT: timer and interrupt delivery never
	 * bounce through this process. */
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return fail(vm, -errno, "KVM_CREATE_IRQCHIP failed: %s", strerror(errno));
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return fail(vm, -errno, "KVM_CREATE_PIT2 failed: %s", strerror(errno));
	return 0;
}

/* Guest RAM: validated against the host before anything is allocated. */
static int vm_alloc_memory(struct vm *vm, const struct vm_ram_source *src)
{
	uint64_t host = host_mem_total();

	if (vm->cfg.mem_bytes < VM_MIN_MEM)
		return fail_cfg(vm, -ERANGE, "--mem %llu MiB: guests need at least %llu MiB",
				(unsigned long long)(vm->cfg.mem_bytes >> 20),
				(unsigned long long)(VM_MIN_MEM >> 20));
	if (host && vm->cfg.mem_bytes > host)
		return fail_cfg(vm, -ERANGE, "--mem %llu MiB: more than this host's RAM (%llu MiB)",
				(unsigned long long)(vm->cfg.mem_bytes >> 20),
				(unsigned long long)(host >> 20));
	if (src && src->fd >= 0)
		return vm_place_memory_from(vm, src->fd, src->copy_on_write);
	return vm_place_memory(vm); /* hugepages, pre-allocation, THP, KSM */
}

/* Hand RAM to KVM: one memslot per region (two when RAM crosses the hole). */
static int vm_map_memory(struct vm *vm)
{
	for (unsigned i = 0; i < vm->mem.nregions; i++) {
		const struct gmem_region *r = &vm->mem.regions[i];
		struct kvm_userspace_memory_region slot = {
			.slot = i,
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uint64_t)(uintptr_t)r->host,
		};
		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
			return fail(vm, -errno, "KVM_SET_USER_MEMORY_REGION slot %u failed: %s", i,
				    strerror(errno));
	}
	return 0;
}

/* Boot, first half: firmware tables and the kernel into guest RAM (needs
 * only RAM, so a bad kernel is reported before KVM is touched). */
static int vm_boot_load(struct vm *vm)
{
	char err[sizeof(vm->err)];
	int ret;

	err[0] = '\0';
	if ((ret = x86_setup_boot_tables(&vm->mem)))
		return fail(vm, ret, "cannot write boot page tables: %s", strerror(-ret));
	/* Both descriptions of the CPUs: ACPI for kernels built without an MP
	 * table parser (Debian's cloud kernel), the MP table for the others. */
	if ((ret = mptable_write(&vm->mem, vm->ncpus)))
		return fail(vm, ret, "cannot write the MP table: %s", strerror(-ret));
	if ((ret = acpi_write_tables(&vm->mem, vm->ncpus, &vm->cfg.boot.acpi_rsdp_gpa)))
		return fail(vm, ret, "cannot write the ACPI tables: %s", strerror(-ret));
	ret = boot_load(&vm->mem, &vm->cfg.boot, &vm->plan, err, sizeof(err));
	if (ret == -ENOMEM || ret == -EIO)
		return fail(vm, ret, "%s", err[0] ? err : strerror(-ret));
	if (ret) /* the kernel or initrd the operator named is unusable */
		return fail_cfg(vm, ret, "%s", err[0] ? err : strerror(-ret));
	bh_info("kernel: %s, entry 0x%llx (%s)", vm->plan.format,
		(unsigned long long)vm->plan.entry,
		vm->plan.kind == BOOT_ENTRY_PVH32 ? "PVH 32-bit" : "64-bit");
	return 0;
}

/* What a snapshot saves of each vCPU, asked while /dev/kvm is still open:
 * the MSR index list and the XSAVE area's size. */
static int vm_query_state_sizes(struct vm *vm)
{
	struct kvm_msr_list probe = { .nmsrs = 0 }, *list;
	int n;

	n = ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
	vm->xsave_size = n > (int)sizeof(struct kvm_xsave) ? (unsigned)n : sizeof(struct kvm_xsave);
	if (ioctl(vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe) < 0 && errno != E2BIG)
		return fail(vm, -errno, "KVM_GET_MSR_INDEX_LIST failed: %s", strerror(errno));
	if (probe.nmsrs > 4096)
		return fail(vm, -E2BIG, "KVM reports %u MSRs", probe.nmsrs);
	list = calloc(1, sizeof(*list) + probe.nmsrs * sizeof(uint32_t));
	if (!list)
		return fail(vm, -ENOMEM, "out of memory for the MSR list");
	list->nmsrs = probe.nmsrs;
	if (ioctl(vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, list) < 0) {
		int e = errno;

		free(list);
		return fail(vm, -e, "KVM_GET_MSR_INDEX_LIST failed: %s", strerror(e));
	}
	vm->msr_index = malloc((list->nmsrs ? list->nmsrs : 1) * sizeof(uint32_t));
	if (!vm->msr_index) {
		free(list);
		return fail(vm, -ENOMEM, "out of memory for the MSR list");
	}
	memcpy(vm->msr_index, list->indices, list->nmsrs * sizeof(uint32_t));
	vm->nmsr_index = list->nmsrs;
	free(list);
	return 0;
}

static int vm_create_vcpus(struct vm *vm)
{
	int ret;

	ret = cpuid_get_supported(vm->kvm_fd, vm->cfg.cpu_template, &vm->cpuid);
	if (ret)
		return fail(vm, ret, "KVM_GET_SUPPORTED_CPUID failed: %s", strerror(-ret));
	if ((ret = vm_query_state_sizes(vm)))
		return ret;
	vm->vcpus = calloc(vm->ncpus, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return fail(vm, -ENOMEM, "out of memory for %u vCPUs", vm->ncpus);
	for (unsigned i = 0; i < vm->ncpus; i++)
		vm->vcpus[i].fd = -1;
	for (unsigned i = 0; i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		if ((ret = vcpu_create(v, vm, i)))
			return fail(vm, ret, "KVM_CREATE_VCPU %u failed: %s", i, strerror(-ret));
		if ((ret = cpuid_apply(v->fd, vm->cpuid, i, vm->ncpus)))
			return fail(vm, ret, "KVM_SET_CPUID2 on vCPU %u failed: %s", i,
				    strerror(-ret));
		if ((ret = x86_setup_msrs(v->fd)))
			return fail(vm, ret, "KVM_SET_MSRS on vCPU %u failed: %s", i, strerror(-ret));
		if ((ret = x86_setup_lapic(v->fd)))
			return fail(vm, ret, "LAPIC setup on vCPU %u failed: %s", i, strerror(-ret));
	}
	return 0;
}

/* Boot, second half: only the BSP gets registers; APs wait for INIT/SIPI
 * like real CPUs. */
static int vm_boot_cpu(struct vm *vm)
{
	int ret;

	if ((ret = x86_setup_bsp_regs(vm->vcpus[0].fd, &vm->plan)))
		return fail(vm, ret, "setting boot registers failed: %s", strerror(-ret));
	return 0;
}

/* Build, first half: everything that is operator input or a host resource
 * outside KVM — RAM, the console, every device's attach. */
static int vm_build_host(struct vm *vm, const struct vm_config *cfg,
			 const struct vm_ram_source *ram)
{
	struct fd_table *fds = vm->fds; /* set before the build (vm_set_fds) */
	int ret;

	memset(vm, 0, sizeof(*vm));
	vm->fds = fds;
	vm->kvm_fd = vm->vm_fd = -1;
	vm->mem.memfd = -1;
	vm->exit.efd = -1;
	vm->el.epfd = -1;
	vm->cfg = *cfg;
	vm->ncpus = cfg->ncpus;
	vm_pause_init(&vm->pause);
	io_bus_init(&vm->pio, IO_BUS_PIO);
	io_bus_init(&vm->mmio, IO_BUS_MMIO);

	if (cfg->ncpus == 0)
		return fail_cfg(vm, -ERANGE, "--cpus 0: a VM needs at least one vCPU");
	if (cfg->ncpus > VM_MAX_VCPUS)
		return fail_cfg(vm, -ERANGE, "--cpus %u: at most %u vCPUs are supported", cfg->ncpus,
			    VM_MAX_VCPUS);
	if ((ret = exit_ctl_init(&vm->exit)))
		return fail(vm, ret, "eventfd: %s", strerror(-ret));
	/* The event thread ends once every vCPU stopped, not at the stop
	 * request: until then it still reads stop signals (vm_run). */
	if ((ret = event_loop_init(&vm->el, exit_ctl_done_fd(&vm->exit))))
		return fail(vm, ret, "epoll: %s", strerror(-ret));
	if ((ret = vm_place_cpus(vm)))
		return ret;
	return vm_alloc_memory(vm, ram);
}

/* Build, second half: devices that hold operator input are attached (a bad
 * --disk is a configuration error on any host), then KVM: the VM, memslots,
 * irqchip, interrupt routing, every device plugged, the buses sealed, vCPUs
 * with CPUID, MSRs and LAPIC (no boot registers). */
static int vm_build_kvm(struct vm *vm)
{
	int ret;

	if ((ret = console_open(&vm->console, vm->cfg.console, vm->cfg.console_path,
				vm->cfg.console_max_bytes, exit_ctl_fd(&vm->exit), vm->err,
				sizeof(vm->err)))) {
		vm->err_is_config = true;
		return ret;
	}
	if ((ret = vm_devices_attach(vm)))
		return ret;
	bh_startup_mark(vm->cfg.startup, "console, devices attached");
	if ((ret = kvm_open(vm)) || (ret = vm_create_kvm_vm(vm)))
		return ret;
	bh_startup_mark(vm->cfg.startup, "KVM VM created (irqchip, PIT)");
	if ((ret = vm_map_memory(vm)))
		return ret;
	bh_startup_mark(vm->cfg.startup, "KVM memory slots");
	if ((ret = irq_router_init(&vm->router, vm->vm_fd)))
		return fail(vm, ret, "interrupt routing: %s", strerror(-ret));
	if ((ret = vm_devices_plug(vm)))
		return ret;
	io_bus_seal(&vm->pio);
	io_bus_seal(&vm->mmio);
	bh_startup_mark(vm->cfg.startup, "devices plugged (PCI, KVM wiring)");
	if ((ret = vm_create_vcpus(vm)))
		return ret;
	bh_startup_mark(vm->cfg.startup, "vCPUs created (CPUID, MSRs, LAPIC)");
	/* The VM and its vCPUs exist: /dev/kvm has nothing more to give. Closed
	 * now, a compromised VMM has no fd to call KVM_CREATE_VM (or any other
	 * system ioctl) on, whatever the seccomp ioctl allow-list admits. */
	close(vm->kvm_fd);
	vm->kvm_fd = -1;
	return 0;
}

int vm_build(struct vm *vm, const struct vm_config *cfg, const struct vm_ram_source *ram)
{
	int ret = vm_build_host(vm, cfg, ram);

	return ret ? ret : vm_build_kvm(vm);
}

int vm_boot(struct vm *vm)
{
	int ret = vm_boot_load(vm);

	return ret ? ret : vm_boot_cpu(vm);
}

int vm_create(struct vm *vm, const struct vm_config *cfg)
{
	int ret;

	/* build + boot, interleaved so that operator input (sizes, the kernel,
	 * the console file, disks) is checked before the host's KVM. */
	if ((ret = vm_build_host(vm, cfg, NULL)))
		return ret;
	bh_startup_mark(cfg->startup, "guest memory (memfd, mapping)");
	if ((ret = vm_boot_load(vm)))
		return ret;
	bh_startup_mark(cfg->startup, "firmware tables, kernel and initrd loaded");
	if ((ret = vm_build_kvm(vm)))
		return ret;
	return vm_boot_cpu(vm);
}

void vm_set_control(struct vm *vm, struct ctl_vmm *ctl)
{
	vm->ctl = ctl;
}

void vm_set_fds(struct vm *vm, struct fd_table *fds)
{
	vm->fds = fds;
}

void vm_set_thread_init(struct vm *vm, vm_thread_init_fn fn, void *opaque)
{
	vm->thread_init = fn;
	vm->thread_init_opaque = opaque;
}

int vm_thread_init(struct vm *vm, enum vm_thread_kind kind, unsigned index)
{
	static const char *const names[] = { "main", "vCPU", "event" };
	int ret;

	if (!vm->thread_init || !(ret = vm->thread_init(vm->thread_init_opaque, kind)))
		return 0;
	exit_ctl_request(&vm->exit, VM_EXIT_HOST_ERROR, -ret, "%s thread %u: sandbox: %s",
			 names[kind], index, strerror(-ret));
	return ret;
}

static void kick_handler(int sig)
{
	(void)sig; /* only interrupts KVM_RUN */
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Join `t` if it ends within `ms` milliseconds. */
static bool join_within(pthread_t t, unsigned ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_nsec += (long)ms * 1000000L;
	ts.tv_sec += ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	return pthread_clockjoin_np(t, NULL, CLOCK_MONOTONIC, &ts) == 0;
}

/* After the stop request: kick every vCPU until its thread has left its
 * loop (vcpu.stopped). A kick can be missed (a signal that arrives while the
 * thread is outside KVM_RUN with immediate_exit already cleared, a kernel
 * that keeps the vCPU in the guest), so the kicks repeat every 20 ms. The
 * threads are joined later, once the event thread (which may kick vCPUs for
 * a pause) has ended. True once all stopped; false when some did not within
 * the deadline or a second stop signal asked not to wait (named on stderr). */
static bool vm_stop_vcpus(struct vm *vm)
{
	const uint64_t deadline = mono_ms() + VM_STOP_DEADLINE_MS(vm->ncpus);
	unsigned left;

	for (;;) {
		vm_pause_wake(&vm->pause); /* a stop while paused: parked vCPUs leave */
		left = 0;
		for (unsigned i = 0; i < vm->ncpus; i++) {
			struct vcpu *v = &vm->vcpus[i];

			if (v->thread_started && !vcpu_stopped(v)) {
				vcpu_kick(v);
				left++;
			}
		}
		if (!left)
			return true;
		if (exit_ctl_forced(&vm->exit) || mono_ms() >= deadline)
			break;
		exit_ctl_wait_notified(&vm->exit, 20);
	}
	for (unsigned i = 0; i < vm->ncpus; i++)
		if (vm->vcpus[i].thread_started && !vcpu_stopped(&vm->vcpus[i]))
			bh_err("vCPU %u did not stop %s %u ms of the stop request; ending the VM "
			       "process without it",
			       i, exit_ctl_forced(&vm->exit) ? "before a second stop signal, within"
							     : "within",
			       VM_STOP_DEADLINE_MS(vm->ncpus));
	return false;
}

enum vm_exit_reason vm_run(struct vm *vm)
{
	struct sigaction sa;
	sigset_t stop_set, block_set, old_set;
	struct vm_input input;
	int sig_fd;
	pthread_t ev_thread;
	bool ev_started = false;
	enum vm_exit_reason reason;
	int ret;

	/* The kick signal interrupts KVM_RUN; it is blocked everywhere except in
	 * vCPU threads. Stop signals are read from a signalfd. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler;
	sigemptyset(&sa.sa_mask);
	sigaction(VCPU_KICK_SIGNAL, &sa, NULL);
	sigemptyset(&stop_set);
	sigaddset(&stop_set, SIGINT);
	sigaddset(&stop_set, SIGTERM);
	sigaddset(&stop_set, SIGHUP);
	sigaddset(&stop_set, SIGQUIT);
	block_set = stop_set;
	sigaddset(&block_set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_BLOCK, &block_set, &old_set);
	sig_fd = signalfd(-1, &stop_set, SFD_CLOEXEC | SFD_NONBLOCK);
	/* Without the signalfd or the event thread nobody would read the
	 * (blocked) stop signals: refuse to run rather than be unkillable. */
	if (sig_fd < 0)
		exit_ctl_request(&vm->exit, VM_EXIT_HOST_ERROR, errno, "signalfd: %s",
				 strerror(errno));
	else if ((ret = vm_place_thread(vm, VM_THREAD_MAIN, 0)))
		exit_ctl_request(&vm->exit, VM_EXIT_HOST_ERROR, -ret,
				 "pinning the VMM's threads off the dedicated cores: %s",
				 strerror(-ret));
	else if ((ret = vm_events_setup(vm, &input, sig_fd)))
		exit_ctl_request(&vm->exit, VM_EXIT_HOST_ERROR, -ret, "event loop setup: %s",
				 strerror(-ret));
	else if (pthread_create(&ev_thread, NULL, vm_event_thread, vm) == 0)
		ev_started = true;
	else
		exit_ctl_request(&vm->exit, VM_EXIT_HOST_ERROR, EAGAIN,
				 "cannot start the event thread");

	console_start_input(&vm->console);
	for (unsigned i = 0; i < vm->ncpus && !exit_ctl_requested(&vm->exit); i++) {
		if ((ret = vcpu_start(&vm->vcpus[i]))) {
			exit_ctl_request(&vm->exit, VM_EXIT_HOST_ERROR, -ret,
					 "cannot start vCPU %u thread: %s", i, strerror(-ret));
			break;
		}
	}
	if (!exit_ctl_requested(&vm->exit) && vm_thread_init(vm, VM_THREAD_MAIN, 0)) {
		/* the stop is requested; fall through to the teardown */
	}
	reason = exit_ctl_wait(&vm->exit);
	if (!vm_stop_vcpus(vm))
		vm->abandoned = true;
	/* Only now may the event thread end: until here it read stop signals
	 * (a second one ends the wait above). */
	exit_ctl_done(&vm->exit);
	if (ev_started && !join_within(ev_thread, vm->abandoned ? 100 : VM_STOP_DEADLINE_MS(0))) {
		bh_err("the event thread did not stop; ending the VM process without it");
		vm->abandoned = true;
	}
	/* Nobody kicks vCPUs any more: their thread handles may now go. */
	for (unsigned i = 0; i < vm->ncpus && !vm->abandoned; i++) {
		struct vcpu *v = &vm->vcpus[i];

		if (v->thread_started && join_within(v->thread, 1000))
			v->thread_started = false;
		else if (v->thread_started)
			vm->abandoned = true; /* left its loop but never ended */
	}
	console_restore_tty(&vm->console);
	if (vm->abandoned) {
		pthread_sigmask(SIG_SETMASK, &old_set, NULL);
		vm_devices_report(vm); /* counters only: safe beside a running vCPU */
		return reason;
	}
	if (sig_fd >= 0) {
		event_loop_del(&vm->el, sig_fd);
		close(sig_fd);
	}
	pthread_sigmask(SIG_SETMASK, &old_set, NULL);
	vm_devices_report(vm);
	return reason;
}

void vm_destroy(struct vm *vm)
{
	if (vm->abandoned)
		return; /* threads still use it; the process is ending (vm_run) */
	if (vm->vcpus) {
		for (unsigned i = 0; i < vm->ncpus; i++)
			if (vm->vcpus[i].fd >= 0 || vm->vcpus[i].thread_started)
				vcpu_destroy(&vm->vcpus[i]);
		free(vm->vcpus);
		vm->vcpus = NULL;
	}
	/* Unbind the irqfds while the devices' eventfds are still open. */
	irq_router_destroy(&vm->router);
	vm_devices_destroy(vm);
	event_loop_destroy(&vm->el);
	free(vm->cpuid);
	vm->cpuid = NULL;
	free(vm->msr_index);
	vm->msr_index = NULL;
	/* Close the VM before unmapping its RAM: KVM then tears the memslots
	 * down with the VM in one go instead of invalidating a live slot. */
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	vm->vm_fd = -1;
	gmem_destroy(&vm->mem);
	vm_place_destroy(vm);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	vm->vm_fd = vm->kvm_fd = -1;
	console_close(&vm->console);
	if (vm->exit.efd >= 0)
		exit_ctl_destroy(&vm->exit);
	vm_pause_destroy(&vm->pause);
}
