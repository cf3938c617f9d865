/* irq_route.h — the VM's GSI routing table and MSI vectors behind irqfds.
 *
 * KVM_SET_GSI_ROUTING replaces the whole table, so this module owns it: the
 * 24 IOAPIC pins and 16 PIC pins exactly as KVM's default table routes them,
 * plus one MSI route per vector (GSIs from IRQ_ROUTE_FIRST_MSI up). A device
 * binds an eventfd to its vector's GSI once (KVM_IRQFD); the guest's MSI-X
 * table writes only re-point the route. Raising the interrupt is then one
 * eventfd write from any thread: KVM injects it, no vCPU thread involved.
 *
 * vm_fd < 0 keeps the bookkeeping without KVM (unit tests).
 * Thread-safety: all functions lock the router; any thread.
 */
#ifndef BH_IRQ_ROUTE_H
#define BH_IRQ_ROUTE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/compiler.h"

#define IRQ_ROUTE_FIRST_MSI 24
#define IRQ_ROUTE_MAX_MSI 256

struct irq_router {
	int vm_fd;
	pthread_mutex_t lock;
	bool lock_ok;
	unsigned nmsi;
	struct {
		int efd;          /* bound with KVM_IRQFD, not owned */
		bool valid;       /* a message is routed */
		uint64_t addr;
		uint32_t data;
	} msi[IRQ_ROUTE_MAX_MSI];
	uint64_t updates;     /* statistics: KVM_SET_GSI_ROUTING calls */
};

int irq_router_init(struct irq_router *r, int vm_fd) BH_WUR;

/* Allocate a GSI for an MSI vector and bind efd to it. Setup thread.
 * -ENOSPC when all vectors are taken. */
int irq_router_add_msi(struct irq_router *r, int efd, uint32_t *gsi) BH_WUR;

/* Route gsi to MSI message (addr, data) — or to nothing when valid is false —
 * and commit the table if it changed. 0 or -errno (KVM refused: e.g. a
 * message KVM considers invalid; the vector then stays unrouted). */
int irq_router_set_msi(struct irq_router *r, uint32_t gsi, bool valid, uint64_t addr,
		       uint32_t data) BH_WUR;

/* Unbind every irqfd and free the table. Idempotent. */
void irq_router_destroy(struct irq_router *r);

#endif
