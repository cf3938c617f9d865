/* procfs.c — see procfs.h. */
#include "daemon/procfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int proc_stat_parse(const char *text, size_t len, struct proc_stat *out)
{
	char buf[1024];
	const char *p;
	unsigned long long v[20];
	char *end;
	int i;

	if (len == 0 || len >= sizeof(buf))
		return -EPROTO;
	memcpy(buf, text, len);
	buf[len] = '\0';
	p = strrchr(buf, ')'); /* comm may contain spaces and parentheses */
	if (!p || p[1] != ' ' || !p[2] || p[3] != ' ')
		return -EPROTO;
	memset(out, 0, sizeof(*out));
	out->state = p[2];
	/* fields 4..22 (ppid .. starttime) follow the state */
	p += 4;
	for (i = 0; i < 19; i++) {
		while (*p == ' ')
			p++;
		errno = 0;
		/* signed fields (e.g. priority, nice) are read as text; only
		 * the unsigned ones below are used */
		v[i] = strtoull(*p == '-' ? p + 1 : p, &end, 10);
		if (errno || end == p || (*end != ' ' && *end != '\0' && *end != '\n'))
			return -EPROTO;
		p = end;
	}
	out->flags = v[9 - 4];
	out->utime = v[14 - 4];
	out->stime = v[15 - 4];
	out->starttime = v[22 - 4];
	return 0;
}

int proc_stat_read(pid_t pid, struct proc_stat *out)
{
	char path[64], buf[1024];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -EPROTO;
	return proc_stat_parse(buf, (size_t)n, out);
}

uint64_t proc_start_time(pid_t pid)
{
	struct proc_stat st;

	return pid > 0 && proc_stat_read(pid, &st) == 0 ? st.starttime : 0;
}

void proc_wchan(pid_t tid, char *buf, size_t len)
{
	char path[64];
	ssize_t n = -1;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/wchan", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, len - 1);
		close(fd);
	}
	buf[n > 0 ? n : 0] = '\0';
}

int proc_usage(pid_t pid, double *cpu_s, uint64_t *rss_bytes)
{
	char path[64], buf[256];
	long tck = sysconf(_SC_CLK_TCK);
	struct proc_stat st;
	FILE *f;
	int ret;

	*cpu_s = 0;
	*rss_bytes = 0;
	if ((ret = proc_stat_read(pid, &st)))
		return ret;
	if (tck > 0)
		*cpu_s = (double)(st.utime + st.stime) / (double)tck;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(buf, sizeof(buf), f)) {
		unsigned long long kb;

		if (sscanf(buf, "VmRSS: %llu kB", &kb) == 1) {
			*rss_bytes = kb * 1024;
			break;
		}
	}
	fclose(f);
	return 0;
}
