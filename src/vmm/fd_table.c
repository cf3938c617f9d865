/* fd_table.c — see fd_table.h. */
#include "vmm/fd_table.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void fd_table_init(struct fd_table *t)
{
	memset(t, 0, sizeof(*t));
	for (unsigned i = 0; i < FD_TABLE_MAX; i++)
		t->e[i].fd = -1;
}

static int find(const struct fd_table *t, const char *name)
{
	for (unsigned i = 0; i < t->n; i++)
		if (!strcmp(t->e[i].name, name))
			return (int)i;
	return -1;
}

int fd_table_add(struct fd_table *t, const char *name, int fd, char *err, size_t errlen)
{
	struct fd_table_entry *e;
	struct stat st;

	if (!bh_fd_name_valid(name)) {
		snprintf(err, errlen,
			 "fd name '%.40s': use 1-%d letters, digits, '_', '-', '.', starting "
			 "with a letter", name, BH_FD_NAME_MAX);
		return -EINVAL;
	}
	if (fd < 3) {
		snprintf(err, errlen, "fd %s=%d: descriptors 0-2 are stdio, name one >= 3", name,
			 fd);
		return -EINVAL;
	}
	/* fstat, not fcntl: the event thread's seccomp filter allows fstat. */
	if (fstat(fd, &st) < 0) {
		snprintf(err, errlen, "fd %s=%d: not an open descriptor", name, fd);
		return -EBADF;
	}
	if (S_ISDIR(st.st_mode)) {
		snprintf(err, errlen,
			 "fd %s=%d: a directory (it would give the jailed VMM back the "
			 "filesystem; hand in files, sockets, pipes or devices)", name, fd);
		return -EISDIR;
	}
	if (find(t, name) >= 0) {
		snprintf(err, errlen, "fd %s=%d: the name '%s' is taken already", name, fd, name);
		return -EEXIST;
	}
	if (fd_table_holds(t, fd)) {
		snprintf(err, errlen, "fd %s=%d: descriptor %d is named already", name, fd, fd);
		return -EEXIST;
	}
	if (t->n >= FD_TABLE_MAX) {
		snprintf(err, errlen, "fd %s=%d: the VMM holds %d named descriptors already (the "
			 "most it takes)", name, fd, FD_TABLE_MAX);
		return -ENOSPC;
	}
	e = &t->e[t->n++];
	memset(e->name, 0, sizeof(e->name));
	memcpy(e->name, name, strlen(name));
	e->fd = fd;
	e->kind = ctl_fd_kind_of_mode(st.st_mode);
	return 0;
}

int fd_table_find(const struct fd_table *t, const char *name)
{
	int i = find(t, name);

	return i < 0 ? -ENOENT : t->e[i].fd;
}

int fd_table_take(struct fd_table *t, const char *name)
{
	int i = find(t, name), fd;

	if (i < 0)
		return -ENOENT;
	fd = t->e[i].fd;
	/* Keep the order of the rest (listings stay stable). */
	memmove(&t->e[i], &t->e[i + 1], (t->n - (unsigned)i - 1) * sizeof(t->e[0]));
	t->n--;
	t->e[t->n].fd = -1;
	t->e[t->n].name[0] = '\0';
	return fd;
}

bool fd_table_holds(const struct fd_table *t, int fd)
{
	for (unsigned i = 0; i < t->n; i++)
		if (t->e[i].fd == fd)
			return true;
	return false;
}

void fd_table_describe(const struct fd_table *t, char *buf, size_t len)
{
	size_t off = 0;

	if (!len)
		return;
	buf[0] = '\0';
	if (!t->n) {
		snprintf(buf, len, "none");
		return;
	}
	for (unsigned i = 0; i < t->n && off < len; i++) {
		int n = snprintf(buf + off, len - off, "%s%s=%d (%s)", i ? ", " : "", t->e[i].name,
				 t->e[i].fd, ctl_fd_kind_name(t->e[i].kind));

		if (n < 0)
			break;
		off += (size_t)n;
	}
}

void fd_table_destroy(struct fd_table *t)
{
	for (unsigned i = 0; i < t->n; i++)
		if (t->e[i].fd >= 0)
			close(t->e[i].fd);
	fd_table_init(t);
}
