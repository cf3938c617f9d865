/* seccomp_bpf.h — the seccomp policies of seccomp_policy.c, compiled to BPF
 * at build time (seccomp_gen.c writes seccomp_bpf.c), so the VM process
 * loads them with one seccomp(2) call each instead of building and compiling
 * them with libseccomp at every start (milliseconds per filter).
 * The arrays are read-only data; no state. */
#ifndef BH_SECCOMP_BPF_H
#define BH_SECCOMP_BPF_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <linux/filter.h>

#include "sandbox/seccomp_policy.h"

/* The program for `kind` (trap: unlisted syscalls raise SIGSYS instead of
 * killing the process). 0, or -EINVAL for an unknown kind. prog points into
 * static const data: the kernel copies it when loading. */
int sc_bpf_get(enum sc_kind kind, bool trap, struct sock_fprog *prog);

/* Load `prog` for the calling thread (no_new_privs must be set already).
 * 0 or -errno. */
int sc_bpf_load(const struct sock_fprog *prog);

#endif
