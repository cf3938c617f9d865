/* cgroupfs.c — see cgroupfs.h. */
#include "common/cgroupfs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int open_at(const char *dir, const char *file, int flags)
{
	char path[PATH_MAX];
	int fd;

	if (snprintf(path, sizeof(path), "%s/%s", dir, file) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, flags | O_CLOEXEC | O_NOFOLLOW);
	return fd < 0 ? -errno : fd;
}

int cgfs_write(const char *dir, const char *file, const char *val)
{
	int fd = open_at(dir, file, O_WRONLY), e;
	ssize_t n;

	if (fd < 0)
		return fd;
	n = write(fd, val, strlen(val));
	e = n < 0 ? -errno : 0;
	close(fd);
	return e;
}

int cgfs_read(const char *dir, const char *file, char *buf, size_t len)
{
	int fd = open_at(dir, file, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return fd;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

int cgfs_own_path(const char *ctrl, char *out, size_t len)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	char line[640];
	int ret = -ENOENT;

	if (!f)
		return -errno;
	/* Lines are ID:CONTROLLERS:PATH; v2's is "0::PATH". */
	while (ret && fgets(line, sizeof(line), f)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		bool match = false;

		if (!c2)
			continue;
		*c1 = *c2 = '\0';
		c2[1 + strcspn(c2 + 1, "\n")] = '\0';
		if (!ctrl) {
			match = !strcmp(line, "0") && c1[1] == '\0';
		} else {
			char *tok, *save = NULL;

			for (tok = strtok_r(c1 + 1, ",", &save); tok && !match;
			     tok = strtok_r(NULL, ",", &save))
				match = !strcmp(tok, ctrl);
		}
		if (match) {
			snprintf(out, len, "%s", strcmp(c2 + 1, "/") ? c2 + 1 : "");
			ret = 0;
		}
	}
	fclose(f);
	return ret;
}

bool cgfs_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}
