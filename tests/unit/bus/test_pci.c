/* test_pci.c — the PCI bus as a hostile guest drives it through 0xCF8/0xCFC
 * and the BAR window (hostile-guests.md case 24): missing functions and
 * out-of-range/odd accesses read all ones and ignore writes, read-only
 * registers stay put, BAR sizing and moves, overlapping or out-of-window BARs
 * are not decoded, shared INTx lines are the OR of their devices. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "bus/pci.h"
#include "pci_fixture.h"

static struct pci_fixture *setup_bus(unsigned ndev)
{
	static struct pci_fixture f; /* cmocka state, one test at a time */

	pci_fixture_build(&f, ndev, false);
	return &f;
}

static void test_enumeration(void **state)
{
	struct pci_fixture *f = setup_bus(1);

	(void)state;
	/* host bridge at 00:00.0, class 06/00 */
	assert_int_equal(cfg_in(f, 0, 0x0a, 2), 0x0600);
	assert_int_equal(cfg_in(f, 1, 0, 4), 0x10421af4);
	assert_int_equal(cfg_in(f, 1, 0x3d, 1), 1); /* INTA */
	assert_int_equal(cfg_in(f, 1, 0x3c, 1), PCI_INTX_GSI(1));
	/* missing slot, other function, other bus: all ones */
	assert_int_equal(cfg_in(f, 2, 0, 4), 0xffffffffu);
	uint32_t a = 0x80000000u | (1 << 11) | (1 << 8), v = 0;
	io_bus_access(&f->pio, 0xcf8, &a, 4, true);
	io_bus_access(&f->pio, 0xcfc, &v, 4, false);
	assert_int_equal(v, 0xffffffffu);
	a = 0x80010000u | (1 << 11);
	io_bus_access(&f->pio, 0xcf8, &a, 4, true);
	io_bus_access(&f->pio, 0xcfc, &v, 4, false);
	assert_int_equal(v, 0xffffffffu);
	/* the latch reads back; Linux's byte probe of 0xCFB is ignored */
	uint8_t b = 1;
	io_bus_access(&f->pio, 0xcfb, &b, 1, true);
	a = 0x80000000u;
	io_bus_access(&f->pio, 0xcf8, &a, 4, true);
	io_bus_access(&f->pio, 0xcf8, &v, 4, false);
	assert_int_equal(v, 0x80000000u);
	/* enable bit clear: data port reads all ones */
	a = 1 << 11;
	io_bus_access(&f->pio, 0xcf8, &a, 4, true);
	io_bus_access(&f->pio, 0xcfc, &v, 4, false);
	assert_int_equal(v, 0xffffffffu);
	pci_bus_destroy(&f->bus);
}

static void test_hostile_config(void **state)
{
	struct pci_fixture *f = setup_bus(1);
	uint8_t before[PCI_CFG_SIZE];

	(void)state;
	memcpy(before, f->dev[0].cfg, sizeof(before));
	/* read-only identity registers ignore writes */
	cfg_out(f, 1, 0, 0xdeadbeef, 4);
	cfg_out(f, 1, 0x08, 0xffffffff, 4);
	cfg_out(f, 1, 0x2c, 0xffffffff, 4);
	cfg_out(f, 1, 0x34, 0xff, 1);
	assert_memory_equal(f->dev[0].cfg, before, 0x0c);
	assert_int_equal(f->dev[0].cfg[0x34], before[0x34]);
	/* beyond 256 bytes and odd sizes through the direct API */
	assert_int_equal(pci_cfg_read(&f->bus, 1 << 3, 255, 2), 0xffff);
	assert_int_equal(pci_cfg_read(&f->bus, 1 << 3, 256, 1), 0xff);
	assert_int_equal(pci_cfg_read(&f->bus, 1 << 3, 0, 3), 0xffffff);
	pci_cfg_write(&f->bus, 1 << 3, 254, 0xffffffff, 4);
	pci_cfg_write(&f->bus, 1 << 3, 0, 0, 8);
	assert_memory_equal(f->dev[0].cfg, before, 0x0c);
	assert_true(atomic_load(&f->bus.bad_accesses) >= 5);
	/* an access straddling the data dword never reaches config space */
	uint32_t v = 0;
	uint32_t a = 0x80000000u | (1 << 11);
	io_bus_access(&f->pio, 0xcf8, &a, 4, true);
	io_bus_access(&f->pio, 0xcfd, &v, 4, false);
	assert_int_equal(v, 0xffffffffu);
	/* a word at 0xCFE reads the upper half of the dword */
	io_bus_access(&f->pio, 0xcfe, &v, 2, false);
	assert_int_equal(v & 0xffff, 0x1042);
	/* writes to a missing function change nothing anywhere */
	cfg_out(f, 7, 0x04, 0xffff, 2);
	assert_int_equal(cfg_in(f, 7, 0x04, 2), 0xffff);
	pci_bus_destroy(&f->bus);
}

static void test_bar_sizing_and_moves(void **state)
{
	struct pci_fixture *f = setup_bus(2);
	uint32_t bar0 = cfg_in(f, 1, 0x10, 4), bar1 = cfg_in(f, 2, 0x10, 4);
	uint8_t d[4];

	(void)state;
	assert_true(bar0 >= PCI_MMIO_WIN_BASE && bar0 % 0x8000 == 0);
	assert_int_equal(bar1, bar0 + 0x8000);
	assert_int_equal(f->rec[0].mapped_addr, bar0);
	assert_true(f->rec[0].mapped_on);
	/* decoded: an access reaches the device at the BAR offset */
	assert_true(io_bus_access(&f->mmio, bar0 + 0x10, d, 4, false));
	assert_int_equal(f->rec[0].reads, 1);
	assert_int_equal(f->rec[0].last_off, 0x10);
	/* an access running past the BAR's end is not delivered */
	io_bus_access(&f->mmio, bar0 + 0x8000 - 2, d, 4, false);
	assert_int_equal(f->rec[0].reads, 1);
	/* sizing protocol with decoding off */
	cfg_out(f, 1, 0x04, 0, 2);
	assert_false(f->rec[0].mapped_on);
	io_bus_access(&f->mmio, bar0 + 0x10, d, 4, false);
	assert_int_equal(f->rec[0].reads, 1);
	cfg_out(f, 1, 0x10, 0xffffffff, 4);
	assert_int_equal(cfg_in(f, 1, 0x10, 4), 0xffff8000u);
	/* move it: to a free spot, then on top of the other device (refused),
	 * then outside the window (refused) */
	cfg_out(f, 1, 0x10, 0xd0000000, 4);
	cfg_out(f, 1, 0x04, PCI_COMMAND_MEMORY, 2);
	assert_true(f->rec[0].mapped_on);
	assert_int_equal(f->rec[0].mapped_addr, 0xd0000000);
	io_bus_access(&f->mmio, 0xd0000004, d, 4, false);
	assert_int_equal(f->rec[0].reads, 2);
	cfg_out(f, 1, 0x10, bar1, 4);
	assert_false(f->rec[0].mapped_on);
	io_bus_access(&f->mmio, bar1, d, 4, false);
	assert_int_equal(f->rec[0].reads, 2);
	assert_int_equal(f->rec[1].reads, 1);
	cfg_out(f, 1, 0x10, 0x10000000, 4);
	assert_false(f->rec[0].mapped_on);
	cfg_out(f, 1, 0x10, 0xfe000000, 4); /* just past the window (IOAPIC side) */
	assert_false(f->rec[0].mapped_on);
	/* unused BARs read 0 and stay 0 */
	cfg_out(f, 1, 0x14, 0xffffffff, 4);
	assert_int_equal(cfg_in(f, 1, 0x14, 4), 0);
	pci_bus_destroy(&f->bus);
}

static void test_intx_shared(void **state)
{
	struct pci_fixture *f = setup_bus(9); /* slots 1 and 9 share a GSI */
	unsigned gsi = PCI_INTX_GSI(1);

	(void)state;
	assert_int_equal(PCI_INTX_GSI(9), gsi);
	pci_intx_set(&f->dev[0], 1);
	assert_int_equal(f->irq.level[gsi], 1);
	pci_intx_set(&f->dev[8], 1);
	pci_intx_set(&f->dev[0], 0);
	assert_int_equal(f->irq.level[gsi], 1); /* still held by slot 9 */
	assert_int_equal(cfg_in(f, 9, 0x06, 2) & PCI_STATUS_INTERRUPT, PCI_STATUS_INTERRUPT);
	/* INTx disable drops the line but keeps the status bit */
	cfg_out(f, 9, 0x04, PCI_COMMAND_MEMORY | PCI_COMMAND_INTX_DISABLE, 2);
	assert_int_equal(f->irq.level[gsi], 0);
	assert_int_equal(cfg_in(f, 9, 0x06, 2) & PCI_STATUS_INTERRUPT, PCI_STATUS_INTERRUPT);
	cfg_out(f, 9, 0x04, PCI_COMMAND_MEMORY, 2);
	assert_int_equal(f->irq.level[gsi], 1);
	pci_intx_set(&f->dev[8], 0);
	assert_int_equal(f->irq.level[gsi], 0);
	/* repeated levels do not toggle the line */
	unsigned c = f->irq.changes;
	pci_intx_set(&f->dev[8], 0);
	assert_int_equal(f->irq.changes, c);
	pci_bus_destroy(&f->bus);
}

static void test_caps(void **state)
{
	struct pci_dev d;
	uint8_t body[14] = { 0 };
	int off1, off2;

	(void)state;
	pci_dev_init(&d, "c", 1, 2, 3, 0, 1, 2);
	off1 = pci_dev_add_cap(&d, 0x09, body, 16, NULL);
	off2 = pci_dev_add_cap(&d, 0x11, body, 12, NULL);
	assert_int_equal(off1, 0x40);
	assert_int_equal(off2, 0x50);
	assert_int_equal(d.cfg[PCI_CAPABILITY_LIST], 0x40);
	assert_int_equal(d.cfg[0x41], 0x50);
	assert_int_equal(d.cfg[0x51], 0);
	assert_true(pci_get16(&d.cfg[PCI_STATUS]) & PCI_STATUS_CAP_LIST);
	/* the list cannot run past 256 bytes */
	int r = 0;
	for (int i = 0; i < 20 && r >= 0; i++)
		r = pci_dev_add_cap(&d, 0x09, body, 16, NULL);
	assert_int_equal(r, -ENOSPC);
	assert_int_equal(pci_dev_set_bar(&d, 6, 0x1000, &rec_ops, NULL), -EINVAL);
	assert_int_equal(pci_dev_set_bar(&d, 0, 0x1800, &rec_ops, NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_enumeration),
		cmocka_unit_test(test_hostile_config),
		cmocka_unit_test(test_bar_sizing_and_moves),
		cmocka_unit_test(test_intx_shared),
		cmocka_unit_test(test_caps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
