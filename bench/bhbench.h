/* bhbench.h — what the benchmark groups share with the driver (bhbench.c):
 * configuration, result rows, and running one VM with timestamped output.
 * Single-threaded except for the heartbeat thread, which only prints. */
#ifndef BH_BENCH_BHBENCH_H
#define BH_BENCH_BHBENCH_H

#include <stdbool.h>
#include <sys/types.h>

#include "proc.h"

/* Samples per series: the exec group keeps every 64-byte echo round trip. */
#define MAX_SAMPLES 1024
#define MAX_ROWS 64

enum vmm { VMM_BH, VMM_QEMU, VMM_N };
extern const char *const vmm_name[VMM_N];

struct cfg {
	const char *bulkhead, *qemu, *guest_elf, *hello, *kvm_min;
	const char *linux_dir, *qemu_kernel, *tmp, *label, *only;
	const char *blk_guest, *blk_host; /* block-I/O group (blk.c); NULL: skipped */
	const char *balloon_initrd; /* balloon group (balloon.c); NULL: skipped */
	const char *net_guest;      /* network group (net.c); NULL: skipped */
	const char *net_check;      /* its port-security check timer; NULL: that row skipped */
	const char *exec_guest, *exec_rootfs; /* exec group (exec.c); NULL: skipped */
	int exec_runs;              /* its runs per row (bench/run.sh: BENCH_EXEC_RUNS) */
	int reps, linux_reps, churn, exits, density, balloon_vms;
	bool smoke, no_bh, no_qemu;
};

struct series {
	double v[MAX_SAMPLES];
	int n, fails;
};

struct row {
	const char *group, *name, *unit;
	bool higher_better;
	bool optional; /* no samples is not a failure: the note says why (n/a) */
	bool reported; /* its BHBENCH-ROW/DATA lines are out (report_rows) */
	struct series s[VMM_N];
	struct series ref; /* a reference next to both VMMs (kvm_min, blk_host) */
	const char *ref_name;
	char note[200];
};

struct vmspec {
	const char *kernel, *cmdline, *initrd, *guest_dir;
	int mem_mib, cpus;
	bool test_device;
	const char *disk; /* raw image as the guest's virtio-blk disk, or NULL */
	bool disk_direct; /* QEMU may open it O_DIRECT (cache=none) */
	bool no_sandbox;  /* bulkhead only: --no-sandbox (the jail-cost row) */
	const char *bh_extra[6];   /* more bulkhead run options (NULL-terminated) */
	const char *qemu_extra[6]; /* more QEMU options (NULL-terminated) */
	const char *taskset;       /* QEMU only: the whole process on these CPUs */
	int balloon;      /* 0 none; 1 a virtio-balloon; 2 one with free page reporting */
	bool pci;         /* QEMU: a PC (-M pc), for devices in qemu_extra that need PCI */
};

/* One VM run with captured output. pats/stop_at as proc_follow; with a
 * stop pattern the VM is left running for the caller (then killed here after
 * `at_stop`). Returns true if the run ended as expected. */
struct run {
	double first, exit, pat[PROC_MAX_WATCH];
	double t0;
};

typedef bool (*at_stop_fn)(pid_t pid, void *arg);

extern struct cfg cfg;

struct row *row_new(const char *group, const char *name, const char *unit, bool higher);
void add(struct series *s, double v);
/* A run's verdict: counted for smoke mode, failures kept per series. */
void verdict(struct series *s, bool ok, const char *what, const char *errpath);
bool run_vm(enum vmm v, const struct vmspec *s, const char *const *pats, int npats,
	    int stop_at, at_stop_fn at_stop, void *at_arg, double timeout, struct run *r,
	    const char *what, struct series *fail_to);
/* for (int v = first_vmm(); v < VMM_N; v = next_vmm(v)): the VMMs that run. */
int first_vmm(void);
int next_vmm(int v);
/* Rounds to run for `reps` measured ones (a warm-up first, except in smoke
 * mode); warmup(round): whether that round is the discarded warm-up. */
int rounds(int reps);
bool warmup(int round);

/* Print the finished rows of `group` not printed yet (BHBENCH-ROW and
 * -DATA lines, flushed): a long group's first rows survive a later freeze
 * of the nested host. The group's end prints the rest. */
void report_rows(const char *group);
/* Start one VM (argv as the groups use it) with stdout captured and stderr
 * to errpath. 0 or -errno. */
int vm_start(enum vmm v, const struct vmspec *s, struct proc *p, const char *errpath);
/* The block-I/O group (blk.c). */
void bench_blk(void);
/* The balloon group (balloon.c). */
void bench_balloon(void);
/* The network group (net.c). */
void bench_net(void);
/* The density group (density.c). */
void bench_density(void);
/* The CPU and memory placement group (place.c). */
void bench_place(void);
/* The startup group, with the jail-cost rows (startup.c). */
void bench_startup(void);
/* The snapshot, restore and clone group (snapshot.c). */
void bench_snapshot(void);
/* The exec group: bulkhead exec, a warm VM's command, vsock (exec.c). */
void bench_exec(void);

#endif
