/* test_mem_hygiene.c — guest RAM hygiene (src/core/guest_mem.c), one of the
 * sandbox's layers (docs/security.md): the RAM memfd is sealed (no shrink,
 * grow, or new seals), the mapping is excluded from core dumps and from
 * forked children, and PROT_NONE guard regions sit on both sides. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/guest_mem.h"

#define RAM (16u << 20)

/* The /proc/self/maps line for the mapping containing addr, and (for smaps)
 * its VmFlags line. */
static int find_mapping(uintptr_t addr, char *perms, size_t plen, char *flags, size_t flen)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[512];
	bool in = false;
	int found = -1;

	if (!f)
		return -errno;
	flags[0] = '\0';
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		char p[8];

		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, p) == 3 && strchr(line, '-') < strchr(line, ' ')) {
			if (in)
				break;
			in = addr >= lo && addr < hi;
			if (in) {
				snprintf(perms, plen, "%s", p);
				found = 0;
			}
			continue;
		}
		if (in && !strncmp(line, "VmFlags:", 8))
			snprintf(flags, flen, "%s", line + 8);
	}
	fclose(f);
	return found;
}

static bool has_flag(const char *flags, const char *flag)
{
	char tok[8];

	snprintf(tok, sizeof(tok), " %s", flag);
	return strstr(flags, tok) != NULL;
}

static void test_memfd_sealed(void **state)
{
	struct guest_mem gm;
	int seals;

	(void)state;
	assert_int_equal(gmem_create(&gm, RAM), 0);
	seals = fcntl(gm.memfd, F_GET_SEALS);
	assert_int_equal(seals, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	/* A VMM bug (or an attacker in it) cannot resize RAM under KVM... */
	assert_int_equal(ftruncate(gm.memfd, RAM / 2), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(ftruncate(gm.memfd, RAM * 2), -1);
	assert_int_equal(errno, EPERM);
	/* ...nor change the seals. */
	assert_int_equal(fcntl(gm.memfd, F_ADD_SEALS, F_SEAL_WRITE), -1);
	assert_int_equal(errno, EPERM);
	gmem_destroy(&gm);
}

static void test_dontdump_dontfork_guards(void **state)
{
	struct guest_mem gm;
	char perms[8], flags[512];
	uintptr_t base;

	(void)state;
	assert_int_equal(gmem_create(&gm, RAM), 0);
	base = (uintptr_t)gm.base;
	assert_int_equal(find_mapping(base, perms, sizeof(perms), flags, sizeof(flags)), 0);
	assert_string_equal(perms, "rw-s");
	assert_true(has_flag(flags, "dd")); /* MADV_DONTDUMP */
	assert_true(has_flag(flags, "dc")); /* MADV_DONTFORK */
	/* Guard regions right below and right above RAM: no access at all. */
	assert_int_equal(find_mapping(base - 1, perms, sizeof(perms), flags, sizeof(flags)), 0);
	assert_string_equal(perms, "---p");
	assert_int_equal(find_mapping(base + RAM, perms, sizeof(perms), flags, sizeof(flags)), 0);
	assert_string_equal(perms, "---p");
	gmem_destroy(&gm);
}

/* A forked child does not inherit guest RAM: touching it faults. */
static void test_child_has_no_guest_ram(void **state)
{
	struct guest_mem gm;
	volatile uint8_t *ram;
	int status;
	pid_t pid;

	(void)state;
	assert_int_equal(gmem_create(&gm, RAM), 0);
	ram = gm.base;
	ram[0] = 0x5a;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		signal(SIGSEGV, SIG_DFL);
		_exit(ram[0] == 0x5a ? 0 : 1); /* must fault before returning */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSEGV);
	gmem_destroy(&gm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_memfd_sealed),
		cmocka_unit_test(test_dontdump_dontfork_guards),
		cmocka_unit_test(test_child_has_no_guest_ram),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
