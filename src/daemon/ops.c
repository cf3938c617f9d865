/* ops.c — the VM operations of the API: start, pause, resume, quarantine,
 * stop, kill. Each returns 0 or -errno with a message (daemon.h); none waits
 * on a VMM longer than its deadline, and kill needs no answer at all.
 *
 * Pause and quarantine are enforced from outside the VM's processes: after
 * the VMM's own pause (which parks vCPUs and, for quarantine, cuts device
 * I/O), the daemon freezes the VM's cgroup and records the new state only
 * once the kernel reports it frozen. A VMM that answers "done" and keeps
 * running is therefore still stopped; one that does not answer in time is
 * frozen anyway (never left half-paused). */
#include "daemon/daemon.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <time.h>

#include "common/log.h"
#include "config/exit_codes.h"
#include "ctl/ctl_proto.h"

#define START_TIMEOUT_MS 60000u /* spawn -> first control reply (kernel load) */
#define FREEZE_TIMEOUT_MS 3000u
#define EXIT_WAIT_S 5u


int dvm_claim(struct daemon *d, uid_t uid, const char *id, unsigned ok, const char *op,
		 struct dvm **out, char *err, size_t errlen)
{
	struct dvm *v;
	int ret = dmn_lookup(d, uid, id, &v, err, errlen);

	if (ret)
		return ret;
	if (v->busy) {
		snprintf(err, errlen, "VM %s: another operation is in progress; %s refused", v->id,
			 op);
		return -EBUSY;
	}
	if (!(ok & DVM_S(v->state))) {
		snprintf(err, errlen, "VM %s is %s: %s is not possible in that state", v->id,
			 dvm_state_name(v->state), op);
		return -EBUSY;
	}
	v->busy = true;
	*out = v;
	return 0;
}

void dvm_release(struct daemon *d, struct dvm *v)
{
	v->busy = false;
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
}

int dmn_start(struct daemon *d, uid_t uid, const char *id, char *err, size_t errlen)
{
	uint64_t t0 = dmn_now_ns();
	uint32_t st = 0;
	struct dvm *v;
	int ret;

	pthread_mutex_lock(&d->lock);
	ret = dvm_claim(d, uid, id, DVM_S(DVM_CREATED) | DVM_S(DVM_EXITED), "start", &v, err, errlen);
	if (!ret && v->cgroup_pending) {
		snprintf(err, errlen, "VM %s: what is left of its last run is still being removed; "
			 "try again in a moment", v->id);
		v->busy = false;
		ret = -EBUSY;
	}
	if (ret) {
		pthread_mutex_unlock(&d->lock);
		return ret;
	}
	/* Its CPUs (dedicated cores are never shared: cpu_alloc.h). */
	if ((ret = dcpu_claim(d, v, err, errlen))) {
		dvm_release(d, v);
		return ret;
	}
	v->state = DVM_STARTING;
	v->stop_requested = false;
	v->exit_code = -1;
	v->exit_signal = 0;
	v->exit_reason[0] = v->exit_detail[0] = v->quarantine_reason[0] = '\0';
	pthread_mutex_unlock(&d->lock);

	if ((ret = dvm_spawn(d, v, err, errlen))) {
		pthread_mutex_lock(&d->lock);
		v->state = DVM_EXITED;
		snprintf(v->exit_reason, sizeof(v->exit_reason), "spawn-failed");
		snprintf(v->exit_detail, sizeof(v->exit_detail), "%s", err);
		if (dvm_save(d, v)) {
		}
		dmn_event(d, v, "exited", "spawn-failed: %s", err);
		dcpu_release(v);
		dvm_release(d, v);
		return ret == -ENOTSUP ? ret : -EIO;
	}
	if (dcpu_narrow_others(d, v)) {
		/* logged below with the start event */
	}
	/* The first reply comes once vm_create() is done and the VM runs. */
	ret = dvm_ctl(d, v, CTL_STATUS, START_TIMEOUT_MS, &st, err, errlen);
	pthread_mutex_lock(&d->lock);
	if (ret == 0 && v->state == DVM_STARTING) {
		v->state = (st & CTL_ST_PAUSED) ? DVM_PAUSED : DVM_RUNNING;
		v->started_at = (int64_t)time(NULL);
		v->started_mono_ns = dmn_now_ns();
		v->start_ms = (v->started_mono_ns - t0) / 1000000u;
		if (dvm_save(d, v)) {
		}
		dmn_event(d, v, "started", "pid %d, running after %llu ms", (int)v->pid,
			  (unsigned long long)v->start_ms);
	} else {
		/* No answer in time, or a bad one: the daemon ends it. (EOF: it
		 * is ending by itself, and its exit code says why.) */
		bool ours = ret == -ETIMEDOUT || ret == -EPROTO;

		if (ours && v->pidfd >= 0 && v->state != DVM_EXITED) {
			v->stop_requested = true;
			pidfd_send_signal(v->pidfd, SIGKILL, NULL, 0);
			if (v->cgroup)
				dcg_vm_kill(&d->cg, v->id);
		}
		dvm_wait_exited(d, v, EXIT_WAIT_S);
		if (v->state == DVM_EXITED && ours) {
			snprintf(err + strlen(err), errlen - strlen(err), "; the VM was killed");
		} else if (v->state == DVM_EXITED) {
			snprintf(err, errlen, "VM %s did not start: %s (exit code %d): %s", v->id,
				 v->exit_reason, v->exit_code, v->exit_detail);
			ret = v->exit_code == BH_EXIT_CONFIG ? -EBADMSG : -EIO;
		} else if (!ret) {
			ret = -EIO;
		}
	}
	dvm_release(d, v);
	return ret;
}

/* Freeze (or thaw) v from outside, without d->lock. */
int dvm_freeze(struct daemon *d, struct dvm *v, bool on)
{
	return v->cgroup ? dcg_vm_freeze(&d->cg, v->id, on, FREEZE_TIMEOUT_MS) : -ENOTSUP;
}

/* pause / quarantine: the VMM's own pause, then the freezer; see top. */
static int pause_op(struct daemon *d, uid_t uid, const char *id, bool quarantine,
		    const char *reason, char *err, size_t errlen)
{
	const char *op = quarantine ? "quarantine" : "pause";
	char why[300] = "";
	struct dvm *v;
	int ret, fr;

	pthread_mutex_lock(&d->lock);
	ret = dvm_claim(d, uid, id, quarantine ? DVM_S(DVM_RUNNING) | DVM_S(DVM_PAUSED) : DVM_S(DVM_RUNNING), op,
		    &v, err, errlen);
	pthread_mutex_unlock(&d->lock);
	if (ret)
		return ret;
	/* Evidence first: the forensic snapshot (state + memory) is written
	 * before the VMM cuts device I/O, so it shows the VM as it was. A
	 * failure is recorded and the quarantine goes on regardless. */
	if (quarantine)
		dvm_forensic_snapshot(d, v);
	/* A VM still frozen (paused, and its forensic snapshot could not be
	 * taken) is quarantined by the freezer alone: not thawed again. */
	ret = v->frozen ? 0
			: dvm_ctl(d, v, quarantine ? CTL_QUARANTINE : CTL_PAUSE,
				  d->lim.ctl_timeout_ms, NULL, why, sizeof(why));
	if (!quarantine && (ret == -EPERM || ret == -EAGAIN)) {
		/* The VMM refused in an orderly way: nothing was paused. */
		pthread_mutex_lock(&d->lock);
		snprintf(err, errlen, "%s", why);
		dvm_release(d, v);
		return -EBUSY;
	}
	fr = dvm_freeze(d, v, true);
	pthread_mutex_lock(&d->lock);
	if (v->state == DVM_EXITED) {
		snprintf(err, errlen, "VM %s exited during %s", v->id, op);
		dvm_release(d, v);
		return -ESRCH;
	}
	if (fr) {
		/* Not frozen: never record a pause the daemon cannot vouch for. */
		pthread_mutex_unlock(&d->lock);
		(void)dvm_freeze(d, v, false);
		pthread_mutex_lock(&d->lock);
		if (quarantine && v->pidfd >= 0) {
			/* A VM to be quarantined must stop: if it cannot be frozen,
			 * it is killed. */
			v->stop_requested = true;
			pidfd_send_signal(v->pidfd, SIGKILL, NULL, 0);
			if (v->cgroup)
				dcg_vm_kill(&d->cg, v->id);
			dmn_event(d, v, "killing", "quarantine by uid %u: cannot freeze it: %s",
				  (unsigned)uid, strerror(-fr));
			snprintf(err, errlen, "VM %s could not be frozen from outside (%s): killed "
				 "instead of quarantined", v->id, strerror(-fr));
		} else {
			snprintf(err, errlen, "VM %s could not be frozen from outside (%s)%s%s", v->id,
				 strerror(-fr), ret ? "; " : "", ret ? why : "");
		}
		dvm_release(d, v);
		return ret ? ret : fr;
	}
	v->frozen = true;
	v->state = quarantine ? DVM_QUARANTINED : DVM_PAUSED;
	if (quarantine)
		snprintf(v->quarantine_reason, sizeof(v->quarantine_reason), "%s", reason);
	if (dvm_save(d, v)) {
	}
	if (quarantine)
		dmn_event(d, v, "quarantined", "by uid %u: %s%s%s; forensic snapshot %s%s",
			  (unsigned)uid, reason, ret ? "; frozen, the VMM did not confirm: " : "",
			  ret ? why : "", v->forensic[0] ? v->forensic : "failed: ",
			  v->forensic[0] ? "" : v->forensic_error);
	else
		dmn_event(d, v, "paused", "by uid %u%s%s", (unsigned)uid,
			  ret ? "; frozen, the VMM did not confirm: " : "", ret ? why : "");
	/* Done (the freezer holds it); a VMM that did not answer is a note. */
	if (ret)
		snprintf(err, errlen, "%s: frozen from outside; the VMM did not confirm (%s)",
			 quarantine ? "quarantined" : "paused", why);
	else
		err[0] = '\0';
	dvm_release(d, v);
	return 0;
}

int dmn_pause(struct daemon *d, uid_t uid, const char *id, char *err, size_t errlen)
{
	return pause_op(d, uid, id, false, NULL, err, errlen);
}

int dmn_quarantine(struct daemon *d, uid_t uid, const char *id, const char *reason, char *err,
		   size_t errlen)
{
	return pause_op(d, uid, id, true, reason, err, errlen);
}

int dmn_resume(struct daemon *d, uid_t uid, const char *id, char *err, size_t errlen)
{
	struct dvm *v;
	int ret;

	pthread_mutex_lock(&d->lock);
	ret = dvm_claim(d, uid, id, DVM_S(DVM_PAUSED), "resume", &v, err, errlen);
	pthread_mutex_unlock(&d->lock);
	if (ret) {
		if (strstr(err, "quarantined"))
			snprintf(err + strlen(err), errlen - strlen(err),
				 " (a quarantined VM stays paused: inspect it, then stop or kill it)");
		return ret;
	}
	if (v->frozen && (ret = dvm_freeze(d, v, false)))
		snprintf(err, errlen, "VM %s: cannot thaw it: %s", v->id, strerror(-ret));
	else
		ret = dvm_ctl(d, v, CTL_RESUME, d->lim.ctl_timeout_ms, NULL, err, errlen);
	if (ret && v->frozen && dvm_freeze(d, v, true)) {
		/* neither resumed nor frozen again: the VMM's pause still holds */
		bh_warn("VM %s: resume failed and the freezer did not take it back", v->id);
	}
	pthread_mutex_lock(&d->lock);
	if (ret == 0 && v->state != DVM_EXITED) {
		v->frozen = false;
		v->state = DVM_RUNNING;
		if (dvm_save(d, v)) {
		}
		dmn_event(d, v, "resumed", "by uid %u", (unsigned)uid);
	} else if (ret == -EPERM || ret == -EAGAIN) {
		ret = -EBUSY;
	}
	dvm_release(d, v);
	return ret;
}

static void signal_vmm(struct dvm *v, int sig)
{
	if (v->pidfd >= 0 && pidfd_send_signal(v->pidfd, sig, NULL, 0) < 0 && errno != ESRCH)
		bh_warn("VM %s: pidfd_send_signal %d: %s", v->id, sig, strerror(errno));
}

/* Kill every process of v (d->lock held): the VMM through its pidfd, the rest
 * through its cgroup, which is thawed so frozen tasks can die. */
static void kill_all(struct daemon *d, struct dvm *v)
{
	signal_vmm(v, SIGKILL);
	if (v->cgroup)
		dcg_vm_kill(&d->cg, v->id);
}

int dmn_stop(struct daemon *d, uid_t uid, const char *id, unsigned timeout_s, char *err,
	     size_t errlen)
{
	const char *how = "graceful";
	enum dvm_state was;
	struct dvm *v;
	int ret;

	pthread_mutex_lock(&d->lock);
	ret = dvm_claim(d, uid, id, DVM_S(DVM_RUNNING) | DVM_S(DVM_PAUSED) | DVM_S(DVM_QUARANTINED), "stop", &v,
		    err, errlen);
	if (ret) {
		pthread_mutex_unlock(&d->lock);
		return ret;
	}
	was = v->state;
	v->state = DVM_STOPPING;
	v->stop_requested = true;
	dmn_event(d, v, "stopping", "by uid %u, timeout %u s", (unsigned)uid, timeout_s);
	pthread_mutex_unlock(&d->lock);

	/* A paused guest cannot see Ctrl-Alt-Del: terminate the VMM at once. */
	if (was == DVM_RUNNING &&
	    dvm_ctl(d, v, CTL_STOP, d->lim.ctl_timeout_ms, NULL, err, errlen) == 0) {
		pthread_mutex_lock(&d->lock);
		dvm_wait_state_change(d, v, DVM_STOPPING, timeout_s);
	} else {
		pthread_mutex_lock(&d->lock);
	}
	if (v->state != DVM_EXITED && was != DVM_QUARANTINED) {
		how = "terminated";
		signal_vmm(v, SIGTERM);
		if (v->frozen) { /* a frozen VMM sees SIGTERM once thawed */
			pthread_mutex_unlock(&d->lock);
			(void)dvm_freeze(d, v, false);
			pthread_mutex_lock(&d->lock);
		}
		dvm_wait_exited(d, v, 3);
	}
	/* A quarantined VM never runs again, not even to shut down. */
	if (v->state != DVM_EXITED) {
		how = "killed";
		kill_all(d, v);
		dvm_wait_exited(d, v, EXIT_WAIT_S);
	}
	if (v->state == DVM_EXITED) {
		/* Stopped means gone: a `rm` or `start` right after the reply
		 * must not find its cgroup still emptying (409). */
		dvm_wait_cgroup_gone(d, v, EXIT_WAIT_S);
		snprintf(err, errlen, "%s", how);
		ret = 0;
	} else {
		snprintf(err, errlen, "VM %s: the VMM did not exit after SIGKILL", v->id);
		ret = -ETIMEDOUT;
	}
	dvm_release(d, v);
	return ret;
}

int dmn_kill(struct daemon *d, uid_t uid, const char *id, char *err, size_t errlen)
{
	struct dvm *v;
	int ret;

	pthread_mutex_lock(&d->lock);
	ret = dmn_lookup(d, uid, id, &v, err, errlen);
	if (!ret && (v->pidfd < 0 || v->state == DVM_EXITED || v->state == DVM_CREATED)) {
		snprintf(err, errlen, "VM %s is %s: there is no process to kill", v->id,
			 dvm_state_name(v->state));
		ret = -EBUSY;
	}
	if (!ret) {
		/* No busy claim: kill must work while a start or stop hangs. */
		v->stop_requested = true;
		dmn_event(d, v, "killing", "by uid %u", (unsigned)uid);
		kill_all(d, v);
		dvm_wait_exited(d, v, EXIT_WAIT_S);
		if (v->state != DVM_EXITED) {
			snprintf(err, errlen, "VM %s: no exit seen yet after SIGKILL", v->id);
			ret = -EINPROGRESS;
		} else {
			/* As for stop: gone means its cgroup too. The reference
			 * keeps a racing rm from freeing v while we wait. */
			v->refs++;
			dvm_wait_cgroup_gone(d, v, EXIT_WAIT_S);
			v->refs--;
			pthread_cond_broadcast(&d->cond);
		}
	}
	pthread_mutex_unlock(&d->lock);
	return ret;
}

int dmn_balloon(struct daemon *d, uid_t uid, const char *id, uint64_t target_bytes, char *err,
		size_t errlen)
{
	struct dvm *v;
	int ret;

	pthread_mutex_lock(&d->lock);
	/* Running only: a paused VM is frozen and cannot answer. */
	ret = dvm_claim(d, uid, id, DVM_S(DVM_RUNNING), "setting the balloon", &v, err, errlen);
	if (!ret && target_bytes > v->mem_bytes) {
		snprintf(err, errlen, "target: %llu bytes is above the VM's memory (%llu bytes)",
			 (unsigned long long)target_bytes, (unsigned long long)v->mem_bytes);
		ret = -ERANGE;
		dvm_release(d, v);
		return ret;
	}
	pthread_mutex_unlock(&d->lock);
	if (ret)
		return ret;
	ret = dvm_ctl_ex(d, v, CTL_BALLOON_SET, target_bytes, NULL, d->lim.ctl_timeout_ms, NULL,
			 err, errlen);
	if (ret == -ENODEV)
		snprintf(err, errlen, "VM %s has no balloon (create it with \"balloon\": "
			 "{\"enabled\": true})", v->id);
	pthread_mutex_lock(&d->lock);
	if (ret == 0)
		dmn_event(d, v, "balloon", "target %llu MiB by uid %u",
			  (unsigned long long)(target_bytes >> 20), (unsigned)uid);
	dvm_release(d, v);
	return ret;
}
