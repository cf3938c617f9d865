/* seccomp_policy.h — the seccomp-bpf allowlists of a VMM process, one per
 * thread kind (see enum vm_thread_kind), built with libseccomp.
 *
 * Every table in seccomp_policy.c carries a one-line justification per rule.
 * Anything not listed kills the whole process (SCMP_ACT_KILL_PROCESS), except
 * in trap mode (a development aid: SIGSYS with the syscall number, see
 * jail.h).
 *
 * Filters stack: the process first loads the union of all kinds plus the
 * short "setup" table (what vm_run() does while it starts threads); each
 * thread then narrows itself with its own kind's filter as its first action.
 * Filters are built (seccomp_init/rule_add, which may allocate and probe the
 * kernel) before anything is loaded; loading one later only generates BPF
 * and calls seccomp(2).
 * Thread-safety: build on one thread; a built filter is loaded by the thread
 * that needs it. */
#ifndef BH_SECCOMP_POLICY_H
#define BH_SECCOMP_POLICY_H

#include <stdbool.h>
#include <seccomp.h>

#include "common/compiler.h"

enum sc_kind {
	SC_KIND_MAIN,    /* VM_THREAD_MAIN after all threads are started */
	SC_KIND_VCPU,    /* VM_THREAD_VCPU */
	SC_KIND_EVENT,   /* VM_THREAD_EVENT */
	SC_KIND_PROCESS, /* union of the three + setup: loaded process-wide first */
	SC_KIND_SWITCH,  /* the switch process (`bulkhead switch`): one thread */
	SC_KIND_COUNT
};

struct sc_stats {
	unsigned syscalls; /* distinct syscalls allowed (possibly with argument checks) */
	unsigned ioctls;   /* ioctl request numbers allowed */
	unsigned rules;    /* table rows (a syscall may have several) */
};

/* Build the filter for `kind` into *out (caller frees with seccomp_release).
 * trap: unlisted syscalls raise SIGSYS instead of killing the process.
 * Errors: -errno (libseccomp's), *out untouched. */
int sc_policy_build(enum sc_kind kind, bool trap, scmp_filter_ctx *out) BH_WUR;

/* Sizes of a kind's allowlist, for logs and docs/security.md. */
void sc_policy_stats(enum sc_kind kind, struct sc_stats *st);

const char *sc_kind_name(enum sc_kind kind);

/* Whether a kind's tables list syscall `nr` (with or without an argument
 * condition) / ioctl request `req`. For tests and audits. */
bool sc_policy_lists(enum sc_kind kind, int nr);
bool sc_policy_lists_ioctl(enum sc_kind kind, unsigned long req);

/* 0 if every table row carries a justification, else -EINVAL. */
int sc_policy_check_tables(void);

#endif
