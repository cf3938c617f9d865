/* pci_fixture.h — the PCI bus the bus tests drive (test_pci.c,
 * test_pci_state.c): a host bridge on its own PIO and MMIO buses, up to
 * PCI_FIXTURE_MAX functions with a 32 KiB BAR0 that records its accesses and
 * its owner's bar_mapped() calls, INTx lines that record their levels, and
 * guest-style configuration access through 0xCF8/0xCFC. Header-only (each
 * test is its own executable; include it after <cmocka.h>, whose asserts it
 * uses); one fixture per bus, in the caller's memory. */
#ifndef BH_TEST_PCI_FIXTURE_H
#define BH_TEST_PCI_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "bus/pci.h"

#define PCI_FIXTURE_MAX 9

/* What a function's BAR0 and its owner saw. */
struct rec {
	unsigned reads, writes;
	uint64_t last_off;
	int mapped_events;
	uint64_t mapped_addr;
	bool mapped_on;
};

static void rec_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct rec *r = opaque;

	r->reads++;
	r->last_off = off;
	memset(data, 0xab, len);
}

static void rec_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct rec *r = opaque;

	(void)data;
	(void)len;
	r->writes++;
	r->last_off = off;
}

static const struct io_dev_ops rec_ops = { rec_read, rec_write };

static void rec_mapped(struct pci_dev *dev, unsigned bar, uint64_t addr, bool on)
{
	struct rec *r = dev->opaque;

	(void)bar;
	r->mapped_events++;
	r->mapped_addr = addr;
	r->mapped_on = on;
}

static const struct pci_dev_ops rec_pci_ops = { NULL, NULL, rec_mapped };

/* The interrupt controller's side of the INTx lines. */
struct irqrec {
	int level[32];
	unsigned changes;
};

static void irq_set(void *opaque, uint32_t gsi, int level)
{
	struct irqrec *r = opaque;

	r->level[gsi] = level;
	r->changes++;
}

struct pci_fixture {
	struct pci_bus bus;
	struct io_bus pio, mmio;
	struct pci_dev dev[PCI_FIXTURE_MAX];
	struct rec rec[PCI_FIXTURE_MAX];
	struct irqrec irq;
};

/* Build f (its previous contents are dropped): a bus with ndev functions
 * (1af4:1042), each with a 32 KiB BAR0 and, with msix_cap, a capability
 * with a writable byte (like MSI-X control, at 0x40); the buses sealed. */
static inline void pci_fixture_build(struct pci_fixture *f, unsigned ndev, bool msix_cap)
{
	uint8_t body[10] = { 0 }, wmask[12] = { [3] = 0xc0 };
	struct irq_line line;

	assert_true(ndev <= PCI_FIXTURE_MAX);
	memset(f, 0, sizeof(*f));
	line = (struct irq_line){ irq_set, &f->irq, 0 };
	assert_int_equal(pci_bus_init(&f->bus, &line), 0);
	io_bus_init(&f->pio, IO_BUS_PIO);
	io_bus_init(&f->mmio, IO_BUS_MMIO);
	assert_int_equal(pci_bus_register(&f->bus, &f->pio, &f->mmio), 0);
	for (unsigned i = 0; i < ndev; i++) {
		pci_dev_init(&f->dev[i], "t", 0x1af4, 0x1042, 0x018000, 1, 0x1af4, 2);
		f->dev[i].ops = &rec_pci_ops;
		f->dev[i].opaque = &f->rec[i];
		assert_int_equal(pci_dev_set_bar(&f->dev[i], 0, 0x8000, &rec_ops, &f->rec[i]), 0);
		if (msix_cap)
			assert_int_equal(pci_dev_add_cap(&f->dev[i], PCI_CAP_ID_MSIX, body, 12,
							 wmask), 0x40);
		assert_int_equal(pci_bus_add(&f->bus, &f->dev[i]), 0);
	}
	io_bus_seal(&f->pio);
	io_bus_seal(&f->mmio);
}

/* Guest-style config access through the ports (configuration mechanism 1). */
static inline uint32_t cfg_in(struct pci_fixture *f, unsigned dev, unsigned reg, uint32_t len)
{
	uint32_t a = 0x80000000u | (dev << 11) | (reg & 0xfc), v = 0;

	io_bus_access(&f->pio, 0xcf8, &a, 4, true);
	io_bus_access(&f->pio, 0xcfc + (reg & 3), &v, len, false);
	return v;
}

static inline void cfg_out(struct pci_fixture *f, unsigned dev, unsigned reg, uint32_t v,
			   uint32_t len)
{
	uint32_t a = 0x80000000u | (dev << 11) | (reg & 0xfc);

	io_bus_access(&f->pio, 0xcf8, &a, 4, true);
	io_bus_access(&f->pio, 0xcfc + (reg & 3), &v, len, true);
}

#endif
