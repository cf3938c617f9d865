/* test_ctl_vmm.c — the VMM end of the control channel v2 (vmm/ctl_vmm.h)
 * over a real listening SOCK_SEQPACKET socket, driven the way the event
 * thread drives it (ctl_vmm_handle when its epoll fd is readable), with a
 * VM that has no vCPUs (status, attach-fd and list-fds touch no KVM state):
 *   - status answers with the v1 status fields;
 *   - attach-fd puts a descriptor handed in into the named-fd table: it is
 *     the same object (bytes written through it arrive), listed by name and
 *     kind; a duplicate name, a directory or a full table is refused with
 *     -EEXIST / -EISDIR / -ENOSPC and the descriptor closed;
 *   - malformed requests (garbage, a v1 record, too many descriptors, a
 *     descriptor where none belongs) get -EPROTO echoing their seq, their
 *     descriptors closed, and the connection stays usable;
 *   - a peer that hangs up is dropped; nothing leaks (open fds counted). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/fdpass.h"
#include "vmm/ctl_vmm.h"
#include "vmm/fd_table.h"
#include "vmm/vm.h"

struct fx {
	struct vm *vm;
	struct fd_table fds;
	struct ctl_vmm c;
	char dir[32], path[64];
	int cl; /* the "daemon" */
	uint32_t seq;
};

static unsigned open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static uint64_t in_ms(unsigned ms)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec + ms * 1000000ull;
}

static void fx_start(struct fx *f)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int l;

	memset(f, 0, sizeof(*f));
	f->vm = calloc(1, sizeof(*f->vm));
	assert_non_null(f->vm);
	vm_pause_init(&f->vm->pause);
	assert_int_equal(exit_ctl_init(&f->vm->exit), 0);
	fd_table_init(&f->fds);
	snprintf(f->dir, sizeof(f->dir), "/tmp/bh-ctlvmm.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/ctl.sock", f->dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
	l = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	assert_true(l >= 0);
	assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(l, 4), 0);
	assert_int_equal(ctl_vmm_init(&f->c, f->vm, &f->fds, l), 0);
	f->cl = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	assert_true(f->cl >= 0);
	assert_int_equal(connect(f->cl, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ctl_vmm_handle(&f->c); /* accept */
	assert_true(f->c.conn_fd >= 0);
}

static void fx_stop(struct fx *f)
{
	close(f->cl);
	ctl_vmm_destroy(&f->c);
	fd_table_destroy(&f->fds);
	exit_ctl_destroy(&f->vm->exit);
	vm_pause_destroy(&f->vm->pause);
	free(f->vm);
	unlink(f->path);
	rmdir(f->dir);
}

/* Send m (its seq set here), let the VMM serve it, return the reply's status. */
static int call(struct fx *f, struct ctl_msg *m, struct ctl_msg *rep)
{
	char err[256];

	m->hdr.seq = ++f->seq;
	assert_int_equal(ctl_send_msg(f->cl, m, in_ms(1000), err, sizeof(err)), 0);
	ctl_vmm_handle(&f->c);
	if (ctl_recv_msg(f->cl, true, rep, in_ms(1000), err, sizeof(err)))
		fail_msg("no valid reply: %s", err);
	assert_int_equal(rep->hdr.seq, f->seq);
	assert_int_equal(rep->hdr.type & ~CTL_REPLY, m->hdr.type);
	return rep->hdr.status;
}

/* Send raw bytes + fds; the VMM must answer -EPROTO with `seq`. */
static void call_raw_refused(struct fx *f, const void *buf, size_t len, const int *fds,
			     unsigned nfds, uint32_t seq)
{
	struct iovec iov = { .iov_base = (void *)(uintptr_t)buf, .iov_len = len };
	struct ctl_msg rep;
	char err[256];

	assert_int_equal(fdpass_sendv(f->cl, &iov, 1, fds, nfds, MSG_NOSIGNAL), (ssize_t)len);
	ctl_vmm_handle(&f->c);
	if (ctl_recv_msg(f->cl, true, &rep, in_ms(1000), err, sizeof(err)))
		fail_msg("no valid reply to a malformed request: %s", err);
	assert_int_equal(rep.hdr.status, -EPROTO);
	assert_int_equal(rep.hdr.seq, seq);
}

static void assert_eof(int rd)
{
	char c;

	assert_int_equal(fcntl(rd, F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(read(rd, &c, 1), 0);
	close(rd);
}

static unsigned list(struct fx *f, char names[][BH_FD_NAME_MAX + 1], uint32_t *kinds)
{
	struct ctl_msg m, rep;
	struct ctl_fd_entry e;
	unsigned n;

	ctl_msg_request(&m, CTL_LIST_FDS, 0);
	assert_int_equal(call(f, &m, &rep), 0);
	n = ctl_msg_fd_entry(&rep, 0, &e);
	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(ctl_msg_fd_entry(&rep, i, &e), n);
		memcpy(names[i], e.name.name, sizeof(e.name.name));
		kinds[i] = e.kind;
	}
	return n;
}

static void test_status_attach_list(void **state)
{
	static struct fx f;
	struct ctl_msg m, rep;
	struct ctl_status st;
	char names[CTL_FDS_MAX][BH_FD_NAME_MAX + 1], err[256], c;
	uint32_t kinds[CTL_FDS_MAX];
	int sv[2], p[2], dir, fd;
	unsigned base = open_fds();

	(void)state;
	fx_start(&f);
	/* As if inherited with --fd cfg=N. */
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(fd_table_add(&f.fds, "cfg", p[0], err, sizeof(err)), 0);

	ctl_msg_request(&m, CTL_STATUS, 0);
	assert_int_equal(call(&f, &m, &rep), 0);
	ctl_msg_status(&rep, &st);
	assert_int_equal(st.state, 0);
	assert_int_equal(st.ncpus, 0);
	assert_int_equal(list(&f, names, kinds), 1);
	assert_string_equal(names[0], "cfg");
	assert_int_equal(kinds[0], CTL_FD_FIFO);

	/* attach-fd: the VMM now holds the same socket */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(ctl_msg_attach_fd(&m, 0, "net0", sv[0]), 0);
	assert_int_equal(call(&f, &m, &rep), 0);
	close(sv[0]);
	fd = fd_table_find(&f.fds, "net0");
	assert_true(fd >= 0);
	assert_int_equal(write(sv[1], "y", 1), 1);
	assert_int_equal(read(fd, &c, 1), 1);
	assert_int_equal(c, 'y');
	assert_int_equal(list(&f, names, kinds), 2);
	assert_string_equal(names[1], "net0");
	assert_int_equal(kinds[1], CTL_FD_SOCKET);

	/* refusals close what was handed in */
	int q[2];

	assert_int_equal(pipe2(q, O_CLOEXEC), 0);
	assert_int_equal(ctl_msg_attach_fd(&m, 0, "net0", q[1]), 0);
	assert_int_equal(call(&f, &m, &rep), -EEXIST);
	dir = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_int_equal(ctl_msg_attach_fd(&m, 0, "root", dir), 0);
	assert_int_equal(call(&f, &m, &rep), -EISDIR);
	close(dir);
	for (unsigned i = 2; i < FD_TABLE_MAX; i++) {
		char name[8];

		snprintf(name, sizeof(name), "f%u", i);
		assert_int_equal(ctl_msg_attach_fd(&m, 0, name, q[1]), 0);
		assert_int_equal(call(&f, &m, &rep), 0);
	}
	assert_int_equal(ctl_msg_attach_fd(&m, 0, "more", q[1]), 0);
	assert_int_equal(call(&f, &m, &rep), -ENOSPC);
	assert_int_equal(list(&f, names, kinds), FD_TABLE_MAX);
	assert_string_equal(names[FD_TABLE_MAX - 1], "f15");
	close(q[1]);
	/* The table holds 14 copies of q[1]: only destroy gives EOF. */
	fd_table_destroy(&f.fds);
	assert_eof(q[0]);
	close(p[1]);
	close(sv[1]);
	fx_stop(&f);
	assert_int_equal(open_fds(), base);
}

static void test_malformed(void **state)
{
	static struct fx f;
	struct ctl_msg m, rep;
	unsigned char buf[256];
	int p[2 * 8], wr[8];
	unsigned base = open_fds();
	struct {
		uint32_t magic;
		uint16_t version, type;
		uint32_t seq;
		int32_t status;
		uint32_t rest[12];
	} v1 = { .magic = CTL_MAGIC, .version = 1, .type = CTL_PAUSE, .seq = 41 };

	(void)state;
	fx_start(&f);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(pipe2(&p[2 * i], O_CLOEXEC), 0);
		wr[i] = p[2 * i + 1];
	}
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i * 13 + 5);
	call_raw_refused(&f, buf, sizeof(buf), NULL, 0, 0); /* garbage: no seq */
	call_raw_refused(&f, &v1, sizeof(v1), NULL, 0, 41); /* a v1 daemon */
	ctl_msg_request(&m, CTL_STATUS, 42);
	m.hdr.nfds = 8;
	memcpy(buf, &m.hdr, sizeof(m.hdr));
	call_raw_refused(&f, buf, sizeof(m.hdr), wr, 8, 42); /* MSG_CTRUNC */
	ctl_msg_request(&m, CTL_PAUSE, 43);
	memcpy(buf, &m.hdr, sizeof(m.hdr));
	call_raw_refused(&f, buf, sizeof(m.hdr), wr, 1, 43); /* unannounced fd */
	/* still the same, usable connection */
	ctl_msg_request(&m, CTL_STATUS, 0);
	assert_int_equal(call(&f, &m, &rep), 0);
	for (int i = 0; i < 8; i++) {
		close(wr[i]);
		assert_eof(p[2 * i]);
	}
	assert_int_equal(f.fds.n, 0);
	/* a peer that hangs up is dropped */
	close(f.cl);
	f.cl = -1;
	ctl_vmm_handle(&f.c);
	assert_int_equal(f.c.conn_fd, -1);
	fx_stop(&f);
	assert_int_equal(open_fds(), base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_attach_list),
		cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
