/* test_snapshot.c — snapshots of real VMs (needs KVM, see vm_fixture.h):
 * a guest frozen mid-computation and restored (RAM mapped copy-on-write
 * from the memory file) finishes with the right result; two clones of one
 * snapshot run at the same time and neither changes the file; a snapshot
 * with an impossible register value or a mismatched VM is refused with a
 * message naming the reason; clones get their own generation ID, MACs and
 * vsock CIDs; the clock is advanced over the stop without KVM_CLOCK_REALTIME. */
#include <stdarg.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "vm_fixture.h"
#include "arch/x86/layout.h"
#include "config/clone_id.h"
#include "config/config_json.h"
#include "config/schema.h"
#include "snapshot/snap_format.h"
#include "vmm/devices.h"
#include "vmm/fd_table.h"
#include "vmm/vm_snapshot.h"
#include "vmm/vm_state.h"
#include "../test_wait.h"

static char dir[] = "/tmp/bh-snapshot.XXXXXX";
static char kernel[512];

static void path(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", dir, name);
}

/* The guest's result line, as the host computes it (same as compute.c). */
static uint64_t compute_expect(uint64_t rounds)
{
	static uint64_t table[1u << 17];
	const uint32_t words = 1u << 17;
	uint64_t x = 0x9e3779b97f4a7c15ull, sum = 0;

	for (uint32_t i = 0; i < words; i++)
		table[i] = i;
	for (uint64_t r = 0; r < rounds; r++)
		for (uint32_t i = 0; i < words; i++) {
			x = x * 6364136223846793005ull + 1442695040888963407ull;
			table[i] ^= x + table[(i * 7 + r) % words];
		}
	for (uint32_t i = 0; i < words; i++)
		sum = sum * 31 + table[i];
	return sum;
}

static bool console_has(const char *con, const char *text)
{
	static char buf[1 << 16];

	return strstr(fx_read_text(con, buf, sizeof(buf)), text) != NULL;
}

static void wait_console(const char *con, const char *text)
{
	for (int i = 0; i < 24000 && !console_has(con, text); i++) /* 240 s: a loaded host */
		fx_sleep_ms(10);
	if (!console_has(con, text))
		fail_msg("'%s' never appeared on %s", text, con);
}

static char *read_all(const char *p, size_t *len)
{
	long long n = fx_size(p);
	char *b;
	int fd;

	assert_true(n > 0);
	b = malloc((size_t)n);
	assert_non_null(b);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, b, (size_t)n), n);
	close(fd);
	*len = (size_t)n;
	return b;
}

/* Pause a running VM and save its snapshot into the files state and mem
 * (created, or truncated); it stays paused. */
static void pause_and_save(struct vm *a, const char *state, const char *mem)
{
	char err[512];
	int sfd, mfd;

	assert_int_equal(vm_pause(a), 0);
	sfd = open(state, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	mfd = open(mem, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(sfd >= 0 && mfd >= 0);
	if (vm_snapshot_save(a, sfd, mfd, err, sizeof(err)))
		fail_msg("vm_snapshot_save: %s", err);
	close(sfd);
	close(mfd);
}

/* Take a snapshot of a compute guest after round 2 (state, mem in dir);
 * the original then runs to its end. */
static void take_snapshot(const char *state, const char *mem, uint64_t rounds)
{
	char con[256], cmd[64], want[64];
	struct vm_config c;
	struct vm *a = calloc(1, sizeof(*a));
	struct fx_run ra;

	path(con, sizeof(con), "orig.log");
	unlink(con);
	fx_config(&c, kernel, con);
	snprintf(cmd, sizeof(cmd), "console=ttyS0 rounds=%llu", (unsigned long long)rounds);
	c.boot.cmdline = cmd;
	if (vm_create(a, &c))
		fail_msg("vm_create: %s", a->err);
	assert_int_equal(fx_start(&ra, a), 0);
	wait_console(con, "compute: round 2\r");
	pause_and_save(a, state, mem);
	assert_int_equal(fx_size(mem), (long long)c.mem_bytes);
	assert_int_equal(vm_resume(a), 0);
	snprintf(want, sizeof(want), "compute: result 0x%llx\r",
		 (unsigned long long)compute_expect(rounds));
	wait_console(con, want);
	test_join(ra.thread, "the original compute guest");
	assert_int_equal(ra.reason, VM_EXIT_TEST);
	assert_int_equal(a->exit.status, 0);
	assert_true(console_has(con, want));
	vm_destroy(a);
	free(a);
}

/* Build a VM from a parsed snapshot with its console in `con`. 0 or the
 * error of the first failing step (msg in err). */
static int restore(struct vm *vm, const struct snap_state *s, const char *mem, const char *con,
		   char *err, size_t errlen)
{
	struct json_object *root = NULL;
	struct vm_config c;
	struct vm_ram_source ram = { .copy_on_write = true };
	int ret;

	config_defaults(&c);
	ret = config_json_parse((const char *)s->config.p, s->config.len, 0, &c, &root, err,
				errlen);
	if (ret)
		return ret;
	c.console_path = con;
	c.start_ns = fx_now_ns();
	ram.fd = open(mem, O_RDONLY | O_CLOEXEC);
	if (ram.fd < 0) {
		config_json_free(root);
		return -errno;
	}
	ret = vm_build(vm, &c, &ram);
	if (ret)
		snprintf(err, errlen, "%s", vm->err);
	else
		ret = vm_snapshot_restore(vm, s, err, errlen);
	config_json_free(root);
	return ret;
}

/* The VM generation ID (devices/vmgenid.h): each restore wrote a new one
 * into its guest memory — neither the snapshot's nor the other clone's —
 * and raised the GPE that tells the guest (the SCI waits for the guest to
 * enable it; this guest never does). */
static void check_new_generation(const char *mem, struct vm *b, struct vm *c)
{
	uint8_t snap_id[X86_VMGENID_LEN], id_b[X86_VMGENID_LEN], id_c[X86_VMGENID_LEN];
	uint8_t gpe[2];
	int fd = open(mem, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, snap_id, sizeof(snap_id), X86_VMGENID_GPA),
			 (ssize_t)sizeof(snap_id));
	close(fd);
	/* The snapshot's own ID was written at boot: random, not zero. */
	assert_true(memcmp(snap_id, (uint8_t[X86_VMGENID_LEN]){ 0 }, sizeof(snap_id)) != 0);
	assert_int_equal(gmem_read(&b->mem, id_b, X86_VMGENID_GPA, sizeof(id_b)), 0);
	assert_int_equal(gmem_read(&c->mem, id_c, X86_VMGENID_GPA, sizeof(id_c)), 0);
	assert_memory_not_equal(id_b, snap_id, sizeof(id_b));
	assert_memory_not_equal(id_c, snap_id, sizeof(id_c));
	assert_memory_not_equal(id_b, id_c, sizeof(id_b));
	for (int i = 0; i < 2; i++) {
		assert_true(io_bus_access(i ? &c->pio : &b->pio, ACPI_GPE0_BLK, gpe, 2, false));
		assert_int_equal(gpe[0], 1u << ACPI_GPE_VMGENID);
	}
}

static void restore_continues_computation(void **state)
{
	char st[256], mem[256], con_b[256], con_c[256], want[64], err[512], buf[1 << 16];
	struct vm *b = calloc(1, sizeof(*b)), *c2 = calloc(1, sizeof(*c2));
	struct fx_run rb, rc;
	struct snap_state *s = malloc(sizeof(*s));
	uint64_t mem_hash;
	size_t len;
	char *file;

	(void)state;
	path(st, sizeof(st), "state");
	path(mem, sizeof(mem), "memory");
	path(con_b, sizeof(con_b), "clone1.log");
	path(con_c, sizeof(con_c), "clone2.log");
	take_snapshot(st, mem, 6);
	mem_hash = fx_hash(mem);
	file = read_all(st, &len);
	if (snap_parse(file, len, s, err, sizeof(err)))
		fail_msg("snap_parse: %s", err);
	assert_int_equal(s->h.ncpus, 1);

	/* Two clones of the one snapshot, at the same time. */
	if (restore(b, s, mem, con_b, err, sizeof(err)))
		fail_msg("restore 1: %s", err);
	if (restore(c2, s, mem, con_c, err, sizeof(err)))
		fail_msg("restore 2: %s", err);
	check_new_generation(mem, b, c2);
	assert_int_equal(fx_start(&rb, b), 0);
	assert_int_equal(fx_start(&rc, c2), 0);
	snprintf(want, sizeof(want), "compute: result 0x%llx\r",
		 (unsigned long long)compute_expect(6));
	wait_console(con_b, want);
	wait_console(con_c, want);
	test_join(rb.thread, "clone 1");
	test_join(rc.thread, "clone 2");
	for (int i = 0; i < 2; i++) {
		const char *con = i ? con_c : con_b;
		struct fx_run *r = i ? &rc : &rb;

		assert_int_equal(r->reason, VM_EXIT_TEST);
		fx_read_text(con, buf, sizeof(buf));
		if (!strstr(buf, want))
			fail_msg("clone %d printed:\n%s\nexpected %s", i + 1, buf, want);
		/* It went on from where it was frozen: no new start, no round 0. */
		assert_null(strstr(buf, "compute: start"));
		assert_null(strstr(buf, "round 0\r"));
		assert_non_null(strstr(buf, "round 5\r"));
	}
	/* Copy-on-write: the clones' writes never reached the file. */
	assert_true(mem_hash == fx_hash(mem));
	vm_destroy(b);
	vm_destroy(c2);
	free(b);
	free(c2);
	free(file);
	free(s);
}

/* Flip a saved register into something the CPU template does not allow:
 * refused, naming it, before the VM runs. */
static void hostile_state_refused(void **state)
{
	char st[256], mem[256], con[256], err[512];
	struct vm *b = calloc(1, sizeof(*b));
	struct snap_state *s = malloc(sizeof(*s));
	struct kvm_sregs sr;
	size_t len, off;
	char *file;
	int ret;

	(void)state;
	path(st, sizeof(st), "state");
	path(mem, sizeof(mem), "memory");
	path(con, sizeof(con), "hostile.log");
	file = read_all(st, &len);
	assert_int_equal(snap_parse(file, len, s, err, sizeof(err)), 0);
	/* vCPU 0's sregs follow its kvm_regs. CR4.VMXE: nested VMX. */
	off = (size_t)(s->vcpu[0].p - (const uint8_t *)file) + sizeof(struct kvm_regs);
	memcpy(&sr, file + off, sizeof(sr));
	sr.cr4 |= 1ull << 13;
	memcpy(file + off, &sr, sizeof(sr));
	assert_int_equal(snap_parse(file, len, s, err, sizeof(err)), 0);
	ret = restore(b, s, mem, con, err, sizeof(err));
	assert_int_equal(ret, -EINVAL);
	assert_non_null(strstr(err, "CR4"));
	vm_destroy(b);
	memset(b, 0, sizeof(*b));

	/* Undo; now a vCPU-count mismatch: the VM built with 2 vCPUs. */
	sr.cr4 &= ~(1ull << 13);
	memcpy(file + off, &sr, sizeof(sr));
	{
		struct vm_config c;
		struct json_object *root = NULL;
		struct vm_ram_source ram = { .copy_on_write = true };

		config_defaults(&c);
		assert_int_equal(config_json_parse((const char *)s->config.p, s->config.len, 0, &c,
						   &root, err, sizeof(err)), 0);
		c.ncpus = 2;
		c.console_path = con;
		ram.fd = open(mem, O_RDONLY | O_CLOEXEC);
		assert_int_equal(vm_build(b, &c, &ram), 0);
		assert_int_equal(vm_snapshot_restore(b, s, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "vCPUs"));
		config_json_free(root);
		vm_destroy(b);
	}
	free(b);
	free(s);
	free(file);
}

/* One VM's build with a NIC on a switch-port socketpair named "sw0" in fds
 * (the other end in *peer). */
static void port_fds(struct fd_table *fds, int *peer)
{
	int sp[2];
	char ferr[128];

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp), 0);
	fd_table_init(fds);
	assert_int_equal(fd_table_add(fds, "sw0", sp[0], ferr, sizeof(ferr)), 0);
	*peer = sp[1];
}

/* Clones have an identity of their own: a VM with a NIC and vsock is
 * snapshotted; two restores as clones 0 and 1 of a group (what `bulkhead
 * clone` asks: config_clone_identity) each present a MAC, a vsock CID, a
 * vsock socket and a generation ID that are neither the snapshot's VM's nor
 * the other clone's — and the ID in guest memory is the one the device
 * reports. */
static void clones_own_identity(void **state)
{
	char st[256], mem[256], con[256], vs[256], err[512], sock_path[2][256], p[300];
	struct vm *a = calloc(1, sizeof(*a)), *cl[2];
	struct vm_identity ia, ic[2];
	struct fd_table fds[3];
	struct snap_state *s = malloc(sizeof(*s));
	struct vm_config c;
	struct fx_run ra;
	int peer[3];
	uint8_t genid_mem[X86_VMGENID_LEN];
	size_t len;
	char *file;

	(void)state;
	path(st, sizeof(st), "id-state");
	path(mem, sizeof(mem), "id-memory");
	path(con, sizeof(con), "id.log");
	path(vs, sizeof(vs), "v.sock");
	fx_config(&c, kernel, con);
	c.boot.cmdline = "console=ttyS0 rounds=100000";
	c.nnets = 1;
	c.nets[0].port = "sw0";
	c.nets[0].mtu = 1500;
	c.vsock.cid = 5;
	c.vsock.socket = vs;
	port_fds(&fds[0], &peer[0]);
	vm_set_fds(a, &fds[0]);
	if (vm_create(a, &c))
		fail_msg("vm_create: %s", a->err);
	assert_int_equal(fx_start(&ra, a), 0);
	wait_console(con, "compute: start");
	pause_and_save(a, st, mem);
	vm_devices_identity(a, &ia);
	assert_true(exit_ctl_request(&a->exit, VM_EXIT_SIGNAL, 0, "test stop"));
	test_join(ra.thread, "the original VM");
	vm_destroy(a);
	free(a);
	fd_table_destroy(&fds[0]);
	close(peer[0]);
	assert_int_equal(ia.nnets, 1);
	assert_int_equal(ia.vsock_cid, 5);

	file = read_all(st, &len);
	if (snap_parse(file, len, s, err, sizeof(err)))
		fail_msg("snap_parse: %s", err);
	for (int k = 0; k < 2; k++) {
		struct config_clone_id id = { .index = k };
		struct vm_ram_source ram = { .copy_on_write = true };
		struct json_object *root = NULL;
		struct vm_config rc;

		cl[k] = calloc(1, sizeof(*cl[k]));
		config_defaults(&rc);
		assert_int_equal(config_json_parse((const char *)s->config.p, s->config.len, 0, &rc,
						   &root, err, sizeof(err)), 0);
		assert_int_equal(config_clone_identity(&rc, &id, sock_path[k], sizeof(sock_path[k]),
						       err, sizeof(err)), 0);
		rc.console_path = con;
		port_fds(&fds[1 + k], &peer[1 + k]);
		vm_set_fds(cl[k], &fds[1 + k]);
		ram.fd = open(mem, O_RDONLY | O_CLOEXEC);
		if (vm_build(cl[k], &rc, &ram))
			fail_msg("clone %d: vm_build: %s", k, cl[k]->err);
		if (vm_snapshot_restore(cl[k], s, err, sizeof(err)))
			fail_msg("clone %d: restore: %s", k, err);
		vm_devices_identity(cl[k], &ic[k]);
		assert_int_equal(gmem_read(&cl[k]->mem, genid_mem, X86_VMGENID_GPA,
					   sizeof(genid_mem)), 0);
		assert_memory_equal(genid_mem, ic[k].genid, sizeof(genid_mem));
		snprintf(p, sizeof(p), "%s.%d", vs, k);
		assert_true(fx_size(p) >= 0); /* its own listening socket */
		assert_int_equal(ic[k].nnets, 1);
		assert_int_equal(ic[k].vsock_cid, 5 + (uint64_t)k);
		assert_memory_not_equal(ic[k].mac[0], ia.mac[0], 6);
		assert_memory_not_equal(ic[k].genid, ia.genid, sizeof(ia.genid));
		config_json_free(root);
	}
	assert_memory_not_equal(ic[0].mac[0], ic[1].mac[0], 6);
	assert_memory_not_equal(ic[0].genid, ic[1].genid, sizeof(ia.genid));
	for (int k = 0; k < 2; k++) {
		vm_destroy(cl[k]);
		free(cl[k]);
		fd_table_destroy(&fds[1 + k]);
		close(peer[1 + k]);
		snprintf(p, sizeof(p), "%s.%d", vs, k);
		unlink(p);
	}
	unlink(vs);
	free(file);
	free(s);
}

/* The VM section's clock tail: clock u64, flags u32, realtime u64 (host
 * byte order, vm_state.h). */
static void clock_tail(uint8_t *end, uint64_t clock, uint32_t flags, uint64_t realtime)
{
	memcpy(end - 20, &clock, 8);
	memcpy(end - 12, &flags, 4);
	memcpy(end - 8, &realtime, 8);
}

static uint64_t kvm_clock_now(struct vm *vm)
{
	struct kvm_clock_data clk;

	memset(&clk, 0, sizeof(clk));
	assert_int_equal(ioctl(vm->vm_fd, KVM_GET_CLOCK, &clk), 0);
	return clk.clock;
}

/* A VM section saved without KVM's realtime (flags 0: a host whose
 * clocksource is not the TSC) but with the host time the save recorded:
 * the load advances the clock by the host time since then (here 30 s);
 * no recorded time, one in the future or one more than 10 years back
 * leave the clock as saved. */
static void clock_advanced_without_kvm_realtime(void **state)
{
	char con[256], err[512];
	struct vm_config c;
	struct vm *a = calloc(1, sizeof(*a));
	struct sbuf sb;
	struct timespec ts;
	uint64_t now, saved, got;
	const uint64_t s30 = 30000000000ULL;
	const struct {
		int64_t back_ns;  /* recorded realtime = now - back_ns; 0: none */
		uint64_t min, max; /* the clock after the load - saved */
	} cases[] = {
		{ (int64_t)s30, s30, s30 + 5000000000ULL },
		{ 0, 0, 5000000000ULL },
		{ -(int64_t)s30, 0, 5000000000ULL },
		{ (int64_t)(11ULL * 366 * 86400 * 1000000000ULL), 0, 5000000000ULL },
	};

	(void)state;
	path(con, sizeof(con), "clock.log");
	fx_config(&c, kernel, con);
	if (vm_create(a, &c))
		fail_msg("vm_create: %s", a->err);
	sbuf_init(&sb);
	assert_int_equal(vm_state_save_vm(a, &sb, err, sizeof(err)), 0);
	assert_true(sb.len > 20);
	memcpy(&saved, sb.data + sb.len - 20, 8);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		clock_gettime(CLOCK_REALTIME, &ts);
		now = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
		clock_tail(sb.data + sb.len, saved, 0,
			   cases[i].back_ns ? now - (uint64_t)cases[i].back_ns : 0);
		if (vm_state_load_vm(a, sb.data, sb.len, VM_STATE_VM_VERSION, err, sizeof(err)))
			fail_msg("case %zu: vm_state_load_vm: %s", i, err);
		got = kvm_clock_now(a) - saved;
		if (got < cases[i].min || got > cases[i].max)
			fail_msg("case %zu: clock advanced by %llu ns, want %llu..%llu", i,
				 (unsigned long long)got, (unsigned long long)cases[i].min,
				 (unsigned long long)cases[i].max);
	}
	sbuf_free(&sb);
	vm_destroy(a);
	free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(restore_continues_computation),
		cmocka_unit_test(hostile_state_refused),
		cmocka_unit_test(clones_own_identity),
		cmocka_unit_test(clock_advanced_without_kvm_realtime),
	};
	char p[512];
	int ret;

	fx_require_kvm();
	fx_guest(kernel, sizeof(kernel), "compute");
	if (!mkdtemp(dir))
		return 1;
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	for (const char *const *n = (const char *const[]){ "state", "memory", "orig.log",
							   "clone1.log", "clone2.log",
							   "hostile.log", "id-state", "id-memory",
							   "id.log", "clock.log", NULL };
	     *n; n++) {
		snprintf(p, sizeof(p), "%s/%s", dir, *n);
		unlink(p);
	}
	rmdir(dir);
	return ret;
}
