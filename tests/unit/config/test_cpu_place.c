/* test_cpu_place.c — the meaning of cpu_affinity / cpu_dedicated
 * (src/config/cpu_place.c) against a given host CPU set: both forms of the
 * list, the dedicated rules, and every refusal naming the field. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "config/cpu_place.h"
#include "config/schema.h"

static struct cpu_place pl;

static cpu_set_t host_of(int n)
{
	cpu_set_t s;

	CPU_ZERO(&s);
	for (int i = 0; i < n; i++)
		CPU_SET(i, &s);
	return s;
}

static const char *fmt(const cpu_set_t *s)
{
	static char buf[64];

	cpu_place_format(s, buf, sizeof(buf));
	return buf;
}

static int resolve(unsigned ncpus, const char *aff, bool ded, int nhost, char *err)
{
	struct vm_config c;
	cpu_set_t host = host_of(nhost);

	config_defaults(&c);
	c.ncpus = ncpus;
	c.cpu_affinity = aff;
	c.cpu_dedicated = ded;
	return cpu_place_resolve(&c, &host, false, &pl, err, 256);
}

static void test_forms(void **state)
{
	char err[256];

	(void)state;
	assert_int_equal(resolve(2, NULL, false, 4, err), 0);
	assert_false(pl.pinned);
	assert_int_equal(resolve(2, "1-2", false, 4, err), 0);
	assert_true(pl.pinned);
	assert_string_equal(fmt(&pl.vcpu[0]), "1-2");
	assert_string_equal(fmt(&pl.vcpu[1]), "1-2");
	assert_string_equal(fmt(&pl.other), "0-3"); /* shared: others unpinned */
	assert_int_equal(resolve(2, "0:3,1:0-1", false, 4, err), 0);
	assert_string_equal(fmt(&pl.vcpu[0]), "3");
	assert_string_equal(fmt(&pl.vcpu[1]), "0-1");
	assert_int_equal(resolve(1, "0,2-3", false, 4, err), 0);
	assert_string_equal(fmt(&pl.vcpu[0]), "0,2-3");
}

static void test_dedicated(void **state)
{
	char err[256];

	(void)state;
	/* No list: the last CPUs; the rest for the other threads. */
	assert_int_equal(resolve(2, NULL, true, 4, err), 0);
	assert_string_equal(fmt(&pl.vcpu[0]), "2");
	assert_string_equal(fmt(&pl.vcpu[1]), "3");
	assert_string_equal(fmt(&pl.dedicated), "2-3");
	assert_string_equal(fmt(&pl.other), "0-1");
	/* A list of one CPU per vCPU, in order. */
	assert_int_equal(resolve(2, "0,2", true, 4, err), 0);
	assert_string_equal(fmt(&pl.vcpu[0]), "0");
	assert_string_equal(fmt(&pl.vcpu[1]), "2");
	assert_string_equal(fmt(&pl.other), "1,3");
	assert_int_equal(resolve(1, NULL, true, 2, err), 0);
	assert_string_equal(fmt(&pl.vcpu[0]), "1");
	assert_string_equal(fmt(&pl.other), "0");
}

static void refused(unsigned ncpus, const char *aff, bool ded, int nhost, const char *want)
{
	char err[256] = "";

	assert_int_equal(resolve(ncpus, aff, ded, nhost, err), -EINVAL);
	if (!strstr(err, want))
		fail_msg("message '%s' lacks '%s'", err, want);
}

static void test_refusals(void **state)
{
	char err[256];

	(void)state;
	refused(1, "4", false, 4, "cpu_affinity 4: host CPU 4 is not one this VM may use (0-3)");
	refused(2, "0:1", false, 4, "vCPU 1 has no entry");
	refused(2, "0:1,0:2", false, 4, "vCPU 0 is named twice");
	refused(1, "0:1,1:2", false, 4, "vCPU 1 does not exist");
	refused(2, "0:1,1:1", true, 4, "host CPU 1 is named for two vCPUs");
	refused(2, "0:1-2,1:3", true, 4, "vCPU 0 needs exactly one host CPU");
	refused(2, "1", true, 4, "name one host CPU per vCPU");
	refused(2, NULL, true, 2, "cpu_dedicated: 2 vCPUs need 2 host CPUs");
	refused(2, "0-1", true, 2, "one more for the VMM's other threads");
	/* syntax */
	for (const char *bad = "x\0" "1-\0" "2-1\0" ",1\0" "1,\0" "0:\0" ":1\0" "1:2,3\0"
			       "99999\0" "0:1;1:2\0";
	     *bad; bad += strlen(bad) + 1) {
		assert_int_equal(cpu_place_check_syntax("cpu_affinity", bad, err, sizeof(err)),
				 -EINVAL);
		assert_non_null(strstr(err, "cpu_affinity"));
	}
	assert_int_equal(cpu_place_check_syntax("x", "0-3,6", err, sizeof(err)), 0);
	assert_int_equal(cpu_place_check_syntax("x", "0:2,1:3", err, sizeof(err)), 0);
}

/* The schema's cross checks: hugepages that do not divide mem, KSM with
 * hugepages, an affinity outside this process's CPUs. */
static void test_validate(void **state)
{
	struct vm_config c;
	char err[256];

	(void)state;
	config_defaults(&c);
	assert_false(c.ksm);
	assert_true(c.thp);
	assert_false(c.mem_prealloc);
	assert_int_equal(c.cpu_weight, 100);
	assert_int_equal(c.hugepages, VM_HUGEPAGES_NONE);
	c.hugepages = VM_HUGEPAGES_2M;
	c.mem_bytes = 255ull << 20;
	assert_int_equal(config_validate(&c, false, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "hugepages 2M: 2M pages do not divide mem 255 MiB"));
	c.mem_bytes = 256ull << 20;
	assert_int_equal(config_validate(&c, false, err, sizeof(err)), 0);
	c.ksm = true;
	assert_int_equal(config_validate(&c, true, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--ksm"));
	c.ksm = false;
	c.hugepages = VM_HUGEPAGES_NONE;
	c.cpu_affinity = "1023";
	assert_int_equal(config_validate(&c, false, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "cpu_affinity 1023: host CPU 1023"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forms),
		cmocka_unit_test(test_dedicated),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_validate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
