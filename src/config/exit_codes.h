/* exit_codes.h — what `bulkhead run` (the VMM) returns; scripts and the
 * daemon rely on these. One table (exit_codes.c) gives each code its name
 * (the daemon's exit reason: "config-error") and its meaning (`bulkhead run
 * --help`); README.md, docs/bulkhead.1.md and api/openapi.yaml list the same
 * (tests/e2e/config_schema.py checks them against the table). */
#ifndef BH_EXIT_CODES_H
#define BH_EXIT_CODES_H

#include <stddef.h>

#define BH_EXIT_OK 0          /* guest powered off or rebooted (or test status 0) */
#define BH_EXIT_HOST 1        /* host failure: no KVM, ioctl/alloc failure */
#define BH_EXIT_CONFIG 2      /* bad arguments, unreadable or invalid images */
#define BH_EXIT_CRASH 3       /* guest crashed: triple fault, failed entry, KVM internal error */
#define BH_EXIT_SIGNAL 4      /* stopped by SIGINT/SIGTERM/SIGHUP */
#define BH_EXIT_TEST_FAIL 5   /* guest reported a non-zero status on the test device */

struct bh_exit_code {
	int code;            /* BH_EXIT_* */
	const char *name;    /* machine-readable, e.g. "guest-crash" */
	const char *meaning; /* one phrase for humans */
};

/* The table, in code order (bh_exit_codes()[i].code == i); *n entries. */
const struct bh_exit_code *bh_exit_codes(size_t *n);

/* The name of `code`, or NULL if it is not one of ours. */
const char *bh_exit_name(int code);

#endif
