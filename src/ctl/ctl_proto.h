/* ctl_proto.h — the control channel between bulkheadd and one VMM process.
 *
 * Transport: an AF_UNIX SOCK_SEQPACKET socket (message boundaries kept). The
 * daemon creates and binds the listening socket before it spawns the VMM and
 * hands it over as an inherited fd (`bulkhead run --control-fd N`); the VMM
 * keeps it for its whole life, so a restarted daemon reconnects to the same
 * path and no file has to be opened after the VMM is jailed.
 *
 * Format: one fixed-size, little-endian (host order; both ends are the same
 * machine) record per message, request and reply alike. Every record carries a
 * magic and a version; a receiver validates a copy with ctl_msg_validate()
 * before acting on it and answers anything invalid with -EPROTO. The daemon
 * sends one request and waits for its reply (same seq) — no pipelining.
 * Pure data + pure functions: no threads, no state. */
#ifndef BH_CTL_PROTO_H
#define BH_CTL_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"

#define CTL_MAGIC 0x54434842u /* "BHCT" */
#define CTL_VERSION 1

enum ctl_type {
	CTL_STATUS = 1,     /* report state and counters; no side effect */
	CTL_PAUSE = 2,      /* park every vCPU (returns once all are parked) */
	CTL_RESUME = 3,     /* let them run again (refused while quarantined) */
	CTL_STOP = 4,       /* graceful stop: Ctrl-Alt-Del through the i8042 */
	CTL_QUARANTINE = 5, /* pause + stop servicing device I/O and console input */
	CTL_TYPE_MAX = CTL_QUARANTINE,
};
#define CTL_REPLY 0x8000u /* set in `type` of a reply */

/* Bits of `state` in a reply. */
#define CTL_ST_PAUSED 0x1u
#define CTL_ST_QUARANTINED 0x2u
#define CTL_ST_STOPPING 0x4u

struct ctl_msg {
	uint32_t magic;
	uint16_t version;
	uint16_t type;      /* enum ctl_type, | CTL_REPLY in replies */
	uint32_t seq;       /* echoed in the reply */
	int32_t status;     /* replies: 0 or -errno; requests: 0 */
	uint32_t state;     /* replies: CTL_ST_* */
	uint32_t ncpus;     /* replies: vCPUs */
	uint64_t exits;     /* replies: total vCPU exits so far */
	uint64_t io_exits;
	uint64_t mmio_exits;
	uint64_t reserved[2]; /* must be zero */
};
_Static_assert(sizeof(struct ctl_msg) == 64, "ctl_msg is a fixed 64-byte record");

/* A request of `type` with `seq`, all other fields zero. */
void ctl_msg_request(struct ctl_msg *m, enum ctl_type type, uint32_t seq);

/* Validate `len` received bytes at `buf` as a request (reply=false) or a reply
 * (reply=true) and copy it to *out. 0, or -EPROTO with a reason in err (size,
 * magic, version, type, non-zero reserved or request fields). */
int ctl_msg_validate(const void *buf, size_t len, bool reply, struct ctl_msg *out, char *err,
		     size_t errlen) BH_WUR;

const char *ctl_type_name(unsigned type);

#endif
