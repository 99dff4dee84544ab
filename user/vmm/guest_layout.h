/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The guest's memory layout and its interface with the VMM, shared by the
 * C side and guest.S.
 *
 * Addresses here are RAM offsets. The guest runs with paging on and sees
 * RAM as one linear range: virtual address == RAM offset. Physically RAM is
 * split around the 32-bit PCI hole (offsets below 3 GiB sit at the same
 * gpa, the rest from 4 GiB up); the 1 GiB pages of the guest's page tables
 * hide the hole, which is why it has to be GiB-aligned.
 *
 * Everything below GUEST_DATA is the guest's own "system" area, written by
 * the source VMM at boot; the workloads only touch GUEST_DATA and up.
 */
#ifndef KMIG_VMM_GUEST_LAYOUT_H
#define KMIG_VMM_GUEST_LAYOUT_H

#ifdef __ASSEMBLER__
#define GUEST_U64(x)	x
#else
#define GUEST_U64(x)	x##ULL
#endif

#define GUEST_PAGE_SIZE		4096
#define GUEST_MAX_VCPUS		4

#define GUEST_PML4		0x1000
#define GUEST_PDPT		0x2000
#define GUEST_GDT		0x3000
#define GUEST_TSS		0x3800
/* One page per vCPU: the workload's parameters in, its progress out. */
#define GUEST_BLOCK(id)		(0x4000 + (id) * 0x1000)
/* One stack page per vCPU, for the exception handlers. */
#define GUEST_STACK_TOP(id)	(0x9000 + (id) * 0x1000)
#define GUEST_IDT		0xc000	/* 256 gates of 16 bytes */
#define GUEST_IDT_ENTRIES	256
#define GUEST_CODE		0x10000
#define GUEST_CODE_MAX		0x10000
#define GUEST_DATA		0x100000

/* RAM layout: the low part ends where the PCI hole starts. */
#define GUEST_LOW_END		GUEST_U64(0xc0000000)
#define GUEST_HIGH_START	GUEST_U64(0x100000000)

#define GUEST_CODE_SEL		0x08
#define GUEST_DATA_SEL		0x10
#define GUEST_TSS_SEL		0x18

/*
 * Fields of a vCPU's block (byte offsets of u64s). The VMM writes the
 * parameters once at boot; the guest writes the progress fields as it
 * goes, after the page they describe, so a checker may rely on them.
 */
#define BLK_MODE		0	/* GUEST_MODE_* */
#define BLK_FIRST		8	/* first page of this vCPU's slice */
#define BLK_PAGES		16	/* pages in the slice */
#define BLK_BATCH		24	/* pages between two GUEST_PORT_PACE */
#define BLK_SEED		32	/* text/random generator seed */
#define BLK_TOUCH		40	/* idle: pages it touches */
#define BLK_STRIDE		48	/* idle: pages between touched pages */
#define BLK_RING		56	/* hostwrite: its used ring page */
#define BLK_PASS		64	/* out: passes done (fills: 1 = done) */
/* out: pages done in the current pass; hostwrite: requests completed */
#define BLK_INDEX		72
#define BLK_SPURIOUS		80	/* out: interrupts/NMIs it took and ignored */
#define BLK_FAULT_VEC		88	/* out: an exception's vector, */
#define BLK_FAULT_ERR		96	/* error code, */
#define BLK_FAULT_RIP		104	/* RIP */
#define BLK_FAULT_CR2		112	/* and CR2 */
/* hostwrite: the request the guest makes (page, sequence number) */
#define BLK_HW_PAGE		120	/* RAM offset of the page to fill */
#define BLK_HW_SEQ		128	/* its sequence number, from 1 */
#define BLK_HW_LOST		136	/* out: completions it found missing */

#define GUEST_MODE_IDLE		1
#define GUEST_MODE_ZERO		2
#define GUEST_MODE_TEXT		3
#define GUEST_MODE_RANDOM	4
#define GUEST_MODE_COUNTER	5
#define GUEST_MODE_DIRTY	6
#define GUEST_MODE_HOSTWRITE	7

/* OUT %eax to these ports; KVM reports them as KVM_EXIT_IO. */
#define GUEST_PORT_PACE		0xe0	/* eax = pages written since last */
#define GUEST_PORT_DONE		0xe1	/* the workload's finite part ended */
#define GUEST_PORT_FAULT	0xe2	/* an exception: see BLK_FAULT_* */
#define GUEST_PORT_HOSTWRITE	0xe3	/* the host-write request in BLK_HW_* */
/* Exception handler i is at guest_isr + i * GUEST_ISR_SIZE. */
#define GUEST_ISR_SIZE		16

/*
 * The host-write device's used ring (one page per vCPU, at BLK_RING),
 * which the VMM writes as a virtio device writes its used ring: the
 * sequence number of the last request it completed, then one entry
 * (sequence number, page) per request, request n in entry (n - 1) %
 * HW_RING_ENTRIES.
 */
#define HW_USED_IDX		0
#define HW_RING_FIRST		16	/* entry i at HW_RING_FIRST + i * 16 */
#define HW_RING_ENTRY_SIZE	16
#define HW_RING_ENTRIES		255

/* Tags that tie a page's content to its address. */
#define GUEST_IDLE_MAGIC	GUEST_U64(0x6b6d69672d69646c) /* "kmig-idl" */
#define GUEST_DIRTY_MAGIC	GUEST_U64(0x6b6d69672d647274) /* "kmig-drt" */
#define GUEST_HOSTWRITE_MAGIC	GUEST_U64(0x6b6d69672d687772) /* "kmig-hwr" */
/* xorshift64* multiplier (Vigna), for the random workload's output. */
#define GUEST_RANDOM_MUL	GUEST_U64(0x2545f4914f6cdd1d)
#define GUEST_TEXT_WORDS	16

#endif /* KMIG_VMM_GUEST_LAYOUT_H */
