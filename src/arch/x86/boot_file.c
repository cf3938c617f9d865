/* boot_file.c — reading kernel and initrd files from the host for the loader.
 * Regular files only, size-capped, read fully (short reads and EINTR retried);
 * every error message names the file. See boot_internal.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/x86/boot_internal.h"

int boot_errf(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}

/* Beside boot_errf(): the loaders (boot_bzimage.c, boot_elf.c, ...) call
 * both, and boot.c calls the loaders, so neither may live in boot.c. */
int boot_fail(struct boot_ctx *c, int ret, const char *fmt, ...)
{
	char msg[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return boot_errf(c->err, c->errlen, ret, "kernel %s: %s%s", c->name, c->what, msg);
}

static const char *file_kind(mode_t m)
{
	if (S_ISCHR(m))
		return "character device";
	if (S_ISBLK(m))
		return "block device";
	if (S_ISFIFO(m))
		return "FIFO";
	if (S_ISSOCK(m))
		return "socket";
	return "special file";
}

int boot_file_open(const char *what, const char *path, uint64_t max, int *fdp, uint64_t *sizep,
		   char *err, size_t errlen)
{
	struct stat st;
	int fd, ret;

	*fdp = -1;
	*sizep = 0;
	if (!path || !*path)
		return boot_errf(err, errlen, -EINVAL, "%s: empty path", what);
	/* O_NONBLOCK: opening a FIFO must not hang the VMM; no effect on files. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		ret = -errno;
		return boot_errf(err, errlen, ret, "%s %s: %s", what, path, strerror(-ret));
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		ret = boot_errf(err, errlen, ret, "%s %s: fstat: %s", what, path, strerror(-ret));
		goto err_close;
	}
	if (S_ISDIR(st.st_mode)) {
		ret = boot_errf(err, errlen, -EISDIR, "%s %s: is a directory", what, path);
		goto err_close;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = boot_errf(err, errlen, -EINVAL, "%s %s: not a regular file (%s)", what,
				path, file_kind(st.st_mode));
		goto err_close;
	}
	if (st.st_size <= 0) {
		ret = boot_errf(err, errlen, -EINVAL, "%s %s: empty file", what, path);
		goto err_close;
	}
	if ((uint64_t)st.st_size > max) {
		ret = boot_errf(err, errlen, -E2BIG, "%s %s: size %llu MiB exceeds the %llu MiB limit",
				what, path, (unsigned long long)st.st_size / BH_MiB,
				(unsigned long long)(max / BH_MiB));
		goto err_close;
	}
	*fdp = fd;
	*sizep = (uint64_t)st.st_size;
	return 0;

err_close:
	close(fd);
	return ret;
}

int boot_file_read(int fd, const char *what, const char *path, void *buf, uint64_t size,
		   char *err, size_t errlen)
{
	uint8_t *p = buf;
	uint64_t done = 0;

	while (done < size) {
		size_t chunk = size - done > (1U << 30) ? (1U << 30) : (size_t)(size - done);
		ssize_t n = pread(fd, p + done, chunk, (off_t)done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return boot_errf(err, errlen, -EIO, "%s %s: read would block",
						 what, path);
			int ret = -errno;

			return boot_errf(err, errlen, ret, "%s %s: read: %s", what, path,
					 strerror(-ret));
		}
		if (n == 0)
			return boot_errf(err, errlen, -EIO,
					 "%s %s: file shrank while reading (%llu of %llu bytes)",
					 what, path, (unsigned long long)done,
					 (unsigned long long)size);
		done += (uint64_t)n;
	}
	return 0;
}

int boot_file_load(const char *what, const char *path, uint64_t max, uint8_t **bufp,
		   size_t *lenp, struct stat *stp, char *err, size_t errlen)
{
	uint64_t size;
	uint8_t *buf;
	int fd, ret;

	*bufp = NULL;
	*lenp = 0;
	ret = boot_file_open(what, path, max, &fd, &size, err, errlen);
	if (ret)
		return ret;
	buf = malloc((size_t)size);
	if (!buf) {
		ret = boot_errf(err, errlen, -ENOMEM, "%s %s: cannot allocate %llu bytes", what,
				path, (unsigned long long)size);
		goto err_close;
	}
	ret = boot_file_read(fd, what, path, buf, size, err, errlen);
	if (ret)
		goto err_free;
	if (stp && fstat(fd, stp) < 0) {
		ret = boot_errf(err, errlen, -errno, "%s %s: fstat: %s", what, path,
				strerror(errno));
		goto err_free;
	}
	close(fd);
	*bufp = buf;
	*lenp = (size_t)size;
	return 0;

err_free:
	free(buf);
err_close:
	close(fd);
	return ret;
}
