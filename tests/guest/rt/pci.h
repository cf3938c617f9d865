/* pci.h — guest-side PCI for the test guests: configuration mechanism #1
 * (ports 0xCF8/0xCFC) on bus 0, capability lists, memory BARs.
 *
 * Works in ring 0 and ring 3 (IOPL=3). No state: every call goes to the
 * hardware, so a test sees exactly what the VMM answers. `devfn` is
 * (device << 3) | function, bus is always 0.
 */
#ifndef BH_GUEST_PCI_H
#define BH_GUEST_PCI_H

#include <stdint.h>

#define PCI_CFG_ADDR 0xcf8
#define PCI_CFG_DATA 0xcfc

/* Standard header registers. */
#define PCI_VENDOR_ID 0x00
#define PCI_DEVICE_ID 0x02
#define PCI_COMMAND 0x04
#define PCI_STATUS 0x06
#define PCI_REVISION 0x08
#define PCI_CLASS 0x09 /* 3 bytes: prog-if, subclass, class */
#define PCI_HEADER_TYPE 0x0e
#define PCI_BAR0 0x10
#define PCI_SUBSYS_VENDOR 0x2c
#define PCI_SUBSYS_ID 0x2e
#define PCI_CAP_PTR 0x34
#define PCI_INT_LINE 0x3c
#define PCI_CMD_IO 0x1
#define PCI_CMD_MEM 0x2
#define PCI_CMD_MASTER 0x4
#define PCI_STATUS_CAPS 0x10
#define PCI_CAP_ID_MSIX 0x11
#define PCI_CAP_ID_VNDR 0x09

/* PCI window the guests allocate unassigned BARs from (bulkhead's, see
 * docs/virtio.md); an address already used by another bus-0 BAR is skipped. */
#define PCI_WINDOW_BASE 0xc0000000u
#define PCI_WINDOW_END 0xfe000000u

/* The CF8 dword for (devfn, reg); reg's bits 8-11 go to bits 24-27 (the
 * extended-register bits some chipsets use — bulkhead must not honour them). */
static inline uint32_t pci_addr(unsigned devfn, unsigned reg)
{
	return 0x80000000u | ((uint32_t)(reg & 0xf00) << 16) | ((devfn & 0xff) << 8) | (reg & 0xfc);
}

uint32_t pci_read32(unsigned devfn, unsigned reg);
uint16_t pci_read16(unsigned devfn, unsigned reg);
uint8_t pci_read8(unsigned devfn, unsigned reg);
void pci_write32(unsigned devfn, unsigned reg, uint32_t v);
void pci_write16(unsigned devfn, unsigned reg, uint16_t v);
void pci_write8(unsigned devfn, unsigned reg, uint8_t v);

/* The `index`-th function on bus 0 (lowest devfn first) with this vendor and
 * device ID: its devfn, or -1. */
int pci_find(uint16_t vendor, uint16_t device, unsigned index);

/* Capability walk: the offset of the first capability with `id` after `from`
 * (0 = from the start of the list), or 0. At most 48 hops (a looping list
 * from a broken VMM ends the walk). */
unsigned pci_find_cap(unsigned devfn, uint8_t id, unsigned from);

/* Memory BAR `bar` (0-5; 64-bit BARs use bar and bar+1): its guest-physical
 * address, making sure it is usable: if it is unassigned (0) or above 4 GiB
 * (the guests map only [0, 4 GiB)), it is sized and placed in
 * [PCI_WINDOW_BASE, PCI_WINDOW_END) clear of every other bus-0 memory BAR.
 * Enables memory decoding and bus mastering. *size gets the BAR's size.
 * 0 if the BAR is not a memory BAR or cannot be placed. */
uint64_t pci_bar_mem(unsigned devfn, unsigned bar, uint64_t *size);

#endif
