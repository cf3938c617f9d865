/* ctl_proto.h — the control channel between bulkheadd and one VMM process,
 * version 2 (wire format: docs/control.md).
 *
 * Transport: an AF_UNIX SOCK_SEQPACKET socket (message boundaries kept). The
 * daemon creates and binds the listening socket before it spawns the VMM and
 * hands it over as an inherited fd (`bulkhead run --control-fd N`); the VMM
 * keeps it for its whole life, so a restarted daemon reconnects to the same
 * path and no file has to be opened after the VMM is jailed.
 *
 * Format: one record per datagram: a fixed 32-byte header (magic, version,
 * type, seq, status, flags, payload length, descriptor count) followed by
 * exactly payload_len bytes (at most CTL_PAYLOAD_MAX), and up to CTL_MAX_FDS
 * descriptors as SCM_RIGHTS. Host byte order (both ends are one machine).
 * A request names an operation; its reply echoes type | CTL_REPLY and seq, and
 * carries status (0 or -errno) and, first in its payload, struct ctl_status
 * (the VM's state and counters, as every v1 reply did).
 *
 * Receivers trust nothing: ctl_recv_msg() copies the record out of the socket,
 * closes every descriptor that arrived with a record it refuses (truncated
 * control data, wrong count, a type that takes none), and validates the copy
 * field by field (ctl_msg_parse(), which is also the fuzz target's door)
 * before anyone acts on it. A refused record is -EPROTO with the reason.
 * The daemon sends one request and waits for its reply (same seq) — no
 * pipelining.
 * Pure data + functions on caller-owned sockets: no threads, no state. */
#ifndef BH_CTL_PROTO_H
#define BH_CTL_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"
#include "common/fd_name.h"

#define CTL_MAGIC 0x54434842u /* "BHCT" */
#define CTL_VERSION 2
#define CTL_PAYLOAD_MAX 4096u /* bytes after the header, per record */
#define CTL_MAX_FDS 4u        /* descriptors per record */
#define CTL_FDS_MAX 16u       /* named descriptors a VMM holds (CTL_LIST_FDS) */

enum ctl_type {
	CTL_STATUS = 1,     /* report state and counters; no side effect */
	CTL_PAUSE = 2,      /* park every vCPU (returns once all are parked) */
	CTL_RESUME = 3,     /* let them run again (refused while quarantined) */
	CTL_STOP = 4,       /* graceful stop: Ctrl-Alt-Del through the i8042 */
	CTL_QUARANTINE = 5, /* pause + stop servicing device I/O and console input */
	CTL_ATTACH_FD = 6,  /* payload struct ctl_fd_name + exactly one descriptor: the
			     * VMM adds it to its named-fd table (-EEXIST: name taken;
			     * -ENOSPC: table full; -EISDIR: a directory) */
	CTL_LIST_FDS = 7,   /* reply payload: ctl_status, ctl_fd_list, entries */
	CTL_BALLOON_SET = 8, /* payload struct ctl_balloon_set: the balloon's new target
			      * (-ENODEV: no balloon; -ERANGE: above the VM's memory) */
	CTL_BALLOON_INFO = 9, /* reply payload: ctl_status, struct ctl_balloon (-ENODEV:
			       * no balloon); also asks the guest for fresh statistics */
	CTL_SNAPSHOT = 10,  /* payload struct ctl_snapshot + exactly two descriptors: the
			     * state file and the (empty) memory file, both opened for
			     * writing by the caller. The VMM pauses the VM, writes both
			     * (vmm/vm_snapshot.h) and leaves it paused unless
			     * CTL_SNAP_RESUME; the caller syncs them, writes the
			     * manifest and renames (docs/snapshots.md). */
	CTL_TYPE_MAX = CTL_SNAPSHOT,
};
#define CTL_REPLY 0x8000u /* set in `type` of a reply */

/* Bits of ctl_status.state. */
#define CTL_ST_PAUSED 0x1u
#define CTL_ST_QUARANTINED 0x2u
#define CTL_ST_STOPPING 0x4u
#define CTL_ST_ALL (CTL_ST_PAUSED | CTL_ST_QUARANTINED | CTL_ST_STOPPING)

struct ctl_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t type;        /* enum ctl_type, | CTL_REPLY in replies */
	uint32_t seq;         /* echoed in the reply */
	int32_t status;       /* replies: 0 or -errno; requests: 0 */
	uint32_t flags;       /* none defined yet: 0 */
	uint32_t payload_len; /* bytes after the header: the datagram's size - 32 */
	uint32_t nfds;        /* descriptors sent with it (SCM_RIGHTS) */
	uint32_t reserved;    /* 0 */
};
_Static_assert(sizeof(struct ctl_hdr) == 32, "ctl_hdr is a fixed 32-byte header");

/* First in every reply's payload. */
struct ctl_status {
	uint32_t state;       /* CTL_ST_* */
	uint32_t ncpus;
	uint64_t exits;       /* total vCPU exits so far */
	uint64_t io_exits;
	uint64_t mmio_exits;
};
_Static_assert(sizeof(struct ctl_status) == 32, "ctl_status is 32 bytes");

/* CTL_SNAPSHOT request payload. */
#define CTL_SNAP_RESUME 0x1u /* resume the VM afterwards (if it was running) */
struct ctl_snapshot {
	uint32_t flags;    /* CTL_SNAP_* */
	uint32_t reserved; /* 0 */
};

/* A descriptor's name on the wire: NUL-terminated and NUL-padded, following
 * common/fd_name.h. */
struct ctl_fd_name {
	char name[BH_FD_NAME_MAX + 1];
};

/* What kind of object a named descriptor is (from fstat in the VMM). */
enum ctl_fd_kind {
	CTL_FD_FILE = 1, CTL_FD_SOCKET, CTL_FD_CHAR, CTL_FD_BLOCK, CTL_FD_FIFO, CTL_FD_OTHER,
};

/* CTL_LIST_FDS reply payload: ctl_status, this, then `count` entries. */
struct ctl_fd_list {
	uint32_t count; /* <= CTL_FDS_MAX */
	uint32_t reserved;
};
struct ctl_fd_entry {
	struct ctl_fd_name name;
	uint32_t kind;     /* enum ctl_fd_kind */
	uint32_t reserved;
};
_Static_assert(sizeof(struct ctl_fd_entry) == 40, "ctl_fd_entry is 40 bytes");
_Static_assert(sizeof(struct ctl_status) + sizeof(struct ctl_fd_list) +
		       CTL_FDS_MAX * sizeof(struct ctl_fd_entry) <= CTL_PAYLOAD_MAX,
	       "a full descriptor list fits one record");

/* CTL_BALLOON_SET request payload. */
struct ctl_balloon_set {
	uint64_t target_bytes;
};

/* CTL_BALLOON_INFO reply payload after the status block: the VMM's balloon
 * figures (virtio/balloon.h struct virtio_balloon_info, field for field).
 * Pages are 4 KiB. Whatever the VMM says is only displayed by the daemon. */
#define CTL_BALLOON_NSTATS 10
struct ctl_balloon {
	uint64_t mem_bytes, target_pages, actual_pages, held_pages;
	uint64_t inflated_pages, deflated_pages, released_bytes;
	uint64_t reported_bytes, report_released_bytes, unreleasable_bytes;
	uint64_t refused_outside, refused_excess, refused_duplicate, refused_stats;
	uint64_t release_errors, stats_updates, features;
	uint32_t stats_valid; /* bit t: stats[t] was reported by the guest */
	uint32_t reserved;
	uint64_t stats[CTL_BALLOON_NSTATS];
};
_Static_assert(sizeof(struct ctl_balloon) == 17 * 8 + 8 + CTL_BALLOON_NSTATS * 8,
	       "ctl_balloon has no padding");

/* One record in memory. fds[0..hdr.nfds) are descriptors: borrowed when
 * sending, owned by the receiver after ctl_recv_msg() (ctl_msg_close_fds). */
struct ctl_msg {
	struct ctl_hdr hdr;
	int fds[CTL_MAX_FDS];
	_Alignas(8) unsigned char payload[CTL_PAYLOAD_MAX];
};

/* A request of `type` with `seq`: empty payload, no descriptors. */
void ctl_msg_request(struct ctl_msg *m, enum ctl_type type, uint32_t seq);

/* The reply to a request of `type`/`seq` with `status` and st first in its
 * payload. */
void ctl_msg_reply(struct ctl_msg *m, unsigned type, uint32_t seq, int status,
		   const struct ctl_status *st);

/* Append len bytes to the payload: 0 or -EMSGSIZE past CTL_PAYLOAD_MAX. */
int ctl_msg_put(struct ctl_msg *m, const void *data, size_t len) BH_WUR;

/* Attach a descriptor (borrowed; sent as SCM_RIGHTS): 0 or -E2BIG. */
int ctl_msg_add_fd(struct ctl_msg *m, int fd) BH_WUR;

/* A CTL_BALLOON_SET request. */
void ctl_msg_balloon_set(struct ctl_msg *m, uint32_t seq, uint64_t target_bytes);

/* A CTL_ATTACH_FD request for `name` (checked: -EINVAL) carrying fd. */
int ctl_msg_attach_fd(struct ctl_msg *m, uint32_t seq, const char *name, int fd) BH_WUR;

/* A CTL_SNAPSHOT request carrying state_fd and mem_fd (borrowed). */
void ctl_msg_snapshot(struct ctl_msg *m, uint32_t seq, uint32_t flags, int state_fd, int mem_fd);

/* Close the descriptors a received record holds (and forget them). */
void ctl_msg_close_fds(struct ctl_msg *m);

/* Validate a received record: `len` bytes at buf and the `nfds` descriptors
 * that came with it (values only: never closed or used here). On success the
 * record is copied to *out (fds included: the caller decides who owns them).
 * Checks: size, magic, version, direction, type, flags, reserved, payload
 * length against the datagram and the type, descriptor count against the
 * header and the type, request status 0, reply status -errno, reply state
 * bits, descriptor names, list counts. -EPROTO with the reason in err; then
 * out->hdr holds only the seq and type the record claimed (0 unless at least
 * a header with the right magic arrived), so a reply can still name the
 * request it refuses. */
int ctl_msg_parse(const void *buf, size_t len, const int *fds, unsigned nfds, bool reply,
		  struct ctl_msg *out, char *err, size_t errlen) BH_WUR;

/* Deadlines for ctl_send_msg()/ctl_recv_msg(): CLOCK_MONOTONIC nanoseconds;
 * CTL_NO_WAIT: try once (-EAGAIN if the socket is not ready);
 * CTL_WAIT_FOREVER: block. */
#define CTL_NO_WAIT 0u
#define CTL_WAIT_FOREVER UINT64_MAX

/* Send one record (header + payload + m->fds as SCM_RIGHTS). Works on
 * blocking and non-blocking sockets alike (never blocks past the deadline;
 * never raises SIGPIPE). 0, -ETIMEDOUT/-EAGAIN, -EMSGSIZE for an impossible
 * record, or -errno (-EPIPE: the peer is gone); err says what. */
int ctl_send_msg(int sock, const struct ctl_msg *m, uint64_t deadline_ns, char *err,
		 size_t errlen) BH_WUR;

/* Receive one record as a request (reply=false) or a reply (reply=true) and
 * validate it (ctl_msg_parse). On 0 the caller owns m->fds[0..m->hdr.nfds).
 * Errors: -EPROTO (malformed: oversized datagram, truncated control data,
 * foreign control messages, any ctl_msg_parse failure — every descriptor that
 * arrived is closed already), -ECONNRESET (the peer closed), -ETIMEDOUT or
 * -EAGAIN (nothing in time), -errno. err says what. */
int ctl_recv_msg(int sock, bool reply, struct ctl_msg *m, uint64_t deadline_ns, char *err,
		 size_t errlen) BH_WUR;

/* Typed views of a parsed record's payload (copies; the record was
 * validated, so these cannot fail on one that ctl_msg_parse accepted). */
void ctl_msg_status(const struct ctl_msg *m, struct ctl_status *out); /* replies */
void ctl_msg_fd_name(const struct ctl_msg *m, struct ctl_fd_name *out); /* CTL_ATTACH_FD */
uint64_t ctl_msg_balloon_target(const struct ctl_msg *m);              /* CTL_BALLOON_SET */
/* CTL_BALLOON_INFO reply: true and *out if it carries the figures. */
bool ctl_msg_balloon(const struct ctl_msg *m, struct ctl_balloon *out);
/* CTL_LIST_FDS reply: number of entries; entry i copied to *out if i < it. */
unsigned ctl_msg_fd_entry(const struct ctl_msg *m, unsigned i, struct ctl_fd_entry *out);

const char *ctl_type_name(unsigned type);
/* The name of balloon statistic tag t < CTL_BALLOON_NSTATS ("free_memory"). */
const char *ctl_balloon_stat_name(unsigned t);
/* enum ctl_fd_kind from a st_mode, and its name ("file", "socket", ...). */
uint32_t ctl_fd_kind_of_mode(unsigned mode);
const char *ctl_fd_kind_name(uint32_t kind);

#endif
