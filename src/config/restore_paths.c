/* restore_paths.c — see restore_paths.h. */
#include "config/restore_paths.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int config_restore_paths(struct vm_config *cfg, const struct config_restore_paths *given,
			 char *err, size_t errlen)
{
	unsigned ntaps = 0;

	for (unsigned i = 0; i < cfg->nnets; i++)
		ntaps += cfg->nets[i].tap != NULL;
	if (given->ndisks > cfg->ndisks || given->ntaps > ntaps) {
		bool d = given->ndisks > cfg->ndisks;

		snprintf(err, errlen, "--%s: the snapshot's VM has %u %s", d ? "disk" : "tap",
			 d ? cfg->ndisks : ntaps, d ? "disk(s)" : "tap NIC(s)");
		return -EINVAL;
	}
	if (given->recorded) {
		if (given->ndisks || given->ntaps) {
			snprintf(err, errlen, "--recorded-paths and --%s: give one",
				 given->ndisks ? "disk" : "tap");
			return -EINVAL;
		}
		return 0;
	}
	if (given->ndisks < cfg->ndisks) {
		snprintf(err, errlen, "the snapshot's VM has %u disk(s); disk %u was recorded as "
			 "'%.200s': a restore opens no host path the snapshot names: give "
			 "--disk PATH once per disk, in order (or --recorded-paths for a snapshot "
			 "only you could have written)", cfg->ndisks, given->ndisks,
			 cfg->disks[given->ndisks].path);
		return -EINVAL;
	}
	if (given->ntaps < ntaps) {
		snprintf(err, errlen, "the snapshot's VM has %u tap NIC(s): a restore opens no host "
			 "device the snapshot names: give --tap IFNAME once per tap NIC, in order "
			 "(or --recorded-paths)", ntaps);
		return -EINVAL;
	}
	if (cfg->console == CONSOLE_FILE && !given->console) {
		snprintf(err, errlen, "the snapshot's console was recorded as the file '%.200s': a "
			 "restore opens no host path the snapshot names: give --console "
			 "stdio|none|file:PATH (or --recorded-paths)", cfg->console_path);
		return -EINVAL;
	}
	if (cfg->vsock.socket && !given->vsock_socket) {
		snprintf(err, errlen, "the snapshot's vsock socket was recorded as '%.200s': a "
			 "restore creates no host path the snapshot names: give --vsock-socket PATH "
			 "(or --recorded-paths)", cfg->vsock.socket);
		return -EINVAL;
	}
	for (unsigned i = 0; i < cfg->ndisks; i++)
		cfg->disks[i].path = given->disks[i];
	for (unsigned i = 0, t = 0; i < cfg->nnets; i++)
		if (cfg->nets[i].tap)
			cfg->nets[i].tap = given->taps[t++];
	return 0;
}
