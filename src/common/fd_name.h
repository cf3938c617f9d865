/* fd_name.h — the one rule for the name of a host descriptor handed to a VMM
 * (`bulkhead run --fd NAME=N`, the control channel's CTL_ATTACH_FD): the CLI,
 * the control codec and the VMM's named-fd table all check it here, so they
 * cannot drift. A name is 1-31 characters: a letter, then letters, digits,
 * '_', '-' or '.' ("net0", "snapshot", "vsock.conn-1"). Short, printable and
 * free of '=' and ',', so it can sit in option strings and log lines as is.
 * Header-only, no state. */
#ifndef BH_FD_NAME_H
#define BH_FD_NAME_H

#include <stdbool.h>
#include <stddef.h>

#define BH_FD_NAME_MAX 31 /* characters, without the terminating NUL */

/* Well-known names. virtio-vsock: the listening hybrid-vsock socket (made by
 * whoever starts the VMM, e.g. the daemon, in place of the VMM binding
 * vsock.socket itself) and the VMM's end of the connection broker's channel
 * (core/vsock_broker.h; vmm_main adds it). */
#define BH_FD_VSOCK_LISTEN "vsock"
#define BH_FD_VSOCK_BROKER "vsock-broker"

/* Does s[0..len) (len: the string's length, no NUL inside) follow the rule? */
static inline bool bh_fd_name_valid_n(const char *s, size_t len)
{
	if (len < 1 || len > BH_FD_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
		bool other = (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';

		if (!alpha && (i == 0 || !other))
			return false;
	}
	return true;
}

/* The same for a NUL-terminated string (never reads past BH_FD_NAME_MAX + 1
 * bytes). */
static inline bool bh_fd_name_valid(const char *s)
{
	size_t len = 0;

	while (len <= BH_FD_NAME_MAX && s[len])
		len++;
	return bh_fd_name_valid_n(s, len);
}

#endif
