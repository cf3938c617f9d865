/* routes.c — the API's route table and handlers (see api/openapi.yaml). */
#include "api/api.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <microhttpd.h>

#include "common/log.h"
#include "ctl/ctl_proto.h"
#include "config/config_json.h"
#include "daemon/daemon.h"
#include "daemon/procfs.h"

#define CONSOLE_TAIL_DEFAULT (64 * 1024)
#define CONSOLE_TAIL_MAX (1024 * 1024)

/* ---- helpers ---- */

static const char *qarg(struct api_req *r, const char *key)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

/* Optional unsigned query parameter within [min, max]; false after an error reply. */
static bool qnum(struct api_req *r, const char *key, unsigned long long min,
		 unsigned long long max, unsigned long long *out)
{
	const char *s = qarg(r, key);
	char *end;

	if (!s)
		return true;
	errno = 0;
	*out = strtoull(s, &end, 10);
	if (!*s || *s == '-' || *s == '+' || *end || errno || *out < min || *out > max) {
		api_error(r, 400, "query parameter %s=%.40s: expected a whole number from %llu to %llu",
			  key, s, min, max);
		return false;
	}
	return true;
}

static bool qbool(struct api_req *r, const char *key, bool *out)
{
	const char *s = qarg(r, key);

	if (!s)
		return true;
	if (!strcmp(s, "true") || !strcmp(s, "1") || !*s)
		*out = true;
	else if (!strcmp(s, "false") || !strcmp(s, "0"))
		*out = false;
	else {
		api_error(r, 400, "query parameter %s=%.40s: expected true or false", key, s);
		return false;
	}
	return true;
}

/* Inspect's control round-trip: short, it only refreshes counters. */
#define INSPECT_CTL_MS 2000u
#define METRICS_CTL_MS 500u  /* per VM: a slow VMM costs /metrics its balloon lines only */

/* The daemon's own copy of a VM's configuration (root's, written at create):
 * still read with a size bound, like any file. NULL if unreadable. */
static struct json_object *read_config(const char *path)
{
	char *buf = malloc(CONFIG_JSON_MAX + 1);
	struct json_object *o = NULL;
	ssize_t n = -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd >= 0 && buf)
		n = read(fd, buf, CONFIG_JSON_MAX + 1);
	if (fd >= 0)
		close(fd);
	if (n > 0 && n <= CONFIG_JSON_MAX) {
		buf[n] = '\0';
		o = json_tokener_parse(buf);
	}
	free(buf);
	return o;
}

static bool has_process(enum dvm_state s)
{
	return s != DVM_CREATED && s != DVM_EXITED;
}

/* Summary of v (d->lock held). */
static struct json_object *vm_summary(struct daemon *d, const struct dvm *v)
{
	struct json_object *o = json_object_new_object();
	int64_t now = (int64_t)time(NULL);

	json_object_object_add(o, "id", json_object_new_string(v->id));
	json_object_object_add(o, "name", json_object_new_string(v->name));
	json_object_object_add(o, "owner", json_object_new_int64(v->owner));
	json_object_object_add(o, "state", json_object_new_string(dvm_state_name(v->state)));
	json_object_object_add(o, "pid", json_object_new_int64(v->pid));
	json_object_object_add(o, "vcpus", json_object_new_int64(v->ncpus));
	json_object_object_add(o, "mem_bytes", json_object_new_int64((int64_t)v->mem_bytes));
	json_object_object_add(o, "created_at", json_object_new_int64(v->created_at));
	json_object_object_add(o, "started_at", json_object_new_int64(v->started_at));
	json_object_object_add(o, "uptime_s",
			       json_object_new_int64(has_process(v->state) && v->started_at
							     ? now - v->started_at
							     : 0));
	if (v->state == DVM_EXITED) {
		struct json_object *e = json_object_new_object();

		json_object_object_add(e, "reason", json_object_new_string(v->exit_reason));
		json_object_object_add(e, "code", json_object_new_int(v->exit_code));
		json_object_object_add(e, "signal", json_object_new_int(v->exit_signal));
		json_object_object_add(e, "detail", json_object_new_string(v->exit_detail));
		json_object_object_add(o, "exit", e);
	}
	if (v->quarantine_reason[0])
		json_object_object_add(o, "quarantine_reason",
				       json_object_new_string(v->quarantine_reason));
	api_snapshot_fields(d, v, o, false);
	return o;
}

/* ---- handlers ---- */

static void h_list(struct api_req *r)
{
	struct json_object *arr = json_object_new_array();

	pthread_mutex_lock(&r->d->lock);
	for (struct dvm *v = r->d->vms; v; v = v->next)
		if (dvm_visible(v, r->uid))
			json_object_array_add(arr, vm_summary(r->d, v));
	pthread_mutex_unlock(&r->d->lock);
	r->json = json_object_new_object();
	json_object_object_add(r->json, "vms", arr);
	r->status = 200;
}

static void reply_vm(struct api_req *r, const char *id, unsigned status, const char *note)
{
	struct dvm *v;
	char err[300];
	int ret;

	pthread_mutex_lock(&r->d->lock);
	ret = dmn_lookup(r->d, r->uid, id, &v, err, sizeof(err));
	if (ret == 0) {
		r->json = vm_summary(r->d, v);
		r->status = status;
		if (note)
			json_object_object_add(r->json, "result", json_object_new_string(note));
		if (v->start_ms && status == 200 && note && !strcmp(note, "started"))
			json_object_object_add(r->json, "start_ms",
					       json_object_new_int64((int64_t)v->start_ms));
	} else { /* done, but removed meanwhile by someone else */
		r->json = json_object_new_object();
		json_object_object_add(r->json, "id", json_object_new_string(id));
		if (note)
			json_object_object_add(r->json, "result", json_object_new_string(note));
		r->status = status;
	}
	pthread_mutex_unlock(&r->d->lock);
}

static void h_create(struct api_req *r)
{
	char id[DVM_ID_LEN + 1], err[512];
	int ret;

	if (api_create_from_snapshot(r, qarg(r, "name"), id, err, sizeof(err), &ret)) {
		if (!ret)
			reply_vm(r, id, 201, "created");
		return; /* else: the error is the reply */
	}
	ret = dmn_create(r->d, r->uid, qarg(r, "name"), r->body, r->body_len, id, err,
			 sizeof(err));
	if (ret) {
		api_error(r, api_status_of(ret), "%s", err);
		return;
	}
	reply_vm(r, id, 201, "created");
}

/* The balloon's figures (NULL: the VM has none); v held by a ref. */
static struct json_object *inspect_balloon(struct daemon *d, struct dvm *v)
{
	struct ctl_balloon b;
	char err[300];
	int ret = dvm_ctl_ex(d, v, CTL_BALLOON_INFO, 0, &b, INSPECT_CTL_MS, NULL, err, sizeof(err));
	struct json_object *o;

	if (ret == -ENODEV)
		return NULL;
	if (ret) {
		o = json_object_new_object();
		json_object_object_add(o, "control_error", json_object_new_string(err));
		return o;
	}
	return api_balloon_json(&b);
}

static void h_inspect(struct api_req *r)
{
	char path[PATH_MAX], err[300];
	struct json_object *cfg, *usage, *balloon = NULL, *stats;
	enum dvm_state state;
	bool busy, frozen;
	pid_t pid;
	struct dvm *v;

	if (api_lookup_locked(r, &v))
		return;
	v->refs++; /* v stays alive while we talk to its VMM */
	state = v->state;
	busy = v->busy;
	frozen = v->frozen;
	pid = v->pid;
	dvm_path(r->d, v, "config.json", path, sizeof(path));
	pthread_mutex_unlock(&r->d->lock);

	usage = json_object_new_object();
	if (has_process(state) && pid > 0) {
		struct dvm_usage u;

		/* A frozen VM cannot answer: its counters are the last ones. */
		if (!busy && !frozen &&
		    dvm_ctl(r->d, v, CTL_STATUS, INSPECT_CTL_MS, NULL, err, sizeof(err)))
			json_object_object_add(usage, "control_error", json_object_new_string(err));
		else if (!busy && !frozen)
			balloon = inspect_balloon(r->d, v);
		if (dvm_read_usage(pid, &u) == 0) {
			char txt[32];

			/* The jailed VM process (vCPUs, guest RAM), then the supervisor. */
			snprintf(txt, sizeof(txt), "%.2f", u.cpu_seconds); /* 3.06, not 3.0600000000000001 */
			json_object_object_add(usage, "cpu_seconds",
					       json_object_new_double_s(u.cpu_seconds, txt));
			json_object_object_add(usage, "rss_bytes",
					       json_object_new_int64((int64_t)u.rss_bytes));
			if (u.vm_pid) {
				snprintf(txt, sizeof(txt), "%.2f", u.sup_cpu_seconds);
				json_object_object_add(usage, "vm_process_pid",
						       json_object_new_int64(u.vm_pid));
				json_object_object_add(usage, "supervisor_cpu_seconds",
						       json_object_new_double_s(u.sup_cpu_seconds, txt));
				json_object_object_add(usage, "supervisor_rss_bytes",
						       json_object_new_int64((int64_t)u.sup_rss_bytes));
			}
		}
	}
	cfg = read_config(path);
	stats = v->nnics ? api_switch_stats(r->d) : NULL;

	pthread_mutex_lock(&r->d->lock);
	json_object_object_add(usage, "vcpu_exits", json_object_new_int64((int64_t)v->stats.exits));
	json_object_object_add(usage, "io_exits", json_object_new_int64((int64_t)v->stats.io_exits));
	json_object_object_add(usage, "mmio_exits",
			       json_object_new_int64((int64_t)v->stats.mmio_exits));
	r->json = vm_summary(r->d, v);
	json_object_object_add(r->json, "start_ms", json_object_new_int64((int64_t)v->start_ms));
	json_object_object_add(r->json, "frozen", json_object_new_boolean(v->frozen));
	json_object_object_add(r->json, "usage", usage);
	if (balloon)
		json_object_object_add(r->json, "balloon", balloon);
	if (v->nnics) {
		json_object_object_add(r->json, "nics", api_vm_nics(v, r->d->sw.gen, stats));
		json_object_object_add(r->json, "on_violation",
				       json_object_new_string(v->on_violation_quarantine
								      ? "quarantine" : "count"));
		json_object_object_add(r->json, "net_violations",
				       json_object_new_uint64(v->violations));
	}
	json_object_put(stats);
	json_object_object_add(r->json, "config", cfg);
	api_snapshot_fields(r->d, v, r->json, true);
	v->refs--;
	pthread_cond_broadcast(&r->d->cond);
	pthread_mutex_unlock(&r->d->lock);
	r->status = 200;
}

static void h_remove(struct api_req *r)
{
	char err[300];
	int ret = dmn_remove(r->d, r->uid, r->id, err, sizeof(err));

	(void)api_reply_done(r, ret, err, "removed");
}

/* Reply to an operation: its error, or the VM with `note` (an operation's
 * own note in err, when it wrote one, says more). */
static void finish(struct api_req *r, int ret, const char *err, const char *note)
{
	if (ret)
		api_error(r, api_status_of(ret), "%s", err);
	else
		reply_vm(r, r->id, 200, err[0] ? err : note);
}

static void h_start(struct api_req *r)
{
	char err[512] = "";

	finish(r, dmn_start(r->d, r->uid, r->id, err, sizeof(err)), err, "started");
}

static void h_pause(struct api_req *r)
{
	char err[512] = "";

	finish(r, dmn_pause(r->d, r->uid, r->id, err, sizeof(err)), err, "paused");
}

static void h_resume(struct api_req *r)
{
	char err[512] = "";

	finish(r, dmn_resume(r->d, r->uid, r->id, err, sizeof(err)), err, "resumed");
}

static void h_stop(struct api_req *r)
{
	unsigned long long timeout = r->d->stop_timeout_s;
	char err[512] = "";
	int ret;

	if (!qnum(r, "timeout", 0, 600, &timeout))
		return;
	ret = dmn_stop(r->d, r->uid, r->id, (unsigned)timeout, err, sizeof(err));
	finish(r, ret, err, "stopped"); /* err says how: graceful, ... */
}

static void h_kill(struct api_req *r)
{
	char err[512] = "";
	int ret = dmn_kill(r->d, r->uid, r->id, err, sizeof(err));

	if (ret == -EINPROGRESS) {
		reply_vm(r, r->id, 202, "kill signal sent");
		return;
	}
	finish(r, ret, err, "killed");
}

static void h_quarantine(struct api_req *r)
{
	struct json_object *o = api_body_object(r), *reason = NULL;
	char err[512] = "";
	const char *why;
	int ret;

	if (!o) {
		api_error(r, 400, "quarantine needs a JSON object body: {\"reason\": \"...\"}");
		return;
	}
	json_object_object_foreach(o, k, val) {
		(void)val;
		if (strcmp(k, "reason")) {
			api_error(r, 400, "%.60s: unknown key (only \"reason\")", k);
			json_object_put(o);
			return;
		}
	}
	if (!json_object_object_get_ex(o, "reason", &reason) ||
	    !json_object_is_type(reason, json_type_string) ||
	    json_object_get_string_len(reason) == 0 || json_object_get_string_len(reason) > 200) {
		api_error(r, 400, "reason: expected a string of 1-200 characters");
		json_object_put(o);
		return;
	}
	why = json_object_get_string(reason);
	for (const char *p = why; *p; p++)
		if ((unsigned char)*p < 0x20) {
			api_error(r, 400, "reason: control characters are not allowed");
			json_object_put(o);
			return;
		}
	ret = dmn_quarantine(r->d, r->uid, r->id, why, err, sizeof(err));
	json_object_put(o);
	finish(r, ret, err, "quarantined");
}

/* Console: tail, or tail + follow (streamed until the VM's process exits). */
struct follow {
	struct daemon *d;
	struct api_server *srv;
	uid_t uid;
	char id[DVM_ID_LEN + 1];
	int fd;
	off_t off;
};

static ssize_t follow_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct follow *f = cls;

	(void)pos;
	for (int i = 0; i < 50; i++) {
		ssize_t n = pread(f->fd, buf, max, f->off);
		bool alive;

		if (n > 0) {
			f->off += n;
			return n;
		}
		pthread_mutex_lock(&f->d->lock);
		struct dvm *v = dmn_find(f->d, f->id);

		alive = v && has_process(v->state);
		pthread_mutex_unlock(&f->d->lock);
		if (!alive) {
			n = pread(f->fd, buf, max, f->off); /* the last words */
			if (n > 0) {
				f->off += n;
				return n;
			}
			return MHD_CONTENT_READER_END_OF_STREAM;
		}
		usleep(100 * 1000);
	}
	return 0; /* nothing for 5 s: MHD calls again */
}

static void follow_free(void *cls)
{
	struct follow *f = cls;

	close(f->fd);
	api_follow_release(f->srv, f->uid);
	free(f);
}

static void h_console(struct api_req *r)
{
	unsigned long long tail = CONSOLE_TAIL_DEFAULT;
	bool follow = false;
	char path[PATH_MAX], vid[DVM_ID_LEN + 1] = "";
	struct dvm *v;
	struct stat st;
	off_t start;
	int fd;

	if (!qnum(r, "tail", 0, CONSOLE_TAIL_MAX, &tail) || !qbool(r, "follow", &follow))
		return;
	if (api_lookup_locked(r, &v))
		return;
	dvm_path(r->d, v, "console.log", path, sizeof(path));
	memcpy(vid, v->id, sizeof(vid));
	pthread_mutex_unlock(&r->d->lock);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT) {
		fd = open("/dev/null", O_RDONLY | O_CLOEXEC); /* never started: empty */
	}
	if (fd < 0 || fstat(fd, &st) < 0) {
		api_error(r, 500, "console log: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	start = st.st_size > (off_t)tail ? st.st_size - (off_t)tail : 0;
	if (follow) {
		struct follow *f;

		if (!api_follow_acquire(r)) {
			close(fd);
			return;
		}
		f = calloc(1, sizeof(*f));
		if (!f) {
			close(fd);
			api_follow_release(r->srv, r->uid);
			api_error(r, 503, "out of memory");
			return;
		}
		f->srv = r->srv;
		f->uid = r->uid;
		f->d = r->d;
		memcpy(f->id, vid, sizeof(f->id));
		f->fd = fd;
		f->off = start;
		r->resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, follow_read, f,
							    follow_free);
		if (!r->resp) {
			follow_free(f);
			api_error(r, 503, "out of memory");
			return;
		}
		/* A quiet console must not be cut by the idle timeout. */
		MHD_set_connection_option(r->conn, MHD_CONNECTION_OPTION_TIMEOUT, 0u);
	} else {
		size_t len = (size_t)(st.st_size - start);
		char *buf = malloc(len ? len : 1);
		ssize_t n = buf ? pread(fd, buf, len, start) : -1;

		close(fd);
		if (n < 0) {
			free(buf);
			api_error(r, 500, "console log: cannot read it");
			return;
		}
		r->resp = MHD_create_response_from_buffer((size_t)n, buf, MHD_RESPMEM_MUST_FREE);
		if (!r->resp) {
			free(buf);
			api_error(r, 503, "out of memory");
			return;
		}
	}
	MHD_add_response_header(r->resp, "Content-Type", "text/plain; charset=utf-8");
	r->status = 200;
}

/* Is there an event after `since` that uid may see? (d->lock held) */
static bool have_event(const struct daemon *d, uid_t uid, uint64_t since)
{
	uint64_t first = d->event_seq > DMN_EVENTS ? d->event_seq - DMN_EVENTS + 1 : 1;

	for (uint64_t s = since + 1 > first ? since + 1 : first; s <= d->event_seq; s++) {
		const struct dmn_event *e = &d->events[(s - 1) % DMN_EVENTS];

		if (uid == 0 || (e->owner == uid && e->vm[0]))
			return true;
	}
	return false;
}

/* Events after `since`; with wait=S, a long poll: the reply comes as soon as
 * there is one (or after S seconds, empty). A waiting poll is one of the
 * caller's follow streams. */
static void h_events(struct api_req *r)
{
	unsigned long long since = 0, wait = 0;
	struct json_object *arr;
	struct daemon *d = r->d;
	uint64_t first;

	if (!qnum(r, "since", 0, UINT64_MAX / 2, &since) || !qnum(r, "wait", 0, 60, &wait))
		return;
	if (wait && !api_follow_acquire(r))
		return;
	arr = json_object_new_array();
	pthread_mutex_lock(&d->lock);
	if (wait) {
		struct timespec dl;

		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_sec += (time_t)wait;
		while (!have_event(d, r->uid, since))
			if (pthread_cond_timedwait(&d->cond, &d->lock, &dl) == ETIMEDOUT)
				break;
	}
	first = d->event_seq > DMN_EVENTS ? d->event_seq - DMN_EVENTS + 1 : 1;
	for (uint64_t s = since + 1 > first ? since + 1 : first; s <= d->event_seq; s++) {
		const struct dmn_event *e = &d->events[(s - 1) % DMN_EVENTS];
		struct json_object *o;

		if (e->seq != s) /* a slot an older daemon's log left behind */
			continue;
		if (r->uid != 0 && (e->owner != r->uid || !e->vm[0]))
			continue;
		o = json_object_new_object();
		json_object_object_add(o, "seq", json_object_new_int64((int64_t)e->seq));
		json_object_object_add(o, "time", json_object_new_int64(e->time));
		json_object_object_add(o, "vm", json_object_new_string(e->vm));
		json_object_object_add(o, "type", json_object_new_string(e->type));
		json_object_object_add(o, "detail", json_object_new_string(e->detail));
		json_object_array_add(arr, o);
	}
	r->json = json_object_new_object();
	json_object_object_add(r->json, "last", json_object_new_int64((int64_t)d->event_seq));
	pthread_mutex_unlock(&d->lock);
	if (wait)
		api_follow_release(r->srv, r->uid);
	json_object_object_add(r->json, "events", arr);
	r->status = 200;
}

/* The balloons of the caller's running VMs, asked for /metrics without
 * d->lock (each VM held by a ref; a busy or frozen one is skipped). */
struct metrics_balloons {
	unsigned n;
	struct dvm *v[DMN_MAX_VMS];
	bool ok[DMN_MAX_VMS];
	struct ctl_balloon b[DMN_MAX_VMS];
};

static struct metrics_balloons *metrics_balloons_get(struct daemon *d, uid_t uid)
{
	struct metrics_balloons *mb = calloc(1, sizeof(*mb));
	char err[300];

	if (!mb)
		return NULL;
	pthread_mutex_lock(&d->lock);
	for (struct dvm *v = d->vms; v && mb->n < DMN_MAX_VMS; v = v->next)
		if (dvm_visible(v, uid) && v->state == DVM_RUNNING && !v->busy && !v->frozen) {
			v->refs++;
			mb->v[mb->n++] = v;
		}
	pthread_mutex_unlock(&d->lock);
	for (unsigned i = 0; i < mb->n; i++)
		mb->ok[i] = dvm_ctl_ex(d, mb->v[i], CTL_BALLOON_INFO, 0, &mb->b[i], METRICS_CTL_MS,
				       NULL, err, sizeof(err)) == 0;
	return mb;
}

static void metrics_balloons_put(struct daemon *d, struct metrics_balloons *mb)
{
	if (!mb)
		return;
	pthread_mutex_lock(&d->lock);
	for (unsigned i = 0; i < mb->n; i++)
		mb->v[i]->refs--;
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
	free(mb);
}

/* Prometheus text exposition format 0.0.4. */
static void h_metrics(struct api_req *r)
{
	static const enum dvm_state all[] = { DVM_CREATED, DVM_STARTING, DVM_RUNNING, DVM_PAUSED,
					      DVM_QUARANTINED, DVM_STOPPING, DVM_EXITED };
	struct daemon *d = r->d;
	size_t cap = 4096 + (size_t)DMN_MAX_VMS * (4096 + VM_MAX_NETS * 2048), len = 0;
	char *buf = malloc(cap);
	unsigned count[BH_ARRAY_SIZE(all)] = { 0 };
	struct metrics_balloons *mb = metrics_balloons_get(d, r->uid);
	struct json_object *stats = api_switch_stats(d);

#define OUT(...) api_appendf(buf, cap, &len, __VA_ARGS__)

	if (!buf || !mb) {
		free(buf);
		json_object_put(stats);
		metrics_balloons_put(d, mb);
		api_error(r, 503, "out of memory");
		return;
	}
	pthread_mutex_lock(&d->lock);
	for (struct dvm *v = d->vms; v; v = v->next)
		if (dvm_visible(v, r->uid))
			count[v->state]++;
	OUT("# HELP bulkhead_vms VMs by state (visible to the caller).\n# TYPE bulkhead_vms gauge\n");
	for (size_t i = 0; i < BH_ARRAY_SIZE(all); i++)
		OUT("bulkhead_vms{state=\"%s\"} %u\n", dvm_state_name(all[i]), count[i]);
	OUT("# HELP bulkhead_api_requests_total API requests served.\n"
	    "# TYPE bulkhead_api_requests_total counter\nbulkhead_api_requests_total %llu\n",
	    (unsigned long long)d->requests);
	OUT("# HELP bulkhead_api_refusals_total Requests refused for a fair-share cap (429).\n"
	    "# TYPE bulkhead_api_refusals_total counter\nbulkhead_api_refusals_total %llu\n",
	    (unsigned long long)d->refusals);
	OUT("# HELP bulkhead_events_total Events recorded.\n"
	    "# TYPE bulkhead_events_total counter\nbulkhead_events_total %llu\n",
	    (unsigned long long)d->event_seq);
	OUT("# HELP bulkhead_vm_cpu_seconds_total CPU time of the VM's process.\n"
	    "# TYPE bulkhead_vm_cpu_seconds_total counter\n"
	    "# HELP bulkhead_vm_rss_bytes Resident memory of the VM's process (guest RAM touched included).\n"
	    "# TYPE bulkhead_vm_rss_bytes gauge\n"
	    "# HELP bulkhead_vm_vcpus vCPUs configured.\n# TYPE bulkhead_vm_vcpus gauge\n"
	    "# HELP bulkhead_vm_exits_total vCPU exits (last control status).\n"
	    "# TYPE bulkhead_vm_exits_total counter\n"
	    "# HELP bulkhead_vm_up 1 while the VM's process runs.\n# TYPE bulkhead_vm_up gauge\n"
	    "# HELP bulkhead_vm_balloon_target_bytes Balloon size asked of the guest.\n"
	    "# TYPE bulkhead_vm_balloon_target_bytes gauge\n"
	    "# HELP bulkhead_vm_balloon_held_bytes Pages in the balloon by the VMM's own record.\n"
	    "# TYPE bulkhead_vm_balloon_held_bytes gauge\n"
	    "# HELP bulkhead_vm_balloon_released_bytes_total Memory given back to the host by inflating.\n"
	    "# TYPE bulkhead_vm_balloon_released_bytes_total counter\n"
	    "# HELP bulkhead_vm_balloon_reported_bytes_total Free page reports accepted.\n"
	    "# TYPE bulkhead_vm_balloon_reported_bytes_total counter\n"
	    "# HELP bulkhead_vm_balloon_report_released_bytes_total Reported memory given back to the host.\n"
	    "# TYPE bulkhead_vm_balloon_report_released_bytes_total counter\n"
	    "# HELP bulkhead_vm_balloon_refused_total Guest balloon requests refused, by reason.\n"
	    "# TYPE bulkhead_vm_balloon_refused_total counter\n"
	    "# HELP bulkhead_vm_balloon_guest_stat The guest's own memory statistics (as it claims them).\n"
	    "# TYPE bulkhead_vm_balloon_guest_stat gauge\n"
	    "# HELP bulkhead_vm_net_rx_frames_total Frames the switch received from the NIC (the VM sent).\n"
	    "# TYPE bulkhead_vm_net_rx_frames_total counter\n"
	    "# HELP bulkhead_vm_net_rx_bytes_total Bytes the switch received from the NIC.\n"
	    "# TYPE bulkhead_vm_net_rx_bytes_total counter\n"
	    "# HELP bulkhead_vm_net_tx_frames_total Frames the switch delivered to the NIC.\n"
	    "# TYPE bulkhead_vm_net_tx_frames_total counter\n"
	    "# HELP bulkhead_vm_net_tx_bytes_total Bytes the switch delivered to the NIC.\n"
	    "# TYPE bulkhead_vm_net_tx_bytes_total counter\n"
	    "# HELP bulkhead_vm_net_drops_total Frames of the NIC the switch dropped, by reason.\n"
	    "# TYPE bulkhead_vm_net_drops_total counter\n");
	for (struct dvm *v = d->vms; v; v = v->next) {
		struct dvm_usage u = { 0 };
		double cpu;
		uint64_t rss;
		bool up = has_process(v->state) && v->pid > 0;

		if (!dvm_visible(v, r->uid))
			continue;
		if (up && dvm_read_usage(v->pid, &u))
			memset(&u, 0, sizeof(u));
		cpu = u.cpu_seconds;
		rss = u.rss_bytes;
		OUT("bulkhead_vm_up{vm=\"%s\",name=\"%s\"} %d\n", v->id, v->name, up);
		OUT("bulkhead_vm_vcpus{vm=\"%s\",name=\"%s\"} %u\n", v->id, v->name, v->ncpus);
		OUT("bulkhead_vm_cpu_seconds_total{vm=\"%s\",name=\"%s\"} %.2f\n", v->id, v->name, cpu);
		OUT("bulkhead_vm_rss_bytes{vm=\"%s\",name=\"%s\"} %llu\n", v->id, v->name,
		    (unsigned long long)rss);
		OUT("bulkhead_vm_exits_total{vm=\"%s\",name=\"%s\"} %llu\n", v->id, v->name,
		    (unsigned long long)v->stats.exits);
		for (unsigned i = 0; i < mb->n; i++)
			if (mb->v[i] == v && mb->ok[i])
				len += api_balloon_metrics(buf + len, cap - len, v->id, v->name,
							   &mb->b[i]);
		if (stats)
			len += api_net_metrics(buf + len, cap - len, v, d->sw.gen, stats);
	}
	pthread_mutex_unlock(&d->lock);
	json_object_put(stats);
	metrics_balloons_put(d, mb);
#undef OUT
	r->resp = MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
	if (!r->resp) {
		free(buf);
		api_error(r, 503, "out of memory");
		return;
	}
	MHD_add_response_header(r->resp, "Content-Type", "text/plain; version=0.0.4");
	r->status = 200;
}

static void h_version(struct api_req *r)
{
	r->json = json_object_new_object();
	json_object_object_add(r->json, "api", json_object_new_string("v1"));
#ifdef BULKHEAD_VERSION
	json_object_object_add(r->json, "version", json_object_new_string(BULKHEAD_VERSION));
#endif
	json_object_object_add(r->json, "uid", json_object_new_int64(r->uid));
	r->status = 200;
}

static const char *const q_none[] = { NULL };
static const char *const q_create[] = { "name", NULL };
static const char *const q_stop[] = { "timeout", NULL };
static const char *const q_console[] = { "tail", "follow", NULL };
static const char *const q_events[] = { "since", "wait", NULL };

/* THE route table. Keep api/openapi.yaml in step (a test compares them). */
const struct api_route api_routes[] = {
	{ "GET", "/v1/version", q_none, false, h_version },
	{ "GET", "/v1/vms", q_none, false, h_list },
	{ "POST", "/v1/vms", q_create, true, h_create },
	{ "GET", "/v1/vms/{id}", q_none, false, h_inspect },
	{ "DELETE", "/v1/vms/{id}", q_none, false, h_remove },
	{ "POST", "/v1/vms/{id}/start", q_none, false, h_start },
	{ "POST", "/v1/vms/{id}/pause", q_none, false, h_pause },
	{ "POST", "/v1/vms/{id}/resume", q_none, false, h_resume },
	{ "POST", "/v1/vms/{id}/stop", q_stop, false, h_stop },
	{ "POST", "/v1/vms/{id}/kill", q_none, false, h_kill },
	{ "POST", "/v1/vms/{id}/quarantine", q_none, true, h_quarantine },
	{ "POST", "/v1/vms/{id}/exec", q_none, true, api_h_exec },
	{ "GET", "/v1/vms/{id}/console", q_console, false, h_console },
	{ "PUT", "/v1/vms/{id}/balloon", q_none, true, api_h_balloon },
	{ "POST", "/v1/vms/{id}/snapshot", q_none, true, api_h_snapshot },
	{ "DELETE", "/v1/vms/{id}/snapshots/{name}", q_none, false, api_h_snapshot_remove },
	{ "GET", "/v1/networks", q_none, false, api_h_networks },
	{ "POST", "/v1/networks", q_none, true, api_h_network_create },
	{ "GET", "/v1/networks/{id}", q_none, false, api_h_network_get },
	{ "DELETE", "/v1/networks/{id}", q_none, false, api_h_network_remove },
	{ "GET", "/v1/events", q_events, false, h_events },
	{ "GET", "/metrics", q_none, false, h_metrics },
};
const size_t api_nroutes = BH_ARRAY_SIZE(api_routes);
