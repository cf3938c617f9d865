/* schema.h — THE schema of the VM configuration: one table (schema.c), one
 * row per setting, from which everything else is derived:
 *   - the `bulkhead run` options (config_cli_parse, getopt table built from
 *     the rows) and `bulkhead run --help` (config_usage);
 *   - the JSON keys of `--config FILE` and of the daemon's create call
 *     (config_json_parse, config_json.h);
 *   - the defaults (config_defaults: each row's default text goes through the
 *     row's own parser, so the documented default is the applied one);
 *   - the validation (per row, and config_validate for what spans rows), with
 *     messages naming the option ("--mem 12Q: ...") or the key
 *     ("disks[1].read_only: ...");
 *   - the JSON Schema served as api/openapi.yaml's Config (config_schema_json,
 *     printed by `bulkheadd --config-schema`; tests/e2e/config_schema.py
 *     checks the two are equal).
 *
 * Adding a setting = a field in struct vm_config (or struct run_opts if it is
 * not the VM's configuration) + one row in schema.c + the same key in
 * api/openapi.yaml's Config + a line in README.md's option table. The unit
 * test (tests/unit/config/test_schema.c) then checks by itself that the
 * option and the key give the same vm_config.
 *
 * Pure and reentrant except config_cli_parse (getopt_long's global state:
 * call it from one thread at a time, as main() does). */
#ifndef BH_CONFIG_SCHEMA_H
#define BH_CONFIG_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/compiler.h"
#include "common/fd_name.h"
#include "config/vm_config.h"

#define CONFIG_DEFAULT_CMDLINE "console=ttyS0 reboot=k panic=-1"
#define CONFIG_STR_MAX 4096  /* paths and strings without their own limit */
#define CONFIG_ROWS_MAX 128  /* capacity of the `given` bitmap */
#define CONFIG_FDS_MAX 16    /* --fd: the VMM's FD_TABLE_MAX (cli/run.c asserts it) */

/* What a row's value is. The type says how JSON spells it; the command line
 * spells every type as text (a BOOL is a flag), unless the row has .parse. */
enum config_type {
	CONFIG_STR,    /* a string of 1..max characters (max 0: CONFIG_STR_MAX) */
	CONFIG_PATH,   /* a file path: 1..CONFIG_STR_MAX characters */
	CONFIG_SIZE,   /* "256M" (args_parse_size) or a JSON integer, in .unit bytes */
	CONFIG_UINT,   /* a whole number in [.min, .max] */
	CONFIG_BOOL,   /* JSON true/false; command line: a flag (.cli_neg stores false) */
	CONFIG_ENUM,   /* one of .names; names[v] is the name of value v */
	CONFIG_OBJECT, /* JSON object whose members are the rows "KEY.member" */
	CONFIG_ARRAY,  /* JSON array of at most .max objects: the rows "KEY[].member".
			* The field (.off) is an array of .max elements of .size bytes
			* in vm_config, .count_off its unsigned element count ("disks":
			* vm_config.disks[]/ndisks, "nets": nets[]/nnets) */
	CONFIG_CONST,  /* command-line flag storing .min into an int (-v, -q, --help) */
};

/* Which struct a row's field is in. */
enum config_target {
	CONFIG_TO_NONE, /* nothing stored (.parse does the work) */
	CONFIG_TO_VM,   /* struct vm_config */
	CONFIG_TO_ELEM, /* the array element being filled (rows "KEY[].member") */
	CONFIG_TO_RUN,  /* struct run_opts: `bulkhead run` only, not the VM's configuration */
};

/* Row flags. */
#define CONFIG_REQUIRED 0x1u     /* JSON: the key must be in its object */
#define CONFIG_API_REQUIRED 0x2u /* JSON: must be present with CONFIG_JSON_NEED_KERNEL */
#define CONFIG_NONE_WORD 0x4u    /* PATH: the word "none" stores NULL */
#define CONFIG_HOST_DEFAULT 0x8u /* default depends on the host (.def is its description):
				  * config_defaults() leaves the field zero and the front
				  * end fills it in when config_given() says it was not set */
#define CONFIG_STOP 0x10u        /* command line: stop parsing after this option (--help) */
#define CONFIG_INLINE 0x20u      /* STR: the field is a char[max + 1], not a pointer */

struct config_parse;
struct config_row;

/* A command-line form that is not "--option VALUE" of the row's type (e.g.
 * --console file:PATH, --disk path=IMG,ro=on, --config FILE). */
typedef int (*config_cli_fn)(struct config_parse *p, const struct config_row *r,
			     const char *arg);
/* Extra validation of a string value; name is the option or key. */
typedef int (*config_check_fn)(const char *name, const char *value, char *err, size_t errlen);

struct config_row {
	const char *json;     /* key path: "mem", "console.max", "disks[].id"; NULL: CLI only */
	const char *cli;      /* long option without "--"; NULL: JSON only */
	char short_opt;       /* 'v' for -v; 0: none */
	const char *cli_neg;  /* BOOL: the long option that stores false ("no-rng") */
	const char *metavar;  /* the option's argument in --help ("SIZE"); NULL: a flag */
	enum config_type type;
	enum config_target target;
	size_t off, size;     /* the field: offsetof and sizeof in the target struct
			       * (ARRAY: the array, and the size of ONE element) */
	size_t count_off;     /* ARRAY: offsetof the unsigned element count in vm_config */
	uint64_t min, max;    /* UINT: range; STR: max length; ARRAY: max items; CONST: value */
	uint64_t unit;        /* SIZE: bytes of a bare number */
	const char *const *names; /* ENUM: indexed by value, NULL-terminated */
	const char *def;      /* default as text, parsed like a value ("256M", "true");
			       * NULL: zero. With CONFIG_HOST_DEFAULT: its description */
	const char *help;     /* --help text (NULL: not in --help) */
	unsigned flags;       /* CONFIG_REQUIRED, ... */
	config_cli_fn parse;  /* the command-line form, if not the generic one */
	config_check_fn check;/* extra validation of STR values */
};

/* Options of `bulkhead run` that are not the VM's configuration (rows with
 * CONFIG_TO_RUN). They stay out of vm_config and of the JSON on purpose: they
 * say how this one process runs (its jail, log level, control socket, where
 * to find a prepared guest), not what VM it is; the daemon chooses them for
 * the VMs it spawns. */
enum run_log { RUN_LOG_DEFAULT, RUN_LOG_VERBOSE, RUN_LOG_QUIET };

/* --fd NAME=N, syntax checked (the VMM's named-fd table checks the fd). */
struct run_fd {
	char name[BH_FD_NAME_MAX + 1];
	int fd;
};

struct run_opts {
	const char *guest;        /* --guest NAME|DIR (the front end resolves it) */
	const char *cmdline_append; /* --cmdline-append STR (the front end appends it) */
	unsigned sandbox_uid;     /* --sandbox-uid; 0: the jail's default */
	unsigned sandbox_gid;     /* --sandbox-gid; 0: the jail's default */
	bool no_sandbox;          /* --no-sandbox */
	bool seccomp_trap;        /* --seccomp-trap */
	unsigned control_fd;      /* --control-fd; 0: none */
	const char *switch_path;  /* --switch PATH: a running switch's control socket */
	const char *uplink;       /* --uplink SEGMENT: passt for the switch started here */
	const char *control_path; /* --control SOCKET: the front end creates it */
	struct run_fd fds[CONFIG_FDS_MAX]; /* --fd NAME=N, in order */
	unsigned nfds;
	int log;                  /* enum run_log (-v, -q) */
	int help;                 /* --help: print config_usage() and stop */
	struct json_object *json; /* --config's document: owns strings in the vm_config */
	char disk_path[VM_MAX_DISKS][CONFIG_STR_MAX + 1]; /* --disk paths */
	char net_arg[VM_MAX_NETS][256]; /* --net texts, split into the nets[] strings */
	char vsock_socket[CONFIG_STR_MAX + 1];          /* --vsock socket= */
	char vsock_allow[VM_VSOCK_ALLOW_MAX + 1];       /* --vsock allow= */
	uint64_t given[CONFIG_ROWS_MAX / 64]; /* row i was set (an option or a --config key) */
};

/* The table: *n rows. */
const struct config_row *config_rows(size_t *n);

/* The row with JSON key path `key` ("console.max"), or else the long option
 * `key` ("console-max"); NULL if none. */
const struct config_row *config_row_find(const char *key);

/* The ARRAY row whose elements member row `m` ("disks[].id") describes, or
 * NULL if m is not an element member. */
const struct config_row *config_array_of(const struct config_row *m);

/* Element i of the ARRAY row `a` in cfg, and its element count. */
void *config_array_elem(struct vm_config *cfg, const struct config_row *a, unsigned i);
unsigned *config_array_count(struct vm_config *cfg, const struct config_row *a);

/* Fill *cfg with the defaults of every row. */
void config_defaults(struct vm_config *cfg);

/* Checks that span rows (a console file needs its path). `cli`: name options
 * in messages, else keys. 0 or -EINVAL with a message. */
int config_validate(const struct vm_config *cfg, bool cli, char *err, size_t errlen) BH_WUR;

/* The CPU and memory placement part of config_validate (issue 17): hugepages
 * that do not divide the memory size, KSM with hugepages, and cpu_affinity /
 * cpu_dedicated resolved against the CPUs this process may use
 * (sched_getaffinity: a CPU outside them is an error naming the field). */
int config_validate_placement(const struct vm_config *cfg, bool cli, char *err,
			      size_t errlen) BH_WUR;

/* Parse `bulkhead run` options (argv[0] is "run") over *cfg (start from
 * config_defaults) and zero-initialise and fill *run. On success, release
 * run->json with run_opts_free() once cfg is no longer used; on failure
 * -EINVAL (or the --config file's errno) with a message naming the option,
 * and nothing to free. */
int config_cli_parse(int argc, char **argv, struct vm_config *cfg, struct run_opts *run,
		     char *err, size_t errlen) BH_WUR;
void run_opts_free(struct run_opts *run);

/* Was the row with JSON key / option `key` set (by an option or by a key of
 * the --config document)? */
bool config_given(const struct run_opts *run, const char *key);

/* `bulkhead run --help`, generated from the rows and the exit-code table
 * (schema_doc.c, like config_schema_json). */
void config_usage(FILE *out);

/* The JSON Schema of the configuration document (api/openapi.yaml's Config)
 * and the exit codes: { "Config": {...}, "exit_codes": [ {code, name,
 * meaning}, ... ] }. NULL on allocation failure; release with
 * json_object_put(). */
struct json_object *config_schema_json(void);

#endif
