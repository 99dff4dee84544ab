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

static bool kmig_populated(struct mm_struct *mm, unsigned long addr)
{
	struct vm_area_struct *vma;
	bool ret = true;

	mmap_read_lock(mm);
	vma = find_vma(mm, addr);
	if (vma && vma->vm_start <= addr) {
		if (vma_is_anonymous(vma))
			ret = kmig_anon_populated(mm, addr);
		else if (vma->vm_file && (vma->vm_flags & VM_SHARED))
			ret = kmig_file_populated(vma, addr);
	}
	mmap_read_unlock(mm);
	return ret;
}

/*
 * Returns KMIG_REC_PAGE (the page is in @buf), KMIG_REC_ZERO or
 * KMIG_REC_HOLE (@buf untouched), or -EFAULT if @hva is not mapped.
 */
int kmig_read_page(unsigned long hva, void *buf)
{
	struct page *page;

	/* Fast path: mapped and present; no mmap lock, no fault. */
	if (get_user_pages_fast_only(hva, 1, 0, &page) == 1) {
		void *src = kmap_local_page(page);

		memcpy(buf, src, KMIG_PAGE_SIZE);
		kunmap_local(src);
		put_page(page);
	} else {
		if (!kmig_populated(current->mm, hva))
			return KMIG_REC_HOLE;
		if (copy_from_user(buf, (void __user *)hva, KMIG_PAGE_SIZE))
			return -EFAULT;
	}
	return memchr_inv(buf, 0, KMIG_PAGE_SIZE) ? KMIG_REC_PAGE :
						    KMIG_REC_ZERO;
}
