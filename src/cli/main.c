/* main.c — the `bulkhead` command: a small table of subcommands. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/exec.h"
#include "config/exit_codes.h"

#ifndef BULKHEAD_VERSION
#define BULKHEAD_VERSION "unknown"
#endif

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv, uint64_t start_ns);
	const char *help;
} commands[] = {
	{ "run", cli_run, "boot a VM in the foreground (no daemon needed)" },
	{ "exec", cli_exec, "run a program in a fresh, throwaway VM" },
	{ "snapshot", cli_snapshot, "snapshot a VM (--control SOCKET DIR: a standalone one)" },
	{ "restore", cli_restore, "run a VM from a snapshot directory, from where it was" },
	{ "clone", cli_clone, "run N VMs from one snapshot at once (--count N)" },
	{ "switch", cli_switch, "run the bulkhead switch (jailed; ports over its control socket)" },
	{ "ps", cli_client, "list the daemon's VMs" },
	{ "create", cli_client, "create a VM from a JSON config (--config FILE)" },
	{ "start", cli_client, "start a created or exited VM" },
	{ "pause", cli_client, "pause a running VM" },
	{ "resume", cli_client, "resume a paused VM" },
	{ "stop", cli_client, "stop a VM: Ctrl-Alt-Del, then SIGTERM, then SIGKILL" },
	{ "kill", cli_client, "kill a VM's process at once" },
	{ "rm", cli_client, "remove a stopped VM" },
	{ "inspect", cli_client, "state, config, pid, uptime, usage of a VM" },
	{ "logs", cli_client, "a VM's console output (-f to follow)" },
	{ "quarantine", cli_client, "snapshot a VM for evidence, pause it, cut off its I/O" },
	{ "balloon", cli_client, "set a VM's balloon target: memory asked back from the guest" },
	{ "events", cli_client, "the daemon's events about your VMs (-f to follow)" },
	{ "network", cli_client, "networks of the daemon: create NAME | ls | inspect NAME | rm NAME" },
};

static void usage(FILE *out)
{
	fprintf(out, "usage: bulkhead [--socket PATH] [--json] COMMAND [OPTIONS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-11s %s\n", commands[i].name, commands[i].help);
	fprintf(out, "\n`bulkhead COMMAND --help` describes a command's options. --socket and\n"
		     "--json (the daemon client's) may come before the command or after it.\n"
		     "`bulkhead --version` prints the version.\n");
}

/* Make sure fds 0-2 are open: otherwise the first fds we create (the exit
 * eventfd, the guest-RAM memfd) would land there and console output written
 * to "stdout" would go into guest memory. */
static int ensure_std_fds(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0)
			continue;
		int nfd = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);

		if (nfd != fd) {
			if (nfd >= 0)
				close(nfd);
			return -1;
		}
	}
	return 0;
}

/* `bulkhead --socket P --json ps`: the daemon client's options may come
 * before the command too. Move them after it (argv[1] becomes the command),
 * where the command's own parser takes them. -1 (with a message) if they
 * precede no client command. */
static int move_global_options(int argc, char **argv)
{
	char *opts[8];
	int n = 0, i = 1;

	while (i < argc && n + 2 <= (int)(sizeof(opts) / sizeof(opts[0]))) {
		if (!strcmp(argv[i], "--socket") && i + 1 < argc) {
			opts[n++] = argv[i++];
			opts[n++] = argv[i++];
		} else if (!strncmp(argv[i], "--socket=", 9) || !strcmp(argv[i], "--json")) {
			opts[n++] = argv[i++];
		} else {
			break;
		}
	}
	if (!n)
		return 0;
	if (i >= argc || !strcmp(argv[i], "run") || !strcmp(argv[i], "exec") || argv[i][0] == '-') {
		fprintf(stderr, "bulkhead: %s goes with a daemon client command (ps, create, "
				"inspect, ...)%s%s\n",
			opts[0], i < argc ? ", not " : "", i < argc ? argv[i] : "");
		return -1;
	}
	argv[1] = argv[i];
	for (int k = 0; k < n; k++)
		argv[2 + k] = opts[k];
	return 0;
}

int main(int argc, char **argv)
{
	struct timespec ts;
	uint64_t start_ns;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	start_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	if (ensure_std_fds() < 0)
		return BH_EXIT_HOST;
	/* A console reader that goes away (| head) must not kill the VMM with
	 * SIGPIPE: writes then fail with EPIPE and the output is dropped. */
	signal(SIGPIPE, SIG_IGN);

	if (argc < 2) {
		usage(stderr);
		return BH_EXIT_CONFIG;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return BH_EXIT_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("bulkhead %s\n", BULKHEAD_VERSION);
		return BH_EXIT_OK;
	}
	if (move_global_options(argc, argv) < 0)
		return BH_EXIT_CONFIG;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1, start_ns);
	fprintf(stderr, "bulkhead: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return BH_EXIT_CONFIG;
}
