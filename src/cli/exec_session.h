/* exec_session.h — the host end of one connection to the guest agent
 * (agentproto/agent_proto.h): hello, clock and entropy, copy-in/out, one
 * job with its stdio relayed. Transport-agnostic (any connected stream fd:
 * the VM's vsock connection, or a socketpair in the tests).
 *
 * The agent is guest code and therefore hostile here (hostile-guests.md
 * case 35): every frame is bounded by the decoder, every wait has a
 * deadline, an EXIT is believed only for the job that was started, and a
 * protocol violation ends the session (EXEC_LOST) — the VM is then
 * destroyed by the caller. Limits never rely on the agent: the caller owns
 * the VM and its timeout. Thread: one thread; the session owns nothing but
 * its decoder and buffers (the fd stays the caller's). */
#ifndef BH_CLI_EXEC_SESSION_H
#define BH_CLI_EXEC_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "agentproto/agent_proto.h"
#include "agentproto/tar_stream.h"

enum exec_outcome {
	EXEC_EXITED = 1,    /* code = the program's status */
	EXEC_SIGNALED,      /* code = signal number */
	EXEC_NOT_FOUND,     /* 127 */
	EXEC_CANNOT_INVOKE, /* 126 */
	EXEC_SETUP_FAILED,  /* the agent could not set up the job: 125 */
	EXEC_TIMED_OUT,     /* 124 */
	EXEC_INTERRUPTED,   /* the user insisted (second signal): 128+code */
	EXEC_LOST,          /* the agent/VM broke the protocol or went away: 125 */
};

struct exec_result {
	enum exec_outcome outcome;
	int code;
	uint32_t oom_kills;
	uint64_t out_bytes, err_bytes; /* written to the host */
	uint64_t dropped;              /* output bytes dropped past the cap */
	char msg[1100];                /* why, for LOST/SETUP/... */
};

struct exec_session {
	int fd;
	int64_t deadline_ns; /* CLOCK_MONOTONIC deadline of the current job, 0 = none */
	struct ap_dec *dec;  /* heap: ~64 KiB */
	uint8_t *out;        /* pending bytes to the agent */
	size_t out_have;
	bool job_running;
};

/* Takes nothing; allocates its buffers. 0 or -ENOMEM. */
int exec_session_init(struct exec_session *s, int fd) __attribute__((warn_unused_result));
void exec_session_free(struct exec_session *s);

/* Wait for the agent's HELLO (version check) until timeout_ms. 0 or -errno
 * with a message in err. */
int exec_session_hello(struct exec_session *s, int timeout_ms, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Step the guest clock to the host's and feed it 64 bytes of the host's
 * entropy (done at every start: a restored clone must not share either). */
int exec_session_sync(struct exec_session *s, int timeout_ms, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Copy the host path into the guest (created there, owned by uid:gid). */
int exec_session_copy_in(struct exec_session *s, const char *host, const char *guest,
			 uint32_t uid, uint32_t gid, const struct ap_tar_caps *caps,
			 int timeout_ms, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Copy the guest path out to host, which must not exist yet. *skipped:
 * entries the agent left out (links, devices, FIFOs, sockets). */
int exec_session_copy_out(struct exec_session *s, const char *guest, const char *host,
			  const struct ap_tar_caps *caps, int timeout_ms, uint64_t *skipped,
			  char *err, size_t errlen) __attribute__((warn_unused_result));

struct exec_io {
	int in_fd;           /* host stdin to forward, or -1 */
	int out_fd, err_fd;  /* where the program's stdout/stderr go */
	int sig_fd;          /* signalfd for SIGINT/SIGTERM/SIGHUP/SIGWINCH, or -1 */
	int tty_fd;          /* the terminal for window sizes (-t), or -1 */
	uint64_t output_max; /* stdout+stderr bytes written at most; the rest dropped */
	int timeout_ms;      /* 0 = none */
	int boot_check_fd;   /* pidfd of the VM process (readable = it ended), or -1 */
};

/* Run the job (an encoded job TLV) to its end and fill *r. Returns 0 when
 * *r says what happened (any outcome), -errno only for host failures. */
int exec_session_run(struct exec_session *s, const uint8_t *job, size_t job_len,
		     const struct exec_io *io, struct exec_result *r)
	__attribute__((warn_unused_result));

#endif
