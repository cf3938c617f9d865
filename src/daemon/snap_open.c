/* snap_open.c — VMs created from a snapshot: opening a snapshot source for
 * a caller (a "VM/NAME" of theirs, or a path opened by a child with their
 * uid, gid and groups), checking it like restore does, and handing it to
 * the VMM at each start as sealed copies of what the daemon checked. The
 * rules of who may read what are snap.c's header comment; daemon.h,
 * "snapshots", the contracts. */
#include "daemon/daemon.h"

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
#include <unistd.h>

#include <json-c/json.h>

#include "common/fdpass.h"
#include "common/log.h"
#include "common/proc_child.h"
#include "config/config_json.h"
#include "config/schema.h"
#include "snapshot/snap_dir.h"

#define OPEN_AS_TIMEOUT_MS 10000

static const char *const snap_files[3] = { SNAP_FILE_MANIFEST, SNAP_FILE_STATE,
					   SNAP_FILE_MEMORY };

/* ---- opening a snapshot for a caller ---- */

struct open_reply {
	int err;   /* 0 or errno */
	int which; /* 0 the directory, 1.. snap_files[which - 1], -1 credentials */
};

/* The child of open_as(): never returns. Async-signal-safe calls only. */
static __attribute__((noreturn)) void open_child(int sock, const struct dmn_creds *cr,
						 const char *dir)
{
	struct open_reply r = { 0, 0 };
	int fds[3] = { -1, -1, -1 }, dfd;
	unsigned nfds = 0; /* the files go along only when all three opened */
	struct iovec iov = { &r, sizeof(r) };

	if (cr->drop && (setgroups((size_t)cr->ngroups, cr->groups) < 0 ||
			 setresgid(cr->gid, cr->gid, cr->gid) < 0 ||
			 setresuid(cr->uid, cr->uid, cr->uid) < 0)) {
		r = (struct open_reply){ errno, -1 };
		goto send;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		r = (struct open_reply){ errno, 0 };
		goto send;
	}
	for (int i = 0; i < 3; i++) {
		/* O_NONBLOCK: a FIFO in its place must not hang the open */
		fds[i] = openat(dfd, snap_files[i], O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
		if (fds[i] < 0) {
			r = (struct open_reply){ errno, i + 1 };
			goto send;
		}
	}
	nfds = 3;
send:
	/* fdpass_send* is async-signal-safe (fdpass.h): usable in this child */
	proc_child_exit(fdpass_sendv(sock, &iov, 1, fds, nfds, MSG_NOSIGNAL) == (ssize_t)sizeof(r) ? 0 : 1);
}

/* Open dir's three snapshot files with uid's permissions (see top). */
static int open_as(uid_t uid, const char *dir, const char *shown, int fds[3], char *err,
		   size_t errlen)
{
	struct dmn_creds cr;
	struct open_reply r = { EIO, -2 };
	int sv[2], got[3] = { -1, -1, -1 }, ret = -EIO;
	char cbuf[CMSG_SPACE(sizeof(got))];
	struct iovec iov = { &r, sizeof(r) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct pollfd pf;
	ssize_t n = -1;
	pid_t pid;

	dmn_creds_of(uid, &cr);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		return -EIO;
	}
	pid = fork();
	if (pid == 0)
		open_child(sv[1], &cr, dir);
	close(sv[1]);
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(sv[0]);
		return -EIO;
	}
	pf = (struct pollfd){ .fd = sv[0], .events = POLLIN };
	if (poll(&pf, 1, OPEN_AS_TIMEOUT_MS) == 1)
		n = recvmsg(sv[0], &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	close(sv[0]);
	if (n != (ssize_t)sizeof(r))
		kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	if (n == (ssize_t)sizeof(r) && r.err == 0) {
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

		if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(got)) && !(mh.msg_flags & MSG_CTRUNC)) {
			memcpy(got, CMSG_DATA(c), sizeof(got));
			for (int i = 0; i < 3; i++) {
				fds[i] = got[i];
				/* back to blocking reads */
				fcntl(got[i], F_SETFL, fcntl(got[i], F_GETFL) & ~O_NONBLOCK);
			}
			return 0;
		}
		snprintf(err, errlen, "from_snapshot %s: cannot receive its files", shown);
		return -EIO;
	}
	if (n != (ssize_t)sizeof(r)) {
		snprintf(err, errlen, "from_snapshot %s: opening it took longer than %d s", shown,
			 OPEN_AS_TIMEOUT_MS / 1000);
		return -ETIMEDOUT;
	}
	if (r.which == -1) {
		snprintf(err, errlen, "cannot take uid %u's credentials: %s", (unsigned)uid,
			 strerror(r.err));
		return -EIO;
	}
	ret = r.err == EACCES || r.err == EPERM ? -EACCES
	      : r.err == ENOENT || r.err == ENOTDIR ? -ENOENT
	      : r.err == ELOOP ? -EINVAL
							 : -EIO;
	snprintf(err, errlen, "from_snapshot %s%s%s: %s%s", shown, r.which > 0 ? "/" : "",
		 r.which > 0 && r.which <= 3 ? snap_files[r.which - 1] : "",
		 r.err == ELOOP ? "a symbolic link (refused)" : strerror(r.err),
		 ret == -EACCES ? " (opened with the caller's permissions)" : "");
	return ret;
}

/* Resolve `source` for uid and open its files (see daemon.h); canon gets
 * the form recorded for later starts. */
static int open_source(struct daemon *d, uid_t uid, const char *source, int fds[3], char *canon,
		       size_t clen, char *err, size_t errlen)
{
	size_t len = strnlen(source, 1024);
	char dir[PATH_MAX];

	if (len == 0 || len >= 1000) {
		snprintf(err, errlen, "from_snapshot: expected \"VM/SNAPSHOT\" or an absolute path "
			 "of at most 999 characters");
		return -EINVAL;
	}
	for (const char *p = source; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			snprintf(err, errlen, "from_snapshot: control characters are not allowed");
			return -EINVAL;
		}
	if (source[0] == '/') {
		for (const char *p = source; (p = strstr(p, "..")); p += 2)
			if (p[-1] == '/' && (p[2] == '/' || p[2] == '\0')) {
				snprintf(err, errlen, "from_snapshot %.200s: '..' is not allowed in "
					 "the path", source);
				return -EINVAL;
			}
		snprintf(canon, clen, "%s", source);
		return open_as(uid, source, source, fds, err, errlen);
	}
	{
		const char *slash = strchr(source, '/');
		char vm[DVM_NAME_MAX + 1], name[DSNAP_NAME_MAX + 1];
		struct dvm *v;
		int ret;

		if (!slash || (size_t)(slash - source) > DVM_NAME_MAX || slash == source ||
		    strlen(slash + 1) > DSNAP_NAME_MAX) {
			snprintf(err, errlen, "from_snapshot %.200s: expected \"VM/SNAPSHOT\" (a VM's "
				 "ID or name and one of its snapshots) or an absolute path", source);
			return -EINVAL;
		}
		memcpy(vm, source, (size_t)(slash - source));
		vm[slash - source] = '\0';
		snprintf(name, sizeof(name), "%s", slash + 1);
		if (!dmn_name_ok(name, DSNAP_NAME_MAX) || strspn(vm, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRS"
						      "TUVWXYZ0123456789-_.") != strlen(vm)) {
			snprintf(err, errlen, "from_snapshot %.200s: '%s' is not a snapshot name "
				 "(letters, digits, '-', '_', '.'; one path component)", source, name);
			return -EINVAL;
		}
		pthread_mutex_lock(&d->lock);
		ret = dmn_find_for(d, uid, vm, &v);
		if (!ret) {
			dvm_snap_path(d, v, name, dir, sizeof(dir));
			snprintf(canon, clen, "%s/%s", v->id, name);
		}
		pthread_mutex_unlock(&d->lock);
		if (ret) {
			/* Another user's VM reads exactly like a missing one. */
			snprintf(err, errlen, ret == -EEXIST ? "from_snapshot %.200s: VMs of several "
				 "users have that name: use the VM's ID" : "no snapshot '%.200s'",
				 source);
			return ret == -EEXIST ? -EEXIST : -ENOENT;
		}
		/* The caller's own VM's snapshot: the daemon's files, opened by
		 * the daemon (readable by the owner, who is the caller). */
		int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);

		if (dfd < 0) {
			snprintf(err, errlen, "no snapshot '%.200s'", source);
			return -ENOENT;
		}
		for (int i = 0; i < 3; i++) {
			fds[i] = openat(dfd, snap_files[i], O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
			if (fds[i] < 0) {
				snprintf(err, errlen, "snapshot '%.200s' is incomplete (%s: %s)",
					 source, snap_files[i], strerror(errno));
				while (i-- > 0)
					close(fds[i]);
				close(dfd);
				return -ENOENT;
			}
		}
		close(dfd);
		return 0;
	}
}

static void close3(int fds[3])
{
	for (int i = 0; i < 3; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	fds[0] = fds[1] = fds[2] = -1;
}

/* Open and check `source` for uid: the snapshot loaded and its fds. */
static int load_source(struct daemon *d, uid_t uid, const char *source, int fds[3],
		       struct snap_loaded *l, char *canon, size_t clen, char *err, size_t errlen)
{
	char why[400];
	int ret;

	if ((ret = open_source(d, uid, source, fds, canon, clen, err, errlen)))
		return ret;
	if ((ret = snap_dir_load(fds[0], fds[1], fds[2], false, l, why, sizeof(why)))) {
		snprintf(err, errlen, "from_snapshot %.200s: %s", source, why);
		close3(fds);
		return ret == -ENOMEM ? ret : -EBADMSG;
	}
	return 0;
}

static const char *first_tap(const struct vm_config *c)
{
	for (unsigned i = 0; i < c->nnets; i++)
		if (c->nets[i].tap)
			return c->nets[i].tap;
	return NULL;
}

/* A restore opens no host path the snapshot names unless it is named again
 * (config/restore_paths.h); the VMM gets --recorded-paths only for what
 * this checked: a snapshot file (a path source) may name none (disks, tap
 * NICs, a vsock socket; the console is the daemon's own), and one of the
 * daemon's store only those the saved VM's configuration — the daemon's
 * copy, not what its VMM recorded — names: a VMM its guest took over writes
 * the state file, and must not be able to make a later restore open the
 * owner's files. canon: "ID/NAME" or an absolute path. */
static int check_recorded_paths(struct daemon *d, uid_t uid, const char *canon,
				const struct vm_config *rec, const char *source, char *err,
				size_t errlen)
{
	char vm[DVM_ID_LEN + 1] = "", msg[400];
	struct json_object *root = NULL;
	struct vm_config own;
	const char *what = NULL, *path = NULL;
	struct dvm *v;
	int ret;

	if (canon[0] == '/') {
		if (rec->ndisks)
			what = "disk 0", path = rec->disks[0].path;
		else if (first_tap(rec))
			what = "tap NIC", path = first_tap(rec);
		else if (rec->vsock.socket)
			what = "vsock socket", path = rec->vsock.socket;
		if (!what)
			return 0;
		snprintf(err, errlen, "from_snapshot %.200s: its recorded configuration names a host "
			 "path (%s '%.200s'), and a VM made from a snapshot file opens none it names "
			 "(restore it with `bulkhead restore --disk PATH ...`)", source, what, path);
		return -EBADMSG;
	}
	snprintf(vm, sizeof(vm), "%.*s", (int)strcspn(canon, "/"), canon);
	pthread_mutex_lock(&d->lock);
	ret = dmn_find_for(d, uid, vm, &v);
	if (!ret)
		ret = dvm_load_config(d, v, &own, &root, msg, sizeof(msg));
	pthread_mutex_unlock(&d->lock);
	if (ret) {
		snprintf(err, errlen, "from_snapshot %.200s: the configuration of VM %s: %s", source,
			 vm, ret == -ENOENT ? "gone" : msg);
		config_json_free(root);
		return ret == -ENOENT ? -ENOENT : -EIO;
	}
	if (rec->ndisks > own.ndisks)
		what = "a disk", path = rec->disks[own.ndisks].path;
	else if (rec->ndisks < own.ndisks)
		what = "the number of disks";
	for (unsigned i = 0; !what && i < rec->ndisks; i++)
		if (strcmp(own.disks[i].path, rec->disks[i].path))
			what = "a disk", path = rec->disks[i].path;
	if (!what && own.nnets != rec->nnets)
		what = "the NICs";
	for (unsigned i = 0; !what && i < rec->nnets; i++)
		if (!own.nets[i].tap != !rec->nets[i].tap ||
		    (rec->nets[i].tap && strcmp(own.nets[i].tap, rec->nets[i].tap)))
			what = "a tap NIC", path = rec->nets[i].tap;
	if (!what && (!own.vsock.socket != !rec->vsock.socket ||
		      (rec->vsock.socket && strcmp(own.vsock.socket, rec->vsock.socket))))
		what = "the vsock socket", path = rec->vsock.socket;
	config_json_free(root);
	if (!what)
		return 0;
	snprintf(err, errlen, "from_snapshot %.200s: the recorded configuration differs from VM "
		 "%s's in %s%s%.200s%s: refused (its VMM wrote the snapshot, and a restore opens "
		 "only host paths the VM's own configuration names)", source, vm, what,
		 path ? " ('" : "", path ? path : "", path ? "')" : "");
	return -EBADMSG;
}

int dmn_create_from_snapshot(struct daemon *d, uid_t uid, const char *name, const char *source,
			     bool paused, char *id_out, char *err, size_t errlen)
{
	struct snap_loaded l;
	struct vm_config cfg;
	struct json_object *root = NULL;
	char canon[sizeof(((struct dvm *)0)->from_snap)], msg[400];
	int fds[3] = { -1, -1, -1 }, ret;
	struct dvm *v;

	if ((ret = load_source(d, uid, source, fds, &l, canon, sizeof(canon), err, errlen)))
		return ret;
	close3(fds);
	config_defaults(&cfg);
	if (config_json_parse((const char *)l.st->config.p, l.st->config.len, 0, &cfg, &root, msg,
			      sizeof(msg))) {
		snprintf(err, errlen, "from_snapshot %.200s: the recorded configuration: %s", source,
			 msg);
		ret = -EBADMSG;
		goto out;
	}
	if (cfg.ncpus != l.st->h.ncpus || cfg.mem_bytes != l.st->h.mem_bytes ||
	    (uint32_t)cfg.cpu_template != l.st->h.cpu_template) {
		snprintf(err, errlen, "from_snapshot %.200s: the recorded configuration disagrees "
			 "with the state file (vCPUs, memory or CPU template)", source);
		ret = -EBADMSG;
		goto out;
	}
	if ((ret = check_recorded_paths(d, uid, canon, &cfg, source, err, errlen)))
		goto out;
	for (unsigned i = 0; i < cfg.nnets; i++)
		if (cfg.nets[i].switch_seg) {
			snprintf(err, errlen, "from_snapshot %.200s: its NIC %u is on a daemon network "
				 "(switch), which a VM made from a snapshot cannot be on yet", source, i);
			ret = -EBADMSG;
			goto out;
		}
	if (!(v = dvm_new())) {
		snprintf(err, errlen, "out of memory");
		ret = -ENOMEM;
		goto out;
	}
	v->owner = uid;
	v->ncpus = cfg.ncpus;
	v->mem_bytes = cfg.mem_bytes;
	/* The recorded console cap yields to this daemon's maximum. */
	v->console_max = cfg.console_max_bytes < d->lim.console_max ? cfg.console_max_bytes : 0;
	v->restore_paused = paused;
	snprintf(v->from_snap, sizeof(v->from_snap), "%s", canon);
	/* Each VM made from one snapshot is a clone with its own vsock CID and
	 * socket (the saved VM keeps the recorded ones): the lowest index no
	 * other VM from this snapshot holds. */
	if (cfg.vsock.socket) {
		bool used[65] = { false };

		pthread_mutex_lock(&d->lock);
		for (struct dvm *o = d->vms; o; o = o->next)
			if (!strcmp(o->from_snap, canon) && o->clone_index <= 64)
				used[o->clone_index] = true;
		pthread_mutex_unlock(&d->lock);
		for (unsigned i = 1; i <= 64 && !v->clone_index; i++)
			if (!used[i])
				v->clone_index = i;
		if (!v->clone_index) {
			snprintf(err, errlen, "from_snapshot %.200s: 64 VMs were made from it already "
				 "(each needs a vsock CID and socket of its own)", source);
			dvm_free(v);
			ret = -EDQUOT;
			goto out;
		}
	}
	ret = dmn_insert(d, v, name, (const char *)l.st->config.p, l.st->config.len, id_out, err,
			 errlen);
out:
	config_json_free(root);
	snap_dir_unload(&l);
	return ret;
}

/* A sealed memfd holding len bytes of buf (the VMM reads what was checked). */
static int sealed_copy(const char *what, const void *buf, size_t len)
{
	int fd = memfd_create(what, MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0)
		return -errno;
	for (size_t off = 0; off < len;) {
		ssize_t n = write(fd, (const char *)buf + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			return -EIO;
		}
		off += (size_t)n;
	}
	if (lseek(fd, 0, SEEK_SET) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

int dvm_snap_open_for_start(struct daemon *d, struct dvm *v, int out[3], char *err,
			    size_t errlen)
{
	char canon[sizeof(v->from_snap)], text[SNAP_MANIFEST_MAX];
	struct snap_loaded l;
	int fds[3] = { -1, -1, -1 }, ret;
	size_t n;

	if ((ret = load_source(d, v->owner, v->from_snap, fds, &l, canon, sizeof(canon), err,
			       errlen)))
		return ret;
	if (l.st->h.ncpus != v->ncpus || l.st->h.mem_bytes != v->mem_bytes) {
		snprintf(err, errlen, "snapshot %.200s changed since the VM was made from it "
			 "(vCPUs or memory)", v->from_snap);
		ret = -EBADMSG;
		goto fail;
	}
	n = snap_manifest_format(&l.man, text, sizeof(text));
	out[0] = sealed_copy("bulkhead-snap-manifest", text, n);
	out[1] = out[0] >= 0 ? sealed_copy("bulkhead-snap-state", l.state, l.state_len) : -1;
	if (out[0] < 0 || out[1] < 0) {
		ret = out[0] < 0 ? out[0] : out[1];
		snprintf(err, errlen, "snapshot copies (memfd): %s", strerror(-ret));
		if (out[0] >= 0)
			close(out[0]);
		out[0] = out[1] = -1;
		goto fail;
	}
	out[2] = fds[2];
	fds[2] = -1;
	close3(fds);
	snap_dir_unload(&l);
	return 0;
fail:
	close3(fds);
	snap_dir_unload(&l);
	return ret;
}
