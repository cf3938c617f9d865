/* start.S — entry points of the test-guest runtime: the 64-bit entry
 * (bulkhead's BOOT_ENTRY_LINUX64), the PVH 32-bit entry, the AP real-mode
 * trampoline, exception stubs and the ring-3 switch.
 *
 * All three entries converge on the same static GDT/IDT/page tables
 * (tables.S), so nothing is built at run time. %edi carries who we are
 * through the shared 32-bit and 64-bit paths: 0 = BSP via 64-bit entry,
 * 1 = BSP via PVH, 2 = AP. %rsi carries the zero page / hvm_start_info. */

#include "rt.h"

#define KIND_AP 2
#define MSR_EFER 0xc0000080
#define EFER_LME 0x100
#define CR0_PE 0x1
#define CR0_NW_CD 0x60000000
#define CR0_PG 0x80000000
#define CR4_PAE 0x20
#define CR4_SMEP_SMAP 0x300000

	.section .text.entry, "ax"
	.code64
/* 64-bit entry (e_entry). CS=0x10 with the VMM's GDT, its page tables, RSP in
 * a tiny area below 0x9000 that we leave at once. */
	.globl _start
_start:
	xorl %edi, %edi                  /* kind = LINUX64 */
	leaq rt_stack_top(%rip), %rsp
	lgdt rt_gdtr(%rip)
	movl $rt_pml4, %eax
	movq %rax, %cr3                  /* our tables: same identity map, plus U/S */
	pushq $RT_SEL_CODE64
	pushq $entry64
	lretq                            /* reload CS from our GDT */

/* PVH entry: 32-bit protected mode, paging off, flat CS, EBX = start_info,
 * no stack. */
	.code32
	.globl rt_pvh_entry
rt_pvh_entry:
	movl %ebx, %esi
	movl $RT_BOOT_PVH, %edi
	lgdt rt_gdtr
	ljmp $RT_SEL_CODE32, $entry32

/* Shared 32-bit path (PVH BSP and APs): enable long mode with our tables. */
entry32:
	movl $RT_SEL_DATA, %ecx
	movl %ecx, %ds
	movl %ecx, %es
	movl %ecx, %ss
	movl %cr4, %ecx
	orl $CR4_PAE, %ecx
	movl %ecx, %cr4
	movl $rt_pml4, %ecx
	movl %ecx, %cr3
	movl $MSR_EFER, %ecx
	rdmsr                            /* clobbers eax/edx, not edi/esi */
	orl $EFER_LME, %eax
	wrmsr
	movl %cr0, %ecx
	andl $~CR0_NW_CD, %ecx           /* an AP starts with caches disabled */
	orl $(CR0_PG | CR0_PE), %ecx
	movl %ecx, %cr0
	ljmp $RT_SEL_CODE64, $entry64

	.code64
entry64:
	movl $RT_SEL_DATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	xorl %eax, %eax
	movl %eax, %fs
	movl %eax, %gs
	/* Our pages are all U/S=1: ring-0 code would fault on them with SMEP
	 * (fetch) or SMAP (data) if the VMM left those on. */
	movq %cr4, %rax
	andq $~CR4_SMEP_SMAP, %rax
	movq %rax, %cr4
	lidt rt_idtr(%rip)
	cmpl $KIND_AP, %edi
	je ap64
	leaq rt_stack_top(%rip), %rsp
	movl %edi, rt_boot_kind(%rip)
	movq %rsi, rt_boot_params(%rip)
	movw $RT_SEL_TSS, %ax
	ltr %ax
	call rt_main                     /* never returns */
1:	cli
	hlt
	jmp 1b

/* AP: take a stack slot (arrival order), run the C side, then halt. */
ap64:
	movl $1, %eax
	lock xaddl %eax, rt_ap_next(%rip)   /* eax = this AP's index, 1.. */
	cmpl $RT_MAX_CPUS, %eax
	ja 2f                               /* no stack slot left: just park */
	movl %eax, %edi
	shll $12, %eax
	leaq rt_ap_stacks(%rip), %rsp
	addq %rax, %rsp                     /* top of slot idx-1 */
	call rt_ap_main
2:	cli
	hlt
	jmp 2b

/* ---------------- AP trampoline (copied to RT_AP_TRAMPOLINE) ---------------- */
/* Runs in real mode at CS:IP = (RT_AP_TRAMPOLINE >> 4):0. It holds its own
 * copy of the GDT pseudo-descriptor because the real one (above 1 MiB) is out
 * of reach of a 16-bit data segment. A20 is assumed open (KVM has no A20
 * gate; a VMM that emulated one would break the far jump above 1 MiB). */
	.code16
	.globl rt_ap_tramp_start, rt_ap_tramp_end
rt_ap_tramp_start:
	cli
	movw %cs, %ax
	movw %ax, %ds
	lgdtl (ap_tramp_gdtr - rt_ap_tramp_start)
	movl %cr0, %eax
	orl $CR0_PE, %eax
	movl %eax, %cr0
	movl $KIND_AP, %edi
	ljmpl $RT_SEL_CODE32, $entry32
	.balign 2
ap_tramp_gdtr:
	.word rt_gdt_limit               /* tables.S */
	.long rt_gdt
rt_ap_tramp_end:

/* ---------------- exception stubs ---------------- */
/* 16 bytes each at rt_vec_base + 16*vector (the static IDT relies on it).
 * The CPU pushes an error code for 8, 10-14, 17, 21, 29, 30; the others push
 * a 0 so the frame is uniform: vector, error, rip, cs, rflags, rsp, ss. */
	.code64
	.text
	.balign 512
	.globl rt_vec_base
rt_vec_base:
	.set vec_i, 0
	.rept 32
	.org rt_vec_base + 16 * vec_i    /* pads; fails if a stub outgrew 16 bytes */
	.if (vec_i == 8) || ((vec_i >= 10) && (vec_i <= 14)) || (vec_i == 17) || (vec_i == 21) || (vec_i == 29) || (vec_i == 30)
	.else
	pushq $0
	.endif
	pushq $vec_i
	.byte 0xe9                       /* jmp rel32: fixed size, no relaxation */
	.long exc_common - . - 4
	.set vec_i, vec_i + 1
	.endr

/* First the guest's rt_exc_handled() (weak, rt.c: "not handled"): if it
 * returns non-zero the exception is resumed (registers restored, iretq to the
 * frame's possibly advanced rip); otherwise rt_exception reports and exits. */
exc_common:
	pushq %rax
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %rbx
	leaq 80(%rsp), %rdi              /* struct rt_exc_frame * */
	movq %rsp, %rbx
	andq $-16, %rsp
	call rt_exc_handled
	movq %rbx, %rsp
	testl %eax, %eax
	jz 2f
	popq %rbx
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx
	popq %rax
	addq $16, %rsp                   /* vector and error code */
	iretq
2:	leaq 80(%rsp), %rdi
	andq $-16, %rsp
	call rt_exception                /* reports and exits; never returns */
1:	cli
	hlt
	jmp 1b

/* ---------------- ring 3 ---------------- */
/* rt_iret_user(rip, rsp): build an iretq frame for CPL 3 with IOPL=3 (port
 * I/O allowed in ring 3) and IF=0 (no interrupts are set up). */
	.globl rt_iret_user
rt_iret_user:
	movl $RT_SEL_UDATA, %eax
	movl %eax, %ds
	movl %eax, %es
	pushq $RT_SEL_UDATA              /* SS */
	pushq %rsi                       /* RSP */
	pushq $0x3002                    /* RFLAGS: IOPL=3, reserved bit 1 */
	pushq $RT_SEL_UCODE              /* CS */
	pushq %rdi                       /* RIP */
	iretq

	.data
	.balign 8
	.globl rt_boot_kind, rt_boot_params
rt_boot_params: .quad 0
rt_boot_kind:   .long 0
rt_ap_next:     .long 1              /* next AP index; the BSP is 0 */

	.section .note.GNU-stack, "", @progbits
