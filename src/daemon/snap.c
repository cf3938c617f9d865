/* snap.c — snapshots through the daemon: a VM's snapshot directory, the
 * snapshot operation, quarantine's forensic snapshot, listing and removal.
 * VMs created from a snapshot, and the snapshot opened for their start, are
 * snap_open.c's; the rules below hold for both (daemon.h, "snapshots").
 *
 * Who may read what. The daemon is root and its API clients are hostile:
 *  - a VM's snapshots are written by the daemon into STATE/vms/ID/snapshots/
 *    (root's, 0700) through descriptors the VMM only writes to; its owner
 *    gets read access by a POSIX ACL entry for their uid (never write: a
 *    quarantine's evidence cannot be altered by the suspect), on a file
 *    system without ACLs only through the daemon ("VM/NAME" sources);
 *  - a "VM/NAME" source names a VM the caller may see (dmn_find_for: another
 *    user's VM does not exist for them) and a NAME that is one path
 *    component; a path source is opened by a child process with the caller's
 *    uid, gid and groups (dmn_creds_of), so the daemon opens nothing for a
 *    caller that the caller could not open (the rule of kernels and disks,
 *    which the VMM opens as its owner);
 *  - the snapshot is then checked like restore checks it (snap_dir_load: the
 *    hostile-input parser) and, at each start, checked again and handed to
 *    the VMM as sealed copies of the manifest and state the daemon checked,
 *    plus the memory file (guest data: a changed memory file can do nothing
 *    a hostile guest could not). */
#include "daemon/daemon.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/fdpass.h"
#include "common/log.h"
#include "config/config_json.h"
#include "config/schema.h"
#include "ctl/ctl_proto.h"
#include "snapshot/snap_dir.h"

#define SNAP_TIMEOUT_MS 120000u /* writing a big VM's memory takes a while */
#define FORENSIC_TIMEOUT_FACTOR 12u /* x the control deadline: quarantine must not wait long */
#define LIST_MAX 64
#define FORENSIC_PREFIX "quarantine-"

static const char *const snap_files[3] = { SNAP_FILE_MANIFEST, SNAP_FILE_STATE,
					   SNAP_FILE_MEMORY };

void dvm_snap_path(const struct daemon *d, const struct dvm *v, const char *name, char *buf,
		   size_t len)
{
	snprintf(buf, len, "%s/vms/%s/snapshots%s%s", d->state_dir, v->id, name ? "/" : "",
		 name ? name : "");
}

/* Let `uid` read fd (and search it, a directory) by a POSIX access ACL
 * (linux/posix_acl_xattr.h, version 2): owner root keeps rw(x), the named
 * user gets r-(x), group and others nothing. 0 or -errno (-EOPNOTSUPP: the
 * file system keeps no ACLs). */
static int grant_read(int fd, uid_t uid, bool dir)
{
	struct {
		uint32_t version;
		struct {
			uint16_t tag, perm;
			uint32_t id;
		} e[5];
	} acl = { 2,
		  { { 0x01, dir ? 7 : 6, UINT32_MAX },   /* user:: */
		    { 0x02, dir ? 5 : 4, (uint32_t)uid }, /* user:UID: */
		    { 0x04, 0, UINT32_MAX },              /* group:: */
		    { 0x10, dir ? 5 : 4, UINT32_MAX },    /* mask:: */
		    { 0x20, 0, UINT32_MAX } } };          /* other:: */

	if (uid == 0 || geteuid() != 0)
		return 0; /* root's own, or a non-root daemon's VMs: all one user */
	return fsetxattr(fd, "system.posix_acl_access", &acl, sizeof(acl), 0) < 0 ? -errno : 0;
}

/* Grant the owner reading of a finished snapshot directory and its files. */
static int grant_snapshot(int sdfd, uid_t uid)
{
	int ret = grant_read(sdfd, uid, true);

	for (int i = 0; i < 3 && !ret; i++) {
		int fd = openat(sdfd, snap_files[i], O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

		if (fd < 0)
			return -errno;
		ret = grant_read(fd, uid, false);
		close(fd);
	}
	return ret;
}

static unsigned count_snapshots(int pfd)
{
	int fd = dup(pfd);
	DIR *dp = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	unsigned n = 0;

	if (!dp) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while ((de = readdir(dp)))
		if (de->d_name[0] != '.' && strncmp(de->d_name, FORENSIC_PREFIX,
						    strlen(FORENSIC_PREFIX)))
			n++;
	closedir(dp);
	return n;
}

/* Make the snapshot's directory in pfd: `name`, or PREFIX-TIME[-N]. */
static int make_dir(int pfd, const char *name, const char *prefix, char *out, size_t olen,
		    char *err, size_t errlen)
{
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;

	if (name) {
		if (mkdirat(pfd, name, 0700) < 0) {
			int e = errno;

			snprintf(err, errlen, e == EEXIST ? "a snapshot named '%s' exists already"
							  : "snapshot '%s': %s",
				 name, strerror(e));
			return e == EEXIST ? -EEXIST : -EIO;
		}
		snprintf(out, olen, "%s", name);
		return 0;
	}
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	for (unsigned i = 1; i < 100; i++) {
		if (i == 1)
			snprintf(out, olen, "%s%s", prefix, stamp);
		else
			snprintf(out, olen, "%s%s-%u", prefix, stamp, i);
		if (mkdirat(pfd, out, 0700) == 0)
			return 0;
		if (errno != EEXIST)
			break;
	}
	snprintf(err, errlen, "cannot make a snapshot directory: %s", strerror(errno));
	return -EIO;
}

/* Write a snapshot of v (claimed; no d->lock) into snapshots/NAME. */
static int take(struct daemon *d, struct dvm *v, uint32_t flags, const char *name, bool forensic,
		unsigned timeout_ms, char *name_out, size_t nlen, char *err, size_t errlen)
{
	char dir[PATH_MAX], why[400];
	int pfd, sdfd = -1, sfd = -1, mfd = -1, ret;

	dvm_snap_path(d, v, NULL, dir, sizeof(dir));
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -EIO;
	}
	pfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (pfd < 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -EIO;
	}
	if ((ret = grant_read(pfd, v->owner, true)) && ret != -EOPNOTSUPP)
		bh_warn("VM %s: %s: cannot let uid %u read it: %s", v->id, dir, (unsigned)v->owner,
			strerror(-ret));
	if (!forensic && count_snapshots(pfd) >= DSNAP_MAX) {
		snprintf(err, errlen, "VM %s has %u snapshots, the most one VM may keep (removing "
			 "the VM removes them)", v->id, DSNAP_MAX);
		close(pfd);
		return -EDQUOT;
	}
	if ((ret = make_dir(pfd, name, forensic ? FORENSIC_PREFIX : "snap-", name_out, nlen, err,
			    errlen))) {
		close(pfd);
		return ret;
	}
	sdfd = openat(pfd, name_out, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (sdfd < 0) {
		ret = -EIO;
		snprintf(err, errlen, "%s/%s: %s", dir, name_out, strerror(errno));
		goto fail;
	}
	if ((ret = snap_dir_begin(sdfd, &sfd, &mfd, why, sizeof(why)))) {
		snprintf(err, errlen, "%s/%s: %s", dir, name_out, why);
		ret = -EIO;
		goto fail;
	}
	if ((ret = dvm_ctl_snapshot(d, v, flags, sfd, mfd, timeout_ms, NULL, err, errlen)))
		goto fail;
	if ((ret = snap_dir_finish(sdfd, sfd, mfd, why, sizeof(why)))) {
		snprintf(err, errlen, "VM %s: the snapshot was taken but not completed: %s", v->id,
			 why);
		ret = -EIO;
		goto fail;
	}
	if ((ret = grant_snapshot(sdfd, v->owner)) && ret != -EOPNOTSUPP)
		bh_warn("VM %s: snapshot %s: cannot let uid %u read it: %s", v->id, name_out,
			(unsigned)v->owner, strerror(-ret));
	close(sfd);
	close(mfd);
	close(sdfd);
	close(pfd);
	return 0;
fail:
	if (sfd >= 0)
		close(sfd);
	if (mfd >= 0)
		close(mfd);
	if (sdfd >= 0) {
		snap_dir_abort(sdfd);
		close(sdfd);
	}
	unlinkat(pfd, name_out, AT_REMOVEDIR);
	close(pfd);
	return ret;
}

int dmn_snapshot(struct daemon *d, uid_t uid, const char *id, bool resume, const char *name,
		 char *name_out, size_t name_len, char *err, size_t errlen)
{
	enum dvm_state was;
	bool thawed = false;
	uint32_t flags;
	struct dvm *v;
	int ret, fr = 0;

	if (name && !dmn_name_ok(name, DSNAP_NAME_MAX)) {
		snprintf(err, errlen, "name '%.64s': 1-%d letters, digits, '-', '_' or '.', "
			 "starting with a letter or digit", name, DSNAP_NAME_MAX);
		return -EINVAL;
	}
	if (name && !strncmp(name, FORENSIC_PREFIX, strlen(FORENSIC_PREFIX))) {
		snprintf(err, errlen, "name '%s': names starting with '%s' are quarantine's", name,
			 FORENSIC_PREFIX);
		return -EINVAL;
	}
	pthread_mutex_lock(&d->lock);
	ret = dvm_claim(d, uid, id, DVM_S(DVM_RUNNING) | DVM_S(DVM_PAUSED), "snapshot", &v, err,
			errlen);
	was = ret ? DVM_CREATED : v->state;
	pthread_mutex_unlock(&d->lock);
	if (ret)
		return ret;
	/* A paused VM is frozen from outside: its VMM (paused itself) must run
	 * to write the snapshot, then it is frozen again. */
	if (v->frozen) {
		if ((ret = dvm_freeze(d, v, false))) {
			snprintf(err, errlen, "VM %s: cannot thaw it to write the snapshot: %s", v->id,
				 strerror(-ret));
			pthread_mutex_lock(&d->lock);
			dvm_release(d, v);
			return -EIO;
		}
		thawed = true;
	}
	flags = resume && was == DVM_RUNNING ? CTL_SNAP_RESUME : 0;
	ret = take(d, v, flags, name, false, SNAP_TIMEOUT_MS, name_out, name_len, err, errlen);
	/* Paused now (unless resumed, or it failed and stayed as it was): the
	 * freezer holds it, as after a pause. */
	if (thawed || (!ret && !(flags & CTL_SNAP_RESUME)))
		fr = dvm_freeze(d, v, true);
	pthread_mutex_lock(&d->lock);
	if (v->state == DVM_EXITED) {
		if (!ret)
			snprintf(err, errlen, "VM %s exited during the snapshot", v->id);
		dvm_release(d, v);
		return ret ? ret : -ESRCH;
	}
	if (thawed || (!ret && !(flags & CTL_SNAP_RESUME))) {
		v->state = DVM_PAUSED;
		v->frozen = fr == 0;
		if (fr)
			bh_warn("VM %s: paused by its VMM for the snapshot, but not frozen: %s", v->id,
				strerror(-fr));
	}
	if (dvm_save(d, v)) {
	}
	if (!ret)
		dmn_event(d, v, "snapshot", "%s by uid %u%s", name_out, (unsigned)uid,
			  flags & CTL_SNAP_RESUME ? ", resumed" : ", paused");
	dvm_release(d, v);
	return ret;
}

void dvm_forensic_snapshot(struct daemon *d, struct dvm *v)
{
	char name[DSNAP_NAME_MAX + 1] = "", err[256] = "";
	bool frozen;
	int ret = 0;

	pthread_mutex_lock(&d->lock);
	frozen = v->frozen;
	pthread_mutex_unlock(&d->lock);
	/* A VM frozen by a pause is thawed for its VMM (paused itself) to write
	 * the evidence; quarantine freezes it again right after. Without this, an
	 * owner could pause a VM to keep a quarantine from capturing it. */
	if (frozen && (ret = dvm_freeze(d, v, false)))
		snprintf(err, sizeof(err), "cannot thaw the paused VM to capture it: %s",
			 strerror(-ret));
	if (!ret)
		ret = take(d, v, 0, NULL, true, d->lim.ctl_timeout_ms * FORENSIC_TIMEOUT_FACTOR, name,
			   sizeof(name), err, sizeof(err));
	pthread_mutex_lock(&d->lock);
	if (frozen && !ret)
		v->frozen = false; /* quarantine asks the VMM, then freezes */
	if (ret) {
		v->forensic[0] = '\0';
		snprintf(v->forensic_error, sizeof(v->forensic_error), "%s", err);
	} else {
		snprintf(v->forensic, sizeof(v->forensic), "%s", name);
		v->forensic_error[0] = '\0';
	}
	pthread_mutex_unlock(&d->lock);
	if (frozen && ret && dvm_freeze(d, v, true)) {
		/* pause_op freezes again and reports a failure */
	}
}

struct json_object *dvm_snapshots_json(struct daemon *d, const struct dvm *v)
{
	struct json_object *arr = json_object_new_array();
	char dir[PATH_MAX];
	struct dirent *de;
	unsigned n = 0;
	DIR *dp;
	int pfd;

	dvm_snap_path(d, v, NULL, dir, sizeof(dir));
	pfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (pfd < 0 || !(dp = fdopendir(pfd))) {
		if (pfd >= 0)
			close(pfd);
		return arr;
	}
	while ((de = readdir(dp)) && n < LIST_MAX) {
		char text[SNAP_MANIFEST_MAX + 1], why[128], src[DVM_ID_LEN + DSNAP_NAME_MAX + 2];
		struct snap_manifest m;
		struct stat st, ss, ms;
		struct json_object *o;
		ssize_t len;
		int sd, fd;

		if (de->d_name[0] == '.' || !dmn_name_ok(de->d_name, DSNAP_NAME_MAX))
			continue;
		sd = openat(pfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (sd < 0)
			continue;
		fd = openat(sd, SNAP_FILE_MANIFEST, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		len = fd >= 0 ? read(fd, text, SNAP_MANIFEST_MAX) : -1;
		if (fd < 0 || len <= 0 || fstat(fd, &st) < 0 ||
		    snap_manifest_parse(text, (size_t)len, &m, why, sizeof(why)) ||
		    fstatat(sd, SNAP_FILE_STATE, &ss, AT_SYMLINK_NOFOLLOW) < 0 ||
		    fstatat(sd, SNAP_FILE_MEMORY, &ms, AT_SYMLINK_NOFOLLOW) < 0) {
			if (fd >= 0)
				close(fd); /* incomplete (in progress or failed): not listed */
			close(sd);
			continue;
		}
		close(fd);
		close(sd);
		o = json_object_new_object();
		snprintf(src, sizeof(src), "%s/%.*s", v->id, DSNAP_NAME_MAX, de->d_name);
		json_object_object_add(o, "name", json_object_new_string(de->d_name));
		json_object_object_add(o, "source", json_object_new_string(src));
		snprintf(dir, sizeof(dir), "%s/vms/%s/snapshots/%s", d->state_dir, v->id, de->d_name);
		json_object_object_add(o, "path", json_object_new_string(dir));
		json_object_object_add(o, "kind", json_object_new_string(
			strncmp(de->d_name, FORENSIC_PREFIX, strlen(FORENSIC_PREFIX)) ? "snapshot"
										     : "forensic"));
		json_object_object_add(o, "time", json_object_new_int64((int64_t)st.st_mtime));
		json_object_object_add(o, "size_bytes",
				       json_object_new_int64((int64_t)(m.state_size + m.mem_size)));
		json_object_object_add(o, "disk_bytes", json_object_new_int64(
			(int64_t)(ss.st_blocks + ms.st_blocks + st.st_blocks) * 512));
		json_object_object_add(o, "mem_bytes", json_object_new_int64((int64_t)m.mem_size));
		json_object_array_add(arr, o);
		n++;
	}
	closedir(dp);
	return arr;
}

void dsnap_remove_all(const char *snapshots_dir)
{
	int pfd = open(snapshots_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	struct dirent *de;
	DIR *dp;

	if (pfd < 0)
		return;
	if (!(dp = fdopendir(pfd))) {
		close(pfd);
		return;
	}
	while ((de = readdir(dp))) {
		int sd;
		DIR *sp;
		struct dirent *fe;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		sd = openat(pfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (sd < 0 || !(sp = fdopendir(sd))) {
			if (sd >= 0)
				close(sd);
			unlinkat(pfd, de->d_name, 0);
			continue;
		}
		while ((fe = readdir(sp)))
			if (strcmp(fe->d_name, ".") && strcmp(fe->d_name, ".."))
				unlinkat(sd, fe->d_name, 0);
		closedir(sp);
		if (unlinkat(pfd, de->d_name, AT_REMOVEDIR) < 0)
			bh_warn("%s/%s: %s", snapshots_dir, de->d_name, strerror(errno));
	}
	closedir(dp);
	if (rmdir(snapshots_dir) < 0 && errno != ENOENT)
		bh_warn("%s: %s", snapshots_dir, strerror(errno));
}

int dmn_snapshot_remove(struct daemon *d, uid_t uid, const char *id, const char *name, char *err,
			size_t errlen)
{
	char dir[PATH_MAX], src[DVM_ID_LEN + DSNAP_NAME_MAX + 2];
	int pfd = -1, sd = -1, ret = 0;
	struct dirent *fe;
	struct dvm *v;
	DIR *sp;

	if (!dmn_name_ok(name, DSNAP_NAME_MAX)) {
		snprintf(err, errlen, "'%.64s' is not a snapshot name (1-%d letters, digits, '-', "
			 "'_' or '.', starting with a letter or digit)", name, DSNAP_NAME_MAX);
		return -EINVAL;
	}
	pthread_mutex_lock(&d->lock);
	if ((ret = dmn_lookup(d, uid, id, &v, err, errlen)))
		goto out;
	snprintf(src, sizeof(src), "%s/%s", v->id, name);
	if (v->busy) {
		/* a snapshot being written, or quarantine taking its evidence */
		snprintf(err, errlen, "VM %s is busy with another operation: try again", v->id);
		ret = -EBUSY;
		goto out;
	}
	if (uid != 0 && !strncmp(name, FORENSIC_PREFIX, strlen(FORENSIC_PREFIX))) {
		snprintf(err, errlen, "snapshot %s is quarantine's evidence: only root removes it",
			 src);
		ret = -EACCES;
		goto out;
	}
	for (struct dvm *o = d->vms; o; o = o->next)
		if (!strcmp(o->from_snap, src)) {
			/* another user's VM is not named (its existence is theirs) */
			snprintf(err, errlen, "VM %s was created from snapshot %s and restores it at "
				 "every start: remove that VM first",
				 uid == 0 || o->owner == uid ? o->id : "(another user's)", src);
			ret = -EBUSY;
			goto out;
		}
	dvm_snap_path(d, v, NULL, dir, sizeof(dir));
	pfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	sd = pfd < 0 ? -1 : openat(pfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (sd < 0) {
		snprintf(err, errlen, "no snapshot '%s'", src);
		ret = -ENOENT;
		goto out;
	}
	/* The daemon's own directory (root's 0700): only the files it put there,
	 * never followed; an incomplete snapshot (a crash mid-write) goes too. */
	if (!(sp = fdopendir(sd))) {
		close(sd);
		snprintf(err, errlen, "snapshot %s: %s", src, strerror(errno));
		ret = -EIO;
		goto out;
	}
	while ((fe = readdir(sp)))
		if (strcmp(fe->d_name, ".") && strcmp(fe->d_name, ".."))
			unlinkat(dirfd(sp), fe->d_name, 0);
	closedir(sp);
	if (unlinkat(pfd, name, AT_REMOVEDIR) < 0) {
		snprintf(err, errlen, "snapshot %s: cannot remove it: %s", src, strerror(errno));
		ret = -EIO;
		goto out;
	}
	if (!strcmp(v->forensic, name)) {
		v->forensic[0] = '\0';
		if (dvm_save(d, v))
			bh_warn("VM %s: cannot record that its forensic snapshot is gone", v->id);
	}
	dmn_event(d, v, "snapshot-removed", "%s by uid %u", name, (unsigned)uid);
out:
	if (pfd >= 0)
		close(pfd);
	pthread_mutex_unlock(&d->lock);
	return ret;
}
