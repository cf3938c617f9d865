/* args.h — strict parsers for command-line values. Each rejects empty input,
 * trailing garbage, signs, and anything that overflows, and writes a message
 * naming the option into err. Pure functions (unit-tested). */
#ifndef BH_CLI_ARGS_H
#define BH_CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"
#include "common/fd_name.h"
#include "config/vm_config.h"

/* "256", "256M", "256MiB", "1G", "512K", "4096B": a size in bytes. A bare number
 * means `default_unit` bytes (e.g. 1 MiB for --mem). */
int args_parse_size(const char *opt, const char *s, uint64_t default_unit, uint64_t *out,
		    char *err, size_t errlen) BH_WUR;

/* Decimal unsigned integer within [min, max]. */
int args_parse_uint(const char *opt, const char *s, unsigned min, unsigned max, unsigned *out,
		    char *err, size_t errlen) BH_WUR;

/* "path=IMG[,ro=on|off][,id=SERIAL]" (keys in any order, each at most once;
 * path required, may not contain ','; id: up to 20 printable ASCII chars
 * without ',' or '='). The path is copied into path_buf (path_len bytes) and
 * d->path points there. */
int args_parse_disk(const char *opt, const char *s, struct virtio_blk_disk *d, char *path_buf,
		    size_t path_len, char *err, size_t errlen) BH_WUR;

/* A disk's serial (disks[].id, --disk id=): printable ASCII without spaces,
 * ',' or '=' (so that every serial can be written as a --disk option). */
int args_check_disk_id(const char *name, const char *id, char *err, size_t errlen) BH_WUR;

/* nets[].tap: a host interface name, 1-15 characters, none of '/', ':',
 * ',', '=', whitespace, and not "." or "..". */
int args_check_ifname(const char *name, const char *ifname, char *err, size_t errlen) BH_WUR;

/* nets[].switch: a segment name, 1-31 characters of [A-Za-z0-9_.-]. */
int args_check_segment(const char *name, const char *s, char *err, size_t errlen) BH_WUR;
/* nets[].ip: one IPv4 or IPv6 address (no prefix), unicast. */
int args_check_ip(const char *name, const char *s, char *err, size_t errlen) BH_WUR;

/* nets[].tapfd / nets[].port: a descriptor name per common/fd_name.h. */
int args_check_fd_name(const char *name, const char *s, char *err, size_t errlen) BH_WUR;

/* A MAC address "xx:xx:xx:xx:xx:xx" (hex, either case) that a NIC may own:
 * unicast (not multicast/broadcast) and not all zeros. args_parse_mac also
 * stores the six bytes. */
int args_check_mac(const char *name, const char *s, char *err, size_t errlen) BH_WUR;
int args_parse_mac(const char *name, const char *s, uint8_t mac[6], char *err,
		   size_t errlen) BH_WUR;

/* "NAME=N" (`--fd`): NAME per common/fd_name.h, copied to name; N a decimal
 * descriptor number >= 3 (0-2 are stdio). Syntax only: whether N is open is
 * the VMM's named-fd table's check (vmm/fd_table.h). */
int args_parse_named_fd(const char *opt, const char *s, char name[BH_FD_NAME_MAX + 1], int *fd,
			char *err, size_t errlen) BH_WUR;

/* A vsock allow-list (--vsock allow=, vsock.allow): ports or ranges
 * "P" / "A-B" (decimal, 0..4294967295, A <= B) separated by ':', at most
 * VM_VSOCK_ALLOW_MAX characters; "none" is the empty list. */
int args_check_vsock_ports(const char *name, const char *s, char *err, size_t errlen) BH_WUR;

/* Is `port` in the allow-list (already checked; NULL or "none": no)? */
bool args_vsock_port_allowed(const char *allow, uint32_t port);

/* "cid=N,socket=PATH[,allow=PORTS]" (`--vsock`): keys in any order, each at
 * most once, cid and socket required; the path (no ',') and the list are
 * copied into the buffers and v points there. */
int args_parse_vsock(const char *opt, const char *s, struct vm_vsock_config *v, char *path_buf,
		     size_t path_len, char *allow_buf, size_t allow_len, char *err,
		     size_t errlen) BH_WUR;

#endif
