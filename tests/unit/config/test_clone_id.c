/* test_clone_id.c — a restored VM's identity (config/clone_id.h): recorded
 * MACs dropped or replaced by the given ones, the vsock CID and socket of a
 * clone of a group, and every bad option refused with a message naming it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "config/clone_id.h"

static void two_nics_vsock(struct vm_config *c)
{
	memset(c, 0, sizeof(*c));
	c->nnets = 2;
	strcpy(c->nets[0].mac, "02:00:00:00:00:01");
	strcpy(c->nets[1].mac, "02:00:00:00:00:02");
	c->vsock.cid = 10;
	c->vsock.socket = "/run/vm.vsock";
}

static int apply(struct vm_config *c, const struct config_clone_id *id, char *sock, char *err)
{
	err[0] = '\0';
	return config_clone_identity(c, id, sock, 64, err, 256);
}

static void test_identity(void **state)
{
	struct vm_config c;
	struct config_clone_id id = { .index = -1 };
	char sock[64], err[256];

	(void)state;
	/* A plain restore: recorded MACs dropped (new random ones), the
	 * recorded CID and socket kept. */
	two_nics_vsock(&c);
	assert_int_equal(apply(&c, &id, sock, err), 0);
	assert_string_equal(c.nets[0].mac, "");
	assert_string_equal(c.nets[1].mac, "");
	assert_int_equal(c.vsock.cid, 10);
	assert_string_equal(c.vsock.socket, "/run/vm.vsock");

	/* One MAC given (NIC 0), a clone of index 3 with a CID base. */
	two_nics_vsock(&c);
	id.macs[0] = "02:aa:bb:cc:dd:ee";
	id.nmacs = 1;
	id.index = 3;
	id.vsock_cid = 100;
	assert_int_equal(apply(&c, &id, sock, err), 0);
	assert_string_equal(c.nets[0].mac, "02:aa:bb:cc:dd:ee");
	assert_string_equal(c.nets[1].mac, "");
	assert_int_equal(c.vsock.cid, 103);
	assert_string_equal(c.vsock.socket, "/run/vm.vsock.3");
	id.vsock_socket = "/tmp/x.sock";
	two_nics_vsock(&c);
	assert_int_equal(apply(&c, &id, sock, err), 0);
	assert_string_equal(c.vsock.socket, "/tmp/x.sock.3");
}

static void test_refused(void **state)
{
	struct vm_config c;
	struct config_clone_id id = { .index = -1 };
	char sock[64], err[256];

	(void)state;
	two_nics_vsock(&c);
	id.macs[0] = id.macs[1] = "02:00:00:00:00:09";
	id.nmacs = 2;
	assert_int_equal(apply(&c, &id, sock, err), -EINVAL); /* the same twice */
	assert_non_null(strstr(err, "--mac"));
	id.macs[1] = "03:00:00:00:00:09"; /* multicast */
	assert_int_equal(apply(&c, &id, sock, err), -EINVAL);
	assert_non_null(strstr(err, "--mac"));
	id.macs[1] = "02:00:00:00:00:0a";
	id.macs[2] = "02:00:00:00:00:0b";
	id.nmacs = 3; /* three MACs, two NICs */
	assert_int_equal(apply(&c, &id, sock, err), -EINVAL);
	assert_non_null(strstr(err, "2 NICs"));
	id.nmacs = 0;
	id.vsock_cid = 0xfffffffeu; /* + index: past the last guest CID */
	id.index = 1;
	assert_int_equal(apply(&c, &id, sock, err), -EINVAL);
	assert_non_null(strstr(err, "CID"));
	id.vsock_cid = 0;
	id.vsock_socket = "/a/path/much/longer/than/the/sixty/four/bytes/of/the/buffer/here/x";
	assert_int_equal(apply(&c, &id, sock, err), -EINVAL);
	assert_non_null(strstr(err, "--vsock-socket"));
	/* vsock options for a VM without vsock */
	memset(&c, 0, sizeof(c));
	id.vsock_socket = NULL;
	id.vsock_cid = 7;
	assert_int_equal(apply(&c, &id, sock, err), -EINVAL);
	assert_non_null(strstr(err, "no vsock"));
	id.vsock_cid = 0;
	id.index = 5; /* a clone index alone: nothing to apply it to, fine */
	assert_int_equal(apply(&c, &id, sock, err), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identity),
		cmocka_unit_test(test_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
