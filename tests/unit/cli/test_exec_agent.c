/* test_exec_agent.c — the host end of `bulkhead exec` (src/cli/exec_session.c)
 * against the REAL guest agent (build/guest/agent/bulkhead-agent, path in
 * $BH_AGENT), run on this host over a socketpair (--fd; --root /, no
 * cgroup, no user switch: nothing here needs root or a VM). Covers what the
 * VM suite cannot afford to boot for: stdout/stderr kept apart, exit codes,
 * 126/127, death by signal, signal forwarding, stdin, the output cap and
 * its drop counter, the timeout, copy-in/out (a tree, a symlink asked back,
 * an existing host path), and a HOSTILE agent (a peer of the test's own that
 * lies: exit before start, output before start, a giant frame, garbage,
 * silence) — hostile-guests.md case 35. The VM suite
 * (tests/e2e/exec_suite.sh) runs the same agent in a guest. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "cli/exec_session.h"

struct agent_peer {
	pid_t pid;
	int fd; /* our end */
	struct exec_session s;
};

static void agent_start(struct agent_peer *a)
{
	const char *bin = getenv("BH_AGENT");
	int sv[2];

	assert_non_null(bin);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	a->pid = fork();
	assert_true(a->pid >= 0);
	if (a->pid == 0) {
		char fdarg[16];
		int fd = dup(sv[1]); /* without CLOEXEC */

		snprintf(fdarg, sizeof(fdarg), "%d", fd);
		execl(bin, bin, "--fd", fdarg, "--root", "/", (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	a->fd = sv[0];
	assert_int_equal(exec_session_init(&a->s, a->fd), 0);
	char err[300];

	assert_int_equal(exec_session_hello(&a->s, 10000, err, sizeof(err)), 0);
}

static void agent_stop(struct agent_peer *a)
{
	int st;

	exec_session_free(&a->s);
	close(a->fd);
	assert_int_equal(waitpid(a->pid, &st, 0), a->pid);
	assert_true(WIFEXITED(st));
}

/* Temp files for the program's stdout and stderr. */
struct outs {
	int out, err;
};

static void outs_open(struct outs *o)
{
	o->out = fileno(tmpfile());
	o->err = fileno(tmpfile());
	assert_true(o->out >= 0 && o->err >= 0);
}

static void slurp(int fd, char *buf, size_t len)
{
	ssize_t n = pread(fd, buf, len - 1, 0);

	buf[n > 0 ? n : 0] = 0;
}

static void run(struct agent_peer *a, const char *const *argv, int in_fd, uint64_t cap,
		int timeout_ms, struct outs *o, struct exec_result *r)
{
	uint8_t buf[4096];
	struct ap_jobbuf b = { buf, 0, sizeof(buf) };

	for (int i = 0; argv[i]; i++)
		assert_int_equal(ap_job_put_str(&b, AP_TAG_ARG, argv[i]), 0);
	assert_int_equal(ap_job_put_str(&b, AP_TAG_ENV, "PATH=/usr/bin:/bin"), 0);
	assert_int_equal(ap_job_put_str(&b, AP_TAG_CWD, "/"), 0);
	if (in_fd >= 0)
		assert_int_equal(ap_job_put_flag(&b, AP_TAG_STDIN), 0);
	outs_open(o);
	struct exec_io io = { .in_fd = in_fd, .out_fd = o->out, .err_fd = o->err, .sig_fd = -1,
			      .tty_fd = -1, .output_max = cap, .timeout_ms = timeout_ms,
			      .boot_check_fd = -1 };

	assert_int_equal(exec_session_run(&a->s, buf, b.len, &io, r), 0);
}

#define ARGV(...) ((const char *const[]){ __VA_ARGS__, NULL })

static void test_streams_and_status(void **state)
{
	(void)state;
	struct agent_peer a;
	struct exec_result r;
	struct outs o;
	char buf[256];

	agent_start(&a);
	run(&a, ARGV("/bin/sh", "-c", "echo out; echo err >&2; exit 3"), -1, 1 << 20, 0, &o, &r);
	assert_int_equal(r.outcome, EXEC_EXITED);
	assert_int_equal(r.code, 3);
	slurp(o.out, buf, sizeof(buf));
	assert_string_equal(buf, "out\n");
	slurp(o.err, buf, sizeof(buf));
	assert_string_equal(buf, "err\n");
	/* several jobs on one connection, one after another */
	run(&a, ARGV("/nonexistent/program"), -1, 1 << 20, 0, &o, &r);
	assert_int_equal(r.outcome, EXEC_NOT_FOUND);
	run(&a, ARGV("/etc"), -1, 1 << 20, 0, &o, &r);
	assert_int_equal(r.outcome, EXEC_CANNOT_INVOKE);
	run(&a, ARGV("/bin/sh", "-c", "kill -KILL $$"), -1, 1 << 20, 0, &o, &r);
	assert_int_equal(r.outcome, EXEC_SIGNALED);
	assert_int_equal(r.code, SIGKILL);
	/* a background child that keeps the output open does not hang the job:
	 * the agent ends the job's process group with the program */
	run(&a, ARGV("/bin/sh", "-c", "sleep 100 & echo started"), -1, 1 << 20, 20000, &o, &r);
	assert_int_equal(r.outcome, EXEC_EXITED);
	assert_int_equal(r.code, 0);
	/* stdin forwarded, then EOF */
	int p[2];

	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "ping\n", 5), 5);
	close(p[1]);
	run(&a, ARGV("/bin/cat"), p[0], 1 << 20, 0, &o, &r);
	close(p[0]);
	assert_int_equal(r.outcome, EXEC_EXITED);
	slurp(o.out, buf, sizeof(buf));
	assert_string_equal(buf, "ping\n");
	/* the output cap: 1000 bytes written, the rest dropped and counted */
	run(&a, ARGV("/usr/bin/head", "-c", "300000", "/dev/zero"), -1, 1000, 0, &o, &r);
	assert_int_equal(r.outcome, EXEC_EXITED);
	assert_int_equal(r.out_bytes, 1000);
	assert_int_equal(r.dropped, 299000);
	assert_int_equal(lseek(o.out, 0, SEEK_END), 1000);
	agent_stop(&a);
}

static void test_timeout(void **state)
{
	(void)state;
	struct agent_peer a;
	struct exec_result r;
	struct outs o;

	agent_start(&a);
	run(&a, ARGV("/bin/sleep", "30"), -1, 1 << 20, 300, &o, &r);
	assert_int_equal(r.outcome, EXEC_TIMED_OUT);
	/* closing the connection ends the agent and its job */
	agent_stop(&a);
}

static char scratch[64];

static void test_copies(void **state)
{
	(void)state;
	struct agent_peer a;
	struct ap_tar_caps caps = { 1 << 20, 1000 };
	char src[128], gdst[128], back[128], link[128], err[600], cmd[512];
	uint64_t skipped = 0;

	snprintf(scratch, sizeof(scratch), "/tmp/bh-exec-agent.XXXXXX");
	assert_non_null(mkdtemp(scratch));
	snprintf(src, sizeof(src), "%s/in", scratch);
	snprintf(gdst, sizeof(gdst), "%s/guest-side", scratch);
	snprintf(back, sizeof(back), "%s/back", scratch);
	snprintf(link, sizeof(link), "%s/guest-side/etc-link", scratch);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/d && echo hello > %s/d/f && echo top > %s/t",
		 src, src, src);
	assert_int_equal(system(cmd), 0);
	agent_start(&a);
	assert_int_equal(exec_session_copy_in(&a.s, src, gdst, (uint32_t)getuid(),
					      (uint32_t)getgid(), &caps, 10000, err, sizeof(err)),
			 0);
	/* the "program" plants a symlink to /etc in what it will be asked for */
	assert_int_equal(symlink("/etc", link), 0);
	assert_int_equal(exec_session_copy_out(&a.s, gdst, back, &caps, 10000, &skipped, err,
					       sizeof(err)),
			 0);
	assert_int_equal(skipped, 1);
	snprintf(cmd, sizeof(cmd), "diff -r %s %s/back >/dev/null && test ! -e %s/back/etc-link",
		 src, scratch, scratch);
	assert_int_equal(system(cmd), 0);
	/* the symlink itself asked back: refused, nothing written */
	snprintf(back, sizeof(back), "%s/back2", scratch);
	assert_int_not_equal(exec_session_copy_out(&a.s, link, back, &caps, 10000, &skipped, err,
						   sizeof(err)),
			     0);
	assert_non_null(strstr(err, "symbolic link"));
	struct stat sb;

	assert_int_equal(lstat(back, &sb), -1);
	/* an existing host path is never overwritten */
	snprintf(back, sizeof(back), "%s/in", scratch);
	assert_int_equal(exec_session_copy_out(&a.s, gdst, back, &caps, 10000, &skipped, err,
					       sizeof(err)),
			 -EEXIST);
	/* a copy past the cap is refused by the side that writes it */
	struct ap_tar_caps tiny = { 3, 1000 };

	snprintf(back, sizeof(back), "%s/back3", scratch);
	assert_int_not_equal(exec_session_copy_out(&a.s, gdst, back, &tiny, 10000, &skipped, err,
						   sizeof(err)),
			     0);
	/* and the session is still usable afterwards */
	struct exec_result r;
	struct outs o;

	run(&a, ARGV("/bin/true"), -1, 1 << 20, 0, &o, &r);
	assert_int_equal(r.outcome, EXEC_EXITED);
	agent_stop(&a);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", scratch);
	assert_int_equal(system(cmd), 0);
}

/* ---- a hostile agent: the test plays it ---- */
static void hostile(const uint8_t *bytes, size_t n, enum exec_outcome want, const char *msg)
{
	int sv[2];
	struct exec_session s;
	struct exec_result r;
	struct outs o;
	uint8_t job[64];
	struct ap_jobbuf b = { job, 0, sizeof(job) };

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(ap_job_put_str(&b, AP_TAG_ARG, "/bin/true"), 0);
	assert_int_equal(exec_session_init(&s, sv[0]), 0);
	if (n)
		assert_int_equal(write(sv[1], bytes, n), (ssize_t)n);
	outs_open(&o);
	struct exec_io io = { .in_fd = -1, .out_fd = o.out, .err_fd = o.err, .sig_fd = -1,
			      .tty_fd = -1, .output_max = 1 << 20, .timeout_ms = 500,
			      .boot_check_fd = -1 };

	assert_int_equal(exec_session_run(&s, job, b.len, &io, &r), 0);
	assert_int_equal(r.outcome, want);
	if (msg)
		assert_non_null(strstr(r.msg, msg));
	assert_int_equal(lseek(o.out, 0, SEEK_END), 0);
	exec_session_free(&s);
	close(sv[0]);
	close(sv[1]);
}

static size_t put(uint8_t *p, uint8_t stream, uint8_t type, const void *v, uint32_t len)
{
	assert_int_equal(ap_hdr_encode(p, stream, type, len), 0);
	memcpy(p + AP_HDR_LEN, v, len);
	return AP_HDR_LEN + len;
}

static void test_hostile_agent(void **state)
{
	(void)state;
	uint8_t b[256];
	uint8_t ex[AP_EXIT_LEN];
	struct ap_exit e = { AP_EXIT_CODE, 0, 0, 0 };
	size_t n;

	ap_exit_encode(ex, &e);
	/* an exit status for a program that never started */
	n = put(b, AP_S_CONTROL, AP_T_EXIT, ex, sizeof(ex));
	hostile(b, n, EXEC_LOST, "out of order");
	/* output before the program started */
	n = put(b, AP_S_STDOUT, AP_T_DATA, "x", 1);
	hostile(b, n, EXEC_LOST, "before the program started");
	/* a frame announcing 4 GiB */
	memset(b, 0xff, 8);
	b[4] = AP_S_STDOUT;
	b[5] = AP_T_DATA;
	b[6] = b[7] = 0;
	hostile(b, 8, EXEC_LOST, "malformed");
	/* garbage */
	memset(b, 0x41, sizeof(b));
	hostile(b, sizeof(b), EXEC_LOST, "malformed");
	/* silence: the host's own deadline decides */
	hostile(b, 0, EXEC_TIMED_OUT, NULL);
	/* a malformed exit status after a start */
	uint8_t pid[4] = { 1, 0, 0, 0 };

	n = put(b, AP_S_CONTROL, AP_T_STARTED, pid, 4);
	e = (struct ap_exit){ AP_EXIT_SIGNAL, 1000, 0, 0 };
	ap_exit_encode(ex, &e);
	n += put(b + n, AP_S_CONTROL, AP_T_EXIT, ex, sizeof(ex));
	hostile(b, n, EXEC_LOST, "malformed exit");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_streams_and_status),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_copies),
		cmocka_unit_test(test_hostile_agent),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
