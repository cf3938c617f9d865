/* uplink.c — the uplinks of bulkheadd's networks: passt started by the
 * daemon and registered with its switch as a segment's stream uplink port,
 * kept in step with the switch's restarts (contract in network.h). */
#include "daemon/network.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/log.h"
#include "ctl/switch_ctl.h"
#include "daemon/daemon.h"
#include "switch/passt.h"
#include "switch/tap_uplink.h"

int dnet_uplink_parse(const char *s, char *out, size_t len, char *err, size_t errlen)
{
	if (!strcmp(s, "passt") || (!strncmp(s, "tap=", 4) && tap_uplink_name_ok(s + 4) &&
				    strlen(s) < len)) {
		snprintf(out, len, "%s", s);
		return 0;
	}
	snprintf(err, errlen, "uplink '%.40s': unknown kind (\"passt\" or \"tap=IFNAME\", "
		 "IFNAME 1-15 of [A-Za-z0-9_.-])", s);
	return -EINVAL;
}

int dnet_uplink_check(uid_t uid, const char *uplink, char *err, size_t errlen)
{
	char path[256];

	if (!strcmp(uplink, "passt") && passt_find(path, sizeof(path), err, errlen))
		return -ENOTSUP;
	if (!strncmp(uplink, "tap=", 4) && uid != 0) {
		/* a host interface: the operator's to hand out */
		snprintf(err, errlen, "uplink %s: only root may give a network a host tap", uplink);
		return -EACCES;
	}
	return 0;
}

void dnet_uplinks_acquire(struct daemon *d)
{
	while (d->sw.up_busy)
		pthread_cond_wait(&d->cond, &d->lock);
	d->sw.up_busy = true;
}

void dnet_uplinks_release(struct daemon *d)
{
	d->sw.up_busy = false;
	pthread_cond_broadcast(&d->cond);
}

static void port_name(const struct dnet *n, char *buf, size_t len)
{
	snprintf(buf, len, "up-n-%s", n->id);
}

/* Reap a process by pidfd within ms (SIGKILL after that). Its exit into
 * how. No lock needed. */
static void reap(int pidfd, unsigned ms, char *how, size_t len)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	siginfo_t si;

	if (poll(&p, 1, (int)ms) <= 0) {
		pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
		(void)poll(&p, 1, 2000);
	}
	memset(&si, 0, sizeof(si));
	if (waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED | WNOHANG) < 0 || !si.si_pid)
		snprintf(how, len, "exit status unknown");
	else if (si.si_code == CLD_EXITED)
		snprintf(how, len, "exited with status %d", si.si_status);
	else
		snprintf(how, len, "killed by signal %d", si.si_status);
	close(pidfd);
}

/* DEL_PORT of n's uplink port (no lock held). */
static void del_port(struct daemon *d, const char *name)
{
	char buf[SWCTL_NAME_LEN] = "", reply[128];
	int32_t st;

	snprintf(buf, sizeof(buf), "%s", name);
	if (dsw_call(d, SWCTL_DEL_PORT, buf, sizeof(buf), -1, &st, reply, sizeof(reply))) {
		/* no switch: no port */
	}
}

void dnet_uplink_stop(struct daemon *d, struct dnet *n)
{
	char name[SWCTL_NAME_LEN], how[64];
	bool attached = n->up_gen != 0;
	int pidfd = n->up_pidfd;
	pid_t pid = n->up_pid;

	if (!n->uplink[0])
		return;
	port_name(n, name, sizeof(name));
	n->up_pidfd = -1;
	n->up_pid = 0;
	n->up_gen = 0;
	pthread_mutex_unlock(&d->lock);
	/* the switch closes its end: passt sees end of file and exits */
	del_port(d, name);
	if (pidfd >= 0)
		reap(pidfd, 2000, how, sizeof(how));
	pthread_mutex_lock(&d->lock);
	if (pidfd >= 0)
		dmn_event(d, NULL, "uplink-stopped", "network %s (%s): passt pid %d %s", n->name,
			  n->id, (int)pid, how);
	else if (attached)
		dmn_event(d, NULL, "uplink-stopped", "network %s (%s): %s detached", n->name, n->id,
			  n->uplink);
}

static uint64_t backoff_ns(unsigned fails)
{
	uint64_t s = fails >= 7 ? DNET_UPLINK_BACKOFF_MAX_S : 1ull << (fails ? fails - 1 : 0);

	return (s > DNET_UPLINK_BACKOFF_MAX_S ? DNET_UPLINK_BACKOFF_MAX_S : s) * 1000000000ull;
}

/* Reap the uplinks that exited on their own (d->lock held, up_busy ours). */
static void reap_exited(struct daemon *d, uint64_t now)
{
	for (struct dnet *n = d->nets; n; n = n->next) {
		struct pollfd p = { .fd = n->up_pidfd, .events = POLLIN };
		char how[64];
		bool own;

		if (n->up_pidfd < 0 || poll(&p, 1, 0) <= 0)
			continue;
		/* its switch still runs: passt ended on its own (back off);
		 * the switch went first: passt followed it (restart at once) */
		own = n->up_gen == d->sw.gen && d->sw.pid > 0;
		reap(n->up_pidfd, 0, how, sizeof(how));
		snprintf(n->up_state, sizeof(n->up_state), "passt pid %d %s%s", (int)n->up_pid, how,
			 own ? "" : " (its switch had ended)");
		dmn_event(d, NULL, "uplink-exited", "network %s (%s): %s", n->name, n->id,
			  n->up_state);
		if (own && now - n->up_started_ns > 60ull * 1000000000ull)
			n->up_fails = 0;
		n->up_fails += own;
		n->up_retry_ns = own ? now + backoff_ns(n->up_fails) : 0;
		n->up_pidfd = -1;
		n->up_pid = 0;
		n->up_gen = 0;
	}
}

/* Start passt for segment seg and register it as port name with the switch
 * (no lock held). 0 with *pp filled (port_fd handed over), or -errno. */
static int start_one(struct daemon *d, const char *kind, const char *seg, const char *name,
		     struct passt_proc *pp, char *err, size_t errlen)
{
	struct swctl_port rec;
	char path[256], reply[256];
	int32_t st = 0;
	int ret;

	if (!strncmp(kind, "tap=", 4)) {
		int fd = tap_uplink_open(kind + 4, err, errlen);

		if (fd < 0)
			return fd;
		if ((ret = tap_uplink_port_record(&rec, name, seg))) {
			snprintf(err, errlen, "uplink port %s: bad name", name);
			close(fd);
			return ret;
		}
		del_port(d, name);
		ret = dsw_call(d, SWCTL_ADD_PORT, &rec, sizeof(rec), fd, &st, reply, sizeof(reply));
		close(fd); /* the switch has its own copy now (or none) */
		goto added;
	}
	if ((ret = passt_find(path, sizeof(path), err, errlen)))
		return ret;
	if ((ret = passt_port_record(&rec, name, seg))) {
		snprintf(err, errlen, "uplink port %s: bad name", name);
		return ret;
	}
	if ((ret = passt_start(path, seg, false, pp, err, errlen)))
		return ret;
	del_port(d, name); /* one of an earlier start the switch has not reaped */
	ret = dsw_call(d, SWCTL_ADD_PORT, &rec, sizeof(rec), pp->port_fd, &st, reply,
		       sizeof(reply));
	close(pp->port_fd); /* the switch has its own copy now (or none) */
	pp->port_fd = -1;
added:
	if (ret || st) {
		if (ret)
			snprintf(err, errlen, "the switch did not answer: %s", strerror(-ret));
		else
			snprintf(err, errlen, "the switch refused the uplink port: %.200s", reply);
		passt_stop(pp);
		return -EIO;
	}
	return 0;
}

void dnet_uplinks_sync(struct daemon *d)
{
	pthread_mutex_lock(&d->lock);
	dnet_uplinks_acquire(d);
	for (unsigned round = 0; round < DMN_MAX_NETS; round++) {
		uint64_t now = dmn_now_ns();
		char id[DNET_ID_LEN + 1], seg[SWCTL_NAME_LEN], name[SWCTL_NAME_LEN], err[300] = "";
		char kind[DNET_UPLINK_MAX + 1];
		struct passt_proc pp = { -1, -1, -1 };
		struct dnet *n;
		unsigned gen;
		int old, ret;

		reap_exited(d, now);
		if (d->sw.pid <= 0 || d->shutting_down)
			break;
		for (n = d->nets; n; n = n->next)
			if (n->uplink[0] && n->up_gen != d->sw.gen && now >= n->up_retry_ns)
				break;
		if (!n)
			break;
		memcpy(id, n->id, sizeof(id));
		memcpy(kind, n->uplink, sizeof(kind));
		dnet_segment(n, seg, sizeof(seg));
		port_name(n, name, sizeof(name));
		gen = d->sw.gen;
		/* a passt of an earlier switch: ends with its socket; reaped */
		old = n->up_pidfd;
		n->up_pidfd = -1;
		n->up_pid = 0;
		pthread_mutex_unlock(&d->lock);
		if (old >= 0) {
			char how[64];

			reap(old, 1000, how, sizeof(how));
		}
		ret = start_one(d, kind, seg, name, &pp, err, sizeof(err));
		pthread_mutex_lock(&d->lock);
		for (n = d->nets; n && strcmp(n->id, id); n = n->next)
			;
		if (!n) {
			/* removed meanwhile (cannot happen while we hold up_busy) */
			pthread_mutex_unlock(&d->lock);
			del_port(d, name);
			passt_stop(&pp);
			pthread_mutex_lock(&d->lock);
			continue;
		}
		if (ret) {
			n->up_fails++;
			n->up_retry_ns = now + backoff_ns(n->up_fails);
			snprintf(n->up_state, sizeof(n->up_state), "%.199s", err);
			dmn_event(d, NULL, "uplink-failed", "network %s (%s): %s", n->name, n->id, err);
			continue;
		}
		n->up_pidfd = pp.pidfd;
		n->up_pid = pp.pid;
		n->up_gen = gen;
		n->up_starts++;
		n->up_started_ns = now;
		if (pp.pid > 0)
			dmn_event(d, NULL, "uplink-started", "network %s (%s): passt pid %d, port %s",
				  n->name, n->id, pp.pid, name);
		else
			dmn_event(d, NULL, "uplink-started", "network %s (%s): %s, port %s", n->name,
				  n->id, n->uplink, name);
	}
	dnet_uplinks_release(d);
	pthread_mutex_unlock(&d->lock);
}

struct json_object *dnet_uplink_json(const struct daemon *d, const struct dnet *n)
{
	struct json_object *o;
	bool up = n->up_gen && n->up_gen == d->sw.gen && d->sw.pid > 0;

	if (!n->uplink[0])
		return NULL;
	o = json_object_new_object();
	json_object_object_add(o, "kind", json_object_new_string(n->uplink));
	json_object_object_add(o, "running", json_object_new_boolean(up));
	json_object_object_add(o, "pid", json_object_new_int64(up ? n->up_pid : 0));
	json_object_object_add(o, "starts", json_object_new_int64(n->up_starts));
	if (n->up_state[0])
		json_object_object_add(o, "last_error", json_object_new_string(n->up_state));
	return o;
}

static bool on_net(const struct dvm *v, unsigned i, const struct dnet *n)
{
	return v->nets[i][0] && (!strcmp(v->nets[i], n->name) || !strcmp(v->nets[i], n->id));
}

bool dnet_uplink_taken(struct daemon *d, const struct dvm *v, unsigned i, char *other,
		       size_t len)
{
	struct dnet *n = dnet_find(d, v->owner, v->nets[i]);

	if (!n || strcmp(n->uplink, "passt"))
		return false;
	for (const struct dvm *o = d->vms; o; o = o->next) {
		if (o == v || o->owner != n->owner || !o->sw_gen || o->sw_gen != d->sw.gen ||
		    o->state == DVM_EXITED || o->state == DVM_CREATED)
			continue;
		for (unsigned k = 0; k < o->nnics && k < VM_MAX_NETS; k++)
			if (on_net(o, k, n)) {
				snprintf(other, len, "%s", o->id);
				return true;
			}
	}
	return false;
}
