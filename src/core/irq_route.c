/* irq_route.c — see irq_route.h. */
#include "irq_route.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/kvm.h>

#include "common/log.h"

#define IOAPIC_PINS 24
#define PIC_PINS 16

int irq_router_init(struct irq_router *r, int vm_fd)
{
	memset(r, 0, sizeof(*r));
	r->vm_fd = vm_fd;
	if (pthread_mutex_init(&r->lock, NULL))
		return -ENOMEM;
	r->lock_ok = true;
	return 0;
}

int irq_router_add_msi(struct irq_router *r, int efd, uint32_t *gsi)
{
	int ret = 0;

	pthread_mutex_lock(&r->lock);
	if (r->nmsi == IRQ_ROUTE_MAX_MSI) {
		ret = -ENOSPC;
	} else {
		uint32_t g = IRQ_ROUTE_FIRST_MSI + r->nmsi;
		struct kvm_irqfd irqfd = { .fd = (uint32_t)efd, .gsi = g };

		if (r->vm_fd >= 0 && ioctl(r->vm_fd, KVM_IRQFD, &irqfd) < 0) {
			ret = -errno;
		} else {
			r->msi[r->nmsi].efd = efd;
			r->msi[r->nmsi].valid = false;
			r->nmsi++;
			*gsi = g;
		}
	}
	pthread_mutex_unlock(&r->lock);
	return ret;
}

/* Build and install the whole table. Router lock held. */
static int commit(struct irq_router *r)
{
	size_t max = IOAPIC_PINS + PIC_PINS + r->nmsi;
	struct kvm_irq_routing *t;
	unsigned n = 0;
	int ret = 0;

	if (r->vm_fd < 0)
		return 0;
	t = calloc(1, sizeof(*t) + max * sizeof(t->entries[0]));
	if (!t)
		return -ENOMEM;
	/* KVM's default routing (arch/x86/kvm/irq_comm.c): every GSI < 24 to
	 * the IOAPIC pin of the same number, GSIs < 16 also to the PICs. */
	for (unsigned g = 0; g < IOAPIC_PINS; g++) {
		t->entries[n++] = (struct kvm_irq_routing_entry){
			.gsi = g, .type = KVM_IRQ_ROUTING_IRQCHIP,
			.u.irqchip = { .irqchip = KVM_IRQCHIP_IOAPIC, .pin = g } };
		if (g < PIC_PINS)
			t->entries[n++] = (struct kvm_irq_routing_entry){
				.gsi = g, .type = KVM_IRQ_ROUTING_IRQCHIP,
				.u.irqchip = { .irqchip = g < 8 ? KVM_IRQCHIP_PIC_MASTER
								 : KVM_IRQCHIP_PIC_SLAVE,
					       .pin = g % 8 } };
	}
	for (unsigned i = 0; i < r->nmsi; i++) {
		if (!r->msi[i].valid)
			continue;
		t->entries[n++] = (struct kvm_irq_routing_entry){
			.gsi = IRQ_ROUTE_FIRST_MSI + i, .type = KVM_IRQ_ROUTING_MSI,
			.u.msi = { .address_lo = (uint32_t)r->msi[i].addr,
				   .address_hi = (uint32_t)(r->msi[i].addr >> 32),
				   .data = r->msi[i].data } };
	}
	t->nr = n;
	if (ioctl(r->vm_fd, KVM_SET_GSI_ROUTING, t) < 0)
		ret = -errno;
	r->updates++;
	free(t);
	return ret;
}

int irq_router_set_msi(struct irq_router *r, uint32_t gsi, bool valid, uint64_t addr,
		       uint32_t data)
{
	unsigned i = gsi - IRQ_ROUTE_FIRST_MSI;
	int ret = 0;

	pthread_mutex_lock(&r->lock);
	if (gsi < IRQ_ROUTE_FIRST_MSI || i >= r->nmsi) {
		ret = -EINVAL;
	} else if (r->msi[i].valid != valid ||
		   (valid && (r->msi[i].addr != addr || r->msi[i].data != data))) {
		r->msi[i].valid = valid;
		r->msi[i].addr = addr;
		r->msi[i].data = data;
		ret = commit(r);
		if (ret) {
			r->msi[i].valid = false;
			bh_warn_guest("MSI route gsi %u -> 0x%llx/0x%x refused: %s", gsi,
				      (unsigned long long)addr, data, strerror(-ret));
			if (commit(r)) {
				/* the previous table stays installed */
			}
		}
	}
	pthread_mutex_unlock(&r->lock);
	return ret;
}

void irq_router_destroy(struct irq_router *r)
{
	if (!r->lock_ok)
		return;
	for (unsigned i = 0; i < r->nmsi; i++) {
		struct kvm_irqfd irqfd = { .fd = (uint32_t)r->msi[i].efd,
					   .gsi = IRQ_ROUTE_FIRST_MSI + i,
					   .flags = KVM_IRQFD_FLAG_DEASSIGN };

		if (r->vm_fd >= 0 && ioctl(r->vm_fd, KVM_IRQFD, &irqfd) < 0)
			bh_dbg("KVM_IRQFD deassign gsi %u: %s", irqfd.gsi, strerror(errno));
	}
	r->nmsi = 0;
	pthread_mutex_destroy(&r->lock);
	r->lock_ok = false;
}
