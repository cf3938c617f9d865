/* exec_driver.c — boot ONE `bulkhead exec` VM and run many jobs in it, so
 * the containment cases of tests/e2e/exec_suite.sh pay for one Linux boot
 * instead of one per case while staying as strict: the VM, its VMM, the
 * agent and the host session are the real ones of `bulkhead exec`
 * (src/cli/exec_vm.c + exec_session.c, linked in); only the command line is
 * this driver's.
 *
 * usage: exec_driver BULKHEAD GUEST_DIR ROOTFS OUTDIR CPUS MEM_MIB < SCRIPT
 * SCRIPT lines (tab-separated):
 *   run NAME TIMEOUT_MS OUTPUT_MAX SHELL-COMMAND   (run as /bin/sh -c, uid 1000)
 *   copyin HOST GUEST
 *   copyout GUEST HOST
 * For each line it prints one result line:
 *   NAME outcome=O code=N oom=N out=N err=N dropped=N ms=N
 *   copy GUEST rc=N skipped=N err=TEXT
 * and writes the program's stdout/stderr to OUTDIR/NAME.out / NAME.err.
 * It ends with "vmdir=DIR" (removed by then: the suite checks it is gone). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cli/exec.h"
#include "cli/exec_session.h"

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static const char *const outcome_names[] = { "?", "exited", "signaled", "not-found",
					      "cannot-invoke", "setup-failed", "timed-out",
					      "interrupted", "lost" };

int main(int argc, char **argv)
{
	static struct exec_opts o;
	static struct exec_vm vm;
	static uint8_t job[AP_MAX_PAYLOAD];
	struct exec_session s;
	const struct ap_tar_caps caps = { 64u << 20, 10000 };
	char err[2048], line[8192];
	int ret = 0;

	if (argc != 7) {
		fprintf(stderr, "usage: exec_driver BULKHEAD GUEST_DIR ROOTFS OUTDIR CPUS MEM_MIB "
				"< SCRIPT\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	o.guest = argv[2];
	o.rootfs = argv[3];
	o.cpus = (unsigned)atoi(argv[5]);
	o.mem = (uint64_t)atoi(argv[6]) << 20;
	o.boot_timeout_ms = 1800000; /* a loaded PVM host boots the lab kernel slowly */
	/* the containment cases keep the boot path (the agent in one-shot mode,
	 * its listener closed once the host is connected); the CLI cases of
	 * exec_suite.sh cover the snapshot fast path */
	o.no_snapshot = true;
	int sig = 0;

	if (exec_vm_start(&vm, &o, argv[1], -1, &sig, err, sizeof(err))) {
		printf("boot failed: %s\n", err);
		exec_vm_destroy(&vm);
		return 1;
	}
	printf("booted\n");
	fflush(stdout);
	if (exec_session_init(&s, vm.conn) || exec_session_hello(&s, 15000, err, sizeof(err)) ||
	    exec_session_sync(&s, 15000, err, sizeof(err))) {
		printf("session failed: %s\n", err);
		exec_vm_destroy(&vm);
		return 1;
	}
	while (fgets(line, sizeof(line), stdin)) {
		char *f[5] = { 0 };
		int n = 0;

		line[strcspn(line, "\n")] = 0;
		for (char *p = line; n < 5 && p; n++) {
			f[n] = p;
			p = n < 4 ? strchr(p, '\t') : NULL;
			if (p)
				*p++ = 0;
		}
		if (n >= 3 && !strcmp(f[0], "copyin")) {
			int r = exec_session_copy_in(&s, f[1], f[2], 1000, 1000, &caps, 60000, err,
						     sizeof(err));

			printf("copy %s rc=%d skipped=0 err=%s\n", f[2], r, r ? err : "");
		} else if (n >= 3 && !strcmp(f[0], "copyout")) {
			uint64_t skipped = 0;
			int r = exec_session_copy_out(&s, f[1], f[2], &caps, 60000, &skipped, err,
						      sizeof(err));

			printf("copy %s rc=%d skipped=%llu err=%s\n", f[1], r,
			       (unsigned long long)skipped, r ? err : "");
		} else if (n == 5 && !strcmp(f[0], "run")) {
			struct ap_jobbuf b = { job, 0, sizeof(job) };
			struct exec_result r;
			char path[4096];
			int outfd, errfd;

			snprintf(path, sizeof(path), "%s/%s.out", argv[4], f[1]);
			outfd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
			snprintf(path, sizeof(path), "%s/%s.err", argv[4], f[1]);
			errfd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
			if (outfd < 0 || errfd < 0 || ap_job_put_str(&b, AP_TAG_ARG, "/bin/sh") ||
			    ap_job_put_str(&b, AP_TAG_ARG, "-c") ||
			    ap_job_put_str(&b, AP_TAG_ARG, f[4]) ||
			    ap_job_put_str(&b, AP_TAG_ENV, "PATH=/usr/local/bin:/usr/bin:/bin") ||
			    ap_job_put_str(&b, AP_TAG_ENV, "HOME=/tmp") ||
			    ap_job_put_str(&b, AP_TAG_CWD, "/tmp") ||
			    ap_job_put_u32(&b, AP_TAG_UID, 1000) || ap_job_put_u32(&b, AP_TAG_GID, 1000) ||
			    ap_job_put_u32(&b, AP_TAG_PIDS_MAX, 128) ||
			    ap_job_put_rlimit(&b, RLIMIT_CORE, 0, 0)) {
				printf("%s: cannot prepare the job\n", f[1]);
				ret = 1;
				break;
			}
			struct exec_io io = { .in_fd = -1, .out_fd = outfd, .err_fd = errfd,
					      .sig_fd = -1, .tty_fd = -1,
					      .output_max = strtoull(f[3], NULL, 10),
					      .timeout_ms = atoi(f[2]), .boot_check_fd = vm.pidfd };
			uint64_t t0 = now_ms();
			int e = exec_session_run(&s, job, b.len, &io, &r);

			close(outfd);
			close(errfd);
			printf("%s outcome=%s code=%d oom=%u out=%llu err=%llu dropped=%llu ms=%llu%s%s\n",
			       f[1], e ? "host-error" : outcome_names[r.outcome], r.code, r.oom_kills,
			       (unsigned long long)r.out_bytes, (unsigned long long)r.err_bytes,
			       (unsigned long long)r.dropped, (unsigned long long)(now_ms() - t0),
			       r.msg[0] ? " msg=" : "", r.msg);
			fflush(stdout);
			if (e || r.outcome == EXEC_LOST || r.outcome == EXEC_TIMED_OUT ||
			    r.outcome == EXEC_INTERRUPTED)
				break; /* the session is over: the VM goes */
		} else if (n && f[0][0] && f[0][0] != '#') {
			printf("bad script line: %s\n", f[0]);
			ret = 2;
			break;
		}
		fflush(stdout);
	}
	exec_session_free(&s);
	printf("vmdir=%s\n", vm.dir);
	exec_vm_destroy(&vm);
	return ret;
}
