/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Entry of the bare bench guest (guest_bare.c): a multiboot (v1) kernel,
 * the format QEMU's -kernel loads without firmware help. The loader enters
 * in 32-bit protected mode with paging off; this maps the first 4 GiB 1:1
 * with 2 MiB pages, switches to long mode, enables SSE (the C code uses
 * doubles) and calls bare_main(multiboot info).
 *
 * The address fields ("a.out kludge") make QEMU load the flat binary as it
 * is: it refuses 64-bit ELF files.
 */
#define MB_MAGIC	0x1badb002
#define MB_FLAGS	((1 << 1) | (1 << 16))	/* memory info, addresses */

#define CR0_PE		(1 << 0)
#define CR0_MP		(1 << 1)
#define CR0_EM		(1 << 2)
#define CR0_PG		(1 << 31)
#define CR4_PAE		(1 << 5)
#define CR4_OSFXSR	(1 << 9)
#define CR4_OSXMMEXCPT	(1 << 10)
#define MSR_EFER	0xc0000080
#define EFER_LME	(1 << 8)
#define PTE_P_RW	0x3
#define PDE_2M		0x83			/* present, writable, 2 MiB */

	.section .multiboot, "ax"
	.code32
	.align 4
mb_header:
	.long	MB_MAGIC
	.long	MB_FLAGS
	.long	-(MB_MAGIC + MB_FLAGS)
	.long	mb_header
	.long	bare_load_start
	.long	bare_load_end
	.long	bare_bss_end
	.long	bare_start32

	.globl	bare_start32
bare_start32:
	cli
	movl	%ebx, mb_info
	movl	$stack_top, %esp

	/* PML4[0] -> PDPT, PDPT[0..3] -> PD[0..3], 2048 PDEs of 2 MiB. */
	movl	$pdpt + PTE_P_RW, pml4
	movl	$pd + PTE_P_RW, %eax
	xorl	%ecx, %ecx
1:	movl	%eax, pdpt(, %ecx, 8)
	addl	$4096, %eax
	incl	%ecx
	cmpl	$4, %ecx
	jne	1b
	movl	$PDE_2M, %eax
	xorl	%ecx, %ecx
2:	movl	%eax, pd(, %ecx, 8)
	addl	$0x200000, %eax
	incl	%ecx
	cmpl	$2048, %ecx
	jne	2b

	movl	$pml4, %eax
	movl	%eax, %cr3
	movl	%cr4, %eax
	orl	$(CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT), %eax
	movl	%eax, %cr4
	movl	$MSR_EFER, %ecx
	rdmsr
	orl	$EFER_LME, %eax
	wrmsr
	movl	%cr0, %eax
	andl	$~CR0_EM, %eax
	orl	$(CR0_PG | CR0_MP | CR0_PE), %eax
	movl	%eax, %cr0
	lgdt	gdt_desc
	ljmp	$0x08, $start64

	.code64
start64:
	movw	$0x10, %ax
	movw	%ax, %ds
	movw	%ax, %es
	movw	%ax, %ss
	movw	%ax, %fs
	movw	%ax, %gs
	movq	$stack_top, %rsp
	movl	mb_info, %edi
	call	bare_main
3:	cli
	hlt
	jmp	3b

/*
 * The PIT's IRQ 0 (PIC vector 0x20): it only ends a sleep's HLT. No C, no
 * stack beyond the frame: the C code runs without a red zone.
 */
	.text
	.globl	bare_irq0
bare_irq0:
	pushq	%rax
	movb	$0x20, %al
	outb	%al, $0x20		/* non-specific EOI */
	popq	%rax
	iretq

	.globl	bare_ignore
bare_ignore:
	iretq

/* Exceptions 0-31: one 16-byte stub each, reporting its vector. */
	.globl	bare_traps
	.align	16
bare_traps:
	.set	vec, 0
	.rept	32
	.align	16
	pushq	$vec
	jmp	trap_common
	.set	vec, vec + 1
	.endr
trap_common:
	popq	%rdi
	andq	$-16, %rsp
	call	bare_trap
	jmp	3b

	.section .rodata
	.align	8
gdt:
	.quad	0
	.quad	0x00af9a000000ffff		/* 0x08: 64-bit code */
	.quad	0x00cf92000000ffff		/* 0x10: data */
gdt_end:
gdt_desc:
	.word	gdt_end - gdt - 1
	.long	gdt

	.bss
	.align	4096
pml4:	.skip	4096
pdpt:	.skip	4096
pd:	.skip	4 * 4096
	.align	16
	.skip	16384
stack_top:
mb_info:
	.skip	4

	.section .note.GNU-stack, "", @progbits
