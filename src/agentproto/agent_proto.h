/* agent_proto.h — the protocol between `bulkhead exec` (the host) and the
 * guest agent (guest/agent/): ONE byte stream (a vsock connection), carrying
 * length-prefixed frames whose stream id multiplexes control, stdin, stdout,
 * stderr and copy (tar) data, so no port per stream.
 *
 * Both ends compile this file (the agent statically, with nothing else of
 * src/), and both treat every frame as hostile input: the host distrusts the
 * guest (hostile-guests.md case 35), the agent distrusts nobody but checks
 * anyway. A frame is decoded into a caller-owned buffer after its header is
 * validated: its length is capped BEFORE any byte of its payload is kept.
 *
 * Frame (little endian):
 *   u32 len       payload bytes, 0..AP_MAX_PAYLOAD
 *   u8  stream    AP_S_*
 *   u8  type      AP_T_* (what is valid depends on the stream)
 *   u16 reserved  0
 *   len bytes of payload
 *
 * Conversation (the host speaks first after the agent's HELLO):
 *   agent → HELLO(version)
 *   host  → RESEED(bytes) / CLOCK(ns) — any time; the agent answers OK/ERROR
 *   host  → COPY_IN(uid, gid, guest path), COPY DATA…, COPY EOF; agent → OK | ERROR(text)
 *   host  → JOB(job TLV); agent → STARTED | EXIT(kind CANNOT_INVOKE/NOT_FOUND/SETUP)
 *   host  ↔ STDIN DATA/EOF, SIGNAL(n), WINSIZE(rows, cols); agent → STDOUT/STDERR DATA…
 *   agent → EXIT(status) once the program and every process of its cgroup are gone
 *   host  → COPY_OUT(guest path); agent → COPY DATA…, COPY EOF, OK | ERROR(text)
 * Jobs run one after another on the same connection.
 *
 * The job description is a sequence of TLV records so that it can carry an
 * OCI runtime spec's process section (args, env, cwd, user, rlimits,
 * terminal, console size) plus hostname and limits; unknown tags are
 * refused (a newer host talking to an older agent fails loudly). */
#ifndef BH_AGENT_PROTO_H
#define BH_AGENT_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AP_VERSION 1
#define AP_PORT 1024               /* the agent's vsock port in the guest */
#define AP_HDR_LEN 8
#define AP_MAX_PAYLOAD (64 * 1024) /* one frame's payload, both directions */

enum ap_stream {
	AP_S_CONTROL = 0,
	AP_S_STDIN = 1,
	AP_S_STDOUT = 2,
	AP_S_STDERR = 3,
	AP_S_COPY = 4,
	AP_S_COUNT
};

enum ap_type {
	/* data streams (stdin/stdout/stderr/copy) */
	AP_T_DATA = 1,
	AP_T_EOF = 2, /* empty payload */
	/* control stream */
	AP_T_HELLO = 16,    /* u32 version */
	AP_T_JOB = 17,      /* job TLV */
	AP_T_STARTED = 18,  /* u32 pid (guest) */
	AP_T_EXIT = 19,     /* struct ap_exit */
	AP_T_SIGNAL = 20,   /* u32 signal number */
	AP_T_WINSIZE = 21,  /* u16 rows, u16 cols */
	AP_T_COPY_IN = 22,  /* u32 uid, u32 gid (owner of what is created), guest path */
	AP_T_COPY_OUT = 23, /* guest path */
	AP_T_OK = 24,       /* empty, or u64 count (copy: entries skipped) */
	AP_T_ERROR = 25,    /* text */
	AP_T_RESEED = 26,   /* 16..256 bytes of entropy */
	AP_T_CLOCK = 27,    /* u64 ns since the epoch (CLOCK_REALTIME) */
};

struct ap_frame {
	uint32_t len;
	uint8_t stream;
	uint8_t type;
	const uint8_t *payload; /* len bytes, valid until the next decoder call */
};

/* Encode a header for (stream, type, len) into hdr[AP_HDR_LEN].
 * -EINVAL if the combination is not one ap_frame_check() accepts. */
int ap_hdr_encode(uint8_t hdr[AP_HDR_LEN], uint8_t stream, uint8_t type, uint32_t len)
	__attribute__((warn_unused_result));

/* Validate a decoded header: known stream, a type valid on that stream,
 * reserved 0, len within AP_MAX_PAYLOAD and the type's own bounds.
 * 0 or -EPROTO. */
int ap_frame_check(uint8_t stream, uint8_t type, uint32_t len)
	__attribute__((warn_unused_result));

/* A streaming decoder: feed it whatever the socket gave, take frames out.
 * Holds at most one frame (AP_HDR_LEN + AP_MAX_PAYLOAD bytes); the owner
 * allocates it (it is ~64 KiB: not for the stack of a small thread). */
struct ap_dec {
	uint8_t buf[AP_HDR_LEN + AP_MAX_PAYLOAD];
	size_t have;     /* bytes buffered */
	size_t consumed; /* bytes of buf already returned as a frame */
	bool broken;     /* a protocol violation was seen: stays broken */
};

void ap_dec_init(struct ap_dec *d);

/* Free space to read into: *space is where, the return value how much
 * (0 when a complete frame is waiting to be taken with ap_dec_next()). */
size_t ap_dec_space(struct ap_dec *d, uint8_t **space);

/* Record that n bytes were written at the pointer ap_dec_space() gave. */
void ap_dec_commit(struct ap_dec *d, size_t n);

/* Feed bytes by copying (tests, fuzzing); returns how many were taken
 * (stops at a frame boundary when one is complete). */
size_t ap_dec_feed(struct ap_dec *d, const void *data, size_t n);

/* Take the next complete frame: 1 and *f filled (its payload points into
 * the decoder, valid until the next call), 0 if more bytes are needed,
 * -EPROTO on a bad header (the decoder is then broken for good). */
int ap_dec_next(struct ap_dec *d, struct ap_frame *f) __attribute__((warn_unused_result));

/* ---- exit status ---- */
enum ap_exit_kind {
	AP_EXIT_CODE = 1,          /* value = exit status 0..255 */
	AP_EXIT_SIGNAL = 2,        /* value = signal number 1..64 */
	AP_EXIT_NOT_FOUND = 3,     /* exec: ENOENT (shell convention 127) */
	AP_EXIT_CANNOT_INVOKE = 4, /* exec: EACCES, ENOEXEC, ... (126) */
	AP_EXIT_SETUP = 5,         /* the agent could not set up the job (value = errno) */
};

struct ap_exit {
	uint32_t kind;     /* enum ap_exit_kind */
	int32_t value;
	uint32_t oom_kills; /* the job cgroup's memory.events oom_kill count */
	uint32_t reserved;
};
#define AP_EXIT_LEN 16

void ap_exit_encode(uint8_t out[AP_EXIT_LEN], const struct ap_exit *e);
/* -EPROTO unless kind is known and value fits it. */
int ap_exit_decode(const uint8_t *p, size_t len, struct ap_exit *e)
	__attribute__((warn_unused_result));

/* ---- job description (TLV: u16 tag, u16 0, u32 len, value) ---- */
enum ap_tag {
	AP_TAG_ARG = 1,      /* string; repeated, argv in order (≥ 1) */
	AP_TAG_ENV = 2,      /* "K=V"; repeated */
	AP_TAG_CWD = 3,      /* absolute path */
	AP_TAG_UID = 4,      /* u32, not 0xffffffff ((uid_t)-1: refused) */
	AP_TAG_GID = 5,      /* u32, not 0xffffffff ((gid_t)-1: refused) */
	AP_TAG_RLIMIT = 6,   /* u32 resource, u32 0, u64 soft, u64 hard */
	AP_TAG_HOSTNAME = 7, /* string */
	AP_TAG_TERMINAL = 8, /* u16 rows, u16 cols: run on a pty */
	AP_TAG_STDIN = 9,    /* empty: keep stdin open (else /dev/null) */
	AP_TAG_PIDS_MAX = 10, /* u32: the job cgroup's pids.max */
};

#define AP_JOB_MAX_ARGS 256
#define AP_JOB_MAX_ENV 256
#define AP_JOB_MAX_RLIMITS 16
#define AP_JOB_MAX_STR 4096

struct ap_rlimit {
	uint32_t resource;
	uint64_t soft, hard;
};

/* A decoded job. Strings point into `strings` (NUL-terminated copies). */
struct ap_job {
	const char *argv[AP_JOB_MAX_ARGS + 1]; /* NULL-terminated */
	const char *envp[AP_JOB_MAX_ENV + 1];  /* NULL-terminated */
	unsigned nargs, nenv;
	const char *cwd;      /* NULL: "/" */
	const char *hostname; /* NULL: unchanged */
	uint32_t uid, gid;
	bool has_user;
	struct ap_rlimit rlimits[AP_JOB_MAX_RLIMITS];
	unsigned nrlimits;
	bool terminal;
	uint16_t rows, cols;
	bool keep_stdin;
	uint32_t pids_max; /* 0: the agent's default */
	char strings[AP_MAX_PAYLOAD + AP_JOB_MAX_ARGS + AP_JOB_MAX_ENV + 8];
};

/* Building a job: append records to a caller buffer of cap bytes.
 * Each returns 0 or -ENOSPC / -EINVAL (string with a NUL, too long). */
struct ap_jobbuf {
	uint8_t *p;
	size_t len, cap;
};
int ap_job_put_str(struct ap_jobbuf *b, uint16_t tag, const char *s)
	__attribute__((warn_unused_result));
int ap_job_put_u32(struct ap_jobbuf *b, uint16_t tag, uint32_t v)
	__attribute__((warn_unused_result));
int ap_job_put_rlimit(struct ap_jobbuf *b, uint32_t resource, uint64_t soft, uint64_t hard)
	__attribute__((warn_unused_result));
int ap_job_put_terminal(struct ap_jobbuf *b, uint16_t rows, uint16_t cols)
	__attribute__((warn_unused_result));
int ap_job_put_flag(struct ap_jobbuf *b, uint16_t tag) __attribute__((warn_unused_result));

/* Decode a job payload into *j. 0, or -EPROTO with a reason in err:
 * unknown tag, truncated record, string with a NUL or too long, too many
 * args/env/rlimits, no argv, a relative cwd, an env entry without '='. */
int ap_job_decode(const uint8_t *p, size_t len, struct ap_job *j, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Decode a COPY_IN payload (u32 uid, u32 gid, guest path; the frame's
 * length already passed ap_frame_check) into *uid, *gid and path (NUL-
 * terminated; pathlen > AP_JOB_MAX_STR). 0, or -EINVAL with a reason in
 * err: a NUL inside the path, a relative path, or a uid/gid of 0xffffffff
 * — fchown's "leave unchanged", which would leave what is copied in owned
 * by the agent (root) instead of the job's user. */
int ap_copy_in_decode(const uint8_t *p, size_t len, uint32_t *uid, uint32_t *gid, char *path,
		      size_t pathlen, char *err, size_t errlen) __attribute__((warn_unused_result));

/* Little-endian helpers both ends use for small payloads. */
static inline void ap_put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}
static inline uint32_t ap_get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline void ap_put_u64(uint8_t *p, uint64_t v)
{
	ap_put_u32(p, (uint32_t)v);
	ap_put_u32(p + 4, (uint32_t)(v >> 32));
}
static inline uint64_t ap_get_u64(const uint8_t *p)
{
	return (uint64_t)ap_get_u32(p) | (uint64_t)ap_get_u32(p + 4) << 32;
}

#endif
