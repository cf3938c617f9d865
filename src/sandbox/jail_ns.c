/* jail_ns.c — namespaces and the empty root (see jail.h). */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox/jail.h"

/* Where the new root is mounted before it becomes "/": any directory that
 * exists will do; the mount is private to our new mount namespace. */
static const char *const mount_points[] = { "/tmp", "/run", "/mnt", "/dev" };

int jail_ns_enter(int netns_fd, char *err, size_t errlen)
{
	int flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP;
	const char *mp = NULL;
	struct stat st;

	/* A network namespace the supervisor made meanwhile (creating one is
	 * the slowest namespace: milliseconds under load), else our own. */
	if (netns_fd >= 0) {
		int r = setns(netns_fd, CLONE_NEWNET), e = errno;

		close(netns_fd);
		if (r < 0) {
			snprintf(err, errlen, "sandbox: entering the VM's network namespace: %s",
				 strerror(e));
			return -e;
		}
		flags &= ~CLONE_NEWNET;
	}
	if (unshare(flags) < 0) {
		snprintf(err, errlen, "sandbox: unshare(mount, net, ipc, uts, cgroup namespaces): %s",
			 strerror(errno));
		return -errno;
	}
	/* Nothing we mount from here on may propagate back to the host. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		snprintf(err, errlen, "sandbox: making mounts private: %s", strerror(errno));
		return -errno;
	}
	for (size_t i = 0; i < BH_ARRAY_SIZE(mount_points) && !mp; i++)
		if (stat(mount_points[i], &st) == 0 && S_ISDIR(st.st_mode))
			mp = mount_points[i];
	if (!mp) {
		snprintf(err, errlen, "sandbox: no directory to mount the empty root on");
		return -ENOENT;
	}
	/* The per-VM root: an empty tmpfs with room for nothing. */
	if (mount("bulkhead-jail", mp, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "size=4k,nr_inodes=1,mode=0555") < 0) {
		snprintf(err, errlen, "sandbox: mounting the empty root on %s: %s", mp,
			 strerror(errno));
		return -errno;
	}
	if (chdir(mp) < 0) {
		snprintf(err, errlen, "sandbox: chdir %s: %s", mp, strerror(errno));
		return -errno;
	}
	/* pivot_root(".", "."): the old root ends up stacked under the new one
	 * and is detached right away. */
	if (syscall(SYS_pivot_root, ".", ".") == 0) {
		if (umount2(".", MNT_DETACH) < 0) {
			snprintf(err, errlen, "sandbox: detaching the old root: %s", strerror(errno));
			return -errno;
		}
	} else if (errno == EINVAL) {
		/* The root is the initramfs (rootfs), which cannot be pivoted
		 * away (the nested test host boots like that): move the new root
		 * over "/" and chroot into it, as switch_root does. The old root
		 * stays mounted underneath, reachable by no fd we hold. */
		if (mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0) {
			snprintf(err, errlen, "sandbox: moving the empty root over /: %s",
				 strerror(errno));
			return -errno;
		}
	} else {
		snprintf(err, errlen, "sandbox: pivot_root: %s", strerror(errno));
		return -errno;
	}
	if (chdir("/") < 0) {
		snprintf(err, errlen, "sandbox: chdir /: %s", strerror(errno));
		return -errno;
	}
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  NULL) < 0) {
		snprintf(err, errlen, "sandbox: making the empty root read-only: %s",
			 strerror(errno));
		return -errno;
	}
	if (sethostname("bulkhead", 8) < 0) {
		snprintf(err, errlen, "sandbox: sethostname: %s", strerror(errno));
		return -errno;
	}
	return 0;
}
