/* boot_cache.c — on-disk cache of host-decompressed kernels.
 *
 * Entry: `<cache_dir>/vmlinux-<sha256 of the bzImage, hex>`, holding the ELF
 * bytes followed by a 64-byte trailer (so the file is still a plain ELF to
 * other tools):
 *   magic "BHKCACHE", u32 version (1), u32 CRC-32 of the ELF bytes,
 *   u64 ELF length, 32-byte source key (must equal the file name's), 8 pad.
 * A cache entry is untrusted input: the trailer is verified here and the ELF is
 * then validated by the caller exactly like any other kernel. Writes are atomic
 * (0600 temp file in the same directory, then rename), so readers never see a
 * partial entry; the directory is created 0700, and a directory that is not
 * ours or that others can write to is not used at all. Every entry is opened
 * relative to the directory fd that was checked (see cache_dir_open).
 *
 * Memo: hashing a 14 MB bzImage costs ~50 ms natively and over a second where
 * the host itself is emulated, so `<cache_dir>/src-<sha256 of the file's
 * identity>` remembers the content key of a file seen before. Identity = device,
 * inode, size, mtime and ctime (ns): any write to the file changes ctime, which
 * no unprivileged user can set back, so a stale memo cannot be hit. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "arch/x86/boot_internal.h"
#include "common/sha256.h"
#include "common/log.h"

#define CACHE_MAGIC "BHKCACHE"
#define CACHE_VERSION 1

struct cache_trailer {
	char magic[8];
	uint32_t version;
	uint32_t crc;
	uint64_t elf_len;
	uint8_t key[32];
	uint8_t pad[8];
};
static_assert(sizeof(struct cache_trailer) == 64, "cache trailer");

int boot_cache_key(const uint8_t *image, size_t len, uint8_t key[32])
{
	return bh_sha256(image, len, key);
}

/* The file name (no directory) of an entry: PREFIXvmlinux-<hex key>SUFFIX. */
static BH_WUR int cache_name(char *buf, size_t buflen, const uint8_t key[32], const char *prefix,
			     const char *suffix)
{
	char hex[65];
	int n;

	for (unsigned i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", key[i]);
	n = snprintf(buf, buflen, "%svmlinux-%s%s", prefix, hex, suffix);
	if (n < 0 || (size_t)n >= buflen)
		return -ENAMETOOLONG;
	return 0;
}

/* The cache decides which kernel a guest boots, so only a directory that
 * nobody else can write to is trusted: ours (euid) and not group/other
 * writable. Anything else is bypassed (the caller logs it). The directory is
 * opened first (O_DIRECTORY | O_NOFOLLOW: never through a link), checked on
 * that fd, and every entry is then opened relative to it (openat): what was
 * checked is what is used, even if the path is swapped meanwhile. Returns the
 * directory fd or -errno (-ENOENT: no cache yet). */
static BH_WUR int cache_dir_open(const char *dir)
{
	struct stat st;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return errno == ELOOP ? -ENOTDIR : -errno;
	if (fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 022)) {
		close(fd);
		return -EPERM;
	}
	return fd;
}

static uint32_t crc32_buf(const uint8_t *p, size_t len)
{
	return (uint32_t)crc32_z(crc32_z(0L, Z_NULL, 0), p, len);
}

int boot_cache_lookup(const char *dir, const uint8_t key[32], uint8_t **elfp, size_t *lenp)
{
	struct cache_trailer t;
	char name[NAME_MAX + 1], path[PATH_MAX], msg[256];
	uint64_t size;
	uint8_t *buf = NULL;
	struct stat st;
	int dfd, fd, ret;

	*elfp = NULL;
	*lenp = 0;
	ret = cache_name(name, sizeof(name), key, "", "");
	if (ret)
		return ret;
	dfd = cache_dir_open(dir);
	if (dfd < 0)
		return dfd; /* -ENOENT: no cache yet, a plain miss */
	snprintf(path, sizeof(path), "%s/%s", dir, name); /* for messages */
	/* O_NOFOLLOW: an entry is a file we wrote, never a link elsewhere. */
	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	ret = fd < 0 ? (errno == ENOENT ? -ENOENT : errno == ELOOP ? -EBADMSG : -errno) : 0;
	close(dfd);
	if (fd < 0)
		return ret;
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		goto out_close;
	}
	if (!S_ISREG(st.st_mode) || st.st_size < (off_t)(sizeof(t) + 64) ||
	    (uint64_t)st.st_size > BOOT_DECOMP_MAX + sizeof(t)) {
		ret = -EBADMSG;
		goto out_close;
	}
	size = (uint64_t)st.st_size;
	buf = malloc((size_t)size);
	if (!buf) {
		ret = -ENOMEM;
		goto out_close;
	}
	ret = boot_file_read(fd, "cache", path, buf, size, msg, sizeof(msg));
	if (ret)
		goto out_free;
	memcpy(&t, buf + size - sizeof(t), sizeof(t));
	if (memcmp(t.magic, CACHE_MAGIC, 8) != 0 || t.version != CACHE_VERSION ||
	    t.elf_len != size - sizeof(t) || memcmp(t.key, key, 32) != 0 ||
	    t.crc != crc32_buf(buf, (size_t)t.elf_len)) {
		ret = -EBADMSG;
		goto out_free;
	}
	close(fd);
	*elfp = buf;
	*lenp = (size_t)t.elf_len;
	return 0;

out_free:
	free(buf);
out_close:
	close(fd);
	return ret;
}

/* mkdir -p with mode 0700 for every component we create; existing components
 * must be directories. */
static BH_WUR int mkdir_p(const char *dir)
{
	char tmp[PATH_MAX];
	struct stat st;
	size_t len = strlen(dir);

	if (len == 0 || len >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, dir, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if (tmp[i] != '/' && tmp[i] != '\0')
			continue;
		tmp[i] = '\0';
		if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
			return -errno;
		if (stat(tmp, &st) < 0)
			return -errno;
		if (!S_ISDIR(st.st_mode))
			return -ENOTDIR;
		if (i < len)
			tmp[i] = '/';
	}
	return 0;
}

static BH_WUR int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

#define MEMO_MAGIC "BHKMEMO1"

struct cache_memo {
	char magic[8];
	uint8_t key[32];
};

static BH_WUR int memo_name(const struct stat *st, uint8_t id[32])
{
	uint64_t f[7] = { (uint64_t)st->st_dev,         (uint64_t)st->st_ino,
			  (uint64_t)st->st_size,        (uint64_t)st->st_mtim.tv_sec,
			  (uint64_t)st->st_mtim.tv_nsec, (uint64_t)st->st_ctim.tv_sec,
			  (uint64_t)st->st_ctim.tv_nsec };

	return bh_sha256((const uint8_t *)f, sizeof(f), id);
}

bool boot_cache_memo_get(const char *dir, const struct stat *st, uint8_t key[32])
{
	struct cache_memo m;
	char name[NAME_MAX + 1];
	uint8_t id[32];
	ssize_t n;
	int dfd, fd;

	if (memo_name(st, id) || cache_name(name, sizeof(name), id, "src-", "") || (dfd = cache_dir_open(dir)) < 0)
		return false;
	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	close(dfd);
	if (fd < 0)
		return false;
	n = read(fd, &m, sizeof(m));
	close(fd);
	if (n != (ssize_t)sizeof(m) || memcmp(m.magic, MEMO_MAGIC, 8))
		return false;
	memcpy(key, m.key, 32);
	return true;
}

static int write_atomic(int dfd, const char *name, const char *tmpl_prefix,
			const uint8_t key[32], const uint8_t *a, size_t alen, const uint8_t *b,
			size_t blen) BH_WUR;

void boot_cache_memo_put(const char *dir, const struct stat *st, const uint8_t key[32])
{
	struct cache_memo m;
	char name[NAME_MAX + 1];
	uint8_t id[32];
	int dfd;

	memcpy(m.magic, MEMO_MAGIC, 8);
	memcpy(m.key, key, 32);
	if (memo_name(st, id) || mkdir_p(dir) || cache_name(name, sizeof(name), id, "src-", "") ||
	    (dfd = cache_dir_open(dir)) < 0)
		return;
	/* Best effort: without a memo the next boot just hashes again. */
	if (write_atomic(dfd, name, ".src-", id, (const uint8_t *)&m, sizeof(m), NULL, 0))
		bh_dbg("kernel cache: cannot record the memo in %s", dir);
	close(dfd);
}

/* Write a then b to a new 0600 temp file in the directory dfd and rename it
 * over name, so no reader ever sees a partial file. */
static int write_atomic(int dfd, const char *name, const char *tmpl_prefix,
			const uint8_t key[32], const uint8_t *a, size_t alen,
			const uint8_t *b, size_t blen)
{
	char tmp[NAME_MAX + 1], suffix[16];
	int fd = -1, ret;

	for (int tries = 0; fd < 0 && tries < 8; tries++) {
		uint32_t r;

		if (getentropy(&r, sizeof(r)) < 0)
			return -errno;
		snprintf(suffix, sizeof(suffix), ".%08x", r);
		ret = cache_name(tmp, sizeof(tmp), key, tmpl_prefix, suffix);
		if (ret)
			return ret;
		fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0 && errno != EEXIST)
			return -errno;
	}
	if (fd < 0)
		return -EEXIST;
	if (fchmod(fd, 0600) < 0) {
		ret = -errno;
		goto err_unlink;
	}
	ret = write_all(fd, a, alen);
	if (!ret && blen)
		ret = write_all(fd, b, blen);
	if (ret)
		goto err_unlink;
	if (close(fd) < 0) {
		fd = -1;
		ret = -errno;
		goto err_unlink;
	}
	fd = -1;
	if (renameat(dfd, tmp, dfd, name) < 0) {
		ret = -errno;
		goto err_unlink;
	}
	return 0;

err_unlink:
	if (fd >= 0)
		close(fd);
	unlinkat(dfd, tmp, 0);
	return ret;
}

int boot_cache_store(const char *dir, const uint8_t key[32], const uint8_t *elf, size_t len)
{
	struct cache_trailer t;
	char name[NAME_MAX + 1];
	int dfd, ret;

	ret = mkdir_p(dir);
	if (!ret)
		ret = cache_name(name, sizeof(name), key, "", "");
	if (ret)
		return ret;
	dfd = cache_dir_open(dir);
	if (dfd < 0)
		return dfd;
	memset(&t, 0, sizeof(t));
	memcpy(t.magic, CACHE_MAGIC, 8);
	t.version = CACHE_VERSION;
	t.crc = crc32_buf(elf, len);
	t.elf_len = len;
	memcpy(t.key, key, 32);
	ret = write_atomic(dfd, name, ".", key, elf, len, (const uint8_t *)&t, sizeof(t));
	close(dfd);
	return ret;
}

void boot_cache_drop(const char *dir, const uint8_t key[32])
{
	char name[NAME_MAX + 1];
	int dfd;

	if (cache_name(name, sizeof(name), key, "", "") || (dfd = cache_dir_open(dir)) < 0)
		return;
	(void)unlinkat(dfd, name, 0);
	close(dfd);
}
