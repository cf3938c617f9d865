/* snap_dir.c — see snap_dir.h. */
#include "snapshot/snap_dir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const tmp_names[3] = { ".state.tmp", ".memory.tmp", ".manifest.tmp" };
static const char *const final_names[3] = { SNAP_FILE_STATE, SNAP_FILE_MEMORY,
					    SNAP_FILE_MANIFEST };

void snap_dir_abort(int dfd)
{
	for (int i = 0; i < 3; i++)
		unlinkat(dfd, tmp_names[i], 0);
}

int snap_dir_begin(int dfd, int *state_fd, int *mem_fd, char *err, size_t errlen)
{
	int sfd, mfd;

	for (int i = 0; i < 3; i++)
		if (faccessat(dfd, final_names[i], F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
			snprintf(err, errlen, "it already holds a snapshot (%s): nothing is "
				 "overwritten", final_names[i]);
			return -EEXIST;
		}
	sfd = openat(dfd, tmp_names[0], O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (sfd < 0) {
		int e = errno;

		snprintf(err, errlen, "cannot create its files: %s%s", strerror(e),
			 e == EEXIST ? " (a snapshot in progress?)" : "");
		return -e;
	}
	mfd = openat(dfd, tmp_names[1], O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (mfd < 0) {
		int e = errno;

		close(sfd);
		unlinkat(dfd, tmp_names[0], 0);
		snprintf(err, errlen, "cannot create its files: %s%s", strerror(e),
			 e == EEXIST ? " (a snapshot in progress?)" : "");
		return -e;
	}
	*state_fd = sfd;
	*mem_fd = mfd;
	return 0;
}

int snap_dir_finish(int dfd, int sfd, int mfd, char *err, size_t errlen)
{
	struct snap_manifest m;
	char text[SNAP_MANIFEST_MAX];
	struct stat st;
	size_t n;
	int fd, ret;

	if (fsync(sfd) < 0 || fsync(mfd) < 0) {
		ret = -errno;
		snprintf(err, errlen, "fsync: %s", strerror(errno));
		return ret;
	}
	if (fstat(sfd, &st) < 0)
		return -errno;
	m.state_size = (uint64_t)st.st_size;
	if (fstat(mfd, &st) < 0)
		return -errno;
	m.mem_size = (uint64_t)st.st_size;
	if ((ret = snap_hash_fd(sfd, m.state_size, m.state_sha)) ||
	    (ret = snap_hash_fd(mfd, m.mem_size, m.mem_sha))) {
		snprintf(err, errlen, "hashing the snapshot: %s", strerror(-ret));
		return ret;
	}
	n = snap_manifest_format(&m, text, sizeof(text));
	fd = openat(dfd, tmp_names[2], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || write(fd, text, n) != (ssize_t)n || fsync(fd) < 0) {
		ret = errno ? -errno : -EIO;
		snprintf(err, errlen, "writing the manifest: %s", strerror(-ret));
		if (fd >= 0)
			close(fd);
		return ret;
	}
	close(fd);
	/* The manifest last: a directory with one is complete. */
	for (int i = 0; i < 3; i++)
		if (renameat(dfd, tmp_names[i], dfd, final_names[i]) < 0) {
			ret = -errno;
			snprintf(err, errlen, "rename %s: %s", final_names[i], strerror(errno));
			return ret;
		}
	fsync(dfd);
	return 0;
}

/* Read all of a small regular file (at most max bytes) from fd. */
static char *read_small(int fd, size_t max, size_t *len, int *e)
{
	struct stat st;
	char *buf;

	if (fstat(fd, &st) < 0) {
		*e = errno;
		return NULL;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
		*e = S_ISREG(st.st_mode) ? EFBIG : EINVAL;
		return NULL;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf || pread(fd, buf, (size_t)st.st_size, 0) != st.st_size) {
		free(buf);
		*e = EIO;
		return NULL;
	}
	buf[st.st_size] = '\0';
	*len = (size_t)st.st_size;
	return buf;
}

void snap_dir_unload(struct snap_loaded *l)
{
	free(l->st);
	free(l->state);
	l->st = NULL;
	l->state = NULL;
}

int snap_dir_load(int manifest_fd, int state_fd, int mem_fd, bool verify_memory,
		  struct snap_loaded *out, char *err, size_t errlen)
{
	uint8_t sha[BH_SHA256_LEN];
	char *mtext;
	size_t mlen;
	struct stat mst;
	int e = 0, ret;

	memset(out, 0, sizeof(*out));
	if (!(mtext = read_small(manifest_fd, SNAP_MANIFEST_MAX, &mlen, &e))) {
		snprintf(err, errlen, "manifest: %s (not a complete snapshot)",
			 e == EINVAL ? "not a regular file" : strerror(e));
		return -EINVAL;
	}
	ret = snap_manifest_parse(mtext, mlen, &out->man, err, errlen);
	free(mtext);
	if (ret)
		return ret;
	if (!(out->state = read_small(state_fd, SNAP_STATE_MAX, &out->state_len, &e))) {
		snprintf(err, errlen, "state: %s", e == EINVAL ? "not a regular file" : strerror(e));
		return -EINVAL;
	}
	if (out->state_len != out->man.state_size || bh_sha256(out->state, out->state_len, sha) ||
	    memcmp(sha, out->man.state_sha, sizeof(sha))) {
		snprintf(err, errlen, "state does not match its manifest (size or SHA-256): "
			 "corrupted or altered");
		ret = -EINVAL;
		goto fail;
	}
	if (fstat(mem_fd, &mst) < 0 || !S_ISREG(mst.st_mode) ||
	    (uint64_t)mst.st_size != out->man.mem_size) {
		snprintf(err, errlen, "memory is not the size its manifest says (or not a regular file)");
		ret = -EINVAL;
		goto fail;
	}
	if (verify_memory && (snap_hash_fd(mem_fd, out->man.mem_size, sha) ||
			      memcmp(sha, out->man.mem_sha, sizeof(sha)))) {
		snprintf(err, errlen, "memory does not match its manifest's SHA-256");
		ret = -EINVAL;
		goto fail;
	}
	out->st = malloc(sizeof(*out->st));
	if (!out->st) {
		snprintf(err, errlen, "out of memory");
		ret = -ENOMEM;
		goto fail;
	}
	if ((ret = snap_parse(out->state, out->state_len, out->st, err, errlen)))
		goto fail;
	if (out->st->h.mem_bytes != out->man.mem_size) {
		snprintf(err, errlen, "the memory file is not the size of the VM's RAM");
		ret = -EINVAL;
		goto fail;
	}
	return 0;
fail:
	snap_dir_unload(out);
	return ret;
}
