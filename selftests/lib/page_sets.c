// SPDX-License-Identifier: GPL-2.0
/* Page sets for the dirty tests; see include/page_sets.h. */
#include <stdlib.h>

#include "page_sets.h"
#include "test_util.h"

/* Builds a sorted, duplicate-free set from a bitmap. */
static void from_bitmap(struct page_set *set, const __u64 *map, __u64 npages)
{
	__u64 i;

	set->n = bitmap_weight64(map, npages);
	set->pages = calloc(set->n ?: 1, sizeof(*set->pages));
	CHECK(set->pages, "out of memory");
	set->n = 0;
	for (i = 0; i < npages; i++)
		if (test_bit64(map, i))
			set->pages[set->n++] = i;
}

static __u64 *alloc_map(__u64 npages)
{
	__u64 *map = calloc(BITMAP_WORDS(npages) ?: 1, sizeof(*map));

	CHECK(map, "out of memory");
	return map;
}

void page_set_spread(struct page_set *set, __u64 npages, __u64 stride,
		     __u64 offset)
{
	__u64 *map = alloc_map(npages), i;

	for (i = offset; i < npages; i += stride)
		set_bit64(map, i);
	set_bit64(map, 0);
	set_bit64(map, npages - 1);
	for (i = 62; i < 67 && i < npages; i++)
		set_bit64(map, i);
	from_bitmap(set, map, npages);
	free(map);
}

void page_set_stride(struct page_set *set, __u64 npages, __u64 stride,
		     __u64 offset)
{
	__u64 *map = alloc_map(npages), i;

	for (i = offset; i < npages; i += stride)
		set_bit64(map, i);
	from_bitmap(set, map, npages);
	free(map);
}

void page_set_union(struct page_set *out, const struct page_set *a,
		    const struct page_set *b)
{
	__u64 npages = 1, i;
	__u64 *map;

	if (a->n)
		npages = a->pages[a->n - 1] + 1;
	if (b->n && b->pages[b->n - 1] + 1 > npages)
		npages = b->pages[b->n - 1] + 1;
	map = alloc_map(npages);
	for (i = 0; i < a->n; i++)
		set_bit64(map, a->pages[i]);
	for (i = 0; i < b->n; i++)
		set_bit64(map, b->pages[i]);
	from_bitmap(out, map, npages);
	free(map);
}

void page_set_every_other(struct page_set *out, const struct page_set *a)
{
	__u64 i;

	out->pages = calloc(a->n ?: 1, sizeof(*out->pages));
	CHECK(out->pages, "out of memory");
	out->n = 0;
	for (i = 0; i < a->n; i += 2)
		out->pages[out->n++] = a->pages[i];
}

void page_set_free(struct page_set *set)
{
	free(set->pages);
	set->pages = NULL;
	set->n = 0;
}

__u64 *page_set_bitmap(const struct page_set *set, __u64 npages)
{
	__u64 *map = alloc_map(npages), i;

	for (i = 0; i < set->n; i++) {
		CHECK(set->pages[i] < npages, "page %llu of %llu",
		      (unsigned long long)set->pages[i],
		      (unsigned long long)npages);
		set_bit64(map, set->pages[i]);
	}
	return map;
}
