/* devices.h — the VM's device set, created in ONE explicit order in devices.c
 * (no constructor magic). Setup thread, except where stated. vm_destroy()
 * calls vm_devices_destroy() after irq_router_destroy(). */
#ifndef BH_DEVICES_H
#define BH_DEVICES_H

#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"

struct vm;

/* Build the device models that hold operator input — virtio-blk opens its
 * disk images here — before KVM is touched, so a bad --disk is reported as a
 * configuration error on any host. Needs vm->mem, vm->el and vm->console.
 * On failure vm->err is set (vm->err_is_config for bad input). */
int vm_devices_prepare(struct vm *vm) BH_WUR;

/* Create the rest (legacy devices, the PCI bus, virtio transports) and
 * register everything on the buses. Needs the KVM VM and vm->router.
 * On failure vm->err is set; vm_devices_destroy() cleans up partial work. */
int vm_devices_create(struct vm *vm) BH_WUR;
void vm_devices_destroy(struct vm *vm);

/* Feed console input to the guest's console device. Returns bytes accepted
 * (0 when its FIFO is full: retry later). Input thread only. */
size_t vm_devices_console_input(struct vm *vm, const uint8_t *buf, size_t len);

/* An eventfd that becomes readable when the console device can take input
 * again after vm_devices_console_input() returned short (the input thread
 * polls it instead of retrying on a timer), or -1. */
int vm_devices_console_room_fd(struct vm *vm);

/* Press and release Ctrl-Alt-Del on the i8042 keyboard (the graceful stop
 * request; Linux reboots). 0 or -errno. Any thread. */
int vm_devices_ctrl_alt_del(struct vm *vm) BH_WUR;

/* Print end-of-run device reports (test device check-ins, console drops). */
void vm_devices_report(struct vm *vm);

#endif
