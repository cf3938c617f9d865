/* exec_daemon.c — `bulkhead exec --vm ID` (exec.h): an exec session with the
 * guest agent of a VM that bulkheadd runs, through the daemon's
 * POST /v1/vms/{id}/exec. One HTTP request over the daemon's unix socket,
 * written and read here by hand (libcurl has no use for a connection that
 * turns into another protocol): after "101 Switching Protocols" the same
 * socket carries the agent protocol, exactly as the vsock connection of a
 * throwaway VM does. The response head is read byte by byte, so nothing of
 * the agent's first frame is consumed here. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli/cli.h"
#include "cli/exec.h"

#define HEAD_MAX (16 * 1024)
#define BODY_MAX (64 * 1024)
/* The daemon's own answer, on top of the agent's connect deadline. */
#define REPLY_SLACK_MS 30000

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read exactly len bytes (or up to EOF when !exact) by deadline. Bytes read. */
static ssize_t read_by(int fd, char *buf, size_t len, int64_t deadline, bool exact)
{
	size_t have = 0;

	while (have < len) {
		int64_t left = deadline - mono_ms();
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		n = recv(fd, buf + have, exact ? len - have : 1, 0);
		if (n <= 0)
			break;
		have += (size_t)n;
		if (!exact)
			break;
	}
	return (ssize_t)have;
}

/* The daemon's JSON error text of a non-101 reply, into err. */
static void reply_error(int fd, long status, const char *head, int64_t deadline, char *err,
			size_t errlen)
{
	const char *cl = strcasestr(head, "\r\ncontent-length:");
	unsigned long len = cl ? strtoul(cl + 17, NULL, 10) : 0;
	char *body = malloc(BODY_MAX + 1);
	json_object *o = NULL, *e;
	ssize_t n = 0;

	if (body && len && len <= BODY_MAX)
		n = read_by(fd, body, len, deadline, true);
	if (body && n > 0) {
		body[n] = '\0';
		o = json_tokener_parse(body);
	}
	if (o && json_object_object_get_ex(o, "error", &e) &&
	    json_object_is_type(e, json_type_string))
		snprintf(err, errlen, "%s (HTTP %ld)", json_object_get_string(e), status);
	else
		snprintf(err, errlen, "the daemon answered HTTP %ld", status);
	json_object_put(o);
	free(body);
}

int exec_daemon_connect(const char *socket_path, const char *vm, int connect_ms, char *err,
			size_t errlen)
{
	char body[64] = "", req[512], *head = NULL;
	int64_t deadline;
	size_t have = 0;
	long status;
	int fd, n;

	for (const char *c = vm; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '.' || *c == '_' || *c == '-')) {
			snprintf(err, errlen, "--vm '%.80s': a VM ID or name (letters, digits, '.', "
				 "'_', '-')", vm);
			return -EINVAL;
		}
	if (!*vm || strlen(vm) > 63) {
		snprintf(err, errlen, "--vm: a VM ID or name of 1 to 63 characters");
		return -EINVAL;
	}
	fd = cli_unix_connect(socket_path, SOCK_STREAM);
	if (fd == -ENAMETOOLONG) {
		snprintf(err, errlen, "daemon socket %.200s: path too long", socket_path);
		return fd;
	}
	if (fd < 0) {
		snprintf(err, errlen, "cannot reach the daemon at %s: %s (is bulkheadd running? "
			 "--socket or $BULKHEAD_SOCKET)", socket_path, strerror(-fd));
		return fd;
	}
	if (connect_ms >= 0)
		snprintf(body, sizeof(body), "{\"connect_timeout_ms\": %d}", connect_ms);
	n = snprintf(req, sizeof(req),
		     "POST /v1/vms/%s/exec HTTP/1.1\r\nHost: localhost\r\n"
		     "Connection: Upgrade\r\nUpgrade: bulkhead-agent\r\n"
		     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
		     vm, strlen(body), body);
	if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
		snprintf(err, errlen, "the daemon at %s closed the connection", socket_path);
		goto fail;
	}
	deadline = mono_ms() + (connect_ms > 0 ? connect_ms : 5000) + REPLY_SLACK_MS;
	head = malloc(HEAD_MAX + 1);
	if (!head) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	while (have < HEAD_MAX) {
		if (read_by(fd, head + have, 1, deadline, false) != 1)
			break;
		have++;
		if (have >= 4 && !memcmp(head + have - 4, "\r\n\r\n", 4))
			break;
	}
	head[have] = '\0';
	if (have < 4 || memcmp(head + have - 4, "\r\n\r\n", 4) ||
	    sscanf(head, "HTTP/1.%*d %ld", &status) != 1) {
		snprintf(err, errlen, "no answer from the daemon at %s%s", socket_path,
			 have ? " (an incomplete or malformed reply)" : "");
		goto fail;
	}
	if (status != 101) {
		reply_error(fd, status, head, deadline, err, errlen);
		goto fail;
	}
	free(head);
	return fd;
fail:
	free(head);
	close(fd);
	return -EIO;
}
