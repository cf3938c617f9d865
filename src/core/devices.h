/* devices.h — the VM's device set, created from ONE explicit, ordered table in
 * devices.c (no constructor magic). Setup thread, except where stated. */
#ifndef BH_DEVICES_H
#define BH_DEVICES_H

#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"

struct vm;

/* Create every device the config asks for and register it on the buses.
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
