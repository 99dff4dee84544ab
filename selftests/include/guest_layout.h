/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guest-physical layout of the test VMs, shared by the C library and the
 * guest code in lib/guest_code.S.
 *
 * Everything the guest needs to run (page tables, GDT, code, page lists)
 * lives in its own "system" memslot, so the data memslot holds only pages
 * the tests write and its dirty set can be checked exactly.
 */
#ifndef KMIG_SELFTEST_GUEST_LAYOUT_H
#define KMIG_SELFTEST_GUEST_LAYOUT_H

#define GUEST_PAGE_SIZE		4096

/* The guest's OUT to this port ends a run (KVM_EXIT_IO). */
#define GUEST_DONE_PORT		0x42

/* Memslot ids and where they sit. */
#define GUEST_DATA_SLOT		0
#define GUEST_SYS_SLOT		1
#define GUEST_FIRST_EXTRA_SLOT	2
#define GUEST_SYS_GPA		0x0ULL
#define GUEST_DATA_GPA		(1ULL << 30)
/* Extra memslots: one per GiB from 2 GiB on; the identity map covers 8 GiB. */
#define GUEST_EXTRA_GPA(n)	((2ULL + (n)) << 30)
#define GUEST_MAPPED_GIB	8

/* Inside the system memslot. */
#define GUEST_PML4_GPA		0x1000ULL
#define GUEST_PDPT_GPA		0x2000ULL
#define GUEST_GDT_GPA		0x3000ULL
#define GUEST_TSS_GPA		0x3800ULL
#define GUEST_CODE_GPA		0x4000ULL	/* up to 0x8000 */
#define GUEST_SCRATCH_GPA	0x8000ULL	/* warm-up writes land here */
#define GUEST_LIST_GPA		0x100000ULL	/* per-vCPU page lists */
#define GUEST_LIST_BYTES	0x40000ULL
#define GUEST_LIST_ENTRIES	(GUEST_LIST_BYTES / 8)
#define GUEST_SYS_BYTES		0x200000ULL

#define GUEST_CODE_SEL		0x08
#define GUEST_DATA_SEL		0x10
#define GUEST_TSS_SEL		0x18

/*
 * The only system-memslot pages that may be logged dirty while tests track:
 * the guest's page-table pages. Their Accessed/Dirty bits are preset, but
 * under a nested SVM the walk through the nested page tables can still be
 * treated as a write (QEMU's TCG does so), and KVM then logs the page.
 * As bits of the system memslot's first bitmap word:
 */
#define GUEST_SYS_MAY_DIRTY	((1ULL << (GUEST_PML4_GPA / GUEST_PAGE_SIZE)) | \
				 (1ULL << (GUEST_PDPT_GPA / GUEST_PAGE_SIZE)))
#define GUEST_SYS_PAGES		(GUEST_SYS_BYTES / GUEST_PAGE_SIZE)

#endif /* KMIG_SELFTEST_GUEST_LAYOUT_H */
