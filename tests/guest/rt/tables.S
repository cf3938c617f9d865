/* tables.S — static descriptor and page tables for the test-guest runtime.
 *
 * Everything here is assembled data, not code: on the PVM lab each ring-0
 * instruction costs ~1.5 us, so building 2048 page-table entries or 32 IDT
 * gates at run time would be the slowest part of a test. The linker script
 * (guest.ld) splits the two addresses that descriptors store in pieces
 * (the TSS base and the exception-stub base) into absolute symbols. */

#include "rt.h"

/* ---------------- page tables: identity map of [0, 4 GiB) ---------------- */
/* 2 MiB pages, all P|RW|US (ring 3 may touch anything: these are test guests
 * whose whole point is doing I/O from ring 3). The top GiB (0xc0000000+,
 * where the MMIO hole and the LAPIC at 0xfee00000 live) is PCD|PWT = UC. */
#define PTE_P 0x001
#define PTE_RW 0x002
#define PTE_US 0x004
#define PTE_PWT 0x008
#define PTE_PCD 0x010
#define PTE_PS 0x080

	.section .data.pgt, "aw"
	.balign 4096
	.globl rt_pml4
rt_pml4:
	.quad rt_pdpt + (PTE_P | PTE_RW | PTE_US)
	.fill 511, 8, 0
rt_pdpt:
	.quad rt_pd + 0x0000 + (PTE_P | PTE_RW | PTE_US)
	.quad rt_pd + 0x1000 + (PTE_P | PTE_RW | PTE_US)
	.quad rt_pd + 0x2000 + (PTE_P | PTE_RW | PTE_US)
	.quad rt_pd + 0x3000 + (PTE_P | PTE_RW | PTE_US)
	.fill 508, 8, 0
rt_pd:
	.set pde_i, 0
	.rept 1536
	.quad (pde_i << 21) | (PTE_P | PTE_RW | PTE_US | PTE_PS)
	.set pde_i, pde_i + 1
	.endr
	.rept 512
	.quad (pde_i << 21) | (PTE_P | PTE_RW | PTE_US | PTE_PS | PTE_PWT | PTE_PCD)
	.set pde_i, pde_i + 1
	.endr

/* ---------------- GDT ---------------- */
	.section .data, "aw"
	.balign 16
	.globl rt_gdt, rt_gdtr
rt_gdt:
	.quad 0                   /* 0x00 null */
	.quad 0x00cf9a000000ffff  /* 0x08 ring-0 32-bit code (PVH entry, AP bring-up) */
	.quad 0x00af9a000000ffff  /* 0x10 ring-0 64-bit code */
	.quad 0x00cf92000000ffff  /* 0x18 ring-0 data */
	.quad 0x00affa000000ffff  /* 0x20 ring-3 64-bit code (DPL 3) */
	.quad 0x00cff2000000ffff  /* 0x28 ring-3 data (DPL 3) */
	/* 0x30 64-bit TSS descriptor: limit 103, type 9 (available), present */
	.word 103
	.word rt_tss_b0          /* base 15:0  (guest.ld) */
	.byte rt_tss_b2          /* base 23:16 */
	.byte 0x89
	.byte 0
	.byte rt_tss_b3          /* base 31:24 */
	.long 0                  /* base 63:32: the image is below 4 GiB */
	.long 0
rt_gdt_end:
	.globl rt_gdt_limit
	.set rt_gdt_limit, rt_gdt_end - rt_gdt - 1
	.balign 8
	.word 0                  /* pad so the pseudo-descriptor's base is aligned */
rt_gdtr:
	.word rt_gdt_end - rt_gdt - 1
	.quad rt_gdt

/* ---------------- TSS ---------------- */
/* Needed only for ring 3 -> ring 0 transitions (exceptions in ring 3) and for
 * the IST stack of #DF/NMI/#MC. No I/O bitmap: IOPL=3 already grants ring 3
 * all ports, so the bitmap offset points past the limit. */
	.balign 16
	.globl rt_tss
rt_tss:
	.long 0
	.quad rt_stack_top       /* RSP0 */
	.quad 0, 0               /* RSP1, RSP2 */
	.quad 0
	.quad rt_ist_stack_top   /* IST1 */
	.quad 0, 0, 0, 0, 0, 0   /* IST2-7 */
	.quad 0
	.word 0
	.word 104                /* I/O map base = limit + 1: no bitmap */

/* ---------------- IDT: vectors 0-31 ---------------- */
/* Stub i is at rt_vec_base + 16*i (start.S checks); rt_vec_base is 512-aligned
 * so the low 16 bits never carry. #DF (8), NMI (2) and #MC (18) use IST1 so a
 * broken kernel stack still gets a report. */
	.balign 16
	.globl rt_idt, rt_idtr
rt_idt:
	.set vec_i, 0
	.rept 32
	.word rt_vec_lo + 16 * vec_i
	.word RT_SEL_CODE64
	.if (vec_i == 2) || (vec_i == 8) || (vec_i == 18)
	.byte 1
	.else
	.byte 0
	.endif
	.byte 0x8e               /* present, DPL 0, 64-bit interrupt gate */
	.word rt_vec_hi
	.long 0
	.long 0
	.set vec_i, vec_i + 1
	.endr
rt_idt_end:
	.balign 8
	.word 0, 0, 0
rt_idtr:
	.word rt_idt_end - rt_idt - 1
	.quad rt_idt

/* ---------------- stacks ---------------- */
	.section .bss, "aw", @nobits
	.balign 4096
	.globl rt_stack_top, rt_ap_stacks
	.space 16384
rt_stack_top:                    /* BSP ring-0 stack (also RSP0) */
	.space 4096
rt_ist_stack_top:
rt_ap_stacks:
	.space 4096 * RT_MAX_CPUS    /* AP i uses slot i-1 (top = base + 4096*i) */

/* ---------------- PVH ELF note ---------------- */
/* XEN_ELFNOTE_PHYS32_ENTRY (18): where a PVH loader enters in 32-bit mode.
 * The descriptor is 8 bytes like Linux's vmlinux (QEMU reads a size_t);
 * loaders that read 4 bytes get the same value (little endian, < 4 GiB). */
	.section .note.Xen, "a", @note
	.balign 4
	.long 4                  /* namesz */
	.long 8                  /* descsz */
	.long 18                 /* type */
	.asciz "Xen"
	.balign 4
	.quad rt_pvh_entry
	.balign 4

	.section .note.GNU-stack, "", @progbits
