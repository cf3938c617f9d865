/* jail_switch.c — the switch process's jail (contract in jail.h): the VMM's
 * layers (jail_ns.c, jail_caps.c, jail_landlock.c) in the order jail_enter()
 * applies them, with the switch's own seccomp allow-list. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "sandbox/jail.h"
#include "sandbox/seccomp_bpf.h"

int jail_switch_enter(bool trap, char *summary, size_t sumlen, char *err, size_t errlen)
{
	struct jail_config cfg = { .enabled = true, .seccomp_trap = trap, .ncpus = 1 };
	struct jail j;
	struct sock_fprog prog;
	struct sc_stats st;
	int ret;

	jail_init(&j, &cfg);
	if ((ret = sc_bpf_get(SC_KIND_SWITCH, trap, &prog))) {
		snprintf(err, errlen, "sandbox: no compiled switch seccomp filter: %s", strerror(-ret));
		return ret;
	}
	sc_policy_stats(SC_KIND_SWITCH, &st);
	if (j.privileged) {
		j.cfg.uid = j.cfg.gid = JAIL_ID_BASE + (uint32_t)getpid();
	} else {
		if ((ret = jail_userns_enter(err, errlen)))
			return ret;
		j.userns = true;
	}
	struct rlimit nofile = { SW_JAIL_NOFILE, SW_JAIL_NOFILE }, core = { 0, 0 };
	if (setrlimit(RLIMIT_NOFILE, &nofile) < 0 || setrlimit(RLIMIT_CORE, &core) < 0) {
		ret = -errno;
		snprintf(err, errlen, "sandbox: switch rlimits: %s", strerror(errno));
		return ret;
	}
	for (char **e = environ; e && *e; e++)
		memset(*e, 0, strlen(*e));
	if (clearenv() != 0) {
		snprintf(err, errlen, "sandbox: clearenv failed");
		return -ENOMEM;
	}
	if ((ret = jail_ns_enter(-1, err, errlen)))
		return ret;
	if ((ret = jail_drop_privileges(&j, err, errlen)))
		return ret;
	/* Unlike a VM, the switch outlives its starter: it ends when its owner
	 * has hung up and its last VM port is gone (bulkheadd's switch carries
	 * running VMs across a daemon restart). And the parent-death signal
	 * follows the parent THREAD: bulkheadd starts it from the thread of an
	 * API connection, which ends with the connection. */
	if (prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0) < 0) {
		ret = -errno;
		snprintf(err, errlen, "sandbox: PR_SET_PDEATHSIG 0: %s", strerror(errno));
		return ret;
	}
	if ((ret = jail_landlock_apply(&j.landlock_abi, err, errlen)))
		return ret;
	if ((ret = sc_bpf_load(&prog))) {
		snprintf(err, errlen, "sandbox: loading the switch seccomp filter: %s", strerror(-ret));
		return ret;
	}
	char ll[16] = "NONE";
	if (j.landlock_abi)
		snprintf(ll, sizeof(ll), "ABI %d", j.landlock_abi);
	snprintf(summary, sumlen,
		 "namespaces (mount net ipc uts cgroup%s), empty root, %suid %u, no capabilities, "
		 "Landlock %s, seccomp (%u syscalls)",
		 j.userns ? " user" : "", j.userns ? "unprivileged: " : "",
		 j.userns ? j.outer_uid : j.cfg.uid, ll, st.syscalls);
	return 0;
}
