/* vmm_main.c — see vmm_main.h. */
#include "vmm/vmm_main.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "common/startup.h"
#include "common/fd_name.h"
#include "config/cpu_place.h"
#include "config/exit_codes.h"
#include "sandbox/vsock_broker.h"
#include "vmm/ctl_vmm.h"
#include "vmm/devices.h"
#include "vmm/fd_table.h"
#include "vmm/vm.h"
#include "vmm/vm_snapshot.h"

static int exit_code_for(struct vm *vm, enum vm_exit_reason r)
{
	switch (r) {
	case VM_EXIT_POWEROFF:
	case VM_EXIT_RESET:
		bh_info("guest stopped: %s", vm->exit.detail);
		return BH_EXIT_OK;
	case VM_EXIT_TEST:
		if (vm->exit.status == 0) {
			bh_info("guest stopped: test status 0");
			return BH_EXIT_OK;
		}
		bh_err("guest reported failure: test status %d", vm->exit.status);
		return BH_EXIT_TEST_FAIL;
	case VM_EXIT_CRASH:
		bh_err("guest crashed: %s", vm->exit.detail);
		return BH_EXIT_CRASH;
	case VM_EXIT_SIGNAL:
		bh_warn("%s", vm->exit.detail);
		return BH_EXIT_SIGNAL;
	case VM_EXIT_HOST_ERROR:
	case VM_EXIT_NONE:
		break;
	}
	bh_err("host failure: %s", vm->exit.detail);
	return BH_EXIT_HOST;
}

/* Largest file the VM process may write: the console cap, a disk image or
 * a snapshot's memory file (guest RAM, written by the control channel's
 * snapshot: its length is the RAM size), whichever is larger, plus room for
 * log lines and the state file (RLIMIT_FSIZE). */
static uint64_t fsize_max(const struct vm_config *cfg)
{
	uint64_t m = cfg->console_max_bytes > cfg->mem_bytes ? cfg->console_max_bytes
							      : cfg->mem_bytes;
	struct stat st;

	for (unsigned i = 0; i < cfg->ndisks; i++)
		if (cfg->disks[i].path && stat(cfg->disks[i].path, &st) == 0 &&
		    (uint64_t)st.st_size > m)
			m = (uint64_t)st.st_size;
	return m + (64ULL << 20);
}

/* Close every fd >= 3 except the n (<= FD_TABLE_MAX + 1) in keep[]. */
static void close_inherited(const int *keep_in, unsigned n)
{
	int keep[FD_TABLE_MAX + 1];
	unsigned lo = 3;

	/* Sorted, so the gaps between kept fds are ranges to close. */
	for (unsigned i = 0; i < n; i++) {
		unsigned j = i;

		for (; j > 0 && keep[j - 1] > keep_in[i]; j--)
			keep[j] = keep[j - 1];
		keep[j] = keep_in[i];
	}
	for (unsigned i = 0; i <= n; i++) {
		unsigned hi = i < n ? (unsigned)keep[i] - 1 : ~0U;

		if (i < n && keep[i] < (int)lo)
			continue; /* duplicates, or below 3 */
		if (hi >= lo && syscall(SYS_close_range, lo, hi, 0U) < 0)
			for (unsigned fd = lo; fd <= hi && fd < 1024; fd++)
				close((int)fd);
		if (i < n)
			lo = (unsigned)keep[i] + 1;
	}
}

/* The sweep, then the named descriptors: each must still be what it was
 * named as (fd_table_add checked it), distinct from the control socket, and
 * close-on-exec. 0 or an exit code. */
static int sweep_fds(struct fd_table *fds, int control_fd)
{
	int keep[FD_TABLE_MAX + 1];
	unsigned n = 0;

	for (unsigned i = 0; i < fds->n; i++) {
		if (fds->e[i].fd == control_fd) {
			bh_err("--fd %s=%d: descriptor %d is the control socket (--control-fd)",
			       fds->e[i].name, control_fd, control_fd);
			return BH_EXIT_CONFIG;
		}
		keep[n++] = fds->e[i].fd;
	}
	if (control_fd >= 0)
		keep[n++] = control_fd;
	close_inherited(keep, n);
	for (unsigned i = 0; i < fds->n; i++) {
		int fl = fcntl(fds->e[i].fd, F_GETFD);

		if (fl >= 0 && !(fl & FD_CLOEXEC))
			(void)fcntl(fds->e[i].fd, F_SETFD, fl | FD_CLOEXEC);
	}
	return 0;
}

/* --cpu-dedicated: the sandbox's supervisor goes where the VMM's other
 * threads go (config/cpu_place.h); an unplaceable configuration is reported
 * by vm_create() in the VM process. */
static void supervisor_cpus(const struct vm_config *cfg, struct jail_config *jcfg)
{
	struct cpu_place *pl;
	cpu_set_t host;
	char e[256];

	if (!cfg->cpu_dedicated || sched_getaffinity(0, sizeof(host), &host) < 0 ||
	    !(pl = malloc(sizeof(*pl))))
		return;
	if (!cpu_place_resolve(cfg, &host, true, pl, e, sizeof(e))) {
		jcfg->pin_supervisor = true;
		jcfg->supervisor_cpus = pl->other;
	}
	free(pl);
}

/* The VM's end of the vsock broker's channel goes into the named fds (the
 * device takes it in its attach). */
static int add_broker_fd(struct fd_table *fds, int fd)
{
	char err[200];

	if (fd < 0)
		return 0;
	if (fd_table_add(fds, BH_FD_VSOCK_BROKER, fd, err, sizeof(err))) {
		bh_err("%s", err);
		close(fd);
		return BH_EXIT_HOST;
	}
	return 0;
}

struct broker_thread {
	pthread_t thr;
	bool running;
	int chan;
	const struct vm_config *cfg;
};

static void *broker_main(void *arg)
{
	struct broker_thread *b = arg;

	vsock_broker_run(b->chan, b->cfg->vsock.socket, b->cfg->vsock.allow);
	close(b->chan);
	return NULL;
}

/* Without a jail there is no supervisor: a thread of ours brokers. */
static int start_broker_thread(struct broker_thread *b, const struct vm_config *cfg,
			       struct fd_table *fds)
{
	int sp[2];

	b->running = false;
	if (!cfg->vsock.socket)
		return 0;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
		bh_err("vsock broker: socketpair: %s", strerror(errno));
		return BH_EXIT_HOST;
	}
	b->chan = sp[1];
	b->cfg = cfg;
	if (pthread_create(&b->thr, NULL, broker_main, b)) {
		bh_err("vsock broker: cannot start its thread");
		close(sp[0]);
		close(sp[1]);
		return BH_EXIT_HOST;
	}
	b->running = true;
	return add_broker_fd(fds, sp[0]);
}

/* Remove the hybrid-vsock socket we bound (not one handed in by name). */
static void unlink_vsock(const struct vm_config *cfg, bool ours)
{
	if (cfg->vsock.socket && ours)
		(void)unlink(cfg->vsock.socket);
}

/* The restore's build: RAM from the snapshot's memory file, then the state. */
static int build_restored(struct vm *vm, const struct vm_config *cfg,
			  const struct vmm_restore *rs, struct fd_table *fds)
{
	struct vm_ram_source ram = { .fd = fd_table_take(fds, VMM_SNAPSHOT_MEMORY_FD),
				     .copy_on_write = true };
	char err[400];
	int ret;

	if (ram.fd < 0) {
		snprintf(vm->err, sizeof(vm->err), "restore: no snapshot memory descriptor");
		return -EBADF;
	}
	if ((ret = vm_build(vm, cfg, &ram)))
		return ret;
	if ((ret = vm_snapshot_restore(vm, rs->state, err, sizeof(err)))) {
		snprintf(vm->err, sizeof(vm->err), "restore: %s", err);
		vm->err_is_config = true; /* the snapshot is the operator's input */
		return ret;
	}
	/* Every restore is a clone: its own generation ID, MACs and CID. */
	vm_devices_identity_log(vm, "restored as a new VM");
	if (rs->paused) {
		/* Parked before their first KVM_RUN, devices quiet: the control
		 * channel's resume starts it. */
		vm_pause_begin(&vm->pause);
		vm_devices_quiesce(vm);
		bh_info("restored paused: resume it over the control channel");
	}
	return 0;
}

int vmm_main(const struct vm_config *cfg, const struct jail_config *jcfg_in, int control_fd,
	     struct fd_table *fds)
{
	return vmm_main_restore(cfg, jcfg_in, control_fd, fds, NULL);
}

int vmm_main_restore(const struct vm_config *cfg, const struct jail_config *jcfg_in,
		     int control_fd, struct fd_table *fds, const struct vmm_restore *restore)
{
	struct broker_thread broker = { .running = false };
	bool vsock_ours = cfg->vsock.socket && fd_table_find(fds, BH_FD_VSOCK_LISTEN) < 0;
	struct jail_config jcfg = *jcfg_in;
	struct jail jail;
	bool jailed = false, have_ctl = false;
	struct ctl_vmm ctl;
	struct vm *vm = NULL;
	char err[512];
	int ret, code = BH_EXIT_HOST;

	/* Everything inherited beyond stdio, the daemon's control socket and the
	 * named descriptors (--fd) is closed before anything is opened for the
	 * VM, so every fd the VM process holds later is one it opened itself or
	 * one it was handed by name (see docs/security.md). Option parsing
	 * opened and closed its files already. */
	if ((code = sweep_fds(fds, control_fd))) {
		fd_table_destroy(fds);
		return code;
	}
	code = BH_EXIT_HOST;
	bh_startup_mark(cfg->startup, "exec, options parsed, inherited fds closed");

	if (jcfg.enabled) {
		jcfg.ncpus = cfg->ncpus;
		jcfg.mem_bytes = cfg->mem_bytes;
		jcfg.cpu_weight = cfg->cpu_weight;
		supervisor_cpus(cfg, &jcfg);
		jcfg.fsize_max = fsize_max(cfg);
		jcfg.vsock_socket = cfg->vsock.socket;
		jcfg.vsock_allow = cfg->vsock.allow;
		jail_init(&jail, &jcfg);
		jail.startup = cfg->startup;
		jail.early_exit = true; /* jail_report_exit() below */
		if (!jail.privileged && (jcfg.uid || jcfg.gid))
			bh_warn("--sandbox-uid/--sandbox-gid ignored: started unprivileged, the VM "
				"runs as the invoking user mapped to 0 in a user namespace");
		ret = jail_fork(&jail, &code, err, sizeof(err));
		if (ret < 0) {
			bh_err("%s", err);
			fd_table_destroy(fds);
			return BH_EXIT_HOST;
		}
		if (ret == 1) {
			fd_table_destroy(fds); /* the supervisor's copies */
			unlink_vsock(cfg, vsock_ours);
			return code;           /* the VM process has ended */
		}
		jailed = true;
		if ((code = add_broker_fd(fds, jail.broker_fd))) {
			jail.broker_fd = -1;
			goto out;
		}
		jail.broker_fd = -1;
		code = BH_EXIT_HOST;
	} else {
		bh_warn("SANDBOX DISABLED (--no-sandbox): the VM process keeps every privilege of "
			"its user; a guest that breaks into the VMM owns them too");
		if ((code = start_broker_thread(&broker, cfg, fds)))
			goto out;
		code = BH_EXIT_HOST;
	}

	fd_table_describe(fds, err, sizeof(err));
	bh_dbg("named descriptors held: %s", err);

	vm = calloc(1, sizeof(*vm));
	if (!vm) {
		bh_err("out of memory");
		goto out;
	}
	vm_set_fds(vm, fds); /* devices take theirs in their attach step */
	ret = restore ? build_restored(vm, cfg, restore, fds) : vm_create(vm, cfg);
	if (ret) {
		bh_err("%s", vm->err[0] ? vm->err : strerror(-ret));
		code = vm->err_is_config ? BH_EXIT_CONFIG : BH_EXIT_HOST;
		goto out_vm;
	}
	/* The control socket was opened by the daemon before we started. */
	if (control_fd >= 0) {
		if ((ret = ctl_vmm_init(&ctl, vm, fds, control_fd))) {
			bh_err("--control-fd %d: not a usable control socket: %s", control_fd,
			       strerror(-ret));
			code = BH_EXIT_CONFIG;
			goto out_vm;
		}
		have_ctl = true;
		vm_set_control(vm, &ctl);
	}
	if (jailed) {
		if ((ret = jail_enter(&jail, err, sizeof(err)))) {
			bh_err("%s", err);
			code = BH_EXIT_HOST;
			goto out_ctl;
		}
		vm_set_thread_init(vm, jail_thread_init, &jail);
		bh_info("sandbox: on: %s", jail.summary);
	}
	code = exit_code_for(vm, vm_run(vm));
	vm_devices_net_log(vm);
	if (jailed)
		jail_report_exit(&jail, code); /* the caller has its answer; tear down */
	if (vm->abandoned)
		return code; /* a vCPU thread that never stopped still uses the VM: leave it
			      * all to the process's exit, which ends every thread (vm.h) */
out_ctl:
	vm_set_control(vm, NULL);
	if (have_ctl)
		ctl_vmm_destroy(&ctl);
out_vm:
	vm_destroy(vm);
	free(vm);
out:
	if (jailed)
		jail_destroy(&jail);
	fd_table_destroy(fds);
	if (broker.running)
		pthread_join(broker.thr, NULL); /* ends once the device's end is closed */
	if (!jailed)
		unlink_vsock(cfg, vsock_ours);
	return code;
}
