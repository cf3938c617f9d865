/* client_http.c — the daemon client's transport: HTTP over the daemon's
 * unix socket with libcurl, loaded with dlopen() (client_http.h says why),
 * and the reply helpers the commands share. */
#include "cli/client_http.h"

#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cli/cli.h"
#include "config/exit_codes.h"

#define LIBCURL "libcurl.so.4"
#define MAX_REPLY (16u << 20)

/* The libcurl functions used, resolved from LIBCURL at run time. */
static struct {
	void *lib;
	CURLcode (*global_init)(long);
	void (*global_cleanup)(void);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_perform)(CURL *);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	void (*easy_cleanup)(CURL *);
	const char *(*easy_strerror)(CURLcode);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
} cu;

static int load_curl(void)
{
	static const struct {
		const char *name;
		size_t off;
	} syms[] = {
#define SYM(f, n) { n, offsetof(__typeof__(cu), f) }
		SYM(global_init, "curl_global_init"),
		SYM(global_cleanup, "curl_global_cleanup"),
		SYM(easy_init, "curl_easy_init"),
		SYM(easy_setopt, "curl_easy_setopt"),
		SYM(easy_perform, "curl_easy_perform"),
		SYM(easy_getinfo, "curl_easy_getinfo"),
		SYM(easy_cleanup, "curl_easy_cleanup"),
		SYM(easy_strerror, "curl_easy_strerror"),
		SYM(slist_append, "curl_slist_append"),
		SYM(slist_free_all, "curl_slist_free_all"),
#undef SYM
	};

	cu.lib = dlopen(LIBCURL, RTLD_NOW | RTLD_LOCAL);
	if (!cu.lib) {
		fprintf(stderr, "bulkhead: the daemon commands need %s (apt-get install libcurl4): %s\n",
			LIBCURL, dlerror());
		return -1;
	}
	for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		void *f = dlsym(cu.lib, syms[i].name);

		if (!f) {
			fprintf(stderr, "bulkhead: %s lacks %s\n", LIBCURL, syms[i].name);
			dlclose(cu.lib);
			return -1;
		}
		memcpy((char *)&cu + syms[i].off, &f, sizeof(f));
	}
	return 0;
}


static size_t on_data(char *p, size_t size, size_t n, void *cls)
{
	struct client *c = cls;
	size_t len = size * n;

	if (c->stream) {
		size_t w = fwrite(p, 1, len, stdout);

		fflush(stdout);
		return w;
	}
	if (c->len + len > MAX_REPLY) {
		c->overflow = true;
		return 0;
	}
	char *nb = realloc(c->buf, c->len + len + 1);

	if (!nb)
		return 0;
	c->buf = nb;
	memcpy(c->buf + c->len, p, len);
	c->len += len;
	c->buf[c->len] = '\0';
	return len;
}

/* Why connecting failed, in operator terms: libcurl only says "Couldn't
 * connect to server". One plain connect() tells the errno apart. */
static const char *connect_hint(const char *path)
{
	int fd = cli_unix_connect(path, SOCK_STREAM), e = fd < 0 ? -fd : 0;

	if (fd >= 0)
		close(fd);
	switch (e) {
	case ENAMETOOLONG:
		return "socket path too long";
	case EACCES:
	case EPERM:
		return "permission denied (the socket admits root and members of its group, "
		       "normally 'bulkhead': ask to be added, then log in again)";
	case ENOENT:
		return "no such socket (is bulkheadd running? systemctl start bulkheadd.socket)";
	case ECONNREFUSED:
		return "connection refused (no daemon is listening there)";
	case 0:
		return "the connection failed, then worked: try again";
	default:
		return strerror(e);
	}
}

long client_call(struct client *c, const char *method, const char *path, const char *body,
		 size_t len)
{
	char url[1024];
	struct curl_slist *hdr = NULL;
	long status = -1;
	CURL *h = cu.easy_init();
	CURLcode rc;

	if (!h) {
		fprintf(stderr, "bulkhead: cannot initialise libcurl\n");
		return -1;
	}
	free(c->buf);
	c->buf = NULL;
	c->len = 0;
	snprintf(url, sizeof(url), "http://localhost%s", path);
	cu.easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, c->socket);
	cu.easy_setopt(h, CURLOPT_URL, url);
	cu.easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	cu.easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	cu.easy_setopt(h, CURLOPT_WRITEDATA, c);
	cu.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	cu.easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http");
	cu.easy_setopt(h, CURLOPT_TIMEOUT, c->stream ? 0L : 300L);
	if (body) {
		hdr = cu.slist_append(hdr, "Content-Type: application/json");
		cu.easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
		cu.easy_setopt(h, CURLOPT_POSTFIELDS, body);
		cu.easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)len);
	}
	rc = cu.easy_perform(h);
	if (rc == CURLE_OK)
		cu.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	else if (c->overflow)
		fprintf(stderr, "bulkhead: reply larger than %u bytes\n", MAX_REPLY);
	else if (rc == CURLE_COULDNT_CONNECT)
		fprintf(stderr, "bulkhead: cannot talk to the daemon at %s: %s\n", c->socket,
			connect_hint(c->socket));
	else
		fprintf(stderr, "bulkhead: cannot talk to the daemon at %s: %s\n", c->socket,
			cu.easy_strerror(rc));
	cu.slist_free_all(hdr);
	cu.easy_cleanup(h);
	return status;
}

json_object *client_reply(struct client *c)
{
	return c->buf ? json_tokener_parse(c->buf) : NULL;
}

int client_outcome(struct client *c, long status)
{
	json_object *o, *e;

	if (status < 0)
		return BH_EXIT_HOST;
	if (status < 300)
		return BH_EXIT_OK;
	o = client_reply(c);
	if (o && json_object_object_get_ex(o, "error", &e))
		fprintf(stderr, "bulkhead: %ld: %s\n", status, json_object_get_string(e));
	else
		fprintf(stderr, "bulkhead: the daemon answered %ld\n", status);
	json_object_put(o);
	return status < 500 ? BH_EXIT_CONFIG : BH_EXIT_HOST;
}

const char *client_sget(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : "";
}

long long client_iget(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) ? (long long)json_object_get_int64(v) : 0;
}

int client_open(void)
{
	if (load_curl())
		return -1;
	cu.global_init(CURL_GLOBAL_NOTHING);
	return 0;
}

void client_close(struct client *c)
{
	free(c->buf);
	c->buf = NULL;
	c->len = 0;
	cu.global_cleanup();
	dlclose(cu.lib);
}
