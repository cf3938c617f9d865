/* cli.h — subcommands of the `bulkhead` program. Each returns a process exit
 * code (exit_codes.h); only main() calls exit. */
#ifndef BH_CLI_H
#define BH_CLI_H

#include <stdint.h>
#include <stdio.h>

int cli_run(int argc, char **argv, uint64_t start_ns);
void cli_run_usage(FILE *out);
/* `bulkhead switch` (switch_cmd.c). */
int cli_switch(int argc, char **argv, uint64_t start_ns);
/* The daemon client commands (client.c); argv[0] is the command name. */
int cli_client(int argc, char **argv, uint64_t start_ns);

#endif
