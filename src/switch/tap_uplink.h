/* tap_uplink.h — a host tap the operator names as the uplink of a switch
 * segment: `bulkhead switch --uplink SEGMENT=tap=NAME` (opened before the
 * switch jails itself) and bulkheadd's `uplink: "tap=NAME"` (opened by the
 * daemon, handed over with ADD_PORT and SWCTL_F_UPLINK | SWCTL_F_TAP).
 *
 * The interface must exist (`ip tuntap add NAME mode tap [user UID]`): a
 * name that does not is refused rather than created (TUNSETIFF would make a
 * new tap that vanishes with the switch). It is attached with IFF_TAP |
 * IFF_NO_PI | IFF_VNET_HDR, a 12-byte virtio-net header (= net_port_hdr, so
 * one read()/write() is one switch message) and no offloads toward us; the
 * descriptor is O_NONBLOCK and close-on-exec. The host routes what the
 * segment's VMs send through it (the operator's bridge, NAT or routes); the
 * switch's egress policy applies to every frame toward it as to any uplink.
 *
 * Threads: any; no global state. */
#ifndef BH_SWITCH_TAP_UPLINK_H
#define BH_SWITCH_TAP_UPLINK_H

#include <stddef.h>

#include "common/compiler.h"
#include "ctl/switch_ctl.h"

/* Is `name` a plausible interface name (1-15 of [A-Za-z0-9_.-])? */
int tap_uplink_name_ok(const char *name);

/* Open the existing tap `name`: the descriptor, or -errno with a message in
 * err (no such interface, not a tap this process may attach, ...). */
int tap_uplink_open(const char *name, char *err, size_t errlen) BH_WUR;

/* The ADD_PORT record of the tap uplink port `port` of `segment`
 * (SWCTL_F_UPLINK | SWCTL_F_TAP, no MAC of its own, no rate limit).
 * 0, or -EINVAL for a bad name. */
int tap_uplink_port_record(struct swctl_port *rec, const char *port, const char *segment) BH_WUR;

#endif
