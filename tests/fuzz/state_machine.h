/* state_machine.h — the device set fuzz_state loads into, and that
 * make_state_seeds drives to produce its seeds: 1 MiB of guest RAM, the PCI
 * bus, and virtio-blk (a 64 KiB memfd image), virtio-console and virtio-rng
 * on virtio-pci, in the device table's order (slots 1, 2, 3), with an irq
 * router and no KVM. Everything is real except KVM itself.
 *
 * The fuzz input (and seed) format:
 *   mem_len u16, mem_len bytes copied to guest RAM at 0 (the rings live low);
 *   then per device in table order — pci, virtio-blk, virtio-console,
 *   virtio-rng, virtio-balloon — len u32 and its state blob (pci_bus_save(),
 *   virtio_pci_save()), in this build's versions. */
#ifndef BH_FUZZ_STATE_MACHINE_H
#define BH_FUZZ_STATE_MACHINE_H

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bus/pci.h"
#include "core/irq_route.h"
#include "virtio/balloon.h"
#include "virtio/blk.h"
#include "virtio/console.h"
#include "virtio/pci_transport.h"
#include "virtio/rng.h"

#define SM_RAM (1ULL << 20)
#define SM_IMG (64 * 1024)
#define SM_NDEV 4
#define SM_BLK 0
#define SM_CON 1
#define SM_RNG 2
#define SM_BAL 3

struct sm {
	struct guest_mem gm;
	struct pci_bus bus;
	struct io_bus pio, mmio;
	struct irq_router router;
	struct virtio_blk *blk;
	struct virtio_console *con;
	struct virtio_rng *rng;
	struct virtio_balloon *bal;
	struct virtio_dev *vd[SM_NDEV];
	struct virtio_pci vp[SM_NDEV];
};

static inline void sm_set_level(void *opaque, uint32_t gsi, int level)
{
	(void)opaque;
	(void)gsi;
	(void)level;
}

/* The disk image, created once per process. */
static inline int sm_disk_fd(void)
{
	static int fd = -1;
	static uint8_t img[SM_IMG];

	if (fd < 0) {
		fd = memfd_create("state-disk", MFD_CLOEXEC);
		for (unsigned i = 0; i < SM_IMG; i++)
			img[i] = (uint8_t)(i * 7);
		if (fd >= 0 && pwrite(fd, img, SM_IMG, 0) != SM_IMG) {
			close(fd);
			fd = -1;
		}
	}
	return fd;
}

/* Build the device set. 0 or -1. */
static inline int sm_create(struct sm *m)
{
	struct irq_line line = { sm_set_level, NULL, 0 };
	struct virtio_blk_disk disk = { .id = "fuzzdisk" };
	struct virtio_balloon_config bc = { .enabled = true, .target_bytes = 1 << 16,
					    .stats = true, .reporting = true };
	struct vpci_env env;
	char path[64], err[256];
	int fd = sm_disk_fd();

	memset(m, 0, sizeof(*m));
	if (fd < 0 || gmem_create(&m->gm, SM_RAM))
		return -1;
	if (pci_bus_init(&m->bus, &line) || irq_router_init(&m->router, -1))
		return -1;
	io_bus_init(&m->pio, IO_BUS_PIO);
	io_bus_init(&m->mmio, IO_BUS_MMIO);
	if (pci_bus_register(&m->bus, &m->pio, &m->mmio))
		return -1;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	disk.path = path;
	if (virtio_blk_create(&m->blk, &disk, 0, &m->gm, NULL, BLOCK_MODE_SYNC, err,
			      sizeof(err)) ||
	    virtio_console_create(&m->con, &m->gm, NULL, NULL) ||
	    virtio_rng_create(&m->rng, &m->gm, NULL) ||
	    virtio_balloon_create(&m->bal, &m->gm, NULL, &bc))
		return -1;
	m->vd[SM_BLK] = virtio_blk_dev(m->blk);
	m->vd[SM_CON] = virtio_console_dev(m->con);
	m->vd[SM_RNG] = virtio_rng_dev(m->rng);
	m->vd[SM_BAL] = virtio_balloon_dev(m->bal);
	env = (struct vpci_env){ -1, &m->bus, &m->router, NULL };
	for (unsigned i = 0; i < SM_NDEV; i++)
		if (virtio_pci_create(&m->vp[i], m->vd[i], &env))
			return -1;
	io_bus_seal(&m->pio);
	io_bus_seal(&m->mmio);
	return 0;
}

static inline void sm_destroy(struct sm *m)
{
	irq_router_destroy(&m->router);
	for (unsigned i = 0; i < SM_NDEV; i++) {
		virtio_pci_destroy(&m->vp[i]);
		if (m->vd[i])
			m->vd[i]->ops->destroy(m->vd[i]);
	}
	pci_bus_destroy(&m->bus);
	gmem_destroy(&m->gm);
}

static inline void sm_quiesce(struct sm *m)
{
	for (unsigned i = 0; i < SM_NDEV; i++)
		virtio_dev_quiesce(m->vd[i]);
}

static inline void sm_resume(struct sm *m)
{
	for (unsigned i = 0; i < SM_NDEV; i++)
		virtio_dev_resume(m->vd[i]);
}

/* Save the bus and every device into out, framed as above (after a mem_len
 * of 0: the caller prepends memory). 0 or -1. */
static inline int sm_save_devices(struct sm *m, struct sbuf *out)
{
	struct sbuf blob;
	char err[256];

	for (unsigned i = 0; i <= SM_NDEV; i++) {
		int ret = 0;

		sbuf_init(&blob);
		if (i == 0)
			pci_bus_save(&m->bus, &blob);
		else
			ret = virtio_pci_save(&m->vp[i - 1], &blob, err, sizeof(err));
		if (ret || blob.err) {
			sbuf_free(&blob);
			return -1;
		}
		sbuf_u32(out, (uint32_t)blob.len);
		sbuf_put(out, blob.data, blob.len);
		sbuf_free(&blob);
	}
	return out->err ? -1 : 0;
}

/* Load the framed device states from r into m, stopping at the first
 * refusal: 0, or the refusing load's -errno with err filled in. A frame
 * running past the input is -EINVAL. */
static inline int sm_load_devices(struct sm *m, struct sreader *r, char *err, size_t errlen)
{
	for (unsigned i = 0; i <= SM_NDEV; i++) {
		uint32_t len = sr_u32(r);
		struct sreader blob;
		int ret;

		if (r->bad || len > r->len - r->off) {
			snprintf(err, errlen, "frame %u runs past the input", i);
			return -EINVAL;
		}
		sr_init(&blob, r->p + r->off, len);
		r->off += len;
		if (i == 0)
			ret = pci_bus_load(&m->bus, &blob, PCI_STATE_VERSION, err, errlen);
		else
			ret = virtio_pci_load(&m->vp[i - 1], &blob, VIRTIO_PCI_STATE_VERSION, err,
					      errlen);
		if (ret)
			return ret;
	}
	return 0;
}

#endif
