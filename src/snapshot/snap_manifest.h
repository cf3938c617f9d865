/* snap_manifest.h — the snapshot's manifest: the size and SHA-256 of its
 * state and memory files, written last (the directory is complete once the
 * manifest is there) and checked before anything of a snapshot is used.
 *
 *   bulkhead-snapshot 1
 *   state SIZE SHA256HEX
 *   memory SIZE SHA256HEX
 *
 * Exactly these three lines (decimal sizes, 64 lower-case hex digits, '\n'
 * after each); anything else is refused. The hash is libcrypto's
 * (common/sha256.h); a memory file's holes hash as the zeros they read as,
 * without being read (SEEK_DATA/SEEK_HOLE).
 * Any thread; the functions on descriptors use pread/lseek only. */
#ifndef BH_SNAP_MANIFEST_H
#define BH_SNAP_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"
#include "common/sha256.h"

#define SNAP_MANIFEST_MAX 512u

struct snap_manifest {
	uint64_t state_size, mem_size;
	uint8_t state_sha[BH_SHA256_LEN], mem_sha[BH_SHA256_LEN];
};

/* The text of m into buf (at least SNAP_MANIFEST_MAX bytes); its length. */
size_t snap_manifest_format(const struct snap_manifest *m, char *buf, size_t len);

/* Parse a manifest of len bytes. 0, or -EINVAL / -ENOTSUP (another major)
 * with err naming what is wrong. */
int snap_manifest_parse(const char *buf, size_t len, struct snap_manifest *out, char *err,
			size_t errlen) BH_WUR;

/* SHA-256 of the first `size` bytes of fd (short file: -EIO). 0 or -errno. */
int snap_hash_fd(int fd, uint64_t size, uint8_t out[BH_SHA256_LEN]) BH_WUR;

#endif
