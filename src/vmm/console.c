/* console.c — see console.h. */
#include "console.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

static void console_write(void *opaque, const uint8_t *buf, size_t len)
{
	struct console *c = opaque;
	size_t room;

	if (c->out_fd < 0)
		return;
	pthread_mutex_lock(&c->lock);
	room = c->written < c->max_bytes ? (size_t)(c->max_bytes - c->written) : 0;
	if (len > room) {
		if (c->dropped == 0)
			bh_warn("console output cap of %llu bytes reached: dropping further output",
				(unsigned long long)c->max_bytes);
		c->dropped += len - room;
		len = room;
	}
	while (len > 0) {
		struct pollfd p[2] = { { .fd = c->out_fd, .events = POLLOUT },
				       { .fd = c->stop_fd, .events = POLLIN } };
		ssize_t n;

		/* Wait for room (a pipe or tty with POLLOUT takes a small write
		 * without blocking) or for a stop, which drops the rest. */
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			c->dropped += len;
			break;
		}
		if (p[1].revents) {
			c->dropped += len;
			break;
		}
		n = write(c->out_fd, buf, len < 512 ? len : 512);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			/* Reader gone (EPIPE) or I/O error: drop, never fail the guest. */
			c->dropped += len;
			break;
		}
		c->written += (uint64_t)n;
		buf += n;
		len -= (size_t)n;
	}
	pthread_mutex_unlock(&c->lock);
}

int console_open(struct console *c, enum console_mode mode, const char *path,
		 uint64_t max_bytes, int stop_fd, char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	c->mode = mode;
	c->out_fd = -1;
	c->in_fd = -1;
	c->stop_fd = stop_fd;
	c->max_bytes = max_bytes;
	pthread_mutex_init(&c->lock, NULL);
	c->sink.write = console_write;
	c->sink.opaque = c;

	switch (mode) {
	case CONSOLE_NONE:
		return 0;
	case CONSOLE_STDIO:
		c->out_fd = STDOUT_FILENO;
		c->in_fd = STDIN_FILENO;
		return 0;
	case CONSOLE_FILE:
		/* O_NONBLOCK only for the open: a FIFO without a reader must fail
		 * (ENXIO) rather than hang; writes then block as usual. */
		c->out_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW |
					       O_NONBLOCK,
				 0600);
		if (c->out_fd < 0) {
			int e = errno;

			snprintf(err, errlen, "--console file:%s: cannot open for writing: %s", path,
				 strerror(e));
			return -e;
		}
		(void)fcntl(c->out_fd, F_SETFL, fcntl(c->out_fd, F_GETFL) & ~O_NONBLOCK);
		c->own_out = true;
		return 0;
	}
	snprintf(err, errlen, "unknown console mode");
	return -EINVAL;
}

void console_start_input(struct console *c)
{
	struct termios raw;

	if (c->in_fd < 0 || !isatty(c->in_fd) || tcgetattr(c->in_fd, &c->saved_tty) < 0)
		return;
	raw = c->saved_tty;
	cfmakeraw(&raw);
	/* Keep signals: Ctrl-C must still stop bulkhead (and restore the tty). */
	raw.c_lflag |= ISIG;
	/* Keep output post-processing so host-side log lines stay readable. */
	raw.c_oflag |= OPOST;
	/* Ctrl-Z goes to the guest: suspending a VMM with the tty raw helps no one. */
	raw.c_cc[VSUSP] = _POSIX_VDISABLE;
	if (tcsetattr(c->in_fd, TCSANOW, &raw) == 0)
		c->tty_raw = true;
}

void console_restore_tty(struct console *c)
{
	if (c->tty_raw) {
		(void)tcsetattr(c->in_fd, TCSANOW, &c->saved_tty);
		c->tty_raw = false;
	}
}

void console_close(struct console *c)
{
	console_restore_tty(c);
	if (c->own_out && c->out_fd >= 0)
		close(c->out_fd);
	c->out_fd = -1;
	c->own_out = false;
	c->in_fd = -1;
	if (c->sink.write) { /* opened: the lock exists */
		c->sink.write = NULL;
		pthread_mutex_destroy(&c->lock);
	}
}

const struct char_sink *console_sink(struct console *c)
{
	return &c->sink;
}
