/* kvm_min.c — the physical limit for exit cost: the least a VMM can do per
 * exit. KVM_CREATE_VM, one 64 KiB memslot, one vCPU in real mode running
 *     mov ecx, N ; loop: out dx, al  (or mov [ds:0], al) ; dec ecx ; jnz loop ; hlt
 * and a KVM_RUN loop that only checks the exit reason. No irqchip, no
 * devices, no threads. Prints one line, "kvm_min pio|mmio N EXITS NS_PER_EXIT".
 *
 * usage: kvm_min pio|mmio N
 * Exit status 0 on success, 1 on any failure (with the reason on stderr).
 *
 * Why real mode: it needs no page tables or GDT, so the guest is 12 bytes.
 * The MMIO target is DS base 0x20000, outside the only memslot, so every
 * store becomes KVM_EXIT_MMIO. (On a PVM-backed /dev/kvm, real-mode code is
 * emulated; the figure is then an upper bound rather than the limit.) */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MEM_SIZE 0x10000u
#define CODE_GPA 0x1000u
#define PIO_PORT 0x2ffu
#define MMIO_DS_SEL 0x2000u /* base 0x20000: no memslot there */

static int fail(const char *what)
{
	fprintf(stderr, "kvm_min: %s: %s\n", what, strerror(errno));
	return 1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	/* mov ecx, imm32 (patched) ; mov dx, PIO_PORT ; out dx, al ;
	 * dec ecx ; jnz -5 ; hlt */
	static const uint8_t pio_code[] = { 0x66, 0xb9, 0, 0, 0, 0, 0xba, PIO_PORT & 0xff, PIO_PORT >> 8,
					    0xee, 0x66, 0x49, 0x75, 0xfb, 0xf4 };
	/* mov ecx, imm32 (patched) ; mov [0], al ; dec ecx ; jnz -7 ; hlt */
	static const uint8_t mmio_code[] = { 0x66, 0xb9, 0, 0, 0, 0, 0xa2, 0x00, 0x00,
					     0x66, 0x49, 0x75, 0xf9, 0xf4 };
	if (argc != 3 || (strcmp(argv[1], "pio") && strcmp(argv[1], "mmio"))) {
		fprintf(stderr, "usage: kvm_min pio|mmio N\n");
		return 2;
	}
	int mmio = strcmp(argv[1], "mmio") == 0;
	char *end;
	unsigned long n = strtoul(argv[2], &end, 0);
	if (*end || n == 0 || n > 0xffffffffu) {
		fprintf(stderr, "kvm_min: bad count '%s'\n", argv[2]);
		return 2;
	}

	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		return fail("open /dev/kvm");
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		return fail("KVM_CREATE_VM");
	/* Needed on VMX without unrestricted guest for real mode; harmless elsewhere. */
	if (ioctl(vm, KVM_SET_TSS_ADDR, 0xfffbd000ul) < 0)
		return fail("KVM_SET_TSS_ADDR");

	uint8_t *mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return fail("mmap");
	const uint8_t *code = mmio ? mmio_code : pio_code;
	size_t code_len = mmio ? sizeof(mmio_code) : sizeof(pio_code);
	memcpy(mem + CODE_GPA, code, code_len);
	uint32_t n32 = (uint32_t)n;
	memcpy(mem + CODE_GPA + 2, &n32, sizeof(n32));
	struct kvm_userspace_memory_region region = {
		.slot = 0, .guest_phys_addr = 0, .memory_size = MEM_SIZE,
		.userspace_addr = (uint64_t)(uintptr_t)mem,
	};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return fail("KVM_SET_USER_MEMORY_REGION");

	int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0)
		return fail("KVM_CREATE_VCPU");
	int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size < (int)sizeof(struct kvm_run))
		return fail("KVM_GET_VCPU_MMAP_SIZE");
	struct kvm_run *run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		return fail("mmap kvm_run");

	struct kvm_sregs sregs;
	if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
		return fail("KVM_GET_SREGS");
	sregs.cs.selector = 0;
	sregs.cs.base = 0;
	sregs.ds.selector = MMIO_DS_SEL;
	sregs.ds.base = (uint64_t)MMIO_DS_SEL << 4;
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
		return fail("KVM_SET_SREGS");
	struct kvm_regs regs = { .rip = CODE_GPA, .rflags = 0x2 };
	if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
		return fail("KVM_SET_REGS");

	unsigned long exits = 0;
	double t0 = now_s();
	for (;;) {
		if (ioctl(vcpu, KVM_RUN, 0) < 0) {
			if (errno == EINTR)
				continue;
			return fail("KVM_RUN");
		}
		if (run->exit_reason == KVM_EXIT_HLT)
			break;
		if (run->exit_reason != (mmio ? KVM_EXIT_MMIO : KVM_EXIT_IO)) {
			fprintf(stderr, "kvm_min: unexpected exit reason %u after %lu exits\n",
				run->exit_reason, exits);
			return 1;
		}
		exits++;
	}
	double dt = now_s() - t0;
	if (exits != n) {
		fprintf(stderr, "kvm_min: %lu exits, expected %lu\n", exits, n);
		return 1;
	}
	printf("kvm_min %s %lu %.1f\n", mmio ? "mmio" : "pio", exits, dt * 1e9 / (double)exits);
	return 0;
}
