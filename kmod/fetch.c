// SPDX-License-Identifier: GPL-2.0
/*
 * KMIG_FETCH: postcopy's urgent read of a few pages on the source. The
 * destination faulted on them; its kmigctl asked ours, which reads them
 * here at once, beside a KMIG_SEND_ROUND that may be running on other
 * threads (KMIG_IOC_IN_ROUND: the round let go of s->lock while its
 * workers run, and takes it back only to sum up, so a round that ends
 * meanwhile waits for at most one fetch of KMIG_FETCH_MAX_PAGES pages).
 *
 * The pages are read in the caller's own thread, on the VMM's mm (held
 * with mmget() meanwhile), by kmig_pin_pages_remote(), a run of
 * neighbours at a time: the same kinds as the round's kmig_read_page(),
 * told apart the same way, faulting nothing in. They land in a kernel
 * bounce buffer, copied out once the mm's lock is let go. The first
 * version read on the VM's worker (kmig_vm_call()), which adopted the mm
 * as a round's workers do: that hop is a wake-up and a context switch
 * for every fetch (fetch_test: 1 page in 52 us with it, 23 us without),
 * and far more on a loaded host, where the worker waits for a CPU like
 * every other thread (bench-postcopy's breakdown).
 *
 * What s->lock guarantees while a fetch holds it: s->slots and its bitmaps
 * stay (only DIRTY_SYNC, DIRTY_START and DIRTY_STOP swap them, under the
 * lock, and none runs during a round but the ring-mode sync, which only
 * sets bits and also holds the lock). The round's workers may be
 * clearing bits meanwhile (find_next_bit, then clear_bit): the fetch
 * clears its pages' bits with test_and_clear_bit after reading them, so
 * each bit is taken once; a page a worker found first is sent by the
 * round too, which is harmless (the same data, or newer data that KVM
 * logged and the next sync brings back), and a page a stopping worker
 * puts back is only sent once more. No sync runs between the read and
 * the clearing, so a guest write after the read stays in KVM's log for
 * the next sync: nothing is lost.
 */
#include <linux/bitmap.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "kmig.h"

/* The largest record stride accepted, as KMIG_LOAD's. */
#define KMIG_FETCH_REC_SIZE_MAX	256
/* Pages pinned at once, read between two chances to reschedule. */
#define KMIG_FETCH_BATCH	16

/* One page asked: where the session's snapshot has it. */
struct kmig_fetch_page {
	struct kmig_slot *k;
	u64 pgoff;		/* page within @k */
};

struct kmig_fetch_ctx {
	struct kmig_session *s;
	u32 nr;
	struct kmig_fetch_page *pages;
	struct kmig_rec *recs;		/* nr, in the order asked */
	void *data;			/* nr pages of room */
	u64 used;			/* bytes of @data filled */
};

/*
 * The user memslot of @slots holding [gfn, gfn + npages) of @as_id, or
 * NULL. slot[0..nr) is sorted by (as_id, base_gfn) and does not overlap.
 */
static struct kmig_slot *kmig_fetch_slot(struct kmig_slots *slots, u16 as_id,
					 u64 gfn, u32 npages)
{
	u32 lo = 0, hi = slots->nr, mid;
	struct kmig_slot *k;

	/* The first slot past (as_id, gfn); the one before may hold it. */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		k = &slots->slot[mid];
		if (k->as_id < as_id ||
		    (k->as_id == as_id && k->base_gfn <= gfn))
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	k = &slots->slot[lo - 1];
	if (k->as_id != as_id || gfn - k->base_gfn >= k->npages ||
	    npages > k->npages - (gfn - k->base_gfn))
		return NULL;
	return k;
}

/* Copies the ranges in; checks their shape and counts their pages. */
static int kmig_fetch_copy_ranges(struct kmig_dirty_range *r,
				  const struct kmig_fetch *arg, u32 stride,
				  u32 *pages)
{
	const void __user *src = u64_to_user_ptr(arg->ranges_uptr);
	u64 total = 0;
	u32 i;
	int ret;

	if (stride == sizeof(*r)) {
		if (copy_from_user(r, src, (size_t)arg->nr_ranges * sizeof(*r)))
			return -EFAULT;
	} else {
		for (i = 0; i < arg->nr_ranges; i++) {
			ret = copy_struct_from_user(&r[i], sizeof(*r),
						    src + (size_t)i * stride,
						    stride);
			if (ret)
				return ret;
		}
	}
	for (i = 0; i < arg->nr_ranges; i++) {
		if (r[i].gpa & (KMIG_PAGE_SIZE - 1) || !r[i].npages ||
		    r[i].__reserved)
			return -EINVAL;
		total += r[i].npages;
	}
	if (total > KMIG_FETCH_MAX_PAGES)
		return -EINVAL;
	*pages = total;
	return 0;
}

/* Finds every page asked in the session's snapshot, in the order asked. */
static int kmig_fetch_resolve(struct kmig_fetch_ctx *c,
			      const struct kmig_dirty_range *r, u32 nr_ranges)
{
	struct kmig_fetch_page *p = c->pages;
	struct kmig_slot *k;
	u64 gfn, j;
	u32 i;

	for (i = 0; i < nr_ranges; i++) {
		gfn = r[i].gpa >> PAGE_SHIFT;
		k = kmig_fetch_slot(c->s->slots, r[i].as_id, gfn, r[i].npages);
		if (!k)
			return -ENOENT;
		for (j = 0; j < r[i].npages; j++, p++) {
			p->k = k;
			p->pgoff = gfn - k->base_gfn + j;
		}
	}
	return 0;
}

/* The record of page @i, of @kind; its data, if any, is at c->used. */
static void kmig_fetch_record(struct kmig_fetch_ctx *c, u32 i, int kind)
{
	struct kmig_fetch_page *p = &c->pages[i];
	struct kmig_rec *rec = &c->recs[i];

	memset(rec, 0, sizeof(*rec));
	rec->gpa = (p->k->base_gfn + p->pgoff) << PAGE_SHIFT;
	rec->npages = 1;
	rec->kind = kind;
	rec->as_id = p->k->as_id;
	if (kind == KMIG_REC_PAGE) {
		rec->len = KMIG_PAGE_SIZE;
		c->used += KMIG_PAGE_SIZE;
	}
}

/* How many pages from @i on are neighbours in one memslot, at most @max. */
static u32 kmig_fetch_run_len(const struct kmig_fetch_ctx *c, u32 i, u32 max)
{
	u32 n = 1;

	while (n < max && i + n < c->nr &&
	       c->pages[i + n].k == c->pages[i].k &&
	       c->pages[i + n].pgoff == c->pages[i].pgoff + n)
		n++;
	return n;
}

/* Reads every page into the bounce from @mm, a run of pins at a time. */
static int kmig_fetch_read(struct kmig_fetch_ctx *c, struct mm_struct *mm)
{
	struct page *pin[KMIG_FETCH_BATCH];
	struct kmig_fetch_page *p;
	long got, j;
	u32 i = 0;
	int kind;

	while (i < c->nr) {
		if (fatal_signal_pending(current))
			return -EINTR;
		if (READ_ONCE(c->s->cancelled))
			return -ECANCELED;
		p = &c->pages[i];
		if (mmap_read_lock_killable(mm))
			return -EINTR;
		got = kmig_pin_pages_remote(mm, p->k->hva +
					    (p->pgoff << PAGE_SHIFT),
					    kmig_fetch_run_len(c, i,
							       KMIG_FETCH_BATCH),
					    pin);
		mmap_read_unlock(mm);
		if (got < 0)
			return got;
		for (j = 0; j < got; j++) {
			kind = kmig_pinned_page_kind(pin[j], c->data + c->used);
			kmig_fetch_record(c, i + j, kind);
		}
		i += got;
		cond_resched();
	}
	return 0;
}

/* The records out at the caller's stride; a longer one's tail zeroed. */
static int kmig_fetch_put_recs(const struct kmig_fetch_ctx *c,
			       void __user *dst, u32 stride)
{
	u32 i;

	if (stride == sizeof(*c->recs))
		return copy_to_user(dst, c->recs,
				    (size_t)c->nr * sizeof(*c->recs)) ?
		       -EFAULT : 0;
	for (i = 0; i < c->nr; i++) {
		void __user *d = dst + (size_t)i * stride;

		if (copy_to_user(d, &c->recs[i], sizeof(c->recs[i])) ||
		    clear_user(d + sizeof(c->recs[i]),
			       stride - sizeof(c->recs[i])))
			return -EFAULT;
	}
	return 0;
}

/* Takes the pages read from the bitmaps: each bit once, atomically. */
static u64 kmig_fetch_take(struct kmig_fetch_ctx *c)
{
	u64 taken = 0;
	u32 i;

	for (i = 0; i < c->nr; i++) {
		struct kmig_fetch_page *p = &c->pages[i];

		if (test_and_clear_bit(p->pgoff, p->k->bitmap)) {
			/*
			 * Never below the bits still set: workers clear bits
			 * without counting (the round recounts at its end).
			 */
			p->k->dirty--;
			taken++;
		}
	}
	c->s->dirty_pages -= taken;
	return taken;
}

int kmig_fetch(struct kmig_session *s, struct kmig_fetch *arg)
{
	u32 range_stride = arg->range_size ?: sizeof(struct kmig_dirty_range);
	u32 rec_stride = arg->rec_size ?: KMIG_REC_SIZE_V1;
	struct kmig_fetch_ctx c = { .s = s };
	struct mm_struct *mm = s->vm->kvm->mm;
	struct kmig_dirty_range *r;
	int ret;

	lockdep_assert_held(&s->lock);

	if (arg->__reserved2)
		return -EOPNOTSUPP;
	if (!s->slots)
		return -EINVAL;
	if (!arg->nr_ranges || arg->nr_ranges > KMIG_FETCH_MAX_PAGES ||
	    !kmig_entry_size_ok(range_stride, sizeof(*r), PAGE_SIZE) ||
	    !kmig_entry_size_ok(rec_stride, KMIG_REC_SIZE_V1,
				KMIG_FETCH_REC_SIZE_MAX))
		return -EINVAL;

	r = kmalloc_array(arg->nr_ranges, sizeof(*r), GFP_KERNEL_ACCOUNT);
	if (!r)
		return -ENOMEM;
	ret = kmig_fetch_copy_ranges(r, arg, range_stride, &c.nr);
	if (ret)
		goto out_ranges;
	if (arg->data_len < (u64)c.nr * KMIG_PAGE_SIZE) {
		ret = -ENOSPC;
		goto out_ranges;
	}

	/* The caller's memory cgroup pays for the bounce, as for rings. */
	c.pages = kmalloc_array(c.nr, sizeof(*c.pages), GFP_KERNEL_ACCOUNT);
	c.recs = kmalloc_array(c.nr, sizeof(*c.recs), GFP_KERNEL_ACCOUNT);
	c.data = kvmalloc((size_t)c.nr * KMIG_PAGE_SIZE, GFP_KERNEL_ACCOUNT);
	if (!c.pages || !c.recs || !c.data) {
		ret = -ENOMEM;
		goto out;
	}
	ret = kmig_fetch_resolve(&c, r, arg->nr_ranges);
	if (ret)
		goto out;

	/* The VMM exited: its address space is gone, as for the worker. */
	if (!mmget_not_zero(mm)) {
		ret = -ESRCH;
		goto out;
	}
	ret = kmig_fetch_read(&c, mm);
	mmput(mm);
	if (ret)
		goto out;
	ret = kmig_fetch_put_recs(&c, u64_to_user_ptr(arg->recs_uptr),
				  rec_stride);
	if (ret)
		goto out;
	if (copy_to_user(u64_to_user_ptr(arg->data_uptr), c.data, c.used)) {
		ret = -EFAULT;
		goto out;
	}

	/* Delivered: only now are the pages no longer the rounds' to send. */
	arg->taken = kmig_fetch_take(&c);
	arg->nr_recs = c.nr;
	arg->data_used = c.used;
	s->stats.fetched_pages += c.nr;
	s->stats.fetched_bytes += c.used;
out:
	kvfree(c.data);
	kfree(c.recs);
	kfree(c.pages);
out_ranges:
	kfree(r);
	return ret;
}
