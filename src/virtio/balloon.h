/* balloon.h — virtio-balloon (virtio 1.x §5.5): the host asks the guest to
 * give memory back, and the guest returns what it frees.
 *
 * Queues, by negotiated features (the driver numbers only the queues it
 * uses, as Linux and QEMU do): 0 inflateq, 1 deflateq, then statsq if
 * VIRTIO_BALLOON_F_STATS_VQ, then reporting_vq if VIRTIO_BALLOON_F_REPORTING.
 * Offered: STATS_VQ, DEFLATE_ON_OOM and REPORTING as configured; never
 * MUST_TELL_HOST (a deflated page simply faults back in), FREE_PAGE_HINT or
 * PAGE_POISON. Configuration space: le32 num_pages (the target, host-written),
 * le32 actual (driver-written; kept as the guest's claim, never trusted).
 *
 * Hostile guests (hostile-guests.md cases 38-43):
 *  - every page or range the guest names is released only through
 *    gmem_discard(), which refuses anything outside one RAM region, in the
 *    MMIO hole or unaligned; refused entries are counted, the rest served;
 *  - a bitmap of 4 KiB balloon pages is the host's own record: inflating a
 *    page twice or deflating one not in the balloon is counted and ignored,
 *    so "held" can never exceed guest RAM whatever `actual` says;
 *  - work per notify is bounded (VIRTIO_BALLOON_BUDGET_PAGES 4 KiB pages of
 *    inflate/deflate, VIRTIO_BALLOON_BUDGET_BYTES reported), the rest is
 *    deferred; a stats buffer is read up to VIRTIO_BALLOON_S_MAX entries;
 *  - statistics are shown, never acted on: a guest that lies in them fools
 *    only whoever reads them (they are labelled the guest's);
 *  - a chain the queue rejects (reporting a range outside RAM as a
 *    descriptor) puts the device in needs-reset: no range is released.
 * With hugepages a report smaller than a backing page frees nothing: it is
 * counted as unreleasable, not rounded out.
 *
 * Threads: as virtio_dev.h; the virtio_balloon_* calls below take the
 * device lock themselves (any thread that does not hold it). */
#ifndef BH_VIRTIO_BALLOON_H
#define BH_VIRTIO_BALLOON_H

#include <stdbool.h>
#include <stdint.h>

#include "common/compiler.h"
#include "core/event_loop.h"
#include "virtio/virtio_dev.h"

#define VIRTIO_ID_BALLOON 5

/* Feature bits (§5.5.3). */
#define VIRTIO_BALLOON_F_MUST_TELL_HOST 0
#define VIRTIO_BALLOON_F_STATS_VQ 1
#define VIRTIO_BALLOON_F_DEFLATE_ON_OOM 2
#define VIRTIO_BALLOON_F_FREE_PAGE_HINT 3
#define VIRTIO_BALLOON_F_PAGE_POISON 4
#define VIRTIO_BALLOON_F_REPORTING 5

#define VIRTIO_BALLOON_PAGE 4096u          /* the balloon's page, whatever the backing */
#define VIRTIO_BALLOON_QUEUE_MAX 256
#define VIRTIO_BALLOON_CFG_LEN 8
#define VIRTIO_BALLOON_BUDGET_PAGES 65536u /* 256 MiB of inflate/deflate per notify */
#define VIRTIO_BALLOON_BUDGET_BYTES (1ULL << 30) /* reported bytes per notify */
/* Snapshot state (its ops): activated u8, num_pages u32 (the target the
 * guest sees), actual u32 (the guest's claim), stats buffer held u8 and its
 * head u16, then the host's record of balloon pages: bits u64 (must be this
 * VM's: RAM end / 4 KiB) and the bitmap. The stats buffer is a chain the
 * device keeps by design: its head is restored in flight, and load checks
 * that it is the only one, on the stats queue. Every page in the record
 * must be guest RAM. Queue roles follow from the features, as on
 * activation. */
#define VIRTIO_BALLOON_STATE_VERSION 1

/* Statistics tags (§5.5.6.3). */
enum {
	VIRTIO_BALLOON_S_SWAP_IN, VIRTIO_BALLOON_S_SWAP_OUT, VIRTIO_BALLOON_S_MAJFLT,
	VIRTIO_BALLOON_S_MINFLT, VIRTIO_BALLOON_S_MEMFREE, VIRTIO_BALLOON_S_MEMTOT,
	VIRTIO_BALLOON_S_AVAIL, VIRTIO_BALLOON_S_CACHES, VIRTIO_BALLOON_S_HTLB_PGALLOC,
	VIRTIO_BALLOON_S_HTLB_PGFAIL, VIRTIO_BALLOON_S_NR
};
#define VIRTIO_BALLOON_S_MAX 64 /* entries read from one stats buffer */

/* Names of the tags for inspect/metrics ("swap_in", ...), indexed by tag. */
extern const char *const virtio_balloon_stat_names[VIRTIO_BALLOON_S_NR];

/* The configuration (vm_config.balloon; config/ validates it). */
struct virtio_balloon_config {
	bool enabled;
	uint64_t target_bytes;   /* balloon size asked of the guest at start */
	bool stats;              /* offer STATS_VQ */
	bool deflate_on_oom;     /* offer DEFLATE_ON_OOM */
	bool reporting;          /* offer REPORTING (free page reporting) */
};

/* What inspect and /metrics show. Pages are 4 KiB balloon pages. */
struct virtio_balloon_info {
	uint64_t mem_bytes;          /* guest RAM */
	uint64_t target_pages;       /* asked of the guest */
	uint64_t actual_pages;       /* the guest's claim (config `actual`) */
	uint64_t held_pages;         /* in the balloon by the host's own record */
	uint64_t inflated_pages, deflated_pages; /* accepted, since start */
	uint64_t released_bytes;     /* given back to the host by inflates */
	uint64_t reported_bytes;     /* free page reports accepted */
	uint64_t report_released_bytes; /* ... of which given back to the host */
	uint64_t unreleasable_bytes; /* accepted but smaller than a backing page */
	uint64_t refused_outside;    /* pages/ranges outside RAM, in the hole, unaligned */
	uint64_t refused_excess;     /* PFNs past the per-chain cap, partial PFNs */
	uint64_t refused_duplicate;  /* inflate of a held page, deflate of one not held */
	uint64_t refused_stats;      /* malformed stats buffers */
	uint64_t release_errors;     /* host failures releasing memory */
	uint64_t stats_updates;      /* stats buffers received */
	uint32_t stats_valid;        /* bit t: stats[t] was reported */
	uint64_t stats[VIRTIO_BALLOON_S_NR];
	uint64_t features;           /* negotiated (0 before DRIVER_OK) */
};

struct virtio_balloon;

/* Create "virtio-balloon" over `mem` (borrowed; its size bounds everything)
 * with cfg (copied; target_bytes <= mem->size). el may be NULL (tests: no
 * deferred work). 0 or -errno (-ERANGE: target above RAM). Setup thread.
 * Free with vdev.ops->destroy(). */
int virtio_balloon_create(struct virtio_balloon **out, const struct guest_mem *mem,
			  struct event_loop *el, const struct virtio_balloon_config *cfg) BH_WUR;

struct virtio_dev *virtio_balloon_dev(struct virtio_balloon *b);

/* Ask the guest for a balloon of `bytes` (rounded down to 4 KiB pages):
 * updates num_pages and raises the configuration interrupt. -ERANGE above
 * guest RAM. */
int virtio_balloon_set_target(struct virtio_balloon *b, uint64_t bytes) BH_WUR;

/* Ask the guest for fresh statistics: return the stats buffer it left with
 * the device (it refills and resubmits it). No-op without one. */
void virtio_balloon_request_stats(struct virtio_balloon *b);

/* A consistent copy of the figures. */
void virtio_balloon_info(struct virtio_balloon *b, struct virtio_balloon_info *out);

#endif
