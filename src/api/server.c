/* server.c — libmicrohttpd glue; see api.h. Everything a client sends is
 * bounded before it is parsed: headers and the connection's buffers by
 * MHD_OPTION_CONNECTION_MEMORY_LIMIT, the body by API_MAX_BODY (checked
 * against Content-Length first, then while it arrives), slow or half-sent
 * requests by MHD_OPTION_CONNECTION_TIMEOUT, many clients by
 * MHD_OPTION_CONNECTION_LIMIT. */
#include "api/api.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <json-c/json.h>
#include <microhttpd.h>

#include "common/log.h"
#include "daemon/daemon.h"

struct api_server {
	struct MHD_Daemon *mhd;
	struct daemon *d;
};

/* Per-request state, allocated on the first callback. */
struct req_state {
	char *body;
	size_t len;
	bool too_big;
	bool have_uid;
	uid_t uid;
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
	struct api_req r = { .d = s->d, .conn = c, .uid = st->uid, .method = method, .url = url,
			     .body = st->body ? st->body : "", .body_len = st->len };
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
	if (r.status == 403)
		s->d->refusals++;
	pthread_mutex_unlock(&s->d->lock);
	return ret;
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

	(void)cls;
	(void)c;
	(void)toe;
	if (st) {
		free(st->body);
		free(st);
	}
	*con_cls = NULL;
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
	s->mhd = MHD_start_daemon(
		MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
			MHD_USE_ERROR_LOG,
		0, NULL, NULL, on_request, s,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
		MHD_OPTION_LISTEN_SOCKET, listen_fd,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)API_MAX_CONNECTIONS,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 * 1024),
		MHD_OPTION_CONNECTION_TIMEOUT, idle_timeout_s,
		MHD_OPTION_THREAD_STACK_SIZE, (size_t)(256 * 1024),
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
		MHD_OPTION_END);
	if (!s->mhd) {
		snprintf(err, errlen, "libmicrohttpd refused to start on the socket");
		close(listen_fd);
		free(s);
		return NULL;
	}
	return s;
}

void api_server_stop(struct api_server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->mhd);
	free(s);
}
