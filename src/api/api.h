/* api.h — bulkheadd's HTTP/JSON API (api/openapi.yaml is the source of truth;
 * tests/e2e/daemon_api.sh checks that the route table below matches it).
 *
 * server.c owns libmicrohttpd: the pre-bound unix socket, connection limits,
 * per-connection memory and timeouts, body accumulation with a hard cap, the
 * caller's uid (SO_PEERCRED) and the dispatch through api_routes[].
 * routes.c holds the route table and the handlers.
 * Threads: one thread per connection (bounded by API_MAX_CONNECTIONS).
 *
 * Fair shares (server.c): a non-root uid may hold at most lim.conns_per_uid
 * connections and lim.follows_per_uid follow streams; lim.root_reserve of
 * the connections are root's alone, so an admin can always get in. A
 * connection over its share is answered 429 and closed at once, before any
 * of its request is acted on. */
#ifndef BH_API_H
#define BH_API_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/compiler.h"

#define API_MAX_BODY (64 * 1024)
#define API_MAX_CONNECTIONS 64
#define API_CONN_TIMEOUT_S 10 /* default idle timeout (slow or half-sent requests) */
/* A request must arrive whole within this many idle timeouts, however
 * steadily it trickles in (a slow loris cannot hold a slot forever). */
#define API_REQUEST_DEADLINE_FACTOR 3
/* Exec sessions relayed at once (exec.c): daemon-wide, and per VM (its
 * guest agent serves one host connection at a time). */
#define API_EXEC_MAX 32
#define API_EXEC_PER_VM 1

struct daemon;
struct MHD_Connection;
struct MHD_Response;
struct json_object;

struct api_server;

struct api_req {
	struct daemon *d;
	struct api_server *srv;
	struct MHD_Connection *conn;
	uid_t uid;
	const char *method;
	const char *url;
	char id[136];              /* the {id} path segment, if the route has one
	                            * (with {name}: "ID/NAME") */
	const char *body;          /* NUL-terminated copy; body_len bytes */
	size_t body_len;
	void *rstate;              /* server.c's state of the request */
	/* reply: a handler sets status and either json or resp */
	unsigned status;
	struct json_object *json;
	struct MHD_Response *resp;
};

struct api_route {
	const char *method;
	const char *path;          /* "{id}" matches one segment */
	const char *const *query;  /* allowed query parameters (NULL-terminated) */
	bool body;                 /* takes a body */
	void (*fn)(struct api_req *r);
};

extern const struct api_route api_routes[];
extern const size_t api_nroutes;

/* Does `url` (the path, without query) match route `pattern`? "{id}" matches
 * one segment of 1..idlen-1 characters from [A-Za-z0-9._-], copied into id;
 * a "{name}" after it one more such segment, appended as "/NAME" (the
 * whole "ID/NAME" shorter than idlen).
 * Pure; any thread. */
bool api_path_match(const char *pattern, const char *url, char *id, size_t idlen);

/* The HTTP status for a daemon operation's result (0 or -errno): one table,
 * status.c. Unknown errors are 500. Pure; any thread. */
unsigned api_status_of(int err);

/* The balloon (balloon.c): PUT /v1/vms/{id}/balloon; inspect's "balloon"
 * object; a VM's /metrics lines into buf (bytes written, at most cap - 1). */
struct ctl_balloon;
void api_h_balloon(struct api_req *r);
struct json_object *api_balloon_json(const struct ctl_balloon *b);
size_t api_balloon_metrics(char *buf, size_t cap, const char *id, const char *name,
			   const struct ctl_balloon *b);

/* Snapshots (snapshot.c): POST /v1/vms/{id}/snapshot; the from-snapshot
 * body of POST /v1/vms ({"from_snapshot": ..., "paused": ...}: false when
 * the body is not one, else true with *ret_out the result — 0 and id_out,
 * or an error already set as r's reply); a VM's snapshot fields (d->lock
 * held; `list`: its snapshots too). */
struct dvm;
void api_h_snapshot(struct api_req *r);
/* DELETE /v1/vms/{id}/snapshots/{name} (daemon.h dmn_snapshot_remove). */
void api_h_snapshot_remove(struct api_req *r);
bool api_create_from_snapshot(struct api_req *r, const char *name, char *id_out, char *err,
			      size_t errlen, int *ret_out);
void api_snapshot_fields(struct daemon *d, const struct dvm *v, struct json_object *o,
			 bool list);
/* Networks (networks.c): GET/POST /v1/networks, GET/DELETE
 * /v1/networks/{id}; the switch's STATS as JSON (NULL: no switch, or a reply
 * that is not {"ports": [...]}; without d->lock); a VM's "nics" for inspect
 * and its /metrics lines, from those stats (d->lock held; sw_gen: the
 * switch's current generation). */
struct dvm;
void api_h_networks(struct api_req *r);
void api_h_network_create(struct api_req *r);
void api_h_network_get(struct api_req *r);
void api_h_network_remove(struct api_req *r);
struct json_object *api_switch_stats(struct daemon *d);
struct json_object *api_vm_nics(const struct dvm *v, unsigned sw_gen, struct json_object *stats);
size_t api_net_metrics(char *buf, size_t cap, const struct dvm *v, unsigned sw_gen,
		       struct json_object *stats);

/* Append printf-style text at buf + *len, of cap bytes in all (the
 * /metrics text): text that does not fit whole leaves *len unchanged, so
 * the next append overwrites the cut piece. */
void api_appendf(char *buf, size_t cap, size_t *len, const char *fmt, ...) BH_PRINTF(4, 5);

/* Set r's reply to {"code": status, "error": message}. */
void api_error(struct api_req *r, unsigned status, const char *fmt, ...) BH_PRINTF(3, 4);

/* The reply to a daemon operation on r->id that returned ret (0 or -errno)
 * with its message in err: the error (api_status_of(ret)), or 200
 * {"id": r->id, "result": result}. Whether it succeeded (the caller may then
 * add keys to r->json). */
bool api_reply_done(struct api_req *r, int ret, const char *err, const char *result);

/* The VM r->id names, for r's caller (daemon.h dmn_lookup: by ID or name;
 * another user's VM is the same 404 as a missing one, so no endpoint tells
 * whether it exists). 0 with *out set and r->d->lock HELD: the caller reads
 * what it needs of *out (or takes a ref) and unlocks. Else -errno with the
 * lock released and r's error reply set (api_status_of: 404, or 409 for a
 * name several users' VMs share): the caller just returns. */
struct dvm;
int api_lookup_locked(struct api_req *r, struct dvm **out);

/* r's body as one JSON object, parsed strictly (JSON_TOKENER_STRICT, at most
 * 4 levels deep, nothing after it): a new reference the caller puts, or NULL
 * when the body is anything else (the caller answers 400 saying what body it
 * takes). The body is a client's: nothing else is assumed of the object. */
struct json_object *api_body_object(const struct api_req *r);

/* A follow stream for r's caller: true if within their share (and counted),
 * else false with a 429 reply set. Release once the stream ends. */
bool api_follow_acquire(struct api_req *r);
void api_follow_release(struct api_server *s, uid_t uid);

/* Exec (exec.c): POST /v1/vms/{id}/exec — the daemon connects to the VM's
 * guest agent over its vsock socket and, answering 101, relays the bytes
 * between the client and the agent until either side closes. */
void api_h_exec(struct api_req *r);
/* An exec session on VM vm_id: true if within the caps (API_EXEC_MAX,
 * API_EXEC_PER_VM; counted), else false with a 429 (that VM) or 503 (the
 * daemon) reply set. Release once the session ends. */
bool api_exec_acquire(struct api_req *r, const char *vm_id);
void api_exec_release(struct api_server *s, const char *vm_id);
/* An upgrade's state, held by r's request until the upgrade handler takes
 * it (api_upgrade_take with its con_cls: the state, or NULL); freed with
 * free_fn when the request ends without the upgrade (the client left). */
void api_upgrade_hold(struct api_req *r, void *state, void (*free_fn)(void *));
void *api_upgrade_take(void *con_cls);
/* The connection c now carries an exec session: the request deadline no
 * longer applies (the session ends when either side closes). */
void api_conn_upgraded(struct api_server *s, struct MHD_Connection *c);
/* Readable once the server stops (an eventfd): exec relays end then. */
int api_server_stop_fd(const struct api_server *s);

/* Serve on `listen_fd` (bound, listening AF_UNIX stream socket; ownership
 * passes to the server). NULL with a message in err on failure. */
struct api_server *api_server_start(struct daemon *d, int listen_fd, unsigned idle_timeout_s,
				    char *err, size_t errlen);
void api_server_stop(struct api_server *s);

#endif
