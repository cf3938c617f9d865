/* snapshot.c — snapshots in the API: POST /v1/vms/{id}/snapshot,
 * DELETE /v1/vms/{id}/snapshots/{name}, the
 * from-snapshot body of POST /v1/vms, and the snapshot fields of a VM
 * (README "Snapshots through the daemon"; the rules: daemon/snap.c). */
#include "api/api.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>
#include <microhttpd.h>

#include "daemon/daemon.h"

/* Only the keys of `allowed` (NULL-terminated); false after a 400 reply. */
static bool only_keys(struct api_req *r, struct json_object *o, const char *const *allowed)
{
	json_object_object_foreach(o, k, val) {
		bool known = false;

		(void)val;
		for (const char *const *a = allowed; *a; a++)
			known = known || !strcmp(k, *a);
		if (!known) {
			api_error(r, 400, "%.60s: unknown key (expected %s%s%s%s%s)", k, allowed[0],
				  allowed[1] ? ", " : "", allowed[1] ? allowed[1] : "",
				  allowed[1] && allowed[2] ? ", " : "",
				  allowed[1] && allowed[2] ? allowed[2] : "");
			return false;
		}
	}
	return true;
}

/* Optional boolean key; false after a 400 reply. */
static bool opt_bool(struct api_req *r, struct json_object *o, const char *key, bool *out)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		return true;
	if (!json_object_is_type(v, json_type_boolean)) {
		api_error(r, 400, "%s: expected true or false", key);
		return false;
	}
	*out = json_object_get_boolean(v);
	return true;
}

/* Optional string key of 1..max bytes without NUL or control characters. */
static bool opt_str(struct api_req *r, struct json_object *o, const char *key, size_t max,
		    const char **out)
{
	struct json_object *v;
	const char *s;
	size_t len;

	if (!json_object_object_get_ex(o, key, &v))
		return true;
	if (!json_object_is_type(v, json_type_string)) {
		api_error(r, 400, "%s: expected a string", key);
		return false;
	}
	s = json_object_get_string(v);
	len = (size_t)json_object_get_string_len(v);
	if (len == 0 || len > max || strlen(s) != len) {
		api_error(r, 400, "%s: expected 1-%zu characters without NUL", key, max);
		return false;
	}
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			api_error(r, 400, "%s: control characters are not allowed", key);
			return false;
		}
	*out = s;
	return true;
}

void api_h_snapshot(struct api_req *r)
{
	static const char *const keys[] = { "resume", "name", NULL };
	char name[DSNAP_NAME_MAX + 1] = "", err[512] = "";
	struct json_object *o = NULL, *snaps;
	const char *want = NULL;
	bool resume = false;
	struct dvm *v;
	int ret;

	if (r->body_len) {
		o = api_body_object(r);
		if (!o) {
			api_error(r, 400, "snapshot takes no body or a JSON object: "
				  "{\"resume\": true, \"name\": \"...\"}");
			return;
		}
		if (!only_keys(r, o, keys) || !opt_bool(r, o, "resume", &resume) ||
		    !opt_str(r, o, "name", DSNAP_NAME_MAX, &want)) {
			json_object_put(o);
			return;
		}
	}
	ret = dmn_snapshot(r->d, r->uid, r->id, resume, want, name, sizeof(name), err,
			   sizeof(err));
	json_object_put(o);
	if (ret) {
		api_error(r, api_status_of(ret), "%s", err);
		return;
	}
	pthread_mutex_lock(&r->d->lock);
	if (dmn_lookup(r->d, r->uid, r->id, &v, err, sizeof(err)) == 0) {
		char path[PATH_MAX], src[DVM_ID_LEN + DSNAP_NAME_MAX + 2];

		r->json = json_object_new_object();
		json_object_object_add(r->json, "id", json_object_new_string(v->id));
		json_object_object_add(r->json, "state",
				       json_object_new_string(dvm_state_name(v->state)));
		json_object_object_add(r->json, "snapshot", json_object_new_string(name));
		snprintf(src, sizeof(src), "%s/%s", v->id, name);
		json_object_object_add(r->json, "source", json_object_new_string(src));
		dvm_snap_path(r->d, v, name, path, sizeof(path));
		json_object_object_add(r->json, "path", json_object_new_string(path));
		snaps = dvm_snapshots_json(r->d, v);
		/* this snapshot's entry (size, time) */
		for (size_t i = 0; i < json_object_array_length(snaps); i++) {
			struct json_object *e = json_object_array_get_idx(snaps, i), *n;

			if (json_object_object_get_ex(e, "name", &n) &&
			    !strcmp(json_object_get_string(n), name))
				json_object_object_add(r->json, "details", json_object_get(e));
		}
		json_object_put(snaps);
		r->status = 201;
	} else {
		api_error(r, 404, "%s", err); /* removed meanwhile */
	}
	pthread_mutex_unlock(&r->d->lock);
}

void api_h_snapshot_remove(struct api_req *r)
{
	char vm[sizeof(r->id)], err[512] = "";
	char *slash;
	int ret;

	memcpy(vm, r->id, sizeof(vm));
	slash = strchr(vm, '/');
	if (!slash) { /* the route has {name}: cannot happen */
		api_error(r, 404, "no snapshot named");
		return;
	}
	*slash = '\0';
	ret = dmn_snapshot_remove(r->d, r->uid, vm, slash + 1, err, sizeof(err));
	if (ret) {
		api_error(r, api_status_of(ret), "%s", err);
		return;
	}
	r->json = json_object_new_object();
	json_object_object_add(r->json, "id", json_object_new_string(vm));
	json_object_object_add(r->json, "snapshot", json_object_new_string(slash + 1));
	json_object_object_add(r->json, "result", json_object_new_string("removed"));
	r->status = 200;
}

bool api_create_from_snapshot(struct api_req *r, const char *name, char *id_out, char *err,
			      size_t errlen, int *ret_out)
{
	static const char *const keys[] = { "from_snapshot", "paused", NULL };
	struct json_object *o = api_body_object(r), *src;
	const char *source = NULL;
	bool paused = false;

	if (!o || !json_object_object_get_ex(o, "from_snapshot", &src)) {
		json_object_put(o);
		return false; /* a VM configuration: dmn_create's */
	}
	if (!only_keys(r, o, keys) || !opt_str(r, o, "from_snapshot", 1000, &source) ||
	    !opt_bool(r, o, "paused", &paused)) {
		json_object_put(o);
		*ret_out = -EINVAL;
		return true; /* replied */
	}
	*ret_out = dmn_create_from_snapshot(r->d, r->uid, name, source, paused, id_out, err,
					    errlen);
	if (*ret_out)
		api_error(r, api_status_of(*ret_out), "%s", err);
	json_object_put(o);
	return true;
}

void api_snapshot_fields(struct daemon *d, const struct dvm *v, struct json_object *o,
			 bool list)
{
	if (v->from_snap[0]) {
		json_object_object_add(o, "from_snapshot", json_object_new_string(v->from_snap));
		json_object_object_add(o, "restore_paused", json_object_new_boolean(v->restore_paused));
		if (v->clone_index)
			json_object_object_add(o, "clone_index",
					       json_object_new_int((int32_t)v->clone_index));
	}
	if (v->forensic[0]) {
		char path[PATH_MAX];

		dvm_snap_path(d, v, v->forensic, path, sizeof(path));
		json_object_object_add(o, "forensic_snapshot", json_object_new_string(path));
	} else if (v->forensic_error[0]) {
		json_object_object_add(o, "forensic_snapshot_error",
				       json_object_new_string(v->forensic_error));
	}
	if (list)
		json_object_object_add(o, "snapshots", dvm_snapshots_json(d, v));
}
