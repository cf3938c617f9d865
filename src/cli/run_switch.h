/* run_switch.h — `bulkhead run --net switch=SEGMENT` (run_switch.c). */
#ifndef BH_CLI_RUN_SWITCH_H
#define BH_CLI_RUN_SWITCH_H

#include <stdbool.h>
#include <stddef.h>

#include "common/compiler.h"
#include "common/fd_name.h"
#include "config/vm_config.h"
#include "vmm/fd_table.h"

/* For every NIC with switch=SEG: register a port with the switch at
 * switch_path (or one started here; sandbox: jailed; uplink: a segment
 * of one of those NICs that gets a passt uplink in that switch, refused
 * with switch_path) and put our end into
 * fds as names[i] ("swnetI"), which becomes the NIC's port (names must
 * outlive the VM). NICs without mac= get a random one. Main thread, before
 * vmm_main(). 0 or -errno with a message in err (the caller exits 2). */
int run_switch_ports(struct vm_config *cfg, const char *switch_path, const char *uplink,
	bool sandbox,
	struct fd_table *fds, char names[][BH_FD_NAME_MAX + 1], char *err, size_t errlen) BH_WUR;

#endif
