/* devices.h — the device model: every device of a VM is a row of ONE
 * explicit, ordered table (devices.c), driven by the VM configuration. No
 * constructor magic: the table is the list, in creation order.
 *
 * A row names the device, says how many instances the configuration asks for
 * (0: absent), and gives its ops — each optional where it makes sense:
 *   attach   create the device model and open its host resources (disk
 *            images, eventfds). Runs before KVM is touched and before the
 *            jail closes, so bad operator input is reported on any host and
 *            the jailed process never opens a file;
 *   plug     wire it to the machine: PIO/MMIO ranges, the PCI bus, KVM
 *            (ioeventfds, irqfds). Needs the KVM VM and the interrupt router;
 *   quiesce  stop ALL activity: event-thread data paths (queue
 *            notifications, deferred work) and in-flight backend I/O, which
 *            completes before quiesce returns. Afterwards the device touches
 *            neither guest RAM nor any host file. The vCPUs are parked first
 *            (vm_pause), so register accesses cannot start new work;
 *   resume   undo quiesce; work that arrived meanwhile runs now;
 *   save     append the device's guest-visible state (quiesced) to a blob,
 *            in the row's state_version;
 *   load     validate a saved blob exactly like guest input and apply it
 *            only if all of it is valid (a snapshot is hostile input);
 *   destroy  release everything (after the VM's threads are gone).
 * Pause, quarantine and (later) snapshot are loops over the table.
 *
 * Adding a device = its model in src/devices/ or src/virtio/ (one file), one
 * row here (for a virtio device: an attach that creates it from the
 * configuration; plug/quiesce/resume/destroy are shared), one entry in the
 * configuration schema (src/config/).
 *
 * Threads: attach/plug/destroy on the main thread during build/teardown;
 * quiesce/resume on the controlling thread (the event thread for the control
 * channel) with the vCPUs parked; console input on the event thread. */
#ifndef BH_VMM_DEVICES_H
#define BH_VMM_DEVICES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"

struct vm;
struct vm_device;

struct sbuf;
struct sreader;

struct vm_device_ops {
	int (*attach)(struct vm *vm, struct vm_device *d) BH_WUR;
	int (*plug)(struct vm *vm, struct vm_device *d) BH_WUR;
	void (*quiesce)(struct vm *vm, struct vm_device *d);
	void (*resume)(struct vm *vm, struct vm_device *d);
	uint32_t state_version; /* of what save writes; 0 with no save/load */
	void (*save)(struct vm *vm, struct vm_device *d, struct sbuf *out);
	int (*load)(struct vm *vm, struct vm_device *d, struct sreader *in, uint32_t version,
		    char *err, size_t errlen) BH_WUR;
	void (*destroy)(struct vm *vm, struct vm_device *d);
};

struct vm_config;
struct virtio_net_stats;

struct vm_device_row {
	const char *name;                             /* "com1", "virtio-blk", ... */
	unsigned (*count)(const struct vm_config *cfg); /* instances wanted */
	const struct vm_device_ops *ops;
};

/* One instance of a row. */
struct vm_device {
	const struct vm_device_row *row;
	unsigned index;            /* instance of its row: disk 0, 1, ... */
	char name[32];             /* "virtio-blk1", for errors and logs */
	void *obj;                 /* the device model (attach creates it) */
	void *transport;           /* virtio rows: the PCI transport (plug) */
	bool attached, plugged, quiesced;
};

/* Attach every device the configuration asks for, in table order. Needs
 * vm->cfg, vm->mem, vm->el, vm->exit and vm->console. On failure vm->err
 * names the device and the cause (vm->err_is_config for bad input);
 * vm_devices_destroy() cleans up partial work. */
int vm_devices_attach(struct vm *vm) BH_WUR;

/* Plug every attached device, in table order, then the buses are sealed by
 * the caller. Needs the KVM VM and vm->router. */
int vm_devices_plug(struct vm *vm) BH_WUR;

/* Quiesce every device (reverse table order: virtio before the bus it sits
 * on) / resume them (table order). Idempotent. */
void vm_devices_quiesce(struct vm *vm);
void vm_devices_resume(struct vm *vm);
bool vm_devices_quiesced(const struct vm *vm);

/* Save every device's state into `out` as one section per device, in table
 * order: name (VM_DEVICE_NAME_LEN bytes, NUL-padded), instance (u32),
 * version (u32), length (u32), then the device's blob. The devices must be
 * quiesced (-EBUSY otherwise). -ENOTSUP (vm->err names the device) if a
 * device has no save op yet, or a virtio device's model no state version;
 * -EBUSY if a device still has requests in flight; -ENOMEM/-E2BIG from the
 * buffer. docs/snapshot-state.md describes every device's state. */
#define VM_DEVICE_NAME_LEN 24
int vm_devices_save(struct vm *vm, struct sbuf *out) BH_WUR;

/* Load what vm_devices_save() wrote into a VM built from the same
 * configuration (quiesced, not yet running guest code): every section must
 * match the table's next device by name and instance, with a version that
 * device knows and a bounded length, and nothing may follow the last one.
 * A device applies its section only if all of it is valid; on failure the
 * error names the device and the reason (err), and the VM must not run.
 * Guest RAM must already hold the snapshot's memory: the virtqueues' state
 * is checked against their rings. After it, the KVM wiring the state implies
 * (BAR ioeventfds, MSI routes, INTx levels) is live again; notifications
 * held at save time run on vm_devices_resume(). */
int vm_devices_load(struct vm *vm, const void *buf, size_t len, char *err,
		    size_t errlen) BH_WUR;

/* Release every device (reverse order). Safe after a partial attach/plug. */
void vm_devices_destroy(struct vm *vm);

/* The table, for tests and docs: rows in creation order. */
const struct vm_device_row *vm_device_table(size_t *nrows);

/* Feed console input to the guest's console device. Returns bytes accepted
 * (0 when its FIFO is full or the devices are quiesced: retry later; all of
 * it when the VM is quarantined: input is then discarded). Event thread. */
size_t vm_devices_console_input(struct vm *vm, const uint8_t *buf, size_t len);

/* An eventfd that becomes readable when the console device can take input
 * again after vm_devices_console_input() returned short (and on resume), or
 * -1. */
int vm_devices_console_room_fd(struct vm *vm);

/* Press and release Ctrl-Alt-Del on the i8042 keyboard (the graceful stop
 * request; Linux reboots). 0 or -errno. Any thread. */
int vm_devices_ctrl_alt_del(struct vm *vm) BH_WUR;

/* The VM's virtio-balloon (--balloon), or NULL without one. The device
 * locks itself (virtio/balloon.h). */
struct virtio_balloon;
struct virtio_balloon *vm_balloon(struct vm *vm);

/* The NICs' counters, in --net order, into out[0..max); returns how many.
 * Any thread (each device's lock). */
unsigned vm_devices_net_stats(struct vm *vm, struct virtio_net_stats *out, unsigned max);

/* What the guest sees of the VM's identity: each NIC's MAC (in --net
 * order), the vsock CID (0 without vsock) and the VM generation ID. A
 * restore gives the VM its own (config/clone_id.h), never the snapshot's.
 * Any thread, once the devices are attached. */
struct vm_identity {
	unsigned nnets;
	uint8_t mac[4][6];     /* VM_MAX_NETS */
	uint64_t vsock_cid;
	uint8_t genid[16];
};
void vm_devices_identity(struct vm *vm, struct vm_identity *out);

/* One info line: the identity above (restores log it). */
void vm_devices_identity_log(struct vm *vm, const char *what);

/* One info line per NIC with its counters and non-zero drops by reason (at
 * the VM's end; tests read it). */
void vm_devices_net_log(struct vm *vm);

/* Print end-of-run device reports (test device check-ins, console drops). */
void vm_devices_report(struct vm *vm);

#endif
