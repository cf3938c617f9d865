/* ptyrun.c — run a command on a fresh pseudo-terminal of a given window
 * size, as a user's terminal would run `bulkhead exec -t` (a POSIX shell and
 * busybox have no `script`):
 *   ptyrun [-t SECS] ROWS COLS [-r MARKER ROWS2 COLS2] -- CMD ARGS...
 * The command runs in a session of its own with the pty's slave as its
 * controlling terminal and stdin/stdout/stderr, in raw mode (no newline
 * translation on this side). Everything it writes is copied to ptyrun's
 * stdout. -r: the first time MARKER appears in that output, the window
 * becomes ROWS2 x COLS2 (TIOCSWINSZ on the master: the kernel sends SIGWINCH
 * to the command, as a terminal emulator's resize does). ptyrun ends when
 * the command has exited and its output is drained, and exits with its
 * status (128+N if killed by signal N); after SECS (default 300) the command
 * is killed (SIGKILL) and ptyrun exits 124. Exit 2: usage or setup failure.
 * Used by tests/e2e/exec_suite.sh. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int dim(const char *s, unsigned short *out)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (end == s || *end || v < 1 || v > 9999)
		return -1;
	*out = (unsigned short)v;
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: ptyrun [-t SECS] ROWS COLS [-r MARKER ROWS2 COLS2] -- CMD ARGS...\n");
	return 2;
}

/* Copy what the master has to stdout, looking for the marker in a bounded
 * tail of the output. 0 on data, 1 on the end (EIO: every slave closed). */
static int pump(int m, const char *marker, char *tail, size_t *tlen, size_t tcap, int *seen)
{
	char buf[4096];
	ssize_t n = read(m, buf, sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0)
		return 1;
	for (ssize_t off = 0; off < n;) {
		ssize_t w = write(1, buf + off, (size_t)(n - off));

		if (w < 0 && errno != EINTR)
			break; /* stdout gone: keep draining the pty */
		off += w > 0 ? w : 0;
	}
	if (marker && !*seen) {
		size_t ml = strlen(marker);

		for (ssize_t i = 0; i < n; i++) {
			if (*tlen == tcap) { /* keep the last ml bytes */
				memmove(tail, tail + tcap - ml, ml);
				*tlen = ml;
			}
			tail[(*tlen)++] = buf[i];
		}
		if (memmem(tail, *tlen, marker, ml))
			*seen = 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct winsize ws = { 0 }, ws2 = { 0 };
	const char *marker = NULL;
	long secs = 300;
	int i = 1, m, st = 0, seen = 0, ended = 0;
	char tail[8192];
	size_t tlen = 0;

	if (i + 1 < argc && !strcmp(argv[i], "-t")) {
		secs = strtol(argv[i + 1], NULL, 10);
		if (secs < 1 || secs > 3600)
			return usage();
		i += 2;
	}
	if (i + 2 > argc || dim(argv[i], &ws.ws_row) || dim(argv[i + 1], &ws.ws_col))
		return usage();
	i += 2;
	if (i + 4 <= argc && !strcmp(argv[i], "-r")) {
		marker = argv[i + 1];
		if (!*marker || strlen(marker) > 1024 || dim(argv[i + 2], &ws2.ws_row) ||
		    dim(argv[i + 3], &ws2.ws_col))
			return usage();
		i += 4;
	}
	if (i + 1 >= argc || strcmp(argv[i], "--"))
		return usage();
	i++;
	signal(SIGPIPE, SIG_IGN);
	m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0 || grantpt(m) || unlockpt(m) || ioctl(m, TIOCSWINSZ, &ws)) {
		fprintf(stderr, "ptyrun: cannot open a pseudo-terminal: %s\n", strerror(errno));
		return 2;
	}
	const char *sname = ptsname(m);
	int s = sname ? open(sname, O_RDWR | O_NOCTTY | O_CLOEXEC) : -1;
	struct termios t;

	if (s < 0 || tcgetattr(s, &t)) {
		fprintf(stderr, "ptyrun: the pseudo-terminal's slave: %s\n", strerror(errno));
		return 2;
	}
	cfmakeraw(&t);
	if (tcsetattr(s, TCSANOW, &t)) {
		fprintf(stderr, "ptyrun: raw mode: %s\n", strerror(errno));
		return 2;
	}
	pid_t pid = fork();

	if (pid < 0) {
		fprintf(stderr, "ptyrun: fork: %s\n", strerror(errno));
		return 2;
	}
	if (pid == 0) {
		if (setsid() < 0 || ioctl(s, TIOCSCTTY, 0) || dup2(s, 0) < 0 || dup2(s, 1) < 0 ||
		    dup2(s, 2) < 0) {
			perror("ptyrun: the child's terminal");
			_exit(2);
		}
		execvp(argv[i], argv + i);
		fprintf(stderr, "ptyrun: %s: %s\n", argv[i], strerror(errno));
		_exit(127);
	}
	/* The slave stays open here until the child has exited, so that the
	 * master does not report EIO between the child's own descriptors
	 * closing and its exit; then it is closed and the rest drained (until
	 * EIO or 200 ms without output). */
	long long deadline = now_ms() + secs * 1000;

	for (;;) {
		struct pollfd p = { .fd = m, .events = POLLIN };
		long long left = deadline - now_ms();

		if (left <= 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			fprintf(stderr, "ptyrun: the command ran over %ld s: killed\n", secs);
			return 124;
		}
		int r = poll(&p, 1, left > 200 ? 200 : (int)left);

		if (r > 0 && pump(m, marker, tail, &tlen, sizeof(tail), &seen))
			break; /* the last slave is closed */
		if (r == 0 && ended)
			break; /* drained (a descendant may still hold the slave) */
		if (seen == 1) {
			seen = 2;
			if (ioctl(m, TIOCSWINSZ, &ws2))
				fprintf(stderr, "ptyrun: resize: %s\n", strerror(errno));
		}
		if (!ended && waitpid(pid, &st, WNOHANG) == pid) {
			ended = 1;
			close(s);
			s = -1;
		}
	}
	if (s >= 0)
		close(s);
	if (!ended)
		waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 2;
}
