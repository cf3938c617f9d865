/* cgroupfs.h — small reads and writes of cgroup control files, and where
 * this process sits in a hierarchy: what the daemon's per-VM cgroups
 * (daemon/vm_cgroup.c) and the standalone jail's (sandbox/jail_cgroup.c)
 * both need, in the one layer both may use.
 *
 * Paths are DIR/FILE under the cgroup filesystem; a control file is never
 * opened through a symlink (O_NOFOLLOW). Returns are 0 or -errno. Any
 * thread; no state. */
#ifndef BH_CGROUPFS_H
#define BH_CGROUPFS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/compiler.h"

#define CGFS_ROOT "/sys/fs/cgroup"
/* The period both write into cpu.max / cpu.cfs_period_us (the kernel's
 * default): a CPU quota is a share of it. */
#define CGFS_CPU_PERIOD_US 100000ULL

/* Write val (one write()) into dir/file: 0, -ENAMETOOLONG, or the -errno of
 * open or write (the kernel's verdict on the value, e.g. -EINVAL, -EBUSY). */
int cgfs_write(const char *dir, const char *file, const char *val);

/* Read dir/file (one read(), at most len - 1 bytes) into buf, NUL-terminated:
 * 0 or -errno. len >= 1. */
int cgfs_read(const char *dir, const char *file, char *buf, size_t len) BH_WUR;

/* This process's cgroup path (e.g. "/user.slice/x", "" at the root) in the
 * v1 hierarchy that holds controller ctrl, or in the v2 one (ctrl NULL),
 * from /proc/self/cgroup, into out[0..len): 0, -ENOENT (no such hierarchy)
 * or -errno. */
int cgfs_own_path(const char *ctrl, char *out, size_t len) BH_WUR;

/* Does path exist (stat() succeeds)? */
bool cgfs_exists(const char *path);

#endif
