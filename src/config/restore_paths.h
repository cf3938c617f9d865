/* restore_paths.h — which host paths a restore opens. A snapshot is a file
 * from anywhere: whoever made it (another user, a download, or a guest that
 * took over its VMM, which writes the state file the configuration is
 * recorded in) chose the paths in its recorded configuration. Restoring
 * runs as the user who restores and opens those paths before the jail, so a
 * recorded disk "/home/me/.ssh/id_ed25519" would hand that file to the
 * guest, read-write. The rule: a restore opens no host path, and no host
 * device by name, that it read from the snapshot. Each one the recorded
 * configuration names must be named again by the caller:
 *   disks:    one `--disk PATH` per recorded disk, in order (the recorded
 *             read-only flag and serial stay: the guest saw them);
 *   console:  a recorded `file:` console needs `--console MODE`;
 *   vsock:    a recorded vsock device needs `--vsock-socket PATH`;
 *   tap NICs: one `--tap IFNAME` per recorded tap= NIC, in order.
 * `--recorded-paths` takes them as recorded: for a snapshot only the caller
 * could have written (bulkheadd's own store, whose recorded paths it has
 * checked against the VM's configuration it holds). Pure; any thread. */
#ifndef BH_CONFIG_RESTORE_PATHS_H
#define BH_CONFIG_RESTORE_PATHS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/compiler.h"
#include "config/vm_config.h"

struct config_restore_paths {
	const char *disks[VM_MAX_DISKS]; /* --disk PATH, in order */
	unsigned ndisks;
	const char *taps[VM_MAX_NETS];   /* --tap IFNAME, in order of the tap NICs */
	unsigned ntaps;
	bool console;                    /* --console was given */
	bool vsock_socket;               /* --vsock-socket was given */
	bool recorded;                   /* --recorded-paths */
};

/* Apply `given` to cfg (the snapshot's configuration): replace the recorded
 * disk paths and tap names with the given ones. 0, or -EINVAL with err
 * naming the first recorded path that was not named again (and what it
 * was), or an option given for something the snapshot's VM does not have. */
int config_restore_paths(struct vm_config *cfg, const struct config_restore_paths *given,
			 char *err, size_t errlen) BH_WUR;

#endif
