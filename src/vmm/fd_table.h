/* fd_table.h — the VMM's named host descriptors: what `bulkhead run --fd
 * NAME=N` inherited and what the daemon handed in later over the control
 * channel (CTL_ATTACH_FD). A device's attach step looks its host resource up
 * here by name (a tap fd "net0", a vsock connection, a snapshot file) instead
 * of opening anything, so the jailed VMM never needs open(2) or socket(2).
 *
 * Bounded (FD_TABLE_MAX entries, names per common/fd_name.h), unique names,
 * unique descriptors. The table owns its descriptors: fd_table_take() hands
 * one to its consumer, fd_table_destroy() closes the rest.
 * Threads: no lock. Filled on the main thread before the VM runs; while it
 * runs only the event thread touches it (the control channel; device
 * attach/hotplug); destroyed on the main thread after vm_run() returned. */
#ifndef BH_VMM_FD_TABLE_H
#define BH_VMM_FD_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"
#include "common/fd_name.h"
#include "ctl/ctl_proto.h"

#define FD_TABLE_MAX CTL_FDS_MAX /* all of them fit one CTL_LIST_FDS reply */

struct fd_table_entry {
	char name[BH_FD_NAME_MAX + 1];
	int fd;
	uint32_t kind; /* enum ctl_fd_kind, from fstat when added */
};

struct fd_table {
	struct fd_table_entry e[FD_TABLE_MAX];
	unsigned n;
};

void fd_table_init(struct fd_table *t);

/* Add `fd` under `name`, taking ownership on success. Only fstat(2) is used,
 * so the event thread may call it under its seccomp filter (no fcntl: the
 * caller makes the fd close-on-exec — vmm_main for inherited ones, and
 * ctl_recv_msg receives with MSG_CMSG_CLOEXEC). Refused, the fd still the caller's: -EINVAL (name breaks
 * the rule of common/fd_name.h, or fd < 3), -EBADF (not an open descriptor),
 * -EISDIR (a directory: it would reopen the filesystem the jail took away),
 * -EEXIST (name, or the same descriptor number, already held), -ENOSPC
 * (full). err names the name, the fd and the reason. */
int fd_table_add(struct fd_table *t, const char *name, int fd, char *err,
		 size_t errlen) BH_WUR;

/* The descriptor held under `name` (still owned by the table), or -ENOENT. */
int fd_table_find(const struct fd_table *t, const char *name);

/* Remove `name` and return its descriptor: the caller owns it now. -ENOENT. */
int fd_table_take(struct fd_table *t, const char *name);

/* Is `fd` one of the table's descriptors? */
bool fd_table_holds(const struct fd_table *t, int fd);

/* "x=5 (file), net0=7 (char device)" into buf (truncated to fit), or
 * "none". */
void fd_table_describe(const struct fd_table *t, char *buf, size_t len);

/* Close every descriptor still held and empty the table. */
void fd_table_destroy(struct fd_table *t);

#endif
