/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The page sets the dirty tests write, and their expected bitmaps. A set is
 * a sorted list of distinct page indices within one memslot.
 */
#ifndef KMIG_SELFTEST_PAGE_SETS_H
#define KMIG_SELFTEST_PAGE_SETS_H

#include <linux/types.h>

struct page_set {
	__u64 *pages;
	__u64 n;
};

/*
 * Set A of a round: spread over the memslot with @stride, plus the first
 * and last page and a run across a 64-page word boundary, so both ends and
 * bitmap word edges are covered.
 */
void page_set_spread(struct page_set *set, __u64 npages, __u64 stride,
		     __u64 offset);
/* Every @stride-th page from @offset. */
void page_set_stride(struct page_set *set, __u64 npages, __u64 stride,
		     __u64 offset);
/* The union of @a and @b (@b may be empty). */
void page_set_union(struct page_set *out, const struct page_set *a,
		    const struct page_set *b);
/* Every other page of @a: part of a round that rewrites old pages. */
void page_set_every_other(struct page_set *out, const struct page_set *a);
void page_set_free(struct page_set *set);
/* Allocates a zeroed bitmap of @npages with the pages of @set set. */
__u64 *page_set_bitmap(const struct page_set *set, __u64 npages);

#endif /* KMIG_SELFTEST_PAGE_SETS_H */
