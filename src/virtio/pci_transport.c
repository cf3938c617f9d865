/* pci_transport.c — see pci_transport.h. Register map: virtio 1.x §4.1.4. */
#include "pci_transport.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/kvm.h>

#include "common/log.h"
#include "virtio/pci_transport_priv.h"

#define VIRTIO_PCI_VENDOR 0x1af4
#define VIRTIO_PCI_DEVICE_BASE 0x1040

/* virtio_pci_cap.cfg_type */
#define CAP_COMMON 1
#define CAP_NOTIFY 2
#define CAP_ISR 3
#define CAP_DEVICE 4
#define CAP_PCI_CFG 5

/* common configuration offsets */
#define C_DFSELECT 0x00
#define C_DF 0x04
#define C_GFSELECT 0x08
#define C_GF 0x0c
#define C_MSIX_CONFIG 0x10
#define C_NUM_QUEUES 0x12
#define C_STATUS 0x14
#define C_CFG_GEN 0x15
#define C_Q_SELECT 0x16
#define C_Q_SIZE 0x18
#define C_Q_MSIX 0x1a
#define C_Q_ENABLE 0x1c
#define C_Q_NOTIFY_OFF 0x1e
#define C_Q_DESC 0x20
#define C_Q_DRIVER 0x28
#define C_Q_DEVICE 0x30


static uint32_t pci_class_for(uint16_t id)
{
	switch (id) {
	case VIRTIO_ID_BLOCK:
		return 0x018000; /* mass storage, other */
	case VIRTIO_ID_CONSOLE:
		return 0x078000; /* simple communication, other */
	default:
		return 0x00ff00; /* unclassified */
	}
}

/* ---- interrupts (vd->lock held) ---- */

bool vpci_vector_masked(const struct virtio_pci *vp, unsigned v)
{
	return vp->msix_fmask || (vp->msix[v].w[MSIX_W_CTRL] & MSIX_ENTRY_MASKED);
}

/* Point vector v's GSI at its table entry (or at nothing while masked). */
void vpci_route_vector(struct virtio_pci *vp, unsigned v)
{
	bool on = vp->msix_enabled && !vpci_vector_masked(vp, v);
	uint64_t addr = ((uint64_t)vp->msix[v].w[MSIX_W_ADDR_HI] << 32) |
			vp->msix[v].w[MSIX_W_ADDR_LO];

	if (irq_router_set_msi(vp->env.router, vp->vec_gsi[v], on, addr,
			       vp->msix[v].w[MSIX_W_DATA])) {
		/* logged by the router; the vector stays silent */
	}
}

static void fire_vector(struct virtio_pci *vp, unsigned v)
{
	uint64_t one = 1;

	if (vpci_vector_masked(vp, v)) {
		vp->pba |= 1ull << v;
		return;
	}
	if (write(vp->vec_efd[v], &one, sizeof(one)) < 0)
		bh_warn_guest("%s: irqfd write failed: %s", vp->vd->name, strerror(errno));
}

/* Re-route every vector and deliver what became unmasked while pending. */
static void msix_changed(struct virtio_pci *vp)
{
	for (unsigned v = 0; v < vp->nvec; v++) {
		vpci_route_vector(vp, v);
		if (vp->msix_enabled && !vpci_vector_masked(vp, v) && (vp->pba & (1ull << v))) {
			vp->pba &= ~(1ull << v);
			fire_vector(vp, v);
		}
	}
	if (vp->msix_enabled && vp->isr) { /* INTx no longer used */
		vp->isr = 0;
		pci_intx_set(&vp->pci, 0);
	}
}

static void vp_raise(struct virtio_pci *vp, uint16_t vector, uint8_t isr_bit)
{
	if (vp->msix_enabled) {
		if (vector < vp->nvec)
			fire_vector(vp, vector);
		return;
	}
	vp->isr |= isr_bit;
	pci_intx_set(&vp->pci, 1);
}

static void tr_queue_irq(void *transport, unsigned q)
{
	struct virtio_pci *vp = transport;

	if (q < vp->vd->nqueues)
		vp_raise(vp, vp->q[q].msix_vector, 1);
}

static void tr_config_irq(void *transport)
{
	struct virtio_pci *vp = transport;

	vp->config_generation++;
	vp_raise(vp, vp->msix_config, 2);
}

static const struct virtio_transport_ops vpci_tops = { tr_queue_irq, tr_config_irq };

/* ---- device reset and status (vd->lock held) ---- */

static void device_reset(struct virtio_pci *vp)
{
	struct virtio_dev *vd = vp->vd;

	/* The device drains its in-flight work, resets its queues and forgets
	 * features, status and the failed state. */
	virtio_dev_reset(vd);
	for (unsigned i = 0; i < vd->nqueues; i++)
		vp->q[i] = (struct vpci_queue){ .size = vd->queue_max,
						.msix_vector = VPCI_NO_VECTOR };
	vp->driver_features = 0;
	vp->dfselect = vp->gfselect = 0;
	vp->queue_select = 0;
	vp->msix_config = VPCI_NO_VECTOR;
	vp->isr = 0;
	pci_intx_set(&vp->pci, 0);
}

static void write_status(struct virtio_pci *vp, uint8_t val)
{
	struct virtio_dev *vd = vp->vd;
	uint8_t old = vd->status;

	if (val == 0) {
		device_reset(vp);
		return;
	}
	if ((val & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK)) {
		uint64_t f = vp->driver_features;

		if ((f & ~vp->offered) || !(f & (1ull << VIRTIO_F_VERSION_1)) ||
		    (old & VIRTIO_STATUS_DRIVER_OK)) {
			bh_dbg_guest("%s: FEATURES_OK refused (driver features 0x%llx, offered "
				     "0x%llx)", vd->name, (unsigned long long)f,
				     (unsigned long long)vp->offered);
			val &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
		} else {
			vd->features = f;
		}
	}
	/* Feature acceptance is one-way until reset. */
	if (old & VIRTIO_STATUS_FEATURES_OK)
		val |= VIRTIO_STATUS_FEATURES_OK;
	if ((val & VIRTIO_STATUS_DRIVER_OK) && !(val & VIRTIO_STATUS_FEATURES_OK))
		val &= (uint8_t)~VIRTIO_STATUS_DRIVER_OK;
	if (vd->failed)
		val |= VIRTIO_STATUS_NEEDS_RESET;
	else
		val &= (uint8_t)~VIRTIO_STATUS_NEEDS_RESET; /* device-owned bit */
	vd->status = val;
	if ((val & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK) && !vd->failed &&
	    vd->ops->activate) {
		int ret = vd->ops->activate(vd);

		if (ret) {
			bh_warn("%s: activation failed: %s", vd->name, strerror(-ret));
			virtio_dev_fail(vd, "device activation failed");
		}
	}
}

/* ---- common configuration ---- */

static bool queue_writable(const struct virtio_pci *vp, unsigned q)
{
	uint8_t st = vp->vd->status;

	return q < vp->vd->nqueues && (st & VIRTIO_STATUS_FEATURES_OK) &&
	       !(st & VIRTIO_STATUS_DRIVER_OK) && !vp->q[q].enabled;
}

static uint16_t checked_vector(const struct virtio_pci *vp, uint16_t v)
{
	return v < vp->nvec ? v : VPCI_NO_VECTOR;
}

static void enable_queue(struct virtio_pci *vp, unsigned qi)
{
	struct virtio_dev *vd = vp->vd;
	struct vpci_queue *q = &vp->q[qi];
	int ret = virtq_activate(&vd->vq[qi], vd->mem, q->size, vd->queue_max, q->desc, q->driver,
				 q->device, vd->features);

	if (ret) {
		bh_warn_guest("%s: queue %u not enabled: rings rejected (size %u, desc 0x%llx, "
			      "driver 0x%llx, device 0x%llx): %s", vd->name, qi, q->size,
			      (unsigned long long)q->desc, (unsigned long long)q->driver,
			      (unsigned long long)q->device, strerror(-ret));
		return;
	}
	q->enabled = true;
}

/* Snapshot of the common configuration as the driver reads it. */
static void common_image(struct virtio_pci *vp, uint8_t img[VPCI_COMMON_LEN])
{
	unsigned qs = vp->queue_select;
	const struct vpci_queue *q = qs < vp->vd->nqueues ? &vp->q[qs] : NULL;
	uint64_t df = vp->dfselect < 2 ? vp->offered >> (32 * vp->dfselect) : 0;
	uint64_t gf = vp->gfselect < 2 ? vp->driver_features >> (32 * vp->gfselect) : 0;

	memset(img, 0, VPCI_COMMON_LEN);
	pci_put32(&img[C_DFSELECT], vp->dfselect);
	pci_put32(&img[C_DF], (uint32_t)df);
	pci_put32(&img[C_GFSELECT], vp->gfselect);
	pci_put32(&img[C_GF], (uint32_t)gf);
	pci_put16(&img[C_MSIX_CONFIG], vp->msix_config);
	pci_put16(&img[C_NUM_QUEUES], (uint16_t)vp->vd->nqueues);
	img[C_STATUS] = vp->vd->status;
	img[C_CFG_GEN] = vp->config_generation;
	pci_put16(&img[C_Q_SELECT], vp->queue_select);
	if (q) {
		pci_put16(&img[C_Q_SIZE], q->size);
		pci_put16(&img[C_Q_MSIX], q->msix_vector);
		pci_put16(&img[C_Q_ENABLE], q->enabled);
		pci_put16(&img[C_Q_NOTIFY_OFF], (uint16_t)qs);
		pci_put32(&img[C_Q_DESC], (uint32_t)q->desc);
		pci_put32(&img[C_Q_DESC + 4], (uint32_t)(q->desc >> 32));
		pci_put32(&img[C_Q_DRIVER], (uint32_t)q->driver);
		pci_put32(&img[C_Q_DRIVER + 4], (uint32_t)(q->driver >> 32));
		pci_put32(&img[C_Q_DEVICE], (uint32_t)q->device);
		pci_put32(&img[C_Q_DEVICE + 4], (uint32_t)(q->device >> 32));
	}
}

/* Write part of a 64-bit ring address (4-byte halves or all 8 bytes). */
static void set_addr(uint64_t *a, uint32_t rel, uint64_t v, uint32_t len)
{
	if (len == 8)
		*a = v;
	else if (rel == 0)
		*a = (*a & ~0xffffffffull) | (uint32_t)v;
	else
		*a = (*a & 0xffffffffull) | ((uint64_t)(uint32_t)v << 32);
}

static void common_write(struct virtio_pci *vp, uint32_t off, uint64_t v, uint32_t len)
{
	struct virtio_dev *vd = vp->vd;
	unsigned qs = vp->queue_select;
	bool ok = true;

	switch (off) {
	case C_DFSELECT:
		ok = len == 4;
		if (ok)
			vp->dfselect = (uint32_t)v;
		break;
	case C_GFSELECT:
		ok = len == 4;
		if (ok)
			vp->gfselect = (uint32_t)v;
		break;
	case C_GF:
		ok = len == 4 && vp->gfselect < 2 && !(vd->status & VIRTIO_STATUS_FEATURES_OK);
		if (ok) {
			unsigned sh = 32 * vp->gfselect;

			vp->driver_features = (vp->driver_features & ~(0xffffffffull << sh)) |
					      ((uint64_t)(uint32_t)v << sh);
		}
		break;
	case C_MSIX_CONFIG:
		ok = len == 2;
		if (ok)
			vp->msix_config = checked_vector(vp, (uint16_t)v);
		break;
	case C_STATUS:
		ok = len == 1;
		if (ok)
			write_status(vp, (uint8_t)v);
		break;
	case C_Q_SELECT:
		ok = len == 2;
		if (ok)
			vp->queue_select = (uint16_t)v;
		break;
	case C_Q_SIZE:
		ok = len == 2 && queue_writable(vp, qs) && v >= 1 && v <= vd->queue_max &&
		     !(v & (v - 1));
		if (ok)
			vp->q[qs].size = (uint16_t)v;
		break;
	case C_Q_MSIX:
		/* Allowed until DRIVER_OK on a disabled queue; Linux also sets it
		 * after enabling (it reads the value back to check it stuck). */
		ok = len == 2 && qs < vd->nqueues && !(vd->status & VIRTIO_STATUS_DRIVER_OK);
		if (ok)
			vp->q[qs].msix_vector = checked_vector(vp, (uint16_t)v);
		break;
	case C_Q_ENABLE:
		ok = len == 2 && v == 1 && queue_writable(vp, qs);
		if (ok)
			enable_queue(vp, qs);
		break;
	case C_Q_DESC:
	case C_Q_DESC + 4:
	case C_Q_DRIVER:
	case C_Q_DRIVER + 4:
	case C_Q_DEVICE:
	case C_Q_DEVICE + 4: {
		uint32_t base = off & ~7u, rel = off & 7u;

		ok = (len == 4 || (len == 8 && rel == 0)) && queue_writable(vp, qs);
		if (!ok)
			break;
		set_addr(base == C_Q_DESC ? &vp->q[qs].desc
			 : base == C_Q_DRIVER ? &vp->q[qs].driver
					      : &vp->q[qs].device,
			 rel, v, len);
		break;
	}
	default:
		ok = false; /* read-only or not a register */
	}
	if (!ok) {
		vp->ignored_writes++;
		bh_dbg_guest("%s: ignored common-config write off 0x%x len %u value 0x%llx (status "
			     "0x%x)", vd->name, off, len, (unsigned long long)v, vd->status);
	}
}

/* ---- MSI-X table ---- */

static void msix_table_read(struct virtio_pci *vp, uint32_t off, void *data, uint32_t len)
{
	uint32_t v = 0, e = off / 16, w = (off % 16) / 4;

	memset(data, 0, len);
	if (e >= vp->nvec || (len != 4 && len != 8) || (off & 3))
		return;
	for (uint32_t i = 0; i < len / 4 && w + i < 4; i++) {
		v = vp->msix[e].w[w + i];
		memcpy((uint8_t *)data + 4 * i, &v, 4);
	}
}

static void msix_table_write(struct virtio_pci *vp, uint32_t off, const void *data, uint32_t len)
{
	uint32_t e = off / 16, w = (off % 16) / 4;

	if (e >= vp->nvec || (len != 4 && len != 8) || (off & 3) || w + len / 4 > 4) {
		vp->ignored_writes++;
		return;
	}
	for (uint32_t i = 0; i < len / 4; i++) {
		uint32_t v;

		memcpy(&v, (const uint8_t *)data + 4 * i, 4);
		vp->msix[e].w[w + i] = (w + i == MSIX_W_CTRL) ? (v & MSIX_ENTRY_MASKED) : v;
	}
	msix_changed(vp);
}

/* ---- BAR0 ---- */

static void bar_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct virtio_pci *vp = opaque;
	struct virtio_dev *vd = vp->vd;
	uint8_t img[VPCI_COMMON_LEN];

	memset(data, 0, len);
	pthread_mutex_lock(&vd->lock);
	if (off + len <= VPCI_COMMON_OFF + VPCI_COMMON_LEN) {
		common_image(vp, img);
		memcpy(data, &img[off], len);
	} else if (off == VPCI_ISR_OFF && len == 1) {
		*(uint8_t *)data = vp->isr;
		vp->isr = 0;
		pci_intx_set(&vp->pci, 0);
	} else if (off >= VPCI_DEVCFG_OFF && off < VPCI_DEVCFG_OFF + 0x1000) {
		uint32_t o = (uint32_t)(off - VPCI_DEVCFG_OFF);

		if (o + len <= vd->cfg_len && vd->ops->cfg_read)
			vd->ops->cfg_read(vd, o, data, len);
		else
			memset(data, 0xff, len);
	} else if (off >= VPCI_MSIX_TABLE_OFF && off < VPCI_MSIX_TABLE_OFF + 16u * vp->nvec) {
		msix_table_read(vp, (uint32_t)(off - VPCI_MSIX_TABLE_OFF), data, len);
	} else if (off >= VPCI_MSIX_PBA_OFF && off + len <= VPCI_MSIX_PBA_OFF + 8) {
		uint64_t pba = vp->pba;

		memcpy(data, (uint8_t *)&pba + (off - VPCI_MSIX_PBA_OFF), len);
	}
	pthread_mutex_unlock(&vd->lock);
}

static void notify_queue(struct virtio_pci *vp, unsigned q)
{
	virtio_dev_notify(vp->vd, q);
}

static void bar_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct virtio_pci *vp = opaque;
	struct virtio_dev *vd = vp->vd;
	uint64_t v = 0;

	memcpy(&v, data, len > 8 ? 8 : len);
	pthread_mutex_lock(&vd->lock);
	if (off + len <= VPCI_COMMON_OFF + VPCI_COMMON_LEN) {
		common_write(vp, (uint32_t)off, v, len);
	} else if (off >= VPCI_DEVCFG_OFF && off < VPCI_DEVCFG_OFF + 0x1000) {
		uint32_t o = (uint32_t)(off - VPCI_DEVCFG_OFF);

		if (o + len <= vd->cfg_len && vd->ops->cfg_write)
			vd->ops->cfg_write(vd, o, data, len);
		else
			vp->ignored_writes++;
	} else if (off >= VPCI_NOTIFY_OFF && off < VPCI_NOTIFY_OFF + 0x1000) {
		/* Only reached when no ioeventfd caught the write (other width,
		 * no KVM): hand it to the event thread like KVM would, so queues
		 * are only ever processed there. */
		uint64_t rel = off - VPCI_NOTIFY_OFF, one = 1;
		unsigned q = (unsigned)(rel / VPCI_NOTIFY_MULT);

		if (rel % VPCI_NOTIFY_MULT == 0 && q < vd->nqueues &&
		    write(vp->notify[q].efd, &one, sizeof(one)) < 0)
			vp->ignored_writes++; /* counter saturated: a kick is pending anyway */
	} else if (off >= VPCI_MSIX_TABLE_OFF && off < VPCI_MSIX_TABLE_OFF + 16u * vp->nvec) {
		msix_table_write(vp, (uint32_t)(off - VPCI_MSIX_TABLE_OFF), data, len);
	} else {
		vp->ignored_writes++; /* ISR, PBA and gaps are read-only */
	}
	pthread_mutex_unlock(&vd->lock);
}

static const struct io_dev_ops bar_ops = { bar_read, bar_write };

/* ---- PCI hooks (bus lock held) ---- */

static void cfg_written(struct pci_dev *dev, uint32_t off, uint32_t len)
{
	struct virtio_pci *vp = dev->opaque;
	uint32_t mc = (uint32_t)vp->msix_cap + 2;
	uint32_t data_off = (uint32_t)vp->cfg_cap + 16;

	if (off < mc + 2 && off + len > mc) {
		uint16_t ctrl = pci_get16(&dev->cfg[mc]);

		pthread_mutex_lock(&vp->vd->lock);
		vp->msix_enabled = ctrl & MSIX_CTRL_ENABLE;
		vp->msix_fmask = ctrl & MSIX_CTRL_FMASK;
		msix_changed(vp);
		pthread_mutex_unlock(&vp->vd->lock);
	}
	if (off >= data_off && off < data_off + 4) {
		/* PCI_CFG window: forward the data write to BAR0. */
		uint8_t bar = dev->cfg[vp->cfg_cap + 4];
		uint32_t boff = pci_get32(&dev->cfg[vp->cfg_cap + 8]);
		uint32_t blen = pci_get32(&dev->cfg[vp->cfg_cap + 12]);

		if (bar == 0 && (blen == 1 || blen == 2 || blen == 4) && boff % blen == 0 &&
		    boff < VPCI_BAR_SIZE && blen <= VPCI_BAR_SIZE - boff)
			bar_write(vp, boff, &dev->cfg[data_off], blen);
	}
}

static bool cfg_read(struct pci_dev *dev, uint32_t off, uint32_t len, uint32_t *val)
{
	struct virtio_pci *vp = dev->opaque;
	uint32_t data_off = (uint32_t)vp->cfg_cap + 16;
	uint8_t bar = dev->cfg[vp->cfg_cap + 4];
	uint32_t boff = pci_get32(&dev->cfg[vp->cfg_cap + 8]);
	uint32_t blen = pci_get32(&dev->cfg[vp->cfg_cap + 12]);
	uint32_t v = 0;

	if (off != data_off || len != 4)
		return false;
	if (bar == 0 && (blen == 1 || blen == 2 || blen == 4) && boff % blen == 0 &&
	    boff < VPCI_BAR_SIZE && blen <= VPCI_BAR_SIZE - boff)
		bar_read(vp, boff, &v, blen);
	*val = v;
	return true;
}

/* (Re)register the queues' notify addresses as ioeventfds. */
static void bar_mapped(struct pci_dev *dev, unsigned bar, uint64_t addr, bool enabled)
{
	struct virtio_pci *vp = dev->opaque;
	uint64_t base = addr + VPCI_NOTIFY_OFF;

	if (bar != 0 || vp->env.vm_fd < 0)
		return;
	if (!enabled && vp->ioeventfd_base != base)
		return;
	for (unsigned q = 0; q < vp->vd->nqueues; q++) {
		struct kvm_ioeventfd io = {
			.addr = base + (uint64_t)q * VPCI_NOTIFY_MULT,
			.len = 2,
			.fd = vp->notify[q].efd,
			.flags = enabled ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN,
		};

		if (ioctl(vp->env.vm_fd, KVM_IOEVENTFD, &io) < 0)
			bh_warn("%s: KVM_IOEVENTFD %s queue %u: %s (kicks take the slow path)",
				vp->vd->name, enabled ? "assign" : "deassign", q, strerror(errno));
	}
	vp->ioeventfd_base = enabled ? base : 0;
}

static const struct pci_dev_ops vpci_pci_ops = { cfg_written, cfg_read, bar_mapped };

/* ---- event thread ---- */

static void notify_event(void *opaque, uint32_t events)
{
	struct vpci_notify *n = opaque;
	uint64_t cnt;

	(void)events;
	if (read(n->efd, &cnt, sizeof(cnt)) != (ssize_t)sizeof(cnt))
		return; /* spurious */
	pthread_mutex_lock(&n->vp->vd->lock);
	notify_queue(n->vp, n->q);
	pthread_mutex_unlock(&n->vp->vd->lock);
}

/* ---- setup ---- */

static int add_vendor_cap(struct virtio_pci *vp, uint8_t type, uint32_t off, uint32_t len,
			  uint32_t extra, bool has_extra, const uint8_t *wmask)
{
	uint8_t body[18] = { 0 };
	uint32_t caplen = has_extra ? 20 : 16;

	body[0] = (uint8_t)caplen; /* cap_len */
	body[1] = type;            /* cfg_type */
	body[2] = 0;               /* bar */
	body[3] = 0;               /* id */
	pci_put32(&body[6], off);
	pci_put32(&body[10], len);
	if (has_extra)
		pci_put32(&body[14], extra);
	return pci_dev_add_cap(&vp->pci, PCI_CAP_ID_VNDR, body, caplen, wmask);
}

int virtio_pci_create(struct virtio_pci *vp, struct virtio_dev *vd, const struct vpci_env *env)
{
	static const uint8_t cfg_wmask[20] = {
		[4] = 0xff,                                    /* bar */
		[8] = 0xff, [9] = 0xff, [10] = 0xff, [11] = 0xff,  /* offset */
		[12] = 0xff, [13] = 0xff, [14] = 0xff, [15] = 0xff, /* length */
		[16] = 0xff, [17] = 0xff, [18] = 0xff, [19] = 0xff, /* data */
	};
	uint8_t msix_body[10], msix_wmask[12] = { [3] = 0xc0 };
	int ret;

	memset(vp, 0, sizeof(*vp));
	vp->vd = vd;
	vp->env = *env;
	for (unsigned i = 0; i < VPCI_MAX_VECTORS; i++)
		vp->vec_efd[i] = -1;
	for (unsigned i = 0; i < VIRTIO_DEV_MAX_QUEUES; i++)
		vp->notify[i].efd = -1;
	if (vd->nqueues == 0 || vd->nqueues > VIRTIO_DEV_MAX_QUEUES || vd->cfg_len > 0x1000)
		return -EINVAL;
	vp->nvec = (uint16_t)(vd->nqueues + 1);
	vp->offered = (vd->ops->features ? vd->ops->features(vd) : 0) |
		      (1ull << VIRTIO_F_VERSION_1);
	vd->tops = &vpci_tops;
	vd->transport = vp;
	pthread_mutex_lock(&vd->lock);
	device_reset(vp);
	pthread_mutex_unlock(&vd->lock);

	pci_dev_init(&vp->pci, vd->name, VIRTIO_PCI_VENDOR,
		     (uint16_t)(VIRTIO_PCI_DEVICE_BASE + vd->device_id), pci_class_for(vd->device_id),
		     1, VIRTIO_PCI_VENDOR, vd->device_id);
	vp->pci.ops = &vpci_pci_ops;
	vp->pci.opaque = vp;
	if ((ret = pci_dev_set_bar(&vp->pci, 0, VPCI_BAR_SIZE, &bar_ops, vp)))
		return ret;
	if ((ret = add_vendor_cap(vp, CAP_COMMON, VPCI_COMMON_OFF, VPCI_COMMON_LEN, 0, false,
				  NULL)) < 0 ||
	    (ret = add_vendor_cap(vp, CAP_NOTIFY, VPCI_NOTIFY_OFF,
				  VPCI_NOTIFY_MULT * vd->nqueues, VPCI_NOTIFY_MULT, true, NULL)) < 0 ||
	    (ret = add_vendor_cap(vp, CAP_ISR, VPCI_ISR_OFF, 1, 0, false, NULL)) < 0 ||
	    (vd->cfg_len && (ret = add_vendor_cap(vp, CAP_DEVICE, VPCI_DEVCFG_OFF, vd->cfg_len, 0,
						  false, NULL)) < 0))
		return ret;
	if ((ret = add_vendor_cap(vp, CAP_PCI_CFG, 0, 0, 0, true, cfg_wmask)) < 0)
		return ret;
	vp->cfg_cap = ret;
	pci_put16(&msix_body[0], (uint16_t)(vp->nvec - 1));
	pci_put32(&msix_body[2], VPCI_MSIX_TABLE_OFF); /* BIR 0 */
	pci_put32(&msix_body[6], VPCI_MSIX_PBA_OFF);
	if ((ret = pci_dev_add_cap(&vp->pci, PCI_CAP_ID_MSIX, msix_body, 12, msix_wmask)) < 0)
		return ret;
	vp->msix_cap = ret;

	for (unsigned v = 0; v < vp->nvec; v++) {
		vp->msix[v].w[MSIX_W_CTRL] = MSIX_ENTRY_MASKED;
		vp->vec_efd[v] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vp->vec_efd[v] < 0)
			return -errno;
		if ((ret = irq_router_add_msi(env->router, vp->vec_efd[v], &vp->vec_gsi[v])))
			return ret;
	}
	for (unsigned q = 0; q < vd->nqueues; q++) {
		vp->notify[q] = (struct vpci_notify){ vp, q, eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) };
		if (vp->notify[q].efd < 0)
			return -errno;
		if (env->el && (ret = event_loop_add(env->el, vp->notify[q].efd, EPOLLIN,
						     notify_event, &vp->notify[q], vd->name)))
			return ret;
	}
	return pci_bus_add(env->bus, &vp->pci); /* maps BAR0: ioeventfds registered */
}

void virtio_pci_destroy(struct virtio_pci *vp)
{
	for (unsigned q = 0; q < VIRTIO_DEV_MAX_QUEUES; q++) {
		if (vp->notify[q].efd < 0)
			continue;
		if (vp->env.el)
			event_loop_del(vp->env.el, vp->notify[q].efd);
		close(vp->notify[q].efd);
		vp->notify[q].efd = -1;
	}
	/* irqfds are unbound by irq_router_destroy(); the eventfds are ours. */
	for (unsigned v = 0; v < VPCI_MAX_VECTORS; v++) {
		if (vp->vec_efd[v] >= 0)
			close(vp->vec_efd[v]);
		vp->vec_efd[v] = -1;
	}
}
