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
/* snapshot.c: `bulkhead snapshot`, `bulkhead restore`, and the control
 * socket of a standalone VM (a listening SOCK_SEQPACKET socket, mode 0600;
 * connecting to one). Return an fd or -errno with err filled in. */
int cli_snapshot(int argc, char **argv, uint64_t start_ns);
int cli_restore(int argc, char **argv, uint64_t start_ns);
int cli_clone(int argc, char **argv, uint64_t start_ns);
int cli_control_listen(const char *path, char *err, size_t errlen);
int cli_control_connect(const char *path, char *err, size_t errlen);

#endif
