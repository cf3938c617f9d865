/* rt.h — the tiny freestanding runtime shared by bulkhead's test guests.
 *
 * A guest is one C file defining `int guest_main(void)`; the runtime (start.S,
 * tables.S, rt.c, ap.c) boots it from either entry bulkhead offers:
 *  - the 64-bit Linux-style entry (e_entry, RSI = zero page), or
 *  - the PVH 32-bit entry (XEN_ELFNOTE_PHYS32_ENTRY, EBX = hvm_start_info),
 * so the same ELF also runs under QEMU (-kernel) for cross-checking.
 *
 * Why it is shaped like this: on the PVM lab every ring-0 instruction is
 * emulated (~1.5 us each) while ring-3 code runs natively. So all descriptor
 * tables and page tables are static data (zero instructions to build), ring-0
 * paths are short, and heavy loops go to ring 3 via rt_enter_user(), where
 * RFLAGS.IOPL=3 lets the code report to the UART / test device directly.
 *
 * Every page of [0, 4 GiB) is mapped user-accessible (U/S=1) with 2 MiB pages;
 * the top GiB (MMIO: IOAPIC, LAPIC, ...) is uncached. SMEP/SMAP are cleared.
 */
#ifndef BH_GUEST_RT_H
#define BH_GUEST_RT_H

/* Test device (see src/devices/test_dev.h). */
#define RT_PORT_CHECKIN 0xf0
#define RT_PORT_EXIT 0xf4
#define RT_PORT_VALUE 0xf8
#define RT_TEST_MAGIC 0x42484b54u
#define RT_STATUS_EXCEPTION 0xEE /* an unexpected CPU exception */

/* GDT selectors (tables.S). 0x08/0x10/0x18 match bulkhead's boot GDT. */
#define RT_SEL_CODE32 0x08
#define RT_SEL_CODE64 0x10
#define RT_SEL_DATA 0x18
#define RT_SEL_UCODE 0x23 /* ring-3 64-bit code (0x20 | RPL 3) */
#define RT_SEL_UDATA 0x2b /* ring-3 data (0x28 | RPL 3) */
#define RT_SEL_TSS 0x30

#define RT_MAX_CPUS 256         /* APs beyond this halt without a stack (bulkhead: 254 vCPUs) */
#define RT_AP_TRAMPOLINE 0x10000 /* SIPI vector 0x10: free in bulkhead's layout.h */

#define RT_BOOT_LINUX64 0 /* rt_boot_kind values */
#define RT_BOOT_PVH 1

#ifndef __ASSEMBLER__ /* the rest is C; start.S and tables.S use the numbers above */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>


/* Set by start.S before guest_main runs. */
extern uint32_t rt_boot_kind;   /* RT_BOOT_* */
extern uint64_t rt_boot_params; /* gpa of the zero page or of hvm_start_info */

/* Provided by each guest. Its return value is the exit status (rt_exit). */
int guest_main(void);
/* Optional, weak: what each AP runs after rt_start_aps(); index 1..N in
 * arrival order (the BSP is 0). Runs in ring 0 on a 4 KiB stack; returning
 * halts the AP. */
void guest_ap_main(unsigned idx);

/* ---- port I/O and friends (usable from ring 3 thanks to IOPL=3) ---- */
static inline void outb(uint8_t v, uint16_t port) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
static inline void outw(uint16_t v, uint16_t port) { __asm__ volatile("outw %0, %1" ::"a"(v), "Nd"(port)); }
static inline void outl(uint32_t v, uint16_t port) { __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint16_t inw(uint16_t port) { uint16_t v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint32_t inl(uint16_t port) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}
static inline void cpu_relax(void) { __asm__ volatile("pause" ::: "memory"); }
static inline unsigned rt_cpl(void)
{
	uint16_t cs;
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	return cs & 3;
}

/* Volatile MMIO accessors: one instruction of exactly that width each, so the
 * VMM sees the access size the test means. */
static inline uint8_t mmio_read8(uint64_t a) { return *(volatile uint8_t *)a; }
static inline uint16_t mmio_read16(uint64_t a) { return *(volatile uint16_t *)a; }
static inline uint32_t mmio_read32(uint64_t a) { return *(volatile uint32_t *)a; }
static inline uint64_t mmio_read64(uint64_t a) { return *(volatile uint64_t *)a; }
static inline void mmio_write8(uint64_t a, uint8_t v) { *(volatile uint8_t *)a = v; }
static inline void mmio_write16(uint64_t a, uint16_t v) { *(volatile uint16_t *)a = v; }
static inline void mmio_write32(uint64_t a, uint32_t v) { *(volatile uint32_t *)a = v; }
static inline void mmio_write64(uint64_t a, uint64_t v) { *(volatile uint64_t *)a = v; }

/* ---- C library bits ---- */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

/* ---- reporting ---- */
void rt_putc(char c);              /* COM1, polled (bounded wait on LSR.THRE) */
void rt_puts(const char *s);       /* no newline added */
/* printf-lite: %s %c %d %u %x %lx %lu %ld %p %%; '0'/width for numbers. */
void rt_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void rt_vprintf(const char *fmt, va_list ap);
/* Stop the VM through the test device with `status` (0 = pass). Works in
 * ring 0 and ring 3. Never returns (parks the CPU if nobody stops us). */
__attribute__((noreturn)) void rt_exit(uint32_t status);
/* Print "FAIL <name>: <why>" and rt_exit(1) / "PASS <name>" and rt_exit(0). */
__attribute__((noreturn, format(printf, 2, 3))) void rt_fail(const char *name, const char *fmt, ...);
__attribute__((noreturn)) void rt_pass(const char *name);
/* True when reading the test device's value port returns its magic. */
int rt_test_device_present(void);

/* ---- boot information ---- */
/* The command line (cached copy, at most 511 bytes; "" if none). */
const char *rt_cmdline(void);
/* Value of a "name=value" token ("name=" includes the '='), or NULL. The
 * returned pointer runs to the end of the token (space or NUL). A bare flag
 * ("name" without '=') can be tested with rt_flag(). */
const char *rt_param(const char *name_eq);
int rt_flag(const char *name);
/* rt_param parsed as an unsigned number (decimal or 0x hex); `def` if absent
 * or malformed. */
uint64_t rt_param_u64(const char *name_eq, uint64_t def);

struct rt_mem_region {
	uint64_t addr, size;
	uint32_t type; /* 1 = usable RAM, 2 = reserved, ... (e820 types) */
};
/* The firmware memory map (zero-page e820 or PVH memmap); returns the number
 * of regions written to `out` (at most `max`). */
int rt_mem_map(struct rt_mem_region *out, int max);

/* ---- rings, CPUs ---- */
/* iretq to ring 3 at fn(arg) on `user_stack_top` with IOPL=3 and IF=0.
 * If fn returns, the guest fails with RT_STATUS_EXCEPTION. */
__attribute__((noreturn)) void rt_enter_user(void (*fn)(void), void *user_stack_top);
/* INIT-SIPI-SIPI to all other CPUs through the xAPIC; each AP goes
 * real -> protected -> long mode and calls guest_ap_main(). Returns once the
 * IPIs are sent (it does not wait for the APs). */
void rt_start_aps(void);
/* ---- exceptions ---- */
/* What the exception stubs (start.S) pass on: the vector, the error code (0
 * where the CPU pushes none) and the CPU's iretq frame. */
struct rt_exc_frame {
	uint64_t vector, error, rip, cs, rflags, rsp, ss;
};
/* Optional, weak (default: 0): a guest may handle an exception itself, e.g.
 * a ring-3 request to ring 0. Runs in ring 0 on the exception's stack with
 * interrupts off; return non-zero to resume at f->rip (the caller-saved
 * registers are restored), 0 to let the runtime report it and fail. */
int rt_exc_handled(struct rt_exc_frame *f);

/* Busy-wait about `cycles` TSC cycles. */
void rt_delay_cycles(uint64_t cycles);

#endif /* !__ASSEMBLER__ */
#endif
