/* virtio.c — the test guests' virtio-pci modern driver (virtio.h). */
#include "virtio.h"

#include "pci.h"
#include "rt.h"

static inline void barrier(void) { __asm__ volatile("" ::: "memory"); }
static inline void mfence(void) { __asm__ volatile("mfence" ::: "memory"); }

uint8_t vt_c8(const struct vt_dev *d, unsigned off) { return mmio_read8(d->common + off); }
uint16_t vt_c16(const struct vt_dev *d, unsigned off) { return mmio_read16(d->common + off); }
uint32_t vt_c32(const struct vt_dev *d, unsigned off) { return mmio_read32(d->common + off); }
void vt_w8(const struct vt_dev *d, unsigned off, uint8_t v) { mmio_write8(d->common + off, v); }
void vt_w16(const struct vt_dev *d, unsigned off, uint16_t v) { mmio_write16(d->common + off, v); }
void vt_w32(const struct vt_dev *d, unsigned off, uint32_t v) { mmio_write32(d->common + off, v); }

void vt_w64(const struct vt_dev *d, unsigned off, uint64_t v)
{
	vt_w32(d, off, (uint32_t)v);
	vt_w32(d, off + 4, (uint32_t)(v >> 32));
}

uint64_t vt_r64(const struct vt_dev *d, unsigned off)
{
	return vt_c32(d, off) | (uint64_t)vt_c32(d, off + 4) << 32;
}

uint8_t vt_cfg8(const struct vt_dev *d, unsigned off) { return mmio_read8(d->device + off); }
uint16_t vt_cfg16(const struct vt_dev *d, unsigned off) { return mmio_read16(d->device + off); }
uint32_t vt_cfg32(const struct vt_dev *d, unsigned off) { return mmio_read32(d->device + off); }

uint64_t vt_cfg64(const struct vt_dev *d, unsigned off)
{
	uint8_t gen;
	uint64_t v;
	int tries = 0;
	do { /* §4.1.4.3.1: retry while the generation changes (bounded) */
		gen = vt_c8(d, VT_CFG_GENERATION);
		v = vt_cfg32(d, off) | (uint64_t)vt_cfg32(d, off + 4) << 32;
	} while (gen != vt_c8(d, VT_CFG_GENERATION) && ++tries < 8);
	return v;
}

int vt_open(struct vt_dev *d, unsigned id, unsigned index)
{
	memset(d, 0, sizeof(*d));
	d->devfn = pci_find(VT_VENDOR, (uint16_t)(VT_DEVICE_BASE + id), index);
	if (d->devfn < 0) {
		rt_printf("virtio: no device 1af4:%x #%u on bus 0\n", VT_DEVICE_BASE + id, index);
		return -1;
	}
	unsigned fn = (unsigned)d->devfn, found = 0;
	uint64_t bar_addr[6] = { 0 };
	for (unsigned pos = pci_find_cap(fn, PCI_CAP_ID_VNDR, 0); pos;
	     pos = pci_find_cap(fn, PCI_CAP_ID_VNDR, pos)) {
		uint8_t type = pci_read8(fn, pos + 3), bar = pci_read8(fn, pos + 4);
		uint32_t off = pci_read32(fn, pos + 8), len = pci_read32(fn, pos + 12);
		if (type < VT_CAP_COMMON || type > VT_CAP_DEVICE || (found & (1u << type)) || bar > 5)
			continue; /* first of each kind wins (§4.1.4) */
		if (!bar_addr[bar]) {
			uint64_t sz;
			bar_addr[bar] = pci_bar_mem(fn, bar, &sz);
			if (!bar_addr[bar]) {
				rt_printf("virtio: %02x.%x: BAR%u unusable\n", fn >> 3, fn & 7, bar);
				return -1;
			}
			if (bar_addr[bar] + sz > (1ull << 32) || (uint64_t)off + len > sz) {
				rt_printf("virtio: cap %u outside BAR%u\n", type, bar);
				return -1;
			}
			d->bar_size = sz;
		}
		uint64_t a = bar_addr[bar] + off;
		found |= 1u << type;
		switch (type) {
		case VT_CAP_COMMON: d->common = a; d->common_len = len; break;
		case VT_CAP_NOTIFY:
			d->notify = a;
			d->notify_len = len;
			d->notify_mul = pci_read32(fn, pos + 16);
			break;
		case VT_CAP_ISR: d->isr = a; d->isr_len = len; break;
		case VT_CAP_DEVICE: d->device = a; d->device_len = len; break;
		}
	}
	if ((found & 0x1e) != 0x1e) {
		rt_printf("virtio: %02x.%x: capabilities missing (have mask %x)\n", fn >> 3, fn & 7, found);
		return -1;
	}
	d->msix_cap = pci_find_cap(fn, PCI_CAP_ID_MSIX, 0);
	d->num_queues = vt_c16(d, VT_NUM_QUEUES);
	return 0;
}

int vt_reset(struct vt_dev *d)
{
	vt_w8(d, VT_STATUS, 0);
	for (int i = 0; i < 1000000; i++) {
		if (vt_status(d) == 0)
			return 0;
		cpu_relax();
	}
	rt_printf("virtio: reset did not complete (status %x)\n", vt_status(d));
	return -1;
}

void vt_write_features(struct vt_dev *d, uint64_t f)
{
	vt_w32(d, VT_GFSELECT, 0);
	vt_w32(d, VT_GF, (uint32_t)f);
	vt_w32(d, VT_GFSELECT, 1);
	vt_w32(d, VT_GF, (uint32_t)(f >> 32));
}

int vt_init(struct vt_dev *d, uint64_t want)
{
	if (vt_reset(d))
		return -1;
	vt_w8(d, VT_STATUS, VT_S_ACKNOWLEDGE);
	vt_w8(d, VT_STATUS, VT_S_ACKNOWLEDGE | VT_S_DRIVER);
	vt_w32(d, VT_DFSELECT, 0);
	d->offered = vt_c32(d, VT_DF);
	vt_w32(d, VT_DFSELECT, 1);
	d->offered |= (uint64_t)vt_c32(d, VT_DF) << 32;
	if (!(d->offered & VT_F_VERSION_1)) {
		rt_printf("virtio: device does not offer VERSION_1 (features %lx)\n", d->offered);
		return -1;
	}
	d->features = (d->offered & want) | VT_F_VERSION_1;
	vt_write_features(d, d->features);
	vt_w8(d, VT_STATUS, VT_S_ACKNOWLEDGE | VT_S_DRIVER | VT_S_FEATURES_OK);
	if (!(vt_status(d) & VT_S_FEATURES_OK)) {
		rt_printf("virtio: FEATURES_OK did not stick (features %lx)\n", d->features);
		return -1;
	}
	return 0;
}

int vt_queue_init(struct vt_queue *q, struct vt_dev *d, unsigned idx, unsigned size, void *mem)
{
	vt_w16(d, VT_Q_SELECT, (uint16_t)idx);
	unsigned max = vt_c16(d, VT_Q_SIZE);
	if (!max) {
		rt_printf("virtio: queue %u does not exist\n", idx);
		return -1;
	}
	if (!size)
		size = max < VT_QMAX ? max : VT_QMAX;
	if (size > max || size > VT_QMAX || (size & (size - 1))) {
		rt_printf("virtio: queue %u: size %u not usable (max %u)\n", idx, size, max);
		return -1;
	}
	memset(mem, 0, vt_queue_mem_size(size));
	memset(q, 0, sizeof(*q));
	q->dev = d;
	q->idx = (uint16_t)idx;
	q->size = (uint16_t)size;
	q->desc = mem;
	q->avail = (volatile uint16_t *)((uint8_t *)mem + 16ull * size);
	q->used = (volatile uint16_t *)((uint8_t *)mem + ((16ull * size + 6 + 2ull * size + 4095) & ~4095ull));
	q->num_free = q->size;
	for (unsigned i = 0; i < size; i++)
		q->free_stack[i] = (uint16_t)(size - 1 - i);
	q->free_top = q->size;
	vt_w16(d, VT_Q_SIZE, (uint16_t)size);
	vt_w64(d, VT_Q_DESC, (uint64_t)(uintptr_t)q->desc);
	vt_w64(d, VT_Q_DRIVER, (uint64_t)(uintptr_t)q->avail);
	vt_w64(d, VT_Q_DEVICE, (uint64_t)(uintptr_t)q->used);
	vt_w16(d, VT_Q_MSIX, VT_NO_VECTOR);
	q->notify_addr = d->notify + (uint64_t)vt_c16(d, VT_Q_NOTIFY_OFF) * d->notify_mul;
	vt_w16(d, VT_Q_ENABLE, 1);
	if (vt_c16(d, VT_Q_ENABLE) != 1) {
		rt_printf("virtio: queue %u did not enable\n", idx);
		return -1;
	}
	return 0;
}

void vt_driver_ok(struct vt_dev *d)
{
	vt_w8(d, VT_STATUS, (uint8_t)(vt_status(d) | VT_S_DRIVER_OK));
}

int vt_add(struct vt_queue *q, const struct vt_seg *segs, unsigned n_out, unsigned n_in)
{
	unsigned n = n_out + n_in;
	if (n == 0 || n > q->num_free)
		return -1;
	uint16_t ids[VT_QMAX];
	for (unsigned i = 0; i < n; i++)
		ids[i] = q->free_stack[--q->free_top];
	q->num_free = (uint16_t)(q->num_free - n);
	for (unsigned i = 0; i < n; i++) {
		volatile struct vt_desc *dd = &q->desc[ids[i]];
		dd->addr = segs[i].addr;
		dd->len = segs[i].len;
		dd->flags = (uint16_t)((i >= n_out ? VT_DESC_F_WRITE : 0) | (i + 1 < n ? VT_DESC_F_NEXT : 0));
		dd->next = i + 1 < n ? ids[i + 1] : 0;
		q->next_shadow[ids[i]] = i + 1 < n ? ids[i + 1] : 0;
	}
	q->chain_len[ids[0]] = (uint16_t)n;
	vt_publish(q, ids[0]);
	return ids[0];
}

void vt_publish(struct vt_queue *q, uint16_t head)
{
	q->avail[2 + (q->avail_idx & (q->size - 1))] = head;
	barrier(); /* the ring entry before the index (x86: stores stay ordered) */
	q->avail_idx++;
	q->avail[1] = q->avail_idx;
}

void vt_kick(struct vt_queue *q)
{
	mfence(); /* avail index visible before the device looks */
	mmio_write16(q->notify_addr, q->idx);
}

int vt_get(struct vt_queue *q, uint32_t *len)
{
	if (q->used[1] == q->last_used)
		return -1;
	barrier(); /* index before element (x86: loads stay ordered) */
	const volatile struct vt_used_elem *e =
		(const volatile struct vt_used_elem *)(q->used + 2) + (q->last_used & (q->size - 1));
	uint32_t id = e->id;
	if (len)
		*len = e->len;
	q->last_used++;
	if (id < q->size && q->chain_len[id]) {
		uint16_t x = (uint16_t)id;
		for (unsigned i = q->chain_len[id]; i; i--) {
			q->free_stack[q->free_top++] = x;
			x = q->next_shadow[x];
		}
		q->num_free = (uint16_t)(q->num_free + q->chain_len[id]);
		q->chain_len[id] = 0;
	}
	return (int)id;
}

int vt_wait(struct vt_queue *q, uint32_t *len, uint64_t tsc_budget)
{
	/* Polls the used ring (guest RAM: no exits). device_status is an MMIO
	 * read, i.e. an exit that also takes the device's lock in the VMM, so it
	 * is read only every ~4M TSC cycles: hammering it would steal the CPU
	 * from the VMM's I/O threads (the nested test host has one vCPU). */
	uint64_t t0 = rdtsc(), last = t0;
	if (!tsc_budget)
		tsc_budget = 20000000000ull;
	for (unsigned spin = 0;; spin++) {
		int id = vt_get(q, len);
		if (id >= 0)
			return id;
		if ((spin & 63) == 63) {
			uint64_t now = rdtsc();
			if (now - last > 4000000) {
				last = now;
				if (vt_status(q->dev) & VT_S_NEEDS_RESET)
					return -2;
			}
			if (now - t0 > tsc_budget)
				return -1;
		}
		cpu_relax();
	}
}

int vt_blk_add(struct vt_queue *q, struct vt_blk_hdr *h, const struct vt_seg *data,
	       unsigned ndata, int data_in, volatile uint8_t *status)
{
	struct vt_seg s[VT_QMAX];
	if (ndata + 2 > VT_QMAX)
		return -1;
	s[0].addr = (uint64_t)(uintptr_t)h;
	s[0].len = sizeof(*h);
	for (unsigned i = 0; i < ndata; i++)
		s[1 + i] = data[i];
	s[1 + ndata].addr = (uint64_t)(uintptr_t)status;
	s[1 + ndata].len = 1;
	return vt_add(q, s, data_in ? 1 : 1 + ndata, data_in ? ndata + 1 : 1);
}

int vt_blk_rw(struct vt_queue *q, uint32_t type, uint64_t sector, const struct vt_seg *data,
	      unsigned ndata, uint32_t *used_len)
{
	static struct {
		struct vt_blk_hdr h;
		volatile uint8_t status;
	} r __attribute__((aligned(64)));
	r.h.type = type;
	r.h.reserved = 0;
	r.h.sector = sector;
	r.status = 0xff;
	int in = type == VT_BLK_T_IN || type == VT_BLK_T_GET_ID;
	int head = vt_blk_add(q, &r.h, data, ndata, in, &r.status);
	if (head < 0)
		return -1;
	vt_kick(q);
	uint32_t len = 0;
	int id = vt_wait(q, &len, 0);
	if (used_len)
		*used_len = len;
	if (id < 0)
		return id;
	if (id != head) {
		rt_printf("virtio-blk: used id %d, expected head %d\n", id, head);
		return -1;
	}
	return r.status;
}
