// SPDX-License-Identifier: GPL-2.0
/*
 * Reading one guest page on the source, in a worker that adopted the VMM's
 * mm: tell never-populated pages (holes) from populated ones without
 * faulting anything in, and copy the populated ones.
 */
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/pgtable.h>
#include <linux/sched/mm.h>
#include <linux/uaccess.h>

#include "kmig.h"

/*
 * Private anonymous memory: walk the page tables. An empty entry, or the
 * shared zero page the guest only read, is a hole; swapped, migrating and
 * huge entries count as populated and are read.
 */
static bool kmig_anon_populated(struct mm_struct *mm, unsigned long addr)
{
	pgd_t *pgd;
	p4d_t *p4d;
	pud_t *pud;
	pmd_t *pmd, pmdval;
	pte_t *ptep, pte;

	pgd = pgd_offset(mm, addr);
	if (pgd_none(READ_ONCE(*pgd)))
		return false;
	p4d = p4d_offset(pgd, addr);
	if (p4d_none(READ_ONCE(*p4d)))
		return false;
	pud = pud_offset(p4d, addr);
	if (pud_none(READ_ONCE(*pud)))
		return false;
	if (!pud_present(READ_ONCE(*pud)) || pud_leaf(READ_ONCE(*pud)))
		return true;
	pmd = pmd_offset(pud, addr);
	pmdval = READ_ONCE(*pmd);
	if (pmd_none(pmdval))
		return false;
	if (!pmd_present(pmdval) || pmd_leaf(pmdval) || pmd_bad(pmdval))
		return true;

	ptep = pte_offset_map(pmd, addr);
	pte = READ_ONCE(*ptep);
	pte_unmap(ptep);
	if (pte_none(pte))
		return false;
	return !(pte_present(pte) && is_zero_pfn(pte_pfn(pte)));
}

/* Shared file memory (memfd, shmem): is the page in the page cache? */
static bool kmig_file_populated(struct vm_area_struct *vma, unsigned long addr)
{
	struct address_space *mapping = vma->vm_file->f_mapping;
	void *entry;

	/* A swapped-out shmem page is a value entry: still populated. */
	entry = xa_load(&mapping->i_pages, linear_page_index(vma, addr));
	return !!entry;
}

static bool kmig_populated_locked(struct mm_struct *mm, unsigned long addr)
{
	struct vm_area_struct *vma;

	mmap_assert_locked(mm);
	vma = find_vma(mm, addr);
	if (vma && vma->vm_start <= addr) {
		if (vma_is_anonymous(vma))
			return kmig_anon_populated(mm, addr);
		if (vma->vm_file && (vma->vm_flags & VM_SHARED))
			return kmig_file_populated(vma, addr);
	}
	return true;
}

static bool kmig_populated(struct mm_struct *mm, unsigned long addr)
{
	bool ret;

	mmap_read_lock(mm);
	ret = kmig_populated_locked(mm, addr);
	mmap_read_unlock(mm);
	return ret;
}

/*
 * Whether the page at @p (page-aligned) holds only zeroes: eight words
 * OR'ed per test, where memchr_inv() tests and branches on every word.
 * Twice memchr_inv()'s speed under the sandbox's TCG (6.3 against 2.4
 * GiB/s) and on the host (26 against 13); a zero page is read whole
 * either way, a data page mostly stops in its first 64 bytes.
 */
static bool kmig_page_is_zero(const void *p)
{
	const unsigned long *w = p, *end = w + KMIG_PAGE_SIZE / sizeof(*w);

	for (; w < end; w += 8)
		if (w[0] | w[1] | w[2] | w[3] | w[4] | w[5] | w[6] | w[7])
			return false;
	return true;
}

/*
 * The page's kind, and its bytes in @buf when it has data. The zero test
 * reads the guest's page before anything is copied: a zero page costs one
 * read and no write, and a data page's test stops at its first non-zero
 * word. Should the guest write the page between the test and the copy,
 * its dirty bit is set again and the next round sends it once more, as
 * for any page written while it is being read.
 */
int kmig_copy_page(struct page *page, void *buf)
{
	void *src = kmap_local_page(page);
	int kind = KMIG_REC_ZERO;

	if (!kmig_page_is_zero(src)) {
		memcpy(buf, src, KMIG_PAGE_SIZE);
		kind = KMIG_REC_PAGE;
	}
	kunmap_local(src);
	return kind;
}

/*
 * Returns KMIG_REC_PAGE (the page is in @buf), KMIG_REC_ZERO or
 * KMIG_REC_HOLE (nothing of use in @buf), or -EFAULT if @hva is not
 * mapped. The slow way, under the mmap lock: the round's worker calls it
 * for a page its get_user_pages_fast_only() did not find present
 * (send.c, kmig_worker_read()), which a second lookup here would not
 * find either; present pages go through kmig_copy_page().
 */
int kmig_read_page(unsigned long hva, void *buf)
{
	if (!kmig_populated(current->mm, hva))
		return KMIG_REC_HOLE;
	if (copy_from_user(buf, (void __user *)hva, KMIG_PAGE_SIZE))
		return -EFAULT;
	return kmig_page_is_zero(buf) ? KMIG_REC_ZERO : KMIG_REC_PAGE;
}

/*
 * kmig_read_page() from any thread, on @mm, which the caller holds with
 * mmget(), in two steps: pin the pages, then read them with the lock let
 * go. The same kinds, told apart the same way, and nothing faulted in that
 * a round would not fault in. KMIG_FETCH reads so in the caller's own
 * thread instead of handing the pages to the VM's worker: a postcopy fault
 * waits for every hop, and on a loaded host the worker's wake-up was the
 * slowest part of a fetch (bench-postcopy's breakdown).
 *
 * Present pages come from get_user_pages_remote() with FOLL_NOFAULT, a run
 * of them in one call. The shared zero page (anonymous memory the guest
 * only read) is a hole, as kmig_anon_populated() says, since GUP hands it
 * back as a page. A page that is not mapped is a hole unless
 * kmig_populated_locked() finds it (swapped out, or a memfd page in the
 * page cache that this mm has not mapped): then it is pinned with a fault,
 * as copy_from_user() would read it.
 */

/*
 * Pins up to @n pages from @hva on, under @mm's lock (held for reading):
 * the present ones, and when the run stops at one that is not present,
 * that one too, or NULL for a hole. Returns how many entries of @pages
 * it filled (at least one), or -errno.
 */
long kmig_pin_pages_remote(struct mm_struct *mm, unsigned long hva,
			   unsigned long n, struct page **pages)
{
	long got;

	mmap_assert_locked(mm);
	got = get_user_pages_remote(mm, hva, n, FOLL_NOFAULT, pages, NULL,
				    NULL);
	if (got < 0)
		got = 0;
	if (got == n)
		return got;
	hva += got << PAGE_SHIFT;
	if (!kmig_populated_locked(mm, hva)) {
		pages[got] = NULL;
		return got + 1;
	}
	if (get_user_pages_remote(mm, hva, 1, 0, &pages[got], NULL, NULL) != 1) {
		while (got--)
			put_page(pages[got]);
		return -EFAULT;
	}
	return got + 1;
}

/*
 * The kind of a page kmig_pin_pages_remote() returned (NULL: a hole), its
 * bytes in @buf when it has data; drops the pin.
 */
int kmig_pinned_page_kind(struct page *page, void *buf)
{
	int kind;

	if (!page)
		return KMIG_REC_HOLE;
	kind = is_zero_page(page) ? KMIG_REC_HOLE : kmig_copy_page(page, buf);
	put_page(page);
	return kind;
}
