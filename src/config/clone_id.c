/* clone_id.c — see clone_id.h. */
#include "config/clone_id.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config/args.h"

#define CID_MAX 0xfffffffeull

int config_clone_identity(struct vm_config *cfg, const struct config_clone_id *id,
			  char *sock_buf, size_t sock_len, char *err, size_t errlen)
{
	unsigned long long cid;
	const char *path;
	int n;

	if (id->nmacs > cfg->nnets || id->nmacs > VM_MAX_NETS) {
		snprintf(err, errlen, "--mac: %u given, the snapshot's VM has %u NIC%s", id->nmacs,
			 cfg->nnets, cfg->nnets == 1 ? "" : "s");
		return -EINVAL;
	}
	for (unsigned i = 0; i < id->nmacs; i++) {
		if (!id->macs[i])
			continue;
		if (args_check_mac("--mac", id->macs[i], err, errlen))
			return -EINVAL;
		for (unsigned j = 0; j < i; j++)
			if (id->macs[j] && !strcasecmp(id->macs[j], id->macs[i])) {
				snprintf(err, errlen, "--mac %s: given for NICs %u and %u",
					 id->macs[i], j, i);
				return -EINVAL;
			}
	}
	for (unsigned i = 0; i < cfg->nnets; i++) {
		const char *m = i < id->nmacs ? id->macs[i] : NULL;

		if (m)
			snprintf(cfg->nets[i].mac, sizeof(cfg->nets[i].mac), "%s", m);
		else
			cfg->nets[i].mac[0] = '\0'; /* the device draws a new one */
	}
	if (!cfg->vsock.socket) {
		if (id->vsock_cid || id->vsock_socket) {
			snprintf(err, errlen, "--vsock-%s: the snapshot's VM has no vsock device",
				 id->vsock_cid ? "cid" : "socket");
			return -EINVAL;
		}
		return 0;
	}
	cid = id->vsock_cid ? id->vsock_cid : cfg->vsock.cid;
	if (id->index > 0)
		cid += (unsigned)id->index;
	if (cid < 3 || cid > CID_MAX) {
		snprintf(err, errlen, "vsock CID %llu%s: a guest CID is 3 to %llu", cid,
			 id->index > 0 ? " (with the clone index)" : "", CID_MAX);
		return -EINVAL;
	}
	cfg->vsock.cid = (unsigned)cid;
	path = id->vsock_socket ? id->vsock_socket : cfg->vsock.socket;
	if (id->index >= 0)
		n = snprintf(sock_buf, sock_len, "%s.%d", path, id->index);
	else
		n = snprintf(sock_buf, sock_len, "%s", path);
	if (n < 0 || (size_t)n >= sock_len || !*path) {
		snprintf(err, errlen, "--vsock-socket: the path is empty or too long");
		return -EINVAL;
	}
	cfg->vsock.socket = sock_buf;
	return 0;
}
