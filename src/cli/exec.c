/* exec.c — `bulkhead exec [OPTIONS] -- PROGRAM [ARGS…]`: options, the job
 * description, the session with the guest agent, the exit status and
 * --json-status. The VM's life is exec_vm.c's. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/exec.h"
#include "cli/exec_session.h"
#include "config/args.h"

#define DEFAULT_UID 1000

static void exec_usage(FILE *out)
{
	fprintf(out,
		"usage: bulkhead exec [OPTIONS] -- PROGRAM [ARGS...]\n"
		"Run PROGRAM in a fresh VM that is thrown away afterwards.\n\n"
		"  --mem SIZE           guest RAM (default 512M)\n"
		"  --cpus N             vCPUs (default 1)\n"
		"  --timeout DURATION   stop the program after this long (30s, 500ms, 2m; default none): exit 124\n"
		"  --boot-timeout DUR   how long the VM may take to boot (default 600s)\n"
		"  --net none           no network (the default and, for now, the only choice)\n"
		"  --rootfs DIR|IMAGE   root filesystem (default: the cached Debian 12 image,\n"
		"                       `make exec-guest`); read-only, with a throwaway overlay\n"
		"  --guest NAME|DIR     the prepared exec guest: kernel, initrd, cmdline (default exec)\n"
		"  --no-snapshot        always boot the VM: do not restore it from (or save it to)\n"
		"                       the snapshot cache ~/.cache/bulkhead/exec-snap (the fast\n"
		"                       path; `rm -r` that directory to clear it)\n"
		"  --copy-in HOST:GUEST copy a host file or directory in before the program runs\n"
		"  --copy-out GUEST:HOST copy a guest file or directory out afterwards (HOST must not exist)\n"
		"  --copy-max SIZE      cap on each copy (default 256M; 100000 entries)\n"
		"  --env K=V            environment variable (repeatable)\n"
		"  --workdir DIR        working directory in the guest (default /)\n"
		"  --user UID[:GID]     guest user (default 1000:1000; never 0 unless asked)\n"
		"  -t, --tty            run on a pseudo-terminal (window size changes forwarded)\n"
		"  -i, --interactive    keep stdin open and forward it\n"
		"  --output-max SIZE    stdout+stderr bytes passed on at most (default 64M); the\n"
		"                       rest is dropped and counted\n"
		"  --pids-max N         processes the program may have (default 256)\n"
		"  --json-status FILE   write {exit_code|signal, oom_killed, timed_out, duration_ms, ...}\n"
		"  -v, --verbose / -q, --quiet\n"
		"  --vm ID              run in bulkheadd's running VM ID instead of a throwaway\n"
		"                       one (its guest runs the agent: README); many commands\n"
		"                       may run there one after another, its state stays.\n"
		"                       --boot-timeout is then how long the daemon waits for\n"
		"                       the agent (default 5s, at most 300s); --mem, --cpus,\n"
		"                       --rootfs, --guest and --net are the VM's, not exec's\n"
		"  --socket PATH        the daemon's socket (default $BULKHEAD_SOCKET, else\n"
		"                       /run/bulkhead/bulkheadd.sock)\n\n"
		"exit status: the program's own; 124 timed out; 125 bulkhead failed (bad option,\n"
		"VM or agent failure); 126 program cannot be run; 127 program not found;\n"
		"128+N killed by signal N.\n");
}

/* "30s", "500ms", "2m", "1h", bare number = seconds. */
static int parse_duration(const char *opt, const char *s, int *ms, char *err, size_t errlen)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	unsigned long long mul = 1000;

	if (end == s || errno || s[0] == '-' || s[0] == '+')
		goto bad;
	if (!strcmp(end, "ms"))
		mul = 1;
	else if (!strcmp(end, "s") || !*end)
		mul = 1000;
	else if (!strcmp(end, "m"))
		mul = 60000;
	else if (!strcmp(end, "h"))
		mul = 3600000;
	else
		goto bad;
	if (!v || v > 0x7fffffffull / mul)
		goto bad;
	*ms = (int)(v * mul);
	return 0;
bad:
	snprintf(err, errlen, "%s '%s': not a duration (e.g. 30s, 500ms, 2m; at most 24 days)",
		 opt, s);
	return -EINVAL;
}

static int parse_copy(const char *opt, char *s, struct exec_copy *c, bool in, char *err,
		      size_t errlen)
{
	char *colon = strchr(s, ':');

	if (!colon || colon == s || !colon[1]) {
		snprintf(err, errlen, "%s '%s': expected %s", opt, s,
			 in ? "HOST:GUEST" : "GUEST:HOST");
		return -EINVAL;
	}
	*colon = 0;
	c->host = in ? s : colon + 1;
	c->guest = in ? colon + 1 : s;
	if (c->guest[0] != '/') {
		snprintf(err, errlen, "%s: the guest path '%s' must be absolute", opt, c->guest);
		return -EINVAL;
	}
	return 0;
}

static int parse_user(const char *s, struct exec_opts *o, char *err, size_t errlen)
{
	char *end;
	unsigned long u, g;

	errno = 0;
	u = strtoul(s, &end, 10);
	if (end == s || errno || u > 0xfffffffeul || s[0] == '-')
		goto bad;
	g = u;
	if (*end == ':') {
		const char *gs = end + 1;

		g = strtoul(gs, &end, 10);
		if (end == gs || errno || g > 0xfffffffeul || gs[0] == '-')
			goto bad;
	}
	if (*end)
		goto bad;
	o->uid = (uint32_t)u;
	o->gid = (uint32_t)g;
	return 0;
bad:
	snprintf(err, errlen, "--user '%s': expected UID or UID:GID (numbers)", s);
	return -EINVAL;
}

/* Parse argv into o. 1 = --help shown, 0 = ok, -EINVAL with err. */
static int parse_opts(int argc, char **argv, struct exec_opts *o, char *err, size_t errlen)
{
	int i;

	memset(o, 0, sizeof(*o));
	o->mem = 512ull << 20;
	o->cpus = 1;
	o->boot_timeout_ms = 600000;
	o->guest = "exec";
	o->uid = o->gid = DEFAULT_UID;
	o->output_max = 64ull << 20;
	o->copy_max = 256ull << 20;
	o->pids_max = 256;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		char *v = NULL;

		if (!strcmp(a, "--"))
			break;
		if (a[0] != '-') /* the program (without a "--") */
			break;
		if (!strcmp(a, "-h") || !strcmp(a, "--help"))
			return 1;
		if (!strcmp(a, "-t") || !strcmp(a, "--tty")) {
			o->tty = true;
			continue;
		}
		if (!strcmp(a, "-i") || !strcmp(a, "--interactive")) {
			o->interactive = true;
			continue;
		}
		if (!strcmp(a, "-it") || !strcmp(a, "-ti")) {
			o->tty = o->interactive = true;
			continue;
		}
		if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			o->verbose = true;
			continue;
		}
		if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
			o->quiet = true;
			continue;
		}
		if (!strcmp(a, "--no-snapshot")) {
			o->no_snapshot = true;
			if (!o->vm_only_bad)
				o->vm_only_bad = a;
			continue;
		}
		/* --opt VALUE or --opt=VALUE */
		char name[32];
		const char *eq = strchr(a, '=');

		if (eq && (size_t)(eq - a) < sizeof(name)) {
			memcpy(name, a, (size_t)(eq - a));
			name[eq - a] = 0;
			v = (char *)(uintptr_t)(eq + 1);
		} else {
			snprintf(name, sizeof(name), "%s", a);
			if (i + 1 >= argc) {
				snprintf(err, errlen, "%s: missing value", a);
				return -EINVAL;
			}
			v = argv[++i];
		}
		unsigned u;
		int r = 0;

		for (const char *const *vo = (const char *const[]){ "--mem", "--cpus", "--rootfs",
								    "--guest", "--net", NULL };
		     *vo && !o->vm_only_bad; vo++)
			if (!strcmp(name, *vo))
				o->vm_only_bad = *vo;
		if (!strcmp(name, "--mem")) {
			r = args_parse_size("--mem", v, 1ull << 20, &o->mem, err, errlen);
			if (!r && (o->mem < (64ull << 20) || o->mem > (1ull << 40))) {
				snprintf(err, errlen, "--mem '%s': between 64M and 1T", v);
				r = -EINVAL;
			}
		} else if (!strcmp(name, "--cpus")) {
			r = args_parse_uint("--cpus", v, 1, 254, &o->cpus, err, errlen);
		} else if (!strcmp(name, "--timeout")) {
			r = parse_duration("--timeout", v, &o->timeout_ms, err, errlen);
		} else if (!strcmp(name, "--boot-timeout")) {
			r = parse_duration("--boot-timeout", v, &o->boot_timeout_ms, err, errlen);
			o->boot_timeout_set = true;
		} else if (!strcmp(name, "--net")) {
			if (strcmp(v, "none")) {
				snprintf(err, errlen, "--net '%s': only 'none' is available to exec "
					 "for now (no network device)", v);
				r = -EINVAL;
			}
		} else if (!strcmp(name, "--rootfs")) {
			o->rootfs = v;
		} else if (!strcmp(name, "--guest")) {
			o->guest = v;
		} else if (!strcmp(name, "--copy-in") || !strcmp(name, "--copy-out")) {
			bool in = !strcmp(name, "--copy-in");
			unsigned *n = in ? &o->ncopy_in : &o->ncopy_out;

			if (*n >= EXEC_MAX_COPIES) {
				snprintf(err, errlen, "%s: at most %d", name, EXEC_MAX_COPIES);
				return -EINVAL;
			}
			r = parse_copy(name, v, in ? &o->copy_in[*n] : &o->copy_out[*n], in, err,
				       errlen);
			(*n)++;
		} else if (!strcmp(name, "--copy-max")) {
			r = args_parse_size("--copy-max", v, 1ull << 20, &o->copy_max, err, errlen);
		} else if (!strcmp(name, "--env")) {
			if (o->nenv >= EXEC_MAX_ENV || !strchr(v, '=') || v[0] == '=') {
				snprintf(err, errlen, "--env '%s': expected NAME=VALUE (at most %d)",
					 v, EXEC_MAX_ENV);
				return -EINVAL;
			}
			o->env[o->nenv++] = v;
		} else if (!strcmp(name, "--workdir")) {
			if (v[0] != '/') {
				snprintf(err, errlen, "--workdir '%s': must be absolute", v);
				return -EINVAL;
			}
			o->workdir = v;
		} else if (!strcmp(name, "--user")) {
			r = parse_user(v, o, err, errlen);
		} else if (!strcmp(name, "--output-max")) {
			r = args_parse_size("--output-max", v, 1, &o->output_max, err, errlen);
		} else if (!strcmp(name, "--pids-max")) {
			r = args_parse_uint("--pids-max", v, 8, 1u << 22, &u, err, errlen);
			o->pids_max = u;
		} else if (!strcmp(name, "--vm")) {
			o->vm = v;
		} else if (!strcmp(name, "--socket")) {
			o->socket = v;
		} else if (!strcmp(name, "--json-status")) {
			o->json_status = v;
		} else {
			snprintf(err, errlen, "unknown option '%s'", name);
			return -EINVAL;
		}
		if (r)
			return -EINVAL;
	}
	if (o->vm && o->vm_only_bad) {
		snprintf(err, errlen, "%s does not go with --vm: the VM's memory, CPUs, root "
			 "filesystem, guest and network are its own (bulkhead create)",
			 o->vm_only_bad);
		return -EINVAL;
	}
	if (o->socket && !o->vm) {
		snprintf(err, errlen, "--socket goes with --vm (a throwaway VM needs no daemon)");
		return -EINVAL;
	}
	if (o->vm && o->boot_timeout_set && o->boot_timeout_ms > 300000) {
		snprintf(err, errlen, "--boot-timeout with --vm: at most 300s (how long the "
			 "daemon waits for the VM's agent)");
		return -EINVAL;
	}
	if (i < argc && !strcmp(argv[i], "--"))
		i++;
	if (i >= argc || !argv[i][0]) {
		snprintf(err, errlen, "no program: bulkhead exec [OPTIONS] -- PROGRAM [ARGS...]");
		return -EINVAL;
	}
	o->argv = argv + i;
	o->argc = argc - i;
	return 0;
}

/* The job description (agent_proto.h) for the options. */
static int build_job(const struct exec_opts *o, struct ap_jobbuf *b, char *err, size_t errlen)
{
	bool has_path = false, has_home = false, has_term = false;
	int r = 0;

	for (int i = 0; i < o->argc && !r; i++)
		r = ap_job_put_str(b, AP_TAG_ARG, o->argv[i]);
	for (unsigned i = 0; i < o->nenv && !r; i++) {
		has_path |= !strncmp(o->env[i], "PATH=", 5);
		has_home |= !strncmp(o->env[i], "HOME=", 5);
		has_term |= !strncmp(o->env[i], "TERM=", 5);
		r = ap_job_put_str(b, AP_TAG_ENV, o->env[i]);
	}
	if (!r && !has_path)
		r = ap_job_put_str(b, AP_TAG_ENV,
				   "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	if (!r && !has_home)
		r = ap_job_put_str(b, AP_TAG_ENV, "HOME=/tmp");
	if (!r && o->tty && !has_term) {
		const char *t = getenv("TERM");
		char term[128];

		snprintf(term, sizeof(term), "TERM=%s", t && *t && strlen(t) < 100 ? t : "xterm");
		r = ap_job_put_str(b, AP_TAG_ENV, term);
	}
	if (!r)
		r = ap_job_put_str(b, AP_TAG_CWD, o->workdir ? o->workdir : "/");
	if (!r)
		r = ap_job_put_u32(b, AP_TAG_UID, o->uid);
	if (!r)
		r = ap_job_put_u32(b, AP_TAG_GID, o->gid);
	if (!r)
		r = ap_job_put_u32(b, AP_TAG_PIDS_MAX, o->pids_max);
	if (!r)
		r = ap_job_put_str(b, AP_TAG_HOSTNAME, "bulkhead");
	/* core dumps would land in the overlay: off */
	if (!r)
		r = ap_job_put_rlimit(b, RLIMIT_CORE, 0, 0);
	if (!r && o->tty) {
		struct winsize ws = { .ws_row = 24, .ws_col = 80 };

		if (isatty(0))
			ioctl(0, TIOCGWINSZ, &ws);
		r = ap_job_put_terminal(b, ws.ws_row, ws.ws_col);
	}
	if (!r && o->interactive)
		r = ap_job_put_flag(b, AP_TAG_STDIN);
	if (r)
		snprintf(err, errlen, "the program, its arguments and environment are too large "
			 "(%u KiB at most) or contain an argument over 4 KiB",
			 AP_MAX_PAYLOAD / 1024);
	return r;
}

static int exit_code_of(const struct exec_result *r)
{
	switch (r->outcome) {
	case EXEC_EXITED:
		return r->code;
	case EXEC_SIGNALED:
	case EXEC_INTERRUPTED:
		return 128 + r->code;
	case EXEC_NOT_FOUND:
		return EXEC_EXIT_NOT_FOUND;
	case EXEC_CANNOT_INVOKE:
		return EXEC_EXIT_CANNOT_INVOKE;
	case EXEC_TIMED_OUT:
		return EXEC_EXIT_TIMEOUT;
	default:
		return EXEC_EXIT_BULKHEAD;
	}
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* --json-status: written by the host from what it saw (also when the VM
 * died or never booted), atomically (temp file + rename). */
static int write_json_status(const char *path, const struct exec_result *r, int code,
			     uint64_t duration_ms, int from)
{
	char tmp[PATH_MAX];
	FILE *f;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	f = fopen(tmp, "wex");
	if (!f)
		return -errno;
	fprintf(f, "{");
	if (r->outcome == EXEC_SIGNALED || r->outcome == EXEC_INTERRUPTED)
		fprintf(f, "\"signal\": %d, ", r->code);
	else
		fprintf(f, "\"exit_code\": %d, ", code);
	fprintf(f, "\"oom_killed\": %s, \"timed_out\": %s, \"duration_ms\": %llu, "
		   "\"output_dropped\": %llu, \"outcome\": ",
		r->oom_kills ? "true" : "false", r->outcome == EXEC_TIMED_OUT ? "true" : "false",
		(unsigned long long)duration_ms, (unsigned long long)r->dropped);
	static const char *const names[] = { "", "exited", "signaled", "not-found",
					     "cannot-invoke", "setup-failed", "timed-out",
					     "interrupted", "vm-lost" };
	json_str(f, r->outcome <= EXEC_LOST ? names[r->outcome] : "error");
	if (from == EXEC_FROM_BOOT || from == EXEC_FROM_SNAPSHOT)
		fprintf(f, ", \"started_from\": \"%s\"", from == EXEC_FROM_BOOT ? "boot" : "snapshot");
	if (r->msg[0]) {
		fprintf(f, ", \"message\": ");
		json_str(f, r->msg);
	}
	fprintf(f, "}\n");
	if (fclose(f) || rename(tmp, path)) {
		int e = errno;

		unlink(tmp);
		return -e;
	}
	return 0;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The conversation: sync, copy-in, the job, copy-out. Fills *r; returns
 * the exit code. */
static int run_session(const struct exec_opts *o, struct exec_vm *vm, int sigfd,
		       struct exec_result *r)
{
	static uint8_t jobbuf[AP_MAX_PAYLOAD];
	struct ap_jobbuf jb = { jobbuf, 0, sizeof(jobbuf) };
	struct exec_session s;
	const struct ap_tar_caps caps = { o->copy_max, 100000 };
	struct termios saved;
	bool raw = false;
	char err[600];
	int ret;

	if (exec_session_init(&s, vm->conn)) {
		snprintf(r->msg, sizeof(r->msg), "out of memory");
		r->outcome = EXEC_LOST;
		return EXEC_EXIT_BULKHEAD;
	}
	if (exec_session_hello(&s, 15000, err, sizeof(err)) ||
	    exec_session_sync(&s, 15000, err, sizeof(err)))
		goto fail;
	for (unsigned i = 0; i < o->ncopy_in; i++)
		if (exec_session_copy_in(&s, o->copy_in[i].host, o->copy_in[i].guest, o->uid,
					 o->gid, &caps, 600000, err, sizeof(err)))
			goto fail;
	if (build_job(o, &jb, err, sizeof(err)))
		goto fail;
	struct exec_io io = {
		.in_fd = o->interactive ? 0 : -1,
		.out_fd = 1,
		.err_fd = 2,
		.sig_fd = sigfd,
		.tty_fd = o->tty && isatty(0) ? 0 : -1,
		.output_max = o->output_max,
		.timeout_ms = o->timeout_ms,
		.boot_check_fd = vm->pidfd,
	};
	if (o->tty && o->interactive && isatty(0) && !tcgetattr(0, &saved)) {
		struct termios t = saved;

		cfmakeraw(&t);
		raw = !tcsetattr(0, TCSANOW, &t);
	}
	ret = exec_session_run(&s, jobbuf, jb.len, &io, r);
	if (raw)
		tcsetattr(0, TCSANOW, &saved);
	if (ret) {
		snprintf(err, sizeof(err), "%s", strerror(-ret));
		goto fail;
	}
	if (r->outcome == EXEC_EXITED || r->outcome == EXEC_SIGNALED ||
	    r->outcome == EXEC_NOT_FOUND || r->outcome == EXEC_CANNOT_INVOKE) {
		for (unsigned i = 0; i < o->ncopy_out; i++) {
			uint64_t skipped = 0;

			if (exec_session_copy_out(&s, o->copy_out[i].guest, o->copy_out[i].host,
						  &caps, 600000, &skipped, err, sizeof(err))) {
				fprintf(stderr, "bulkhead exec: %s\n", err);
				/* the program's status stands; the failed copy is
				 * reported and makes the exit 125 only if it ran ok */
				if (r->outcome == EXEC_EXITED && r->code == 0) {
					r->outcome = EXEC_SETUP_FAILED;
					snprintf(r->msg, sizeof(r->msg), "%s", err);
				}
			} else if (skipped) {
				fprintf(stderr, "bulkhead exec: --copy-out %s: %llu entries "
					"skipped (symbolic links, devices, FIFOs, sockets)\n",
					o->copy_out[i].guest, (unsigned long long)skipped);
			}
		}
	}
	exec_session_free(&s);
	return exit_code_of(r);
fail:
	exec_session_free(&s);
	r->outcome = EXEC_LOST;
	snprintf(r->msg, sizeof(r->msg), "%s", err);
	return EXEC_EXIT_BULKHEAD;
}

int cli_exec(int argc, char **argv, uint64_t start_ns)
{
	struct exec_opts o;
	struct exec_vm vm;
	struct exec_result r = { 0 };
	char err[1024];
	sigset_t set, old;
	int code, sigfd;
	uint64_t t0 = mono_ms();

	(void)start_ns;
	int p = parse_opts(argc, argv, &o, err, sizeof(err));

	if (p == 1) {
		exec_usage(stdout);
		return 0;
	}
	if (p) {
		fprintf(stderr, "bulkhead exec: %s\nTry 'bulkhead exec --help'.\n", err);
		return EXEC_EXIT_BULKHEAD;
	}
	/* Signals the user sends us go to the program (forwarded by the agent);
	 * a second one stops the VM. Blocked before the VM starts so that none
	 * is lost and the cleanup always runs. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGWINCH);
	sigprocmask(SIG_BLOCK, &set, &old);
	sigfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sigfd < 0) {
		fprintf(stderr, "bulkhead exec: signalfd: %s\n", strerror(errno));
		return EXEC_EXIT_BULKHEAD;
	}
	int sig = 0, e;

	if (o.vm) { /* bulkheadd's VM: only the session is ours, never the VM */
		const char *env = getenv("BULKHEAD_SOCKET");

		memset(&vm, 0, sizeof(vm));
		vm.pid = vm.pidfd = -1;
		vm.conn = exec_daemon_connect(o.socket ? o.socket : env && *env ? env :
					      "/run/bulkhead/bulkheadd.sock", o.vm,
					      o.boot_timeout_set ? o.boot_timeout_ms : -1, err,
					      sizeof(err));
		e = vm.conn < 0 ? vm.conn : 0;
	} else {
		e = exec_vm_start(&vm, &o, "/proc/self/exe", sigfd, &sig, err, sizeof(err));
	}

	if (e == -EINTR) {
		r.outcome = EXEC_INTERRUPTED;
		r.code = sig;
		snprintf(r.msg, sizeof(r.msg), "%s", err);
		code = 128 + sig;
	} else if (e) {
		r.outcome = EXEC_LOST;
		snprintf(r.msg, sizeof(r.msg), "%s", err);
		code = EXEC_EXIT_BULKHEAD;
	} else {
		code = run_session(&o, &vm, sigfd, &r);
		if (o.vm && r.outcome == EXEC_INTERRUPTED) /* closing the session killed it */
			snprintf(r.msg, sizeof(r.msg), "interrupted by signal %d twice: the program "
				 "was killed (VM %s runs on)", r.code, o.vm);
	}
	int from = vm.from;

	exec_vm_destroy(&vm);
	close(sigfd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (r.dropped)
		fprintf(stderr, "bulkhead exec: output over --output-max: %llu bytes dropped\n",
			(unsigned long long)r.dropped);
	if (r.oom_kills && !o.quiet)
		fprintf(stderr, "bulkhead exec: the program ran out of memory in the guest "
			"(%u OOM kill%s)\n", r.oom_kills, r.oom_kills == 1 ? "" : "s");
	if (r.outcome != EXEC_EXITED && r.outcome != EXEC_SIGNALED && r.msg[0])
		fprintf(stderr, "bulkhead exec: %s\n", r.msg);
	if (o.json_status) {
		int je = write_json_status(o.json_status, &r, code, mono_ms() - t0, from);

		if (je) {
			fprintf(stderr, "bulkhead exec: --json-status %s: %s\n", o.json_status,
				strerror(-je));
			if (!code)
				code = EXEC_EXIT_BULKHEAD;
		}
	}
	return code;
}
