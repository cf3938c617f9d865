/* vm_snapshot.c — see vm_snapshot.h. */
#include "vmm/vm_snapshot.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config_json.h"
#include "vmm/devices.h"
#include "vmm/vm.h"
#include "vmm/vm_state.h"

#define PAGE 4096u
#define DEVICES_VERSION 1

static int failf(char *err, size_t errlen, int ret, const char *fmt, ...) BH_PRINTF(4, 5);
static int failf(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return ret;
}

static int pwrite_all(int fd, const void *p, size_t n, uint64_t off)
{
	const uint8_t *b = p;

	while (n) {
		ssize_t w = pwrite(fd, b, n, (off_t)off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		b += w;
		n -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

/* One section (header + blob) at *off. */
static int put_section(int fd, uint64_t *off, uint32_t type, uint32_t id, uint32_t version,
		       const struct sbuf *b)
{
	uint8_t h[SNAP_SECTION_HDR];
	int ret;

	if (b->err)
		return b->err;
	snap_section_encode(h, type, id, version, b->len);
	if ((ret = pwrite_all(fd, h, sizeof(h), *off)))
		return ret;
	*off += sizeof(h);
	if (b->len && (ret = pwrite_all(fd, b->data, b->len, *off)))
		return ret;
	*off += b->len;
	return 0;
}

static bool page_zero(const uint8_t *p)
{
	const uint64_t *w = (const void *)p;

	for (unsigned i = 0; i < PAGE / 8; i++)
		if (w[i])
			return false;
	return true;
}

/* Guest RAM into mem_fd at the same offsets as the VMM's RAM file. */
static int save_memory(struct vm *vm, int fd, uint64_t *data_bytes, char *err, size_t errlen)
{
	uint64_t file_off = 0;

	*data_bytes = 0;
	for (unsigned r = 0; r < vm->mem.nregions; r++) {
		const struct gmem_region *g = &vm->mem.regions[r];
		const uint8_t *base = gmem_ptr(&vm->mem, g->gpa, g->size);

		if (!base)
			return failf(err, errlen, -EFAULT, "guest RAM region %u unmapped", r);
		file_off = r == 0 ? 0 : SNAP_HOLE_START;
		for (uint64_t o = 0; o < g->size;) {
			uint64_t run = 0;
			int ret;

			while (o < g->size && page_zero(base + o) &&
			       !(r + 1 == vm->mem.nregions && o + PAGE == g->size))
				o += PAGE;
			while (o + run < g->size && (!page_zero(base + o + run) ||
						     (r + 1 == vm->mem.nregions &&
						      o + run + PAGE == g->size)) &&
			       run < (64u << 20))
				run += PAGE;
			if (!run)
				continue;
			if ((ret = pwrite_all(fd, base + o, (size_t)run, file_off + o)))
				return failf(err, errlen, ret, "writing guest memory: %s",
					     strerror(-ret));
			*data_bytes += run;
			o += run;
		}
	}
	return 0;
}

int vm_snapshot_save_stats(struct vm *vm, int state_fd, int mem_fd,
			   struct vm_snapshot_stats *st, char *err, size_t errlen)
{
	uint8_t hdr[SNAP_HEADER_LEN];
	uint64_t off = SNAP_HEADER_LEN;
	struct sbuf b;
	char *json;
	int ret;

	memset(st, 0, sizeof(*st));
	if (!vm_devices_quiesced(vm))
		return failf(err, errlen, -EBUSY, "the VM is not paused");
	json = malloc(SNAP_CONFIG_MAX);
	if (!json)
		return failf(err, errlen, -ENOMEM, "out of memory");
	if ((ret = config_json_write(&vm->cfg, json, SNAP_CONFIG_MAX, err, errlen))) {
		free(json);
		return ret;
	}
	sbuf_init(&b);
	sbuf_put(&b, json, strlen(json));
	free(json);
	ret = put_section(state_fd, &off, SNAP_SEC_CONFIG, 0, 1, &b);
	sbuf_free(&b);
	if (ret)
		goto io;
	sbuf_init(&b);
	vm_state_save_cpuid(vm, &b);
	ret = put_section(state_fd, &off, SNAP_SEC_CPUID, 0, VM_STATE_CPUID_VERSION, &b);
	sbuf_free(&b);
	if (ret)
		goto io;
	for (unsigned i = 0; i < vm->ncpus; i++) {
		sbuf_init(&b);
		if ((ret = vm_state_save_vcpu(vm, i, &b, err, errlen))) {
			sbuf_free(&b);
			return ret;
		}
		ret = put_section(state_fd, &off, SNAP_SEC_VCPU, i, VM_STATE_VCPU_VERSION, &b);
		sbuf_free(&b);
		if (ret)
			goto io;
	}
	sbuf_init(&b);
	if ((ret = vm_state_save_vm(vm, &b, err, errlen))) {
		sbuf_free(&b);
		return ret;
	}
	ret = put_section(state_fd, &off, SNAP_SEC_VM, 0, VM_STATE_VM_VERSION, &b);
	sbuf_free(&b);
	if (ret)
		goto io;
	sbuf_init(&b);
	vm->err[0] = '\0';
	if ((ret = vm_devices_save(vm, &b))) {
		sbuf_free(&b);
		return failf(err, errlen, ret, "device state: %s",
			     vm->err[0] ? vm->err : strerror(-ret));
	}
	ret = put_section(state_fd, &off, SNAP_SEC_DEVICES, 0, DEVICES_VERSION, &b);
	sbuf_free(&b);
	if (ret)
		goto io;
	snap_header_encode(hdr, vm->ncpus, (uint32_t)vm->cfg.cpu_template, vm->cfg.mem_bytes,
			   4 + vm->ncpus);
	if ((ret = pwrite_all(state_fd, hdr, sizeof(hdr), 0)))
		goto io;
	st->state_bytes = off;
	return save_memory(vm, mem_fd, &st->mem_data_bytes, err, errlen);
io:
	return failf(err, errlen, ret, "writing the state file: %s", strerror(-ret));
}

int vm_snapshot_save(struct vm *vm, int state_fd, int mem_fd, char *err, size_t errlen)
{
	struct vm_snapshot_stats st;

	return vm_snapshot_save_stats(vm, state_fd, mem_fd, &st, err, errlen);
}

int vm_snapshot_restore(struct vm *vm, const struct snap_state *s, char *err, size_t errlen)
{
	int ret;

	if (s->h.ncpus != vm->ncpus)
		return failf(err, errlen, -EINVAL, "the snapshot has %u vCPUs, the VM %u",
			     s->h.ncpus, vm->ncpus);
	if (s->h.mem_bytes != vm->mem.size || s->h.nregions != vm->mem.nregions)
		return failf(err, errlen, -EINVAL, "the snapshot's memory layout (%llu MiB) is not "
			     "the VM's (%llu MiB)", (unsigned long long)(s->h.mem_bytes >> 20),
			     (unsigned long long)(vm->mem.size >> 20));
	for (unsigned i = 0; i < s->h.nregions; i++)
		if (s->h.regions[i].gpa != vm->mem.regions[i].gpa ||
		    s->h.regions[i].size != vm->mem.regions[i].size)
			return failf(err, errlen, -EINVAL, "memory region %u differs", i);
	if (s->h.cpu_template != (uint32_t)vm->cfg.cpu_template)
		return failf(err, errlen, -EINVAL, "the snapshot's CPU template is not the VM's");
	if ((ret = vm_state_load_cpuid(vm, s->cpuid.p, s->cpuid.len, s->cpuid.version, err,
				       errlen)))
		return ret;
	for (unsigned i = 0; i < vm->ncpus; i++)
		if ((ret = vm_state_load_vcpu(vm, i, s->vcpu[i].p, s->vcpu[i].len,
					      s->vcpu[i].version, err, errlen)))
			return ret;
	if (s->devices.version != DEVICES_VERSION)
		return failf(err, errlen, -EINVAL, "devices: section version %u unknown",
			     s->devices.version);
	vm_devices_quiesce(vm);
	if ((ret = vm_devices_load(vm, s->devices.p, s->devices.len, err, errlen)) ||
	    (ret = vm_state_load_vm(vm, s->vm.p, s->vm.len, s->vm.version, err, errlen)))
		return ret;
	/* Devices resume once the irqchip holds the saved state: what they
	 * raise now (held queue kicks, the new VM generation ID's GPE) lands on
	 * top of it instead of being overwritten by it. */
	vm_devices_resume(vm);
	return 0;
}
