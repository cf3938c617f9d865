/* devices_virtio.c — the virtio rows of the device table: their shared plug
 * (a virtio-pci function on the PCI bus), quiesce/resume/destroy, and the
 * attach of virtio-blk, virtio-console and virtio-rng. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "virtio/balloon.h"
#include "virtio/blk.h"
#include "virtio/console.h"
#include "virtio/pci_transport.h"
#include "virtio/rng.h"
#include "vmm/devices_priv.h"

/* ---- virtio devices: obj is the struct virtio_dev; shared plug and life ---- */

int vm_virtio_plug(struct vm *vm, struct vm_device *d)
{
	struct vm_devices *ds = devs(vm);
	struct vpci_env env = { vm->vm_fd, ds->pci, &vm->router, &vm->el };
	struct virtio_pci *vp;
	int ret;

	if (!ds->pci)
		return -ENODEV; /* the table puts the PCI bus first */
	vp = calloc(1, sizeof(*vp));
	if (!vp)
		return -ENOMEM;
	d->transport = vp;
	if ((ret = virtio_pci_create(vp, d->obj, &env)))
		return ret;
	bh_dbg("%s on PCI 00:%02x.0, BAR0 0x%llx", d->name, vp->pci.slot,
	       (unsigned long long)vp->pci.bar_decoded[0]);
	return 0;
}

void vm_virtio_quiesce(struct vm *vm, struct vm_device *d)
{
	(void)vm;
	virtio_dev_quiesce(d->obj);
}

void vm_virtio_resume(struct vm *vm, struct vm_device *d)
{
	(void)vm;
	virtio_dev_resume(d->obj);
}

void vm_virtio_destroy(struct vm *vm, struct vm_device *d)
{
	struct virtio_dev *vd = d->obj;

	if (d->transport) {
		virtio_pci_destroy(d->transport);
		free(d->transport);
		d->transport = NULL;
	}
	if (!vd)
		return;
	if (devs(vm)->vcon && vd == virtio_console_dev(devs(vm)->vcon))
		devs(vm)->vcon = NULL;
	if (devs(vm)->balloon && vd == virtio_balloon_dev(devs(vm)->balloon))
		devs(vm)->balloon = NULL;
	vd->ops->destroy(vd);
}

void vm_virtio_save(struct vm *vm, struct vm_device *d, struct sbuf *out)
{
	int ret = virtio_pci_save(d->transport, out, vm->err, sizeof(vm->err));

	if (ret && !out->err)
		out->err = ret;
}

int vm_virtio_load(struct vm *vm, struct vm_device *d, struct sreader *in, uint32_t version,
		   char *err, size_t errlen)
{
	(void)vm;
	return virtio_pci_load(d->transport, in, version, err, errlen);
}

static int blk_attach(struct vm *vm, struct vm_device *d)
{
	const struct virtio_blk_disk *disk = &vm->cfg.disks[d->index];
	char err[sizeof(vm->err) / 2];
	struct virtio_blk *b;
	int ret;

	err[0] = '\0';
	ret = virtio_blk_create(&b, disk, d->index, &vm->mem, &vm->el, BLOCK_MODE_AUTO, err,
				sizeof(err));
	if (ret) {
		/* A disk that cannot be used is the operator's input. */
		vm->err_is_config = ret != -ENOMEM;
		snprintf(vm->err, sizeof(vm->err), "--disk %.200s: %s", disk->path,
			 err[0] ? err : strerror(-ret));
		return ret;
	}
	d->obj = virtio_blk_dev(b);
	return 0;
}

static int vcon_attach(struct vm *vm, struct vm_device *d)
{
	struct virtio_console *vc;
	int ret;

	if ((ret = virtio_console_create(&vc, &vm->mem, console_sink(&vm->console), &vm->el)))
		return ret;
	virtio_console_set_rx_notify(vc, vm_console_rx_room, devs(vm));
	devs(vm)->vcon = vc;
	d->obj = virtio_console_dev(vc);
	return 0;
}

static int rng_attach(struct vm *vm, struct vm_device *d)
{
	struct virtio_rng *r;
	int ret;

	if ((ret = virtio_rng_create(&r, &vm->mem, &vm->el)))
		return ret;
	d->obj = virtio_rng_dev(r);
	return 0;
}

const struct vm_device_ops vm_virtio_blk_ops = { .attach = blk_attach, VIRTIO_ROW_OPS };
const struct vm_device_ops vm_virtio_console_ops = { .attach = vcon_attach, VIRTIO_ROW_OPS };
const struct vm_device_ops vm_virtio_rng_ops = { .attach = rng_attach, VIRTIO_ROW_OPS };
