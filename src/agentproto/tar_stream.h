/* tar_stream.h — bounded ustar streams for `bulkhead exec --copy-in/--copy-out`.
 * Both ends use both halves: the host writes (copy-in) and extracts
 * (copy-out); the agent extracts (copy-in) and writes (copy-out).
 *
 * What a stream may hold: regular files and directories, nothing else.
 * Names are relative ("." is the root itself, then "a", "a/b"…): no leading
 * '/', no "..", no empty or "." component inside, printable bytes only,
 * at most AP_TAR_MAX_DEPTH components. The writer never follows a symbolic
 * link (it skips them, devices, FIFOs and sockets and counts them); the
 * extractor creates every entry with O_EXCL/mkdirat below a root it created
 * itself, opening each parent with O_NOFOLLOW|O_DIRECTORY, so nothing is
 * ever written outside the named destination, and it refuses links,
 * devices, entries past the caps and files larger than announced. A file
 * that grows while it is written is cut at the size in its header; one that
 * shrinks is padded with zeros (the header was already sent). */
#ifndef BH_TAR_STREAM_H
#define BH_TAR_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AP_TAR_BLOCK 512
#define AP_TAR_MAX_DEPTH 32
#define AP_TAR_NAME_MAX 255

struct ap_tar_caps {
	uint64_t max_bytes;   /* sum of file sizes */
	uint64_t max_entries; /* files + directories */
};

/* ---- header codec ---- */
struct ap_tar_ent {
	char name[AP_TAR_NAME_MAX + 1];
	bool is_dir;
	uint32_t mode; /* permission bits only (07777 masked to 0777) */
	uint64_t size;
};

/* Encode one header block. -ENAMETOOLONG / -EINVAL for names the format or
 * the rules above cannot carry. */
int ap_tar_header(uint8_t blk[AP_TAR_BLOCK], const struct ap_tar_ent *e)
	__attribute__((warn_unused_result));

/* Decode and validate one header block: 1 = entry, 0 = a zero block (end
 * marker), -EPROTO (message in err) on a bad checksum, field, type or name. */
int ap_tar_parse(const uint8_t blk[AP_TAR_BLOCK], struct ap_tar_ent *e, char *err,
		 size_t errlen) __attribute__((warn_unused_result));

/* True if name obeys the naming rules above. */
bool ap_tar_name_ok(const char *name);

/* ---- writer ---- */
/* Sink for the writer's bytes: 0 or -errno (stops the walk). */
typedef int (*ap_tar_emit_fn)(void *ctx, const void *buf, size_t n);

struct ap_tar_stats {
	uint64_t entries, bytes, skipped; /* skipped: links, devices, FIFOs, sockets */
};

/* Write the file or directory at path (never following a symlink, the root
 * included: a root that is not a regular file or directory is -ELOOP /
 * -EINVAL) as a tar stream ending with the two zero blocks. Caps bound it:
 * -EFBIG / -EMLINK when passed. Messages go to err. */
int ap_tar_write(const char *path, const struct ap_tar_caps *caps, ap_tar_emit_fn emit,
		 void *ctx, struct ap_tar_stats *st, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* The same with path resolved inside the directory at_root as if it were
 * "/" (openat2 RESOLVE_IN_ROOT): the agent resolves guest paths inside the
 * program's root, where a planted symlink cannot lead to its own files.
 * at_root < 0 resolves plainly. */
int ap_tar_write_at(int at_root, const char *path, const struct ap_tar_caps *caps,
		    ap_tar_emit_fn emit, void *ctx, struct ap_tar_stats *st, char *err,
		    size_t errlen) __attribute__((warn_unused_result));

/* ---- extractor ---- */
struct ap_untar {
	struct ap_tar_caps caps;
	struct ap_tar_stats st;
	int parent_fd;       /* directory holding the destination */
	char leaf[256];      /* the destination's name in it */
	int root_fd;         /* the destination once created (directory), or -1 */
	bool root_done;      /* the "." entry was created */
	bool root_is_dir;
	bool ended;          /* end marker seen */
	int file_fd;         /* file being written, or -1 */
	long long uid, gid;  /* owner of created entries, or -1 (the caller sets) */
	uint64_t remaining;  /* bytes of its data still to come */
	uint64_t pad;        /* padding bytes after it */
	uint8_t blk[AP_TAR_BLOCK];
	size_t blk_have;
	char err[256];
};

/* Prepare to extract into dest, which must not exist yet (its parent must).
 * The stream's "." entry creates it (a file or a directory). */
int ap_untar_init(struct ap_untar *u, const char *dest, const struct ap_tar_caps *caps)
	__attribute__((warn_unused_result));

int ap_untar_init_at(struct ap_untar *u, int at_root, const char *dest,
		     const struct ap_tar_caps *caps) __attribute__((warn_unused_result));

/* Feed stream bytes. 0 or -errno with u->err set; after an error the
 * extraction is over (call ap_untar_end). */
int ap_untar_feed(struct ap_untar *u, const void *data, size_t n)
	__attribute__((warn_unused_result));

/* Finish: 0 if the stream was complete (end marker seen, nothing pending).
 * Always releases descriptors. */
int ap_untar_end(struct ap_untar *u) __attribute__((warn_unused_result));

#endif
