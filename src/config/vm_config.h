/* vm_config.h — everything a VM is built from, already validated by the CLI
 * (or later, the API). Plain data: no fds, no pointers the VM owns. */
#ifndef BH_VM_CONFIG_H
#define BH_VM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "arch/x86/boot.h"
#include "arch/x86/cpuid.h"
#include "virtio/balloon.h"
#include "virtio/blk.h"

/* Disks: /dev/vda, /dev/vdb, ... in this order. */
#define VM_MAX_DISKS VIRTIO_BLK_MAX_DISKS

/* NICs: virtio-net devices in this order (the guest's eth0, eth1, ...). */
#define VM_MAX_NETS 4
#define VM_NET_MAC_TEXT 17 /* "02:00:00:00:00:01" */
#define VM_NET_IFNAME_MAX 15 /* IFNAMSIZ - 1 */

/* One NIC. Exactly one backend is named (config_validate checks it): a host
 * tap device opened by name before the jail, an inherited tap descriptor, or
 * a switch port descriptor (SOCK_SEQPACKET speaking ctl/net_port.h). The
 * descriptors are names in the VMM's named-fd table (--fd NAME=N). */
struct vm_net {
	const char *tap;            /* tap=IFNAME */
	const char *tapfd;          /* tapfd=FDNAME */
	const char *port;           /* port=FDNAME */
	const char *switch_seg;     /* switch=SEGMENT: `bulkhead run` makes the port
	                             * (a socketpair registered with a bulkhead switch)
	                             * and sets port to its descriptor's name */
	const char *ip;             /* ip=ADDR: the port's IPv4 or IPv6 (port security) */
	uint64_t rate;              /* rate=SIZE: bytes/s the NIC may send (0: unlimited) */
	unsigned pps;               /* pps=N: frames/s the NIC may send (0: unlimited) */
	bool switch_made;           /* set by `bulkhead run` once it made the port: switch_seg
	                             * is then cleared and port names the descriptor */
	char mac[VM_NET_MAC_TEXT + 1]; /* "" = derived per VM (locally administered) */
	unsigned mtu;               /* offered to the guest (VIRTIO_NET_F_MTU) */
};

enum console_mode { CONSOLE_STDIO, CONSOLE_NONE, CONSOLE_FILE };
/* Which guest device the console backend is attached to. */
enum console_device { CONSOLE_DEV_UART, CONSOLE_DEV_VIRTIO };

/* xAPIC IDs are 8 bits, 0xff is broadcast, and the IOAPIC takes the ID after
 * the last vCPU. */
#define VM_MAX_VCPUS 254

/* Backing pages of guest RAM (--hugepages). */
enum vm_hugepages { VM_HUGEPAGES_NONE, VM_HUGEPAGES_2M, VM_HUGEPAGES_1G };

struct bh_startup; /* common/startup.h */

/* virtio-vsock (--vsock): present when socket is set. */
#define VM_VSOCK_ALLOW_MAX 512 /* characters of the allow-list */
struct vm_vsock_config {
	unsigned cid;               /* the guest's CID, >= 3 */
	const char *socket;         /* the hybrid-vsock unix socket (guest→host: PATH_PORT) */
	const char *allow;          /* guest→host ports, "1024:5000-5009"; NULL: none */
};

/* What bulkheadd does when the switch reports a port-security violation of
 * one of the VM's NICs (a spoofed MAC/IP/ARP, a router advertisement):
 * count it (an event and a counter), or also quarantine the VM and cut its
 * ports. Meaningful under bulkheadd only (it subscribes to the switch). */
enum vm_violation { VM_VIOLATION_COUNT, VM_VIOLATION_QUARANTINE };

struct vm_config {
	uint64_t mem_bytes;
	unsigned ncpus;
	struct boot_config boot;
	enum console_mode console;
	enum console_device console_device; /* UART (ttyS0) or virtio-console (hvc0) */
	const char *console_path;   /* CONSOLE_FILE */
	uint64_t console_max_bytes; /* cap on console output written (file/stdout) */
	enum cpu_template cpu_template;
	bool test_device;
	struct virtio_blk_disk disks[VM_MAX_DISKS];
	unsigned ndisks;
	struct vm_net nets[VM_MAX_NETS];
	unsigned nnets;
	bool rng;                   /* virtio-rng fed from getrandom() */
	/* CPU and memory placement (issue 17; config/cpu_place.h, core/guest_mem.h) */
	const char *cpu_affinity;   /* host CPUs of the vCPU threads; NULL: any */
	bool cpu_dedicated;         /* each vCPU on a host CPU of its own */
	unsigned cpu_weight;        /* cgroup cpu.weight, 1-10000 */
	bool mem_prealloc;          /* guest RAM populated before the guest runs */
	enum vm_hugepages hugepages;
	bool thp;                   /* MADV_HUGEPAGE on 4 KiB-backed RAM */
	bool ksm;                   /* MADV_MERGEABLE (a cross-VM side channel) */
	struct virtio_balloon_config balloon; /* --balloon */
	struct vm_vsock_config vsock;
	enum vm_violation on_violation;
	uint64_t start_ns;          /* CLOCK_MONOTONIC at process start (boot timer) */
	bool sandbox_disabled;      /* --no-sandbox: VM metadata (the daemon persists it) */
	struct bh_startup *startup; /* start-up time marks (-v), or NULL; borrowed */
};

#endif
