/* agent.h — the bulkhead guest agent (runs as root inside the guest, started
 * by the exec guest's init, guest/init/exec-init). It serves ONE connection
 * from the host (vsock port AP_PORT), speaking src/agentproto/agent_proto.h,
 * and runs the host's jobs one after another in the program root (the
 * overlay the init mounted), as an unprivileged user, in a cgroup of their
 * own.
 *
 * Trust: the host is trusted; the program is hostile. The program cannot
 * reach the agent's channel (the connection is close-on-exec, the listener
 * is closed once the host is connected, and the agent is root and not
 * dumpable while the program is not root), and it cannot answer in the
 * agent's name: only the agent writes frames. Limits are enforced by the VM
 * and the VMM (hostile-guests.md 35); the agent's own (cgroup, rlimits)
 * only keep the guest usable so the status can be reported. */
#ifndef BH_AGENT_H
#define BH_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agentproto/agent_proto.h"

struct agent {
	int conn;        /* the host connection */
	int root_fd;     /* the program root (O_PATH directory) */
	bool root_is_slash;
	char cgroup[256]; /* cgroup v2 mount, "" = no cgroups */
	uint64_t mem_max; /* the job cgroup's memory.max (bytes), 0 = unset */
	struct ap_dec *dec;
};

/* Send one frame (blocking). 0 or -errno (the host is gone). */
int agent_send(struct agent *a, uint8_t stream, uint8_t type, const void *p, uint32_t len);
/* Send ERROR with a printf-style text. */
int agent_send_error(struct agent *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Read more bytes from the host into the decoder. 1 = read something,
 * 0 = the host closed the connection, -errno. */
int agent_fill(struct agent *a);

/* Run one decoded job to its end; sends STARTED/EXIT and relays stdio.
 * 0, or -errno when the connection failed (the agent then ends). */
int agent_run_job(struct agent *a, const struct ap_job *job);

#endif
