/* test_pci_state.c — the PCI bus's snapshot state (pci_bus_save/load).
 *
 * Round trip: a bus driven by a guest into a non-trivial state (BAR moved,
 * decoding off on one function, INTx disabled on another, interrupt line and
 * a writable capability byte changed, the 0xCF8 latch set) is saved and
 * loaded into a fresh bus built the same way; saving again gives the same
 * bytes, the guest reads the same configuration space, the moved BAR decodes
 * at its new place (the owner was told, bar_mapped) and the INTx-disable bit
 * holds the line down. Then the blob as hostile input: every truncation,
 * trailing bytes, unknown versions, read-only bits, latch bits, a function
 * count or slot of another configuration, a decoded BAR outside the window
 * or overlapping another — each refused with a message naming the field and
 * nothing applied. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bus/pci.h"
#include "pci_fixture.h"

#define NDEV 3

/* A bus with ndev functions, each with a 32 KiB BAR0 and a capability with
 * a writable byte (like MSI-X control). */
static struct pci_fixture *bus_new(unsigned ndev)
{
	struct pci_fixture *f = malloc(sizeof(*f));

	assert_non_null(f);
	pci_fixture_build(f, ndev, true);
	return f;
}

static void bus_free(struct pci_fixture *f)
{
	pci_bus_destroy(&f->bus);
	free(f);
}

static void save(struct pci_fixture *f, struct sbuf *out)
{
	sbuf_init(out);
	pci_bus_save(&f->bus, out);
	assert_int_equal(out->err, 0);
}

static int load(struct pci_fixture *f, const void *p, size_t n, uint32_t v, char *err, size_t len)
{
	struct sreader r;
	int ret;

	err[0] = '\0';
	sr_init(&r, p, n);
	ret = pci_bus_load(&f->bus, &r, v, err, len);
	if (ret)
		assert_true(err[0] != '\0'); /* every refusal says why */
	return ret;
}

/* The guest's work on bus a: see the top comment. */
static void drive(struct pci_fixture *f)
{
	cfg_out(f, 1, 0x04, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE,
		2);
	cfg_out(f, 1, 0x3c, 0x0b, 1);
	cfg_out(f, 2, 0x04, 0, 2);
	cfg_out(f, 2, 0x10, 0xd0000000, 4);
	cfg_out(f, 2, 0x04, PCI_COMMAND_MEMORY, 2);
	cfg_out(f, 3, 0x04, 0, 2);                 /* decoding off ... */
	cfg_out(f, 3, 0x10, 0xffffffff, 4);        /* ... mid-sizing */
	cfg_out(f, 1, 0x40, 0xc0000000, 4);        /* capability: writable bits */
	cfg_out(f, 2, 0x0c, 0, 4);                 /* leaves the latch at dev 2 */
}

/* Byte offsets in the blob: latch, host bridge, count, then slot + space. */
#define OFF_LATCH 0
#define OFF_HB 4
#define OFF_COUNT (OFF_HB + PCI_CFG_SIZE)
#define OFF_FN(i) (OFF_COUNT + 1 + (i) * (1 + PCI_CFG_SIZE))
#define OFF_CFG(i, reg) (OFF_FN(i) + 1 + (reg))

static void test_roundtrip(void **state)
{
	struct pci_fixture *a = bus_new(NDEV), *b = bus_new(NDEV);
	struct sbuf sa, sb;
	char err[256];
	uint8_t d[4];
	unsigned gsi = PCI_INTX_GSI(1);
	uint32_t latch = 0;

	(void)state;
	drive(a);
	pci_intx_set(&a->dev[0], 1); /* disabled: the line stays low */
	assert_int_equal(a->irq.level[gsi], 0);
	save(a, &sa);
	assert_int_equal(sa.len, OFF_FN(NDEV));
	assert_int_equal(load(b, sa.data, sa.len, PCI_STATE_VERSION, err, sizeof(err)), 0);
	save(b, &sb);
	assert_int_equal(sa.len, sb.len);
	assert_memory_equal(sa.data, sb.data, sa.len);
	/* the latch came back (the data port reaches dev 2's register 0x0c) */
	io_bus_access(&b->pio, 0xcf8, &latch, 4, false);
	assert_int_equal(latch, 0x80000000u | (2 << 11) | 0x0c);
	/* pin levels are the owners' to re-drive (the virtio transport does it
	 * from its ISR); with INTx disabled the line stays low */
	pci_intx_set(&b->dev[0], 1);
	assert_int_equal(b->irq.level[gsi], 0);
	/* the guest reads the same configuration everywhere */
	for (unsigned dev = 0; dev <= NDEV; dev++)
		for (unsigned reg = 0; reg < PCI_CFG_SIZE; reg += 4)
			assert_int_equal(cfg_in(b, dev, reg, 4), cfg_in(a, dev, reg, 4));
	/* BAR decoding: dev 2 moved and its owner was told; dev 3 off */
	assert_true(b->rec[1].mapped_on);
	assert_int_equal(b->rec[1].mapped_addr, 0xd0000000);
	assert_false(b->rec[2].mapped_on);
	assert_true(io_bus_access(&b->mmio, 0xd0000010, d, 4, false));
	assert_int_equal(b->rec[1].reads, 1);
	assert_int_equal(b->rec[1].last_off, 0x10);
	assert_int_equal(b->dev[2].bar_decoded[0], 0);
	io_bus_access(&b->mmio, PCI_MMIO_WIN_BASE + 0x10000, d, 4, false); /* its old place */
	assert_int_equal(b->rec[2].reads, 0);
	/* re-enabling INTx raises the line */
	cfg_out(b, 1, 0x04, PCI_COMMAND_MEMORY, 2);
	assert_int_equal(b->irq.level[gsi], 1);
	sbuf_free(&sa);
	sbuf_free(&sb);
	bus_free(a);
	bus_free(b);
}

/* Load p (n bytes) into f: expect ret with `word` in the message, and f's
 * saved state unchanged. */
static void expect_refused(struct pci_fixture *f, const uint8_t *p, size_t n, uint32_t version,
			   int ret, const char *word)
{
	struct sbuf before, after;
	char err[256];

	save(f, &before);
	assert_int_equal(load(f, p, n, version, err, sizeof(err)), ret);
	if (word && !strstr(err, word))
		fail_msg("error \"%s\" does not name \"%s\"", err, word);
	save(f, &after);
	assert_int_equal(before.len, after.len);
	assert_memory_equal(before.data, after.data, before.len);
	sbuf_free(&before);
	sbuf_free(&after);
}

static uint8_t *patched(const struct sbuf *s, size_t at, const void *v, size_t n)
{
	uint8_t *p = malloc(s->len);

	assert_non_null(p);
	memcpy(p, s->data, s->len);
	memcpy(p + at, v, n);
	return p;
}

static void test_hostile(void **state)
{
	struct pci_fixture *a = bus_new(NDEV), *b = bus_new(NDEV), *c = bus_new(NDEV - 1);
	struct sbuf sa;
	uint8_t *p, *longer;
	uint32_t v32;
	uint16_t v16;
	uint8_t v8;

	(void)state;
	drive(a);
	cfg_out(b, 1, 0x3c, 0x05, 1); /* b differs from both a and reset */
	save(a, &sa);
	for (size_t n = 0; n < sa.len; n++)
		expect_refused(b, sa.data, n, PCI_STATE_VERSION, -EINVAL, "pci");
	longer = calloc(1, sa.len + 1);
	assert_non_null(longer);
	memcpy(longer, sa.data, sa.len);
	expect_refused(b, longer, sa.len + 1, PCI_STATE_VERSION, -EINVAL, "after the last");
	free(longer);
	expect_refused(b, sa.data, sa.len, PCI_STATE_VERSION + 1, -ENOTSUP, "version");
	expect_refused(b, sa.data, sa.len, 0, -ENOTSUP, "version");
	/* a latch with bits 0xCF8 drops */
	v32 = 0x80000003u;
	p = patched(&sa, OFF_LATCH, &v32, 4);
	expect_refused(b, p, sa.len, PCI_STATE_VERSION, -EINVAL, "latch");
	free(p);
	/* read-only bits: identity, header, status, the capability chain, the
	 * host bridge's identity, a BAR's size bits (unaligned) */
	v16 = 0x1234;
	p = patched(&sa, OFF_CFG(0, PCI_VENDOR_ID), &v16, 2);
	expect_refused(b, p, sa.len, PCI_STATE_VERSION, -EINVAL, "vendor id");
	free(p);
	v16 = 0x1041;
	p = patched(&sa, OFF_CFG(1, PCI_DEVICE_ID), &v16, 2);
	expect_refused(b, p, sa.len, PCI_STATE_VERSION, -EINVAL, "device id");
	free(p);
	v8 = 0x80;
	p = patched(&sa, OFF_CFG(0, PCI_HEADER_TYPE), &v8, 1);
	expect_refused(b, p, sa.len, PCI_STATE_VERSION, -EINVAL, "header");
	free(p);
	v8 = 0x60;
	p = patched(&sa, OFF_CFG(0, PCI_CAPABILITY_LIST), &v8, 1);
	expect_refused(b, p, sa.len, PCI_STATE_VERSION, -EINVAL, "capability pointer");
	free(p);
	v8 = 0x3f;                 /* the MSI-X control byte's read-only bits */
	p = patched(&sa, OFF_CFG(0, 0x43), &v8, 1);
	expect_refused(b, p, sa.len, PCI_STATE_VERSION, -EINVAL, "capability area");
	free(p);
	v16 = 0x0700;              /* command: I/O space and special cycles */
	p = patched(&sa, OFF_CFG(0, PCI_COMMAND), &v16, 2);
	expect_refused(b, p, sa.len, PCI_STATE_VERSION, -EINVAL, "command");
	free(p);
	v16 = 0x1b37;
	p = patched(&sa, OFF_HB + PCI_VENDOR_ID, &v16, 2);
	expect_refused(b, p, sa.len, PCI_STATE_VERSION, -EINVAL, "host-bridge");
	free(p);
	v32 = 0xd0004000;          /* not aligned to the 32 KiB size */
	p = patched(&sa, OFF_CFG(1, PCI_BAR0), &v32, 4);
	expect_refused(b, p, sa.len, PCI_STATE_VERSION, -EINVAL, "BAR0");
	free(p);
	v32 = 0x00001000;          /* an unused BAR's bits */
	p = patched(&sa, OFF_CFG(1, PCI_BAR0 + 4), &v32, 4);
	expect_refused(b, p, sa.len, PCI_STATE_VERSION, -EINVAL, "BAR1");
	free(p);
	/* decoded BARs: outside the window, on top of another */
	v32 = 0x80000000u;
	p = patched(&sa, OFF_CFG(1, PCI_BAR0), &v32, 4);
	expect_refused(b, p, sa.len, PCI_STATE_VERSION, -EINVAL, "outside the PCI window");
	free(p);
	v32 = 0xfe000000u;
	p = patched(&sa, OFF_CFG(0, PCI_BAR0), &v32, 4);
	expect_refused(b, p, sa.len, PCI_STATE_VERSION, -EINVAL, "outside the PCI window");
	free(p);
	v32 = 0xd0000000u;
	p = patched(&sa, OFF_CFG(0, PCI_BAR0), &v32, 4);
	expect_refused(b, p, sa.len, PCI_STATE_VERSION, -EINVAL, "overlaps");
	free(p);
	/* another configuration: function count, slot numbers */
	expect_refused(c, sa.data, sa.len, PCI_STATE_VERSION, -EINVAL, "functions");
	v8 = 5;
	p = patched(&sa, OFF_FN(1), &v8, 1);
	expect_refused(b, p, sa.len, PCI_STATE_VERSION, -EINVAL, "slot 5");
	free(p);
	v8 = 1;
	p = patched(&sa, OFF_FN(1), &v8, 1);
	expect_refused(b, p, sa.len, PCI_STATE_VERSION, -EINVAL, "out of order");
	free(p);
	/* a BAR outside the window with decoding off is a state the guest can
	 * reach (mid-sizing, dev 3 in drive()) and loads */
	{
		char err[256];

		assert_int_equal(load(b, sa.data, sa.len, PCI_STATE_VERSION, err, sizeof(err)),
				 0);
		assert_int_equal(cfg_in(b, 3, 0x10, 4), 0xffff8000u);
	}
	sbuf_free(&sa);
	bus_free(a);
	bus_free(b);
	bus_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_hostile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
