/* cpu_place.c — see cpu_place.h. */
#include "config/cpu_place.h"
#include "config/schema.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CPU_MAX_TEXT 1024 /* longest cpu_affinity accepted */

/* One number at *s (advanced past it); -1 when none or above CPU_SETSIZE. */
static long number(const char **s)
{
	long v = 0;

	if (**s < '0' || **s > '9')
		return -1;
	while (**s >= '0' && **s <= '9') {
		v = v * 10 + (**s - '0');
		if (v >= CPU_SETSIZE)
			return -1;
		(*s)++;
	}
	return v;
}

/* "C" or "C-D" at *s into set. 0 or -1. */
static int range(const char **s, cpu_set_t *set)
{
	long a = number(s), b;

	if (a < 0)
		return -1;
	b = a;
	if (**s == '-') {
		(*s)++;
		if ((b = number(s)) < a)
			return -1;
	}
	for (long c = a; c <= b; c++)
		CPU_SET((int)c, set);
	return 0;
}

/* Parse the whole value: per-vCPU form when it has a ':'. vcpu_of[i] is the
 * vCPU of entry i (per-vCPU form) with sets[i] its CPUs; or one set (LIST
 * form, *n = 1, vcpu_of[0] = -1). */
struct parsed {
	unsigned n;
	long vcpu_of[VM_MAX_VCPUS];
	cpu_set_t sets[VM_MAX_VCPUS];
};

static int parse(const char *name, const char *v, struct parsed *p, char *err, size_t errlen)
{
	const char *s = v;
	bool per_vcpu = strchr(v, ':') != NULL;

	memset(p, 0, sizeof(*p));
	if (strnlen(v, CPU_MAX_TEXT + 1) > CPU_MAX_TEXT || !*v)
		goto bad;
	if (!per_vcpu) {
		p->n = 1;
		p->vcpu_of[0] = -1;
		for (;;) {
			if (range(&s, &p->sets[0]))
				goto bad;
			if (!*s)
				return 0;
			if (*s++ != ',')
				goto bad;
		}
	}
	for (;;) {
		long vc = number(&s);

		if (vc < 0 || vc >= VM_MAX_VCPUS || *s++ != ':' || p->n >= VM_MAX_VCPUS)
			goto bad;
		p->vcpu_of[p->n] = vc;
		if (range(&s, &p->sets[p->n]))
			goto bad;
		p->n++;
		if (!*s)
			return 0;
		if (*s++ != ',')
			goto bad;
	}
bad:
	snprintf(err, errlen,
		 "%s %.64s: expected host CPUs for every vCPU as a list (\"0-3,6\") or one "
		 "CPU or range per vCPU (\"0:2,1:3\"), CPUs below %d",
		 name, v, CPU_SETSIZE);
	return -EINVAL;
}

int cpu_place_check_syntax(const char *name, const char *value, char *err, size_t errlen)
{
	struct parsed *p = malloc(sizeof(*p));
	int ret;

	if (!p) {
		snprintf(err, errlen, "%s: out of memory", name);
		return -ENOMEM;
	}
	ret = parse(name, value, p, err, errlen);
	free(p);
	return ret;
}

int cpu_place_parse_list(const char *s, cpu_set_t *out)
{
	CPU_ZERO(out);
	if (!*s || strchr(s, ':'))
		return -EINVAL;
	for (;;) {
		if (range(&s, out))
			return -EINVAL;
		if (!*s)
			return 0;
		if (*s++ != ',')
			return -EINVAL;
	}
}

void cpu_place_format(const cpu_set_t *set, char *buf, size_t len)
{
	size_t at = 0;

	buf[0] = '\0';
	for (int c = 0; c < CPU_SETSIZE && at < len; c++) {
		int d = c;

		if (!CPU_ISSET(c, set))
			continue;
		while (d + 1 < CPU_SETSIZE && CPU_ISSET(d + 1, set))
			d++;
		at += (size_t)snprintf(buf + at, len - at, d > c ? "%s%d-%d" : "%s%d",
				       at ? "," : "", c, d);
		c = d;
	}
}

/* The first CPU of `set` not inside `host`, or -1. */
static int outside(const cpu_set_t *set, const cpu_set_t *host)
{
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, set) && !CPU_ISSET(c, host))
			return c;
	return -1;
}

static int resolve(const struct vm_config *cfg, const cpu_set_t *host, const char *an,
		   const char *dn, struct cpu_place *o, struct parsed *p, char *err,
		   size_t errlen)
{
	unsigned n = cfg->ncpus;
	char hs[256];
	int ret, c;

	cpu_place_format(host, hs, sizeof(hs));
	o->other = *host;
	if (!cfg->cpu_affinity && !cfg->cpu_dedicated)
		return 0;
	o->pinned = true;
	if (cfg->cpu_affinity) {
		if ((ret = parse(an, cfg->cpu_affinity, p, err, errlen)))
			return ret;
		for (unsigned i = 0; i < p->n; i++)
			if ((c = outside(&p->sets[i], host)) >= 0) {
				snprintf(err, errlen,
					 "%s %.64s: host CPU %d is not one this VM may use (%s)",
					 an, cfg->cpu_affinity, c, hs);
				return -EINVAL;
			}
		if (p->vcpu_of[0] < 0) { /* LIST: every vCPU on it (or one each) */
			int k = 0, cnt = CPU_COUNT(&p->sets[0]);

			if (cfg->cpu_dedicated && (unsigned)cnt != n) {
				snprintf(err, errlen,
					 "%s %.64s: with %s, name one host CPU per vCPU (%u, not %d)",
					 an, cfg->cpu_affinity, dn, n, cnt);
				return -EINVAL;
			}
			for (unsigned i = 0; i < n; i++) {
				if (!cfg->cpu_dedicated) {
					o->vcpu[i] = p->sets[0];
					continue;
				}
				while (!CPU_ISSET(k, &p->sets[0]))
					k++;
				CPU_ZERO(&o->vcpu[i]);
				CPU_SET(k++, &o->vcpu[i]);
			}
		} else {
			bool seen[VM_MAX_VCPUS] = { false };

			for (unsigned i = 0; i < p->n; i++) {
				long v = p->vcpu_of[i];

				if (v >= (long)n || seen[v]) {
					snprintf(err, errlen, "%s %.64s: vCPU %ld %s", an,
						 cfg->cpu_affinity, v,
						 v >= (long)n ? "does not exist (cpus)"
							      : "is named twice");
					return -EINVAL;
				}
				seen[v] = true;
				o->vcpu[v] = p->sets[i];
				if (cfg->cpu_dedicated && CPU_COUNT(&p->sets[i]) != 1) {
					snprintf(err, errlen,
						 "%s %.64s: with %s, vCPU %ld needs exactly one "
						 "host CPU", an, cfg->cpu_affinity, dn, v);
					return -EINVAL;
				}
			}
			for (unsigned i = 0; i < n; i++)
				if (!seen[i]) {
					snprintf(err, errlen, "%s %.64s: vCPU %u has no entry", an,
						 cfg->cpu_affinity, i);
					return -EINVAL;
				}
		}
	} else { /* dedicated, no list: the last n CPUs of the host set */
		unsigned got = 0;

		for (c = CPU_SETSIZE - 1; c >= 0 && got < n; c--)
			if (CPU_ISSET(c, host)) {
				CPU_ZERO(&o->vcpu[n - 1 - got]);
				CPU_SET(c, &o->vcpu[n - 1 - got]);
				got++;
			}
		if (got < n) {
			snprintf(err, errlen,
				 "%s: %u vCPUs need %u host CPUs of their own and one more for the "
				 "VMM's other threads; this VM may use %s",
				 dn, n, n, hs);
			return -EINVAL;
		}
	}
	if (!cfg->cpu_dedicated)
		return 0;
	CPU_ZERO(&o->dedicated);
	for (unsigned i = 0; i < n; i++) {
		for (c = 0; !CPU_ISSET(c, &o->vcpu[i]); c++)
			;
		if (CPU_ISSET(c, &o->dedicated)) {
			snprintf(err, errlen, "%s %.64s: host CPU %d is named for two vCPUs; %s "
					      "gives each its own", an, cfg->cpu_affinity, c, dn);
			return -EINVAL;
		}
		CPU_SET(c, &o->dedicated);
	}
	o->other = *host;
	for (c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &o->dedicated))
			CPU_CLR(c, &o->other);
	if (!CPU_COUNT(&o->other)) {
		snprintf(err, errlen,
			 "%s: %u vCPUs need %u host CPUs of their own and one more for the "
			 "VMM's other threads; this VM may use %s",
			 dn, n, n, hs);
		return -EINVAL;
	}
	return 0;
}

int cpu_place_resolve(const struct vm_config *cfg, const cpu_set_t *host, bool cli,
		      struct cpu_place *out, char *err, size_t errlen)
{
	struct parsed *p = malloc(sizeof(*p));
	int ret;

	memset(out, 0, sizeof(*out));
	if (!p) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (cfg->ncpus == 0 || cfg->ncpus > VM_MAX_VCPUS) {
		free(p);
		snprintf(err, errlen, "%s: out of range", cli ? "--cpus" : "cpus");
		return -EINVAL;
	}
	ret = resolve(cfg, host, cli ? "--cpu-affinity" : "cpu_affinity",
		      cli ? "--cpu-dedicated" : "cpu_dedicated", out, p, err, errlen);
	free(p);
	return ret;
}

/* schema.h: the placement part of config_validate (here, beside the rules). */
int config_validate_placement(const struct vm_config *cfg, bool cli, char *err, size_t errlen)
{
	static const uint64_t page[] = { [VM_HUGEPAGES_2M] = 2ULL << 20,
					 [VM_HUGEPAGES_1G] = 1ULL << 30 };
	struct cpu_place *pl;
	cpu_set_t host;
	int ret;

	if (cfg->hugepages == VM_HUGEPAGES_2M || cfg->hugepages == VM_HUGEPAGES_1G) {
		const char *hp = cfg->hugepages == VM_HUGEPAGES_2M ? "2M" : "1G";

		if (cfg->mem_bytes % page[cfg->hugepages]) {
			snprintf(err, errlen, "%s %s: %s pages do not divide %s %llu MiB", cli ? "--hugepages" : "hugepages",
				 hp, hp, cli ? "--mem" : "mem",
				 (unsigned long long)(cfg->mem_bytes >> 20));
			return -EINVAL;
		}
		if (cfg->ksm) {
			snprintf(err, errlen, "%s: KSM cannot merge hugetlbfs pages (%s %s)",
				 cli ? "--ksm" : "ksm", cli ? "--hugepages" : "hugepages", hp);
			return -EINVAL;
		}
	}
	if (!cfg->cpu_affinity && !cfg->cpu_dedicated)
		return 0;
	/* The CPUs this process may use: a cpuset (the daemon's, a container's)
	 * already narrowed them. */
	if (sched_getaffinity(0, sizeof(host), &host) < 0) {
		snprintf(err, errlen, "sched_getaffinity: %s", strerror(errno));
		return -errno;
	}
	if (!(pl = malloc(sizeof(*pl)))) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ret = cpu_place_resolve(cfg, &host, cli, pl, err, errlen);
	free(pl);
	return ret;
}
