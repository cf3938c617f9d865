/* run.c — `bulkhead run`: parse options into a vm_config (config/schema.h),
 * resolve what depends on this host (--guest, the kernel cache), and hand the
 * VM to the VMM (vmm_main), whose exit code it returns. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "config/exit_codes.h"
#include "config/schema.h"
#include "common/log.h"
#include "common/startup.h"
#include "sandbox/jail.h"
#include "vmm/fd_table.h"
#include "cli/run_switch.h"
#include "vmm/vmm_main.h"

/* The --sandbox-uid help (config/schema.c) states the jail's id base. */
_Static_assert(JAIL_ID_BASE == 0x70000000u, "update --sandbox-uid's help in config/schema.c");
/* The schema bounds --fd like the VMM's named-fd table. */
_Static_assert(CONFIG_FDS_MAX == FD_TABLE_MAX, "CONFIG_FDS_MAX must equal FD_TABLE_MAX");

void cli_run_usage(FILE *out)
{
	config_usage(out);
}

/* Paths owned by the run command (guest dir lookups, cached cmdline text). */
struct run_paths {
	char guest_kernel[PATH_MAX];
	char guest_initrd[PATH_MAX];
	char kcache[PATH_MAX];
	char cmdline[4096];
	char cmdline_full[8192];   /* the command line + --cmdline-append */
};

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
		ok = !cli_cache_path(root, sizeof(root), "guests") && join(dir, sizeof(dir), root, name);
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
	{
		char real[PATH_MAX];

		bh_dbg("--guest %s: %s", name, realpath(dir, real) ? real : dir);
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

/* --fd NAME=N: the schema checked the syntax; now the table's checks (open,
 * not a directory, unique name and number). The table takes the fds only
 * once vmm_main() runs; an error here leaves them as inherited. */
static int add_named_fds(const struct run_opts *run, struct fd_table *fds, char *err,
			 size_t errlen)
{
	char why[300];

	for (unsigned i = 0; i < run->nfds; i++)
		if (fd_table_add(fds, run->fds[i].name, run->fds[i].fd, why, sizeof(why))) {
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

int cli_run(int argc, char **argv, uint64_t start_ns)
{
	struct vm_config cfg;
	struct run_opts *run; /* ~36 KiB: --disk paths */
	struct run_paths paths; /* ~16 KiB: guest file paths and cmdline text */
	struct jail_config jcfg = { .enabled = true };
	struct bh_startup startup; /* -v: where start-up time goes (common/startup.h) */
	struct fd_table fds; /* --fd NAME=N */
	char swnames[VM_MAX_NETS][BH_FD_NAME_MAX + 1]; /* --net switch= ports' fd names */
	char err[512];
	int ret;

	run = malloc(sizeof(*run));
	if (!run) {
		bh_err("out of memory");
		return BH_EXIT_HOST;
	}
	config_defaults(&cfg);
	cfg.start_ns = start_ns;
	fd_table_init(&fds);
	if (config_cli_parse(argc, argv, &cfg, run, err, sizeof(err))) {
		free(run);
		return bad(err);
	}
	if (run->help) {
		cli_run_usage(stdout);
		ret = BH_EXIT_OK;
		goto out;
	}
	if (run->log == RUN_LOG_VERBOSE)
		bh_log_set_level(BH_LOG_DEBUG);
	else if (run->log == RUN_LOG_QUIET)
		bh_log_set_level(BH_LOG_WARN);
	if (run->guest && resolve_guest(run->guest, &cfg, &paths, config_given(run, "cmdline"),
					err, sizeof(err))) {
		ret = bad(err);
		goto out;
	}
	if (!cfg.boot.kernel_path) {
		ret = bad("no kernel: give --kernel PATH or --guest NAME");
		goto out;
	}
	/* Appended, not replaced: a prepared guest's command line carries what
	 * its kernel needs on this host kind (the lab kernel's switches on a
	 * PVM host); the boot loader checks the total against the kernel's
	 * cmdline_size. */
	if (run->cmdline_append && *run->cmdline_append) {
		const char *base = cfg.boot.cmdline ? cfg.boot.cmdline : "";
		int n = snprintf(paths.cmdline_full, sizeof(paths.cmdline_full), "%s%s%s", base,
				 *base ? " " : "", run->cmdline_append);

		if (n < 0 || (size_t)n >= sizeof(paths.cmdline_full)) {
			ret = bad("--cmdline-append: the command line would exceed 8 KiB");
			goto out;
		}
		cfg.boot.cmdline = paths.cmdline_full;
	}
	if (add_named_fds(run, &fds, err, sizeof(err))) {
		ret = bad(err);
		goto out;
	}
	if (run_switch_ports(&cfg, run->switch_path, run->uplink, !run->no_sandbox, &fds, swnames,
			     err, sizeof(err))) {
		fd_table_destroy(&fds);
		ret = bad(err);
		goto out;
	}
	/* kernel_cache's default depends on the environment (CONFIG_HOST_DEFAULT) */
	if (!config_given(run, "kernel_cache"))
		cfg.boot.cache_dir = cli_cache_path(paths.kcache, sizeof(paths.kcache), "kernels") ? NULL
											: paths.kcache;

	jcfg.enabled = !run->no_sandbox;
	jcfg.seccomp_trap = run->seccomp_trap;
	jcfg.uid = run->sandbox_uid;
	jcfg.gid = run->sandbox_gid;
	cfg.sandbox_disabled = run->no_sandbox;
	bh_startup_init(&startup, start_ns);
	cfg.startup = &startup;
	{
		int control = run->control_fd ? (int)run->control_fd : -1;

		if (run->control_path) {
			if (control >= 0) {
				ret = bad("--control and --control-fd: give one");
				goto out;
			}
			if ((control = cli_control_listen(run->control_path, err, sizeof(err))) < 0) {
				ret = bad(err);
				goto out;
			}
		}
		ret = vmm_main(&cfg, &jcfg, control, &fds);
		if (run->control_path)
			unlink(run->control_path);
	}
out:
	run_opts_free(run);
	free(run);
	return ret;
}
