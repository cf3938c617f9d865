/* console.h — the host end of the guest console: stdout/stdin, a file, or
 * nothing.
 *
 * Output (console_sink()): bytes are written straight to the output fd; the
 * total is capped at max_bytes (further bytes are counted as dropped) so a
 * guest flooding its console cannot fill the host's disk. A stalled reader of
 * stdout only slows the vCPU that writes (the guest throttles itself), and
 * never delays a stop: each write first polls the fd together with the VM's
 * stop eventfd, and once a stop is requested output is dropped.
 * Input (stdio mode): when stdin is a terminal it is put in raw mode (ISIG kept,
 * so Ctrl-C still stops bulkhead) and restored by console_close() and by
 * console_restore_tty() on every exit path.
 * Thread-safety: the sink may be called from any vCPU thread. */
#ifndef BH_CONSOLE_H
#define BH_CONSOLE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <termios.h>

#include "common/compiler.h"
#include "core/char_sink.h"
#include "config/vm_config.h"

struct console {
	enum console_mode mode;
	int out_fd;              /* -1: discard */
	int in_fd;               /* -1: no input */
	int stop_fd;             /* readable once the VM is stopping; -1: none */
	bool own_out;            /* out_fd was opened by us (file mode) */
	bool tty_raw;            /* we changed the terminal, must restore */
	struct termios saved_tty;
	pthread_mutex_t lock;
	uint64_t max_bytes;
	uint64_t written;
	uint64_t dropped;
	struct char_sink sink;
};

/* Open the console. CONSOLE_FILE opens `path` O_WRONLY|O_CREAT|O_TRUNC 0600
 * (never follows a symlink at the last component); failure → -errno and a
 * message in err. Must be called before any vCPU runs. */
int console_open(struct console *c, enum console_mode mode, const char *path,
		 uint64_t max_bytes, int stop_fd, char *err, size_t errlen) BH_WUR;

/* Put stdin in raw mode if it is a terminal (stdio mode only). */
void console_start_input(struct console *c);

/* Restore the terminal if we changed it; idempotent, safe on any path. */
void console_restore_tty(struct console *c);

/* Restore the terminal and close what we opened. Idempotent. */
void console_close(struct console *c);

/* Sink that writes guest output to this console. */
const struct char_sink *console_sink(struct console *c);

#endif
