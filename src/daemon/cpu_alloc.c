/* cpu_alloc.c — see cpu_alloc.h. */
#include "daemon/cpu_alloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "config/config_json.h"
#include "config/cpu_place.h"
#include "config/schema.h"
#include "daemon/daemon.h"

#define CFG_MAX (1u << 20)

int dvm_load_config(struct daemon *d, const struct dvm *v, struct vm_config *cfg,
		    struct json_object **root, char *err, size_t errlen)
{
	char path[PATH_MAX], msg[400], *buf;
	ssize_t n;
	int fd;

	dvm_path(d, v, "config.json", path, sizeof(path));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -EIO;
	}
	buf = malloc(CFG_MAX);
	n = buf ? read(fd, buf, CFG_MAX) : -1;
	close(fd);
	if (n < 0) {
		free(buf);
		snprintf(err, errlen, "%s: cannot read it", path);
		return -EIO;
	}
	config_defaults(cfg);
	if (config_json_parse(buf, (size_t)n, CONFIG_JSON_ABS_PATHS, cfg, root, msg, sizeof(msg))) {
		free(buf);
		snprintf(err, errlen, "%s", msg);
		return -EINVAL;
	}
	free(buf);
	return 0;
}

/* The VM (other than v) holding CPU c dedicated, or naming it in its own
 * affinity (*pinned), among those with a claim. */
static struct dvm *holder(struct daemon *d, const struct dvm *v, int c, bool *pinned)
{
	for (struct dvm *o = d->vms; o; o = o->next) {
		if (o == v || !o->cpu.placed)
			continue;
		if (CPU_ISSET(c, &o->cpu.dedicated)) {
			*pinned = false;
			return o;
		}
		if (CPU_ISSET(c, &o->cpu.pinned)) {
			*pinned = true;
			return o;
		}
	}
	return NULL;
}

static int refuse_held(const struct dvm *o, bool pinned, int c, char *err, size_t errlen)
{
	snprintf(err, errlen,
		 pinned ? "cpu_dedicated: host CPU %d is named in the cpu_affinity of running VM "
			  "%s%s%s (%s)"
			: "cpu_affinity: host CPU %d is dedicated to VM %s%s%s (%s)",
		 c, o->name[0] ? "'" : "", o->name[0] ? o->name : o->id, o->name[0] ? "'" : "",
		 o->id);
	return -EBUSY;
}

int dcpu_claim(struct daemon *d, struct dvm *v, char *err, size_t errlen)
{
	struct json_object *root = NULL;
	struct vm_config cfg;
	struct cpu_place *pl = NULL;
	cpu_set_t host, taken;
	bool pinned;
	int ret;

	memset(&v->cpu, 0, sizeof(v->cpu));
	if ((ret = dvm_load_config(d, v, &cfg, &root, err, errlen)))
		return ret;
	v->cpu.weight = cfg.cpu_weight;
	if (sched_getaffinity(0, sizeof(host), &host) < 0) {
		ret = -errno;
		snprintf(err, errlen, "sched_getaffinity: %s", strerror(errno));
		goto out;
	}
	/* Dedicated cores of the others: never this VM's. */
	CPU_ZERO(&taken);
	for (struct dvm *o = d->vms; o; o = o->next)
		if (o != v && o->cpu.placed)
			CPU_OR(&taken, &taken, &o->cpu.dedicated);
	if (cfg.cpu_dedicated && !cfg.cpu_affinity) {
		/* The allocator's choice: the highest CPUs nobody holds or names. */
		cpu_set_t mine;
		unsigned got = 0;
		char list[256] = "";

		CPU_ZERO(&mine);
		for (int c = CPU_SETSIZE - 1; c >= 0 && got < cfg.ncpus; c--)
			if (CPU_ISSET(c, &host) && !holder(d, v, c, &pinned)) {
				CPU_SET(c, &mine);
				got++;
			}
		cpu_place_format(&mine, list, sizeof(list));
		snprintf(v->cpu.arg, sizeof(v->cpu.arg), "%s", list);
		cfg.cpu_affinity = v->cpu.arg;
		if (got < cfg.ncpus) {
			char h[128];

			cpu_place_format(&host, h, sizeof(h));
			snprintf(err, errlen,
				 "cpu_dedicated: %u vCPUs need %u free host CPUs; of %s only %u are "
				 "not held by other VMs",
				 cfg.ncpus, cfg.ncpus, h, got);
			ret = -EBUSY;
			goto out;
		}
	}
	if (!(pl = malloc(sizeof(*pl)))) {
		ret = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if ((ret = cpu_place_resolve(&cfg, &host, false, pl, err, errlen)))
		goto out;
	for (int c = 0; c < CPU_SETSIZE; c++) {
		bool asked = false;
		struct dvm *o;

		for (unsigned i = 0; pl->pinned && i < cfg.ncpus; i++)
			asked |= CPU_ISSET(c, &pl->vcpu[i]);
		/* A dedicated core conflicts with any use; a shared VM's list only
		 * with others' dedicated cores. */
		if (!asked || !(o = holder(d, v, c, &pinned)))
			continue;
		if (!cfg.cpu_dedicated && pinned)
			continue;
		ret = refuse_held(o, pinned, c, err, errlen);
		goto out;
	}
	/* What stays shared must not be empty. */
	{
		cpu_set_t shared;

		CPU_XOR(&shared, &host, &taken);
		CPU_AND(&shared, &shared, &host);
		if (cfg.cpu_dedicated)
			for (int c = 0; c < CPU_SETSIZE; c++)
				if (CPU_ISSET(c, &pl->dedicated))
					CPU_CLR(c, &shared);
		if (!CPU_COUNT(&shared)) {
			snprintf(err, errlen, "cpu_dedicated: no host CPU would be left for the "
					      "other VMs and the VMM threads");
			ret = -EBUSY;
			goto out;
		}
		v->cpu.confine = shared;
	}
	if (cfg.cpu_dedicated) {
		v->cpu.dedicated = pl->dedicated;
		CPU_OR(&v->cpu.confine, &v->cpu.confine, &pl->dedicated);
	} else if (pl->pinned) {
		for (unsigned i = 0; i < cfg.ncpus; i++)
			CPU_OR(&v->cpu.pinned, &v->cpu.pinned, &pl->vcpu[i]);
	}
	v->cpu.placed = true;
	ret = 0;
out:
	free(pl);
	config_json_free(root);
	if (ret)
		memset(&v->cpu, 0, sizeof(v->cpu));
	return ret;
}

void dcpu_release(struct dvm *v)
{
	memset(&v->cpu, 0, sizeof(v->cpu));
}

/* Narrow every thread of pid and of its descendants: remove `off`. */
static unsigned narrow_tree(pid_t pid, const cpu_set_t *off, const cpu_set_t *fallback,
			    unsigned depth)
{
	char path[64];
	DIR *dir;
	struct dirent *e;
	unsigned n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	if (depth > 4 || !(dir = opendir(path)))
		return 0;
	while ((e = readdir(dir))) {
		pid_t tid = (pid_t)atoi(e->d_name);
		char cpath[96], kids[512];
		cpu_set_t s;
		FILE *f;

		if (tid <= 0)
			continue;
		if (sched_getaffinity(tid, sizeof(s), &s) == 0) {
			cpu_set_t keep;

			CPU_AND(&keep, &s, off);
			if (CPU_COUNT(&keep)) {
				CPU_XOR(&s, &s, &keep); /* s minus off */
				if (!CPU_COUNT(&s))
					s = *fallback;
				if (sched_setaffinity(tid, sizeof(s), &s) == 0)
					n++;
			}
		}
		snprintf(cpath, sizeof(cpath), "/proc/%d/task/%d/children", (int)pid, (int)tid);
		if ((f = fopen(cpath, "re"))) {
			if (fgets(kids, sizeof(kids), f)) {
				char *save = NULL;

				for (char *t = strtok_r(kids, " \n", &save); t;
				     t = strtok_r(NULL, " \n", &save))
					n += narrow_tree((pid_t)atoi(t), off, fallback, depth + 1);
			}
			fclose(f);
		}
	}
	closedir(dir);
	return n;
}

unsigned dcpu_narrow_others(struct daemon *d, const struct dvm *v)
{
	cpu_set_t off, shared;
	unsigned n = 0;

	pthread_mutex_lock(&d->lock);
	off = v->cpu.dedicated;
	if (!v->cpu.placed || !CPU_COUNT(&off)) {
		pthread_mutex_unlock(&d->lock);
		return 0;
	}
	CPU_XOR(&shared, &v->cpu.confine, &off);
	for (struct dvm *o = d->vms; o; o = o->next)
		if (o != v && o->pid > 0)
			n += narrow_tree(o->pid, &off, &shared, 0);
	pthread_mutex_unlock(&d->lock);
	return n;
}

void dcpu_reattach(struct daemon *d, struct dvm *v)
{
	struct json_object *root = NULL;
	struct vm_config cfg;
	cpu_set_t held = v->cpu.dedicated; /* from state.json (vm_record.c) */
	char err[256];

	memset(&v->cpu, 0, sizeof(v->cpu));
	if (v->pid <= 0 || dvm_load_config(d, v, &cfg, &root, err, sizeof(err)))
		return;
	v->cpu.weight = cfg.cpu_weight;
	if (cfg.cpu_dedicated && CPU_COUNT(&held)) {
		v->cpu.dedicated = held;
		v->cpu.placed = true;
	} else if (!cfg.cpu_dedicated && cfg.cpu_affinity) {
		struct cpu_place *pl = malloc(sizeof(*pl));
		cpu_set_t host;

		if (pl && sched_getaffinity(0, sizeof(host), &host) == 0 &&
		    !cpu_place_resolve(&cfg, &host, false, pl, err, sizeof(err))) {
			for (unsigned i = 0; i < cfg.ncpus; i++)
				CPU_OR(&v->cpu.pinned, &v->cpu.pinned, &pl->vcpu[i]);
			v->cpu.placed = true;
		}
		free(pl);
	}
	config_json_free(root);
}
