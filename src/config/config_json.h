/* config_json.h — a VM configuration as JSON: the format `bulkhead run
 * --config FILE` reads and the daemon's create call takes. The keys, their
 * types, limits and defaults are the rows of the schema (schema.h); values
 * go through the same row parsers as the command-line options, so
 * "mem": "0x10" fails exactly like --mem 0x10.
 *
 *   { "kernel": "/abs/vmlinuz", "initrd": "...", "cmdline": "console=ttyS0",
 *     "mem": "256M" | 256 (MiB), "cpus": 2,
 *     "console": { "mode": "none"|"stdio"|"file", "path": "...", "max": "64M",
 *                  "device": "uart"|"virtio" },
 *     "cpu_template": "baseline"|"host", "boot_protocol": "auto"|"linux64"|"pvh",
 *     "decompress": "host"|"guest", "kernel_cache": "DIR"|"none",
 *     "test_device": false, "rng": false,
 *     "disks": [ { "path": "/abs/disk.img", "read_only": true, "id": "root" } ] }
 *
 * Unknown keys, wrong types, trailing garbage, nesting deeper than 8 and
 * documents over CONFIG_JSON_MAX bytes are refused with a message naming the
 * key ("disks[1].read_only: expected a boolean, got a string").
 * Pure (no I/O); any thread. */
#ifndef BH_CLI_CONFIG_JSON_H
#define BH_CLI_CONFIG_JSON_H

#include <stddef.h>

#include "common/compiler.h"
#include "config/vm_config.h"

#define CONFIG_JSON_MAX (64 * 1024)

/* Relative paths are refused (the daemon's working directory is not the
 * client's). */
#define CONFIG_JSON_ABS_PATHS 0x1u
/* "kernel" must be present. */
#define CONFIG_JSON_NEED_KERNEL 0x2u

struct json_object;

/* Parse `len` bytes of `text` over *cfg (keys absent keep their value; start
 * from config_defaults()).
 * On success *root holds the parsed document: cfg's strings point into it,
 * release it with config_json_free() when cfg is no longer used. On failure
 * -EINVAL / -ERANGE / -E2BIG with a message in err, and nothing to free. */
int config_json_parse(const char *text, size_t len, unsigned flags, struct vm_config *cfg,
		      struct json_object **root, char *err, size_t errlen) BH_WUR;

void config_json_free(struct json_object *root);

/* The inverse of config_json_parse(): cfg as one JSON document (NUL-
 * terminated, at most len - 1 bytes) that config_json_parse() turns back into
 * the same settings; every schema row with a JSON key is written (absent
 * strings and paths stay absent). 0, -E2BIG (does not fit, err says so) or
 * -ENOMEM. Used by snapshots to record what the VM was built from. */
int config_json_write(const struct vm_config *cfg, char *buf, size_t len, char *err,
		      size_t errlen) BH_WUR;

#endif
