/* vm_record.c — a VM's record on disk: STATE_DIR/vms/ID/state.json, written
 * atomically after every change (dvm_save) and loaded, validated like any
 * input, when the daemon starts (dmn_load); the state names both use.
 * See daemon.h ("Persistence"). */
#include "daemon/daemon.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "config/cpu_place.h"
#include "common/log.h"

static const char *const state_names[] = {
	[DVM_CREATED] = "created",   [DVM_STARTING] = "starting", [DVM_RUNNING] = "running",
	[DVM_PAUSED] = "paused",     [DVM_QUARANTINED] = "quarantined",
	[DVM_STOPPING] = "stopping", [DVM_EXITED] = "exited",
};

const char *dvm_state_name(enum dvm_state s)
{
	return (unsigned)s < BH_ARRAY_SIZE(state_names) ? state_names[s] : "unknown";
}

static int state_from_name(const char *s, enum dvm_state *out)
{
	for (unsigned i = 0; i < BH_ARRAY_SIZE(state_names); i++)
		if (!strcmp(s, state_names[i])) {
			*out = (enum dvm_state)i;
			return 0;
		}
	return -EINVAL;
}

/* Write `text` to dir/file atomically: tmp, fsync, rename, fsync dir. */
int dmn_write_atomic(const char *dir, const char *file, const char *text, size_t len)
{
	char tmp[PATH_MAX], dst[PATH_MAX];
	int fd, dfd, ret = 0;

	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, file);
	snprintf(dst, sizeof(dst), "%s/%s", dir, file);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	for (size_t off = 0; off < len;) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = n < 0 ? -errno : -EIO;
			break;
		}
		off += (size_t)n;
	}
	if (!ret && fsync(fd) < 0)
		ret = -errno;
	close(fd);
	if (!ret && rename(tmp, dst) < 0)
		ret = -errno;
	if (ret) {
		unlink(tmp);
		return ret;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

int dvm_save(struct daemon *d, const struct dvm *v)
{
	char dir[PATH_MAX];
	struct json_object *o = json_object_new_object();
	const char *text;
	int ret;

	if (!o)
		return -ENOMEM;
	json_object_object_add(o, "version", json_object_new_int(1));
	json_object_object_add(o, "id", json_object_new_string(v->id));
	json_object_object_add(o, "name", json_object_new_string(v->name));
	json_object_object_add(o, "owner", json_object_new_int64(v->owner));
	json_object_object_add(o, "state", json_object_new_string(dvm_state_name(v->state)));
	json_object_object_add(o, "pid", json_object_new_int64(v->pid));
	json_object_object_add(o, "pid_start", json_object_new_int64((int64_t)v->pid_start));
	json_object_object_add(o, "ncpus", json_object_new_int64(v->ncpus));
	json_object_object_add(o, "mem_bytes", json_object_new_int64((int64_t)v->mem_bytes));
	if (v->cpu.placed && CPU_COUNT(&v->cpu.dedicated)) { /* cpu_alloc.h: held cores */
		char list[256];

		cpu_place_format(&v->cpu.dedicated, list, sizeof(list));
		json_object_object_add(o, "cpu_dedicated", json_object_new_string(list));
	}
	json_object_object_add(o, "created_at", json_object_new_int64(v->created_at));
	json_object_object_add(o, "started_at", json_object_new_int64(v->started_at));
	json_object_object_add(o, "exit_code", json_object_new_int(v->exit_code));
	json_object_object_add(o, "exit_signal", json_object_new_int(v->exit_signal));
	json_object_object_add(o, "exit_reason", json_object_new_string(v->exit_reason));
	json_object_object_add(o, "exit_detail", json_object_new_string(v->exit_detail));
	json_object_object_add(o, "quarantine_reason",
			       json_object_new_string(v->quarantine_reason));
	json_object_object_add(o, "frozen", json_object_new_boolean(v->frozen));
	json_object_object_add(o, "console_max", json_object_new_int64((int64_t)v->console_max));
	if (v->from_snap[0]) {
		json_object_object_add(o, "from_snapshot", json_object_new_string(v->from_snap));
		json_object_object_add(o, "restore_paused", json_object_new_boolean(v->restore_paused));
		if (v->clone_index)
			json_object_object_add(o, "clone_index", json_object_new_int(
						       (int32_t)v->clone_index));
	}
	if (v->forensic[0])
		json_object_object_add(o, "forensic", json_object_new_string(v->forensic));
	if (v->forensic_error[0])
		json_object_object_add(o, "forensic_error",
				       json_object_new_string(v->forensic_error));
	{
		struct json_object *a = json_object_new_array();

		for (unsigned i = 0; i < v->nnics && i < VM_MAX_NETS; i++)
			json_object_array_add(a, json_object_new_string(v->nets[i]));
		json_object_object_add(o, "networks", a);
		json_object_object_add(o, "on_violation",
				       json_object_new_string(v->on_violation_quarantine
								      ? "quarantine" : "count"));
	}
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
	dvm_path(d, v, NULL, dir, sizeof(dir));
	ret = dmn_write_atomic(dir, "state.json", text, strlen(text));
	json_object_put(o);
	if (ret)
		bh_warn("VM %s: cannot save state.json: %s", v->id, strerror(-ret));
	return ret;
}

/* ---- loading state.json at startup ---- */

static const char *jstr(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v)
		       : NULL;
}

static bool jint(struct json_object *o, const char *k, int64_t *out)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_int))
		return false;
	*out = json_object_get_int64(v);
	return true;
}

/* Parse one state.json; validated like any input. */
static struct dvm *load_one(const char *dir, const char *id, char *why, size_t whylen)
{
	char path[PATH_MAX];
	struct json_object *o;
	const char *s, *name, *st;
	int64_t owner, pid, pstart, ncpus, mem, cat, sat, ec, es;
	struct dvm *v;

	if (snprintf(path, sizeof(path), "%s/%s/state.json", dir, id) >= (int)sizeof(path)) {
		snprintf(why, whylen, "path too long");
		return NULL;
	}
	o = json_object_from_file(path);
	if (!o) {
		snprintf(why, whylen, "unreadable or not JSON");
		return NULL;
	}
	s = jstr(o, "id");
	name = jstr(o, "name");
	st = jstr(o, "state");
	if (!s || strcmp(s, id) || strlen(s) != DVM_ID_LEN || !name ||
	    strlen(name) > DVM_NAME_MAX || !st || !jint(o, "owner", &owner) || owner < 0 ||
	    owner > 0xfffffffeLL || !jint(o, "pid", &pid) || pid < 0 || pid > 0x3fffffff ||
	    !jint(o, "pid_start", &pstart) || !jint(o, "ncpus", &ncpus) ||
	    !jint(o, "mem_bytes", &mem) || !jint(o, "created_at", &cat) ||
	    !jint(o, "started_at", &sat) || !jint(o, "exit_code", &ec) ||
	    !jint(o, "exit_signal", &es)) {
		snprintf(why, whylen, "missing or malformed fields");
		json_object_put(o);
		return NULL;
	}
	v = dvm_new();
	if (!v) {
		json_object_put(o);
		return NULL;
	}
	memcpy(v->id, id, DVM_ID_LEN + 1);
	snprintf(v->name, sizeof(v->name), "%s", name);
	if (state_from_name(st, &v->state)) {
		snprintf(why, whylen, "unknown state '%.32s'", st);
		json_object_put(o);
		dvm_free(v);
		return NULL;
	}
	v->owner = (uid_t)owner;
	v->pid = (pid_t)pid;
	v->pid_start = (uint64_t)pstart;
	v->ncpus = (unsigned)ncpus;
	v->mem_bytes = (uint64_t)mem;
	v->created_at = cat;
	v->started_at = sat;
	v->exit_code = (int)ec;
	v->exit_signal = (int)es;
	if ((s = jstr(o, "exit_reason")))
		snprintf(v->exit_reason, sizeof(v->exit_reason), "%s", s);
	if ((s = jstr(o, "exit_detail")))
		snprintf(v->exit_detail, sizeof(v->exit_detail), "%s", s);
	if ((s = jstr(o, "quarantine_reason")))
		snprintf(v->quarantine_reason, sizeof(v->quarantine_reason), "%s", s);
	if ((s = jstr(o, "from_snapshot")))
		snprintf(v->from_snap, sizeof(v->from_snap), "%s", s);
	if ((s = jstr(o, "forensic")))
		snprintf(v->forensic, sizeof(v->forensic), "%s", s);
	if ((s = jstr(o, "forensic_error")))
		snprintf(v->forensic_error, sizeof(v->forensic_error), "%s", s);
	{
		struct json_object *rp;

		v->restore_paused = json_object_object_get_ex(o, "restore_paused", &rp) &&
				    json_object_is_type(rp, json_type_boolean) &&
				    json_object_get_boolean(rp);
		if (json_object_object_get_ex(o, "clone_index", &rp) &&
		    json_object_is_type(rp, json_type_int) && json_object_get_int(rp) > 0 &&
		    json_object_get_int(rp) <= 64)
			v->clone_index = (unsigned)json_object_get_int(rp);
	}
	/* Dedicated cores it held (re-claimed by dcpu_reattach if it still runs). */
	if ((s = jstr(o, "cpu_dedicated")) && cpu_place_parse_list(s, &v->cpu.dedicated))
		CPU_ZERO(&v->cpu.dedicated);
	{
		struct json_object *fz;

		int64_t cm;

		v->frozen = json_object_object_get_ex(o, "frozen", &fz) &&
			    json_object_is_type(fz, json_type_boolean) && json_object_get_boolean(fz);
		/* absent (older record) or out of range: the daemon's maximum */
		v->console_max = jint(o, "console_max", &cm) && cm > 0 ? (uint64_t)cm : 0;
	}
	{
		struct json_object *a, *e;

		/* the NICs' networks (absent in older records: none) */
		if (json_object_object_get_ex(o, "networks", &a) &&
		    json_object_is_type(a, json_type_array) &&
		    json_object_array_length(a) <= VM_MAX_NETS) {
			v->nnics = (unsigned)json_object_array_length(a);
			for (unsigned i = 0; i < v->nnics; i++) {
				e = json_object_array_get_idx(a, i);
				if (json_object_is_type(e, json_type_string) &&
				    json_object_get_string_len(e) <= DNET_NAME_MAX)
					snprintf(v->nets[i], sizeof(v->nets[i]), "%s",
						 json_object_get_string(e));
			}
		}
		v->on_violation_quarantine = (s = jstr(o, "on_violation")) &&
					     !strcmp(s, "quarantine");
	}
	json_object_put(o);
	return v;
}

int dmn_load(struct daemon *d)
{
	char dir[PATH_MAX], why[128];
	struct dirent *de;
	DIR *dp;

	snprintf(dir, sizeof(dir), "%s/vms", d->state_dir);
	dp = opendir(dir);
	if (!dp)
		return -errno;
	while ((de = readdir(dp))) {
		struct dvm *v;

		if (de->d_name[0] == '.' || strlen(de->d_name) != DVM_ID_LEN)
			continue;
		if (d->nvms >= DMN_MAX_VMS) {
			bh_warn("more than %d VMs in %s: ignoring the rest", DMN_MAX_VMS, dir);
			break;
		}
		why[0] = '\0';
		v = load_one(dir, de->d_name, why, sizeof(why));
		if (!v) {
			bh_warn("%s/%s/state.json: %s: skipped", dir, de->d_name, why);
			continue;
		}
		v->next = d->vms;
		d->vms = v;
		d->nvms++;
		dvm_reattach(d, v);
	}
	closedir(dp);
	return 0;
}
