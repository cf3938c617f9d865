/* schema.c — THE table of VM configuration settings, and what is derived from
 * it: defaults, value parsing and storing, cross-row validation. The
 * documents derived from it, --help and the JSON Schema, are schema_doc.c's.
 * See schema.h (how to add a row). */
#include "config/schema.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "config/args.h"
#include "config/config_json.h"
#include "config/cpu_place.h"
#include "config/exit_codes.h"
#include "config/schema_parse.h"

/* Field descriptors for the rows. */
#define FIELD(type, tgt, m)                                                      \
	.target = tgt, .off = offsetof(struct type, m), .size = sizeof(((struct type *)0)->m)
#define VM(m) FIELD(vm_config, CONFIG_TO_VM, m)
#define DISK(m) FIELD(virtio_blk_disk, CONFIG_TO_ELEM, m)
#define NET(m) FIELD(vm_net, CONFIG_TO_ELEM, m)
/* An ARRAY row's field: the array in vm_config, one element's size, the count. */
#define ARRAY(m, count)                                                          \
	.target = CONFIG_TO_VM, .off = offsetof(struct vm_config, m),           \
	.size = sizeof(((struct vm_config *)0)->m[0]),                           \
	.count_off = offsetof(struct vm_config, count)
#define RUN(m) FIELD(run_opts, CONFIG_TO_RUN, m)
#define STR_(x) #x
#define STR(x) STR_(x)

/* Enumerations are stored as int: the table relies on it. */
_Static_assert(sizeof(enum console_mode) == sizeof(int), "enum size");
_Static_assert(sizeof(enum console_device) == sizeof(int), "enum size");
_Static_assert(sizeof(enum cpu_template) == sizeof(int), "enum size");
_Static_assert(sizeof(enum boot_proto) == sizeof(int), "enum size");
_Static_assert(sizeof(enum boot_decompress) == sizeof(int), "enum size");
_Static_assert(sizeof(enum vm_hugepages) == sizeof(int), "enum size");

static const char *const console_modes[] = {
	[CONSOLE_STDIO] = "stdio", [CONSOLE_NONE] = "none", [CONSOLE_FILE] = "file", NULL,
};
static const char *const console_devices[] = {
	[CONSOLE_DEV_UART] = "uart", [CONSOLE_DEV_VIRTIO] = "virtio", NULL,
};
static const char *const cpu_templates[] = {
	[CPU_TEMPLATE_HOST] = "host", [CPU_TEMPLATE_BASELINE] = "baseline", NULL,
};
static const char *const boot_protos[] = {
	[BOOT_PROTO_AUTO] = "auto", [BOOT_PROTO_LINUX64] = "linux64", [BOOT_PROTO_PVH] = "pvh",
	NULL,
};
static const char *const hugepage_sizes[] = {
	[VM_HUGEPAGES_NONE] = "none", [VM_HUGEPAGES_2M] = "2M", [VM_HUGEPAGES_1G] = "1G", NULL,
};
static const char *const violation_modes[] = {
	[VM_VIOLATION_COUNT] = "count", [VM_VIOLATION_QUARANTINE] = "quarantine", NULL,
};
static const char *const decompress_modes[] = {
	[BOOT_DECOMPRESS_HOST] = "host", [BOOT_DECOMPRESS_GUEST] = "guest", NULL,
};

/* THE table. Order = the order of `bulkhead run --help`. Rows with a `json`
 * key are the VM's configuration (api/openapi.yaml's Config); rows without
 * one are `bulkhead run` options about this process only (CONFIG_TO_RUN, see
 * struct run_opts). --help appends "(default: X)" itself. */
static const struct config_row rows[] = {
	{ .cli = "config", .metavar = "FILE", .parse = config_cli_config,
	  .help = "VM configuration as JSON (docs/api.md); options after it override its "
		  "values" },
	{ .json = "kernel", .cli = "kernel", .metavar = "PATH", .type = CONFIG_PATH,
	  VM(boot.kernel_path), .flags = CONFIG_API_REQUIRED,
	  .help = "kernel: bzImage, vmlinux ELF, or a freestanding ELF" },
	{ .json = "initrd", .cli = "initrd", .metavar = "PATH", .type = CONFIG_PATH,
	  VM(boot.initrd_path), .help = "initial ramdisk" },
	{ .json = "cmdline", .cli = "cmdline", .metavar = "STR", .type = CONFIG_STR,
	  VM(boot.cmdline), .max = 4096, .def = CONFIG_DEFAULT_CMDLINE,
	  .help = "kernel command line (replaces a prepared guest's)" },
	{ .cli = "cmdline-append", .metavar = "STR", .type = CONFIG_STR, RUN(cmdline_append),
	  .max = 4096,
	  .help = "add STR to the end of the command line (the guest's, the default or "
		  "--cmdline's), keeping what the guest's kernel needs on this host kind" },
	{ .cli = "guest", .metavar = "NAME|DIR", .type = CONFIG_STR, RUN(guest),
	  .help = "use a prepared guest: files kernel, initrd, cmdline in DIR (a path "
		  "containing '/') or $BULKHEAD_GUESTS/NAME (default "
		  "~/.cache/bulkhead/guests/NAME, made by `make guest`); "
		  "--kernel/--initrd/--cmdline override parts" },
	{ .json = "mem", .cli = "mem", .metavar = "SIZE", .type = CONFIG_SIZE, VM(mem_bytes),
	  .unit = BH_MiB, .def = "256M",
	  .help = "guest RAM, e.g. 256M, 2G; a bare number is MiB" },
	{ .json = "cpus", .cli = "cpus", .metavar = "N", .type = CONFIG_UINT, VM(ncpus),
	  .min = 1, .max = VM_MAX_VCPUS, .def = "1", .help = "vCPUs" },
	{ .json = "cpu_affinity", .cli = "cpu-affinity", .metavar = "CPUS", .type = CONFIG_STR,
	  VM(cpu_affinity), .max = 1024, .check = cpu_place_check_syntax,
	  .help = "host CPUs the vCPU threads may run on: a list for all (0-3,6) or one CPU "
		  "or range per vCPU (0:2,1:3)" },
	{ .json = "cpu_dedicated", .cli = "cpu-dedicated", .type = CONFIG_BOOL,
	  VM(cpu_dedicated), .def = "false",
	  .help = "each vCPU on a host CPU of its own (from --cpu-affinity, else the "
		  "last ones), the VMM's other threads off them; bulkheadd also keeps "
		  "every other VM off them and never gives a core to two VMs" },
	{ .json = "cpu_weight", .cli = "cpu-weight", .metavar = "N", .type = CONFIG_UINT,
	  VM(cpu_weight), .min = 1, .max = 10000, .def = "100",
	  .help = "CPU share against other VMs when the host is busy (cgroup cpu.weight; "
		  "the quota of cpus + 1 CPUs still caps it)" },
	{ .json = "mem_prealloc", .cli = "mem-prealloc", .type = CONFIG_BOOL,
	  VM(mem_prealloc), .def = "false",
	  .help = "allocate all guest RAM before the guest starts (it can then never "
		  "fault for lack of host memory)" },
	{ .json = "hugepages", .cli = "hugepages", .metavar = "SIZE", .type = CONFIG_ENUM,
	  VM(hugepages), .names = hugepage_sizes, .def = "none",
	  .help = "back guest RAM with hugetlbfs pages of 2M or 1G (the host must have "
		  "enough free ones, see /proc/sys/vm/nr_hugepages; they must divide --mem)" },
	{ .json = "thp", .cli = "thp", .cli_neg = "no-thp", .type = CONFIG_BOOL, VM(thp),
	  .def = "true",
	  .help = "advise transparent huge pages for guest RAM (effective when the host's "
		  "/sys/kernel/mm/transparent_hugepage/shmem_enabled is advise, "
		  "within_size or always)" },
	{ .json = "ksm", .cli = "ksm", .type = CONFIG_BOOL, VM(ksm), .def = "false",
	  .help = "let the host merge identical pages of this VM with others' (KSM): "
		  "saves memory but is a cross-VM timing side channel; off unless asked" },
	{ .json = "console", .cli = "console", .metavar = "MODE", .type = CONFIG_OBJECT,
	  .parse = config_cli_console,
	  .help = "stdio (default), none, file:PATH, or virtio (stdio on a virtio-console: "
		  "the guest's hvc0, fewer exits than the UART; use console=hvc0 on the "
		  "kernel command line)" },
	{ .json = "console.mode", .type = CONFIG_ENUM, VM(console), .names = console_modes,
	  .def = "stdio" },
	{ .json = "console.path", .type = CONFIG_PATH, VM(console_path) },
	{ .json = "console.max", .cli = "console-max", .metavar = "SIZE", .type = CONFIG_SIZE,
	  VM(console_max_bytes), .unit = 1, .def = "64M",
	  .help = "cap on console bytes written" },
	{ .json = "console.device", .type = CONFIG_ENUM, VM(console_device),
	  .names = console_devices, .def = "uart" },
	{ .json = "cpu_template", .cli = "cpu-template", .metavar = "T", .type = CONFIG_ENUM,
	  VM(cpu_template), .names = cpu_templates, .def = "baseline",
	  .help = "host (all KVM-supported features) or baseline (a conservative, "
		  "migration-safe subset)" },
	{ .json = "boot_protocol", .cli = "boot-protocol", .metavar = "P", .type = CONFIG_ENUM,
	  VM(boot.proto), .names = boot_protos, .def = "auto",
	  .help = "auto, linux64, or pvh (ELF kernels with a PVH note)" },
	{ .json = "decompress", .cli = "decompress", .metavar = "WHERE", .type = CONFIG_ENUM,
	  VM(boot.decompress), .names = decompress_modes, .def = "host",
	  .help = "host (decompress a bzImage payload on the host, cached) or guest (let "
		  "the kernel decompress itself)" },
	{ .json = "kernel_cache", .cli = "kernel-cache", .metavar = "DIR", .type = CONFIG_PATH,
	  VM(boot.cache_dir), .flags = CONFIG_NONE_WORD | CONFIG_HOST_DEFAULT,
	  .def = "~/.cache/bulkhead/kernels",
	  .help = "cache for host-decompressed kernels, or 'none'" },
	{ .json = "disks", .cli = "disk", .metavar = "path=IMG[,ro=on][,id=NAME]",
	  .type = CONFIG_ARRAY, ARRAY(disks, ndisks), .max = VM_MAX_DISKS,
	  .parse = config_cli_disk,
	  .help = "a raw disk image as virtio-blk (/dev/vda, /dev/vdb, ... in order; up to "
		  "8). ro=on opens the file read-only; id is the serial the guest reads (max "
		  "20 characters)" },
	{ .json = "disks[].path", .type = CONFIG_PATH, DISK(path), .flags = CONFIG_REQUIRED },
	{ .json = "disks[].read_only", .type = CONFIG_BOOL, DISK(read_only) },
	{ .json = "disks[].id", .type = CONFIG_STR, DISK(id), .max = VIRTIO_BLK_ID_MAX,
	  .flags = CONFIG_INLINE, .check = args_check_disk_id },
	{ .json = "nets", .cli = "net", .metavar = "MODE[,KEY=VALUE...]",
	  .type = CONFIG_ARRAY, ARRAY(nets, nnets), .max = VM_MAX_NETS, .parse = config_cli_net,
	  .help = "a virtio-net NIC (eth0, eth1, ... in order; up to " STR(VM_MAX_NETS) "). "
		  "MODE is tap=IF, tapfd=FD, port=FD or switch=SEG; KEYs: mac, mtu, ip, "
		  "rate, pps. tap=IF: the host tap device IF, opened before the jail; tapfd=FD: a tap "
		  "descriptor inherited with --fd FD=N; port=FD: a bulkhead switch port "
		  "(SOCK_SEQPACKET descriptor from --fd); switch=SEG: a port on segment SEG of "
		  "the bulkhead switch (--switch PATH, or one this command starts). mac: "
		  "locally administered unicast (default: random per VM); mtu offered to the "
		  "guest (default 1500); ip, rate (bytes/s), pps (frames/s): the switch "
		  "port's address and limits" },
	{ .json = "nets[].tap", .type = CONFIG_STR, NET(tap), .max = VM_NET_IFNAME_MAX,
	  .check = args_check_ifname },
	{ .json = "nets[].tapfd", .type = CONFIG_STR, NET(tapfd), .max = BH_FD_NAME_MAX,
	  .check = args_check_fd_name },
	{ .json = "nets[].port", .type = CONFIG_STR, NET(port), .max = BH_FD_NAME_MAX,
	  .check = args_check_fd_name },
	{ .json = "nets[].switch", .type = CONFIG_STR, NET(switch_seg), .max = 31,
	  .check = args_check_segment },
	{ .json = "nets[].ip", .type = CONFIG_STR, NET(ip), .max = 45, .check = args_check_ip },
	{ .json = "nets[].rate", .type = CONFIG_SIZE, NET(rate), .unit = 1, .def = "0" },
	{ .json = "nets[].pps", .type = CONFIG_UINT, NET(pps), .max = 100000000, .def = "0" },
	{ .json = "nets[].mac", .type = CONFIG_STR, NET(mac), .max = VM_NET_MAC_TEXT,
	  .flags = CONFIG_INLINE, .check = args_check_mac },
	{ .json = "nets[].mtu", .type = CONFIG_UINT, NET(mtu), .min = 68, .max = 65535,
	  .def = "1500" },
	{ .json = "on_violation", .type = CONFIG_ENUM, VM(on_violation), .names = violation_modes,
	  .def = "count" },
	{ .json = "rng", .cli = "rng", .cli_neg = "no-rng", .type = CONFIG_BOOL, VM(rng),
	  .def = "true", .help = "virtio-rng fed from the host's getrandom()" },
	{ .json = "balloon", .type = CONFIG_OBJECT },
	{ .json = "balloon.enabled", .cli = "balloon", .cli_neg = "no-balloon", .type = CONFIG_BOOL,
	  VM(balloon.enabled), .def = "false",
	  .help = "add a virtio-balloon: the guest gives memory back to the host (inflating "
		  "to the target, free page reporting)" },
	{ .json = "balloon.target", .cli = "balloon-target", .metavar = "SIZE",
	  .type = CONFIG_SIZE, VM(balloon.target_bytes), .unit = BH_MiB, .def = "0",
	  .help = "memory the balloon asks of the guest at start (at most --mem; change it "
		  "later with `bulkhead balloon VM SIZE`); a bare number is MiB" },
	{ .json = "balloon.stats", .cli = "balloon-stats", .cli_neg = "no-balloon-stats",
	  .type = CONFIG_BOOL, VM(balloon.stats), .def = "true",
	  .help = "offer the statistics queue (the guest's figures in inspect and /metrics)" },
	{ .json = "balloon.deflate_on_oom", .cli = "balloon-deflate-on-oom",
	  .cli_neg = "no-balloon-deflate-on-oom", .type = CONFIG_BOOL,
	  VM(balloon.deflate_on_oom), .def = "true",
	  .help = "let the guest take pages back from the balloon rather than run out of "
		  "memory" },
	{ .json = "balloon.free_page_reporting", .cli = "balloon-reporting",
	  .cli_neg = "no-balloon-reporting", .type = CONFIG_BOOL, VM(balloon.reporting),
	  .def = "true",
	  .help = "free page reporting: memory the guest frees goes back to the host" },
	{ .json = "vsock", .cli = "vsock", .metavar = "cid=N,socket=PATH[,allow=PORTS]",
	  .type = CONFIG_OBJECT, .parse = config_cli_vsock,
	  .help = "virtio-vsock with the guest CID N (>= 3), hybrid-vsock style: host clients "
		  "connect to the unix socket PATH and send \"CONNECT <port>\\n\"; guest "
		  "connections to host port P go to PATH_P, only for the ports in PORTS "
		  "(e.g. 1024:5000-5009; default none)" },
	{ .json = "vsock.cid", .type = CONFIG_UINT, VM(vsock.cid), .min = 3, .max = 0xfffffffeu },
	{ .json = "vsock.socket", .type = CONFIG_PATH, VM(vsock.socket) },
	{ .json = "vsock.allow", .type = CONFIG_STR, VM(vsock.allow), .max = VM_VSOCK_ALLOW_MAX,
	  .check = args_check_vsock_ports },
	{ .json = "test_device", .cli = "test-device", .type = CONFIG_BOOL, VM(test_device),
	  .def = "false", .help = "add the test device (ports 0xf0-0xfb) used by test guests" },
	/* `bulkhead run` only: this process, not the VM. */
	{ .cli = "sandbox-uid", .metavar = "N", .type = CONFIG_UINT, RUN(sandbox_uid),
	  /* 0 would be root; (uid_t)-1 means "unchanged" to setresuid. */
	  .min = 1, .max = 0xfffffffeu,
	  .help = "uid the jailed VM process runs as (default when root: 0x70000000 + its "
		  "PID, distinct per VM; unprivileged: a user namespace maps the invoking "
		  "user to 0, this is ignored)" },
	{ .cli = "sandbox-gid", .metavar = "N", .type = CONFIG_UINT, RUN(sandbox_gid),
	  .min = 1, .max = 0xfffffffeu, .help = "gid likewise" },
	{ .cli = "no-sandbox", .type = CONFIG_BOOL, RUN(no_sandbox),
	  .help = "run the VM process WITHOUT its jail (namespaces, uid, capabilities, "
		  "rlimits, cgroup, Landlock, seccomp): debugging only, logged loudly" },
	{ .cli = "seccomp-trap", .type = CONFIG_BOOL, RUN(seccomp_trap),
	  .help = "report a forbidden system call by number instead of killing silently "
		  "(development aid; weaker)" },
	{ .cli = "switch", .metavar = "PATH", .type = CONFIG_STR, RUN(switch_path),
	  .help = "the control socket of a running `bulkhead switch` (listening at PATH): "
		  "--net switch=SEGMENT ports are registered there (default: this command "
		  "starts a switch of its own, which ends with the VM)" },
	{ .cli = "uplink", .metavar = "SEGMENT", .type = CONFIG_STR, RUN(uplink),
	  .help = "give segment SEGMENT of the switch this command starts an uplink to the "
		  "outside through passt (Debian package passt; `bulkhead switch --uplink`); "
		  "not with --switch (give --uplink to that switch)" },
	{ .cli = "control", .metavar = "SOCKET", .type = CONFIG_PATH, RUN(control_path),
	  .help = "serve the control protocol on a new unix socket SOCKET (mode 0600) for "
		  "this standalone VM: `bulkhead snapshot --control SOCKET DIR`" },
	{ .cli = "control-fd", .metavar = "N", .type = CONFIG_UINT, RUN(control_fd), .min = 3,
	  .max = 1u << 20,
	  .help = "serve the daemon's control protocol on the inherited listening socket N "
		  "(used by bulkheadd)" },
	{ .cli = "fd", .metavar = "NAME=N", .parse = config_cli_fd,
	  .help = "keep inherited descriptor N (>= 3) open in the VM process under NAME, for "
		  "devices that take host resources by name (repeatable, up to "
		  STR(CONFIG_FDS_MAX) ")" },
	{ .cli = "verbose", .short_opt = 'v', .type = CONFIG_CONST, RUN(log),
	  .min = RUN_LOG_VERBOSE,
	  .help = "more diagnostics, and where start-up time went (each step from exec to the first guest exit)" },
	{ .cli = "quiet", .short_opt = 'q', .type = CONFIG_CONST, RUN(log), .min = RUN_LOG_QUIET,
	  .help = "warnings and errors only" },
	{ .cli = "help", .short_opt = 'h', .type = CONFIG_CONST, RUN(help), .min = 1,
	  .flags = CONFIG_STOP, .help = "this text" },
};
_Static_assert(BH_ARRAY_SIZE(rows) <= CONFIG_ROWS_MAX, "grow CONFIG_ROWS_MAX");

const struct config_row *config_rows(size_t *n)
{
	*n = BH_ARRAY_SIZE(rows);
	return rows;
}

size_t config_row_index(const struct config_row *r)
{
	return (size_t)(r - rows);
}

const struct config_row *config_row_find(const char *key)
{
	for (size_t i = 0; i < BH_ARRAY_SIZE(rows); i++)
		if (rows[i].json && !strcmp(rows[i].json, key))
			return &rows[i];
	for (size_t i = 0; i < BH_ARRAY_SIZE(rows); i++)
		if (rows[i].cli && !strcmp(rows[i].cli, key))
			return &rows[i];
	return NULL;
}

void *config_field(const struct config_parse *p, const struct config_row *r)
{
	switch (r->target) {
	case CONFIG_TO_VM: return (char *)p->cfg + r->off;
	case CONFIG_TO_ELEM: return p->elem ? (char *)p->elem + r->off : NULL;
	case CONFIG_TO_RUN: return p->run ? (char *)p->run + r->off : NULL;
	case CONFIG_TO_NONE: break;
	}
	return NULL;
}

void config_mark_given(struct config_parse *p, const struct config_row *r)
{
	size_t i = config_row_index(r);

	if (p->given)
		p->given[i / 64] |= 1ull << (i % 64);
}

bool config_given(const struct run_opts *run, const char *key)
{
	const struct config_row *r = config_row_find(key);
	size_t i;

	if (!r)
		return false;
	i = config_row_index(r);
	return run->given[i / 64] & (1ull << (i % 64));
}

const struct config_row *config_array_of(const struct config_row *m)
{
	const char *br = m->json ? strstr(m->json, "[].") : NULL;

	if (!br)
		return NULL;
	for (size_t i = 0; i < BH_ARRAY_SIZE(rows); i++)
		if (rows[i].type == CONFIG_ARRAY && rows[i].json &&
		    strlen(rows[i].json) == (size_t)(br - m->json) &&
		    !strncmp(rows[i].json, m->json, (size_t)(br - m->json)))
			return &rows[i];
	return NULL;
}

void *config_array_elem(struct vm_config *cfg, const struct config_row *a, unsigned i)
{
	return (char *)cfg + a->off + (size_t)i * a->size;
}

unsigned *config_array_count(struct vm_config *cfg, const struct config_row *a)
{
	return (unsigned *)(void *)((char *)cfg + a->count_off);
}

/* The size a row's field must have for its type (0: no field). */
static size_t type_size(const struct config_row *r)
{
	switch (r->type) {
	case CONFIG_STR:
		return r->flags & CONFIG_INLINE ? (size_t)r->max + 1 : sizeof(const char *);
	case CONFIG_PATH: return sizeof(const char *);
	case CONFIG_SIZE: return sizeof(uint64_t);
	case CONFIG_UINT: return sizeof(unsigned);
	case CONFIG_BOOL: return sizeof(bool);
	case CONFIG_ENUM: case CONFIG_CONST: return sizeof(int);
	case CONFIG_OBJECT: case CONFIG_ARRAY: break;
	}
	return 0;
}

static int set_string(struct config_parse *p, const struct config_row *r, const char *name,
		      const char *s, void *f)
{
	size_t max = r->type == CONFIG_STR && r->max ? (size_t)r->max : CONFIG_STR_MAX;
	size_t len = strnlen(s, max + 1);
	int ret;

	if (len == 0 || len > max) {
		snprintf(p->err, p->errlen, "%s: must be 1-%zu characters without NUL bytes", name,
			 max);
		return -EINVAL;
	}
	if ((r->flags & CONFIG_NONE_WORD) && !strcmp(s, "none")) {
		*(const char **)f = NULL;
		return 0;
	}
	if (r->type == CONFIG_PATH && (p->flags & CONFIG_JSON_ABS_PATHS) && s[0] != '/') {
		snprintf(p->err, p->errlen, "%s %.200s: must be an absolute path%s", name, s,
			 r->flags & CONFIG_NONE_WORD ? " or none" : "");
		return -EINVAL;
	}
	if (r->check && (ret = r->check(name, s, p->err, p->errlen)))
		return ret;
	if (r->flags & CONFIG_INLINE)
		memcpy(f, s, len + 1); /* len <= max, the array holds max + 1 */
	else
		*(const char **)f = s;
	return 0;
}

int config_set_text(struct config_parse *p, const struct config_row *r, const char *name,
		    const char *s)
{
	void *f = config_field(p, r);
	uint64_t u64;
	unsigned u;
	int ret = 0;

	if (!f || r->size != type_size(r)) {
		snprintf(p->err, p->errlen, "%s: no such setting here", name);
		return -EINVAL;
	}
	switch (r->type) {
	case CONFIG_STR:
	case CONFIG_PATH:
		ret = set_string(p, r, name, s, f);
		break;
	case CONFIG_SIZE:
		if (!(ret = args_parse_size(name, s, r->unit, &u64, p->err, p->errlen)))
			*(uint64_t *)f = u64;
		break;
	case CONFIG_UINT:
		if (!(ret = args_parse_uint(name, s, (unsigned)r->min, (unsigned)r->max, &u, p->err,
					    p->errlen)))
			*(unsigned *)f = u;
		break;
	case CONFIG_BOOL:
		if (!strcmp(s, "true") || !strcmp(s, "on"))
			*(bool *)f = true;
		else if (!strcmp(s, "false") || !strcmp(s, "off"))
			*(bool *)f = false;
		else {
			snprintf(p->err, p->errlen, "%s %.64s: expected true or false", name, s);
			ret = -EINVAL;
		}
		break;
	case CONFIG_ENUM: {
		int i;

		for (i = 0; r->names[i]; i++)
			if (!strcmp(s, r->names[i]))
				break;
		if (r->names[i]) {
			*(int *)f = i;
			break;
		}
		snprintf(p->err, p->errlen, "%s %.64s: expected one of", name, s);
		for (i = 0; r->names[i]; i++) {
			size_t l = strlen(p->err);

			snprintf(p->err + l, p->errlen - l, "%s %s", i ? "," : "", r->names[i]);
		}
		ret = -EINVAL;
		break;
	}
	case CONFIG_CONST:
		*(int *)f = (int)r->min;
		break;
	case CONFIG_OBJECT:
	case CONFIG_ARRAY:
		snprintf(p->err, p->errlen, "%s: not a single value", name);
		ret = -EINVAL;
		break;
	}
	if (!ret)
		config_mark_given(p, r);
	return ret;
}

/* Apply the defaults of the rows with `target` (TO_ELEM: the members of the
 * array row `a`); a broken default is a table bug that
 * tests/unit/config/test_schema.c catches. */
static void apply_defaults(struct config_parse *p, enum config_target target,
			   const struct config_row *a)
{
	for (size_t i = 0; i < BH_ARRAY_SIZE(rows); i++) {
		int ret;

		if (rows[i].target != target || !rows[i].def ||
		    (rows[i].flags & CONFIG_HOST_DEFAULT))
			continue;
		if (target == CONFIG_TO_ELEM && config_array_of(&rows[i]) != a)
			continue;
		ret = config_set_text(p, &rows[i], rows[i].json ? rows[i].json : rows[i].cli,
				      rows[i].def);
		(void)ret; /* cannot fail for a well-formed row: test_schema.c checks each */
	}
}

void config_defaults(struct vm_config *cfg)
{
	char err[128];
	struct config_parse p = { .cfg = cfg, .err = err, .errlen = sizeof(err) };

	memset(cfg, 0, sizeof(*cfg));
	apply_defaults(&p, CONFIG_TO_VM, NULL);
}

void config_elem_defaults(struct config_parse *p, const struct config_row *a, void *elem)
{
	struct config_parse q = *p;

	memset(elem, 0, a->size);
	q.elem = elem;
	q.given = NULL;
	apply_defaults(&q, CONFIG_TO_ELEM, a);
}

/* Each NIC names exactly one backend. */
static int validate_nets(const struct vm_config *cfg, bool cli, char *err, size_t errlen)
{
	for (unsigned i = 0; i < cfg->nnets; i++) {
		const struct vm_net *n = &cfg->nets[i];
		int k = !!n->tap + !!n->tapfd + !!n->port + !!n->switch_seg;
		char name[32];

		if (k == 1)
			continue;
		if (cli)
			snprintf(name, sizeof(name), "--net (NIC %u)", i);
		else
			snprintf(name, sizeof(name), "nets[%u]", i);
		snprintf(err, errlen, "%s: %s one of tap, tapfd, port, switch", name,
			 k ? "more than" : "needs");
		return -EINVAL;
	}
	for (unsigned i = 0; i < cfg->nnets; i++) {
		const struct vm_net *n = &cfg->nets[i];
		if ((n->ip || n->rate || n->pps) && !n->switch_seg && !n->switch_made) {
			snprintf(err, errlen, "%s%u%s: ip, rate and pps are a switch port's (switch=SEGMENT)",
				 cli ? "--net (NIC " : "nets[", i, cli ? ")" : "]");
			return -EINVAL;
		}
	}
	return 0;
}

int config_validate(const struct vm_config *cfg, bool cli, char *err, size_t errlen)
{
	int ret;

	if (cfg->console == CONSOLE_FILE && !cfg->console_path) {
		snprintf(err, errlen, cli ? "--console file: needs a path (file:PATH)"
					  : "console.path: needed with mode \"file\"");
		return -EINVAL;
	}
	if (cfg->ndisks > VM_MAX_DISKS) {
		snprintf(err, errlen, "%s: at most %d disks", cli ? "--disk" : "disks",
			 VM_MAX_DISKS);
		return -ERANGE;
	}
	for (unsigned i = 0; i < cfg->ndisks; i++)
		if (!cfg->disks[i].path) {
			snprintf(err, errlen, "disks[%u].path: missing", i);
			return -EINVAL;
		}
	if ((cfg->vsock.socket || cfg->vsock.allow) && !cfg->vsock.cid) {
		snprintf(err, errlen, cli ? "--vsock: needs cid=N" : "vsock.cid: missing");
		return -EINVAL;
	}
	if (cfg->vsock.cid && !cfg->vsock.socket) {
		snprintf(err, errlen, cli ? "--vsock: needs socket=PATH" : "vsock.socket: missing");
		return -EINVAL;
	}
	if (cfg->balloon.target_bytes > cfg->mem_bytes) {
		snprintf(err, errlen, "%s %llu MiB: above the VM's memory (%s %llu MiB)",
			 cli ? "--balloon-target" : "balloon.target",
			 (unsigned long long)(cfg->balloon.target_bytes >> 20), cli ? "--mem" : "mem",
			 (unsigned long long)(cfg->mem_bytes >> 20));
		return -ERANGE;
	}
	if (cfg->balloon.target_bytes && !cfg->balloon.enabled) {
		snprintf(err, errlen, "%s: needs the balloon (%s)",
			 cli ? "--balloon-target" : "balloon.target",
			 cli ? "--balloon" : "balloon.enabled: true");
		return -EINVAL;
	}
	if (cfg->nnets > VM_MAX_NETS) {
		snprintf(err, errlen, "%s: at most %d NICs", cli ? "--net" : "nets", VM_MAX_NETS);
		return -ERANGE;
	}
	if ((ret = validate_nets(cfg, cli, err, errlen)))
		return ret;
	return config_validate_placement(cfg, cli, err, errlen);
}
