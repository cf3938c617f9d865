/* acpi_dsdt.c — see acpi_dsdt.h. A tiny AML emitter: every object is built
 * into its own buffer, then wrapped with its opcode and PkgLength. */
#include "acpi_dsdt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/layout.h"

#define AML_MAX 4096

struct aml {
	uint8_t b[AML_MAX];
	size_t n;
	int err;
};

static void put(struct aml *a, const void *p, size_t n)
{
	if (a->err || n > AML_MAX - a->n) {
		a->err = -ENOSPC;
		return;
	}
	memcpy(a->b + a->n, p, n);
	a->n += n;
}

static void byte(struct aml *a, uint8_t v)
{
	put(a, &v, 1);
}

static void integer(struct aml *a, uint32_t v)
{
	if (v == 0) {
		byte(a, 0x00); /* ZeroOp */
	} else if (v == 1) {
		byte(a, 0x01); /* OneOp */
	} else if (v <= 0xff) {
		byte(a, 0x0a);
		byte(a, (uint8_t)v);
	} else if (v <= 0xffff) {
		byte(a, 0x0b);
		byte(a, (uint8_t)v);
		byte(a, (uint8_t)(v >> 8));
	} else {
		byte(a, 0x0c);
		for (int i = 0; i < 4; i++)
			byte(a, (uint8_t)(v >> (8 * i)));
	}
}

/* PkgLength (§20.2.4) for `n` bytes of content: counts its own bytes. */
static void pkglen(struct aml *a, size_t n)
{
	if (n + 1 < 0x40) {
		byte(a, (uint8_t)(n + 1));
	} else if (n + 2 < 0x1000) {
		size_t t = n + 2;

		byte(a, (uint8_t)(0x40 | (t & 0xf)));
		byte(a, (uint8_t)(t >> 4));
	} else {
		size_t t = n + 3;

		byte(a, (uint8_t)(0x80 | (t & 0xf)));
		byte(a, (uint8_t)(t >> 4));
		byte(a, (uint8_t)(t >> 12));
	}
}

/* opcode(s) PkgLength [inner] */
static void wrap(struct aml *a, const uint8_t *op, size_t oplen, const struct aml *inner)
{
	if (inner->err) {
		a->err = inner->err;
		return;
	}
	put(a, op, oplen);
	pkglen(a, inner->n);
	put(a, inner->b, inner->n);
}

static void name(struct aml *a, const char seg[4])
{
	byte(a, 0x08); /* NameOp */
	put(a, seg, 4);
}

static void le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Word Address Space Descriptor (§6.4.3.5.3): producer, min/max fixed. */
static void word_space(struct aml *r, uint8_t type, uint8_t tflags, uint16_t min, uint16_t max)
{
	uint8_t d[16] = { 0x88, 13, 0, type, 0x0c, tflags };

	le16(&d[6], 0);                          /* granularity */
	le16(&d[8], min);
	le16(&d[10], max);
	le16(&d[12], 0);                         /* translation */
	le16(&d[14], (uint16_t)(max - min + 1)); /* length */
	put(r, d, sizeof(d));
}

static void string(struct aml *a, const char *str)
{
	byte(a, 0x0d); /* StringPrefix */
	put(a, str, strlen(str) + 1);
}

/* Scratch buffers, one per nesting level (heap: ~44 KiB). */
struct scratch {
	struct aml out, sb, dev, r, buf, list, e, vgen, pkg, gpe, method;
};

static void crs(struct aml *a, struct scratch *s)
{
	struct aml *r = &s->r, *buf = &s->buf;
	uint8_t io[8] = { 0x47, 0x01, 0xf8, 0x0c, 0xf8, 0x0c, 0x01, 0x08 };
	uint8_t mem[26] = { 0x87, 23, 0, 0 /* memory */, 0x0c, 0x01 /* RW, non-cacheable */ };
	uint8_t end[2] = { 0x79, 0x00 };
	uint8_t op = 0x11; /* BufferOp */

	word_space(r, 2, 0, 0, 0);           /* bus 0 */
	put(r, io, sizeof(io));              /* config ports */
	word_space(r, 1, 3, 0x0000, 0x0cf7); /* I/O, entire range */
	word_space(r, 1, 3, 0x0d00, 0xffff);
	le32(&mem[6], 0);
	le32(&mem[10], (uint32_t)PCI_MMIO_WIN_BASE);
	le32(&mem[14], (uint32_t)(PCI_MMIO_WIN_END - 1));
	le32(&mem[18], 0);
	le32(&mem[22], (uint32_t)(PCI_MMIO_WIN_END - PCI_MMIO_WIN_BASE));
	put(r, mem, sizeof(mem));
	put(r, end, sizeof(end));
	integer(buf, (uint32_t)r->n); /* BufferSize */
	put(buf, r->b, r->n);
	if (r->err)
		buf->err = r->err;
	name(a, "_CRS");
	wrap(a, &op, 1, buf);
}

static void prt(struct aml *a, struct scratch *s)
{
	struct aml *list = &s->list, *e = &s->e;
	uint8_t op = 0x12; /* PackageOp */

	byte(list, (uint8_t)((PCI_MAX_SLOTS - 1) * 4)); /* NumElements: 124 */
	for (uint32_t slot = 1; slot < PCI_MAX_SLOTS; slot++) {
		for (uint32_t pin = 0; pin < 4; pin++) {
			e->n = 0;
			byte(e, 4);
			integer(e, (slot << 16) | 0xffff); /* any function of the slot */
			integer(e, pin);
			integer(e, 0); /* Source: none, a GSI follows */
			integer(e, PCI_INTX_GSI_BASE + (slot - 1 + pin) % PCI_INTX_GSI_COUNT);
			wrap(list, &op, 1, e);
		}
	}
	name(a, "_PRT");
	wrap(a, &op, 1, list);
}

/* Device (VGEN): the VM generation ID (Microsoft's "Virtual Machine
 * Generation ID" contract, which Linux's vmgenid driver follows): a _HID of
 * our own (a well-formed ACPI ID), _CID "VM_Gen_Counter" (the contract's
 * name; ACPICA upper-cases IDs, and Linux matches VM_GEN_COUNTER — as with
 * QEMU's and Firecracker's devices), and ADDR, a package of the 16-byte
 * ID's guest-physical address as two 32-bit halves (low, high). */
static void vgen(struct aml *sb, struct scratch *s)
{
	const uint8_t device_op[2] = { 0x5b, 0x82 }, pkg_op = 0x12;

	put(&s->vgen, "VGEN", 4);
	name(&s->vgen, "_HID");
	string(&s->vgen, "BLKH0001");
	name(&s->vgen, "_CID");
	string(&s->vgen, "VM_Gen_Counter");
	name(&s->vgen, "_DDN");
	string(&s->vgen, "VM_Gen_Counter");
	byte(&s->pkg, 2); /* NumElements */
	integer(&s->pkg, (uint32_t)X86_VMGENID_GPA);
	integer(&s->pkg, (uint32_t)(X86_VMGENID_GPA >> 32));
	name(&s->vgen, "ADDR");
	wrap(&s->vgen, &pkg_op, 1, &s->pkg);
	wrap(sb, device_op, 2, &s->vgen);
}

/* Scope (\_GPE) { Method (_Exx) { Notify (\_SB.VGEN, 0x80) } }: the
 * acpi-pm device raises GPE ACPI_GPE_VMGENID when the ID changed; 0x80 is
 * the notification the contract names. */
static void gpe(struct aml *out, struct scratch *s)
{
	const uint8_t scope_op = 0x10, method_op = 0x14;
	const uint8_t notify[] = { 0x86, '\\', 0x2e, '_', 'S', 'B', '_', 'V', 'G', 'E', 'N',
				   0x0a, 0x80 };
	char mname[5];

	_Static_assert(ACPI_GPE_VMGENID < 0x100, "two hex digits");
	snprintf(mname, sizeof(mname), "_E%02X", ACPI_GPE_VMGENID);
	put(&s->method, mname, 4);
	byte(&s->method, 0x00); /* no arguments, not serialized */
	put(&s->method, notify, sizeof(notify));
	put(&s->gpe, "\\_GPE", 5);
	wrap(&s->gpe, &method_op, 1, &s->method);
	wrap(out, &scope_op, 1, &s->gpe);
}

int acpi_dsdt_body(uint8_t *buf, size_t cap, size_t *len)
{
	const uint8_t s5[] = { 0x08, '_', 'S', '5', '_', 0x12, 0x04, 0x01, 0x0a, ACPI_PM_S5_TYPE };
	const uint8_t scope_op = 0x10, device_op[2] = { 0x5b, 0x82 };
	const uint8_t sb_name[5] = { '\\', '_', 'S', 'B', '_' };
	struct scratch *s = calloc(1, sizeof(*s));
	int ret = 0;

	if (!s)
		return -ENOMEM;
	put(&s->dev, "PCI0", 4);
	name(&s->dev, "_HID");
	integer(&s->dev, 0x030ad041); /* EisaId ("PNP0A03") */
	name(&s->dev, "_UID");
	integer(&s->dev, 0);
	name(&s->dev, "_SEG");
	integer(&s->dev, 0);
	name(&s->dev, "_BBN");
	integer(&s->dev, 0);
	crs(&s->dev, s);
	prt(&s->dev, s);
	put(&s->sb, sb_name, sizeof(sb_name));
	wrap(&s->sb, device_op, 2, &s->dev);
	vgen(&s->sb, s);
	put(&s->out, s5, sizeof(s5));
	wrap(&s->out, &scope_op, 1, &s->sb);
	gpe(&s->out, s);
	if (s->out.err)
		ret = s->out.err;
	else if (s->out.n > cap)
		ret = -ENOSPC;
	else {
		memcpy(buf, s->out.b, s->out.n);
		*len = s->out.n;
	}
	free(s);
	return ret;
}
