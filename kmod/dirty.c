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
	kmig_obj_dec(KMIG_OBJ_SLOT_SETS);
}

/* Memslot (as_id, id) among the first @nr of @slots, or NULL. */
static struct kmig_slot *kmig_slots_find_in(struct kmig_slots *slots, u32 nr,
					    u16 as_id, u16 id)
{
	u32 i;

	for (i = 0; i < nr; i++)
		if (slots->slot[i].as_id == as_id && slots->slot[i].id == id)
			return &slots->slot[i];
	return NULL;
}

struct kmig_slot *kmig_slots_find(struct kmig_slots *slots, u16 as_id, u16 id)
{
	return kmig_slots_find_in(slots, slots->nr, as_id, id);
}

/* Any memslot, user or internal, by (as_id, id); NULL if none. */
static struct kmig_slot *kmig_slots_find_all(struct kmig_slots *slots,
					     u16 as_id, u16 id)
{
	return kmig_slots_find_in(slots, slots->nr_all, as_id, id);
}

/* The same KVM memslot object, unchanged. */
static bool kmig_slot_same(const struct kmig_slot *a, const struct kmig_slot *b)
{
	return a->kslot == b->kslot && a->base_gfn == b->base_gfn &&
	       a->npages == b->npages && a->hva == b->hva &&
	       a->flags == b->flags;
}

/*
 * The fewest memslot edits that turn @o into @n (either may be NULL), as
 * KVM 6.1 makes them: each swaps the active set once (create, flags) or
 * twice (delete, move: an invalid copy first).
 */
static u32 kmig_slot_edits(const struct kmig_slot *o, const struct kmig_slot *n)
{
	if (!o)
		return n ? 1 : 0;
	if (!n)
		return 2;
	if (kmig_slot_same(o, n))
		return 0;
	if (o->hva != n->hva || o->npages != n->npages)
		return 3;	/* deleted and created again */
	if (o->base_gfn != n->base_gfn)
		return 2;	/* moved */
	if (o->flags != n->flags)
		return 1;
	return 2;		/* changed and changed back */
}

/*
 * Whether every edit of address space @as between @old and @slots shows
 * in the snapshots. A memslot edited and then edited back can reuse the
 * freed object's address and look the same, yet KVM gave it a fresh dirty
 * bitmap (logging off and on again: writes in between were never logged).
 * The space's generation counts the set swaps that really happened: if
 * the visible changes need fewer, some edit is hidden.
 */
static bool kmig_space_explained(struct kmig_slots *slots,
				 struct kmig_slots *old, u16 as)
{
	u64 swaps = (slots->as_gen[as] - old->as_gen[as]) /
		    KVM_ADDRESS_SPACE_NUM;
	u64 seen = 0;
	u32 i;

	for (i = 0; i < slots->nr_all; i++) {
		struct kmig_slot *k = &slots->slot[i];

		if (k->as_id == as)
			seen += kmig_slot_edits(kmig_slots_find_all(old, as,
								    k->id), k);
	}
	for (i = 0; i < old->nr_all; i++) {
		struct kmig_slot *o = &old->slot[i];

		if (o->as_id == as && !kmig_slots_find_all(slots, as, o->id))
			seen += kmig_slot_edits(o, NULL);
	}
	return swaps <= seen;
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
	bool explained[KVM_ADDRESS_SPACE_NUM];
	struct kmig_slot *k, *o;
	u32 i;
	int ret;

	for (i = 0; i < KVM_ADDRESS_SPACE_NUM; i++)
		explained[i] = old && kmig_space_explained(slots, old, i);
	for (i = 0; i < slots->nr; i++) {
		k = &slots->slot[i];
		if (kmig_slot_untracked(k)) {
			ret = -ENODATA;
			goto err;
		}
		o = explained[k->as_id] ?
		    kmig_slots_find(old, k->as_id, k->id) : NULL;
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
		/* Reached only for memslots kept above. */
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
	/* Every page is dirty now: earlier marks are moot. */
	kmig_vm_track(s->vm, true);
	WRITE_ONCE(s->cancelled, false);
	WRITE_ONCE(s->postcopy_requested, false);
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

/*
 * Sets the pages the VMM marked (KMIG_DIRTY_MARK) since the last sync.
 * Atomic, as kmig_mark(): this may run beside a round's workers.
 */
static u64 kmig_slot_set_range(struct kmig_slot *k, u64 first, u64 end)
{
	u64 set = 0, p;

	for (p = first; p < end; p++) {
		set += !test_and_set_bit(p, k->bitmap);
		if (!(p % 4096))
			cond_resched();
	}
	k->dirty += set;
	return set;
}

static u64 kmig_dirty_apply_marks(struct kmig_session *s)
{
	struct kmig_dirty_range *r;
	u64 found = 0, first, end;
	bool overflow;
	u32 nr, i, j;

	nr = kmig_vm_take_marks(s->vm, &r, &overflow);
	for (j = 0; j < s->slots->nr; j++) {
		struct kmig_slot *k = &s->slots->slot[j];

		if (overflow) {
			found += kmig_slot_set_range(k, 0, k->npages);
			continue;
		}
		for (i = 0; i < nr; i++) {
			if (r[i].as_id != k->as_id)
				continue;
			first = max(r[i].gpa >> PAGE_SHIFT, k->base_gfn);
			end = min((r[i].gpa >> PAGE_SHIFT) + r[i].npages,
				  k->base_gfn + k->npages);
			if (first < end)
				found += kmig_slot_set_range(k,
							     first - k->base_gfn,
							     end - k->base_gfn);
		}
	}
	return found;
}

/*
 * A sync while KMIG_SEND_ROUND waits for its workers (s->round_active; the
 * round let go of s->lock): in ring mode only, for a vCPU that exited with
 * KVM_EXIT_DIRTY_RING_FULL and cannot run until its ring is emptied. It
 * only sets bits, atomically, in the bitmaps the workers take from (the
 * counts are redone when the round ends); memslot edits are followed by
 * the next sync after the round.
 */
static int kmig_dirty_sync_ring(struct kmig_session *s,
				struct kmig_dirty_sync *arg)
{
	u64 found = 0, t0 = ktime_get_ns();
	int ret;

	if (s->dirty_mode != KMIG_DIRTY_MODE_RING)
		return -EBUSY;
	ret = kmig_harvest(s->vm, s->slots, s->dirty_mode, &found);
	found += kmig_dirty_apply_marks(s);
	s->dirty_pages += found;
	s->stats.harvested += found;
	if (ret)
		return ret;
	s->stats.syncs++;
	arg->harvest_ns = ktime_get_ns() - t0;
	arg->dirty_pages = s->dirty_pages;
	arg->new_pages = found;
	arg->generation = s->slots->generation;
	arg->out_flags = 0;
	return 0;
}

#define KMIG_SYNC_TRIES	8

int kmig_dirty_sync(struct kmig_session *s, struct kmig_dirty_sync *arg)
{
	u64 new_pages = 0, found, t0;
	bool changed = false, now;
	int ret, tries = 0;

	if (!s->slots)
		return -EINVAL;
	if (READ_ONCE(s->round_active))
		return kmig_dirty_sync_ring(s, arg);

	t0 = ktime_get_ns();
	do {
		ret = kmig_dirty_follow_slots(s, &now);
		if (ret)
			return ret;
		changed |= now;

		ret = kmig_harvest(s->vm, s->slots, s->dirty_mode, &found);
		/* The VMM's own writes, after the slots were followed. */
		found += kmig_dirty_apply_marks(s);
		/* Pages found before an error stay set: account for them. */
		s->dirty_pages += found;
		new_pages += found;
		/*
		 * An edit during the harvest: a memslot created meanwhile was
		 * not harvested (its ring entries were dropped). Following it
		 * makes it all dirty; harvest once more after that.
		 */
		if (!ret && kmig_vm_generation(s->vm) != s->slots->generation)
			ret = -EAGAIN;
		/* -EAGAIN: a memslot changed under the harvest; follow it. */
	} while (ret == -EAGAIN && ++tries < KMIG_SYNC_TRIES);

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
	if (s->slots && s->vm)
		kmig_vm_track(s->vm, false);
	kmig_slots_free(s->slots);
	s->slots = NULL;
	s->dirty_pages = 0;
}
