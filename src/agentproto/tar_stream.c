/* tar_stream.c — bounded ustar writer and extractor (tar_stream.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agentproto/tar_stream.h"

#define OCTAL_SIZE_MAX 077777777777ull /* 11 octal digits */

bool ap_tar_name_ok(const char *name)
{
	size_t n = strlen(name);
	int depth = 0;

	if (!strcmp(name, "."))
		return true;
	if (!n || n > AP_TAR_NAME_MAX || name[0] == '/' || name[n - 1] == '/')
		return false;
	for (const char *c = name; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return false;
	for (const char *s = name; *s;) {
		const char *e = strchr(s, '/');
		size_t len = e ? (size_t)(e - s) : strlen(s);

		if (!len || (len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
			return false;
		if (++depth > AP_TAR_MAX_DEPTH)
			return false;
		s += len;
		if (*s == '/')
			s++;
	}
	return true;
}

static void put_octal(uint8_t *field, size_t width, uint64_t v)
{
	/* width-1 digits, NUL-terminated */
	field[width - 1] = 0;
	for (size_t i = width - 1; i-- > 0;) {
		field[i] = (uint8_t)('0' + (v & 7));
		v >>= 3;
	}
}

static unsigned checksum(const uint8_t blk[AP_TAR_BLOCK])
{
	unsigned sum = 0;

	for (size_t i = 0; i < AP_TAR_BLOCK; i++)
		sum += (i >= 148 && i < 156) ? ' ' : blk[i];
	return sum;
}

int ap_tar_header(uint8_t blk[AP_TAR_BLOCK], const struct ap_tar_ent *e)
{
	size_t n = strlen(e->name);

	if (!ap_tar_name_ok(e->name))
		return -EINVAL;
	if (e->size > OCTAL_SIZE_MAX)
		return -EFBIG;
	memset(blk, 0, AP_TAR_BLOCK);
	if (n <= 100) {
		memcpy(blk, e->name, n);
	} else {
		/* split at a '/' so that prefix <= 155 and name <= 100 */
		const char *cut = NULL;

		for (const char *s = e->name; (s = strchr(s, '/')); s++)
			if ((size_t)(s - e->name) <= 155 && n - (size_t)(s - e->name) - 1 <= 100) {
				cut = s;
				break;
			}
		if (!cut)
			return -ENAMETOOLONG;
		memcpy(blk + 345, e->name, (size_t)(cut - e->name));
		memcpy(blk, cut + 1, n - (size_t)(cut - e->name) - 1);
	}
	put_octal(blk + 100, 8, e->mode & 0777);
	put_octal(blk + 108, 8, 0);
	put_octal(blk + 116, 8, 0);
	put_octal(blk + 124, 12, e->is_dir ? 0 : e->size);
	put_octal(blk + 136, 12, 0);
	blk[156] = e->is_dir ? '5' : '0';
	memcpy(blk + 257, "ustar", 6);
	memcpy(blk + 263, "00", 2);
	put_octal(blk + 148, 7, checksum(blk));
	blk[155] = ' ';
	return 0;
}

/* Parse an octal field (digits, then NULs/spaces). -1 if malformed. */
static int parse_octal(const uint8_t *f, size_t width, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;

	while (i < width && f[i] == ' ')
		i++;
	if (i == width || f[i] < '0' || f[i] > '7')
		return -1;
	for (; i < width && f[i] >= '0' && f[i] <= '7'; i++) {
		if (v > (UINT64_MAX >> 3))
			return -1;
		v = v << 3 | (uint64_t)(f[i] - '0');
	}
	for (; i < width; i++)
		if (f[i] && f[i] != ' ')
			return -1;
	*out = v;
	return 0;
}

#define PARSE_FAIL(...)                             \
	do {                                        \
		snprintf(err, errlen, __VA_ARGS__); \
		return -EPROTO;                     \
	} while (0)

int ap_tar_parse(const uint8_t blk[AP_TAR_BLOCK], struct ap_tar_ent *e, char *err, size_t errlen)
{
	uint64_t sum, mode, size;
	size_t i, pn, nn;

	for (i = 0; i < AP_TAR_BLOCK && !blk[i]; i++)
		;
	if (i == AP_TAR_BLOCK)
		return 0;
	if (parse_octal(blk + 148, 8, &sum) || sum != checksum(blk))
		PARSE_FAIL("tar: header checksum mismatch");
	if (memcmp(blk + 257, "ustar", 6) || memcmp(blk + 263, "00", 2))
		PARSE_FAIL("tar: not a POSIX ustar header");
	pn = strnlen((const char *)blk + 345, 155);
	nn = strnlen((const char *)blk, 100);
	if (pn + 1 + nn > AP_TAR_NAME_MAX)
		PARSE_FAIL("tar: name too long");
	if (pn) {
		memcpy(e->name, blk + 345, pn);
		e->name[pn] = '/';
		memcpy(e->name + pn + 1, blk, nn);
		e->name[pn + 1 + nn] = 0;
	} else {
		memcpy(e->name, blk, nn);
		e->name[nn] = 0;
	}
	if (!ap_tar_name_ok(e->name))
		PARSE_FAIL("tar: entry name '%.64s' refused (absolute, '..', empty or too deep)",
			   e->name);
	if (parse_octal(blk + 100, 8, &mode) || parse_octal(blk + 124, 12, &size))
		PARSE_FAIL("tar: entry '%.64s': malformed mode or size", e->name);
	e->mode = (uint32_t)(mode & 0777);
	switch (blk[156]) {
	case '0':
	case 0:
		e->is_dir = false;
		e->size = size;
		break;
	case '5':
		if (size)
			PARSE_FAIL("tar: directory '%.64s' with a size", e->name);
		e->is_dir = true;
		e->size = 0;
		break;
	default:
		PARSE_FAIL("tar: entry '%.64s': type '%c' refused (only files and directories: "
			   "no links, devices or FIFOs)",
			   e->name, blk[156] >= 0x20 && blk[156] < 0x7f ? blk[156] : '?');
	}
	return 1;
}

/* Open `path` (O_PATH|O_DIRECTORY parent resolution): relative to at_root
 * with RESOLVE_IN_ROOT when at_root >= 0 (the agent, inside the program's
 * root: a planted symlink resolves inside it, never to the agent's files),
 * else plainly. */
static int open_in(int at_root, const char *path, int flags)
{
	if (at_root < 0)
		return open(path, flags | O_CLOEXEC, 0);
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};

	return (int)syscall(SYS_openat2, at_root, path, &how, sizeof(how));
}

/* Split path into its parent (opened O_PATH|O_DIRECTORY) and leaf. */
static int open_parent(int at_root, const char *path, char *leaf, size_t leaflen, char *err,
		       size_t errlen)
{
	char dir[4096];
	size_t n = strlen(path);
	const char *slash;

	while (n > 1 && path[n - 1] == '/')
		n--;
	if (!n || n >= sizeof(dir)) {
		snprintf(err, errlen, "'%.200s': empty or too long", path);
		return -EINVAL;
	}
	memcpy(dir, path, n);
	dir[n] = 0;
	char *cut = strrchr(dir, '/');

	slash = cut;
	const char *lf = slash ? slash + 1 : dir;

	if (!*lf || !strcmp(lf, ".") || !strcmp(lf, "..") || strlen(lf) >= leaflen) {
		snprintf(err, errlen, "'%.200s': does not name a file", path);
		return -EINVAL;
	}
	snprintf(leaf, leaflen, "%s", lf);
	if (slash == dir)
		dir[1] = 0;
	else if (cut)
		*cut = 0;
	else
		snprintf(dir, sizeof(dir), ".");
	int fd = open_in(at_root, dir, O_PATH | O_DIRECTORY);

	if (fd < 0) {
		int e = errno;

		snprintf(err, errlen, "'%.200s': its directory: %s", path, strerror(e));
		return -e;
	}
	return fd;
}

/* ---- writer ---- */
struct wctx {
	const struct ap_tar_caps *caps;
	ap_tar_emit_fn emit;
	void *ctx;
	struct ap_tar_stats *st;
	char *err;
	size_t errlen;
	uint8_t buf[16 * 1024];
};

static int emit_header(struct wctx *w, const char *name, bool dir, uint32_t mode, uint64_t size)
{
	struct ap_tar_ent e = { .is_dir = dir, .mode = mode, .size = size };
	uint8_t blk[AP_TAR_BLOCK];

	if (++w->st->entries > w->caps->max_entries) {
		snprintf(w->err, w->errlen, "more than %llu entries (the cap)",
			 (unsigned long long)w->caps->max_entries);
		return -EMLINK;
	}
	snprintf(e.name, sizeof(e.name), "%s", name);
	int r = ap_tar_header(blk, &e);

	if (r) {
		snprintf(w->err, w->errlen, "'%.200s': name cannot be carried", name);
		return r;
	}
	return w->emit(w->ctx, blk, sizeof(blk));
}

static int write_file(struct wctx *w, int fd, const char *name, const struct stat *st)
{
	uint64_t size = (uint64_t)st->st_size, left;
	int r;

	if (size > w->caps->max_bytes - w->st->bytes) {
		snprintf(w->err, w->errlen, "'%.200s': more than %llu bytes in all (the cap)", name,
			 (unsigned long long)w->caps->max_bytes);
		return -EFBIG;
	}
	w->st->bytes += size;
	r = emit_header(w, name, false, st->st_mode, size);
	if (r)
		return r;
	for (left = size; left;) {
		size_t want = left < sizeof(w->buf) ? (size_t)left : sizeof(w->buf);
		ssize_t got = read(fd, w->buf, want);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			int e = errno;

			snprintf(w->err, w->errlen, "'%.200s': read: %s", name, strerror(e));
			return -e;
		}
		if (got == 0) { /* shrank: pad with zeros, as announced */
			memset(w->buf, 0, want);
			got = (ssize_t)want;
		}
		r = w->emit(w->ctx, w->buf, (size_t)got);
		if (r)
			return r;
		left -= (uint64_t)got;
	}
	size_t pad = (size_t)((AP_TAR_BLOCK - size % AP_TAR_BLOCK) % AP_TAR_BLOCK);

	if (pad) {
		memset(w->buf, 0, pad);
		return w->emit(w->ctx, w->buf, pad);
	}
	return 0;
}

/* Emit the entry `leaf` of directory dfd as `name`; recurse into dirs. */
static int write_entry(struct wctx *w, int dfd, const char *leaf, const char *name, int depth)
{
	struct stat st;
	int fd, r;

	if (fstatat(dfd, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		int e = errno;

		snprintf(w->err, w->errlen, "'%.200s': %s", name, strerror(e));
		return -e;
	}
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
		if (depth == 0) {
			snprintf(w->err, w->errlen, "'%.200s' is %s: only files and directories "
				 "are copied", name, S_ISLNK(st.st_mode) ? "a symbolic link" :
				 "a device, FIFO or socket");
			return S_ISLNK(st.st_mode) ? -ELOOP : -EINVAL;
		}
		w->st->skipped++;
		return 0;
	}
	/* O_NOFOLLOW|O_NONBLOCK: swapped for a link or a FIFO since the stat,
	 * the open fails or does not block; the fstat below catches the rest. */
	fd = openat(dfd, leaf, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC |
			       (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0));
	if (fd < 0) {
		if (depth && (errno == ELOOP || errno == ENXIO)) {
			w->st->skipped++;
			return 0;
		}
		int e = errno;

		snprintf(w->err, w->errlen, "'%.200s': open: %s", name, strerror(e));
		return -e;
	}
	struct stat st2;

	if (fstat(fd, &st2) < 0 || st2.st_ino != st.st_ino || st2.st_dev != st.st_dev ||
	    (st2.st_mode & S_IFMT) != (st.st_mode & S_IFMT)) {
		close(fd);
		snprintf(w->err, w->errlen, "'%.200s' changed while being copied", name);
		return -EAGAIN;
	}
	if (S_ISREG(st2.st_mode)) {
		r = write_file(w, fd, name, &st2);
		close(fd);
		return r;
	}
	if (depth >= AP_TAR_MAX_DEPTH) {
		close(fd);
		snprintf(w->err, w->errlen, "'%.200s': deeper than %d levels", name,
			 AP_TAR_MAX_DEPTH);
		return -ELOOP;
	}
	r = emit_header(w, name, true, st2.st_mode, 0);
	if (r) {
		close(fd);
		return r;
	}
	DIR *d = fdopendir(fd);

	if (!d) {
		r = -errno;
		close(fd);
		return r;
	}
	struct dirent *de;
	char child[AP_TAR_NAME_MAX + 2];

	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		int n = !strcmp(name, ".") ? snprintf(child, sizeof(child), "%s", de->d_name)
					   : snprintf(child, sizeof(child), "%s/%s", name,
						      de->d_name);

		if (n < 0 || (size_t)n > AP_TAR_NAME_MAX) {
			snprintf(w->err, w->errlen, "'%.200s/…': name longer than %d bytes", name,
				 AP_TAR_NAME_MAX);
			closedir(d);
			return -ENAMETOOLONG;
		}
		r = write_entry(w, dirfd(d), de->d_name, child, depth + 1);
		if (r) {
			closedir(d);
			return r;
		}
	}
	closedir(d);
	return 0;
}

int ap_tar_write_at(int at_root, const char *path, const struct ap_tar_caps *caps,
		    ap_tar_emit_fn emit, void *ctx, struct ap_tar_stats *st, char *err,
		    size_t errlen)
{
	static const uint8_t zeros[2 * AP_TAR_BLOCK];
	struct wctx w = { .caps = caps, .emit = emit, .ctx = ctx, .st = st, .err = err,
			  .errlen = errlen };
	char leaf[256];
	int pfd, r;

	memset(st, 0, sizeof(*st));
	pfd = open_parent(at_root, path, leaf, sizeof(leaf), err, errlen);
	if (pfd < 0)
		return pfd;
	r = write_entry(&w, pfd, leaf, ".", 0);
	close(pfd);
	if (r)
		return r;
	return emit(ctx, zeros, sizeof(zeros));
}

int ap_tar_write(const char *path, const struct ap_tar_caps *caps, ap_tar_emit_fn emit,
		 void *ctx, struct ap_tar_stats *st, char *err, size_t errlen)
{
	return ap_tar_write_at(-1, path, caps, emit, ctx, st, err, errlen);
}

/* ---- extractor ---- */
int ap_untar_init_at(struct ap_untar *u, int at_root, const char *dest,
		     const struct ap_tar_caps *caps)
{
	memset(u, 0, sizeof(*u));
	u->caps = *caps;
	u->root_fd = -1;
	u->file_fd = -1;
	u->uid = u->gid = -1;
	u->parent_fd = open_parent(at_root, dest, u->leaf, sizeof(u->leaf), u->err,
				   sizeof(u->err));
	if (u->parent_fd < 0)
		return u->parent_fd;
	/* O_PATH is enough to resolve; creating needs a real directory fd. */
	int fd = openat(u->parent_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	close(u->parent_fd);
	u->parent_fd = fd;
	if (fd < 0) {
		int e = errno;

		snprintf(u->err, sizeof(u->err), "'%.200s': its directory: %s", dest, strerror(e));
		return -e;
	}
	if (!fstatat(fd, u->leaf, &(struct stat){ 0 }, AT_SYMLINK_NOFOLLOW)) {
		snprintf(u->err, sizeof(u->err), "'%.200s' already exists: not overwritten", dest);
		close(fd);
		u->parent_fd = -1;
		return -EEXIST;
	}
	return 0;
}

int ap_untar_init(struct ap_untar *u, const char *dest, const struct ap_tar_caps *caps)
{
	return ap_untar_init_at(u, -1, dest, caps);
}

#define UFAIL(code, ...)                                      \
	do {                                                  \
		snprintf(u->err, sizeof(u->err), __VA_ARGS__); \
		return (code);                                \
	} while (0)

/* Open the directory that will hold `name` (every parent component is a
 * directory this stream created: O_NOFOLLOW|O_DIRECTORY on each) and set
 * *leaf to the last component. Returns an fd to close (or root_fd's dup). */
static int walk_parent(struct ap_untar *u, const char *name, const char **leaf)
{
	char comp[AP_TAR_NAME_MAX + 1];
	const char *s = name, *slash;
	int fd = dup(u->root_fd);

	if (fd < 0)
		return -errno;
	while ((slash = strchr(s, '/'))) {
		size_t n = (size_t)(slash - s);

		memcpy(comp, s, n);
		comp[n] = 0;
		int nfd = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		close(fd);
		if (nfd < 0)
			return -errno;
		fd = nfd;
		s = slash + 1;
	}
	*leaf = s;
	return fd;
}

static void chown_maybe(struct ap_untar *u, int fd)
{
	if (u->uid >= 0 && fchown(fd, (uid_t)u->uid, (gid_t)u->gid) < 0)
		u->st.skipped += 0; /* best effort: the mode bits still apply */
}

static int start_entry(struct ap_untar *u, const struct ap_tar_ent *e)
{
	bool root = !strcmp(e->name, ".");
	int dfd, fd;
	const char *leaf = u->leaf;

	if (++u->st.entries > u->caps.max_entries)
		UFAIL(-EMLINK, "more than %llu entries (the cap)",
		      (unsigned long long)u->caps.max_entries);
	if (!e->is_dir && e->size > u->caps.max_bytes - u->st.bytes)
		UFAIL(-EFBIG, "'%.64s': more than %llu bytes in all (the cap)", e->name,
		      (unsigned long long)u->caps.max_bytes);
	if (root != !u->root_done)
		UFAIL(-EPROTO, root ? "a second root entry" : "'%.64s' before the root entry",
		      e->name);
	if (!root && !u->root_is_dir)
		UFAIL(-EPROTO, "'%.64s': the root is a file", e->name);
	if (root) {
		dfd = dup(u->parent_fd);
		leaf = u->leaf;
	} else {
		dfd = walk_parent(u, e->name, &leaf);
	}
	if (dfd < 0)
		UFAIL(dfd, "'%.64s': its directory: %s", e->name, strerror(-dfd));
	if (e->is_dir) {
		if (mkdirat(dfd, leaf, 0700) < 0) {
			int er = errno;

			close(dfd);
			UFAIL(-er, "'%.64s': mkdir: %s", e->name, strerror(er));
		}
		fd = openat(dfd, leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(dfd);
		if (fd < 0)
			UFAIL(-errno, "'%.64s': open: %s", e->name, strerror(errno));
		if (fchmod(fd, e->mode & 0777) < 0) { /* keep going: a mode is not a hazard */
		}
		chown_maybe(u, fd);
		if (root) {
			u->root_fd = fd;
			u->root_is_dir = true;
		} else {
			close(fd);
		}
	} else {
		fd = openat(dfd, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			    e->mode & 0777);
		close(dfd);
		if (fd < 0)
			UFAIL(-errno, "'%.64s': create: %s", e->name, strerror(errno));
		chown_maybe(u, fd);
		u->file_fd = fd;
		u->remaining = e->size;
		u->pad = (AP_TAR_BLOCK - e->size % AP_TAR_BLOCK) % AP_TAR_BLOCK;
		u->st.bytes += e->size;
		if (!u->remaining) {
			close(u->file_fd);
			u->file_fd = -1;
		}
	}
	u->root_done = true;
	return 0;
}

int ap_untar_feed(struct ap_untar *u, const void *data, size_t n)
{
	const uint8_t *p = data;

	while (n) {
		if (u->ended) {
			/* after the end marker only zero padding may follow */
			for (size_t i = 0; i < n; i++)
				if (p[i])
					UFAIL(-EPROTO, "data after the end of the archive");
			return 0;
		}
		if (u->remaining) {
			size_t k = n < u->remaining ? n : (size_t)u->remaining;

			for (size_t off = 0; off < k;) {
				ssize_t w = write(u->file_fd, p + off, k - off);

				if (w < 0 && errno == EINTR)
					continue;
				if (w <= 0)
					UFAIL(w < 0 ? -errno : -EIO, "write: %s",
					      strerror(w < 0 ? errno : EIO));
				off += (size_t)w;
			}
			u->remaining -= k;
			p += k;
			n -= k;
			if (!u->remaining) {
				close(u->file_fd);
				u->file_fd = -1;
			}
			continue;
		}
		if (u->pad) {
			size_t k = n < u->pad ? n : (size_t)u->pad;

			u->pad -= k;
			p += k;
			n -= k;
			continue;
		}
		size_t k = AP_TAR_BLOCK - u->blk_have;

		if (k > n)
			k = n;
		memcpy(u->blk + u->blk_have, p, k);
		u->blk_have += k;
		p += k;
		n -= k;
		if (u->blk_have < AP_TAR_BLOCK)
			continue;
		u->blk_have = 0;
		struct ap_tar_ent e;
		int r = ap_tar_parse(u->blk, &e, u->err, sizeof(u->err));

		if (r < 0)
			return r;
		if (r == 0) {
			if (!u->root_done)
				UFAIL(-EPROTO, "empty archive");
			u->ended = true;
			continue;
		}
		r = start_entry(u, &e);
		if (r)
			return r;
	}
	return 0;
}

int ap_untar_end(struct ap_untar *u)
{
	int r = 0;

	if (!u->ended || u->remaining || u->blk_have) {
		if (!u->err[0])
			snprintf(u->err, sizeof(u->err), "archive truncated");
		r = -EPROTO;
	}
	if (u->file_fd >= 0)
		close(u->file_fd);
	if (u->root_fd >= 0)
		close(u->root_fd);
	if (u->parent_fd >= 0)
		close(u->parent_fd);
	u->file_fd = u->root_fd = u->parent_fd = -1;
	return r;
}
