/* network.h — bulkheadd's networks: named segments of the bulkhead switch,
 * and the switch process that carries them.
 *
 * A network belongs to the user who created it (like a VM: another non-root
 * user's network is indistinguishable from one that does not exist, and its
 * name is per owner). It is a segment of ONE switch process the daemon runs
 * (`bulkhead switch --ctl-fd 3 --ctl-fd 4`, jailed like any switch) from the
 * moment the first network exists; the segment's name on the switch is
 * "n-" + the network's ID, so two owners' "default" never meet. A VM config
 * lists NICs on networks (`nets[].switch = NAME`); at each start the daemon
 * makes a SOCK_SEQPACKET socketpair per such NIC, registers one end with the
 * switch (ADD_PORT "vm" + VM ID + "-" + index, the network's segment, the
 * NIC's MAC, ip, rate, pps and the network's egress rules) and hands the
 * other into the VMM as a named descriptor ("swnetI", fd 5 + I), rewriting
 * the VMM's copy of the config to `port: swnetI` (dnet_vm_config). The port
 * goes when the VMM's end closes (the switch reaps it) and the daemon also
 * removes it when the VM exits (DEL_PORT).
 *
 * The switch is a separate failure domain. The supervisor watches its pidfd:
 * when it dies, an event says so and the daemon starts a new one (at most
 * DSW_RESTARTS times a minute; after that the networks report the switch as
 * failed until the next network operation tries again). VMs that were
 * running keep their NICs but these are cut off (their ports died with the
 * switch) until they are restarted; inspect says so.
 *
 * Uplinks (uplink.c). A network created with `uplink: "passt"` has an uplink
 * to the outside like `bulkhead switch --uplink`: the daemon starts passt
 * (switch/passt.h: --no-map-gw, no inbound forwards; passt runs in the
 * daemon's network namespace, drops to nobody as root) and registers its
 * socket with the switch as the stream uplink port "up-" + the segment.
 * Every VM port of the network carries the network's egress rules before
 * the default-deny of the dangerous ranges and of the host's own addresses,
 * as on the standalone switch. passt is one guest's NAT: it hands every DHCP
 * client the same address and sends to the last MAC it heard, so ONE VM per
 * passt-uplinked network works (the daemon refuses to start a second). The
 * uplink follows the switch: when the switch is (re)started, the event
 * thread (re)starts the uplink and registers it again (dnet_uplinks_sync);
 * one that exits on its own is restarted with a backoff (1 s doubling to
 * 60 s). `network rm` removes its port and stops passt (SIGKILL after 2 s).
 * A missing passt refuses the create (-ENOTSUP, naming the Debian package);
 * one that exits at its first start fails the create (-EIO, its status).
 * `uplink: "tap=IFNAME"` (root only: a host interface) attaches the existing
 * tap IFNAME instead (switch/tap_uplink.h; the daemon opens it, the switch
 * gets the descriptor, port SWCTL_F_TAP); the host routes it. It is
 * attached again after a switch restart; a tap that cannot be attached fails
 * the create like passt (-EIO). Any number of VMs may share a tap uplink.
 *
 * The daemon treats the switch like a VMM: its replies and events are
 * size-bounded (SWCTL_MAX_MSG), validated by the codec and parsed strictly;
 * every request ends by DSW_TIMEOUT_MS. Violation events (SUBSCRIBE) are
 * read by one thread (dnet_events_start): a VM whose config says
 * `on_violation: quarantine` is quarantined (dmn_quarantine, as root: the
 * daemon's own decision) and its ports are removed from the switch; with
 * `count` (the default) the violation is an event and a counter only.
 *
 * Locking: d->lock protects the network list and the switch's pid/pidfd/
 * state fields; sw.lock serialises requests on the request socket (taken
 * without d->lock, never the other way round while waiting on the switch).
 * Persistence: STATE_DIR/networks/ID.json, written atomically. */
#ifndef BH_DAEMON_NETWORK_H
#define BH_DAEMON_NETWORK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/compiler.h"
#include "net/policy.h"

#define DNET_ID_LEN 8
#define DNET_NAME_MAX 31
#define DNET_EGRESS_MAX 1024       /* characters of the egress rule text */
#define DMN_MAX_NETS 64            /* bounded: each costs switch state */
#define DMN_NETS_PER_UID 8         /* of which one non-root user may have */
#define DSW_RESTARTS 3             /* switch restarts per minute at most */
#define DSW_TIMEOUT_MS 2000        /* one request to the switch */
#define DNET_FD_BASE 5             /* a VMM's NIC port descriptors: 5, 6, ... */
#define DNET_UPLINK_MAX 23         /* "passt" | "tap=IFNAME" */
#define DNET_UPLINK_BACKOFF_MAX_S 60

struct daemon;
struct dvm;
struct vm_config;

struct dnet {
	struct dnet *next;
	char id[DNET_ID_LEN + 1];
	char name[DNET_NAME_MAX + 1];
	uid_t owner;
	int64_t created_at;
	char egress[DNET_EGRESS_MAX + 1]; /* as given ("" none), validated */
	struct net_policy policy;         /* parsed from egress */
	char uplink[DNET_UPLINK_MAX + 1]; /* "" none, "passt", "tap=IFNAME" */
	/* the uplink's process (d->lock; changed only by the holder of
	 * sw.up_busy): */
	pid_t up_pid;                     /* 0: none (a tap has no process) */
	int up_pidfd;                     /* -1: none */
	unsigned up_gen;                  /* the switch generation it is a port of (0: none) */
	unsigned up_starts;               /* successful starts */
	unsigned up_fails;                /* failures in a row (backoff) */
	uint64_t up_started_ns, up_retry_ns;
	char up_state[200];               /* the last failure or exit ("" none) */
};

/* The switch process (fields under d->lock unless said otherwise). */
struct dsw {
	pid_t pid;                 /* 0: not running */
	int pidfd;                 /* -1: none; watched by the supervisor */
	int req_fd;                /* request socket (sw.lock), -1: none */
	int ev_fd;                 /* subscribed event socket, -1: none */
	unsigned gen;              /* bumps at every start */
	bool failed;               /* restarted too often: waits for an operation */
	char last_exit[160];       /* why the last one ended */
	uint64_t starts_ns[DSW_RESTARTS]; /* recent start times (restart budget) */
	unsigned restarts;         /* total restarts after a death */
	pthread_mutex_t lock;      /* one request at a time on req_fd */
	pthread_t ev_thread;
	bool ev_started, ev_stop;
	int watch_kind;            /* the supervisor's epoll tag (struct dvm_watch) */
	uint64_t violations;       /* events received */
	bool up_busy;              /* someone starts/stops uplinks (d->lock, d->cond) */
};

/* ---- networks (d->lock NOT held; they take it). 0 or -errno + message ---- */

/* Create a network for uid from a JSON body {"name": N, "egress": RULES?}.
 * -EBADMSG (body), -EINVAL (name), -EEXIST (the owner has that name),
 * -EDQUOT / -ENOSPC (limits), -EIO (files, or the switch cannot start). */
int dnet_create(struct daemon *d, uid_t uid, const char *body, size_t len, char *err,
		size_t errlen);
/* Remove uid's network `name`: -ENOENT, -EBUSY (a VM's config names it). */
int dnet_remove(struct daemon *d, uid_t uid, const char *name, char *err, size_t errlen);

/* ---- table (d->lock held) ---- */
bool dnet_visible(const struct dnet *n, uid_t uid);
/* The network `name` of `owner` (exact owner: a VM uses its owner's). */
struct dnet *dnet_find(struct daemon *d, uid_t owner, const char *name);
/* For the API: by name or ID among those uid may see; -ENOENT / -EEXIST. */
int dnet_lookup(struct daemon *d, uid_t uid, const char *name, struct dnet **out, char *err,
		size_t errlen) BH_WUR;
/* The switch segment of n ("n-ID"), into buf (>= 32 bytes). */
void dnet_segment(const struct dnet *n, char *buf, size_t len);

/* Load STATE_DIR/networks (main thread, d->lock held, before the
 * supervisor). 0 or -errno. */
int dnet_load(struct daemon *d) BH_WUR;

/* ---- the switch process ---- */
/* Make sure a switch runs when a network exists (d->lock held). 0 or -errno
 * with a message. */
int dsw_ensure(struct daemon *d, char *err, size_t errlen) BH_WUR;
/* The supervisor saw the switch's pidfd readable (d->lock held): record,
 * report, restart within the budget. */
void dsw_exited(struct daemon *d);
/* Stop the event thread and the switch's sockets (shutdown; no lock). The
 * switch itself ends once its last port is gone. */
void dsw_shutdown(struct daemon *d);
/* One request to the switch (without d->lock): 0 or -errno (transport,
 * -ENOTCONN: no switch); *status and the reply text otherwise. */
int dsw_call(struct daemon *d, uint16_t type, const void *payload, size_t len, int fd,
	     int32_t *status, char *reply, size_t replylen) BH_WUR;
/* Start the violation-event thread (after the supervisor). 0 or -errno. */
int dnet_events_start(struct daemon *d) BH_WUR;

/* ---- uplinks (uplink.c) ---- */
/* Validate an uplink kind from a client or a record: "passt" or
 * "tap=IFNAME"; into out.
 * 0 or -EINVAL with a message. */
int dnet_uplink_parse(const char *s, char *out, size_t len, char *err, size_t errlen) BH_WUR;
/* May uid have this uplink, is its program there? (no lock needed) 0,
 * -ENOTSUP (passt not installed: the message names the Debian package) or
 * -EACCES (a tap, not root). */
int dnet_uplink_check(uid_t uid, const char *uplink, char *err, size_t errlen) BH_WUR;
/* Start (or restart) the uplink of every network that has one and is not a
 * port of the running switch, reap uplinks that exited (d->lock NOT held;
 * serialised by sw.up_busy). Called by the event thread and by create. */
void dnet_uplinks_sync(struct daemon *d);
/* Stop n's uplink (d->lock held, the caller holds sw.up_busy; n already out
 * of the list or about to be). Takes the lock down while it waits. */
void dnet_uplink_stop(struct daemon *d, struct dnet *n);
/* Wait for and take / give back sw.up_busy (d->lock held). */
void dnet_uplinks_acquire(struct daemon *d);
void dnet_uplinks_release(struct daemon *d);
/* n's uplink for the API (d->lock held): a JSON object, or NULL when it
 * has none. */
struct json_object;
struct json_object *dnet_uplink_json(const struct daemon *d, const struct dnet *n);
/* Is v's NIC i on a passt-uplinked network on which another running VM has
 * a NIC already? (d->lock held) That VM's ID into other. */
bool dnet_uplink_taken(struct daemon *d, const struct dvm *v, unsigned i, char *other,
		       size_t len);

/* ---- VM NICs ---- */
/* Check cfg's `switch=` NICs against uid's networks at create (d->lock
 * held): -EBADMSG naming the NIC and the network when one does not exist. */
int dnet_check_config(struct daemon *d, uid_t uid, const struct vm_config *cfg, char *err,
		      size_t errlen) BH_WUR;
/* At start (d->lock NOT held): make the ports of v's switch NICs; *fds gets
 * the VMM's ends (in NIC order, -1 for other NICs), *json the VMM's config
 * text (malloc'd, the caller frees) with each such NIC rewritten to
 * `port: swnetI` and its MAC made explicit. 0 or -errno with a message. */
int dnet_vm_ports(struct daemon *d, struct dvm *v, const char *config_text, size_t len,
		  int fds[], unsigned *nfds, char **json, char *err, size_t errlen) BH_WUR;
/* Remove v's ports from the switch (d->lock NOT held; -ENOENT ignored). */
void dnet_vm_unplug(struct daemon *d, const char *vm_id, unsigned nnics);
/* The port name of NIC i of VM id. */
void dnet_port_name(const char *vm_id, unsigned i, char *buf, size_t len);

#endif
