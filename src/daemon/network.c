/* network.c — bulkheadd's networks as resources: create, remove, look up,
 * persist, and the check of a VM config's `switch=` NICs (see network.h). */
#include "daemon/network.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/log.h"
#include "config/vm_config.h"
#include "daemon/daemon.h"

bool dnet_visible(const struct dnet *n, uid_t uid)
{
	return uid == 0 || n->owner == uid;
}

struct dnet *dnet_find(struct daemon *d, uid_t owner, const char *name)
{
	for (struct dnet *n = d->nets; n; n = n->next)
		if (n->owner == owner && (!strcmp(n->name, name) || !strcmp(n->id, name)))
			return n;
	return NULL;
}

int dnet_lookup(struct daemon *d, uid_t uid, const char *name, struct dnet **out, char *err,
		size_t errlen)
{
	struct dnet *byname = NULL;
	unsigned nnames = 0;

	for (struct dnet *n = d->nets; n; n = n->next) {
		if (!dnet_visible(n, uid))
			continue;
		if (!strcmp(n->id, name)) {
			*out = n;
			return 0;
		}
		if (!strcmp(n->name, name)) {
			if (!byname || (n->owner == uid && byname->owner != uid))
				byname = n;
			nnames++;
		}
	}
	if (!byname) {
		/* the same answer for another user's network */
		snprintf(err, errlen, "no network '%.64s'", name);
		return -ENOENT;
	}
	if (nnames > 1 && byname->owner != uid) {
		snprintf(err, errlen, "networks of several users are named '%.64s': use its ID", name);
		return -EEXIST;
	}
	*out = byname;
	return 0;
}

void dnet_segment(const struct dnet *n, char *buf, size_t len)
{
	snprintf(buf, len, "n-%s", n->id);
}

static void net_dir(const struct daemon *d, char *buf, size_t len)
{
	snprintf(buf, len, "%s/networks", d->state_dir);
}


static int net_save(struct daemon *d, const struct dnet *n)
{
	char dir[PATH_MAX], file[32];
	struct json_object *o = json_object_new_object();
	const char *text;
	int ret;

	if (!o)
		return -ENOMEM;
	json_object_object_add(o, "version", json_object_new_int(1));
	json_object_object_add(o, "id", json_object_new_string(n->id));
	json_object_object_add(o, "name", json_object_new_string(n->name));
	json_object_object_add(o, "owner", json_object_new_int64(n->owner));
	json_object_object_add(o, "created_at", json_object_new_int64(n->created_at));
	json_object_object_add(o, "egress", json_object_new_string(n->egress));
	if (n->uplink[0])
		json_object_object_add(o, "uplink", json_object_new_string(n->uplink));
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
	net_dir(d, dir, sizeof(dir));
	snprintf(file, sizeof(file), "%s.json", n->id);
	ret = dmn_write_atomic(dir, file, text, strlen(text));
	json_object_put(o);
	return ret;
}

/* Parse the create body strictly: an object with "name" (required),
 * "egress" and "uplink" (optional strings), nothing else. */
static int parse_body(const char *body, size_t len, struct dnet *n, char *err, size_t errlen)
{
	struct json_tokener *tok = json_tokener_new_ex(4);
	struct json_object *o = NULL;
	int ret = -EINVAL;

	if (!tok)
		return -ENOMEM;
	if (memchr(body, '\0', len)) {
		snprintf(err, errlen, "the body contains a NUL byte");
		goto out;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, body, (int)len);
	if (json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len || !o ||
	    !json_object_is_type(o, json_type_object)) {
		enum json_tokener_error e = json_tokener_get_error(tok);

		snprintf(err, errlen, "a network needs a JSON object body: {\"name\": \"NAME\", "
			 "\"egress\": \"allow:CIDR,deny:CIDR,...\", \"uplink\": \"passt\"} "
			 "(%s at byte %zu)",
			 e == json_tokener_success ? "not an object, or trailing data"
			 : e == json_tokener_continue ? "unexpected end of input"
			 : json_tokener_error_desc(e), json_tokener_get_parse_end(tok));
		goto out;
	}
	json_object_object_foreach(o, k, val) {
		const char *s;

		if (strcmp(k, "name") && strcmp(k, "egress") && strcmp(k, "uplink")) {
			snprintf(err, errlen, "%.60s: unknown key (only \"name\", \"egress\" and "
				 "\"uplink\")", k);
			goto out;
		}
		if (!json_object_is_type(val, json_type_string)) {
			snprintf(err, errlen, "%s: expected a string", k);
			goto out;
		}
		s = json_object_get_string(val);
		if ((size_t)json_object_get_string_len(val) != strlen(s)) {
			snprintf(err, errlen, "%s: NUL characters are not allowed", k);
			goto out;
		}
		if (!strcmp(k, "name")) {
			if (!dmn_name_ok(s, DNET_NAME_MAX)) {
				snprintf(err, errlen,
					 "name '%.64s': 1-%d letters, digits, '-', '_' or '.', "
					 "starting with a letter or digit", s, DNET_NAME_MAX);
				goto out;
			}
			snprintf(n->name, sizeof(n->name), "%s", s);
		} else if (!strcmp(k, "uplink")) {
			if (dnet_uplink_parse(s, n->uplink, sizeof(n->uplink), err, errlen))
				goto out;
		} else {
			char why[200];

			if (strlen(s) > DNET_EGRESS_MAX) {
				snprintf(err, errlen, "egress: longer than %d characters",
					 DNET_EGRESS_MAX);
				goto out;
			}
			if (net_policy_parse(s, &n->policy, why, sizeof(why))) {
				snprintf(err, errlen, "egress: %s", why);
				goto out;
			}
			snprintf(n->egress, sizeof(n->egress), "%s", s);
		}
	}
	if (!n->name[0]) {
		snprintf(err, errlen, "name: required");
		goto out;
	}
	ret = 0;
out:
	json_object_put(o);
	json_tokener_free(tok);
	return ret;
}

/* Remove n (d->lock held, up_busy ours): its record, its uplink. */
static int unlist(struct daemon *d, struct dnet *n, char *err, size_t errlen)
{
	char dir[PATH_MAX], path[PATH_MAX + 32];
	struct dnet **pp;

	net_dir(d, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/%s.json", dir, n->id);
	if (unlink(path) < 0 && errno != ENOENT) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -EIO;
	}
	for (pp = &d->nets; *pp != n; pp = &(*pp)->next)
		;
	*pp = n->next;
	dnet_uplink_stop(d, n);
	return 0;
}

/* A new network's uplink: its first start decides the create (a passt
 * that cannot work fails it, and the network goes again). */
static int first_uplink(struct daemon *d, const char *id, char *err, size_t errlen)
{
	struct dnet *n;
	int ret = 0;

	dnet_uplinks_sync(d);
	pthread_mutex_lock(&d->lock);
	dnet_uplinks_acquire(d);
	for (n = d->nets; n && strcmp(n->id, id); n = n->next)
		;
	if (n && (n->up_gen == 0 || n->up_gen != d->sw.gen)) {
		snprintf(err, errlen, "network %s: its uplink did not start: %s", n->name,
			 n->up_state[0] ? n->up_state : "the switch is not running");
		ret = -EIO;
		char why[200];

		if (!unlist(d, n, why, sizeof(why))) {
			dmn_event(d, NULL, "network-removed", "%s (%s): its uplink did not start",
				  n->name, n->id);
			free(n);
		}
	}
	dnet_uplinks_release(d);
	pthread_mutex_unlock(&d->lock);
	return ret;
}

int dnet_create(struct daemon *d, uid_t uid, const char *body, size_t len, char *err,
		size_t errlen)
{
	struct dnet *n = calloc(1, sizeof(*n));
	char dir[PATH_MAX];
	unsigned total = 0, mine = 0;
	uint8_t rnd[DNET_ID_LEN / 2];
	int ret;

	if (!n) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	n->up_pidfd = -1;
	if ((ret = parse_body(body, len, n, err, errlen)) ||
	    (n->uplink[0] && (ret = dnet_uplink_check(uid, n->uplink, err, errlen)))) {
		free(n);
		return ret;
	}
	n->owner = uid;
	n->created_at = (int64_t)time(NULL);
	pthread_mutex_lock(&d->lock);
	for (struct dnet *o = d->nets; o; o = o->next) {
		total++;
		mine += o->owner == uid;
		if (o->owner == uid && !strcmp(o->name, n->name)) {
			snprintf(err, errlen, "network '%s' already exists", n->name);
			ret = -EEXIST;
			goto fail;
		}
	}
	if (total >= DMN_MAX_NETS) {
		snprintf(err, errlen, "the daemon already has %u networks (its maximum)", total);
		ret = -ENOSPC;
		goto fail;
	}
	if (uid != 0 && mine >= DMN_NETS_PER_UID) {
		snprintf(err, errlen, "uid %u already has %u networks, the most one user may have",
			 (unsigned)uid, mine);
		ret = -EDQUOT;
		goto fail;
	}
	do {
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
			snprintf(err, errlen, "getrandom: %s", strerror(errno));
			ret = -EIO;
			goto fail;
		}
		for (size_t i = 0; i < sizeof(rnd); i++)
			snprintf(n->id + 2 * i, 3, "%02x", rnd[i]);
		ret = 0;
		for (struct dnet *o = d->nets; o; o = o->next)
			if (!strcmp(o->id, n->id) || !strcmp(o->name, n->id))
				ret = -EEXIST;
	} while (ret);
	net_dir(d, dir, sizeof(dir));
	if ((mkdir(dir, 0700) < 0 && errno != EEXIST) || net_save(d, n)) {
		snprintf(err, errlen, "cannot write the network's record under %s", dir);
		ret = -EIO;
		goto fail;
	}
	n->next = d->nets;
	d->nets = n;
	dmn_event(d, NULL, "network-created", "%s (%s) of uid %u", n->name, n->id,
		  (unsigned)uid);
	/* The switch carries it from now on; a switch that cannot start is
	 * reported, the network stays (the next operation tries again). */
	if ((ret = dsw_ensure(d, err, errlen)))
		bh_warn("network %s: %s", n->name, err);
	{
		char id[DNET_ID_LEN + 1];
		bool up = n->uplink[0] != '\0';

		memcpy(id, n->id, sizeof(id));
		pthread_mutex_unlock(&d->lock);
		/* (no switch: the event thread starts the uplink with it) */
		if (up && !ret)
			return first_uplink(d, id, err, errlen);
	}
	return 0;
fail:
	pthread_mutex_unlock(&d->lock);
	free(n);
	return ret;
}

int dnet_remove(struct daemon *d, uid_t uid, const char *name, char *err, size_t errlen)
{
	struct dnet *n;
	int ret;

	pthread_mutex_lock(&d->lock);
	dnet_uplinks_acquire(d);
	if ((ret = dnet_lookup(d, uid, name, &n, err, errlen)))
		goto out;
	for (struct dvm *v = d->vms; v; v = v->next) {
		if (v->owner != n->owner)
			continue;
		for (unsigned i = 0; i < VM_MAX_NETS; i++)
			if (!strcmp(v->nets[i], n->name) || !strcmp(v->nets[i], n->id)) {
				snprintf(err, errlen, "network '%s' is in use by VM %s%s%s%s: remove "
					 "the VM first", n->name, v->id, v->name[0] ? " (" : "",
					 v->name, v->name[0] ? ")" : "");
				ret = -EBUSY;
				goto out;
			}
	}
	if ((ret = unlist(d, n, err, errlen)))
		goto out;
	dmn_event(d, NULL, "network-removed", "%s (%s) by uid %u", n->name, n->id,
		  (unsigned)uid);
	free(n);
out:
	dnet_uplinks_release(d);
	pthread_mutex_unlock(&d->lock);
	return ret;
}

/* One record, validated like any input. */
static struct dnet *load_one(const char *path, const char *id)
{
	struct json_object *o = json_object_from_file(path), *x;
	struct dnet *n = NULL;
	const char *name, *egress, *rid, *uplink;
	char why[200];
	int64_t owner, cat;

	if (!o || !json_object_is_type(o, json_type_object))
		goto out;
	rid = json_object_object_get_ex(o, "id", &x) && json_object_is_type(x, json_type_string)
		      ? json_object_get_string(x) : NULL;
	name = json_object_object_get_ex(o, "name", &x) && json_object_is_type(x, json_type_string)
		       ? json_object_get_string(x) : NULL;
	egress = json_object_object_get_ex(o, "egress", &x) &&
				 json_object_is_type(x, json_type_string)
			 ? json_object_get_string(x) : "";
	if (!rid || strcmp(rid, id) || !name || !dmn_name_ok(name, DNET_NAME_MAX) ||
	    strlen(egress) > DNET_EGRESS_MAX || !json_object_object_get_ex(o, "owner", &x) ||
	    !json_object_is_type(x, json_type_int) || (owner = json_object_get_int64(x)) < 0 ||
	    owner > 0xfffffffeLL)
		goto out;
	cat = json_object_object_get_ex(o, "created_at", &x) ? json_object_get_int64(x) : 0;
	uplink = json_object_object_get_ex(o, "uplink", &x) && json_object_is_type(x, json_type_string)
			 ? json_object_get_string(x) : "";
	n = calloc(1, sizeof(*n));
	if (!n)
		goto out;
	n->up_pidfd = -1;
	if (net_policy_parse(egress, &n->policy, why, sizeof(why)) ||
	    (uplink[0] && dnet_uplink_parse(uplink, n->uplink, sizeof(n->uplink), why, sizeof(why)))) {
		free(n);
		n = NULL;
		goto out;
	}
	memcpy(n->id, id, DNET_ID_LEN + 1);
	snprintf(n->name, sizeof(n->name), "%s", name);
	snprintf(n->egress, sizeof(n->egress), "%s", egress);
	n->owner = (uid_t)owner;
	n->created_at = cat;
out:
	json_object_put(o);
	return n;
}

int dnet_load(struct daemon *d)
{
	char dir[PATH_MAX], path[PATH_MAX + 300];
	struct dirent *de;
	unsigned count = 0;
	DIR *dp;

	net_dir(d, dir, sizeof(dir));
	dp = opendir(dir);
	if (!dp)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(dp))) {
		size_t l = strlen(de->d_name);
		char id[DNET_ID_LEN + 1];
		struct dnet *n;

		if (l != DNET_ID_LEN + 5 || strcmp(de->d_name + DNET_ID_LEN, ".json") ||
		    strspn(de->d_name, "0123456789abcdef") != DNET_ID_LEN)
			continue;
		if (count >= DMN_MAX_NETS) {
			bh_warn("more than %d networks in %s: ignoring the rest", DMN_MAX_NETS, dir);
			break;
		}
		memcpy(id, de->d_name, DNET_ID_LEN);
		id[DNET_ID_LEN] = '\0';
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		n = load_one(path, id);
		if (!n) {
			bh_warn("%s: unreadable or malformed: skipped", path);
			continue;
		}
		n->next = d->nets;
		d->nets = n;
		count++;
	}
	closedir(dp);
	return 0;
}

int dnet_check_config(struct daemon *d, uid_t uid, const struct vm_config *cfg, char *err,
		      size_t errlen)
{
	for (unsigned i = 0; i < cfg->nnets; i++) {
		const struct vm_net *nic = &cfg->nets[i];

		if (nic->port || nic->tapfd) {
			/* the daemon hands a VMM no descriptors but its own ports */
			snprintf(err, errlen, "nets[%u]: %s= names a descriptor, which a VM under "
				 "bulkheadd cannot have; use switch=NETWORK", i,
				 nic->port ? "port" : "tapfd");
			return -EBADMSG;
		}
		if (nic->switch_seg && !dnet_find(d, uid, nic->switch_seg)) {
			snprintf(err, errlen, "nets[%u].switch: no network '%s' (create it first: "
				 "bulkhead network create %s)", i, nic->switch_seg, nic->switch_seg);
			return -EBADMSG;
		}
	}
	return 0;
}

void dnet_port_name(const char *vm_id, unsigned i, char *buf, size_t len)
{
	snprintf(buf, len, "vm%s-%u", vm_id, i);
}
