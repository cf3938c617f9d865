/* vmtab.c — the VM table: records, lookup, ownership, events, persistence,
 * create and remove. See daemon.h. */
#include "daemon/daemon.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "config/config_json.h"
#include "common/log.h"

uint64_t dmn_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

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

bool dvm_visible(const struct dvm *v, uid_t uid)
{
	return uid == 0 || v->owner == uid;
}

struct dvm *dmn_find(struct daemon *d, const char *id_or_name)
{
	for (struct dvm *v = d->vms; v; v = v->next)
		if (!strcmp(v->id, id_or_name) || (v->name[0] && !strcmp(v->name, id_or_name)))
			return v;
	return NULL;
}

int dmn_lookup(struct daemon *d, uid_t uid, const char *id, struct dvm **out, char *err,
	       size_t errlen)
{
	struct dvm *v = dmn_find(d, id);

	if (!v) {
		snprintf(err, errlen, "no VM '%.64s'", id);
		return 404;
	}
	if (!dvm_visible(v, uid)) {
		d->refusals++;
		snprintf(err, errlen, "VM '%.64s' belongs to uid %u; uid %u may not see or control it",
			 id, (unsigned)v->owner, (unsigned)uid);
		return 403;
	}
	*out = v;
	return 200;
}

void dvm_path(const struct daemon *d, const struct dvm *v, const char *file, char *buf,
	      size_t len)
{
	snprintf(buf, len, "%s/vms/%s%s%s", d->state_dir, v->id, file ? "/" : "", file ? file : "");
}

void dmn_event(struct daemon *d, const struct dvm *v, const char *type, const char *fmt, ...)
{
	struct dmn_event *e = &d->events[d->event_seq % DMN_EVENTS];
	struct json_object *o;
	va_list ap;

	memset(e, 0, sizeof(*e));
	e->seq = ++d->event_seq;
	e->time = (int64_t)time(NULL);
	e->owner = v ? v->owner : 0;
	if (v)
		memcpy(e->vm, v->id, sizeof(e->vm));
	snprintf(e->type, sizeof(e->type), "%s", type);
	va_start(ap, fmt);
	vsnprintf(e->detail, sizeof(e->detail), fmt, ap);
	va_end(ap);
	bh_info("event %llu: %s %s %s", (unsigned long long)e->seq, e->vm, e->type, e->detail);
	if (d->events_fd < 0)
		return;
	o = json_object_new_object();
	if (!o)
		return;
	json_object_object_add(o, "seq", json_object_new_int64((int64_t)e->seq));
	json_object_object_add(o, "time", json_object_new_int64(e->time));
	json_object_object_add(o, "vm", json_object_new_string(e->vm));
	json_object_object_add(o, "owner", json_object_new_int64(e->owner));
	json_object_object_add(o, "type", json_object_new_string(e->type));
	json_object_object_add(o, "detail", json_object_new_string(e->detail));
	{
		char line[1024];
		int n = snprintf(line, sizeof(line), "%s\n",
				 json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));

		if (n > 0 && (size_t)n < sizeof(line) && write(d->events_fd, line, (size_t)n) < 0)
			bh_warn("events.log: %s", strerror(errno));
	}
	json_object_put(o);
}

/* Write `text` to dir/file atomically: tmp, fsync, rename, fsync dir. */
static int write_atomic(const char *dir, const char *file, const char *text, size_t len)
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
	json_object_object_add(o, "created_at", json_object_new_int64(v->created_at));
	json_object_object_add(o, "started_at", json_object_new_int64(v->started_at));
	json_object_object_add(o, "exit_code", json_object_new_int(v->exit_code));
	json_object_object_add(o, "exit_signal", json_object_new_int(v->exit_signal));
	json_object_object_add(o, "exit_reason", json_object_new_string(v->exit_reason));
	json_object_object_add(o, "exit_detail", json_object_new_string(v->exit_detail));
	json_object_object_add(o, "quarantine_reason",
			       json_object_new_string(v->quarantine_reason));
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
	dvm_path(d, v, NULL, dir, sizeof(dir));
	ret = write_atomic(dir, "state.json", text, strlen(text));
	json_object_put(o);
	if (ret)
		bh_warn("VM %s: cannot save state.json: %s", v->id, strerror(-ret));
	return ret;
}

static struct dvm *dvm_new(void)
{
	struct dvm *v = calloc(1, sizeof(*v));

	if (!v)
		return NULL;
	v->pidfd = -1;
	v->ctl_fd = -1;
	v->exit_code = -1;
	pthread_mutex_init(&v->ctl_lock, NULL);
	return v;
}

static void dvm_free(struct dvm *v)
{
	if (v->pidfd >= 0)
		close(v->pidfd);
	if (v->ctl_fd >= 0)
		close(v->ctl_fd);
	pthread_mutex_destroy(&v->ctl_lock);
	free(v);
}

int dmn_init(struct daemon *d, const char *state_dir, const char *vmm_path, char *err,
	     size_t errlen)
{
	char path[PATH_MAX];
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

	memset(d, 0, sizeof(*d));
	d->events_fd = d->sup_ep = d->wake_fd = -1;
	d->stop_timeout_s = 10;
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->cond, NULL);
	if (snprintf(d->state_dir, sizeof(d->state_dir), "%s", state_dir) >=
		    (int)sizeof(d->state_dir) ||
	    snprintf(d->vmm_path, sizeof(d->vmm_path), "%s", vmm_path) >=
		    (int)sizeof(d->vmm_path)) {
		snprintf(err, errlen, "state directory or VMM path too long");
		return -ENAMETOOLONG;
	}
	snprintf(path, sizeof(path), "%s/vms", state_dir);
	/* 0711: VMMs of non-root owners must reach their own files inside
	 * (console log, config) by path; nobody can list the directories. */
	if ((mkdir(state_dir, 0711) < 0 && errno != EEXIST) || chmod(state_dir, 0711) < 0 ||
	    (mkdir(path, 0711) < 0 && errno != EEXIST) || chmod(path, 0711) < 0) {
		snprintf(err, errlen, "--state-dir %.200s: %s", state_dir, strerror(errno));
		return -errno;
	}
	snprintf(path, sizeof(path), "%s/events.log", state_dir);
	d->events_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (d->events_fd < 0) {
		snprintf(err, errlen, "%.200s: %s", path, strerror(errno));
		return -errno;
	}
	d->sup_ep = epoll_create1(EPOLL_CLOEXEC);
	d->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->sup_ep < 0 || d->wake_fd < 0 ||
	    epoll_ctl(d->sup_ep, EPOLL_CTL_ADD, d->wake_fd, &ev) < 0) {
		snprintf(err, errlen, "epoll/eventfd: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

void dmn_destroy(struct daemon *d)
{
	struct dvm *v, *n;

	for (v = d->vms; v; v = n) {
		n = v->next;
		dvm_free(v); /* VMMs keep running: a restarted daemon re-attaches */
	}
	d->vms = NULL;
	if (d->events_fd >= 0)
		close(d->events_fd);
	if (d->sup_ep >= 0)
		close(d->sup_ep);
	if (d->wake_fd >= 0)
		close(d->wake_fd);
	pthread_cond_destroy(&d->cond);
	pthread_mutex_destroy(&d->lock);
}

static bool valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > DVM_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      (i > 0 && (c == '-' || c == '_' || c == '.'))))
			return false;
	}
	return true;
}

int dmn_create(struct daemon *d, uid_t uid, const char *name, const char *body, size_t len,
	       char *id_out, char *err, size_t errlen)
{
	struct vm_config cfg;
	struct json_object *root = NULL;
	char dir[PATH_MAX], msg[400];
	struct dvm *v;
	uint8_t rnd[DVM_ID_LEN / 2];
	int ret;

	config_json_defaults(&cfg);
	if (config_json_parse(body, len, CONFIG_JSON_ABS_PATHS | CONFIG_JSON_NEED_KERNEL, &cfg,
			      &root, msg, sizeof(msg))) {
		snprintf(err, errlen, "%s", msg);
		return 422;
	}
	if (name && !valid_name(name)) {
		config_json_free(root);
		snprintf(err, errlen,
			 "name '%.64s': 1-%d letters, digits, '-', '_' or '.', starting with a letter or digit",
			 name, DVM_NAME_MAX);
		return 400;
	}
	v = dvm_new();
	if (!v) {
		config_json_free(root);
		snprintf(err, errlen, "out of memory");
		return 503;
	}
	v->owner = uid;
	v->state = DVM_CREATED;
	v->ncpus = cfg.ncpus;
	v->mem_bytes = cfg.mem_bytes;
	v->created_at = (int64_t)time(NULL);
	config_json_free(root);

	pthread_mutex_lock(&d->lock);
	if (d->nvms >= DMN_MAX_VMS) {
		ret = 503;
		snprintf(err, errlen, "the daemon already manages %d VMs", DMN_MAX_VMS);
		goto fail;
	}
	if (name && dmn_find(d, name)) {
		ret = 409;
		snprintf(err, errlen, "name '%s' is already taken", name);
		goto fail;
	}
	if (name)
		snprintf(v->name, sizeof(v->name), "%s", name);
	do {
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
			ret = 500;
			snprintf(err, errlen, "getrandom: %s", strerror(errno));
			goto fail;
		}
		for (size_t i = 0; i < sizeof(rnd); i++)
			snprintf(v->id + 2 * i, 3, "%02x", rnd[i]);
	} while (dmn_find(d, v->id));
	dvm_path(d, v, NULL, dir, sizeof(dir));
	if (mkdir(dir, 0711) < 0 || chmod(dir, 0711) < 0) {
		ret = 500;
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		goto fail;
	}
	if (write_atomic(dir, "config.json", body, len) || dvm_save(d, v)) {
		ret = 500;
		snprintf(err, errlen, "cannot write the VM's files under %s", dir);
		goto fail;
	}
	v->next = d->vms;
	d->vms = v;
	d->nvms++;
	memcpy(id_out, v->id, DVM_ID_LEN + 1);
	dmn_event(d, v, "created", "%u vCPUs, %llu MiB", v->ncpus,
		  (unsigned long long)(v->mem_bytes >> 20));
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
	return 201;
fail:
	pthread_mutex_unlock(&d->lock);
	dvm_free(v);
	return ret;
}

static void remove_tree(const char *dir)
{
	static const char *const files[] = { "state.json", "config.json", "ctl.sock",
					     "console.log", "vmm.log", ".state.json.tmp",
					     ".config.json.tmp" };
	char p[PATH_MAX];

	for (size_t i = 0; i < BH_ARRAY_SIZE(files); i++) {
		if (snprintf(p, sizeof(p), "%s/%s", dir, files[i]) < (int)sizeof(p))
			unlink(p);
	}
	if (rmdir(dir) < 0)
		bh_warn("%s: %s", dir, strerror(errno));
}

int dmn_remove(struct daemon *d, uid_t uid, const char *id, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	struct dvm *v, **pp;
	int ret;

	pthread_mutex_lock(&d->lock);
	ret = dmn_lookup(d, uid, id, &v, err, errlen);
	if (ret != 200)
		goto out;
	if (v->busy || v->refs) {
		ret = 409;
		snprintf(err, errlen, "VM %s: another operation is in progress", v->id);
		goto out;
	}
	if (v->state != DVM_CREATED && v->state != DVM_EXITED) {
		ret = 409;
		snprintf(err, errlen, "VM %s is %s: stop or kill it before removing it", v->id,
			 dvm_state_name(v->state));
		goto out;
	}
	for (pp = &d->vms; *pp != v; pp = &(*pp)->next)
		;
	*pp = v->next;
	d->nvms--;
	dvm_path(d, v, NULL, dir, sizeof(dir));
	remove_tree(dir);
	dmn_event(d, v, "removed", "by uid %u", (unsigned)uid);
	dvm_free(v);
	ret = 200;
out:
	pthread_mutex_unlock(&d->lock);
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
