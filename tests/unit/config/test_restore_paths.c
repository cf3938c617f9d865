/* test_restore_paths.c — which host paths a restore opens
 * (config/restore_paths.h): none the snapshot names unless named again;
 * the given ones replace the recorded ones; --recorded-paths keeps them;
 * every missing or surplus one is refused with a message naming it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "config/restore_paths.h"

/* A recorded configuration naming every kind of host path. */
static void hostile(struct vm_config *c)
{
	memset(c, 0, sizeof(*c));
	c->ndisks = 2;
	c->disks[0].path = "/home/me/.ssh/id_ed25519";
	c->disks[1].path = "/etc/passwd";
	c->disks[1].read_only = true;
	c->nnets = 2;
	c->nets[0].port = "swnet0";
	c->nets[1].tap = "tap-victim";
	c->console = CONSOLE_FILE;
	c->console_path = "/home/me/.bashrc";
	c->vsock.cid = 5;
	c->vsock.socket = "/home/me/.config/x.sock";
}

static int apply(struct vm_config *c, const struct config_restore_paths *g, char *err)
{
	err[0] = '\0';
	return config_restore_paths(c, g, err, 512);
}

static void test_named_again(void **state)
{
	struct config_restore_paths g = { .disks = { "/img/a.raw", "/img/b.raw" }, .ndisks = 2,
					  .taps = { "tap7" }, .ntaps = 1, .console = true,
					  .vsock_socket = true };
	struct vm_config c;
	char err[512];

	(void)state;
	hostile(&c);
	assert_int_equal(apply(&c, &g, err), 0);
	assert_string_equal(c.disks[0].path, "/img/a.raw");
	assert_string_equal(c.disks[1].path, "/img/b.raw");
	assert_true(c.disks[1].read_only); /* the guest saw it: kept */
	assert_null(c.nets[0].tap);
	assert_string_equal(c.nets[0].port, "swnet0");
	assert_string_equal(c.nets[1].tap, "tap7");

	/* --recorded-paths: as recorded. */
	hostile(&c);
	struct config_restore_paths rec = { .recorded = true };
	assert_int_equal(apply(&c, &rec, err), 0);
	assert_string_equal(c.disks[0].path, "/home/me/.ssh/id_ed25519");
	assert_string_equal(c.nets[1].tap, "tap-victim");

	/* Nothing recorded, nothing needed. */
	memset(&c, 0, sizeof(c));
	struct config_restore_paths none = { 0 };
	assert_int_equal(apply(&c, &none, err), 0);
}

static void test_refused(void **state)
{
	struct vm_config c;
	char err[512];

	(void)state;
	/* Nothing named again: the first disk, with its recorded path. */
	hostile(&c);
	struct config_restore_paths g = { .console = true, .vsock_socket = true };
	assert_int_equal(apply(&c, &g, err), -EINVAL);
	assert_non_null(strstr(err, "disk 0 was recorded as '/home/me/.ssh/id_ed25519'"));
	assert_string_equal(c.disks[0].path, "/home/me/.ssh/id_ed25519"); /* unchanged */
	/* One disk of two. */
	g.disks[0] = "/img/a.raw";
	g.ndisks = 1;
	assert_int_equal(apply(&c, &g, err), -EINVAL);
	assert_non_null(strstr(err, "disk 1 was recorded as '/etc/passwd'"));
	/* Disks named, the tap not. */
	g.disks[1] = "/img/b.raw";
	g.ndisks = 2;
	assert_int_equal(apply(&c, &g, err), -EINVAL);
	assert_non_null(strstr(err, "--tap IFNAME"));
	/* The console file. */
	g.taps[0] = "tap7";
	g.ntaps = 1;
	g.console = false;
	assert_int_equal(apply(&c, &g, err), -EINVAL);
	assert_non_null(strstr(err, "the file '/home/me/.bashrc'"));
	/* The vsock socket. */
	g.console = true;
	g.vsock_socket = false;
	assert_int_equal(apply(&c, &g, err), -EINVAL);
	assert_non_null(strstr(err, "recorded as '/home/me/.config/x.sock'"));
	/* Surplus: more disks or taps than the VM had. */
	hostile(&c);
	struct config_restore_paths more = { .disks = { "a", "b", "c" }, .ndisks = 3 };
	assert_int_equal(apply(&c, &more, err), -EINVAL);
	assert_non_null(strstr(err, "--disk: the snapshot's VM has 2 disk(s)"));
	struct config_restore_paths taps = { .taps = { "t1", "t2" }, .ntaps = 2 };
	assert_int_equal(apply(&c, &taps, err), -EINVAL);
	assert_non_null(strstr(err, "--tap: the snapshot's VM has 1 tap NIC(s)"));
	/* --recorded-paths with paths named: one or the other. */
	struct config_restore_paths both = { .disks = { "a" }, .ndisks = 1, .recorded = true };
	assert_int_equal(apply(&c, &both, err), -EINVAL);
	assert_non_null(strstr(err, "give one"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_named_again),
		cmocka_unit_test(test_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
