/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The guest: 64-bit code the source VMM copies to GUEST_CODE and enters at
 * guest_entry with RDI = this vCPU's block (guest_layout.h), interrupts
 * off. It must be position independent. Each mode works on the vCPU's own
 * slice [BLK_FIRST, +BLK_PAGES pages).
 *
 * After every BLK_BATCH pages it does OUT %eax, GUEST_PORT_PACE with the
 * page count: the VMM sleeps there to hold the configured rate, because a
 * nested guest that dirties memory nonstop stalls the machine under it.
 *
 * The text and random generators are re-implemented in check.c; change
 * both together. Registers: rdi block (never changed: the exception
 * handlers rely on it), rsi page, rcx pages left, r8 pages done, r14 pages
 * until the next pace exit; rax, rdx, r9, r10 scratch.
 */
#include "guest_layout.h"

	.section .rodata.kmig_guest, "a"
	.code64

.macro PACE
	dec	%r14
	jnz	.Lpaced\@
	mov	BLK_BATCH(%rdi), %r14
	mov	%r14d, %eax
	out	%eax, $GUEST_PORT_PACE
.Lpaced\@:
.endm

/* rax = xorshift64(rax) (Marsaglia, shifts 13, 7, 17) */
.macro XORSHIFT
	mov	%rax, %r9
	shl	$13, %r9
	xor	%r9, %rax
	mov	%rax, %r9
	shr	$7, %r9
	xor	%r9, %rax
	mov	%rax, %r9
	shl	$17, %r9
	xor	%r9, %rax
.endm

	.globl guest_code_start
guest_code_start:

	.globl guest_entry
guest_entry:
	mov	BLK_BATCH(%rdi), %r14
	mov	BLK_MODE(%rdi), %rax
	cmp	$GUEST_MODE_COUNTER, %rax
	je	counter
	cmp	$GUEST_MODE_DIRTY, %rax
	je	dirty
	cmp	$GUEST_MODE_IDLE, %rax
	je	idle
	cmp	$GUEST_MODE_HOSTWRITE, %rax
	je	hostwrite
	jmp	fill

/* Forever: increment the first byte of every page, in page order. */
counter:
	mov	BLK_FIRST(%rdi), %rsi
	mov	BLK_PAGES(%rdi), %rcx
	xor	%r8, %r8
1:	incb	(%rsi)
	inc	%r8
	mov	%r8, BLK_INDEX(%rdi)
	add	$GUEST_PAGE_SIZE, %rsi
	PACE
	dec	%rcx
	jnz	1b
	incq	BLK_PASS(%rdi)
	jmp	counter

/*
 * Forever: pass n (from 1) stamps every page with n in its first u64,
 * page address ^ GUEST_DIRTY_MAGIC in the second and ~n in its last.
 */
dirty:
	mov	BLK_PASS(%rdi), %r10
	inc	%r10
	mov	BLK_FIRST(%rdi), %rsi
	mov	BLK_PAGES(%rdi), %rcx
	xor	%r8, %r8
1:	mov	%r10, (%rsi)
	movabs	$GUEST_DIRTY_MAGIC, %rax
	xor	%rsi, %rax
	mov	%rax, 8(%rsi)
	mov	%r10, %rax
	not	%rax
	mov	%rax, GUEST_PAGE_SIZE - 8(%rsi)
	inc	%r8
	mov	%r8, BLK_INDEX(%rdi)
	add	$GUEST_PAGE_SIZE, %rsi
	PACE
	dec	%rcx
	jnz	1b
	mov	%r10, BLK_PASS(%rdi)
	jmp	dirty

/*
 * Forever: asks the VMM's host-write device to fill the pages of the slice
 * in page order, request n (from 1) for page (n - 1) % BLK_PAGES: the
 * request (page, n) in the block, then OUT; the device has filled the
 * page and completed the request when the OUT returns. The guest checks
 * the used ring's index (counting a missing completion in BLK_HW_LOST),
 * then counts the request done in BLK_INDEX. r10 is n. No PACE: the
 * device holds the rate, request by request.
 */
hostwrite:
	mov	BLK_INDEX(%rdi), %r10
	mov	%r10, %rax
	xor	%edx, %edx
	divq	BLK_PAGES(%rdi)
	mov	BLK_PAGES(%rdi), %rcx
	sub	%rdx, %rcx
	shl	$12, %rdx
	mov	BLK_FIRST(%rdi), %rsi
	add	%rdx, %rsi
1:	inc	%r10
	mov	%rsi, BLK_HW_PAGE(%rdi)
	mov	%r10, BLK_HW_SEQ(%rdi)
	out	%eax, $GUEST_PORT_HOSTWRITE
	mov	BLK_RING(%rdi), %rax
	cmp	%r10, HW_USED_IDX(%rax)
	je	2f
	incq	BLK_HW_LOST(%rdi)
2:	mov	%r10, BLK_INDEX(%rdi)
	add	$GUEST_PAGE_SIZE, %rsi
	dec	%rcx
	jnz	1b
	mov	BLK_FIRST(%rdi), %rsi
	mov	BLK_PAGES(%rdi), %rcx
	jmp	1b

/* Stamp BLK_TOUCH pages BLK_STRIDE pages apart with address ^ magic. */
idle:
	mov	BLK_FIRST(%rdi), %rsi
	mov	BLK_TOUCH(%rdi), %rcx
	mov	BLK_STRIDE(%rdi), %r10
	shl	$12, %r10
	xor	%r8, %r8
	test	%rcx, %rcx
	jz	2f
1:	movabs	$GUEST_IDLE_MAGIC, %rax
	xor	%rsi, %rax
	mov	%rax, (%rsi)
	inc	%r8
	mov	%r8, BLK_INDEX(%rdi)
	add	%r10, %rsi
	dec	%rcx
	jnz	1b
2:	movq	$1, BLK_PASS(%rdi)
	jmp	done

/*
 * Once over the slice: zero stores one zero u64 per page (it touches the
 * page); text and random fill each page from a generator seeded with
 * (page address | 1) ^ BLK_SEED.
 */
fill:
	mov	BLK_FIRST(%rdi), %rsi
	mov	BLK_PAGES(%rdi), %rcx
	xor	%r8, %r8
1:	mov	BLK_MODE(%rdi), %rax
	cmp	$GUEST_MODE_ZERO, %rax
	je	4f
	mov	%rsi, %rax
	or	$1, %rax
	xor	BLK_SEED(%rdi), %rax
	mov	%rsi, %rdx
	cmpq	$GUEST_MODE_TEXT, BLK_MODE(%rdi)
	je	3f
2:	XORSHIFT			/* random: xorshift64* */
	movabs	$GUEST_RANDOM_MUL, %r10
	imul	%rax, %r10
	mov	%r10, (%rdx)
	add	$8, %rdx
	test	$GUEST_PAGE_SIZE - 1, %rdx
	jnz	2b
	jmp	5f
3:	XORSHIFT			/* text: a word from the table */
	mov	%rax, %r10
	shr	$60, %r10
	lea	.Ltext_words(%rip), %r9
	mov	(%r9, %r10, 8), %r10
	mov	%r10, (%rdx)
	add	$8, %rdx
	test	$GUEST_PAGE_SIZE - 1, %rdx
	jnz	3b
	jmp	5f
4:	movq	$0, (%rsi)		/* zero */
5:	inc	%r8
	mov	%r8, BLK_INDEX(%rdi)
	add	$GUEST_PAGE_SIZE, %rsi
	PACE
	dec	%rcx
	jnz	1b
	movq	$1, BLK_PASS(%rdi)

/* The finite part is over: tell the VMM once, then halt for good. */
done:
	out	%al, $GUEST_PORT_DONE
1:	hlt
	jmp	1b

/*
 * Interrupt and exception entry points, GUEST_ISR_SIZE bytes apart (boot.c
 * points the IDT at them). The guest runs with interrupts off, so none of
 * this should ever run; it is there so that an unexpected event shows up
 * as a diagnosis instead of a triple fault. Each stub pushes a dummy error
 * code where the CPU pushes none, then the vector.
 */
	.balign GUEST_ISR_SIZE
	.globl guest_isr
guest_isr:
	vec = 0
	.rept GUEST_IDT_ENTRIES
	.balign GUEST_ISR_SIZE
	.if vec == 8 || (vec >= 10 && vec <= 14) || vec == 17 || vec == 21 || vec == 29 || vec == 30
	.else
	pushq	$0
	.endif
	pushq	$vec
	jmp	isr_common
	vec = vec + 1
	.endr

/*
 * Stack: vector, error code, RIP, CS, RFLAGS, RSP, SS. Interrupts and NMIs
 * are counted and dismissed; an exception is recorded in the block
 * (RDI, which no routine changes) and reported, and the vCPU stops.
 */
isr_common:
	push	%rax
	mov	8(%rsp), %rax
	cmp	$32, %rax
	jae	1f
	cmp	$2, %rax
	je	1f
	mov	%rax, BLK_FAULT_VEC(%rdi)
	mov	16(%rsp), %rax
	mov	%rax, BLK_FAULT_ERR(%rdi)
	mov	24(%rsp), %rax
	mov	%rax, BLK_FAULT_RIP(%rdi)
	mov	%cr2, %rax
	mov	%rax, BLK_FAULT_CR2(%rdi)
	out	%al, $GUEST_PORT_FAULT
2:	hlt
	jmp	2b
1:	incq	BLK_SPURIOUS(%rdi)
	pop	%rax
	add	$16, %rsp
	iretq

/* 16 words of 8 bytes: text that compresses like text. */
	.balign 8
	.globl guest_text_words
guest_text_words:
.Ltext_words:
	.ascii	"the     ", "kernel  ", "copies  ", "every   "
	.ascii	"dirty   ", "page    ", "of      ", "guest   "
	.ascii	"memory  ", "to      ", "a       ", "new     "
	.ascii	"host,   ", "round   ", "after   ", "round.\n "

	.globl guest_code_end
guest_code_end:

	.section .note.GNU-stack, "", @progbits
