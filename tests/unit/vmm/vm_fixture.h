/* vm_fixture.h — real VMs inside a unit test process (src/vmm/ as a library):
 * a configuration for a freestanding test guest, a thread that runs the VM,
 * and the skip rule. The guests come from tests/guest (BH_GUEST_DIR, set by
 * meson). These tests need KVM: where /dev/kvm cannot be opened they exit 77
 * (meson: skipped) after printing why; `make check` runs them wherever KVM
 * works (hardware, and PVM-backed hosts, where these ring-0 guests run). */
#ifndef BH_TEST_VM_FIXTURE_H
#define BH_TEST_VM_FIXTURE_H

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vmm/vm.h"

#define FX_SKIP 77

static inline void fx_require_kvm(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		printf("SKIP: /dev/kvm cannot be opened (%s): this test runs real VMs; "
		       "make check runs it where KVM works\n", strerror(errno));
		exit(FX_SKIP);
	}
	close(fd);
}

/* Path of test guest NAME.elf; exits 1 with a message when it is missing. */
static inline void fx_guest(char *out, size_t len, const char *name)
{
	const char *dir = getenv("BH_GUEST_DIR");

	snprintf(out, len, "%s/%s.elf", dir ? dir : "tests/guest", name);
	if (access(out, R_OK) != 0) {
		fprintf(stderr, "FAIL: test guest %s missing (BH_GUEST_DIR)\n", out);
		exit(1);
	}
}

static inline uint64_t fx_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A 64 MiB, 1-vCPU VM booting `kernel`, console into `console_path`. */
static inline void fx_config(struct vm_config *c, const char *kernel, const char *console_path)
{
	memset(c, 0, sizeof(*c));
	c->mem_bytes = 64ull << 20;
	c->ncpus = 1;
	c->boot.kernel_path = kernel;
	c->boot.cmdline = "console=ttyS0";
	c->boot.proto = BOOT_PROTO_AUTO;
	c->boot.decompress = BOOT_DECOMPRESS_HOST;
	c->console = CONSOLE_FILE;
	c->console_path = console_path;
	c->console_max_bytes = 1ull << 30;
	c->cpu_template = CPU_TEMPLATE_BASELINE;
	c->test_device = true;
	c->start_ns = fx_now_ns();
}

struct fx_run {
	struct vm *vm;
	pthread_t thread;
	enum vm_exit_reason reason;
};

static inline void *fx_run_thread(void *arg)
{
	struct fx_run *r = arg;

	r->reason = vm_run(r->vm);
	return NULL;
}

static inline int fx_start(struct fx_run *r, struct vm *vm)
{
	r->vm = vm;
	r->reason = VM_EXIT_NONE;
	return pthread_create(&r->thread, NULL, fx_run_thread, r);
}

/* Size of a file, or -1. */
static inline long long fx_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* A hash of a whole file's content (64-bit words, FNV-style mixing), 0 if
 * unreadable. For "did it change", not for security. */
static inline uint64_t fx_hash(const char *path)
{
	uint64_t h = 0xcbf29ce484222325ull, buf[8192];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n / 8; i++)
			h = (h ^ buf[i]) * 0x100000001b3ull;
		h ^= (uint64_t)n;
	}
	close(fd);
	return h;
}

/* The file at path (a console log) into buf[0..len), NUL-terminated: at
 * most len - 1 bytes, empty when it cannot be read. Returns buf. */
static inline char *fx_read_text(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	buf[0] = '\0';
	if (fd < 0)
		return buf;
	n = read(fd, buf, len - 1);
	buf[n > 0 ? n : 0] = '\0';
	close(fd);
	return buf;
}

/* fx_read_text() into one 64 KiB buffer of this test's, overwritten by the
 * next call: for strstr() on a console log. The test's thread only. */
static inline char *fx_console(const char *path)
{
	static char buf[65536];

	return fx_read_text(path, buf, sizeof(buf));
}

static inline void fx_sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

#endif
