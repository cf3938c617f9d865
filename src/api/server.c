/* server.c — libmicrohttpd glue; see api.h. Everything a client sends is
 * bounded before it is parsed: headers and the connection's buffers by
 * MHD_OPTION_CONNECTION_MEMORY_LIMIT, the body by API_MAX_BODY (checked
 * against Content-Length first, then while it arrives), idle or half-sent
 * requests by MHD_OPTION_CONNECTION_TIMEOUT, requests that trickle in by an
 * overall deadline (a watchdog shuts such a connection down), many clients
 * by MHD_OPTION_CONNECTION_LIMIT and, per uid, by the fair-share caps (api.h),
 * counted from SO_PEERCRED when the connection starts. */
#include "api/api.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <microhttpd.h>

#include "common/log.h"
#include "daemon/daemon.h"

/* One client connection (MHD's socket context). */
struct conn {
	struct conn *next;
	uid_t uid;
	int fd;                 /* our dup of the socket: the watchdog's handle */
	uint64_t since_ns;      /* waiting for a request since */
	bool in_request;        /* a request is (or may be) arriving */
	bool refused;           /* over a cap or past the deadline: never served */
	bool upgraded;          /* an exec session: no request deadline any more */
};

struct follow_use {
	uid_t uid;
	unsigned n;
};

struct exec_use {
	char vm[DVM_ID_LEN + 1]; /* "" : a free slot */
};

struct api_server {
	struct MHD_Daemon *mhd;
	struct daemon *d;
	pthread_mutex_t lock;   /* conns, follows */
	struct conn *conns;
	struct follow_use follows[API_MAX_CONNECTIONS];
	struct exec_use execs[API_EXEC_MAX];
	bool stopping;          /* no new exec session */
	unsigned idle_s;
	int stop_fd;            /* eventfd: stop the watchdog */
	pthread_t watchdog;
	bool watchdog_started;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Per-request state, allocated on the first callback. */
struct req_state {
	char *body;
	size_t len;
	bool too_big;
	bool have_uid;
	uid_t uid;
	void *upgrade;          /* an upgrade's state until its handler takes it */
	void (*upgrade_free)(void *);
};

void api_error(struct api_req *r, unsigned status, const char *fmt, ...)
{
	char msg[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (r->json)
		json_object_put(r->json);
	r->json = json_object_new_object();
	r->status = status;
	if (r->json) {
		json_object_object_add(r->json, "code", json_object_new_int((int)status));
		json_object_object_add(r->json, "error", json_object_new_string(msg));
	}
}

bool api_reply_done(struct api_req *r, int ret, const char *err, const char *result)
{
	if (ret) {
		api_error(r, api_status_of(ret), "%s", err);
		return false;
	}
	if (r->json)
		json_object_put(r->json);
	r->json = json_object_new_object();
	json_object_object_add(r->json, "id", json_object_new_string(r->id));
	json_object_object_add(r->json, "result", json_object_new_string(result));
	r->status = 200;
	return true;
}

int api_lookup_locked(struct api_req *r, struct dvm **out)
{
	char err[300];
	int ret;

	pthread_mutex_lock(&r->d->lock);
	ret = dmn_lookup(r->d, r->uid, r->id, out, err, sizeof(err));
	if (ret) {
		pthread_mutex_unlock(&r->d->lock);
		api_error(r, api_status_of(ret), "%s", err);
	}
	return ret;
}

void api_appendf(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*len >= cap)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *len, cap - *len, fmt, ap);
	va_end(ap);
	if (n > 0 && (size_t)n < cap - *len)
		*len += (size_t)n;
}

struct json_object *api_body_object(const struct api_req *r)
{
	struct json_tokener *tok = json_tokener_new_ex(4);
	struct json_object *o = NULL;

	if (!tok)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, r->body, (int)r->body_len);
	if (json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != r->body_len || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status,
				 struct json_object *o)
{
	const char *text = o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN)
			     : "{\"code\":500,\"error\":\"out of memory\"}";
	size_t len = strlen(text);
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char *buf = malloc(len + 1);

	if (!buf)
		return MHD_NO;
	memcpy(buf, text, len);
	buf[len] = '\n';
	resp = MHD_create_response_from_buffer(len + 1, buf, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(buf);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", "application/json");
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *msg)
{
	struct api_req r = { 0 };
	enum MHD_Result ret;

	api_error(&r, status, "%s", msg);
	ret = send_json(c, status, r.json);
	json_object_put(r.json);
	return ret;
}

static int peer_uid(struct MHD_Connection *c, uid_t *uid)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (!ci || getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
		return -errno ? -errno : -EINVAL;
	*uid = cr.uid;
	return 0;
}

struct query_check {
	const char *const *allowed;
	char bad[64];
};

static enum MHD_Result check_arg(void *cls, enum MHD_ValueKind kind, const char *key,
				 const char *value)
{
	struct query_check *q = cls;

	(void)kind;
	(void)value;
	for (const char *const *a = q->allowed; a && *a; a++)
		if (!strcmp(*a, key))
			return MHD_YES;
	snprintf(q->bad, sizeof(q->bad), "%s", key);
	return MHD_NO;
}

static enum MHD_Result dispatch(struct api_server *s, struct MHD_Connection *c, const char *url,
				const char *method, struct req_state *st)
{
	struct api_req r = { .d = s->d, .srv = s, .conn = c, .uid = st->uid, .method = method,
			     .url = url, .body = st->body ? st->body : "", .body_len = st->len,
			     .rstate = st };
	const struct api_route *path_match = NULL;
	char allow[128] = "";
	enum MHD_Result ret;

	for (size_t i = 0; i < api_nroutes; i++) {
		const struct api_route *rt = &api_routes[i];

		if (!api_path_match(rt->path, url, r.id, sizeof(r.id)))
			continue;
		if (strcmp(rt->method, method)) {
			size_t l = strlen(allow);

			snprintf(allow + l, sizeof(allow) - l, "%s%s", l ? ", " : "", rt->method);
			continue;
		}
		path_match = rt;
		break;
	}
	if (!path_match && allow[0]) {
		char msg[300];
		struct MHD_Response *resp;
		struct api_req e = { 0 };

		snprintf(msg, sizeof(msg), "%.16s is not allowed on %.100s (allowed: %s)", method,
			 url, allow);
		api_error(&e, MHD_HTTP_METHOD_NOT_ALLOWED, "%s", msg);
		const char *text = json_object_to_json_string(e.json);

		resp = MHD_create_response_from_buffer(strlen(text), (void *)(uintptr_t)text,
						       MHD_RESPMEM_MUST_COPY);
		json_object_put(e.json);
		if (!resp)
			return MHD_NO;
		MHD_add_response_header(resp, "Allow", allow);
		MHD_add_response_header(resp, "Content-Type", "application/json");
		ret = MHD_queue_response(c, MHD_HTTP_METHOD_NOT_ALLOWED, resp);
		MHD_destroy_response(resp);
		return ret;
	}
	if (!path_match) {
		char msg[160];

		snprintf(msg, sizeof(msg), "no such endpoint: %.100s", url);
		return send_error(c, MHD_HTTP_NOT_FOUND, msg);
	}
	{
		struct query_check q = { .allowed = path_match->query };

		MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, check_arg, &q);
		if (q.bad[0]) {
			char msg[160];

			snprintf(msg, sizeof(msg), "unknown query parameter '%s' for %s %s", q.bad,
				 method, path_match->path);
			return send_error(c, MHD_HTTP_BAD_REQUEST, msg);
		}
	}
	if (!path_match->body && st->len) {
		char msg[160];

		snprintf(msg, sizeof(msg), "%s %s takes no request body", method, path_match->path);
		return send_error(c, MHD_HTTP_BAD_REQUEST, msg);
	}
	path_match->fn(&r);
	if (r.resp) {
		ret = MHD_queue_response(c, r.status, r.resp);
		MHD_destroy_response(r.resp);
	} else {
		ret = send_json(c, r.status ? r.status : 500, r.json);
	}
	if (r.json)
		json_object_put(r.json);
	pthread_mutex_lock(&s->d->lock);
	s->d->requests++;
	if (r.status == 429)
		s->d->refusals++;
	pthread_mutex_unlock(&s->d->lock);
	return ret;
}

static struct conn *conn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

/* The request has arrived whole (or not): the deadline stops or restarts. */
static bool request_arrived(struct api_server *s, struct MHD_Connection *c)
{
	struct conn *k = conn_of(c);
	bool ok = true;

	pthread_mutex_lock(&s->lock);
	if (k) {
		k->in_request = false;
		ok = !k->refused;
	}
	pthread_mutex_unlock(&s->lock);
	return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_size, void **con_cls)
{
	struct api_server *s = cls;
	struct req_state *st = *con_cls;

	(void)version;
	if (!st) {
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_CONTENT_LENGTH);
		st = calloc(1, sizeof(*st));
		if (!st)
			return MHD_NO;
		*con_cls = st;
		if (peer_uid(c, &st->uid))
			return send_error(c, MHD_HTTP_FORBIDDEN,
					  "cannot tell who is calling (SO_PEERCRED failed)");
		st->have_uid = true;
		/* Refuse an announced oversized body before reading any of it. */
		if (cl) {
			char *end;
			unsigned long long n;

			errno = 0;
			n = strtoull(cl, &end, 10);
			if (cl[0] == '-' || errno || *end || end == cl)
				return send_error(c, MHD_HTTP_BAD_REQUEST,
						  "Content-Length is not a valid length");
			if (n > API_MAX_BODY) {
				char msg[160];

				snprintf(msg, sizeof(msg),
					 "request body of %llu bytes is larger than the limit (%d)",
					 n, API_MAX_BODY);
				return send_error(c, MHD_HTTP_CONTENT_TOO_LARGE, msg);
			}
		}
		return MHD_YES;
	}
	if (*upload_size) {
		size_t n = *upload_size;

		if (!st->too_big && st->len + n <= API_MAX_BODY) {
			char *nb = realloc(st->body, st->len + n + 1);

			if (!nb)
				return MHD_NO;
			st->body = nb;
			memcpy(st->body + st->len, upload_data, n);
			st->len += n;
			st->body[st->len] = '\0';
		} else {
			st->too_big = true; /* chunked upload past the cap: drop it */
			free(st->body);
			st->body = NULL;
			st->len = 0;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (!request_arrived(s, c))
		return MHD_NO; /* refused or past its deadline: never acted on */
	if (st->too_big) {
		char msg[120];

		snprintf(msg, sizeof(msg), "request body is larger than the limit (%d bytes)",
			 API_MAX_BODY);
		return send_error(c, MHD_HTTP_CONTENT_TOO_LARGE, msg);
	}
	return dispatch(s, c, url, method, st);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct req_state *st = *con_cls;

	struct api_server *s = cls;
	struct conn *k = conn_of(c);

	(void)toe;
	if (st) {
		if (st->upgrade) /* the upgrade never happened */
			st->upgrade_free(st->upgrade);
		free(st->body);
		free(st);
	}
	*con_cls = NULL;
	pthread_mutex_lock(&s->lock);
	if (k && !k->upgraded) { /* keep-alive: the next request has its own deadline */
		k->in_request = true;
		k->since_ns = mono_ns();
	}
	pthread_mutex_unlock(&s->lock);
}

/* Over a cap: answer 429 without reading anything, and end the connection. */
static void refuse(int fd, const char *why)
{
	char body[300], msg[512];
	int n;

	n = snprintf(body, sizeof(body), "{\"code\":429,\"error\":\"%s\"}\n", why);
	n = snprintf(msg, sizeof(msg),
		     "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\n"
		     "Connection: close\r\nContent-Length: %d\r\n\r\n%s",
		     n, body);
	if (send(fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		/* the client is not reading: it gets the close alone */
	}
	shutdown(fd, SHUT_RDWR);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct api_server *s = cls;
	const struct dmn_limits *lim = &s->d->lim;
	struct conn *k = *socket_context, **pp;
	char why[160] = "";
	unsigned mine = 0, nonroot = 0;

	if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		if (!k)
			return;
		pthread_mutex_lock(&s->lock);
		for (pp = &s->conns; *pp && *pp != k; pp = &(*pp)->next)
			;
		if (*pp)
			*pp = k->next;
		pthread_mutex_unlock(&s->lock);
		close(k->fd);
		free(k);
		*socket_context = NULL;
		return;
	}
	{
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		struct ucred cr;
		socklen_t len = sizeof(cr);

		k = calloc(1, sizeof(*k));
		if (!k)
			return;
		k->fd = ci ? fcntl(ci->connect_fd, F_DUPFD_CLOEXEC, 3) : -1;
		if (k->fd < 0 || getsockopt(k->fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0) {
			if (k->fd >= 0)
				close(k->fd);
			free(k);
			return; /* on_request refuses it: no peer credentials */
		}
		k->uid = cr.uid;
	}
	k->since_ns = mono_ns();
	k->in_request = true;
	pthread_mutex_lock(&s->lock);
	for (struct conn *o = s->conns; o; o = o->next) {
		if (o->refused || o->uid == 0)
			continue;
		nonroot++;
		mine += o->uid == k->uid;
	}
	if (k->uid != 0 && mine >= lim->conns_per_uid)
		snprintf(why, sizeof(why), "uid %u already has %u connections to the daemon, the most "
			 "one user may have", (unsigned)k->uid, mine);
	else if (k->uid != 0 && nonroot + lim->root_reserve >= API_MAX_CONNECTIONS)
		snprintf(why, sizeof(why), "the daemon is serving as many users' connections as it "
			 "can (the rest are kept for root)");
	if (why[0]) {
		k->refused = true;
		refuse(k->fd, why);
	}
	k->next = s->conns;
	s->conns = k;
	pthread_mutex_unlock(&s->lock);
	*socket_context = k;
	if (why[0]) {
		pthread_mutex_lock(&s->d->lock);
		s->d->refusals++;
		pthread_mutex_unlock(&s->d->lock);
		bh_dbg("api: refused a connection of uid %u: %s", (unsigned)k->uid, why);
	}
}

/* Shut down connections whose request has not arrived whole in time. */
static void *watchdog(void *arg)
{
	struct api_server *s = arg;
	uint64_t limit = (uint64_t)s->idle_s * API_REQUEST_DEADLINE_FACTOR * 1000000000ull;

	for (;;) {
		struct pollfd p = { .fd = s->stop_fd, .events = POLLIN };
		uint64_t now;

		if (poll(&p, 1, 500) > 0)
			return NULL;
		now = mono_ns();
		pthread_mutex_lock(&s->lock);
		for (struct conn *k = s->conns; k; k = k->next)
			if (k->in_request && !k->refused && !k->upgraded &&
			    now - k->since_ns > limit) {
				k->refused = true;
				shutdown(k->fd, SHUT_RDWR);
				bh_dbg("api: a request of uid %u took longer than %llu s: closed",
				       (unsigned)k->uid, (unsigned long long)(limit / 1000000000ull));
			}
		pthread_mutex_unlock(&s->lock);
	}
}

bool api_follow_acquire(struct api_req *r)
{
	struct api_server *s = r->srv;
	struct follow_use *u = NULL, *free_slot = NULL;
	bool ok = false;

	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < BH_ARRAY_SIZE(s->follows); i++) {
		if (s->follows[i].n && s->follows[i].uid == r->uid)
			u = &s->follows[i];
		else if (!s->follows[i].n && !free_slot)
			free_slot = &s->follows[i];
	}
	if (!u && free_slot) {
		u = free_slot;
		u->uid = r->uid;
	}
	if (u && (r->uid == 0 || u->n < s->d->lim.follows_per_uid)) {
		u->n++;
		ok = true;
	}
	pthread_mutex_unlock(&s->lock);
	if (!ok)
		api_error(r, 429, "uid %u already follows %u streams, the most one user may",
			  (unsigned)r->uid, s->d->lim.follows_per_uid);
	return ok;
}

void api_follow_release(struct api_server *s, uid_t uid)
{
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < BH_ARRAY_SIZE(s->follows); i++)
		if (s->follows[i].n && s->follows[i].uid == uid) {
			s->follows[i].n--;
			break;
		}
	pthread_mutex_unlock(&s->lock);
}

bool api_exec_acquire(struct api_req *r, const char *vm_id)
{
	struct api_server *s = r->srv;
	struct exec_use *slot = NULL;
	unsigned on_vm = 0;

	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < BH_ARRAY_SIZE(s->execs); i++) {
		if (!s->execs[i].vm[0])
			slot = slot ? slot : &s->execs[i];
		else if (!strcmp(s->execs[i].vm, vm_id))
			on_vm++;
	}
	if (!s->stopping && slot && on_vm < API_EXEC_PER_VM)
		snprintf(slot->vm, sizeof(slot->vm), "%.*s", DVM_ID_LEN, vm_id);
	pthread_mutex_unlock(&s->lock);
	if (s->stopping)
		api_error(r, 503, "the daemon is shutting down");
	else if (on_vm >= API_EXEC_PER_VM)
		api_error(r, 429, "VM %s already has %u exec session%s open, the most one VM may "
			  "have (its agent runs one at a time): wait for it to end", vm_id, on_vm,
			  on_vm == 1 ? "" : "s");
	else if (!slot)
		api_error(r, 503, "the daemon already relays %d exec sessions, the most it may",
			  API_EXEC_MAX);
	else
		return true;
	return false;
}

void api_exec_release(struct api_server *s, const char *vm_id)
{
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < BH_ARRAY_SIZE(s->execs); i++)
		if (!strcmp(s->execs[i].vm, vm_id)) {
			s->execs[i].vm[0] = '\0';
			break;
		}
	pthread_mutex_unlock(&s->lock);
}

void api_upgrade_hold(struct api_req *r, void *state, void (*free_fn)(void *))
{
	struct req_state *st = r->rstate;

	st->upgrade = state;
	st->upgrade_free = free_fn;
}

void *api_upgrade_take(void *con_cls)
{
	struct req_state *st = con_cls;
	void *state = st ? st->upgrade : NULL;

	if (st)
		st->upgrade = NULL;
	return state;
}

void api_conn_upgraded(struct api_server *s, struct MHD_Connection *c)
{
	struct conn *k = conn_of(c);

	pthread_mutex_lock(&s->lock);
	if (k) {
		k->upgraded = true;
		k->in_request = false;
	}
	pthread_mutex_unlock(&s->lock);
}

int api_server_stop_fd(const struct api_server *s)
{
	return s->stop_fd;
}

static void mhd_log(void *cls, const char *fmt, va_list ap) BH_PRINTF(2, 0);
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[300];

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	bh_dbg("http: %s", msg);
}

struct api_server *api_server_start(struct daemon *d, int listen_fd, unsigned idle_timeout_s,
				    char *err, size_t errlen)
{
	struct api_server *s = calloc(1, sizeof(*s));

	if (!s) {
		snprintf(err, errlen, "out of memory");
		close(listen_fd);
		return NULL;
	}
	s->d = d;
	s->idle_s = idle_timeout_s;
	pthread_mutex_init(&s->lock, NULL);
	s->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (s->stop_fd < 0 || pthread_create(&s->watchdog, NULL, watchdog, s)) {
		snprintf(err, errlen, "cannot start the API watchdog");
		if (s->stop_fd >= 0)
			close(s->stop_fd);
		pthread_mutex_destroy(&s->lock);
		close(listen_fd);
		free(s);
		return NULL;
	}
	s->watchdog_started = true;
	s->mhd = MHD_start_daemon(
		MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
			MHD_USE_ERROR_LOG | MHD_ALLOW_UPGRADE,
		0, NULL, NULL, on_request, s,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
		MHD_OPTION_LISTEN_SOCKET, listen_fd,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)API_MAX_CONNECTIONS,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 * 1024),
		MHD_OPTION_CONNECTION_TIMEOUT, idle_timeout_s,
		MHD_OPTION_THREAD_STACK_SIZE, (size_t)(256 * 1024),
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
		MHD_OPTION_END);
	if (!s->mhd) {
		snprintf(err, errlen, "libmicrohttpd refused to start on the socket");
		close(listen_fd);
		s->mhd = NULL;
		api_server_stop(s);
		return NULL;
	}
	return s;
}

void api_server_stop(struct api_server *s)
{
	uint64_t one = 1;

	if (!s)
		return;
	/* stop_fd first: the watchdog and every exec relay (which blocks its
	 * connection's thread) end, so MHD can join the connection threads */
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	pthread_mutex_unlock(&s->lock);
	if (s->stop_fd >= 0 && write(s->stop_fd, &one, sizeof(one)) < 0) {
	}
	if (s->mhd)
		MHD_stop_daemon(s->mhd);
	if (s->watchdog_started)
		pthread_join(s->watchdog, NULL);
	close(s->stop_fd);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
