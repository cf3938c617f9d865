/* run.c — `bulkhead run`: parse options into a vm_config, build the VM, run it
 * in the foreground, map the stop reason to an exit code. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/args.h"
#include "cli/cli.h"
#include "config/config_json.h"
#include "config/exit_codes.h"
#include "common/log.h"
#include "common/startup.h"
#include "sandbox/jail.h"
#include "vmm/fd_table.h"
#include "vmm/vmm_main.h"

#define DEFAULT_MEM (256ULL << 20)
#define DEFAULT_CONSOLE_MAX (64ULL << 20)
#define DEFAULT_CMDLINE "console=ttyS0 reboot=k panic=-1"

void cli_run_usage(FILE *out)
{
	fprintf(out,
		"usage: bulkhead run (--kernel PATH | --guest NAME) [OPTIONS]\n"
		"\n"
		"Boot a VM in the foreground. Options:\n"
		"  --config FILE         VM configuration as JSON (docs/api.md); options after it\n"
		"                        override its values\n"
		"  --kernel PATH         kernel: bzImage, vmlinux ELF, or a freestanding ELF\n"
		"  --initrd PATH         initial ramdisk\n"
		"  --cmdline STR         kernel command line (default: \"" DEFAULT_CMDLINE "\")\n"
		"  --guest NAME|DIR      use a prepared guest: files kernel, initrd, cmdline in\n"
		"                        DIR (a path containing '/') or $BULKHEAD_GUESTS/NAME\n"
		"                        (default ~/.cache/bulkhead/guests/NAME, made by\n"
		"                        `make guest`); --kernel/--initrd/--cmdline override parts\n"
		"  --mem SIZE            guest RAM, e.g. 256M, 2G (default 256M; bare number = MiB)\n"
		"  --cpus N              vCPUs (default 1)\n"
		"  --console MODE        stdio (default), none, file:PATH, or virtio (stdio on\n"
		"                        a virtio-console: the guest's hvc0, fewer exits than\n"
		"                        the UART; use console=hvc0 on the kernel command line)\n"
		"  --console-max SIZE    cap on console bytes written (default 64M)\n"
		"  --cpu-template T      host (all KVM-supported features) or baseline (default:\n"
		"                        a conservative, migration-safe subset)\n"
		"  --boot-protocol P     auto (default), linux64, or pvh (ELF kernels with a PVH note)\n"
		"  --decompress WHERE    host (default: decompress a bzImage payload on the host,\n"
		"                        cached) or guest (let the kernel decompress itself)\n"
		"  --kernel-cache DIR    cache for host-decompressed kernels, or 'none'\n"
		"                        (default ~/.cache/bulkhead/kernels)\n"
		"  --disk path=IMG[,ro=on][,id=NAME]\n"
		"                        a raw disk image as virtio-blk (/dev/vda, /dev/vdb, ...\n"
		"                        in order; up to 8). ro=on opens the file read-only;\n"
		"                        id is the serial the guest reads (max 20 characters)\n"
		"  --rng, --no-rng       virtio-rng fed from the host's getrandom() (default on)\n"
		"  --test-device         add the test device (ports 0xf0-0xfb) used by test guests\n"
		"  --sandbox-uid N       uid the jailed VM process runs as (default when root:\n"
		"                        0x%x + its PID, distinct per VM; unprivileged: a user\n"
		"                        namespace maps the invoking user to 0, this is ignored)\n"
		"  --sandbox-gid N       gid likewise\n"
		"  --no-sandbox          run the VM process WITHOUT its jail (namespaces, uid,\n"
		"                        capabilities, rlimits, cgroup, Landlock, seccomp):\n"
		"                        debugging only, logged loudly\n"
		"  --seccomp-trap        report a forbidden system call by number instead of\n"
		"                        killing silently (development aid; weaker)\n"
		"  --control-fd N        serve the daemon's control protocol on the inherited\n"
		"                        listening socket N (used by bulkheadd)\n"
		"  --fd NAME=N           keep inherited descriptor N (>= 3) open in the VM\n"
		"                        process under NAME, for devices that take host\n"
		"                        resources by name (repeatable, up to %d)\n"
		"  -v, --verbose         more diagnostics, and where start-up time went (each\n"
		"                        step from exec to the first guest exit);\n"
		"  -q, --quiet           warnings and errors only\n"
		"  -h, --help            this text\n"
		"\n"
		"Exit status: 0 guest powered off or rebooted; 1 host failure; 2 bad arguments or\n"
		"images; 3 guest crashed (register dump on stderr); 4 stopped by a signal;\n"
		"5 guest reported failure through the test device.\n",
		JAIL_ID_BASE, FD_TABLE_MAX);
}

enum {
	OPT_KERNEL = 256, OPT_INITRD, OPT_CMDLINE, OPT_GUEST, OPT_MEM, OPT_CPUS, OPT_CONSOLE,
	OPT_CONSOLE_MAX, OPT_CPU_TEMPLATE, OPT_BOOT_PROTO, OPT_DECOMPRESS, OPT_KCACHE, OPT_TESTDEV,
	OPT_DISK, OPT_RNG, OPT_NO_RNG, OPT_NO_SANDBOX, OPT_SANDBOX_UID, OPT_SANDBOX_GID,
	OPT_SECCOMP_TRAP,
	OPT_CONFIG, OPT_CONTROL_FD, OPT_FD,
};

static const struct option run_opts[] = {
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "initrd", required_argument, NULL, OPT_INITRD },
	{ "cmdline", required_argument, NULL, OPT_CMDLINE },
	{ "guest", required_argument, NULL, OPT_GUEST },
	{ "mem", required_argument, NULL, OPT_MEM },
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "console", required_argument, NULL, OPT_CONSOLE },
	{ "console-max", required_argument, NULL, OPT_CONSOLE_MAX },
	{ "cpu-template", required_argument, NULL, OPT_CPU_TEMPLATE },
	{ "boot-protocol", required_argument, NULL, OPT_BOOT_PROTO },
	{ "decompress", required_argument, NULL, OPT_DECOMPRESS },
	{ "kernel-cache", required_argument, NULL, OPT_KCACHE },
	{ "test-device", no_argument, NULL, OPT_TESTDEV },
	{ "disk", required_argument, NULL, OPT_DISK },
	{ "rng", no_argument, NULL, OPT_RNG },
	{ "no-rng", no_argument, NULL, OPT_NO_RNG },
	{ "no-sandbox", no_argument, NULL, OPT_NO_SANDBOX },
	{ "sandbox-uid", required_argument, NULL, OPT_SANDBOX_UID },
	{ "sandbox-gid", required_argument, NULL, OPT_SANDBOX_GID },
	{ "seccomp-trap", no_argument, NULL, OPT_SECCOMP_TRAP },
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "control-fd", required_argument, NULL, OPT_CONTROL_FD },
	{ "fd", required_argument, NULL, OPT_FD },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* Paths owned by the run command (guest dir lookups, cached cmdline text). */
struct run_paths {
	char guest_kernel[PATH_MAX];
	char guest_initrd[PATH_MAX];
	char kcache[PATH_MAX];
	char cmdline[4096];
	char disk[VM_MAX_DISKS][PATH_MAX];
};

static const char *cache_root(char *buf, size_t len, const char *sub)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	int n;

	if (xdg && *xdg)
		n = snprintf(buf, len, "%s/bulkhead/%s", xdg, sub);
	else if (home && *home)
		n = snprintf(buf, len, "%s/.cache/bulkhead/%s", home, sub);
	else
		return NULL;
	return n > 0 && (size_t)n < len ? buf : NULL;
}

/* dst = dir + "/" + file; false if it does not fit. */
static bool join(char *dst, size_t len, const char *dir, const char *file)
{
	int n = snprintf(dst, len, "%s/%s", dir, file);

	return n > 0 && (size_t)n < len;
}

/* Resolve --guest NAME|DIR into kernel/initrd/cmdline (explicit options win). */
static int resolve_guest(const char *name, struct vm_config *cfg, struct run_paths *p,
			 bool have_cmdline, char *err, size_t errlen)
{
	char dir[PATH_MAX], root[PATH_MAX], path[PATH_MAX];
	const char *env = getenv("BULKHEAD_GUESTS");
	struct stat st;
	bool ok;
	FILE *f;

	if (!*name || !strcmp(name, ".") || !strcmp(name, "..")) {
		snprintf(err, errlen, "--guest '%s': not a guest name or directory", name);
		return -EINVAL;
	}
	if (strchr(name, '/'))
		ok = join(dir, sizeof(dir), name, "."); /* a directory path */
	else if (env && *env)
		ok = join(dir, sizeof(dir), env, name);
	else
		ok = cache_root(root, sizeof(root), "guests") && join(dir, sizeof(dir), root, name);
	if (!ok) {
		snprintf(err, errlen, "--guest %.200s: cannot locate the guest directory", name);
		return -EINVAL;
	}
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen,
			 "--guest %.200s: %.200s does not exist (prepare it with `make guest`)",
			 name, dir);
		return -ENOENT;
	}
	if (!join(p->guest_kernel, sizeof(p->guest_kernel), dir, "kernel") ||
	    !join(p->guest_initrd, sizeof(p->guest_initrd), dir, "initrd") ||
	    !join(path, sizeof(path), dir, "cmdline")) {
		snprintf(err, errlen, "--guest %.200s: path too long", name);
		return -ENAMETOOLONG;
	}
	if (!cfg->boot.kernel_path)
		cfg->boot.kernel_path = p->guest_kernel;
	if (!cfg->boot.initrd_path && access(p->guest_initrd, F_OK) == 0)
		cfg->boot.initrd_path = p->guest_initrd;
	if (!have_cmdline && (f = fopen(path, "re"))) {
		size_t n = fread(p->cmdline, 1, sizeof(p->cmdline) - 1, f);

		fclose(f);
		p->cmdline[n] = '\0';
		p->cmdline[strcspn(p->cmdline, "\n")] = '\0';
		cfg->boot.cmdline = p->cmdline;
	}
	return 0;
}

/* Read and apply a JSON configuration file over *cfg; *root keeps its strings. */
static int load_config(const char *path, struct vm_config *cfg, struct json_object **root,
		       char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = fopen(path, "re");
	int ret;

	if (*root) {
		snprintf(err, errlen, "--config given twice");
		if (f)
			fclose(f);
		return -EINVAL;
	}
	if (!f) {
		snprintf(err, errlen, "--config %.200s: %s", path, strerror(errno));
		return -errno;
	}
	buf = malloc(CONFIG_JSON_MAX + 1);
	if (buf)
		len = fread(buf, 1, CONFIG_JSON_MAX + 1, f);
	if (!buf || ferror(f)) {
		snprintf(err, errlen, "--config %.200s: cannot read it", path);
		ret = -EIO;
	} else if (len > CONFIG_JSON_MAX) {
		snprintf(err, errlen, "--config %.200s: larger than %d bytes", path,
			 CONFIG_JSON_MAX);
		ret = -E2BIG;
	} else {
		char msg[300];

		ret = config_json_parse(buf, len, 0, cfg, root, msg, sizeof(msg));
		if (ret)
			snprintf(err, errlen, "--config %.100s: %.300s", path, msg);
	}
	free(buf);
	fclose(f);
	return ret;
}

/* --fd NAME=N: the syntax (config/args.c), then the table's checks (open,
 * not a directory, unique name and number, room). The table takes the fd
 * only once vmm_main() runs; an error here leaves it as inherited. */
static int add_named_fd(struct fd_table *fds, const char *arg, char *err, size_t errlen)
{
	char name[BH_FD_NAME_MAX + 1], why[300];
	int fd;

	if (args_parse_named_fd("--fd", arg, name, &fd, err, errlen))
		return -EINVAL;
	if (fd_table_add(fds, name, fd, why, sizeof(why))) {
		snprintf(err, errlen, "--%s", why);
		return -EINVAL;
	}
	return 0;
}

static int bad(const char *msg)
{
	bh_err("%s", msg);
	fprintf(stderr, "Try 'bulkhead run --help'.\n");
	return BH_EXIT_CONFIG;
}

static int bad_json(struct json_object *json, const char *msg)
{
	config_json_free(json);
	return bad(msg);
}

int cli_run(int argc, char **argv, uint64_t start_ns)
{
	struct vm_config cfg = {
		.mem_bytes = DEFAULT_MEM,
		.ncpus = 1,
		.console = CONSOLE_STDIO,
		.console_max_bytes = DEFAULT_CONSOLE_MAX,
		.cpu_template = CPU_TEMPLATE_BASELINE,
		.rng = true,
		.start_ns = start_ns,
		.boot = { .proto = BOOT_PROTO_AUTO, .decompress = BOOT_DECOMPRESS_HOST },
	};
	struct run_paths paths; /* ~16 KiB: guest file paths and cmdline text */
	const char *guest = NULL, *kcache = NULL;
	struct jail_config jcfg = { .enabled = true };
	struct bh_startup startup; /* -v: where start-up time goes (common/startup.h) */
	struct json_object *json = NULL; /* --config document (owns cfg strings) */
	int control_fd = -1;
	struct fd_table fds; /* --fd NAME=N */
	char err[512];
	int c, ret;

	cfg.boot.cache_dir = cache_root(paths.kcache, sizeof(paths.kcache), "kernels");
	fd_table_init(&fds);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":vqh", run_opts, NULL)) != -1) {
		err[0] = '\0';
		switch (c) {
		case OPT_KERNEL: cfg.boot.kernel_path = optarg; break;
		case OPT_INITRD: cfg.boot.initrd_path = optarg; break;
		case OPT_CMDLINE: cfg.boot.cmdline = optarg; break;
		case OPT_GUEST: guest = optarg; break;
		case OPT_MEM:
			if (args_parse_size("--mem", optarg, BH_MiB, &cfg.mem_bytes, err, sizeof(err)))
				return bad_json(json, err);
			break;
		case OPT_CPUS:
			if (args_parse_uint("--cpus", optarg, 1, VM_MAX_VCPUS, &cfg.ncpus, err,
					    sizeof(err)))
				return bad_json(json, err);
			break;
		case OPT_CONSOLE:
			if (!strcmp(optarg, "stdio"))
				cfg.console = CONSOLE_STDIO;
			else if (!strcmp(optarg, "none"))
				cfg.console = CONSOLE_NONE;
			else if (!strncmp(optarg, "file:", 5) && optarg[5]) {
				cfg.console = CONSOLE_FILE;
				cfg.console_path = optarg + 5;
			} else if (!strcmp(optarg, "virtio")) {
				cfg.console = CONSOLE_STDIO;
				cfg.console_device = CONSOLE_DEV_VIRTIO;
			} else {
				snprintf(err, sizeof(err),
					 "--console %s: expected stdio, none, file:PATH or virtio", optarg);
				return bad_json(json, err);
			}
			break;
		case OPT_CONSOLE_MAX:
			if (args_parse_size("--console-max", optarg, 1, &cfg.console_max_bytes, err,
					    sizeof(err)))
				return bad_json(json, err);
			break;
		case OPT_CPU_TEMPLATE:
			if (!strcmp(optarg, "host"))
				cfg.cpu_template = CPU_TEMPLATE_HOST;
			else if (!strcmp(optarg, "baseline"))
				cfg.cpu_template = CPU_TEMPLATE_BASELINE;
			else {
				snprintf(err, sizeof(err),
					 "--cpu-template %s: expected host or baseline", optarg);
				return bad_json(json, err);
			}
			break;
		case OPT_BOOT_PROTO:
			if (!strcmp(optarg, "auto"))
				cfg.boot.proto = BOOT_PROTO_AUTO;
			else if (!strcmp(optarg, "linux64"))
				cfg.boot.proto = BOOT_PROTO_LINUX64;
			else if (!strcmp(optarg, "pvh"))
				cfg.boot.proto = BOOT_PROTO_PVH;
			else {
				snprintf(err, sizeof(err),
					 "--boot-protocol %s: expected auto, linux64 or pvh", optarg);
				return bad_json(json, err);
			}
			break;
		case OPT_DECOMPRESS:
			if (!strcmp(optarg, "host"))
				cfg.boot.decompress = BOOT_DECOMPRESS_HOST;
			else if (!strcmp(optarg, "guest"))
				cfg.boot.decompress = BOOT_DECOMPRESS_GUEST;
			else {
				snprintf(err, sizeof(err), "--decompress %s: expected host or guest",
					 optarg);
				return bad_json(json, err);
			}
			break;
		case OPT_KCACHE: kcache = optarg; break;
		case OPT_TESTDEV: cfg.test_device = true; break;
		case OPT_DISK:
			if (cfg.ndisks == VM_MAX_DISKS) {
				snprintf(err, sizeof(err), "--disk %s: at most %d disks", optarg,
					 VM_MAX_DISKS);
				return bad_json(json, err);
			}
			if (args_parse_disk("--disk", optarg, &cfg.disks[cfg.ndisks],
					    paths.disk[cfg.ndisks], sizeof(paths.disk[0]), err,
					    sizeof(err)))
				return bad_json(json, err);
			cfg.ndisks++;
			break;
		case OPT_RNG: cfg.rng = true; break;
		case OPT_NO_RNG: cfg.rng = false; break;
		case OPT_NO_SANDBOX: jcfg.enabled = false; break;
		case OPT_SECCOMP_TRAP: jcfg.seccomp_trap = true; break;
		case OPT_SANDBOX_UID:
		case OPT_SANDBOX_GID: {
			const char *name = c == OPT_SANDBOX_UID ? "--sandbox-uid" : "--sandbox-gid";
			unsigned id;

			/* 0 would be root; (uid_t)-1 means "unchanged" to setresuid. */
			if (args_parse_uint(name, optarg, 1, 0xfffffffeU, &id, err, sizeof(err)))
				return bad_json(json, err);
			if (c == OPT_SANDBOX_UID)
				jcfg.uid = id;
			else
				jcfg.gid = id;
			break;
		}
		case OPT_CONFIG:
			if (load_config(optarg, &cfg, &json, err, sizeof(err)))
				return bad_json(json, err);
			break;
		case OPT_CONTROL_FD: {
			unsigned fd;

			if (args_parse_uint("--control-fd", optarg, 3, 1u << 20, &fd, err,
					    sizeof(err)))
				return bad_json(json, err);
			control_fd = (int)fd;
			break;
		}
		case OPT_FD:
			if (add_named_fd(&fds, optarg, err, sizeof(err)))
				return bad_json(json, err);
			break;
		case 'v': bh_log_set_level(BH_LOG_DEBUG); break;
		case 'q': bh_log_set_level(BH_LOG_WARN); break;
		case 'h': cli_run_usage(stdout); return BH_EXIT_OK;
		case ':':
			snprintf(err, sizeof(err), "option %s needs a value", argv[optind - 1]);
			return bad_json(json, err);
		default:
			snprintf(err, sizeof(err), "unknown option '%s'", argv[optind - 1]);
			return bad_json(json, err);
		}
	}
	if (optind < argc) {
		snprintf(err, sizeof(err), "unexpected argument '%s'", argv[optind]);
		return bad_json(json, err);
	}
	if (guest && resolve_guest(guest, &cfg, &paths, cfg.boot.cmdline != NULL, err, sizeof(err)))
		return bad_json(json, err);
	if (!cfg.boot.kernel_path)
		return bad_json(json, "no kernel: give --kernel PATH or --guest NAME");
	if (!cfg.boot.cmdline)
		cfg.boot.cmdline = DEFAULT_CMDLINE;
	if (kcache && !strcmp(kcache, "none"))
		cfg.boot.cache_dir = NULL;
	else if (kcache)
		cfg.boot.cache_dir = kcache;

	cfg.sandbox_disabled = !jcfg.enabled;
	bh_startup_init(&startup, start_ns);
	cfg.startup = &startup;
	ret = vmm_main(&cfg, &jcfg, control_fd, &fds);
	config_json_free(json);
	return ret;
}
