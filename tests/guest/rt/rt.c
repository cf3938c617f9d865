/* rt.c — C side of the test-guest runtime: UART output, printf-lite, exit
 * through the test device, command line and memory map from either boot
 * protocol, exception reports, and the switch to ring 3.
 *
 * Everything here may run in ring 3 as well as ring 0 (IOPL=3, U/S=1 pages),
 * except rt_main and rt_exception. Code is plain and short on purpose: on the
 * PVM lab every ring-0 instruction is emulated. */

#include "rt.h"

/* ---------------- C library ---------------- */
/* The compiler may emit calls to these even with -ffreestanding. */
void *memset(void *d, int c, size_t n)
{
	unsigned char *p = d;
	while (n--)
		*p++ = (unsigned char)c;
	return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
	unsigned char *p = d;
	const unsigned char *q = s;
	while (n--)
		*p++ = *q++;
	return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *p = a, *q = b;
	for (; n; n--, p++, q++)
		if (*p != *q)
			return *p - *q;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

/* ---------------- UART (COM1, polled 8250) ---------------- */
#define COM1 0x3f8
#define UART_LSR 5
#define LSR_THRE 0x20

void rt_putc(char c)
{
	/* Bounded: an absent UART reads 0xff (THRE set) and a stuck one must
	 * not hang the test; the host's timeout is the real backstop. */
	for (unsigned i = 0; i < 100000 && !(inb(COM1 + UART_LSR) & LSR_THRE); i++)
		cpu_relax();
	outb((uint8_t)c, COM1);
}

void rt_puts(const char *s)
{
	while (*s) {
		if (*s == '\n')
			rt_putc('\r');
		rt_putc(*s++);
	}
}

/* ---------------- printf-lite ---------------- */
static void put_num(uint64_t v, unsigned base, int neg, int width, char pad)
{
	char buf[24];
	int n = 0;
	do {
		buf[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	if (neg)
		buf[n++] = '-';
	while (width-- > n)
		rt_putc(pad);
	while (n)
		rt_putc(buf[--n]);
}

void rt_vprintf(const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			if (*fmt == '\n')
				rt_putc('\r');
			rt_putc(*fmt);
			continue;
		}
		fmt++;
		char pad = ' ';
		int width = 0, is_long = 0;
		if (*fmt == '0')
			pad = '0';
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l') {
			is_long = 1;
			fmt++;
		}
		switch (*fmt) {
		case 's': {
			const char *s = va_arg(ap, const char *);
			rt_puts(s ? s : "(null)");
			break;
		}
		case 'c':
			rt_putc((char)va_arg(ap, int));
			break;
		case 'd': {
			int64_t v = is_long ? va_arg(ap, long) : va_arg(ap, int);
			put_num(v < 0 ? -(uint64_t)v : (uint64_t)v, 10, v < 0, width, pad);
			break;
		}
		case 'u':
			put_num(is_long ? va_arg(ap, unsigned long) : va_arg(ap, unsigned), 10, 0, width, pad);
			break;
		case 'x':
			put_num(is_long ? va_arg(ap, unsigned long) : va_arg(ap, unsigned), 16, 0, width, pad);
			break;
		case 'p':
			rt_puts("0x");
			put_num((uintptr_t)va_arg(ap, void *), 16, 0, width, pad);
			break;
		case '%':
			rt_putc('%');
			break;
		case '\0':
			return;
		default:
			rt_putc('%');
			rt_putc(*fmt);
			break;
		}
	}
}

void rt_printf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	rt_vprintf(fmt, ap);
	va_end(ap);
}

/* ---------------- exit ---------------- */
void rt_exit(uint32_t status)
{
	outl(status, RT_PORT_EXIT);
	/* Still here: no test device (or it ignored us). Park quietly; the
	 * host's timeout reports it. hlt is privileged, so ring 3 spins. */
	if (rt_cpl() == 0)
		for (;;)
			__asm__ volatile("cli; hlt");
	for (;;)
		cpu_relax();
}

void rt_fail(const char *name, const char *fmt, ...)
{
	va_list ap;
	rt_printf("FAIL %s: ", name);
	va_start(ap, fmt);
	rt_vprintf(fmt, ap);
	va_end(ap);
	rt_puts("\n");
	rt_exit(1);
}

void rt_pass(const char *name)
{
	rt_printf("PASS %s\n", name);
	rt_exit(0);
}

int rt_test_device_present(void)
{
	return inl(RT_PORT_VALUE) == RT_TEST_MAGIC;
}

/* ---------------- boot information ---------------- */
#define PVH_MAGIC 0x336ec578u
/* struct hvm_start_info (xen/include/public/arch-x86/hvm/start_info.h) */
#define PVH_VERSION 4
#define PVH_CMDLINE 24
#define PVH_MEMMAP 40         /* version >= 1 */
#define PVH_MEMMAP_ENTRIES 48
/* struct boot_params (Linux zero page) */
#define ZP_E820_ENTRIES 0x1e8
#define ZP_CMD_LINE_PTR 0x228
#define ZP_E820_TABLE 0x2d0
#define ZP_E820_MAX 128

static uint32_t rd32(uint64_t a) { return *(volatile uint32_t *)a; }
static uint64_t rd64(uint64_t a) { return *(volatile uint64_t *)a; }

static int pvh_valid(void)
{
	return rt_boot_params && rd32(rt_boot_params) == PVH_MAGIC;
}

static char cmdline_buf[512];
static int cmdline_cached;

const char *rt_cmdline(void)
{
	/* Copied once: the source may sit where the AP trampoline goes later,
	 * and the guest must not depend on firmware memory it may reuse. */
	if (cmdline_cached)
		return cmdline_buf;
	uint64_t src = 0;
	if (rt_boot_kind == RT_BOOT_PVH) {
		if (pvh_valid())
			src = rd64(rt_boot_params + PVH_CMDLINE);
	} else if (rt_boot_params) {
		src = rd32(rt_boot_params + ZP_CMD_LINE_PTR);
	}
	size_t n = 0;
	if (src && src < (4ULL << 30)) {
		const volatile char *s = (const volatile char *)src;
		while (n < sizeof(cmdline_buf) - 1 && s[n])
			n++;
		for (size_t i = 0; i < n; i++)
			cmdline_buf[i] = s[i];
	}
	cmdline_buf[n] = '\0';
	cmdline_cached = 1;
	return cmdline_buf;
}

/* Find a token starting with `prefix`; if `exact`, the token must end right
 * after it (or continue with '='). */
static const char *find_token(const char *prefix, int exact)
{
	const char *s = rt_cmdline();
	size_t plen = strlen(prefix);
	while (*s) {
		while (*s == ' ')
			s++;
		if (!*s)
			break;
		size_t i = 0;
		while (i < plen && s[i] == prefix[i]) /* stops at s's NUL too */
			i++;
		if (i == plen) {
			char c = s[plen];
			if (!exact || c == '\0' || c == ' ' || c == '=')
				return s + plen;
		}
		while (*s && *s != ' ')
			s++;
	}
	return NULL;
}

const char *rt_param(const char *name_eq)
{
	return find_token(name_eq, 0);
}

int rt_flag(const char *name)
{
	return find_token(name, 1) != NULL;
}

uint64_t rt_param_u64(const char *name_eq, uint64_t def)
{
	const char *s = rt_param(name_eq);
	if (!s)
		return def;
	unsigned base = 10;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	uint64_t v = 0;
	int digits = 0;
	for (; *s && *s != ' '; s++, digits++) {
		unsigned d;
		if (*s >= '0' && *s <= '9')
			d = (unsigned)(*s - '0');
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = (unsigned)(*s - 'a' + 10);
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = (unsigned)(*s - 'A' + 10);
		else
			return def;
		v = v * base + d;
	}
	return digits ? v : def;
}

int rt_mem_map(struct rt_mem_region *out, int max)
{
	int n = 0;
	if (rt_boot_kind == RT_BOOT_PVH) {
		if (!pvh_valid() || rd32(rt_boot_params + PVH_VERSION) < 1)
			return 0;
		uint64_t tab = rd64(rt_boot_params + PVH_MEMMAP);
		uint32_t cnt = rd32(rt_boot_params + PVH_MEMMAP_ENTRIES);
		for (uint32_t i = 0; i < cnt && n < max; i++, n++) {
			uint64_t e = tab + 24ULL * i; /* {u64 addr, u64 size, u32 type, u32 rsvd} */
			out[n].addr = rd64(e);
			out[n].size = rd64(e + 8);
			out[n].type = rd32(e + 16);
		}
	} else if (rt_boot_params) {
		uint32_t cnt = *(volatile uint8_t *)(rt_boot_params + ZP_E820_ENTRIES);
		if (cnt > ZP_E820_MAX)
			cnt = ZP_E820_MAX;
		for (uint32_t i = 0; i < cnt && n < max; i++, n++) {
			uint64_t e = rt_boot_params + ZP_E820_TABLE + 20ULL * i; /* packed, 20 bytes */
			out[n].addr = rd64(e);
			out[n].size = rd64(e + 8);
			out[n].type = rd32(e + 16);
		}
	}
	return n;
}

void rt_delay_cycles(uint64_t cycles)
{
	uint64_t t0 = rdtsc();
	while (rdtsc() - t0 < cycles)
		cpu_relax();
}

/* ---------------- exceptions ---------------- */
__attribute__((weak)) int rt_exc_handled(struct rt_exc_frame *f)
{
	(void)f;
	return 0;
}

void rt_exception(const struct rt_exc_frame *f);
void rt_exception(const struct rt_exc_frame *f)
{
	rt_printf("FAIL: exception %lu at %lx (error %lx, cs %lx, rsp %lx", f->vector, f->rip,
		  f->error, f->cs, f->rsp);
	if (f->vector == 14) {
		uint64_t cr2;
		__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
		rt_printf(", cr2 %lx", cr2);
	}
	rt_puts(")\n");
	/* #GP on a port I/O instruction in ring 3 although IOPL is 3: the
	 * host does not grant ring 3 port I/O (a PVM-backed /dev/kvm does
	 * not): say so, the failure is the host kind's, not the guest's. */
	if (f->vector == 13 && (f->cs & 3) == 3) {
		const uint8_t *ip = (const uint8_t *)f->rip;
		unsigned i = 0;

		while (i < 3 && (ip[i] == 0x66 || ip[i] == 0xf3 || ip[i] == 0xf2))
			i++;
		if ((ip[i] >= 0xe4 && ip[i] <= 0xe7) || ip[i] >= 0xec || (ip[i] >= 0x6c && ip[i] <= 0x6f))
			rt_puts("FAIL: that was port I/O from ring 3 with IOPL 3: this host's KVM does not "
				"allow it (a PVM-backed /dev/kvm; see tests/guest/README.md)\n");
	}
	rt_exit(RT_STATUS_EXCEPTION);
}

/* ---------------- ring 3 ---------------- */
void rt_iret_user(void (*fn)(void), uint64_t rsp); /* start.S */

static void user_returned(void)
{
	rt_puts("FAIL: ring-3 function returned\n");
	rt_exit(RT_STATUS_EXCEPTION);
}

void rt_enter_user(void (*fn)(void), void *user_stack_top)
{
	/* Plant a return address so a returning fn reports instead of running
	 * off into garbage; RSP then sits at 8 mod 16 as at any call. */
	uint64_t *sp = (uint64_t *)((uintptr_t)user_stack_top & ~(uintptr_t)15);
	*--sp = (uint64_t)(uintptr_t)user_returned;
	rt_iret_user(fn, (uint64_t)(uintptr_t)sp);
	__builtin_unreachable();
}

/* ---------------- 64-bit entry emulation for cross-checks ---------------- */
/* QEMU can only enter these ELFs through PVH. With "rt.linux64" on the
 * command line, a PVH boot builds a zero page (command line without that
 * token, e820 from the PVH memmap) and re-enters at _start with RSI pointing
 * at it and RSP = 0x8ff0, as bulkhead's 64-bit entry does, so the path
 * bulkhead uses by default is exercised under QEMU too. Costs nothing on a
 * 64-bit entry. */
#define RT_FAKE_FLAG "rt.linux64"
extern char _start[];
extern uint8_t rt_gdt[]; /* tables.S */
static uint8_t fake_zp[4096] __attribute__((aligned(4096)));
static char fake_cmdline[512];

__attribute__((noreturn)) static void reenter_linux64(void)
{
	struct rt_mem_region r[32];
	int n = rt_mem_map(r, 32);
	const char *c = rt_cmdline();
	size_t o = 0, flen = strlen(RT_FAKE_FLAG);

	while (*c) { /* copy every token but ours */
		while (*c == ' ')
			c++;
		size_t len = 0;
		while (c[len] && c[len] != ' ')
			len++;
		if (len && !(len == flen && !memcmp(c, RT_FAKE_FLAG, flen))) {
			if (o)
				fake_cmdline[o++] = ' ';
			memcpy(fake_cmdline + o, c, len);
			o += len;
		}
		c += len;
	}
	fake_cmdline[o] = '\0';
	memset(fake_zp, 0, sizeof(fake_zp));
	uint32_t ptr = (uint32_t)(uintptr_t)fake_cmdline;
	memcpy(fake_zp + ZP_CMD_LINE_PTR, &ptr, 4);
	fake_zp[ZP_E820_ENTRIES] = (uint8_t)n;
	for (int i = 0; i < n; i++) {
		uint8_t *e = fake_zp + ZP_E820_TABLE + 20 * i;
		memcpy(e, &r[i].addr, 8);
		memcpy(e + 8, &r[i].size, 8);
		memcpy(e + 16, &r[i].type, 4);
	}
	cmdline_cached = 0;
	/* _start will ltr again: mark our TSS available (type 9) instead of busy. */
	rt_gdt[RT_SEL_TSS + 5] = 0x89;
	__asm__ volatile("mov %0, %%rsi; mov $0x8ff0, %%rsp; jmp *%1" ::"r"(fake_zp), "r"(_start)
			 : "rsi", "memory");
	__builtin_unreachable();
}

/* ---------------- main ---------------- */
void rt_main(void);
void rt_main(void)
{
	if (rt_boot_kind == RT_BOOT_PVH && rt_flag(RT_FAKE_FLAG))
		reenter_linux64();
	rt_exit((uint32_t)guest_main());
}
