/* snap_dir.h — writing and opening a snapshot directory (snap_format.h):
 * the one place that knows its file names and the order that makes a
 * snapshot appear whole or not at all.
 *
 * Writing: snap_dir_begin() creates the state and memory files under
 * temporary names (O_EXCL: nothing is overwritten; a directory that holds a
 * snapshot already is refused), the VMM writes them through the descriptors
 * (CTL_SNAPSHOT: it never sees the directory), then snap_dir_finish() syncs
 * them, hashes them (libcrypto SHA-256), writes the manifest and renames the
 * three into place, the manifest last, and syncs the directory. On failure
 * snap_dir_abort() removes the temporary files and nothing else changed.
 * Used by `bulkhead snapshot --control` and by bulkheadd.
 *
 * Reading: snap_dir_load() checks what restore needs before anything of a
 * snapshot is used — the manifest, the state file's size and SHA-256, the
 * state file's structure (snap_parse) and the memory file's size — on
 * descriptors the caller opened (so the caller decides whose permissions
 * apply).
 * Any thread; caller-owned descriptors; no global state. */
#ifndef BH_SNAP_DIR_H
#define BH_SNAP_DIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"
#include "snapshot/snap_format.h"
#include "snapshot/snap_manifest.h"

#define SNAP_FILE_STATE "state"
#define SNAP_FILE_MEMORY "memory"
#define SNAP_FILE_MANIFEST "manifest"

/* Create the temporary state and memory files in directory dfd (mode 0600,
 * read-write). 0 and both descriptors, or -EEXIST (dfd holds a snapshot or
 * one in progress) / -errno with err naming the problem. */
int snap_dir_begin(int dfd, int *state_fd, int *mem_fd, char *err, size_t errlen) BH_WUR;

/* Complete the snapshot whose files begin() created (see top). 0 or -errno
 * with err. The descriptors stay the caller's. */
int snap_dir_finish(int dfd, int state_fd, int mem_fd, char *err, size_t errlen) BH_WUR;

/* Remove whatever begin()/finish() left under temporary names. */
void snap_dir_abort(int dfd);

/* A loaded snapshot: the state file's bytes (malloc'ed: free with
 * snap_dir_unload) and its parsed view pointing into them. */
struct snap_loaded {
	struct snap_manifest man;
	char *state;
	size_t state_len;
	struct snap_state *st;
};

/* Check a snapshot from its three open files (see top): the manifest (at
 * most SNAP_MANIFEST_MAX bytes), the state file (size and SHA-256 against
 * the manifest, then snap_parse) and the memory file (a regular file of the
 * manifest's size and the state header's mem_bytes; its SHA-256 too when
 * verify_memory). 0, or -EINVAL / -ENOTSUP / -errno with err naming the
 * file and the problem. The descriptors stay the caller's. */
int snap_dir_load(int manifest_fd, int state_fd, int mem_fd, bool verify_memory,
		  struct snap_loaded *out, char *err, size_t errlen) BH_WUR;
void snap_dir_unload(struct snap_loaded *l);

#endif
