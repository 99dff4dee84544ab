// SPDX-License-Identifier: GPL-2.0
/*
 * Destination side: records received by userspace are written into the
 * attached VM's RAM from the kernel. The stream is hostile until checked:
 * every record must name whole pages inside one memslot, and data lengths
 * must add up, before anything is written. A zstd-compressed page is
 * decompressed into a kernel buffer and written only once it proved to be
 * exactly one page, so a bad frame never leaves a half-written page.
 */
#include <linux/bitmap.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "kmig.h"

#define KMIG_LOAD_MAX_RECS	4096

/* The "written by a load" bitmaps start empty: fresh RAM reads zero. */
static int kmig_load_slots(struct kmig_session *s)
{
	struct kmig_slots *slots;
	u32 i;

	if (s->loaded)
		return 0;
	slots = kmig_vm_snapshot_slots(s->vm);
	if (IS_ERR(slots))
		return PTR_ERR(slots);
	for (i = 0; i < slots->nr; i++) {
		struct kmig_slot *k = &slots->slot[i];

		k->bitmap = kvcalloc(BITS_TO_LONGS(k->npages),
				     sizeof(unsigned long), GFP_KERNEL_ACCOUNT);
		if (!k->bitmap) {
			kmig_slots_free(slots);
			return -ENOMEM;
		}
	}
	s->loaded = slots;
	return 0;
}

/* The memslot holding [gpa, gpa + npages pages), or NULL. */
static struct kmig_slot *kmig_load_find(struct kmig_slots *slots, u64 gpa,
					u32 npages)
{
	u64 gfn = gpa >> PAGE_SHIFT;
	u32 i;

	for (i = 0; i < slots->nr; i++) {
		struct kmig_slot *k = &slots->slot[i];

		/* Address space 0 only: SMM RAM is not migrated this way. */
		if (k->as_id == 0 && gfn >= k->base_gfn &&
		    gfn - k->base_gfn < k->npages)
			return npages <= k->npages - (gfn - k->base_gfn) ?
			       k : ERR_PTR(-EINVAL);
	}
	return NULL;
}

/* Writes @src (or zeroes, if NULL) over one guest page. */
static int kmig_load_page(struct mm_struct *mm, unsigned long hva,
			  const void *src)
{
	struct page *page;
	void *dst;
	long got;

	mmap_read_lock(mm);
	got = pin_user_pages_remote(mm, hva, 1, FOLL_WRITE, &page, NULL, NULL);
	mmap_read_unlock(mm);
	if (got != 1)
		return got < 0 ? got : -EFAULT;

	dst = kmap_local_page(page);
	if (src)
		memcpy(dst, src, KMIG_PAGE_SIZE);
	else
		clear_page(dst);
	kunmap_local(dst);
	/* Dirty: the page's new content must reach the backing store. */
	unpin_user_pages_dirty_lock(&page, 1, true);
	return 0;
}

static int kmig_load_check(struct kmig_slots *slots, const struct kmig_rec *r,
			   u64 *data_off, u64 data_len, struct kmig_slot **kp)
{
	struct kmig_slot *k;

	if (r->gpa & (KMIG_PAGE_SIZE - 1) || !r->npages)
		return -EINVAL;
	switch (r->kind) {
	case KMIG_REC_PAGE:
		if (r->npages != 1 || r->len != KMIG_PAGE_SIZE ||
		    *data_off > data_len ||
		    data_len - *data_off < KMIG_PAGE_SIZE)
			return -EINVAL;
		*data_off += KMIG_PAGE_SIZE;
		break;
	case KMIG_REC_ZSTD:
		/* A frame of a whole page or more would be pointless. */
		if (r->npages != 1 || !r->len || r->len >= KMIG_PAGE_SIZE ||
		    *data_off > data_len || data_len - *data_off < r->len)
			return -EINVAL;
		*data_off += r->len;
		break;
	case KMIG_REC_ZERO:
	case KMIG_REC_HOLE:
		if (r->len)
			return -EINVAL;
		break;
	default:
		return -EINVAL;
	}
	k = kmig_load_find(slots, r->gpa, r->npages);
	if (IS_ERR(k))
		return PTR_ERR(k);
	if (!k)
		return -ENOENT;
	*kp = k;
	return 0;
}

static int kmig_load_rec(struct kmig_load *arg, struct mm_struct *mm,
			 struct kmig_slot *k, const struct kmig_rec *r,
			 const void *data)
{
	u64 first = (r->gpa >> PAGE_SHIFT) - k->base_gfn, p;
	int ret;

	if (r->kind == KMIG_REC_PAGE || r->kind == KMIG_REC_ZSTD) {
		ret = kmig_load_page(mm, k->hva + (first << PAGE_SHIFT), data);
		if (ret)
			return ret;
		__set_bit(first, k->bitmap);
		arg->pages++;
		return 0;
	}
	/* Zero or hole: untouched, unless an earlier record wrote it. */
	for (p = first; p < first + r->npages; p++) {
		if (!test_bit(p, k->bitmap))
			continue;
		ret = kmig_load_page(mm, k->hva + (p << PAGE_SHIFT), NULL);
		if (ret)
			return ret;
		__clear_bit(p, k->bitmap);
		arg->zeroed++;
	}
	return 0;
}

/*
 * The record's data, in @buf: a raw page as it is, a zstd frame as the
 * page it decompresses to (in the session's decompression context).
 */
static const void *kmig_load_data(struct kmig_session *s,
				  const struct kmig_rec *r,
				  const void __user *src, void *buf)
{
	if (r->kind != KMIG_REC_PAGE && r->kind != KMIG_REC_ZSTD)
		return NULL;
	if (copy_from_user(buf, src, r->len))
		return ERR_PTR(-EFAULT);
	if (r->kind == KMIG_REC_PAGE)
		return buf;
	/*
	 * One context per session, made at its first frame: loads run
	 * under s->lock, so channel threads calling KMIG_LOAD at once take
	 * turns and never share it.
	 */
	if (!s->zdec) {
		struct kmig_zdec *z = kmig_zdec_create();

		if (IS_ERR(z))
			return z;
		s->zdec = z;
	}
	return kmig_zdec_page(s->zdec, buf, r->len);
}

int kmig_load(struct kmig_session *s, struct kmig_load *arg)
{
	const void __user *udata = u64_to_user_ptr(arg->data_uptr);
	struct mm_struct *mm = s->vm->kvm->mm;
	struct kmig_rec *recs;
	u64 data_off = 0;
	void *page;
	u32 i;
	int ret;

	lockdep_assert_held(&s->lock);

	if (arg->nr_recs > KMIG_LOAD_MAX_RECS)
		return -EINVAL;
	ret = kmig_load_slots(s);
	if (ret)
		return ret;

	recs = kvmalloc_array(arg->nr_recs, sizeof(*recs), GFP_KERNEL);
	page = kmalloc(KMIG_PAGE_SIZE, GFP_KERNEL);
	if (!recs || !page) {
		ret = -ENOMEM;
		goto out;
	}
	if (copy_from_user(recs, u64_to_user_ptr(arg->recs_uptr),
			   arg->nr_recs * sizeof(*recs))) {
		ret = -EFAULT;
		goto out;
	}
	if (!mmget_not_zero(mm)) {
		ret = -ESRCH;
		goto out;
	}

	arg->done = 0;
	arg->pages = 0;
	arg->zeroed = 0;
	for (i = 0; i < arg->nr_recs; i++) {
		const struct kmig_rec *r = &recs[i];
		u64 off = data_off;
		struct kmig_slot *k;
		const void *data;

		ret = kmig_load_check(s->loaded, r, &data_off, arg->data_len,
				      &k);
		if (ret)
			break;
		data = kmig_load_data(s, r, udata + off, page);
		if (IS_ERR(data)) {
			ret = PTR_ERR(data);
			break;
		}
		ret = kmig_load_rec(arg, mm, k, r, data);
		if (ret)
			break;
		arg->done++;
	}
	mmput(mm);
	s->stats.loaded_pages += arg->pages;
out:
	kfree(page);
	kvfree(recs);
	return ret;
}
