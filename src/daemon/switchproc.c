/* switchproc.c — the switch process bulkheadd runs for its networks: start,
 * supervise, restart; requests; violation events; a VM's ports (see
 * network.h for the contract and the locking). */
#include "daemon/network.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <json-c/json.h>

#include "common/log.h"
#include "common/proc_child.h"
#include "config/args.h"
#include "config/config_json.h"
#include "config/schema.h"
#include "ctl/switch_ctl.h"
#include "daemon/daemon.h"

/* ---- the process (d->lock held) ---- */

static void set_timeouts(int fd)
{
	struct timeval tv = { DSW_TIMEOUT_MS / 1000, (DSW_TIMEOUT_MS % 1000) * 1000 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* Forget the current switch's sockets (d->lock held). The request socket
 * is swapped under sw.lock so no request is using it. */
static void drop_sockets(struct daemon *d)
{
	pthread_mutex_lock(&d->sw.lock);
	if (d->sw.req_fd >= 0)
		close(d->sw.req_fd);
	d->sw.req_fd = -1;
	pthread_mutex_unlock(&d->sw.lock);
	if (d->sw.ev_fd >= 0)
		close(d->sw.ev_fd);
	d->sw.ev_fd = -1;
}

static int spawn(struct daemon *d, char *err, size_t errlen)
{
	char log[PATH_MAX];
	int req[2] = { -1, -1 }, ev[2] = { -1, -1 }, logfd, pidfd, ret;
	pid_t pid;

	snprintf(log, sizeof(log), "%s/switch.log", d->state_dir);
	logfd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (logfd < 0 || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, req) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ev) < 0) {
		ret = -errno;
		snprintf(err, errlen, "switch: %s: %s", logfd < 0 ? log : "socketpair",
			 strerror(errno));
		goto fail;
	}
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		snprintf(err, errlen, "switch: fork: %s", strerror(errno));
		goto fail;
	}
	if (pid == 0) {
		/* async-signal-safe only until exec (see spawn_fds.h) */
		char a1[] = "switch", a2[] = "--ctl-fd", a3[] = "3", a4[] = "4";
		char *argv[] = { d->switch_path, a1, a2, a3, a2, a4, NULL };
		sigset_t empty;
		int r, e, l;

		setsid();
		sigemptyset(&empty);
		sigprocmask(SIG_SETMASK, &empty, NULL);
		if ((r = fcntl(req[1], F_DUPFD, 64)) < 0 || (e = fcntl(ev[1], F_DUPFD, 64)) < 0 ||
		    (l = fcntl(logfd, F_DUPFD, 64)) < 0 || dup2(r, 3) < 0 || dup2(e, 4) < 0)
			proc_child_exit(127);
		if ((r = open("/dev/null", O_RDONLY)) < 0 || dup2(r, 0) < 0 || dup2(l, 1) < 0 ||
		    dup2(l, 2) < 0)
			proc_child_exit(127);
		syscall(SYS_close_range, 5u, ~0u, 0u);
		proc_child_execv(argv[0], argv, 127);
	}
	close(req[1]);
	close(ev[1]);
	close(logfd);
	req[1] = ev[1] = logfd = -1;
	pidfd = pidfd_open(pid, 0);
	if (pidfd < 0) {
		ret = -errno;
		snprintf(err, errlen, "switch: pidfd_open: %s", strerror(errno));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		goto fail;
	}
	{
		struct epoll_event e = { .events = EPOLLIN, .data.ptr = &d->sw_watch };

		if (epoll_ctl(d->sup_ep, EPOLL_CTL_ADD, pidfd, &e) < 0) {
			ret = -errno;
			snprintf(err, errlen, "switch: epoll: %s", strerror(errno));
			pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
			waitpid(pid, NULL, 0);
			close(pidfd);
			goto fail;
		}
	}
	set_timeouts(req[0]);
	set_timeouts(ev[0]);
	drop_sockets(d);
	pthread_mutex_lock(&d->sw.lock);
	d->sw.req_fd = req[0];
	pthread_mutex_unlock(&d->sw.lock);
	d->sw.ev_fd = ev[0];
	d->sw.pid = pid;
	d->sw.pidfd = pidfd;
	d->sw.gen++;
	/* Violation events arrive on their own connection; the reply to the
	 * SUBSCRIBE comes there too and the event thread skips it. */
	if (swctl_send(ev[0], SWCTL_SUBSCRIBE, 0, NULL, 0, -1, 0))
		bh_warn("switch: cannot subscribe to its events");
	dmn_event(d, NULL, "switch-started", "pid %d (generation %u)", (int)pid, d->sw.gen);
	pthread_cond_broadcast(&d->cond);
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		if (req[i] >= 0)
			close(req[i]);
		if (ev[i] >= 0)
			close(ev[i]);
	}
	if (logfd >= 0)
		close(logfd);
	return ret;
}

int dsw_ensure(struct daemon *d, char *err, size_t errlen)
{
	uint64_t now = dmn_now_ns();
	unsigned recent = 0;
	int ret;

	if (d->sw.pid > 0 || !d->nets)
		return 0;
	for (unsigned i = 0; i < DSW_RESTARTS; i++)
		if (d->sw.starts_ns[i] && now - d->sw.starts_ns[i] < 60ull * 1000000000ull)
			recent++;
	if (recent >= DSW_RESTARTS && d->sw.failed) {
		snprintf(err, errlen, "the switch died %u times within a minute (last: %s); not "
			 "restarted yet", recent, d->sw.last_exit);
		return -EIO;
	}
	if ((ret = spawn(d, err, errlen))) {
		d->sw.failed = true;
		return ret;
	}
	memmove(&d->sw.starts_ns[1], &d->sw.starts_ns[0],
		sizeof(d->sw.starts_ns) - sizeof(d->sw.starts_ns[0]));
	d->sw.starts_ns[0] = now;
	d->sw.failed = false;
	return 0;
}

void dsw_exited(struct daemon *d)
{
	siginfo_t si;
	char err[200];

	if (d->sw.pidfd < 0)
		return;
	memset(&si, 0, sizeof(si));
	epoll_ctl(d->sup_ep, EPOLL_CTL_DEL, d->sw.pidfd, NULL);
	if (waitid(P_PIDFD, (id_t)d->sw.pidfd, &si, WEXITED) == 0 && si.si_code == CLD_EXITED)
		snprintf(d->sw.last_exit, sizeof(d->sw.last_exit), "exit code %d", si.si_status);
	else if (si.si_signo)
		snprintf(d->sw.last_exit, sizeof(d->sw.last_exit), "signal %d", si.si_status);
	else
		snprintf(d->sw.last_exit, sizeof(d->sw.last_exit), "exit status unknown");
	close(d->sw.pidfd);
	d->sw.pidfd = -1;
	d->sw.pid = 0;
	drop_sockets(d);
	dmn_event(d, NULL, "switch-exited", "%s; the ports of running VMs are gone (restart them)",
		  d->sw.last_exit);
	if (d->shutting_down || !d->nets)
		return;
	d->sw.restarts++;
	/* within the budget, at once: the next start finds it running */
	{
		uint64_t now = dmn_now_ns();
		unsigned recent = 0;

		for (unsigned i = 0; i < DSW_RESTARTS; i++)
			if (d->sw.starts_ns[i] && now - d->sw.starts_ns[i] < 60ull * 1000000000ull)
				recent++;
		if (recent >= DSW_RESTARTS) {
			d->sw.failed = true;
			dmn_event(d, NULL, "switch-failed", "died %u times within a minute: not "
				  "restarted until the next network operation", recent);
			return;
		}
	}
	if (dsw_ensure(d, err, sizeof(err)))
		dmn_event(d, NULL, "switch-failed", "%s", err);
}

/* ---- requests (without d->lock) ---- */

int dsw_call(struct daemon *d, uint16_t type, const void *payload, size_t len, int fd,
	     int32_t *status, char *reply, size_t replylen)
{
	char drain[512];
	int ret;

	pthread_mutex_lock(&d->sw.lock);
	if (d->sw.req_fd < 0) {
		pthread_mutex_unlock(&d->sw.lock);
		return -ENOTCONN;
	}
	/* A reply that came after an earlier request gave up is stale. */
	while (recv(d->sw.req_fd, drain, sizeof(drain), MSG_DONTWAIT) > 0)
		;
	ret = swctl_call(d->sw.req_fd, type, payload, len, fd, status, reply, replylen);
	pthread_mutex_unlock(&d->sw.lock);
	return ret;
}

/* ---- a VM's ports ---- */

static int nic_mac(const char *vm_id, unsigned i, const char *given, uint8_t mac[6],
		   char text[VM_NET_MAC_TEXT + 1])
{
	char err[128];

	if (given && given[0]) {
		snprintf(text, VM_NET_MAC_TEXT + 1, "%s", given);
		return args_parse_mac("mac", given, mac, err, sizeof(err));
	}
	/* stable per VM and NIC: locally administered unicast, the VM ID's
	 * 32 bits, the NIC index */
	mac[0] = 0x02;
	for (unsigned k = 0; k < 4; k++) {
		unsigned b;

		if (sscanf(vm_id + 2 * k, "%2x", &b) != 1)
			return -EINVAL;
		mac[1 + k] = (uint8_t)b;
	}
	mac[5] = (uint8_t)i;
	snprintf(text, VM_NET_MAC_TEXT + 1, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1],
		 mac[2], mac[3], mac[4], mac[5]);
	return 0;
}

void dnet_vm_unplug(struct daemon *d, const char *vm_id, unsigned nnics)
{
	for (unsigned i = 0; i < nnics; i++) {
		char name[SWCTL_NAME_LEN] = "", reply[128];
		int32_t st;

		dnet_port_name(vm_id, i, name, sizeof(name));
		if (dsw_call(d, SWCTL_DEL_PORT, name, sizeof(name), -1, &st, reply, sizeof(reply)))
			return; /* no switch: no ports */
	}
}

/* Register NIC i's port; the switch's end `peer` (closed by the caller). */
static int add_port(struct daemon *d, struct dvm *v, unsigned i, const struct vm_net *nic,
		    const uint8_t mac[6], int peer, char *err, size_t errlen)
{
	struct swctl_port *rec = calloc(1, sizeof(*rec));
	char reply[256];
	int32_t st = 0;
	struct dnet *n;
	int ret;

	if (!rec)
		return -ENOMEM;
	dnet_port_name(v->id, i, rec->name, sizeof(rec->name));
	pthread_mutex_lock(&d->lock);
	n = dnet_find(d, v->owner, v->nets[i]);
	if (n) {
		dnet_segment(n, rec->segment, sizeof(rec->segment));
		rec->nrules = n->policy.nrules;
		for (unsigned k = 0; k < n->policy.nrules && k < SWCTL_MAX_RULES; k++) {
			rec->rules[k].family = n->policy.rules[k].family;
			rec->rules[k].prefix = n->policy.rules[k].prefix;
			rec->rules[k].allow = n->policy.rules[k].allow;
			memcpy(rec->rules[k].addr, n->policy.rules[k].addr, 16);
		}
	}
	ret = n ? dsw_ensure(d, err, errlen) : 0;
	if (n && !ret) {
		char other[DVM_ID_LEN + 1];

		if (dnet_uplink_taken(d, v, i, other, sizeof(other))) {
			snprintf(err, errlen, "nets[%u]: network '%s' has a passt uplink, which serves "
				 "one VM (passt gives every guest the same address and answers the "
				 "last MAC it heard), and VM %s runs on it", i, v->nets[i], other);
			ret = -EBUSY;
		}
	}
	pthread_mutex_unlock(&d->lock);
	if (!n) {
		snprintf(err, errlen, "nets[%u]: network '%s' no longer exists", i, v->nets[i]);
		ret = -EBADMSG;
		goto out;
	}
	if (ret)
		goto out;
	memcpy(rec->mac, mac, 6);
	if (nic->ip && inet_pton(AF_INET, nic->ip, rec->ip4) == 1)
		rec->flags |= SWCTL_F_IP4;
	else if (nic->ip && inet_pton(AF_INET6, nic->ip, rec->ip6) == 1)
		rec->flags |= SWCTL_F_IP6;
	rec->rate_bytes = nic->rate;
	rec->rate_packets = nic->pps;
	rec->period_ns = 100000000ull; /* burst: 100 ms of the rate, as `bulkhead run` */
	/* a port of an earlier run the switch has not reaped yet */
	{
		char name[SWCTL_NAME_LEN] = "";
		int32_t s2;

		memcpy(name, rec->name, sizeof(name));
		if (dsw_call(d, SWCTL_DEL_PORT, name, sizeof(name), -1, &s2, reply, sizeof(reply))) {
		}
	}
	ret = dsw_call(d, SWCTL_ADD_PORT, rec, sizeof(*rec), peer, &st, reply, sizeof(reply));
	if (ret) {
		snprintf(err, errlen, "nets[%u]: the switch did not answer: %s", i, strerror(-ret));
		ret = -EIO;
	} else if (st) {
		snprintf(err, errlen, "nets[%u]: the switch refused the port: %.200s", i, reply);
		ret = st == -EEXIST || st == -EINVAL ? -EBADMSG : -EIO;
	}
out:
	free(rec);
	return ret;
}

int dnet_vm_ports(struct daemon *d, struct dvm *v, const char *config_text, size_t len,
		  int fds[], unsigned *nfds, char **json, char *err, size_t errlen)
{
	struct vm_config cfg;
	struct json_object *root = NULL, *parsed = NULL, *nets;
	char msg[400];
	int ret = 0;

	*nfds = 0;
	*json = NULL;
	config_defaults(&cfg);
	if (config_json_parse(config_text, len, CONFIG_JSON_ABS_PATHS, &cfg, &root, msg,
			      sizeof(msg))) {
		snprintf(err, errlen, "%s", msg);
		return -EBADMSG;
	}
	parsed = json_tokener_parse(config_text);
	if (!parsed || !json_object_object_get_ex(parsed, "nets", &nets) ||
	    !json_object_is_type(nets, json_type_array) ||
	    json_object_array_length(nets) != cfg.nnets) {
		/* no NICs at all: the config goes as it is */
		ret = 0;
		goto done;
	}
	for (unsigned i = 0; i < cfg.nnets; i++) {
		const struct vm_net *nic = &cfg.nets[i];
		struct json_object *o = json_object_array_get_idx(nets, i);
		char mtext[VM_NET_MAC_TEXT + 1], fdname[16];
		uint8_t mac[6];
		int sv[2];

		fds[i] = -1;
		*nfds = i + 1;
		if (!nic->switch_seg)
			continue;
		if (nic_mac(v->id, i, nic->mac, mac, mtext)) {
			snprintf(err, errlen, "nets[%u].mac: invalid", i);
			ret = -EBADMSG;
			goto fail;
		}
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
			ret = -errno;
			snprintf(err, errlen, "nets[%u]: socketpair: %s", i, strerror(errno));
			goto fail;
		}
		ret = add_port(d, v, i, nic, mac, sv[1], err, errlen);
		close(sv[1]);
		if (ret) {
			close(sv[0]);
			goto fail;
		}
		fds[i] = sv[0];
		snprintf(fdname, sizeof(fdname), "swnet%u", i);
		json_object_object_del(o, "switch");
		json_object_object_add(o, "port", json_object_new_string(fdname));
		json_object_object_add(o, "mac", json_object_new_string(mtext));
	}
done:
	{
		const char *t = parsed ? json_object_to_json_string_ext(parsed, JSON_C_TO_STRING_PLAIN)
				       : config_text;

		*json = strdup(t);
		if (!*json) {
			ret = -ENOMEM;
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
	}
	json_object_put(parsed);
	config_json_free(root);
	return 0;
fail:
	for (unsigned i = 0; i < *nfds; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	dnet_vm_unplug(d, v->id, *nfds);
	*nfds = 0;
	json_object_put(parsed);
	config_json_free(root);
	return ret;
}

/* ---- violation events ---- */

/* One event from the switch (hostile input: strictly parsed, bounded). */
static void on_event(struct daemon *d, const char *text, size_t len)
{
	struct json_tokener *tok = json_tokener_new_ex(3);
	struct json_object *o = NULL, *x;
	const char *port = NULL, *reason = NULL;
	char id[DVM_ID_LEN + 1] = "";
	unsigned idx;

	if (!tok)
		return;
	o = json_tokener_parse_ex(tok, text, (int)len);
	if (!o || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, "event", &x) ||
	    strcmp(json_object_get_string(x), "violation"))
		goto out;
	if (json_object_object_get_ex(o, "port", &x) && json_object_is_type(x, json_type_string))
		port = json_object_get_string(x);
	if (json_object_object_get_ex(o, "reason", &x) && json_object_is_type(x, json_type_string))
		reason = json_object_get_string(x);
	/* our ports only: "vm" + 8 hex + "-" + index */
	if (!port || !reason || strlen(port) < 12 || strncmp(port, "vm", 2) ||
	    strspn(port + 2, "0123456789abcdef") != DVM_ID_LEN || port[10] != '-' ||
	    sscanf(port + 11, "%u", &idx) != 1 || idx >= VM_MAX_NETS ||
	    strspn(reason, "abcdefghijklmnopqrstuvwxyz_") != strlen(reason) || strlen(reason) > 24)
		goto out;
	memcpy(id, port + 2, DVM_ID_LEN);
	pthread_mutex_lock(&d->lock);
	d->sw.violations++;
	for (struct dvm *v = d->vms; v; v = v->next) {
		if (strcmp(v->id, id))
			continue;
		v->violations++;
		dmn_event(d, v, "net-violation", "nets[%u]: %s%s", idx, reason,
			  v->on_violation_quarantine ? " (on_violation: quarantine)" : "");
		if (v->on_violation_quarantine && !v->quarantine_pending[0] &&
		    v->state != DVM_QUARANTINED && v->state != DVM_EXITED &&
		    v->state != DVM_CREATED)
			snprintf(v->quarantine_pending, sizeof(v->quarantine_pending),
				 "network violation: %s on nets[%u]", reason, idx);
	}
	pthread_mutex_unlock(&d->lock);
out:
	json_object_put(o);
	json_tokener_free(tok);
}

/* Quarantine the VMs a violation marked, once each is not busy (a VM still
 * starting is done as soon as it runs). Cut its ports first (the switch
 * forgets them at once), then quarantine it like an operator would (as
 * root: the daemon's own decision, by the VM's configured policy). */
static void quarantine_pending(struct daemon *d)
{
	for (;;) {
		char id[DVM_ID_LEN + 1] = "", why[80], err[300];
		unsigned nnics = 0;
		int ret;

		pthread_mutex_lock(&d->lock);
		for (struct dvm *v = d->vms; v && !id[0]; v = v->next) {
			if (!v->quarantine_pending[0])
				continue;
			if (v->state == DVM_EXITED || v->state == DVM_CREATED ||
			    v->state == DVM_QUARANTINED) {
				v->quarantine_pending[0] = '\0';
				continue;
			}
			if (v->busy || (v->state != DVM_RUNNING && v->state != DVM_PAUSED))
				continue;
			memcpy(id, v->id, sizeof(id));
			memcpy(why, v->quarantine_pending, sizeof(why));
			v->quarantine_pending[0] = '\0';
			nnics = v->nnics;
		}
		pthread_mutex_unlock(&d->lock);
		if (!id[0])
			return;
		dnet_vm_unplug(d, id, nnics);
		ret = dmn_quarantine(d, 0, id, why, err, sizeof(err));
		if (ret == -EBUSY) {
			/* it became busy meanwhile: again on the next round */
			struct dvm *v;

			pthread_mutex_lock(&d->lock);
			if ((v = dmn_find(d, id)) && v->state != DVM_EXITED)
				memcpy(v->quarantine_pending, why, sizeof(why));
			pthread_mutex_unlock(&d->lock);
			return;
		}
		if (ret)
			bh_warn("VM %s: automatic quarantine: %s", id, err);
	}
}

static void *events_thread(void *arg)
{
	struct daemon *d = arg;
	char *buf = malloc(SWCTL_MAX_MSG);

	if (!buf)
		return NULL;
	for (;;) {
		struct pollfd p = { .events = POLLIN };
		struct swctl_hdr h;
		int fd, rfd = -1, n;

		pthread_mutex_lock(&d->lock);
		if (d->sw.ev_stop) {
			pthread_mutex_unlock(&d->lock);
			break;
		}
		/* a copy: the switch may be replaced while we wait */
		fd = d->sw.ev_fd >= 0 ? fcntl(d->sw.ev_fd, F_DUPFD_CLOEXEC, 3) : -1;
		pthread_mutex_unlock(&d->lock);
		quarantine_pending(d);
		dnet_uplinks_sync(d); /* the uplinks follow the switch (uplink.c) */
		if (fd < 0) {
			usleep(200 * 1000);
			continue;
		}
		p.fd = fd;
		if (poll(&p, 1, 200) > 0) {
			for (int k = 0; k < 64; k++) {
				n = swctl_recv(fd, &h, buf, &rfd, MSG_DONTWAIT);
				if (rfd >= 0)
					close(rfd);
				rfd = -1;
				if (n == -EPROTO)
					continue;
				if (n < 0)
					break;
				if (h.type == SWCTL_EVENT)
					on_event(d, buf, (size_t)n);
			}
			quarantine_pending(d);
			if (p.revents & (POLLHUP | POLLERR))
				usleep(100 * 1000); /* the supervisor replaces the switch */
		}
		close(fd);
	}
	free(buf);
	return NULL;
}

int dnet_events_start(struct daemon *d)
{
	int ret = pthread_create(&d->sw.ev_thread, NULL, events_thread, d);

	if (ret)
		return -ret;
	d->sw.ev_started = true;
	return 0;
}

void dsw_shutdown(struct daemon *d)
{
	pthread_mutex_lock(&d->lock);
	d->sw.ev_stop = true;
	d->shutting_down = true;
	pthread_mutex_unlock(&d->lock);
	if (d->sw.ev_started)
		pthread_join(d->sw.ev_thread, NULL);
	d->sw.ev_started = false;
	pthread_mutex_lock(&d->lock);
	drop_sockets(d);
	if (d->sw.pidfd >= 0) {
		epoll_ctl(d->sup_ep, EPOLL_CTL_DEL, d->sw.pidfd, NULL);
		close(d->sw.pidfd);
	}
	d->sw.pidfd = -1;
	/* uplinks (passt) end with the switch, which ends with its last VM port */
	dnet_uplinks_acquire(d);
	for (struct dnet *n = d->nets; n; n = n->next) {
		if (n->up_pidfd >= 0)
			close(n->up_pidfd);
		n->up_pidfd = -1;
	}
	dnet_uplinks_release(d);
	pthread_mutex_unlock(&d->lock);
}
