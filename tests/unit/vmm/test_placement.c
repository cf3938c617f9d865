/* test_placement.c — where a real VM's threads and RAM live (issue 17;
 * src/vmm/vm_place.c, config/cpu_place.h, core/guest_mem.h), read back from
 * the kernel: each thread's Cpus_allowed_list in /proc/self/task/TID/status
 * for --cpu-affinity (one list, per vCPU) and --cpu-dedicated, and the guest
 * RAM mapping's /proc/self/smaps entry for --hugepages (KernelPageSize) and
 * --mem-prealloc (resident before the guest's first instruction: measured
 * after vm_create, before vm_run starts a vCPU).
 *
 * Designed for a 2-CPU host (the smallest that can dedicate a core and keep
 * one for the rest); a host with fewer CPUs skips the CPU cases with the
 * reason printed. Needs KVM (vm_fixture.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <sched.h>

#include "vm_fixture.h"
#include "vmm/vcpu.h"
#include "../hugepage_pool.h"
#include "../test_wait.h"

static char dir[] = "/tmp/bh-place.XXXXXX";
static char con[128];

/* Cpus_allowed_list of thread tid of this process ("0-1"); *kvm_worker
 * (if not NULL) tells whether it is one of KVM's own per-VM kernel workers
 * (vhost tasks such as kvm-nx-lpage-recovery, which KVM starts from the
 * first vCPU's KVM_RUN: they inherit that vCPU's CPUs and do the VM's own
 * work there). */
static void allowed_kw(int tid, char *out, size_t len, bool *kvm_worker)
{
	char path[64], line[256];
	FILE *f;

	out[0] = '\0';
	snprintf(path, sizeof(path), "/proc/self/task/%d/status", tid);
	if (!(f = fopen(path, "re")))
		return;
	while (fgets(line, sizeof(line), f)) {
		if (kvm_worker && !strncmp(line, "Name:", 5))
			*kvm_worker = !strncmp(line + 5 + strspn(line + 5, " \t"), "kvm-", 4);
		if (!strncmp(line, "Cpus_allowed_list:", 18)) {
			char *v = line + 18;

			v += strspn(v, " \t");
			v[strcspn(v, "\n")] = '\0';
			snprintf(out, len, "%s", v);
		}
	}
	fclose(f);
}

static void allowed(int tid, char *out, size_t len)
{
	allowed_kw(tid, out, len, NULL);
}

/* The CPUs this process may use, as Cpus_allowed_list spells them. */
static int host_cpus(char *out, size_t len)
{
	allowed((int)getpid(), out, len);
	return (int)sysconf(_SC_NPROCESSORS_ONLN);
}

static bool need_cpus(int n)
{
	cpu_set_t s;

	if (sched_getaffinity(0, sizeof(s), &s) == 0 && CPU_COUNT(&s) >= n)
		return true;
	printf("SKIP: this case needs %d host CPUs this process may use; it has %d\n", n,
	       CPU_COUNT(&s));
	return false;
}

/* A ticker VM with `ncpus` vCPUs built from *c and started; returns the VM. */
static struct vm *start(struct vm_config *c, struct fx_run *r)
{
	struct vm *vm = calloc(1, sizeof(*vm));

	assert_non_null(vm);
	if (vm_create(vm, c))
		fail_msg("vm_create: %s", vm->err);
	assert_int_equal(fx_start(r, vm), 0);
	for (unsigned i = 0; i < vm->ncpus; i++)
		TEST_WAIT_UNTIL(__atomic_load_n(&vm->vcpus[i].tid, __ATOMIC_SEQ_CST) != 0,
				"a vCPU thread to start");
	/* A vCPU records its tid just before pinning itself: wait for the pin
	 * (its first console output means vCPU 0 ran). */
	TEST_WAIT_UNTIL(fx_size(con) > 0, "the guest's first output");
	return vm;
}

static void stop(struct vm *vm, struct fx_run *r)
{
	assert_true(exit_ctl_request(&vm->exit, VM_EXIT_SIGNAL, 0, "test stop"));
	test_join(r->thread, "the VM after its stop request");
	vm_destroy(vm);
	free(vm);
}

static void config(struct vm_config *c, unsigned ncpus)
{
	char k[512];
	static char kernel[512];

	fx_guest(k, sizeof(k), "ticker");
	memcpy(kernel, k, sizeof(kernel));
	unlink(con);
	fx_config(c, kernel, con);
	c->boot.cmdline = "console=ttyS0 spin=2000";
	c->ncpus = ncpus;
	c->thp = true;
	c->cpu_weight = 100;
}

/* Every thread of this process except the test's own and the vCPUs'. */
static void each_other_thread(struct vm *vm, const char *want)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	unsigned seen = 0;
	char got[64];

	assert_non_null(d);
	while ((e = readdir(d))) {
		int tid = atoi(e->d_name);
		bool vcpu = false, kw = false;

		if (tid <= 0 || tid == (int)getpid())
			continue;
		for (unsigned i = 0; i < vm->ncpus; i++)
			vcpu |= vm->vcpus[i].tid == tid;
		if (vcpu)
			continue;
		allowed_kw(tid, got, sizeof(got), &kw);
		if (kw)
			continue;
		if (strcmp(got, want))
			fail_msg("thread %d (not a vCPU) may run on %s, expected %s", tid, got, want);
		seen++;
	}
	closedir(d);
	assert_true(seen >= 2); /* vm_run's thread and the event thread */
}

static void affinity_per_vcpu(void **state)
{
	struct vm_config c;
	struct fx_run r;
	struct vm *vm;
	char got[64], all[64];

	(void)state;
	if (!need_cpus(2)) {
		skip();
		return;
	}
	host_cpus(all, sizeof(all));
	config(&c, 2);
	c.cpu_affinity = "0:1,1:0";
	vm = start(&c, &r);
	allowed(vm->vcpus[0].tid, got, sizeof(got));
	assert_string_equal(got, "1");
	allowed(vm->vcpus[1].tid, got, sizeof(got));
	assert_string_equal(got, "0");
	/* Shared mode: the other threads stay where they were. */
	each_other_thread(vm, all);
	stop(vm, &r);
}

static void affinity_one_list(void **state)
{
	struct vm_config c;
	struct fx_run r;
	struct vm *vm;
	char got[64], all[64];

	(void)state;
	if (!need_cpus(2)) {
		skip();
		return;
	}
	host_cpus(all, sizeof(all));
	config(&c, 2);
	c.cpu_affinity = "1";
	vm = start(&c, &r);
	for (unsigned i = 0; i < 2; i++) {
		allowed(vm->vcpus[i].tid, got, sizeof(got));
		assert_string_equal(got, "1");
	}
	each_other_thread(vm, all);
	stop(vm, &r);
}

static void dedicated_core(void **state)
{
	struct vm_config c;
	struct fx_run r;
	struct vm *vm;
	cpu_set_t host;
	char got[64], last[16], rest[64];
	int hi = -1;

	(void)state;
	if (!need_cpus(2)) {
		skip();
		return;
	}
	/* Without a list: the last CPU this process may use; the rest for the
	 * VMM's other threads. */
	assert_int_equal(sched_getaffinity(0, sizeof(host), &host), 0);
	for (int i = 0; i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, &host))
			hi = i;
	snprintf(last, sizeof(last), "%d", hi);
	CPU_CLR(hi, &host);
	{
		/* Cpus_allowed_list spelling of what is left */
		int lo = -1, prev = -2, n = 0;

		rest[0] = '\0';
		for (int i = 0; i <= hi; i++) {
			if (!CPU_ISSET(i, &host))
				continue;
			if (i != prev + 1) {
				if (lo >= 0)
					n += snprintf(rest + n, sizeof(rest) - (size_t)n,
						      prev > lo ? "%s%d-%d" : "%s%d", n ? "," : "", lo, prev);
				lo = i;
			}
			prev = i;
		}
		if (lo >= 0)
			snprintf(rest + n, sizeof(rest) - (size_t)n, prev > lo ? "%s%d-%d" : "%s%d",
				 n ? "," : "", lo, prev);
	}
	config(&c, 1);
	c.cpu_dedicated = true;
	vm = start(&c, &r);
	allowed(vm->vcpus[0].tid, got, sizeof(got));
	assert_string_equal(got, last);
	each_other_thread(vm, rest);
	stop(vm, &r);
}

static void dedicated_needs_a_spare_cpu(void **state)
{
	struct vm_config c;
	struct vm *vm = calloc(1, sizeof(*vm));
	cpu_set_t host;

	(void)state;
	assert_int_equal(sched_getaffinity(0, sizeof(host), &host), 0);
	config(&c, (unsigned)CPU_COUNT(&host));
	c.cpu_dedicated = true;
	assert_int_not_equal(vm_create(vm, &c), 0);
	assert_true(vm->err_is_config);
	assert_non_null(strstr(vm->err, "--cpu-dedicated"));
	vm_destroy(vm);
	free(vm);
}

struct smap {
	uint64_t kps_kb, rss_kb, hugetlb_kb;
};

static void smap_of(const void *addr, struct smap *m)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[512];
	bool in = false;

	memset(m, 0, sizeof(*m));
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		unsigned long long v;

		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			if (in)
				break;
			in = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
			continue;
		}
		if (!in)
			continue;
		if (sscanf(line, "KernelPageSize: %llu", &v) == 1)
			m->kps_kb = v;
		else if (sscanf(line, "Rss: %llu", &v) == 1)
			m->rss_kb = v;
		else if (sscanf(line, "Shared_Hugetlb: %llu", &v) == 1 ||
			 sscanf(line, "Private_Hugetlb: %llu", &v) == 1)
			m->hugetlb_kb += v;
	}
	fclose(f);
}

static void prealloc_resident_before_first_instruction(void **state)
{
	struct vm_config c;
	struct vm *lazy = calloc(1, sizeof(*lazy)), *pre = calloc(1, sizeof(*pre));
	struct smap m;
	struct fx_run r;

	(void)state;
	config(&c, 1);
	if (vm_create(lazy, &c))
		fail_msg("vm_create: %s", lazy->err);
	smap_of(lazy->mem.base, &m);
	/* Control: on demand, only what the loader wrote is resident. */
	assert_true(m.rss_kb < (c.mem_bytes >> 10) / 2);
	vm_destroy(lazy);

	c.mem_prealloc = true;
	if (vm_create(pre, &c))
		fail_msg("vm_create --mem-prealloc: %s", pre->err);
	/* Built and booted (registers set), no vCPU has run: all resident. */
	smap_of(pre->mem.base, &m);
	/* Every page allocated (the memfd's blocks) and mapped: Rss is all of
	 * it, less at most 1% whose entries the kernel is migrating right now
	 * (compaction elsewhere on the host unmaps pages for a moment). */
	{
		struct stat st;

		assert_int_equal(fstat(pre->mem.memfd, &st), 0);
		assert_int_equal((uint64_t)st.st_blocks * 512, c.mem_bytes);
	}
	if (m.rss_kb < (c.mem_bytes >> 10) * 99 / 100)
		fail_msg("--mem-prealloc: Rss %llu KiB of %llu KiB before the first instruction",
			 (unsigned long long)m.rss_kb, (unsigned long long)(c.mem_bytes >> 10));
	/* And the guest runs on it. */
	assert_int_equal(fx_start(&r, pre), 0);
	TEST_WAIT_UNTIL(fx_size(con) > 0, "the guest's first output");
	assert_true(exit_ctl_request(&pre->exit, VM_EXIT_SIGNAL, 0, "test stop"));
	test_join(r.thread, "the VM after its stop request");
	vm_destroy(pre);
	free(lazy);
	free(pre);
}

static void hugepages_back_guest_ram(void **state)
{
	const uint64_t page = 2ull << 20;
	struct vm_config c;
	struct vm *vm = calloc(1, sizeof(*vm)), *short_vm = calloc(1, sizeof(*short_vm));
	struct smap m;
	struct fx_run r;
	long old;

	(void)state;
	config(&c, 1);
	c.hugepages = VM_HUGEPAGES_2M;
	if (!hp_reserve(page, (long)(c.mem_bytes / page), &old)) {
		free(vm);
		free(short_vm);
		skip();
		return;
	}
	if (vm_create(vm, &c))
		fail_msg("vm_create --hugepages 2M: %s", vm->err);
	assert_int_equal(gmem_page_size(&vm->mem), page);
	smap_of(vm->mem.base, &m);
	assert_int_equal(m.kps_kb, 2048);
	assert_int_equal(fx_start(&r, vm), 0);
	TEST_WAIT_UNTIL(fx_size(con) > 0, "the guest's first output");
	smap_of(vm->mem.base, &m);
	assert_true(m.hugetlb_kb >= 2048); /* the guest's pages are huge ones */

	/* A second VM while this one holds the pool: a clear error naming the
	 * option and the shortfall, nothing started. */
	if (hp_free(page) < (int64_t)(c.mem_bytes / page)) {
		assert_int_not_equal(vm_create(short_vm, &c), 0);
		assert_true(short_vm->err_is_config);
		assert_non_null(strstr(short_vm->err, "--hugepages 2M"));
		assert_non_null(strstr(short_vm->err, "free"));
	}
	vm_destroy(short_vm);
	assert_true(exit_ctl_request(&vm->exit, VM_EXIT_SIGNAL, 0, "test stop"));
	test_join(r.thread, "the VM after its stop request");
	vm_destroy(vm);
	hp_release(page, old);
	free(vm);
	free(short_vm);
}

static int setup(void **state)
{
	(void)state;
	fx_require_kvm();
	if (!mkdtemp(dir))
		return -1;
	snprintf(con, sizeof(con), "%s/console", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(con);
	rmdir(dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(affinity_per_vcpu),
		cmocka_unit_test(affinity_one_list),
		cmocka_unit_test(dedicated_core),
		cmocka_unit_test(dedicated_needs_a_spare_cpu),
		cmocka_unit_test(prealloc_resident_before_first_instruction),
		cmocka_unit_test(hugepages_back_guest_ram),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
