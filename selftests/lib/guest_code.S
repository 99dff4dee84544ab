/* SPDX-License-Identifier: GPL-2.0 */
/*
 * 64-bit guest code. The library copies the bytes between guest_code_start
 * and guest_code_end to GUEST_CODE_GPA; the host enters one of the routines
 * by setting RIP with KVM_SET_REGS, so the code must be position
 * independent and must not use a stack. Each routine ends with an OUT to
 * GUEST_DONE_PORT, which KVM reports as KVM_EXIT_IO.
 *
 * Only byte stores to the listed pages: the guest never reads the pages it
 * dirties, so a page's first mapping is always a write fault.
 */
#include "guest_layout.h"

	.section .rodata.kmig_guest, "a"
	.code64

	.globl guest_code_start
guest_code_start:

/* RDI = gpa of a u64 array of page gpas, RSI = entries, DL = byte to store */
	.globl guest_write_list
guest_write_list:
	test	%rsi, %rsi
	jz	1f
0:	mov	(%rdi), %rax
	mov	%dl, (%rax)
	add	$8, %rdi
	dec	%rsi
	jnz	0b
1:	out	%al, $GUEST_DONE_PORT
	hlt			/* not reached: the host re-enters via RIP */
	jmp	1b

/* RDI = gpa of the first page, RSI = pages, DL = byte stored in each page */
	.globl guest_write_range
guest_write_range:
	test	%rsi, %rsi
	jz	1f
0:	mov	%dl, (%rdi)
	add	$GUEST_PAGE_SIZE, %rdi
	dec	%rsi
	jnz	0b
1:	out	%al, $GUEST_DONE_PORT
	hlt
	jmp	1b

	.globl guest_code_end
guest_code_end:

	.section .note.GNU-stack, "", @progbits
