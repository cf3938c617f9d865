/* client_http.h — the daemon client's transport (client_http.c): one HTTP
 * request at a time over the daemon's unix socket, with libcurl; replies are
 * JSON (json-c). Single-threaded; the CLI's daemon commands only.
 *
 * libcurl is loaded with dlopen() by these commands only (client_open):
 * linked into the binary it would pull ~27 more shared libraries (TLS,
 * HTTP/2, LDAP, SSH...) into every `bulkhead run`, the VMM, tripling its
 * exec time. */
#ifndef BH_CLI_CLIENT_HTTP_H
#define BH_CLI_CLIENT_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

struct client {
	const char *socket; /* the daemon's socket path */
	bool json;          /* --json: print the daemon's JSON as it is */
	bool stream;        /* write the body to stdout as it arrives (logs -f) */
	char *buf;          /* the last reply's body (NUL-terminated), at most 16 MiB */
	size_t len;
	bool overflow;
};

/* Load libcurl and initialise it: 0, or -1 with the reason printed (the
 * library is missing or lacks a function). Then client_close() once. */
int client_open(void);
/* Free c's reply buffer, clean libcurl up and unload it. */
void client_close(struct client *c);

/* One request (`body`: JSON of `len` bytes, or NULL). Returns the HTTP
 * status, or -1 (message printed, naming why connecting failed) when the
 * daemon could not be reached. The body lands in c->buf, or on stdout
 * while c->stream. */
long client_call(struct client *c, const char *method, const char *path, const char *body,
		 size_t len);
/* The last reply parsed (NULL: none or not JSON); the caller puts it. */
json_object *client_reply(struct client *c);
/* Map a status to an exit code (exit_codes.h), printing the daemon's error
 * message for a 4xx/5xx. */
int client_outcome(struct client *c, long status);
/* o's member k as a string ("" when absent), as an integer (0 when absent). */
const char *client_sget(json_object *o, const char *k);
long long client_iget(json_object *o, const char *k);

#endif
