/* test_snap_dir.c — a snapshot directory written and loaded through
 * snap_dir.h: begin/finish leave exactly state, memory and manifest (the
 * memory file sparse, nothing under a temporary name) and load accepts it;
 * a directory holding a snapshot is never written again; abort leaves
 * nothing; load refuses an altered state file (SHA-256), a memory file of
 * the wrong size or one that is not a regular file, a state file whose RAM
 * is not the memory file's size, and a manifest that is not one — each with
 * a message naming the file. */
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
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "snapshot/snap_dir.h"

#define MEM (8u << 20)

/* A structurally valid state file of one vCPU and MEM bytes of RAM. */
static size_t make_state(uint8_t *b, uint64_t mem)
{
	static const struct { uint32_t type; const char *body; } secs[] = {
		{ SNAP_SEC_CONFIG, "{\"mem\":8}" }, { SNAP_SEC_CPUID, "c" },
		{ SNAP_SEC_VCPU, "v" },             { SNAP_SEC_VM, "m" },
		{ SNAP_SEC_DEVICES, "" },
	};
	size_t len = SNAP_HEADER_LEN;

	for (size_t i = 0; i < sizeof(secs) / sizeof(secs[0]); i++) {
		size_t n = strlen(secs[i].body);

		snap_section_encode(b + len, secs[i].type, 0, 1, n);
		memcpy(b + len + SNAP_SECTION_HDR, secs[i].body, n);
		len += SNAP_SECTION_HDR + n;
	}
	snap_header_encode(b, 1, 0, mem, 5);
	return len;
}

static unsigned entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	unsigned n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Write a complete snapshot into a fresh directory (its path in dir). */
static int write_snapshot(char *dir, uint64_t state_mem, uint64_t mem_len)
{
	uint8_t st[1024];
	size_t len = make_state(st, state_mem);
	char err[256];
	int dfd, sfd, mfd;

	assert_non_null(mkdtemp(dir));
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	assert_int_equal(snap_dir_begin(dfd, &sfd, &mfd, err, sizeof(err)), 0);
	assert_int_equal(pwrite(sfd, st, len, 0), (ssize_t)len);
	assert_int_equal(ftruncate(mfd, (off_t)mem_len), 0);
	assert_int_equal(pwrite(mfd, "data", 4, 4096), 4);
	assert_int_equal(snap_dir_finish(dfd, sfd, mfd, err, sizeof(err)), 0);
	close(sfd);
	close(mfd);
	return dfd;
}

static void remove_dir(const char *dir)
{
	char p[256];
	const char *const names[] = { SNAP_FILE_STATE, SNAP_FILE_MEMORY, SNAP_FILE_MANIFEST };

	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		unlink(p);
	}
	assert_int_equal(rmdir(dir), 0);
}

static int load(int dfd, bool verify, char *err)
{
	int f[3] = { openat(dfd, SNAP_FILE_MANIFEST, O_RDONLY),
		     openat(dfd, SNAP_FILE_STATE, O_RDONLY), openat(dfd, SNAP_FILE_MEMORY, O_RDONLY) };
	struct snap_loaded l;
	int ret = snap_dir_load(f[0], f[1], f[2], verify, &l, err, 256);

	if (!ret) {
		assert_int_equal(l.st->h.ncpus, 1);
		assert_int_equal(l.st->h.mem_bytes, MEM);
		snap_dir_unload(&l);
	}
	for (int i = 0; i < 3; i++)
		if (f[i] >= 0)
			close(f[i]);
	return ret;
}

static void round_trip(void **state)
{
	char dir[] = "/tmp/bh-snapdir.XXXXXX", err[256];
	int dfd = write_snapshot(dir, MEM, MEM), sfd, mfd;
	struct stat st;

	(void)state;
	assert_int_equal(entries(dir), 3);
	assert_int_equal(fstatat(dfd, SNAP_FILE_MEMORY, &st, 0), 0);
	assert_int_equal(st.st_size, MEM);
	assert_true((uint64_t)st.st_blocks * 512 < MEM / 4); /* sparse */
	assert_int_equal(load(dfd, true, err), 0);
	/* never written again */
	assert_int_equal(snap_dir_begin(dfd, &sfd, &mfd, err, sizeof(err)), -EEXIST);
	assert_non_null(strstr(err, "already holds a snapshot"));
	/* altered state: refused by its SHA-256 */
	{
		int fd = openat(dfd, SNAP_FILE_STATE, O_WRONLY);

		assert_int_equal(pwrite(fd, "x", 1, SNAP_HEADER_LEN + 30), 1);
		close(fd);
	}
	assert_int_equal(load(dfd, false, err), -EINVAL);
	assert_non_null(strstr(err, "SHA-256"));
	close(dfd);
	remove_dir(dir);
}

static void refusals(void **state)
{
	char d1[] = "/tmp/bh-snapdir.XXXXXX", d2[] = "/tmp/bh-snapdir.XXXXXX", err[256];
	int dfd, sfd, mfd, f[3];
	struct snap_loaded l;

	(void)state;
	/* the memory file is not the size of the RAM the state file says */
	dfd = write_snapshot(d1, MEM, MEM + 4096);
	assert_int_equal(load(dfd, false, err), -EINVAL);
	assert_non_null(strstr(err, "size of the VM's RAM"));
	/* the memory file shrank after the manifest */
	mfd = openat(dfd, SNAP_FILE_MEMORY, O_WRONLY);
	assert_int_equal(ftruncate(mfd, MEM), 0);
	close(mfd);
	assert_int_equal(load(dfd, false, err), -EINVAL);
	assert_non_null(strstr(err, "memory"));
	/* a manifest that is not one; a directory as the memory file */
	f[0] = openat(dfd, SNAP_FILE_STATE, O_RDONLY);
	f[1] = openat(dfd, SNAP_FILE_STATE, O_RDONLY);
	f[2] = open("/tmp", O_RDONLY | O_DIRECTORY);
	assert_int_not_equal(snap_dir_load(f[0], f[1], f[2], false, &l, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "manifest"));
	close(f[0]);
	f[0] = openat(dfd, SNAP_FILE_MANIFEST, O_RDONLY);
	assert_int_equal(snap_dir_load(f[0], f[1], f[2], false, &l, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "memory"));
	for (int i = 0; i < 3; i++)
		close(f[i]);
	close(dfd);
	remove_dir(d1);
	/* abort leaves nothing behind */
	assert_non_null(mkdtemp(d2));
	dfd = open(d2, O_RDONLY | O_DIRECTORY);
	assert_int_equal(snap_dir_begin(dfd, &sfd, &mfd, err, sizeof(err)), 0);
	assert_int_equal(entries(d2), 0); /* only dot files so far */
	snap_dir_abort(dfd);
	close(sfd);
	close(mfd);
	{
		DIR *d = opendir(d2);
		struct dirent *e;
		unsigned n = 0;

		while ((e = readdir(d)))
			n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
		closedir(d);
		assert_int_equal(n, 0);
	}
	close(dfd);
	assert_int_equal(rmdir(d2), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip),
		cmocka_unit_test(refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
