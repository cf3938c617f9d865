/* jail_landlock.c — Landlock: no filesystem access at all and, from ABI 4,
 * no TCP bind/connect; from ABI 6, no abstract unix sockets or signals
 * outside the domain (see jail.h). Declared here with our own definitions so
 * the build does not depend on how new the installed kernel headers are. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox/jail.h"

#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset 444
#define __NR_landlock_add_rule 445
#define __NR_landlock_restrict_self 446
#endif

#define LL_CREATE_RULESET_VERSION (1U << 0)

/* Filesystem access rights by the ABI that introduced them. */
#define LL_FS_ABI1 ((1ULL << 13) - 1) /* EXECUTE .. MAKE_SYM */
#define LL_FS_REFER (1ULL << 13)      /* ABI 2 */
#define LL_FS_TRUNCATE (1ULL << 14)   /* ABI 3 */
#define LL_FS_IOCTL_DEV (1ULL << 15)  /* ABI 5 */
#define LL_NET_BIND_TCP (1ULL << 0)   /* ABI 4 */
#define LL_NET_CONNECT_TCP (1ULL << 1)
#define LL_SCOPE_ABSTRACT_UNIX (1ULL << 0) /* ABI 6 */
#define LL_SCOPE_SIGNAL (1ULL << 1)

struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net; /* ABI >= 4 */
	uint64_t scoped;             /* ABI >= 6 */
};

int jail_landlock_apply(int *abi_out, char *err, size_t errlen)
{
	struct ll_ruleset_attr attr = { 0 };
	size_t size = sizeof(attr.handled_access_fs);
	long abi;
	int fd;

	*abi_out = 0;
	abi = syscall(__NR_landlock_create_ruleset, NULL, 0, LL_CREATE_RULESET_VERSION);
	if (abi < 1)
		return 0; /* unavailable: the caller says so loudly */
	attr.handled_access_fs = LL_FS_ABI1;
	if (abi >= 2)
		attr.handled_access_fs |= LL_FS_REFER;
	if (abi >= 3)
		attr.handled_access_fs |= LL_FS_TRUNCATE;
	if (abi >= 5)
		attr.handled_access_fs |= LL_FS_IOCTL_DEV;
	if (abi >= 4) {
		attr.handled_access_net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP;
		size = offsetof(struct ll_ruleset_attr, scoped);
	}
	if (abi >= 6) {
		/* Our own threads are in the same domain: vCPU kicks still work. */
		attr.scoped = LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL;
		size = sizeof(attr);
	}
	/* No rules added: every handled access is denied everywhere. */
	fd = (int)syscall(__NR_landlock_create_ruleset, &attr, size, 0);
	if (fd < 0) {
		snprintf(err, errlen, "sandbox: landlock_create_ruleset (ABI %ld): %s", abi,
			 strerror(errno));
		return -errno;
	}
	if (syscall(__NR_landlock_restrict_self, fd, 0) < 0) {
		int e = errno;

		close(fd);
		snprintf(err, errlen, "sandbox: landlock_restrict_self: %s", strerror(e));
		return -e;
	}
	close(fd);
	*abi_out = (int)abi;
	return 0;
}
