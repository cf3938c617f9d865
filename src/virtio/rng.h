/* rng.h — virtio-rng (virtio 1.x §5.4): one requestq; each chain's
 * device-writable part is filled with getrandom() bytes, at most
 * VIRTIO_RNG_MAX_REQ per chain (hostile-guests.md case 7: host work and
 * memory per request are capped; the buffer is allocated once). One notify
 * serves at most VIRTIO_RNG_BUDGET_BYTES and then defers the rest, so a guest
 * cannot monopolise the event thread. No configuration space, no features
 * beyond the ring's. Threads: as virtio_dev.h. */
#ifndef BH_VIRTIO_RNG_H
#define BH_VIRTIO_RNG_H

#include <stdint.h>

#include "common/compiler.h"
#include "core/event_loop.h"
#include "virtio/virtio_dev.h"

#define VIRTIO_RNG_QUEUE_MAX 256
#define VIRTIO_RNG_MAX_REQ (64u * 1024u)
#define VIRTIO_RNG_BUDGET_BYTES (1024u * 1024u)
/* Snapshot state (its ops): whether the driver activated it. */
#define VIRTIO_RNG_STATE_VERSION 1

struct virtio_rng;

/* Create "virtio-rng". mem and el are borrowed (el may be NULL: no deferred
 * work, tests). 0 or -errno. Setup thread. Free with vdev.ops->destroy(). */
int virtio_rng_create(struct virtio_rng **out, const struct guest_mem *mem,
		      struct event_loop *el) BH_WUR;

struct virtio_dev *virtio_rng_dev(struct virtio_rng *r);

/* Bytes handed to the guest so far. */
uint64_t virtio_rng_bytes(struct virtio_rng *r);

#endif
