// SPDX-License-Identifier: GPL-2.0
/*
 * The session's own dirty bitmaps, one per memslot: started fully set (the
 * bulk round), OR-ed with what harvest.c takes from KVM, and cleared as
 * userspace (later: the scanners) takes pages. Memslot changes are followed
 * by generation.
 */
#include <linux/bitmap.h>
#include <linux/ktime.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "kmig.h"

void kmig_slots_free(struct kmig_slots *slots)
{
	u32 i;

	if (!slots)
		return;
	for (i = 0; i < slots->nr; i++)
		kvfree(slots->slot[i].bitmap);
	kvfree(slots);
}

struct kmig_slot *kmig_slots_find(struct kmig_slots *slots, u16 as_id, u16 id)
{
	u32 i;

	for (i = 0; i < slots->nr; i++)
		if (slots->slot[i].as_id == as_id && slots->slot[i].id == id)
			return &slots->slot[i];
	return NULL;
}

static bool kmig_slot_same(struct kmig_slot *a, struct kmig_slot *b)
{
	return a->base_gfn == b->base_gfn && a->npages == b->npages &&
	       a->hva == b->hva && a->flags == b->flags;
}

static bool kmig_slot_untracked(struct kmig_slot *k)
{
	return !(k->flags & (KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_READONLY));
}

static int kmig_slot_alloc_bitmap(struct kmig_slot *k)
{
	k->bitmap = kvmalloc_array(BITS_TO_LONGS(k->npages),
				   sizeof(unsigned long), GFP_KERNEL_ACCOUNT);
	if (!k->bitmap)
		return -ENOMEM;
	/* Every page of a slot we have not seen before must be sent. */
	bitmap_fill(k->bitmap, k->npages);
	k->dirty = k->npages;
	return 0;
}

/*
 * Gives @slots bitmaps: those of @old for memslots that did not change,
 * fully set ones for new or changed memslots. Reused bitmaps are moved out
 * of @old only once nothing can fail any more, so on error @old is intact
 * and kmig_slots_free(@old) afterwards frees only what was dropped.
 */
static int kmig_slots_adopt(struct kmig_slots *slots, struct kmig_slots *old)
{
	struct kmig_slot *k, *o;
	u32 i;
	int ret;

	for (i = 0; i < slots->nr; i++) {
		k = &slots->slot[i];
		if (kmig_slot_untracked(k)) {
			ret = -ENODATA;
			goto err;
		}
		o = old ? kmig_slots_find(old, k->as_id, k->id) : NULL;
		if (o && kmig_slot_same(k, o))
			continue;
		ret = kmig_slot_alloc_bitmap(k);
		if (ret)
			goto err;
	}
	for (i = 0; i < slots->nr; i++) {
		k = &slots->slot[i];
		if (k->bitmap)
			continue;
		o = kmig_slots_find(old, k->as_id, k->id);
		k->bitmap = o->bitmap;
		k->dirty = o->dirty;
		o->bitmap = NULL;
	}
	return 0;

err:
	for (i = 0; i < slots->nr; i++) {
		kvfree(slots->slot[i].bitmap);
		slots->slot[i].bitmap = NULL;
	}
	return ret;
}

static u64 kmig_slots_dirty(struct kmig_slots *slots)
{
	u64 sum = 0;
	u32 i;

	for (i = 0; i < slots->nr; i++)
		sum += slots->slot[i].dirty;
	return sum;
}

static u64 kmig_slots_pages(struct kmig_slots *slots)
{
	u64 sum = 0;
	u32 i;

	for (i = 0; i < slots->nr; i++)
		sum += slots->slot[i].npages;
	return sum;
}

int kmig_dirty_start(struct kmig_session *s, struct kmig_dirty_start *arg)
{
	struct kmig_slots *slots;
	int ret;

	if (!kmig_vm_alive(s->vm))
		return -ESRCH;

	slots = kmig_vm_snapshot_slots(s->vm);
	if (IS_ERR(slots))
		return PTR_ERR(slots);
	ret = kmig_slots_adopt(slots, NULL);
	if (ret) {
		kmig_slots_free(slots);
		return ret;
	}

	kmig_dirty_stop(s);
	s->slots = slots;
	WRITE_ONCE(s->cancelled, false);
	if (s->send)
		kmig_send_abort(s->send, false);
	s->dirty_mode = kmig_vm_dirty_mode(s->vm);
	s->dirty_pages = kmig_slots_dirty(slots);
	memset(&s->stats, 0, sizeof(s->stats));

	arg->nr_pages = kmig_slots_pages(slots);
	arg->nr_memslots = slots->nr;
	return 0;
}

/* Follows memslot edits the VMM made since the last snapshot. */
static int kmig_dirty_follow_slots(struct kmig_session *s, bool *changed)
{
	struct kmig_slots *slots;
	int ret;

	*changed = false;
	if (kmig_vm_generation(s->vm) == s->slots->generation)
		return 0;

	slots = kmig_vm_snapshot_slots(s->vm);
	if (IS_ERR(slots))
		return PTR_ERR(slots);
	ret = kmig_slots_adopt(slots, s->slots);
	if (ret) {
		kmig_slots_free(slots);
		return ret;
	}
	kmig_slots_free(s->slots);
	s->slots = slots;
	s->dirty_pages = kmig_slots_dirty(slots);
	*changed = true;
	return 0;
}

int kmig_dirty_sync(struct kmig_session *s, struct kmig_dirty_sync *arg)
{
	u64 new_pages = 0, found, t0;
	bool changed = false, now;
	int ret, tries = 0;

	if (!s->slots)
		return -EINVAL;

	t0 = ktime_get_ns();
	do {
		ret = kmig_dirty_follow_slots(s, &now);
		if (ret)
			return ret;
		changed |= now;

		ret = kmig_harvest(s->vm, s->slots, s->dirty_mode, &found);
		/* Pages found before an error stay set: account for them. */
		s->dirty_pages += found;
		new_pages += found;
		/* -EAGAIN: a memslot changed under the harvest; follow it. */
	} while (ret == -EAGAIN && ++tries < 4);

	s->stats.harvested += new_pages;
	if (ret)
		return ret;

	s->stats.syncs++;
	arg->harvest_ns = ktime_get_ns() - t0;
	s->stats.harvest_ns += arg->harvest_ns;
	arg->dirty_pages = s->dirty_pages;
	arg->new_pages = new_pages;
	arg->generation = s->slots->generation;
	arg->out_flags = changed ? KMIG_SYNC_MEMSLOTS_CHANGED : 0;
	return 0;
}

int kmig_dirty_get_bitmap(struct kmig_session *s, struct kmig_dirty_bitmap *arg)
{
	void __user *ubuf = u64_to_user_ptr(arg->bitmap_uptr);
	unsigned long *words;
	struct kmig_slot *k;
	size_t first, nwords, i;
	u64 dirty = 0;

	if (!s->slots)
		return -EINVAL;
	k = kmig_slots_find(s->slots, arg->as_id, arg->slot_id);
	if (!k)
		return -ENOENT;
	if (arg->first_page % BITS_PER_LONG || !arg->nr_pages ||
	    arg->first_page >= k->npages ||
	    arg->nr_pages > k->npages - arg->first_page)
		return -EINVAL;
	if (arg->nr_pages % BITS_PER_LONG &&
	    arg->first_page + arg->nr_pages != k->npages)
		return -EINVAL;

	/* Bits past npages are never set, so whole words can be copied. */
	first = arg->first_page / BITS_PER_LONG;
	nwords = BITS_TO_LONGS(arg->nr_pages);
	words = k->bitmap + first;
	if (copy_to_user(ubuf, words, nwords * sizeof(unsigned long)))
		return -EFAULT;

	for (i = 0; i < nwords; i++)
		dirty += hweight_long(words[i]);
	if (arg->flags & KMIG_BITMAP_CLEAR) {
		memset(words, 0, nwords * sizeof(unsigned long));
		k->dirty -= dirty;
		s->dirty_pages -= dirty;
	}
	arg->dirty = dirty;
	return 0;
}

void kmig_dirty_stop(struct kmig_session *s)
{
	kmig_slots_free(s->slots);
	s->slots = NULL;
	s->dirty_pages = 0;
}
