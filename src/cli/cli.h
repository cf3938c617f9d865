/* cli.h — subcommands of the `bulkhead` program. Each returns a process exit
 * code (exit_codes.h); only main() calls exit. */
#ifndef BH_CLI_H
#define BH_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

int cli_run(int argc, char **argv, uint64_t start_ns);
void cli_run_usage(FILE *out);
/* The user's cache path CACHE/sub, where `run --guest NAME` finds guests
 * and `exec` its root filesystem and snapshots: $XDG_CACHE_HOME/bulkhead,
 * else ~/.cache/bulkhead (cache_path.c). 0, -ENOENT (neither variable is set) or
 * -ENAMETOOLONG. */
int cli_cache_path(char *buf, size_t len, const char *sub);
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
/* unix_connect.c: a new close-on-exec socket of `type` (SOCK_STREAM,
 * SOCK_SEQPACKET) connected to the unix socket at `path` (a blocking
 * connect): the fd, -ENAMETOOLONG when path does not fit sun_path (nothing
 * was tried), or socket()'s or connect()'s -errno. Prints nothing: the
 * caller says what it was connecting to. */
int cli_unix_connect(const char *path, int type);

#endif
