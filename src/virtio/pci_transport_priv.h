/* pci_transport_priv.h — what pci_transport.c shares with pci_state.c (its
 * snapshot save/load), nothing else includes it. vd->lock held for both
 * functions. */
#ifndef BH_VIRTIO_PCI_TRANSPORT_PRIV_H
#define BH_VIRTIO_PCI_TRANSPORT_PRIV_H

#include <stdbool.h>

#include "virtio/pci_transport.h"

#define MSIX_CTRL_ENABLE 0x8000
#define MSIX_CTRL_FMASK 0x4000
#define MSIX_ENTRY_MASKED 1
#define MSIX_W_ADDR_LO 0
#define MSIX_W_ADDR_HI 1
#define MSIX_W_DATA 2
#define MSIX_W_CTRL 3

/* Vector v is masked (function mask or its entry's mask bit). */
bool vpci_vector_masked(const struct virtio_pci *vp, unsigned v);

/* Point vector v's GSI at its table entry, or at nothing while masked or
 * with MSI-X off (irq_route.h). */
void vpci_route_vector(struct virtio_pci *vp, unsigned v);

#endif
