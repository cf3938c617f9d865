/* test_agent_proto.c — the host<->agent codecs: frames (round trip, fed a
 * byte at a time, every header a receiver must refuse), the job description
 * (round trip and refusals), and the bounded tar streams (round trip of a
 * tree; refusal of links, devices, absolute and '..' names, caps, truncated
 * archives, an existing destination; nothing written outside it). */
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

#include "agentproto/agent_proto.h"
#include "agentproto/tar_stream.h"

static struct ap_dec dec;

static size_t frame(uint8_t *buf, uint8_t stream, uint8_t type, const void *p, uint32_t len)
{
	assert_int_equal(ap_hdr_encode(buf, stream, type, len), 0);
	if (len)
		memcpy(buf + AP_HDR_LEN, p, len);
	return AP_HDR_LEN + len;
}

static void test_frame_roundtrip_bytewise(void **state)
{
	(void)state;
	static uint8_t buf[3 * (AP_HDR_LEN + 100)];
	size_t n = 0;
	uint8_t v[4] = { 1, 0, 0, 0 };
	struct ap_frame f;
	int got = 0;

	n += frame(buf + n, AP_S_CONTROL, AP_T_HELLO, v, 4);
	n += frame(buf + n, AP_S_STDOUT, AP_T_DATA, "hello", 5);
	n += frame(buf + n, AP_S_STDERR, AP_T_EOF, NULL, 0);
	ap_dec_init(&dec);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(ap_dec_feed(&dec, buf + i, 1), 1);
		while (ap_dec_next(&dec, &f) == 1) {
			if (got == 0)
				assert_true(f.type == AP_T_HELLO && f.len == 4 &&
					    ap_get_u32(f.payload) == 1);
			if (got == 1)
				assert_true(f.stream == AP_S_STDOUT && f.len == 5 &&
					    !memcmp(f.payload, "hello", 5));
			if (got == 2)
				assert_true(f.stream == AP_S_STDERR && f.type == AP_T_EOF);
			got++;
		}
	}
	assert_int_equal(got, 3);
}

static void expect_bad_header(uint32_t len, uint8_t stream, uint8_t type, uint8_t r6)
{
	uint8_t h[AP_HDR_LEN];
	struct ap_frame f;

	ap_put_u32(h, len);
	h[4] = stream;
	h[5] = type;
	h[6] = r6;
	h[7] = 0;
	ap_dec_init(&dec);
	ap_dec_feed(&dec, h, sizeof(h));
	assert_int_equal(ap_dec_next(&dec, &f), -EPROTO);
	/* and it stays broken: no more bytes are taken */
	assert_int_equal(ap_dec_feed(&dec, h, sizeof(h)), 0);
	assert_int_equal(ap_dec_next(&dec, &f), -EPROTO);
}

static void test_frame_refusals(void **state)
{
	(void)state;
	expect_bad_header(AP_MAX_PAYLOAD + 1, AP_S_STDOUT, AP_T_DATA, 0); /* oversized */
	expect_bad_header(0xffffffffu, AP_S_STDOUT, AP_T_DATA, 0);        /* hostile size */
	expect_bad_header(4, 9, AP_T_DATA, 0);                            /* unknown stream */
	expect_bad_header(4, AP_S_STDOUT, AP_T_HELLO, 0);                 /* type/stream */
	expect_bad_header(4, AP_S_CONTROL, 99, 0);                        /* unknown type */
	expect_bad_header(4, AP_S_STDOUT, AP_T_DATA, 1);                  /* reserved */
	expect_bad_header(0, AP_S_STDOUT, AP_T_DATA, 0);                  /* empty DATA */
	expect_bad_header(3, AP_S_STDOUT, AP_T_EOF, 0);                   /* EOF with bytes */
	expect_bad_header(15, AP_S_CONTROL, AP_T_EXIT, 0);                /* EXIT size */
	expect_bad_header(5000, AP_S_CONTROL, AP_T_ERROR, 0);             /* ERROR size */
	uint8_t h[AP_HDR_LEN];

	assert_int_equal(ap_hdr_encode(h, AP_S_STDIN, AP_T_DATA, AP_MAX_PAYLOAD + 1), -EINVAL);
}

static void test_exit_decode(void **state)
{
	(void)state;
	struct ap_exit e = { AP_EXIT_SIGNAL, 9, 1, 0 }, d;
	uint8_t b[AP_EXIT_LEN];

	ap_exit_encode(b, &e);
	assert_int_equal(ap_exit_decode(b, sizeof(b), &d), 0);
	assert_true(d.kind == AP_EXIT_SIGNAL && d.value == 9 && d.oom_kills == 1);
	e = (struct ap_exit){ AP_EXIT_CODE, 256, 0, 0 };
	ap_exit_encode(b, &e);
	assert_int_equal(ap_exit_decode(b, sizeof(b), &d), -EPROTO);
	e = (struct ap_exit){ 77, 0, 0, 0 };
	ap_exit_encode(b, &e);
	assert_int_equal(ap_exit_decode(b, sizeof(b), &d), -EPROTO);
	e = (struct ap_exit){ AP_EXIT_SIGNAL, 0, 0, 0 };
	ap_exit_encode(b, &e);
	assert_int_equal(ap_exit_decode(b, sizeof(b), &d), -EPROTO);
}

static struct ap_job job;

static void test_job_roundtrip(void **state)
{
	(void)state;
	uint8_t buf[1024];
	struct ap_jobbuf b = { buf, 0, sizeof(buf) };
	char err[200];

	assert_int_equal(ap_job_put_str(&b, AP_TAG_ARG, "/bin/echo"), 0);
	assert_int_equal(ap_job_put_str(&b, AP_TAG_ARG, "hi there"), 0);
	assert_int_equal(ap_job_put_str(&b, AP_TAG_ENV, "A=b"), 0);
	assert_int_equal(ap_job_put_str(&b, AP_TAG_CWD, "/tmp"), 0);
	assert_int_equal(ap_job_put_u32(&b, AP_TAG_UID, 1000), 0);
	assert_int_equal(ap_job_put_u32(&b, AP_TAG_GID, 1001), 0);
	assert_int_equal(ap_job_put_rlimit(&b, 4, 0, 0), 0);
	assert_int_equal(ap_job_put_terminal(&b, 40, 120), 0);
	assert_int_equal(ap_job_put_flag(&b, AP_TAG_STDIN), 0);
	assert_int_equal(ap_job_decode(buf, b.len, &job, err, sizeof(err)), 0);
	assert_int_equal(job.nargs, 2);
	assert_string_equal(job.argv[1], "hi there");
	assert_null(job.argv[2]);
	assert_string_equal(job.envp[0], "A=b");
	assert_string_equal(job.cwd, "/tmp");
	assert_true(job.has_user && job.uid == 1000 && job.gid == 1001);
	assert_true(job.terminal && job.rows == 40 && job.cols == 120 && job.keep_stdin);
	assert_int_equal(job.nrlimits, 1);
	/* every truncation of a valid job is refused or decodes to a prefix:
	 * never a read past the end (ASan watches) */
	for (size_t cut = 0; cut < b.len; cut++)
		(void)!ap_job_decode(buf, cut, &job, err, sizeof(err));
}

static void expect_job_refused(const uint8_t *p, size_t len, const char *why)
{
	char err[200] = "";

	assert_int_equal(ap_job_decode(p, len, &job, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, why));
}

static void test_job_refusals(void **state)
{
	(void)state;
	uint8_t buf[1024];
	struct ap_jobbuf b = { buf, 0, sizeof(buf) };
	char err[200];

	assert_int_equal(ap_job_put_str(&b, AP_TAG_ENV, "A=b"), 0);
	expect_job_refused(buf, b.len, "no program");
	b.len = 0;
	assert_int_equal(ap_job_put_str(&b, AP_TAG_ARG, "x"), 0);
	assert_int_equal(ap_job_put_str(&b, AP_TAG_CWD, "relative"), 0);
	expect_job_refused(buf, b.len, "absolute");
	b.len = 0;
	assert_int_equal(ap_job_put_str(&b, AP_TAG_ARG, "x"), 0);
	assert_int_equal(ap_job_put_str(&b, AP_TAG_ENV, "NOEQUALS"), 0);
	expect_job_refused(buf, b.len, "NAME=");
	b.len = 0;
	assert_int_equal(ap_job_put_str(&b, AP_TAG_ARG, "x"), 0);
	assert_int_equal(ap_job_put_u32(&b, 200, 1), 0);
	expect_job_refused(buf, b.len, "unknown tag");
	b.len = 0;
	assert_int_equal(ap_job_put_str(&b, AP_TAG_ARG, "x"), 0);
	assert_int_equal(ap_job_put_rlimit(&b, 1, 10, 5), 0);
	expect_job_refused(buf, b.len, "soft above hard");
	/* (uid_t)-1 and (gid_t)-1 are setresuid's "unchanged": the agent's root */
	b.len = 0;
	assert_int_equal(ap_job_put_str(&b, AP_TAG_ARG, "x"), 0);
	assert_int_equal(ap_job_put_u32(&b, AP_TAG_UID, 0xffffffffu), 0);
	expect_job_refused(buf, b.len, "uid 4294967295 is not a user");
	b.len = 0;
	assert_int_equal(ap_job_put_str(&b, AP_TAG_ARG, "x"), 0);
	assert_int_equal(ap_job_put_u32(&b, AP_TAG_UID, 1000), 0);
	assert_int_equal(ap_job_put_u32(&b, AP_TAG_GID, 0xffffffffu), 0);
	expect_job_refused(buf, b.len, "gid 4294967295 is not a user");
	b.len = 0;
	assert_int_equal(ap_job_put_str(&b, AP_TAG_ARG, "x"), 0);
	assert_int_equal(ap_job_put_u32(&b, AP_TAG_UID, 0xfffffffeu), 0);
	assert_int_equal(ap_job_decode(buf, b.len, &job, err, sizeof(err)), 0);
	assert_true(job.has_user && job.uid == 0xfffffffeu);
	/* a record whose length runs past the end */
	b.len = 0;
	assert_int_equal(ap_job_put_str(&b, AP_TAG_ARG, "abc"), 0);
	ap_put_u32(buf + 4, 0x7fffffff);
	expect_job_refused(buf, b.len, "runs past");
	/* a NUL inside a string */
	b.len = 0;
	assert_int_equal(ap_job_put_str(&b, AP_TAG_ARG, "abc"), 0);
	buf[9] = 0;
	expect_job_refused(buf, b.len, "NUL");
	/* too many arguments */
	static uint8_t big[AP_MAX_PAYLOAD];
	struct ap_jobbuf bb = { big, 0, sizeof(big) };

	for (int i = 0; i <= AP_JOB_MAX_ARGS; i++)
		assert_int_equal(ap_job_put_str(&bb, AP_TAG_ARG, "a"), 0);
	expect_job_refused(big, bb.len, "more than");
}

/* COPY_IN's payload: the owner must be a real one, the path absolute. */
static void test_copy_in_decode(void **state)
{
	(void)state;
	uint8_t p[64];
	char path[AP_JOB_MAX_STR + 1], err[200];
	uint32_t uid, gid;

	ap_put_u32(p, 1000);
	ap_put_u32(p + 4, 100);
	memcpy(p + 8, "/work/in", 8);
	assert_int_equal(ap_copy_in_decode(p, 16, &uid, &gid, path, sizeof(path), err,
					   sizeof(err)), 0);
	assert_int_equal(uid, 1000);
	assert_int_equal(gid, 100);
	assert_string_equal(path, "/work/in");
	/* (uid_t)-1 / (gid_t)-1: fchown's "unchanged", i.e. owned by root */
	ap_put_u32(p, 0xffffffffu);
	assert_int_equal(ap_copy_in_decode(p, 16, &uid, &gid, path, sizeof(path), err,
					   sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "uid 4294967295 is not an owner"));
	ap_put_u32(p, 1000);
	ap_put_u32(p + 4, 0xffffffffu);
	assert_int_equal(ap_copy_in_decode(p, 16, &uid, &gid, path, sizeof(path), err,
					   sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "gid 4294967295 is not an owner"));
	/* a relative path, a NUL inside it, no path, one too long for the buffer */
	ap_put_u32(p + 4, 100);
	memcpy(p + 8, "work/in", 7);
	assert_int_equal(ap_copy_in_decode(p, 15, &uid, &gid, path, sizeof(path), err,
					   sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not an absolute path"));
	memcpy(p + 8, "/a\0b", 4);
	assert_int_equal(ap_copy_in_decode(p, 12, &uid, &gid, path, sizeof(path), err,
					   sizeof(err)), -EINVAL);
	assert_int_equal(ap_copy_in_decode(p, 8, &uid, &gid, path, sizeof(path), err,
					   sizeof(err)), -EINVAL);
	assert_int_equal(ap_copy_in_decode(p, 16, &uid, &gid, path, 8, err, sizeof(err)),
			 -EINVAL);
}

static void test_tar_names(void **state)
{
	(void)state;
	assert_true(ap_tar_name_ok("."));
	assert_true(ap_tar_name_ok("a/b/c"));
	assert_false(ap_tar_name_ok("/etc/passwd"));
	assert_false(ap_tar_name_ok("a/../../b"));
	assert_false(ap_tar_name_ok(".."));
	assert_false(ap_tar_name_ok("a//b"));
	assert_false(ap_tar_name_ok("a/./b"));
	assert_false(ap_tar_name_ok("a/"));
	assert_false(ap_tar_name_ok("a\nb"));
	assert_false(ap_tar_name_ok(""));
}

/* ---- tar streams on a scratch directory ---- */
static char scratch[64];

static int setup_scratch(void **state)
{
	(void)state;
	snprintf(scratch, sizeof(scratch), "/tmp/bh-tar-test.XXXXXX");
	return mkdtemp(scratch) ? 0 : -1;
}

static int teardown_scratch(void **state)
{
	(void)state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", scratch);
	return system(cmd) == 0 ? 0 : -1;
}

struct sink {
	uint8_t *p;
	size_t len, cap;
};

static int sink_emit(void *ctx, const void *buf, size_t n)
{
	struct sink *s = ctx;

	if (s->len + n > s->cap) {
		size_t cap = (s->len + n) * 2;
		uint8_t *np = realloc(s->p, cap);

		if (!np)
			return -ENOMEM;
		s->p = np;
		s->cap = cap;
	}
	memcpy(s->p + s->len, buf, n);
	s->len += n;
	return 0;
}

static void put_file(const char *path, const char *content)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0640);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
}

static void path(char *out, const char *rel)
{
	snprintf(out, 256, "%s/%s", scratch, rel);
}

static void test_tar_roundtrip(void **state)
{
	(void)state;
	char p[256], q[256], err[300];
	struct ap_tar_caps caps = { 1 << 20, 100 };
	struct ap_tar_stats st;
	struct sink s = { 0 };
	static struct ap_untar u;

	path(p, "src");
	assert_int_equal(mkdir(p, 0755), 0);
	path(p, "src/sub");
	assert_int_equal(mkdir(p, 0700), 0);
	path(p, "src/a.txt");
	put_file(p, "alpha\n");
	path(p, "src/sub/b.txt");
	put_file(p, "beta beta\n");
	path(p, "src/link");
	assert_int_equal(symlink("/etc/passwd", p), 0);
	path(p, "src/fifo");
	assert_int_equal(mkfifo(p, 0600), 0);
	path(p, "src");
	assert_int_equal(ap_tar_write(p, &caps, sink_emit, &s, &st, err, sizeof(err)), 0);
	assert_int_equal(st.entries, 4); /* ., sub, a.txt, sub/b.txt */
	assert_int_equal(st.skipped, 2); /* the link and the FIFO */
	path(q, "dst");
	assert_int_equal(ap_untar_init(&u, q, &caps), 0);
	/* fed in odd-sized pieces */
	for (size_t off = 0; off < s.len; off += 333) {
		size_t k = s.len - off < 333 ? s.len - off : 333;

		assert_int_equal(ap_untar_feed(&u, s.p + off, k), 0);
	}
	assert_int_equal(ap_untar_end(&u), 0);
	path(p, "dst/sub/b.txt");
	FILE *f = fopen(p, "r");
	char line[32] = "";

	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	assert_string_equal(line, "beta beta\n");
	struct stat sb;

	path(p, "dst/link");
	assert_int_equal(lstat(p, &sb), -1);
	path(p, "dst/a.txt");
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0640);
	/* an existing destination is never overwritten */
	assert_int_equal(ap_untar_init(&u, q, &caps), -EEXIST);
	/* a root that is a symbolic link is refused */
	path(p, "src/link");
	s.len = 0;
	assert_int_equal(ap_tar_write(p, &caps, sink_emit, &s, &st, err, sizeof(err)), -ELOOP);
	assert_non_null(strstr(err, "symbolic link"));
	/* caps: entries and bytes */
	struct ap_tar_caps tiny = { 1 << 20, 2 };

	path(p, "src");
	s.len = 0;
	assert_int_equal(ap_tar_write(p, &tiny, sink_emit, &s, &st, err, sizeof(err)), -EMLINK);
	struct ap_tar_caps small = { 8, 100 };

	s.len = 0;
	assert_int_equal(ap_tar_write(p, &small, sink_emit, &s, &st, err, sizeof(err)), -EFBIG);
	free(s.p);
}

/* A hand-made archive with one hostile entry after a valid root dir. */
static void hostile_archive(const char *name, char type, const char *dest, int expect)
{
	static uint8_t a[4 * AP_TAR_BLOCK];
	struct ap_tar_ent root = { .name = ".", .is_dir = true, .mode = 0755 };
	struct ap_tar_caps caps = { 1 << 20, 100 };
	static struct ap_untar u;
	char p[256];

	memset(a, 0, sizeof(a));
	assert_int_equal(ap_tar_header(a, &root), 0);
	/* write the hostile header by hand (the encoder refuses such names) */
	uint8_t *h = a + AP_TAR_BLOCK;

	snprintf((char *)h, 100, "%s", name);
	memcpy(h + 100, "0000644", 8);
	memcpy(h + 124, "00000000000", 12);
	h[156] = (uint8_t)type;
	memcpy(h + 157, "/etc/passwd", 12);
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	unsigned sum = 0;

	for (int i = 0; i < AP_TAR_BLOCK; i++)
		sum += (i >= 148 && i < 156) ? ' ' : h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
	h[155] = ' ';
	path(p, dest);
	assert_int_equal(ap_untar_init(&u, p, &caps), 0);
	assert_int_equal(ap_untar_feed(&u, a, sizeof(a)), expect);
	(void)!ap_untar_end(&u);
}

static void test_tar_hostile(void **state)
{
	(void)state;
	struct stat sb;
	char p[256];

	hostile_archive("../escape", '0', "h1", -EPROTO);
	hostile_archive("/abs", '0', "h2", -EPROTO);
	hostile_archive("sym", '2', "h3", -EPROTO);  /* symlink */
	hostile_archive("hard", '1', "h4", -EPROTO); /* hard link */
	hostile_archive("dev", '3', "h5", -EPROTO);  /* char device */
	hostile_archive("fifo", '6', "h6", -EPROTO);
	hostile_archive("deep/x", '0', "h7", -ENOENT); /* parent never created */
	path(p, "escape");
	assert_int_equal(lstat(p, &sb), -1);
	path(p, "h3/sym");
	assert_int_equal(lstat(p, &sb), -1);
	/* a truncated archive is reported at the end */
	static struct ap_untar u;
	struct ap_tar_caps caps = { 1 << 20, 100 };
	uint8_t blk[AP_TAR_BLOCK];
	struct ap_tar_ent f = { .name = ".", .size = 1000, .mode = 0644 };

	assert_int_equal(ap_tar_header(blk, &f), 0);
	path(p, "trunc");
	assert_int_equal(ap_untar_init(&u, p, &caps), 0);
	assert_int_equal(ap_untar_feed(&u, blk, sizeof(blk)), 0);
	assert_int_equal(ap_untar_feed(&u, "xyz", 3), 0);
	assert_int_equal(ap_untar_end(&u), -EPROTO);
	/* a file bigger than the byte cap is refused before any data */
	struct ap_tar_caps small = { 100, 100 };

	path(p, "big");
	assert_int_equal(ap_untar_init(&u, p, &small), 0);
	assert_int_equal(ap_untar_feed(&u, blk, sizeof(blk)), -EFBIG);
	(void)!ap_untar_end(&u);
	/* garbage is refused by the checksum */
	memset(blk, 'A', sizeof(blk));
	path(p, "garbage");
	assert_int_equal(ap_untar_init(&u, p, &caps), 0);
	assert_int_equal(ap_untar_feed(&u, blk, sizeof(blk)), -EPROTO);
	(void)!ap_untar_end(&u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_roundtrip_bytewise),
		cmocka_unit_test(test_frame_refusals),
		cmocka_unit_test(test_exit_decode),
		cmocka_unit_test(test_job_roundtrip),
		cmocka_unit_test(test_job_refusals),
		cmocka_unit_test(test_copy_in_decode),
		cmocka_unit_test(test_tar_names),
		cmocka_unit_test_setup_teardown(test_tar_roundtrip, setup_scratch, teardown_scratch),
		cmocka_unit_test_setup_teardown(test_tar_hostile, setup_scratch, teardown_scratch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
