/* exec.c — POST /v1/vms/{id}/exec (api.h): a session with the guest agent
 * of a running VM, relayed by the daemon.
 *
 * The daemon is the broker: the VMM is jailed and the client is another
 * user, so neither connects to the other; the daemon (outside the jail)
 * connects to the VM's hybrid-vsock socket, asks for the agent's port
 * ("CONNECT 1024\n" / "OK ...\n", with a deadline), answers the client
 * "101 Switching Protocols" and from then on copies bytes both ways,
 * unparsed: the agent protocol (agentproto/agent_proto.h) is between the
 * client and the agent. Each session blocks its connection's thread (MHD's
 * thread-per-connection mode allows it), with bounded buffers, and ends
 * when either side closes, or when the daemon stops.
 *
 * The socket's path is the VM's configuration (its owner chose it), so the
 * daemon does not trust it: it opens the path with O_PATH (no open of
 * anything), requires a socket owned by the VM's owner, connects to that
 * very inode (/proc/self/fd/N), and requires the listening end to be the
 * VM's own process (SO_PEERCRED: the VMM the daemon spawned, or its jailed
 * child) before it sends a byte. So a VM whose socket path was swapped for
 * another service's socket gets a 502, never a relay to that service. */
#include "api/api.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <microhttpd.h>

#include "agentproto/agent_proto.h"
#include "common/log.h"
#include "config/config_json.h"
#include "daemon/daemon.h"

#define EXEC_CONNECT_DEFAULT_MS 5000u
#define EXEC_CONNECT_MAX_MS 300000u
#define EXEC_RELAY_BUF (64 * 1024)
/* After one side closed, how long the other may take to take the rest. */
#define EXEC_DRAIN_MS 10000
#define EXEC_UPGRADE "bulkhead-agent"

struct exec_sess {
	struct api_server *srv;
	char vm[DVM_ID_LEN + 1];
	int agent;                  /* connected to the agent's port */
};

static void sess_free(void *p)
{
	struct exec_sess *e = p;

	if (e->agent >= 0)
		close(e->agent);
	api_exec_release(e->srv, e->vm);
	free(e);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The body: empty, or {"connect_timeout_ms": N}. False after a 400 reply. */
static bool parse_body(struct api_req *r, unsigned *connect_ms)
{
	struct json_object *o, *v;

	*connect_ms = EXEC_CONNECT_DEFAULT_MS;
	if (!r->body_len)
		return true;
	o = api_body_object(r);
	if (!o) {
		api_error(r, 400, "exec takes no body or a JSON object: {\"connect_timeout_ms\": N}");
		return false;
	}
	json_object_object_foreach(o, k, val) {
		(void)val;
		if (strcmp(k, "connect_timeout_ms")) {
			api_error(r, 400, "%.60s: unknown key (only \"connect_timeout_ms\")", k);
			json_object_put(o);
			return false;
		}
	}
	if (json_object_object_get_ex(o, "connect_timeout_ms", &v)) {
		int64_t n = json_object_get_int64(v);

		if (!json_object_is_type(v, json_type_int) || n < 0 || n > EXEC_CONNECT_MAX_MS) {
			api_error(r, 400, "connect_timeout_ms: expected a whole number of "
				  "milliseconds from 0 to %u", EXEC_CONNECT_MAX_MS);
			json_object_put(o);
			return false;
		}
		*connect_ms = (unsigned)n;
	}
	json_object_put(o);
	return true;
}

/* Did the client ask to switch to the agent protocol? */
static bool wants_upgrade(struct api_req *r)
{
	const char *up = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_UPGRADE);
	const char *cn = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_CONNECTION);

	return up && !strcasecmp(up, EXEC_UPGRADE) && cn && strcasestr(cn, "upgrade");
}

/* What the daemon needs of the VM, read under d->lock. */
struct exec_target {
	pid_t pid;
	uid_t owner;
	char sock[PATH_MAX];
};

/* Look the VM up for r's caller and check it can take a session: 0, or an
 * error reply set (404 as every per-VM endpoint, 409 for its state or a VM
 * without vsock). */
static int find_target(struct api_req *r, struct exec_target *t)
{
	struct vm_config cfg;
	struct json_object *root = NULL;
	char err[400];
	struct dvm *v;
	unsigned clone;
	int ret;

	ret = api_lookup_locked(r, &v);
	if (ret)
		return ret;
	if (v->state == DVM_QUARANTINED) {
		api_error(r, 409, "VM %s is quarantined: exec is refused (inspect it, or remove it)",
			  v->id);
		ret = -EBUSY;
	} else if (v->state != DVM_RUNNING || v->frozen || v->pid <= 0) {
		api_error(r, 409, "VM %s is %s: exec needs a running VM", v->id,
			  v->state != DVM_RUNNING ? dvm_state_name(v->state) : "frozen");
		ret = -EBUSY;
	}
	if (ret) {
		pthread_mutex_unlock(&r->d->lock);
		return ret;
	}
	t->pid = v->pid;
	t->owner = v->owner;
	clone = v->clone_index;
	memcpy(r->id, v->id, sizeof(v->id)); /* a name becomes the ID */
	ret = dvm_load_config(r->d, v, &cfg, &root, err, sizeof(err));
	pthread_mutex_unlock(&r->d->lock);
	if (ret) {
		api_error(r, 500, "VM %s: its configuration: %s", r->id, err);
		return ret;
	}
	if (!cfg.vsock.socket) {
		api_error(r, 409, "VM %s has no vsock device: exec needs a VM whose guest runs the "
			  "bulkhead agent (a \"vsock\" socket in its configuration; README)", r->id);
		ret = -ENODEV;
	} else if ((clone ? snprintf(t->sock, sizeof(t->sock), "%s.%u", cfg.vsock.socket, clone)
			  : snprintf(t->sock, sizeof(t->sock), "%s", cfg.vsock.socket)) >=
		   (int)sizeof(t->sock)) {
		api_error(r, 500, "VM %s: its vsock socket path is too long", r->id);
		ret = -ENAMETOOLONG;
	}
	config_json_free(root);
	return ret;
}

/* Is pid the VM's process: the VMM the daemon spawned, or its jailed child? */
static bool is_vm_process(pid_t peer, pid_t vmm)
{
	struct dvm_usage u;

	if (peer == vmm)
		return true;
	return dvm_read_usage(vmm, &u) == 0 && u.vm_pid && peer == u.vm_pid;
}

/* One attempt: the VM's socket, checked (see the top), then the CONNECT
 * line and its answer by `deadline`. The connected fd, -EAGAIN (not yet:
 * no socket, the guest does not listen yet), or -EPERM (the socket is not
 * the VM's: never retried). */
static int agent_connect(const struct exec_target *t, int64_t deadline, char *why, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ucred cr;
	socklen_t crlen = sizeof(cr);
	char line[64];
	struct stat st;
	size_t have = 0;
	int pfd, fd = -1, n, ret = -EAGAIN;

	pfd = open(t->sock, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (pfd < 0) {
		snprintf(why, len, "%s: %s", t->sock, strerror(errno));
		return -EAGAIN;
	}
	if (fstat(pfd, &st) < 0 || !S_ISSOCK(st.st_mode) || st.st_uid != t->owner) {
		snprintf(why, len, "%s is not a socket of the VM's owner", t->sock);
		close(pfd);
		return -EPERM;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d", pfd);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(why, len, "connect %s: %s", t->sock, strerror(errno));
		goto out;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) < 0 ||
	    !is_vm_process(cr.pid, t->pid)) {
		snprintf(why, len, "%s is not served by the VM's own process", t->sock);
		ret = -EPERM;
		goto out;
	}
	n = snprintf(line, sizeof(line), "CONNECT %u\n", AP_PORT);
	if (send(fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) != n) {
		snprintf(why, len, "the VMM did not take the CONNECT line");
		goto out;
	}
	/* Byte by byte up to the newline: what follows is the agent's. */
	while (have < sizeof(line) - 1) {
		int64_t left = deadline - now_ms();
		struct pollfd p = { fd, POLLIN, 0 };

		if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
			snprintf(why, len, "no answer to CONNECT %u", AP_PORT);
			goto out;
		}
		if (recv(fd, line + have, 1, MSG_DONTWAIT) != 1) {
			snprintf(why, len, "nothing listens on vsock port %u in the guest", AP_PORT);
			goto out;
		}
		if (line[have++] == '\n')
			break;
	}
	line[have] = '\0';
	if (strncmp(line, "OK ", 3) || line[have - 1] != '\n') {
		snprintf(why, len, "the VMM answered CONNECT with something else than OK");
		goto out;
	}
	close(pfd);
	return fd;
out:
	if (fd >= 0)
		close(fd);
	close(pfd);
	return ret;
}

/* Copy between the client and the agent until either closes (then what
 * the other has not taken yet is flushed, for at most EXEC_DRAIN_MS) or
 * the daemon stops. Both buffers are bounded: a side that does not read
 * stops the other side's reads, never the daemon's memory. */
struct pipe_buf {
	uint8_t *b;
	size_t off, len;
	bool eof;                   /* its source closed */
};

static void pump_in(int fd, struct pipe_buf *p)
{
	ssize_t n;

	if (p->off && p->off == p->len)
		p->off = p->len = 0;
	if (p->len == EXEC_RELAY_BUF && p->off) {
		memmove(p->b, p->b + p->off, p->len - p->off);
		p->len -= p->off;
		p->off = 0;
	}
	if (p->len == EXEC_RELAY_BUF)
		return;
	n = recv(fd, p->b + p->len, EXEC_RELAY_BUF - p->len, MSG_DONTWAIT);
	if (n > 0)
		p->len += (size_t)n;
	else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
		p->eof = true;
}

static bool pump_out(int fd, struct pipe_buf *p)
{
	ssize_t n = send(fd, p->b + p->off, p->len - p->off, MSG_DONTWAIT | MSG_NOSIGNAL);

	if (n > 0)
		p->off += (size_t)n;
	else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		return false; /* the destination is gone */
	return true;
}

static void relay(int client, int agent, const char *extra, size_t extra_len, int stop_fd)
{
	struct pipe_buf up = { 0 }, down = { 0 }; /* up: client -> agent */
	int64_t drain_until = 0;

	up.b = malloc(EXEC_RELAY_BUF);
	down.b = malloc(EXEC_RELAY_BUF);
	if (!up.b || !down.b)
		goto out;
	if (extra_len > EXEC_RELAY_BUF) /* MHD's buffer is smaller: never */
		goto out;
	memcpy(up.b, extra, extra_len);
	up.len = extra_len;
	for (;;) {
		bool up_pending = up.off < up.len, down_pending = down.off < down.len;
		struct pollfd p[3] = {
			{ client, (short)((!up.eof && up.len < EXEC_RELAY_BUF ? POLLIN : 0) |
					  (down_pending ? POLLOUT : 0)), 0 },
			{ agent, (short)((!down.eof && down.len < EXEC_RELAY_BUF ? POLLIN : 0) |
					 (up_pending ? POLLOUT : 0)), 0 },
			{ stop_fd, POLLIN, 0 },
		};
		int timeout = -1;

		/* nothing to ask of a side: out of the poll (its hangup would
		 * otherwise wake it at once, again and again) */
		for (int i = 0; i < 2; i++)
			if (!p[i].events)
				p[i].fd = -1;
		if ((up.eof && !up_pending) || (down.eof && !down_pending))
			break; /* one side closed and has had all it was sent */
		if (up.eof || down.eof) {
			int64_t now = now_ms();

			if (!drain_until)
				drain_until = now + EXEC_DRAIN_MS;
			if (now >= drain_until)
				break;
			timeout = (int)(drain_until - now);
		}
		if (poll(p, 3, timeout) < 0 && errno != EINTR)
			break;
		if (p[2].revents)
			break;
		if ((p[0].revents & (POLLIN | POLLHUP | POLLERR)) && !up.eof)
			pump_in(client, &up);
		if ((p[1].revents & (POLLIN | POLLHUP | POLLERR)) && !down.eof)
			pump_in(agent, &down);
		if ((p[1].revents & (POLLOUT | POLLERR)) && up.off < up.len && !pump_out(agent, &up))
			break;
		if ((p[0].revents & (POLLOUT | POLLERR)) && down.off < down.len &&
		    !pump_out(client, &down))
			break;
	}
out:
	free(up.b);
	free(down.b);
}

/* MHD, once the 101 is sent: the relay, on this connection's thread. */
static void on_upgrade(void *cls, struct MHD_Connection *c, void *con_cls, const char *extra_in,
		       size_t extra_in_size, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
	struct api_server *s = cls;
	struct exec_sess *e = api_upgrade_take(con_cls);

	if (e) {
		api_conn_upgraded(s, c);
		bh_dbg("api: exec session on VM %s started", e->vm);
		relay(sock, e->agent, extra_in, extra_in_size, api_server_stop_fd(s));
		bh_dbg("api: exec session on VM %s ended", e->vm);
		sess_free(e);
	}
	MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
}

void api_h_exec(struct api_req *r)
{
	struct exec_target t;
	struct exec_sess *e;
	unsigned connect_ms;
	char why[PATH_MAX + 100] = "";
	int64_t deadline;
	int fd;

	if (!parse_body(r, &connect_ms) || find_target(r, &t))
		return;
	if (!wants_upgrade(r)) {
		api_error(r, 426, "exec is a stream: send \"Connection: Upgrade\" and "
			  "\"Upgrade: " EXEC_UPGRADE "\" (the agent protocol follows a 101)");
		return;
	}
	if (!api_exec_acquire(r, r->id))
		return;
	e = calloc(1, sizeof(*e));
	if (!e) {
		api_exec_release(r->srv, r->id);
		api_error(r, 503, "out of memory");
		return;
	}
	e->srv = r->srv;
	e->agent = -1;
	snprintf(e->vm, sizeof(e->vm), "%.*s", DVM_ID_LEN, r->id);
	/* The guest may still be booting: retried until the deadline. Each
	 * attempt waits 1-12 s for the OK (a guest whose vsock driver is not
	 * up yet may never answer that attempt). */
	deadline = now_ms() + connect_ms;
	for (;;) {
		int64_t left = deadline - now_ms();

		left = left < 1000 ? 1000 : left > 12000 ? 12000 : left;
		fd = agent_connect(&t, now_ms() + left, why, sizeof(why));
		if (fd >= 0 || fd == -EPERM || now_ms() >= deadline)
			break;
		struct pollfd p = { api_server_stop_fd(r->srv), POLLIN, 0 };

		if (poll(&p, 1, 100) > 0)
			break;
	}
	if (fd == -EPERM) {
		sess_free(e);
		bh_warn("api: exec on VM %s refused: %s", r->id, why);
		api_error(r, 502, "VM %s: its vsock socket is not its VM's (%s)", r->id, why);
		return;
	}
	if (fd < 0) {
		sess_free(e);
		api_error(r, 504, "VM %s: its guest agent did not answer within %u ms (%s); does "
			  "its guest run the bulkhead agent with bulkhead.agent=serve?", r->id,
			  connect_ms, why);
		return;
	}
	e->agent = fd;
	r->resp = MHD_create_response_for_upgrade(on_upgrade, r->srv);
	if (!r->resp || MHD_add_response_header(r->resp, MHD_HTTP_HEADER_UPGRADE, EXEC_UPGRADE) !=
				MHD_YES) {
		if (r->resp)
			MHD_destroy_response(r->resp);
		r->resp = NULL;
		sess_free(e);
		api_error(r, 503, "out of memory");
		return;
	}
	api_upgrade_hold(r, e, sess_free);
	/* a quiet session must not be cut by the idle timeout */
	MHD_set_connection_option(r->conn, MHD_CONNECTION_OPTION_TIMEOUT, 0u);
	r->status = MHD_HTTP_SWITCHING_PROTOCOLS;
}
