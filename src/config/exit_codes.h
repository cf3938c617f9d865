/* exit_codes.h — what `bulkhead run` returns; scripts rely on these
 * (documented in README.md and docs/bulkhead.1.md). */
#ifndef BH_EXIT_CODES_H
#define BH_EXIT_CODES_H

#define BH_EXIT_OK 0          /* guest powered off or rebooted (or test status 0) */
#define BH_EXIT_HOST 1        /* host failure: no KVM, ioctl/alloc failure */
#define BH_EXIT_CONFIG 2      /* bad arguments, unreadable or invalid images */
#define BH_EXIT_CRASH 3       /* guest crashed: triple fault, failed entry, KVM internal error */
#define BH_EXIT_SIGNAL 4      /* stopped by SIGINT/SIGTERM/SIGHUP */
#define BH_EXIT_TEST_FAIL 5   /* guest reported a non-zero status on the test device */

#endif
