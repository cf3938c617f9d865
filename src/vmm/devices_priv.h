/* devices_priv.h — what the rows of the device table share (vmm/ only).
 *
 * devices.c holds THE table and the legacy/PCI rows; each virtio row's attach
 * lives in its own file (devices_virtio.c for blk/console/rng; a new device
 * adds dev_<name>.c) and exports its ops here. Virtio rows share plug,
 * quiesce, resume and destroy (VIRTIO_ROW_OPS); only attach is theirs.
 * Same threading rules as devices.h. */
#ifndef BH_VMM_DEVICES_PRIV_H
#define BH_VMM_DEVICES_PRIV_H

#include <stdbool.h>

#include "core/irq.h"
#include "virtio/pci_transport.h"
#include "vmm/devices.h"
#include "vmm/vm.h"

/* At most: the legacy rows, the PCI bus, 8 disks, console, rng, balloon, 4
 * NICs — with room. */
#define VM_MAX_DEVICES 32

struct uart;
struct i8042;
struct test_dev;
struct virtio_console;
struct virtio_balloon;
struct pci_bus;
struct acpi_pm;

struct vm_devices {
	struct vm_device dev[VM_MAX_DEVICES];
	unsigned ndev;
	/* Roles some rows play for the VM (set by their attach). */
	struct uart *com1;            /* console input when no virtio-console */
	struct i8042 *kbd;            /* Ctrl-Alt-Del */
	struct test_dev *test;        /* end-of-run report */
	struct virtio_console *vcon;  /* console input with --console virtio */
	struct pci_bus *pci;          /* virtio rows plug into it */
	struct acpi_pm *pm;           /* GPEs and the SCI (the VM generation ID's) */
	struct virtio_balloon *balloon; /* --balloon: the control verbs' target */
	int rx_room_fd;               /* eventfd: the console device can take input */
	bool quiesced;
	struct irq_line com1_irq, kbd_irq, aux_irq, intx, sci;
};

static inline struct vm_devices *devs(struct vm *vm)
{
	return vm->dev;
}

/* Fill vm->err with "cannot WHAT NAME: strerror" and return ret. */
int vm_dev_fail(struct vm *vm, const struct vm_device *d, int ret, const char *what);

/* Console input: the device can take more (an eventfd write; any thread). */
void vm_console_rx_room(void *opaque);

/* The virtio rows' shared life (devices_virtio.c): plug onto the PCI bus as
 * a virtio-pci function; quiesce/resume the device's data paths; destroy the
 * transport and the device. */
int vm_virtio_plug(struct vm *vm, struct vm_device *d) BH_WUR;
void vm_virtio_quiesce(struct vm *vm, struct vm_device *d);
void vm_virtio_resume(struct vm *vm, struct vm_device *d);
void vm_virtio_destroy(struct vm *vm, struct vm_device *d);
/* Save/load the transport, its queues and the device model's own state
 * (virtio_pci_save()/virtio_pci_load()). A device whose virtio_dev_ops has
 * no state_version cannot be saved yet: vm_devices_save() refuses, naming it. */
void vm_virtio_save(struct vm *vm, struct vm_device *d, struct sbuf *out);
int vm_virtio_load(struct vm *vm, struct vm_device *d, struct sreader *in, uint32_t version,
		   char *err, size_t errlen) BH_WUR;

#define VIRTIO_ROW_OPS                                                                      \
	.plug = vm_virtio_plug, .quiesce = vm_virtio_quiesce, .resume = vm_virtio_resume,     \
	.state_version = VIRTIO_PCI_STATE_VERSION, .save = vm_virtio_save,                    \
	.load = vm_virtio_load, .destroy = vm_virtio_destroy

/* Virtio rows' ops, one per device (the table in devices.c names them). */
extern const struct vm_device_ops vm_virtio_blk_ops;
extern const struct vm_device_ops vm_virtio_console_ops;
extern const struct vm_device_ops vm_virtio_rng_ops;
extern const struct vm_device_ops vm_virtio_balloon_ops; /* dev_balloon.c */
extern const struct vm_device_ops vm_virtio_net_ops;   /* dev_net.c */
extern const struct vm_device_ops vm_virtio_vsock_ops; /* dev_vsock.c */
/* End-of-run line of the balloon's figures (none without one). */
void vm_balloon_report(struct vm *vm);

#endif
