/* clone_id.h — the identity of a restored VM. Every restore of a snapshot
 * is a clone of the VM that was saved: it must not present that VM's
 * identity again, or N clones of one snapshot would be N machines with one
 * MAC and one vsock CID. What the guest's memory holds (its RNG state, host
 * keys, hostname) the VMM cannot change; the VM generation ID
 * (devices/vmgenid.h) tells the guest to renew it. What the devices
 * present, this decides, on the snapshot's recorded configuration before
 * the VM is built:
 *   MACs:   each NIC gets the MAC the caller gives for it (`restore --mac`,
 *           in NIC order), otherwise a new random one (the recorded MAC is
 *           the saved VM's, so it is dropped);
 *   vsock:  the CID is the given one (`--vsock-cid`) or the recorded one,
 *           plus the clone index; the host socket is the given path or the
 *           recorded one, with ".INDEX" appended for a clone of a group
 *           (two VMs cannot share one listening socket path).
 * The devices keep these over the snapshot's (virtio/net.h, vsock.h). */
#ifndef BH_CONFIG_CLONE_ID_H
#define BH_CONFIG_CLONE_ID_H

#include <stddef.h>

#include "common/compiler.h"
#include "config/vm_config.h"

struct config_clone_id {
	const char *macs[VM_MAX_NETS]; /* NIC i's MAC, or NULL: a new random one */
	unsigned nmacs;                /* how many were given (in NIC order) */
	unsigned vsock_cid;            /* 0: the recorded one */
	const char *vsock_socket;      /* NULL: the recorded one */
	int index;                     /* clone index in a group, or -1 */
};

/* Apply `id` to cfg (the snapshot's configuration). The vsock socket path,
 * when it changes, is written to sock_buf (which must outlive cfg's use).
 * 0, or -EINVAL with err naming the option: more MACs than NICs, a MAC that
 * is not unicast, vsock options for a VM without vsock, a CID outside
 * 3..4294967294 (after adding the index), a path too long. */
int config_clone_identity(struct vm_config *cfg, const struct config_clone_id *id,
			  char *sock_buf, size_t sock_len, char *err, size_t errlen) BH_WUR;

#endif
