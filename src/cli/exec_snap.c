/* exec_snap.c — the snapshot cache of `bulkhead exec`'s fast path (exec.h):
 * the key of an exec's VM, the entry's lock, installing a freshly written
 * snapshot atomically, removing an entry a restore refused.
 *
 * An entry is CACHE/exec-snap/<hex key>/ (0700) holding what `bulkhead
 * snapshot` writes (state, memory, manifest) and `key`, the key's inputs as
 * text. The key is the SHA-256 of those inputs: bulkhead's version and the
 * identity of its binary, the guest's kernel and initrd (identity: device,
 * inode, size, mtime and ctime in ns — hashing megabytes on every exec would
 * cost more than the restore saves; any replacement of the file changes its
 * inode or ctime), the SHA-256 of its cmdline file, the root filesystem
 * image's identity, memory and vCPUs. An entry is built under an flock of
 * CACHE/exec-snap/<hex key>.lock (never blocking: a loser boots cold) in
 * CACHE/exec-snap/<hex key>.tmp.<pid> and renamed into place, so a reader
 * sees a complete entry or none. The files themselves are hostile input for
 * the restore, which validates them (snapshot.c); nothing here trusts them. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/exec.h"
#include "common/sha256.h"

#ifndef BULKHEAD_VERSION
#define BULKHEAD_VERSION "unknown"
#endif

void exec_rmdir_flat(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (d) {
		while ((de = readdir(d)))
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
				unlinkat(dirfd(d), de->d_name, 0);
		closedir(d);
	}
	if (rmdir(dir) < 0 && errno != ENOENT)
		fprintf(stderr, "bulkhead exec: cannot remove %s: %s\n", dir, strerror(errno));
}

/* Append "NAME PATH dev:ino size mtime ctime\n" (or "NAME PATH missing"). */
static int put_identity(char *buf, size_t len, size_t *have, const char *name, const char *path)
{
	struct stat st;
	int n;

	if (stat(path, &st) < 0)
		n = snprintf(buf + *have, len - *have, "%s %s missing\n", name, path);
	else
		n = snprintf(buf + *have, len - *have, "%s %s dev=%llu ino=%llu size=%lld "
			     "mtime=%lld.%09ld ctime=%lld.%09ld\n", name, path,
			     (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
			     (long long)st.st_size, (long long)st.st_mtim.tv_sec,
			     st.st_mtim.tv_nsec, (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
	if (n < 0 || (size_t)n >= len - *have)
		return -ENAMETOOLONG;
	*have += (size_t)n;
	return 0;
}

/* The guest directory `bulkhead run --guest NAME|DIR` uses (run.c). */
static int guest_dir(const char *name, char *dir, size_t len)
{
	const char *env = getenv("BULKHEAD_GUESTS");
	char root[PATH_MAX];
	int n;

	if (strchr(name, '/'))
		n = snprintf(dir, len, "%s", name);
	else if (env && *env)
		n = snprintf(dir, len, "%s/%s", env, name);
	else if (!cli_cache_path(root, sizeof(root), "guests"))
		n = snprintf(dir, len, "%s/%s", root, name);
	else
		return -ENOENT;
	return n > 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
}

int exec_snap_init(struct exec_snap *s, const struct exec_opts *o, const char *img, char *err,
		   size_t errlen)
{
	char dir[PATH_MAX], path[PATH_MAX + 16], self[PATH_MAX], cmdline[4096], hex[BH_SHA256_HEX];
	uint8_t d[BH_SHA256_LEN];
	size_t have = 0;
	ssize_t n;
	int r, fd;

	memset(s, 0, sizeof(*s));
	s->lock_fd = -1;
	r = cli_cache_path(s->root, sizeof(s->root), "exec-snap");
	if (r) {
		snprintf(err, errlen, "no cache directory ($XDG_CACHE_HOME or $HOME)");
		return r;
	}
	r = guest_dir(o->guest, dir, sizeof(dir));
	if (r) {
		snprintf(err, errlen, "--guest %s: cannot locate the guest directory", o->guest);
		return r;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[n > 0 ? n : 0] = 0;
	have = (size_t)snprintf(s->inputs, sizeof(s->inputs),
				"bulkhead exec snapshot key v1\nversion %s\n", BULKHEAD_VERSION);
	r = put_identity(s->inputs, sizeof(s->inputs), &have, "binary", n > 0 ? self :
			 "/proc/self/exe");
	snprintf(path, sizeof(path), "%s/kernel", dir);
	if (!r)
		r = put_identity(s->inputs, sizeof(s->inputs), &have, "kernel", path);
	snprintf(path, sizeof(path), "%s/initrd", dir);
	if (!r)
		r = put_identity(s->inputs, sizeof(s->inputs), &have, "initrd", path);
	if (!r)
		r = put_identity(s->inputs, sizeof(s->inputs), &have, "rootfs", img);
	if (r) {
		snprintf(err, errlen, "the snapshot key's inputs are too long");
		return r;
	}
	snprintf(path, sizeof(path), "%s/cmdline", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	n = fd >= 0 ? read(fd, cmdline, sizeof(cmdline)) : -1;
	if (fd >= 0)
		close(fd);
	if (n < 0 || bh_sha256(cmdline, (size_t)n, d)) {
		snprintf(err, errlen, "%s: cannot read it", path);
		return -EIO;
	}
	bh_sha256_hex(d, hex);
	r = snprintf(s->inputs + have, sizeof(s->inputs) - have,
		     "cmdline sha256=%s + bulkhead.agent=serve\nmem %llu\ncpus %u\n", hex,
		     (unsigned long long)o->mem, o->cpus);
	if (r < 0 || (size_t)r >= sizeof(s->inputs) - have ||
	    bh_sha256(s->inputs, strlen(s->inputs), d)) {
		snprintf(err, errlen, "cannot compute the snapshot key");
		return -EIO;
	}
	bh_sha256_hex(d, hex);
	if (snprintf(s->entry, sizeof(s->entry), "%s/%s", s->root, hex) >= (int)sizeof(s->entry) ||
	    snprintf(s->tmp, sizeof(s->tmp), "%s.tmp.%d", s->entry, (int)getpid()) >=
		    (int)sizeof(s->tmp) ||
	    snprintf(s->lock, sizeof(s->lock), "%s.lock", s->entry) >= (int)sizeof(s->lock)) {
		snprintf(err, errlen, "the cache path %s is too long", s->root);
		return -ENAMETOOLONG;
	}
	return 0;
}

bool exec_snap_ready(const struct exec_snap *s)
{
	char p[sizeof(s->entry) + 16];
	struct stat st;

	snprintf(p, sizeof(p), "%s/manifest", s->entry);
	return lstat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* mkdir -p of the cache root, each level made 0700 (existing ones kept). */
static int make_root(const char *root)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s", root);
	for (char *c = p + 1; *c; c++) {
		if (*c != '/')
			continue;
		*c = 0;
		if (mkdir(p, 0700) < 0 && errno != EEXIST)
			return -errno;
		*c = '/';
	}
	return mkdir(p, 0700) < 0 && errno != EEXIST ? -errno : 0;
}

int exec_snap_lock(struct exec_snap *s)
{
	int r = make_root(s->root);

	if (r)
		return r;
	s->lock_fd = open(s->lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (s->lock_fd < 0)
		return -errno;
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		r = -errno;
		close(s->lock_fd);
		s->lock_fd = -1;
		return r;
	}
	return 0;
}

void exec_snap_sweep(const struct exec_snap *s)
{
	const char *base = strrchr(s->entry, '/') + 1;
	size_t blen = strlen(base);
	DIR *d = opendir(s->root);
	struct dirent *de;
	char p[sizeof(s->root) + 300];

	while (d && (de = readdir(d))) {
		if (strncmp(de->d_name, base, blen) || (strncmp(de->d_name + blen, ".tmp.", 5) &&
							strncmp(de->d_name + blen, ".gone.", 6)))
			continue;
		if (snprintf(p, sizeof(p), "%s/%s", s->root, de->d_name) < (int)sizeof(p))
			exec_rmdir_flat(p);
	}
	if (d)
		closedir(d);
}

void exec_snap_unlock(struct exec_snap *s)
{
	if (s->lock_fd >= 0) {
		close(s->lock_fd); /* releases the flock */
		s->lock_fd = -1;
	}
}

int exec_snap_install(struct exec_snap *s, char *err, size_t errlen)
{
	char p[sizeof(s->tmp) + 16];
	size_t len = strlen(s->inputs);
	int fd, r = 0;

	snprintf(p, sizeof(p), "%s/key", s->tmp);
	errno = 0;
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || write(fd, s->inputs, len) != (ssize_t)len || fsync(fd) < 0)
		r = errno ? -errno : -EIO;
	if (fd >= 0 && close(fd) < 0 && !r)
		r = -errno;
	if (!r && rename(s->tmp, s->entry) < 0)
		r = -errno;
	if (r) {
		snprintf(err, errlen, "cannot install the snapshot in %s: %s", s->entry,
			 strerror(-r));
		exec_rmdir_flat(s->tmp);
		return r;
	}
	fd = open(s->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	return 0;
}

void exec_snap_remove(struct exec_snap *s)
{
	char gone[sizeof(s->entry) + 32];

	/* Renamed out of the way first: a concurrent reader sees a whole
	 * entry or none. */
	snprintf(gone, sizeof(gone), "%s.gone.%d", s->entry, (int)getpid());
	if (rename(s->entry, gone) == 0)
		exec_rmdir_flat(gone);
}
