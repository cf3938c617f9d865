/* startup.h — where `bulkhead run`'s start-up time goes: a list of named
 * time marks from exec to the first guest exit, printed with -v (like
 * Firecracker's boot-time metrics), so a user who wonders where start-up
 * goes can see each step: options, the jail's fork, cgroup, KVM VM creation,
 * guest memory, kernel load, each sandbox layer, the first KVM_RUN.
 *
 * Ownership: the caller owns struct bh_startup (cli_run: on its stack; it
 * is copied into the VM process by the jail's fork, so the VM process
 * reports the whole path from exec). No global state.
 * Threads: bh_startup_mark() from the thread that builds the VM until the
 * vCPU threads start, then from vCPU 0 only (it records the first exit and
 * reports); the slot index is atomic, so a stray concurrent mark is safe.
 * Every function accepts NULL (no breakdown wanted) and does nothing then.
 * Cost: one clock_gettime (vDSO) per mark; nothing is printed below -v. */
#ifndef BH_STARTUP_H
#define BH_STARTUP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define BH_STARTUP_MAX 40

struct bh_startup {
	uint64_t t0_ns;            /* CLOCK_MONOTONIC at exec (main's first read) */
	_Atomic unsigned n;        /* marks taken (those beyond MAX are dropped) */
	_Atomic bool reported;     /* bh_startup_report() prints once */
	struct {
		const char *what;  /* static string: the step that just ended */
		uint64_t ns;       /* CLOCK_MONOTONIC when it ended */
	} mark[BH_STARTUP_MAX];
};

/* Start a breakdown whose time zero is t0_ns (CLOCK_MONOTONIC). */
void bh_startup_init(struct bh_startup *s, uint64_t t0_ns);

/* Record that step `what` (a string literal) ends now. */
void bh_startup_mark(struct bh_startup *s, const char *what);

/* Print the breakdown at debug level (-v), once: one line per step with its
 * own duration and the time since exec. Async-signal-unsafe (formats). */
void bh_startup_report(struct bh_startup *s);

/* CLOCK_MONOTONIC in ns. */
uint64_t bh_now_ns(void);

#endif
