/* passt.h — passt (Debian package `passt`) as the uplink of a switch
 * segment: the one place that finds, starts and stops it. Used by
 * `bulkhead switch --uplink` (before the switch jails itself) and callable
 * by anyone who registers the port with a switch over the control protocol
 * (the record from passt_port_record(), the descriptor from passt_start()).
 *
 * passt runs in its "qemu" mode on one end of a SOCK_STREAM socketpair it
 * inherits as fd 3 (`--fd 3`, which also makes it exit once that socket is
 * closed), in the foreground, quiet (errors still on its stderr), with
 *   --no-map-gw       a connection to the gateway address is NOT remapped to
 *                     the host (this passt's spelling of the newer
 *                     --map-host-loopback none): a guest never reaches the
 *                     host's 127.0.0.1 through it;
 *   -t none -u none   no inbound port forwards.
 * passt answers ARP/NDP/DHCP itself (the address and gateway of the host
 * interface with the default route); as root it drops to `nobody`; it runs
 * in the caller's network namespace and mount namespace (start it before a
 * jail). The caller's signal mask and signal dispositions are not inherited.
 *
 * Threads: any; no global state. The child only calls async-signal-safe
 * functions between fork() and exec, so a threaded caller (the daemon) may
 * use it. */
#ifndef BH_SWITCH_PASST_H
#define BH_SWITCH_PASST_H

#include <stdbool.h>
#include <stddef.h>

#include "common/compiler.h"
#include "ctl/switch_ctl.h"

/* How long passt_start() watches for an early exit (bad configuration, no
 * route to the outside): passt fails within milliseconds then. */
#define PASST_START_CHECK_MS 300

struct passt_proc {
	int port_fd;  /* the switch's end: SOCK_STREAM, passt's framing, CLOEXEC */
	int pid;
	int pidfd;    /* readable once passt has exited; reap with waitid(P_PIDFD) */
};

/* The absolute path of the passt program (searched in $PATH, then
 * /usr/bin and /usr/sbin) into path[0..len). 0, or -ENOENT with a message
 * naming the Debian package. */
int passt_find(char *path, size_t len, char *err, size_t errlen) BH_WUR;

/* Start passt (its absolute path from passt_find) for segment `segment`
 * (named in messages only); ipv4_only adds -4. On success *out holds the
 * switch's end of the socket, the pid and a pidfd. Fails (-errno, message in
 * err) on a host error, or -ECHILD when passt exited within
 * PASST_START_CHECK_MS (its own message is on stderr). */
int passt_start(const char *path, const char *segment, bool ipv4_only, struct passt_proc *out,
	char *err, size_t errlen) BH_WUR;

/* The ADD_PORT record of the uplink port `name` of `segment`
 * (SWCTL_F_UPLINK | SWCTL_F_STREAM, no MAC of its own, no rate limit).
 * 0, or -EINVAL for a bad name. */
int passt_port_record(struct swctl_port *rec, const char *name, const char *segment) BH_WUR;

/* Stop a passt whose port is still ours (not handed to a switch): close
 * port_fd (passt exits at end of file), wait up to 2 s, then SIGKILL, and
 * reap it. Safe on a zeroed/-1 struct. */
void passt_stop(struct passt_proc *p);

#endif
