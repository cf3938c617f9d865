/* vmtab.c — the VM table: records, lookup, ownership, events, create and
 * remove. A record's file (state.json: write, load) is vm_record.c's.
 * See daemon.h. */
#include "daemon/daemon.h"

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
#include "config/schema.h"
#include "common/log.h"

uint64_t dmn_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
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

int dmn_find_for(struct daemon *d, uid_t uid, const char *id_or_name, struct dvm **out)
{
	struct dvm *byname = NULL;
	unsigned nnames = 0;

	for (struct dvm *v = d->vms; v; v = v->next) {
		if (!dvm_visible(v, uid))
			continue;
		if (!strcmp(v->id, id_or_name)) {
			*out = v;
			return 0;
		}
		if (v->name[0] && !strcmp(v->name, id_or_name)) {
			/* root: its own VM of that name first */
			if (!byname || (v->owner == uid && byname->owner != uid))
				byname = v;
			nnames++;
		}
	}
	if (!byname)
		return -ENOENT;
	if (nnames > 1 && byname->owner != uid)
		return -EEXIST;
	*out = byname;
	return 0;
}

int dmn_lookup(struct daemon *d, uid_t uid, const char *id, struct dvm **out, char *err,
	       size_t errlen)
{
	int ret = dmn_find_for(d, uid, id, out);

	if (ret == -ENOENT)
		/* The same answer whether it does not exist or is another
		 * user's: a VM's existence is its owner's business. */
		snprintf(err, errlen, "no VM '%.64s'", id);
	else if (ret == -EEXIST)
		snprintf(err, errlen, "VMs of several users are named '%.64s': use the VM's ID", id);
	return ret;
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
	pthread_cond_broadcast(&d->cond); /* long polls of GET /v1/events */
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

/* A restarted daemon continues the event log where it ended: sequence
 * numbers stay monotonic across restarts (a poller that asks for events
 * after N must never miss later ones), and the last DMN_EVENTS events are
 * served again. Reads the log's tail (lines are < 1 KiB); a line that is
 * not an event is skipped. */
#define EVENTS_TAIL (DMN_EVENTS * 1024)
static void events_load(struct daemon *d, int fd)
{
	char *buf = malloc(EVENTS_TAIL + 1), *line, *nl;
	off_t size = lseek(fd, 0, SEEK_END), from;
	ssize_t n;

	if (!buf || size <= 0) {
		free(buf);
		return;
	}
	from = size > EVENTS_TAIL ? size - EVENTS_TAIL : 0;
	n = pread(fd, buf, EVENTS_TAIL, from);
	if (n <= 0) {
		free(buf);
		return;
	}
	buf[n] = '\0';
	line = buf;
	if (from > 0 && (nl = strchr(line, '\n'))) /* skip a partial first line */
		line = nl + 1;
	for (; *line; line = nl + 1) {
		struct json_object *o, *f;
		struct dmn_event *e;
		int64_t seq;

		if (!(nl = strchr(line, '\n')))
			break; /* a line cut short (a crash mid-write) */
		*nl = '\0';
		o = json_tokener_parse(line);
		if (!o || !json_object_object_get_ex(o, "seq", &f) ||
		    (seq = json_object_get_int64(f)) <= 0 || seq >= INT64_MAX / 2) {
			json_object_put(o);
			continue;
		}
		e = &d->events[(uint64_t)(seq - 1) % DMN_EVENTS];
		memset(e, 0, sizeof(*e));
		e->seq = (uint64_t)seq;
		if (json_object_object_get_ex(o, "time", &f))
			e->time = json_object_get_int64(f);
		if (json_object_object_get_ex(o, "owner", &f))
			e->owner = (uid_t)json_object_get_int64(f);
		if (json_object_object_get_ex(o, "vm", &f))
			snprintf(e->vm, sizeof(e->vm), "%s", json_object_get_string(f));
		if (json_object_object_get_ex(o, "type", &f))
			snprintf(e->type, sizeof(e->type), "%s", json_object_get_string(f));
		if (json_object_object_get_ex(o, "detail", &f))
			snprintf(e->detail, sizeof(e->detail), "%s", json_object_get_string(f));
		/* The highest number ever used: a log written before this fix
		 * may restart at 1 after a higher one. */
		if ((uint64_t)seq > d->event_seq)
			d->event_seq = (uint64_t)seq;
		json_object_put(o);
	}
	free(buf);
	if (d->event_seq)
		bh_info("events: continuing after seq %llu (events.log)",
			(unsigned long long)d->event_seq);
}

struct dvm *dvm_new(void)
{
	struct dvm *v = calloc(1, sizeof(*v));

	if (!v)
		return NULL;
	v->pidfd = -1;
	v->ctl_fd = -1;
	v->log_pipe = v->log_out = -1;
	v->exit_code = -1;
	pthread_mutex_init(&v->ctl_lock, NULL);
	return v;
}

void dvm_free(struct dvm *v)
{
	if (v->pidfd >= 0)
		close(v->pidfd);
	if (v->ctl_fd >= 0)
		close(v->ctl_fd);
	if (v->log_pipe >= 0)
		close(v->log_pipe);
	if (v->log_out >= 0)
		close(v->log_out);
	pthread_mutex_destroy(&v->ctl_lock);
	free(v);
}

void dmn_limits_default(struct dmn_limits *l)
{
	*l = (struct dmn_limits){
		.vms_per_uid = 32,
		.mem_per_uid = 64ULL << 30,
		.console_max = 64ULL << 20,
		.vmm_log_max = 1ULL << 20,
		.ctl_timeout_ms = 5000,
		.conns_per_uid = 16,
		.follows_per_uid = 4,
		.root_reserve = 8,
	};
}

int dmn_init(struct daemon *d, const char *state_dir, const char *vmm_path, char *err,
	     size_t errlen)
{
	char path[PATH_MAX];
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

	memset(d, 0, sizeof(*d));
	d->events_fd = d->sup_ep = d->wake_fd = -1;
	d->sw.pidfd = d->sw.req_fd = d->sw.ev_fd = -1;
	pthread_mutex_init(&d->sw.lock, NULL);
	d->sw_watch = (struct dvm_watch){ NULL, DVM_W_SWITCH };
	d->stop_timeout_s = 10;
	dmn_limits_default(&d->lim);
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->cond, NULL);
	if (snprintf(d->state_dir, sizeof(d->state_dir), "%s", state_dir) >=
		    (int)sizeof(d->state_dir) ||
	    snprintf(d->vmm_path, sizeof(d->vmm_path), "%s", vmm_path) >=
		    (int)sizeof(d->vmm_path) ||
	    snprintf(d->switch_path, sizeof(d->switch_path), "%s", vmm_path) >=
		    (int)sizeof(d->switch_path)) {
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
	d->events_fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (d->events_fd < 0) {
		snprintf(err, errlen, "%.200s: %s", path, strerror(errno));
		return -errno;
	}
	events_load(d, d->events_fd);
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
	dcg_fini(&d->cg); /* its base, unless a VM's cgroup is still inside */
	while (d->nets) {
		struct dnet *nn = d->nets->next;

		free(d->nets);
		d->nets = nn;
	}
	pthread_mutex_destroy(&d->sw.lock);
	if (d->events_fd >= 0)
		close(d->events_fd);
	if (d->sup_ep >= 0)
		close(d->sup_ep);
	if (d->wake_fd >= 0)
		close(d->wake_fd);
	pthread_cond_destroy(&d->cond);
	pthread_mutex_destroy(&d->lock);
}

/* Fair shares (d->lock held): the daemon-wide VM table keeps room for root,
 * and one non-root user may not take more than lim.vms_per_uid VMs or
 * lim.mem_per_uid bytes of guest memory (every VM they have counts, started
 * or not: creating is what reserves). */
static int check_quota(struct daemon *d, uid_t uid, uint64_t mem, char *err, size_t errlen)
{
	unsigned n = 0;
	uint64_t total = 0;

	if (d->nvms >= DMN_MAX_VMS || (uid != 0 && d->nvms >= DMN_MAX_VMS - DMN_ROOT_VMS)) {
		snprintf(err, errlen, "the daemon already manages %u VMs (its maximum%s)", d->nvms,
			 uid ? " for non-root users" : "");
		return -ENOSPC;
	}
	if (uid == 0)
		return 0;
	for (struct dvm *v = d->vms; v; v = v->next)
		if (v->owner == uid) {
			n++;
			total += v->mem_bytes;
		}
	if (n >= d->lim.vms_per_uid) {
		snprintf(err, errlen, "uid %u already has %u VMs, the most one user may have",
			 (unsigned)uid, n);
		return -EDQUOT;
	}
	if (total + mem > d->lim.mem_per_uid) {
		snprintf(err, errlen, "uid %u's VMs would have %llu MiB of guest memory, above the "
			 "%llu MiB one user may have", (unsigned)uid,
			 (unsigned long long)((total + mem) >> 20),
			 (unsigned long long)(d->lim.mem_per_uid >> 20));
		return -EDQUOT;
	}
	return 0;
}

bool dmn_name_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
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
	char msg[400];
	struct dvm *v;
	int ret;

	config_defaults(&cfg);
	if (config_json_parse(body, len, CONFIG_JSON_ABS_PATHS | CONFIG_JSON_NEED_KERNEL, &cfg,
			      &root, msg, sizeof(msg))) {
		snprintf(err, errlen, "%s", msg);
		return -EBADMSG;
	}
	{
		struct vm_config def;

		config_defaults(&def);
		/* The default yields to the daemon's maximum; an explicit value
		 * above it is an error the owner should hear about. */
		if (cfg.console_max_bytes == def.console_max_bytes &&
		    cfg.console_max_bytes > d->lim.console_max)
			cfg.console_max_bytes = d->lim.console_max;
	}
	if (cfg.console_max_bytes > d->lim.console_max) {
		config_json_free(root);
		snprintf(err, errlen, "console.max: %llu bytes is above this daemon's maximum (%llu)",
			 (unsigned long long)cfg.console_max_bytes,
			 (unsigned long long)d->lim.console_max);
		return -EBADMSG;
	}
	v = dvm_new();
	if (!v) {
		config_json_free(root);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	v->owner = uid;
	v->ncpus = cfg.ncpus;
	v->mem_bytes = cfg.mem_bytes;
	v->console_max = cfg.console_max_bytes;
	v->nnics = cfg.nnets;
	for (unsigned i = 0; i < cfg.nnets; i++)
		if (cfg.nets[i].switch_seg)
			snprintf(v->nets[i], sizeof(v->nets[i]), "%s", cfg.nets[i].switch_seg);
	v->on_violation_quarantine = cfg.on_violation == VM_VIOLATION_QUARANTINE;
	pthread_mutex_lock(&d->lock);
	ret = dnet_check_config(d, uid, &cfg, err, errlen);
	pthread_mutex_unlock(&d->lock);
	config_json_free(root);
	if (ret) {
		dvm_free(v);
		return ret;
	}
	return dmn_insert(d, v, name, body, len, id_out, err, errlen);
}

int dmn_insert(struct daemon *d, struct dvm *v, const char *name, const char *config,
	       size_t config_len, char *id_out, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	uint8_t rnd[DVM_ID_LEN / 2];
	uid_t uid = v->owner;
	int ret;

	if (name && !dmn_name_ok(name, DVM_NAME_MAX)) {
		snprintf(err, errlen,
			 "name '%.64s': 1-%d letters, digits, '-', '_' or '.', starting with a letter or digit",
			 name, DVM_NAME_MAX);
		dvm_free(v);
		return -EINVAL;
	}
	v->state = DVM_CREATED;
	v->created_at = (int64_t)time(NULL);
	pthread_mutex_lock(&d->lock);
	if ((ret = check_quota(d, uid, v->mem_bytes, err, errlen)))
		goto fail;
	if (name) {
		struct dvm *o;

		/* Names are per owner (another user's are not revealed); none
		 * may equal a VM's ID. */
		for (o = d->vms; o; o = o->next)
			if ((o->owner == uid && !strcmp(o->name, name)) || !strcmp(o->id, name))
				break;
		if (o) {
			ret = -EEXIST;
			snprintf(err, errlen, "name '%s' is already taken", name);
			goto fail;
		}
	}
	if (name)
		snprintf(v->name, sizeof(v->name), "%s", name);
	do {
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
			ret = -EIO;
			snprintf(err, errlen, "getrandom: %s", strerror(errno));
			goto fail;
		}
		for (size_t i = 0; i < sizeof(rnd); i++)
			snprintf(v->id + 2 * i, 3, "%02x", rnd[i]);
	} while (dmn_find(d, v->id));
	dvm_path(d, v, NULL, dir, sizeof(dir));
	if (mkdir(dir, 0711) < 0 || chmod(dir, 0711) < 0) {
		ret = -EIO;
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		goto fail;
	}
	if (dmn_write_atomic(dir, "config.json", config, config_len) || dvm_save(d, v)) {
		ret = -EIO;
		snprintf(err, errlen, "cannot write the VM's files under %s", dir);
		goto fail;
	}
	v->next = d->vms;
	d->vms = v;
	d->nvms++;
	memcpy(id_out, v->id, DVM_ID_LEN + 1);
	if (v->from_snap[0])
		dmn_event(d, v, "created", "%u vCPUs, %llu MiB, from snapshot %s", v->ncpus,
			  (unsigned long long)(v->mem_bytes >> 20), v->from_snap);
	else
		dmn_event(d, v, "created", "%u vCPUs, %llu MiB", v->ncpus,
			  (unsigned long long)(v->mem_bytes >> 20));
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
	return 0;
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
	if (snprintf(p, sizeof(p), "%s/snapshots", dir) < (int)sizeof(p))
		dsnap_remove_all(p);
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
	if (ret)
		goto out;
	if (v->busy || v->refs) {
		ret = -EBUSY;
		snprintf(err, errlen, "VM %s: another operation is in progress", v->id);
		goto out;
	}
	if (v->cgroup_pending) {
		ret = -EBUSY;
		snprintf(err, errlen, "VM %s: what is left of its last run is still being removed; "
			 "try again in a moment", v->id);
		goto out;
	}
	if (v->state != DVM_CREATED && v->state != DVM_EXITED) {
		ret = -EBUSY;
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
	ret = 0;
out:
	pthread_mutex_unlock(&d->lock);
	return ret;
}
