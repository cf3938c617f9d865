/* dev_balloon.c — the virtio-balloon row of the device table: created from
 * vm_config.balloon; the control verbs reach it through vm_balloon_*(). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "virtio/balloon.h"
#include "vmm/devices_priv.h"

static int balloon_attach(struct vm *vm, struct vm_device *d)
{
	struct virtio_balloon *b;
	int ret;

	ret = virtio_balloon_create(&b, &vm->mem, &vm->el, &vm->cfg.balloon);
	if (ret == -ERANGE) {
		/* config/ validated it; a configuration built some other way
		 * still gets the operator's error. */
		vm->err_is_config = true;
		snprintf(vm->err, sizeof(vm->err),
			 "balloon.target: %llu bytes is above the VM's memory (%llu bytes)",
			 (unsigned long long)vm->cfg.balloon.target_bytes,
			 (unsigned long long)vm->mem.size);
	}
	if (ret)
		return ret;
	devs(vm)->balloon = b;
	d->obj = virtio_balloon_dev(b);
	return 0;
}

const struct vm_device_ops vm_virtio_balloon_ops = { .attach = balloon_attach, VIRTIO_ROW_OPS };

struct virtio_balloon *vm_balloon(struct vm *vm)
{
	return vm->dev ? devs(vm)->balloon : NULL;
}

void vm_balloon_report(struct vm *vm)
{
	struct virtio_balloon *b = vm_balloon(vm);
	struct virtio_balloon_info i;

	if (!b)
		return;
	virtio_balloon_info(b, &i);
	/* One line the tests match (tests/guest/cases.txt): what the guest
	 * gave back and what was refused. */
	bh_info("virtio-balloon: held %llu pages, inflated %llu, deflated %llu, released %llu "
		"bytes; reported %llu bytes, released %llu, unreleasable %llu; refused: %llu "
		"outside RAM, %llu excess, %llu duplicate, %llu malformed stats; %llu stats "
		"updates",
		(unsigned long long)i.held_pages, (unsigned long long)i.inflated_pages,
		(unsigned long long)i.deflated_pages, (unsigned long long)i.released_bytes,
		(unsigned long long)i.reported_bytes, (unsigned long long)i.report_released_bytes,
		(unsigned long long)i.unreleasable_bytes, (unsigned long long)i.refused_outside,
		(unsigned long long)i.refused_excess, (unsigned long long)i.refused_duplicate,
		(unsigned long long)i.refused_stats, (unsigned long long)i.stats_updates);
}
