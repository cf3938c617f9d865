/* pci.c — configuration mechanism #1 and BAR placement (pci.h). */
#include "pci.h"

#include "rt.h"

uint32_t pci_read32(unsigned devfn, unsigned reg)
{
	outl(pci_addr(devfn, reg), PCI_CFG_ADDR);
	return inl(PCI_CFG_DATA);
}

uint16_t pci_read16(unsigned devfn, unsigned reg)
{
	outl(pci_addr(devfn, reg), PCI_CFG_ADDR);
	return inw((uint16_t)(PCI_CFG_DATA + (reg & 2)));
}

uint8_t pci_read8(unsigned devfn, unsigned reg)
{
	outl(pci_addr(devfn, reg), PCI_CFG_ADDR);
	return inb((uint16_t)(PCI_CFG_DATA + (reg & 3)));
}

void pci_write32(unsigned devfn, unsigned reg, uint32_t v)
{
	outl(pci_addr(devfn, reg), PCI_CFG_ADDR);
	outl(v, PCI_CFG_DATA);
}

void pci_write16(unsigned devfn, unsigned reg, uint16_t v)
{
	outl(pci_addr(devfn, reg), PCI_CFG_ADDR);
	outw(v, (uint16_t)(PCI_CFG_DATA + (reg & 2)));
}

void pci_write8(unsigned devfn, unsigned reg, uint8_t v)
{
	outl(pci_addr(devfn, reg), PCI_CFG_ADDR);
	outb(v, (uint16_t)(PCI_CFG_DATA + (reg & 3)));
}

int pci_find(uint16_t vendor, uint16_t device, unsigned index)
{
	for (unsigned devfn = 0; devfn < 256; devfn++) {
		uint32_t id = pci_read32(devfn, PCI_VENDOR_ID);
		if ((id & 0xffff) == 0xffff) {
			if ((devfn & 7) == 0)
				devfn += 7; /* no function 0: no device */
			continue;
		}
		if ((id & 0xffff) == vendor && (id >> 16) == device && index-- == 0)
			return (int)devfn;
		/* single-function device: skip functions 1-7 */
		if ((devfn & 7) == 0 && !(pci_read8(devfn, PCI_HEADER_TYPE) & 0x80))
			devfn += 7;
	}
	return -1;
}

unsigned pci_find_cap(unsigned devfn, uint8_t id, unsigned from)
{
	unsigned pos;
	if (from)
		pos = pci_read8(devfn, from + 1);
	else if (pci_read16(devfn, PCI_STATUS) & PCI_STATUS_CAPS)
		pos = pci_read8(devfn, PCI_CAP_PTR);
	else
		return 0;
	for (int hops = 0; hops < 48 && pos >= 0x40 && pos < 0x100; hops++) {
		pos &= 0xfc;
		if (pci_read8(devfn, pos) == id)
			return pos;
		pos = pci_read8(devfn, pos + 1);
	}
	return 0;
}

/* BAR value and size of (devfn, bar); size 0 if not a memory BAR. */
static uint64_t bar_probe(unsigned devfn, unsigned bar, uint64_t *size, int *is64)
{
	unsigned reg = PCI_BAR0 + 4 * bar;
	uint32_t lo = pci_read32(devfn, reg);
	*size = 0;
	*is64 = 0;
	if (lo & 1)
		return 0; /* I/O BAR */
	*is64 = ((lo >> 1) & 3) == 2 && bar < 5;
	uint32_t hi = *is64 ? pci_read32(devfn, reg + 4) : 0;
	uint16_t cmd = pci_read16(devfn, PCI_COMMAND);
	/* Size with decoding off so the probe value is never decoded. */
	pci_write16(devfn, PCI_COMMAND, (uint16_t)(cmd & ~PCI_CMD_MEM));
	pci_write32(devfn, reg, 0xffffffffu);
	uint64_t mask = pci_read32(devfn, reg) & ~0xfu;
	pci_write32(devfn, reg, lo);
	if (*is64) {
		pci_write32(devfn, reg + 4, 0xffffffffu);
		mask |= (uint64_t)pci_read32(devfn, reg + 4) << 32;
		pci_write32(devfn, reg + 4, hi);
	} else {
		mask |= 0xffffffff00000000ull;
	}
	pci_write16(devfn, PCI_COMMAND, cmd);
	if ((uint32_t)mask == 0)
		return 0;
	*size = ~mask + 1;
	return ((uint64_t)hi << 32) | (lo & ~0xfu);
}

static int overlaps_other_bar(uint64_t a, uint64_t size, unsigned self, unsigned selfbar)
{
	for (unsigned devfn = 0; devfn < 256; devfn++) {
		if (pci_read16(devfn, PCI_VENDOR_ID) == 0xffff)
			continue;
		if ((pci_read8(devfn, PCI_HEADER_TYPE) & 0x7f) != 0)
			continue; /* bridges: not on our bus 0 setups */
		for (unsigned b = 0; b < 6; b++) {
			uint32_t v = pci_read32(devfn, PCI_BAR0 + 4 * b);
			int is64 = !(v & 1) && ((v >> 1) & 3) == 2;
			if (!(devfn == self && b == selfbar) && !(v & 1) && (v & ~0xfu)) {
				uint64_t sz;
				int d64;
				uint64_t base = bar_probe(devfn, b, &sz, &d64);
				if (sz && a < base + sz && base < a + size)
					return 1;
			}
			if (is64)
				b++;
		}
	}
	return 0;
}

uint64_t pci_bar_mem(unsigned devfn, unsigned bar, uint64_t *size)
{
	int is64;
	uint64_t addr = bar_probe(devfn, bar, size, &is64);
	if (!*size)
		return 0;
	if (addr == 0 || addr + *size > (1ull << 32)) {
		uint64_t a = PCI_WINDOW_BASE;
		while (a + *size <= PCI_WINDOW_END && overlaps_other_bar(a, *size, devfn, bar))
			a += *size > 0x100000 ? *size : 0x100000; /* stays size-aligned */
		if (a + *size > PCI_WINDOW_END)
			return 0;
		uint16_t cmd = pci_read16(devfn, PCI_COMMAND);
		pci_write16(devfn, PCI_COMMAND, (uint16_t)(cmd & ~PCI_CMD_MEM));
		pci_write32(devfn, PCI_BAR0 + 4 * bar, (uint32_t)a);
		if (is64)
			pci_write32(devfn, PCI_BAR0 + 4 * bar + 4, 0);
		addr = a;
	}
	pci_write16(devfn, PCI_COMMAND,
		    (uint16_t)(pci_read16(devfn, PCI_COMMAND) | PCI_CMD_MEM | PCI_CMD_MASTER));
	return addr;
}
