/* ctl_probe.c — plays the daemon's end of the control channel v2 against a
 * real (jailed) VMM: it creates the listening socket as bulkheadd does,
 * starts the command with it as fd 3 (the command line must say
 * `--control-fd 3`), then speaks the protocol through the same
 * ctl_send_msg()/ctl_recv_msg() the daemon uses:
 *
 *   ctl_probe SOCKET_PATH -- BULKHEAD run ... --control-fd 3
 *
 * Steps, one line each ("PASS name" / "FAIL name: why"), for
 * tests/sandbox/sandbox_tests.sh:
 *   status       the VMM answers (the event thread's filter allows recvmsg/
 *                sendmsg with control data);
 *   list         "list: NAME(kind) ..." — what --fd handed in;
 *   attach       a socket handed in joins the table (listed as a socket);
 *   duplicate    the same name again: -EEXIST, and the VMM closed the
 *                descriptor (EOF on a pipe whose write end was sent);
 *   too-many     8 descriptors in one record: -EPROTO, all closed (EOF);
 *   garbage      a garbage record: -EPROTO, the connection still serves;
 *   stop         SIGTERM: the VMM exits with code 4.
 * Exit status 0 when every step passed. Bounded: 30 s for the VMM to come
 * up, 5 s per step. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/fdpass.h"
#include "ctl/ctl_proto.h"

static unsigned failed;
static uint32_t seq;

static void result(const char *name, bool ok, const char *why)
{
	if (ok)
		printf("PASS %s\n", name);
	else
		printf("FAIL %s: %s\n", name, why);
	fflush(stdout);
	failed += !ok;
}

static uint64_t in_ms(unsigned ms)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec + ms * 1000000ull;
}

/* One request/reply; returns the reply status, or 1 with err set. */
static int call(int s, struct ctl_msg *m, struct ctl_msg *rep, unsigned ms, char *err,
		size_t errlen)
{
	m->hdr.seq = ++seq;
	if (ctl_send_msg(s, m, in_ms(ms), err, errlen) ||
	    ctl_recv_msg(s, true, rep, in_ms(ms), err, errlen))
		return 1;
	if (rep->hdr.seq != seq) {
		snprintf(err, errlen, "reply seq %u, want %u", rep->hdr.seq, seq);
		return 1;
	}
	return rep->hdr.status;
}

/* EOF on rd (non-blocking, after a short wait) = every write end is closed. */
static bool eof(int rd)
{
	char c;

	for (int i = 0; i < 50; i++) {
		ssize_t n = read(rd, &c, 1);

		if (n == 0)
			return true;
		if (n < 0 && errno != EAGAIN)
			return false;
		usleep(20000);
	}
	return false;
}

static void list(int s, char *out, size_t len)
{
	struct ctl_msg m, rep;
	struct ctl_fd_entry e;
	char err[256];
	size_t off;

	ctl_msg_request(&m, CTL_LIST_FDS, 0);
	if (call(s, &m, &rep, 5000, err, sizeof(err))) {
		snprintf(out, len, "(list failed: %s)", err);
		return;
	}
	off = (size_t)snprintf(out, len, "list:");
	for (unsigned i = 0, n = ctl_msg_fd_entry(&rep, 0, &e); i < n && off < len; i++) {
		ctl_msg_fd_entry(&rep, i, &e);
		off += (size_t)snprintf(out + off, len - off, " %s(%s)", e.name.name,
					ctl_fd_kind_name(e.kind));
	}
}

static void steps(int s)
{
	struct ctl_msg m, rep;
	char err[256], buf[512];
	int sv[2], p[2], many[2 * 8], wr[8], r;

	ctl_msg_request(&m, CTL_STATUS, 0);
	r = call(s, &m, &rep, 30000, err, sizeof(err));
	result("status", r == 0, r == 1 ? err : strerror(-r));
	if (r)
		return;
	list(s, buf, sizeof(buf));
	printf("%s\n", buf);
	result("list", !strncmp(buf, "list:", 5), buf);

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) || pipe2(p, O_CLOEXEC) ||
	    fcntl(p[0], F_SETFL, O_NONBLOCK))
		exit(2);
	if (ctl_msg_attach_fd(&m, 0, "net0", sv[0]))
		exit(2);
	r = call(s, &m, &rep, 5000, err, sizeof(err));
	list(s, buf, sizeof(buf));
	result("attach", r == 0 && strstr(buf, " net0(socket)"), r ? err : buf);
	close(sv[0]);
	close(sv[1]);

	if (ctl_msg_attach_fd(&m, 0, "net0", p[1]))
		exit(2);
	r = call(s, &m, &rep, 5000, err, sizeof(err));
	close(p[1]);
	snprintf(buf, sizeof(buf), "status %d (want -EEXIST) or the pipe stayed open", r);
	result("duplicate", r == -EEXIST && eof(p[0]), buf);
	close(p[0]);

	for (int i = 0; i < 8; i++) {
		if (pipe2(&many[2 * i], O_CLOEXEC) || fcntl(many[2 * i], F_SETFL, O_NONBLOCK))
			exit(2);
		wr[i] = many[2 * i + 1];
	}
	ctl_msg_request(&m, CTL_STATUS, 0);
	for (int i = 0; i < 4; i++)
		if (ctl_msg_add_fd(&m, wr[i]))
			exit(2);
	/* 8 descriptors in one record: past what ctl_send_msg allows, so straight
	 * through fdpass_sendv() (the header claims 4; the receiver is cut short). */
	{
		struct iovec iov = { .iov_base = &m.hdr, .iov_len = sizeof(m.hdr) };

		m.hdr.seq = ++seq;
		r = fdpass_sendv(s, &iov, 1, wr, 8, MSG_NOSIGNAL) < 0 ? 1
		    : ctl_recv_msg(s, true, &rep, in_ms(5000), err, sizeof(err)) ? 1
										  : rep.hdr.status;
	}
	bool all_closed = true;

	for (int i = 0; i < 8; i++) {
		close(wr[i]);
		all_closed = eof(many[2 * i]) && all_closed;
		close(many[2 * i]);
	}
	snprintf(buf, sizeof(buf), "status %d (want -EPROTO), all closed: %s", r,
		 all_closed ? "yes" : "no");
	result("too-many", r == -EPROTO && all_closed, buf);

	memset(buf, 0x5a, 100);
	r = send(s, buf, 100, MSG_NOSIGNAL) == 100 &&
			    ctl_recv_msg(s, true, &rep, in_ms(5000), err, sizeof(err)) == 0
		    ? rep.hdr.status
		    : 1;
	ctl_msg_request(&m, CTL_STATUS, 0);
	int r2 = call(s, &m, &rep, 5000, err, sizeof(err));

	snprintf(buf, sizeof(buf), "status %d (want -EPROTO), then %d (want 0)", r, r2);
	result("garbage", r == -EPROTO && r2 == 0, buf);
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int l, s, st, i;
	pid_t pid;
	char why[64];

	if (argc < 4 || strcmp(argv[2], "--")) {
		fprintf(stderr, "usage: ctl_probe SOCKET_PATH -- COMMAND ... --control-fd 3\n");
		return 2;
	}
	if (strlen(argv[1]) >= sizeof(sa.sun_path))
		return 2;
	memcpy(sa.sun_path, argv[1], strlen(argv[1]) + 1);
	unlink(argv[1]);
	l = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) || listen(l, 4)) {
		perror("ctl_probe: listening socket");
		return 2;
	}
	pid = fork();
	if (pid == 0) {
		/* dup2 onto itself would keep close-on-exec. The VM's own
		 * output goes to our stderr: our stdout (the step lines the
		 * test parses) is then written by this process alone, so no
		 * line of it can be lost to the VM's writes into the same
		 * file (seen: status/list lines missing now and then). */
		if ((l == 3 ? fcntl(l, F_SETFD, 0) < 0 : dup2(l, 3) < 0) || dup2(2, 1) < 0)
			_exit(127);
		execv(argv[3], argv + 3);
		_exit(127);
	}
	close(l);
	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (pid < 0 || s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("ctl_probe: connect");
		return 2;
	}
	steps(s);
	close(s);
	kill(pid, SIGTERM);
	for (i = 0; i < 100 && waitpid(pid, &st, WNOHANG) == 0; i++)
		usleep(100000);
	if (i == 100) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	snprintf(why, sizeof(why), "exit %d, want 4 (stopped by a signal)",
		 WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	result("stop", WIFEXITED(st) && WEXITSTATUS(st) == 4, why);
	unlink(argv[1]);
	return failed ? 1 : 0;
}
