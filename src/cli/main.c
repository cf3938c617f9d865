/* main.c — the `bulkhead` command: a small table of subcommands. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/exit_codes.h"

#ifndef BULKHEAD_VERSION
#define BULKHEAD_VERSION "unknown"
#endif

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv, uint64_t start_ns);
	const char *help;
} commands[] = {
	{ "run", cli_run, "boot a VM in the foreground" },
};

static void usage(FILE *out)
{
	fprintf(out, "usage: bulkhead COMMAND [OPTIONS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].help);
	fprintf(out, "\n`bulkhead COMMAND --help` describes a command's options.\n"
		     "`bulkhead --version` prints the version.\n");
}

int main(int argc, char **argv)
{
	struct timespec ts;
	uint64_t start_ns;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	start_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;

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
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1, start_ns);
	fprintf(stderr, "bulkhead: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return BH_EXIT_CONFIG;
}
