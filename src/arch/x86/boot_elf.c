/* boot_elf.c — ELF64 x86-64 kernel loader (vmlinux, decompressed bzImage
 * payloads, cached vmlinux files, freestanding test guests) and the PVH entry
 * note (XEN_ELFNOTE_PHYS32_ENTRY).
 *
 * Two passes: the first validates every header, segment and note against the
 * file and guest RAM; the second copies. Nothing reaches guest RAM unless the
 * whole image is valid. Headers are memcpy'd into locals (no unaligned or
 * out-of-file access through casts). */
#include <elf.h>
#include <errno.h>
#include <string.h>

#include "arch/x86/boot_internal.h"
#include "arch/x86/layout.h"

#define ELF_MAX_PHNUM 1024
#define ELF_MAX_NOTES 4096 /* per PT_NOTE segment: bounds the walk */

bool boot_is_elf(const uint8_t *data, size_t len)
{
	return len >= SELFMAG && memcmp(data, ELFMAG, SELFMAG) == 0;
}

static BH_WUR int elf_read_phdr(struct boot_ctx *c, const uint8_t *data, size_t len,
			 const Elf64_Ehdr *eh, unsigned i, Elf64_Phdr *ph)
{
	uint64_t off = eh->e_phoff + (uint64_t)i * sizeof(*ph); /* bounded by check_ehdr */

	if (off + sizeof(*ph) > len)
		return boot_fail(c, -EINVAL, "ELF: program header %u beyond file", i);
	memcpy(ph, data + off, sizeof(*ph));
	return 0;
}

static BH_WUR int elf_check_ehdr(struct boot_ctx *c, const uint8_t *data, size_t len, Elf64_Ehdr *eh)
{
	uint64_t tab, end;

	if (len < sizeof(*eh))
		return boot_fail(c, -EINVAL, "ELF: file size 0x%zx shorter than the ELF header",
				 len);
	memcpy(eh, data, sizeof(*eh));
	if (eh->e_ident[EI_CLASS] != ELFCLASS64)
		return boot_fail(c, -ENOEXEC, "ELF: e_ident[EI_CLASS] %u is not ELFCLASS64",
				 eh->e_ident[EI_CLASS]);
	if (eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return boot_fail(c, -ENOEXEC, "ELF: e_ident[EI_DATA] %u is not little-endian",
				 eh->e_ident[EI_DATA]);
	if (eh->e_ident[EI_VERSION] != EV_CURRENT || eh->e_version != EV_CURRENT)
		return boot_fail(c, -EINVAL, "ELF: e_version %u is not EV_CURRENT",
				 eh->e_version);
	if (eh->e_machine != EM_X86_64)
		return boot_fail(c, -ENOEXEC, "ELF: e_machine %u is not EM_X86_64",
				 eh->e_machine);
	if (eh->e_type != ET_EXEC)
		return boot_fail(c, -ENOEXEC, "ELF: e_type %u is not ET_EXEC", eh->e_type);
	if (eh->e_phentsize != sizeof(Elf64_Phdr))
		return boot_fail(c, -EINVAL, "ELF: e_phentsize %u is not %zu", eh->e_phentsize,
				 sizeof(Elf64_Phdr));
	if (eh->e_phnum == 0 || eh->e_phnum > ELF_MAX_PHNUM)
		return boot_fail(c, -EINVAL, "ELF: e_phnum %u out of range [1, %u]", eh->e_phnum,
				 ELF_MAX_PHNUM);
	tab = (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr);
	if (bh_add_overflow_u64(eh->e_phoff, tab, &end) || end > len)
		return boot_fail(c, -EINVAL,
				 "ELF: e_phoff 0x%llx + e_phnum %u * 56 beyond file size 0x%zx",
				 (unsigned long long)eh->e_phoff, eh->e_phnum, len);
	return 0;
}

/* Walk one PT_NOTE segment's notes looking for the PVH entry. */
static BH_WUR int elf_scan_notes(struct boot_ctx *c, const uint8_t *data, const Elf64_Phdr *ph,
			  unsigned idx)
{
	const uint8_t *p = data + ph->p_offset; /* range checked by caller */
	uint64_t size = ph->p_filesz, pos = 0;
	unsigned n;

	for (n = 0; n < ELF_MAX_NOTES && size - pos >= 12; n++) {
		uint32_t namesz, descsz, type;
		uint64_t name_pad, desc_pad, need;

		memcpy(&namesz, p + pos, 4);
		memcpy(&descsz, p + pos + 4, 4);
		memcpy(&type, p + pos + 8, 4);
		name_pad = BH_ALIGN_UP((uint64_t)namesz, 4);
		desc_pad = BH_ALIGN_UP((uint64_t)descsz, 4);
		need = 12 + name_pad + desc_pad; /* each < 2^33: no overflow */
		if (need > size - pos)
			return boot_fail(c, -EINVAL,
					 "ELF: PT_NOTE %u: note at +0x%llx (namesz %u, descsz %u) "
					 "overruns the segment (p_filesz 0x%llx)",
					 idx, (unsigned long long)pos, namesz, descsz,
					 (unsigned long long)size);
		if (type == BOOT_XEN_ELFNOTE_PHYS32_ENTRY && namesz == 4 &&
		    memcmp(p + pos + 12, "Xen", 4) == 0) {
			const uint8_t *d = p + pos + 12 + name_pad;
			uint64_t e;

			if (descsz == 4) {
				uint32_t e32;

				memcpy(&e32, d, 4);
				e = e32;
			} else if (descsz == 8) {
				memcpy(&e, d, 8);
			} else {
				return boot_fail(c, -EINVAL,
						 "ELF: PVH note XEN_ELFNOTE_PHYS32_ENTRY descsz %u "
						 "is not 4 or 8",
						 descsz);
			}
			if (e >= X86_IDENTITY_MAP_END)
				return boot_fail(c, -EINVAL,
						 "ELF: PVH entry 0x%llx is not a 32-bit address",
						 (unsigned long long)e);
			c->has_pvh = true;
			c->pvh_entry = e;
		}
		pos += need;
	}
	return 0;
}

static BH_WUR int elf_check_load(struct boot_ctx *c, const Elf64_Phdr *ph, unsigned i, size_t len,
			  uint64_t *endp)
{
	uint64_t fend, mend;

	if (bh_add_overflow_u64(ph->p_offset, ph->p_filesz, &fend) || fend > len)
		return boot_fail(c, -EINVAL,
				 "ELF: PT_LOAD %u: p_offset 0x%llx + p_filesz 0x%llx beyond file "
				 "size 0x%zx",
				 i, (unsigned long long)ph->p_offset,
				 (unsigned long long)ph->p_filesz, len);
	if (ph->p_filesz > ph->p_memsz)
		return boot_fail(c, -EINVAL, "ELF: PT_LOAD %u: p_filesz 0x%llx > p_memsz 0x%llx",
				 i, (unsigned long long)ph->p_filesz,
				 (unsigned long long)ph->p_memsz);
	if (bh_add_overflow_u64(ph->p_paddr, ph->p_memsz, &mend))
		return boot_fail(c, -EINVAL, "ELF: PT_LOAD %u: p_paddr 0x%llx + p_memsz 0x%llx "
				 "overflows",
				 i, (unsigned long long)ph->p_paddr,
				 (unsigned long long)ph->p_memsz);
	if (ph->p_paddr < X86_HIMEM_START)
		return boot_fail(c, -EINVAL,
				 "ELF: PT_LOAD %u: p_paddr 0x%llx overlaps the boot area below 1 MiB",
				 i, (unsigned long long)ph->p_paddr);
	if (!gmem_valid(c->gm, ph->p_paddr, ph->p_memsz))
		return boot_fail(c, -E2BIG,
				 "ELF: PT_LOAD %u: p_paddr 0x%llx + p_memsz 0x%llx is outside guest "
				 "RAM",
				 i, (unsigned long long)ph->p_paddr,
				 (unsigned long long)ph->p_memsz);
	*endp = mend;
	return 0;
}

static bool elf_in_segment(const uint8_t *data, const Elf64_Ehdr *eh, uint64_t gpa)
{
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		Elf64_Phdr ph;

		memcpy(&ph, data + eh->e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
		if (ph.p_type == PT_LOAD && ph.p_memsz && gpa >= ph.p_paddr &&
		    gpa - ph.p_paddr < ph.p_memsz)
			return true;
	}
	return false;
}

int boot_elf_load(struct boot_ctx *c, const uint8_t *data, size_t len, bool copy)
{
	uint64_t lo = UINT64_MAX, hi = 0, end = 0;
	unsigned i, nload = 0;
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	int ret;

	if (!boot_is_elf(data, len))
		return boot_fail(c, -ENOEXEC, "not a bzImage or ELF kernel");
	ret = elf_check_ehdr(c, data, len, &eh);
	if (ret)
		return ret;
	c->has_pvh = false;
	c->pvh_entry = 0;

	/* Pass 1: validate. */
	for (i = 0; i < eh.e_phnum; i++) {
		ret = elf_read_phdr(c, data, len, &eh, i, &ph);
		if (ret)
			return ret;
		if (ph.p_type == PT_NOTE) {
			if (bh_add_overflow_u64(ph.p_offset, ph.p_filesz, &end) || end > len)
				return boot_fail(c, -EINVAL,
						 "ELF: PT_NOTE %u: p_offset 0x%llx + p_filesz 0x%llx "
						 "beyond file size 0x%zx",
						 i, (unsigned long long)ph.p_offset,
						 (unsigned long long)ph.p_filesz, len);
			ret = elf_scan_notes(c, data, &ph, i);
			if (ret)
				return ret;
			continue;
		}
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		ret = elf_check_load(c, &ph, i, len, &end);
		if (ret)
			return ret;
		nload++;
		if (ph.p_paddr < lo)
			lo = ph.p_paddr;
		if (end > hi)
			hi = end;
	}
	if (nload == 0)
		return boot_fail(c, -EINVAL, "ELF: no PT_LOAD segment with p_memsz > 0");
	if (!elf_in_segment(data, &eh, eh.e_entry))
		return boot_fail(c, -EINVAL, "ELF: e_entry 0x%llx is not inside a PT_LOAD segment",
				 (unsigned long long)eh.e_entry);
	if (eh.e_entry >= X86_IDENTITY_MAP_END)
		return boot_fail(c, -EINVAL,
				 "ELF: e_entry 0x%llx is above the 4 GiB identity map",
				 (unsigned long long)eh.e_entry);
	if (c->has_pvh && !elf_in_segment(data, &eh, c->pvh_entry))
		return boot_fail(c, -EINVAL,
				 "ELF: PVH entry 0x%llx is not inside a PT_LOAD segment",
				 (unsigned long long)c->pvh_entry);

	c->kernel_start = lo;
	c->kernel_end = hi;
	c->entry64 = eh.e_entry;
	if (!copy)
		return 0;

	/* Pass 2: copy file bytes, zero the rest (bss). All ranges were checked. */
	for (i = 0; i < eh.e_phnum; i++) {
		uint8_t *dst;

		memcpy(&ph, data + eh.e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		dst = gmem_ptr(c->gm, ph.p_paddr, ph.p_memsz);
		if (!dst)
			return boot_fail(c, -EFAULT, "ELF: PT_LOAD %u vanished from guest RAM", i);
		memcpy(dst, data + ph.p_offset, ph.p_filesz);
		memset(dst + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
	}
	return 0;
}
