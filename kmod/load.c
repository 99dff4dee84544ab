// SPDX-License-Identifier: GPL-2.0
/*
 * Destination side: records received by userspace are written into the
 * attached VM's RAM from the kernel. The stream is hostile until checked:
 * every record must name whole pages inside one memslot, and data lengths
 * must add up, before anything is written. A zstd frame (one page, or a
 * run of up to KMIG_ZSTD_RUN_MAX) is decompressed into a kernel buffer and
 * written only once it proved to be exactly its pages, so a bad frame
 * never leaves a half-written page. A raw
 * page is copied straight from the caller's buffer into the pinned guest
 * page (Documentation/design.md, "Copies per page").
 *
 * Guest addresses are translated through KVM's memslots as they are at
 * the write, under kvm->srcu as KVM's own kvm_write_guest() does: a VMM
 * that deletes or moves a memslot between two loads, and reuses the old
 * host address for something else, never gets a page written there.
 *
 * Loads run without session->lock, one per data channel at once. What
 * they share: the "loaded" snapshot, which only a load holding load_sem
 * for writing swaps (the others hold it for reading); its bitmaps, set and
 * cleared with atomic bit ops; the session's page count (atomic); the
 * decompression contexts (a pool, one per load); and a page: two loads
 * writing the same page take turns on its load_page_lock[], so a page
 * holds what one of them wrote and its "written" bit says so. Everything
 * else (records, pins, the frame buffer) is the call's own.
 */
#include <linux/bitmap.h>
#include <linux/hash.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "kmig.h"

#define KMIG_LOAD_MAX_RECS	4096
/* The largest record stride accepted (room for later record versions). */
#define KMIG_REC_SIZE_MAX	256
/* Pages written between two chances to reschedule. */
#define KMIG_LOAD_BATCH		64
/* Pages pinned at once, under one mmap_read_lock: a 2 MiB run. */
#define KMIG_LOAD_RUN		512

/*
 * The "written by a load" bitmaps start empty: fresh RAM reads zero. A
 * memslot that changed since the last snapshot may already hold loaded
 * pages (it moved) or anything at all: all its pages count as written,
 * so zero and hole records clear them.
 */
/*
 * Whether @k describes the memory of KVM memslot @kslot at [hva, gfn,
 * npages): the same object (a freed one's address may be reused: the
 * fields must match too). With the same host range at the same guest
 * range, what a load wrote is there.
 */
static bool kmig_load_same(const struct kmig_slot *k, const void *kslot,
			   u64 hva, u64 gfn, u64 npages)
{
	return k->kslot == kslot && k->hva == hva && k->base_gfn == gfn &&
	       k->npages == npages;
}

/* The same KVM memslot as in the last snapshot, with its bitmap. */
static struct kmig_slot *kmig_load_kept(struct kmig_slots *old,
					const struct kmig_slot *k)
{
	struct kmig_slot *o = old ? kmig_slots_find(old, k->as_id, k->id) :
				    NULL;

	return o && o->bitmap && kmig_load_same(o, k->kslot, k->hva,
						k->base_gfn, k->npages) ?
	       o : NULL;
}

/* With s->load_sem held for writing: no load uses @old. */
static int kmig_load_refresh(struct kmig_session *s, struct kmig_vm *vm)
{
	struct kmig_slots *slots, *old = s->loaded;
	struct kmig_slot *k, *o;
	u32 i;

	lockdep_assert_held_write(&s->load_sem);
	slots = kmig_vm_snapshot_slots(vm);
	if (IS_ERR(slots))
		return PTR_ERR(slots);
	/* New bitmaps first: on failure @old is untouched. */
	for (i = 0; i < slots->nr; i++) {
		k = &slots->slot[i];
		if (kmig_load_kept(old, k))
			continue;
		k->bitmap = kvcalloc(BITS_TO_LONGS(k->npages),
				     sizeof(unsigned long), GFP_KERNEL_ACCOUNT);
		if (!k->bitmap) {
			kmig_slots_free(slots);
			return -ENOMEM;
		}
		if (old)
			bitmap_fill(k->bitmap, k->npages);
	}
	for (i = 0; i < slots->nr; i++) {
		k = &slots->slot[i];
		o = k->bitmap ? NULL : kmig_load_kept(old, k);
		if (o) {
			k->bitmap = o->bitmap;
			o->bitmap = NULL;
		}
	}
	kmig_slots_free(old);
	s->loaded = slots;
	return 0;
}

/* The record's own shape and data length; the memslot comes later. */
static int kmig_load_check(const struct kmig_rec *r, u64 *data_off,
			   u64 data_len)
{
	if (r->gpa & (KMIG_PAGE_SIZE - 1) || !r->npages ||
	    r->as_id >= KVM_ADDRESS_SPACE_NUM)
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
		/*
		 * A frame of a whole page or more would be pointless (and
		 * does not fit a ring slot).
		 */
		if (r->npages > KMIG_ZSTD_RUN_MAX || !r->len ||
		    r->len >= KMIG_PAGE_SIZE ||
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
	return 0;
}

struct kmig_load_ctx {
	struct kmig_session *s;
	struct kmig_vm *vm;
	struct kmig_load *arg;
	struct mm_struct *mm;
	const struct kmig_rec *recs;
	const u8 __user *udata;
	u64 data_off;			/* of the next record's data */
	struct page **pin;		/* KMIG_LOAD_RUN */
	u8 *frame;			/* a zstd frame, copied in */
	struct kmig_zdec *zdec;		/* taken at the first ZSTD record */
	bool sem_held;			/* s->load_sem, for reading */
};

static bool kmig_rec_has_data(const struct kmig_rec *r)
{
	return r->kind == KMIG_REC_PAGE || r->kind == KMIG_REC_ZSTD;
}

/*
 * The memslot the record lies in, as KVM has it now (kvm->srcu held), and
 * the session's bitmap for it; -ESTALE if the session's snapshot predates
 * the memslot. The snapshot cannot be refreshed here: it takes
 * kvm->slots_lock, under which KVM waits for SRCU readers (us).
 */
static int kmig_load_slot(struct kmig_load_ctx *c, const struct kmig_rec *r,
			  struct kvm_memory_slot **msp, struct kmig_slot **kp)
{
	struct kvm *kvm = c->vm->kvm;
	u64 gfn = r->gpa >> PAGE_SHIFT;
	struct kvm_memory_slot *ms;
	struct kmig_slot *k;

	ms = __gfn_to_memslot(__kvm_memslots(kvm, r->as_id), gfn);
	if (!ms || ms->id >= KVM_USER_MEM_SLOTS ||
	    ms->flags & KVM_MEMSLOT_INVALID)
		return -ENOENT;
	if (r->npages > ms->npages - (gfn - ms->base_gfn))
		return -EINVAL;
	k = c->s->loaded ? kmig_slots_find(c->s->loaded, r->as_id, ms->id) :
			   NULL;
	if (!k || !kmig_load_same(k, ms, ms->userspace_addr, ms->base_gfn,
				  ms->npages))
		return -ESTALE;
	*msp = ms;
	*kp = k;
	return 0;
}

/*
 * A new snapshot, load_sem taken for writing (waiting for the loads that
 * use the old one) and then for reading again. Killable; -EINTR leaves
 * load_sem not held.
 */
static int kmig_load_resnap(struct kmig_load_ctx *c)
{
	struct kmig_session *s = c->s;
	int ret;

	up_read(&s->load_sem);
	c->sem_held = false;
	if (down_write_killable(&s->load_sem))
		return -EINTR;
	ret = kmig_load_refresh(s, c->vm);
	downgrade_write(&s->load_sem);
	c->sem_held = true;
	return ret;
}

/*
 * @r's memslot, found in a current snapshot under kvm->srcu, which the
 * caller holds at *@idx; a stale snapshot is replaced with kvm->srcu let
 * go meanwhile (*@idx is then the new index). Returns 0 or -errno, with
 * kvm->srcu held either way: the caller unlocks at *@idx.
 */
static int kmig_load_enter(struct kmig_load_ctx *c, const struct kmig_rec *r,
			   struct kvm_memory_slot **ms, struct kmig_slot **k,
			   int *idx)
{
	struct kvm *kvm = c->vm->kvm;
	int ret, tries = 0;

	for (;;) {
		ret = kmig_load_slot(c, r, ms, k);
		if (ret != -ESTALE)
			return ret;
		/* The VMM keeps editing: let the caller retry. */
		if (++tries > 2)
			return -EAGAIN;
		srcu_read_unlock(&kvm->srcu, *idx);
		ret = kmig_load_resnap(c);
		*idx = srcu_read_lock(&kvm->srcu);
		if (ret)
			return ret;
	}
}

/*
 * Pins up to @n guest pages from @hva on for writing, one mmap_read_lock
 * for them all. Returns how many (at least 1), or -errno.
 */
static long kmig_load_pin(struct kmig_load_ctx *c, unsigned long hva,
			  unsigned long n)
{
	long got;

	if (mmap_read_lock_killable(c->mm))
		return -EINTR;
	got = pin_user_pages_remote(c->mm, hva, n, FOLL_WRITE, c->pin, NULL,
				    NULL);
	mmap_read_unlock(c->mm);
	if (got <= 0)
		return got ?: -EFAULT;
	kmig_obj_add(KMIG_OBJ_PINS, got);
	return got;
}

/* Drops the pins: the first @dirty pages were written. */
static void kmig_load_unpin(struct kmig_load_ctx *c, long got, long dirty)
{
	/* Dirty: the pages' new content must reach the backing store. */
	unpin_user_pages_dirty_lock(c->pin, dirty, true);
	unpin_user_pages(c->pin + dirty, got - dirty);
	kmig_obj_add(KMIG_OBJ_PINS, -got);
}

static struct mutex *kmig_load_page_lock(struct kmig_load_ctx *c, u64 gfn)
{
	/*
	 * Hashed, not gfn % N: channels load chunks at the same offsets in
	 * step, which would collide on every page.
	 */
	return &c->s->load_page_lock[hash_64(gfn, ilog2(KMIG_LOAD_PAGE_LOCKS))];
}

/*
 * The pages a ZSTD record decompresses to, in the call's context: the
 * frame is copied in, decompressed and proved to be exactly the record's
 * pages before anything reaches guest RAM.
 */
static const void *kmig_load_unzstd(struct kmig_load_ctx *c,
				    const struct kmig_rec *r)
{
	if (copy_from_user(c->frame, c->udata + c->data_off, r->len))
		return ERR_PTR(-EFAULT);
	if (!c->zdec) {
		struct kmig_zdec *z = kmig_zdec_get(&c->s->zdecs);

		if (IS_ERR(z))
			return z;
		c->zdec = z;
	}
	return kmig_zdec_pages(c->zdec, c->frame, r->len, r->npages);
}

/*
 * Writes one data record into its pinned pages @pages (the first one's
 * bit is @bit of @k's bitmap), each under its own page lock and marked
 * written after its data. A raw page goes straight from the caller's
 * buffer; if that faults midway the page holds part of it, counts as
 * written, and the load fails with -EFAULT. Returns 0, or -errno with
 * *@touched saying how many of the record's pages (from the first on)
 * changed.
 */
static int kmig_load_one(struct kmig_load_ctx *c, const struct kmig_rec *r,
			 struct page **pages, struct kmig_slot *k, u64 bit,
			 u32 *touched)
{
	u64 gfn = r->gpa >> PAGE_SHIFT;
	const u8 *src = NULL;
	unsigned long left = 0;
	struct mutex *lock;	/* the page's, of s->load_page_lock[] */
	void *dst;
	u32 p;

	*touched = 0;
	if (r->kind == KMIG_REC_ZSTD) {
		src = kmig_load_unzstd(c, r);
		if (IS_ERR(src))
			return PTR_ERR(src);
	} else if (!access_ok(c->udata + c->data_off, KMIG_PAGE_SIZE)) {
		return -EFAULT;
	}
	for (p = 0; p < r->npages; p++) {
		lock = kmig_load_page_lock(c, gfn + p);
		/* Killable: another load may hold it through a fault. */
		if (mutex_lock_killable(lock))
			return -EINTR;
		dst = kmap_local_page(pages[p]);
		if (src)
			memcpy(dst, src + p * KMIG_PAGE_SIZE, KMIG_PAGE_SIZE);
		else
			/*
			 * Not copy_from_user(), which zeroes what it could not
			 * copy: a fault at the first byte leaves the page as
			 * it was.
			 */
			left = __copy_from_user(dst, c->udata + c->data_off,
						KMIG_PAGE_SIZE);
		kunmap_local(dst);
		/* After the data: a zero record that sees the bit clears it. */
		if (left < KMIG_PAGE_SIZE) {
			set_bit(bit + p, k->bitmap);
			*touched = p + 1;
		}
		mutex_unlock(lock);
	}
	return left ? -EFAULT : 0;
}

/*
 * The data records from @i on that continue the first one's run: checked,
 * in the same address space, at consecutive gpas, KMIG_LOAD_RUN pages at
 * most. At least 1.
 */
static u32 kmig_load_run_len(struct kmig_load_ctx *c, u32 i)
{
	const struct kmig_rec *first = &c->recs[i];
	u64 off = c->data_off, pages = 0;
	u32 n;

	for (n = 0; i + n < c->arg->nr_recs; n++) {
		const struct kmig_rec *r = &c->recs[i + n];

		if (!kmig_rec_has_data(r) || r->as_id != first->as_id ||
		    r->gpa != first->gpa + (pages << PAGE_SHIFT) ||
		    kmig_load_check(r, &off, c->arg->data_len) ||
		    pages + r->npages > KMIG_LOAD_RUN)
			break;
		pages += r->npages;
	}
	return n;
}

/*
 * Writes the run of @n data records from @i on: one pin for all their
 * pages (whole records, as far as their memslot goes), then each record
 * in turn. Returns the records written (they are in arg->done), or -errno
 * at the first that failed.
 */
static long kmig_load_data_run(struct kmig_load_ctx *c, u32 i, u32 n)
{
	const struct kmig_rec *r = &c->recs[i];
	struct kvm *kvm = c->vm->kvm;
	struct kvm_memory_slot *ms;
	struct kmig_slot *k;
	long got, j = 0, dirty = 0;
	u64 first, want, pg;
	int idx, ret;
	u32 touched;

	idx = srcu_read_lock(&kvm->srcu);
	ret = kmig_load_enter(c, r, &ms, &k, &idx);
	if (ret)
		goto out;
	first = (r->gpa >> PAGE_SHIFT) - ms->base_gfn;
	/* kmig_load_slot() saw the first record fit its memslot. */
	for (j = 0, want = 0; j < n; j++) {
		if (want + c->recs[i + j].npages > ms->npages - first)
			break;
		want += c->recs[i + j].npages;
	}
	n = j;
	got = kmig_load_pin(c, __gfn_to_hva_memslot(ms, ms->base_gfn + first),
			    want);
	if (got < 0) {
		ret = got;
		goto out;
	}
	for (j = 0, pg = 0; j < n; j++) {
		r = &c->recs[i + j];
		/*
		 * The pin stopped inside this record: the next call pins from
		 * it, and fails if its first pages cannot be pinned whole.
		 */
		if (pg + r->npages > got) {
			if (!j)
				ret = -EFAULT;
			break;
		}
		ret = kmig_load_one(c, r, c->pin + pg, k, first + pg, &touched);
		if (touched)
			dirty = pg + touched;
		if (ret)
			break;
		pg += r->npages;
		c->data_off += r->len;
		c->arg->pages += r->npages;
		c->arg->done++;
		if ((j + 1) % KMIG_LOAD_BATCH == 0) {
			if (fatal_signal_pending(current)) {
				ret = -EINTR;
				break;
			}
			cond_resched();
		}
	}
	kmig_load_unpin(c, got, dirty);
out:
	srcu_read_unlock(&kvm->srcu, idx);
	return ret ?: j;
}

/*
 * Zero or hole: the pages stay untouched, unless an earlier record wrote
 * them; those are cleared, a run of neighbours per pin.
 */
static int kmig_load_zero_rec(struct kmig_load_ctx *c, const struct kmig_rec *r)
{
	struct kvm_memory_slot *ms;
	struct kmig_slot *k;
	u64 first, end, p, q, j;
	struct mutex *lock;	/* the page's, of s->load_page_lock[] */
	struct kvm *kvm = c->vm->kvm;
	int idx, ret = 0;
	long got;
	void *dst;

	idx = srcu_read_lock(&kvm->srcu);
	ret = kmig_load_enter(c, r, &ms, &k, &idx);
	if (ret)
		goto out;
	first = (r->gpa >> PAGE_SHIFT) - ms->base_gfn;
	end = first + r->npages;
	for (p = find_next_bit(k->bitmap, end, first); p < end;
	     p = find_next_bit(k->bitmap, end, q)) {
		q = find_next_zero_bit(k->bitmap, min(end, p + KMIG_LOAD_RUN),
				       p);
		got = kmig_load_pin(c, __gfn_to_hva_memslot(ms,
							    ms->base_gfn + p),
				    q - p);
		if (got < 0) {
			ret = got;
			break;
		}
		q = p + got;
		for (j = 0; j < got; j++) {
			lock = kmig_load_page_lock(c, ms->base_gfn + p + j);
			/* Killable: another load may hold it through a fault. */
			if (mutex_lock_killable(lock)) {
				ret = -EINTR;
				break;
			}
			/* Cleared before the page: a write after us sets it. */
			if (test_and_clear_bit(p + j, k->bitmap)) {
				dst = kmap_local_page(c->pin[j]);
				clear_page(dst);
				kunmap_local(dst);
				c->arg->zeroed++;
			}
			mutex_unlock(lock);
		}
		kmig_load_unpin(c, got, got);
		if (ret)
			break;
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		cond_resched();
	}
out:
	srcu_read_unlock(&kvm->srcu, idx);
	return ret;
}

/*
 * Copies the records in, each @rec_size bytes of which the kernel knows
 * the first sizeof(struct kmig_rec): a longer record's tail must be zero.
 */
static int kmig_load_copy_recs(struct kmig_rec *recs, const void __user *src,
			       u32 nr, u32 rec_size)
{
	u32 i;
	int ret;

	if (rec_size == sizeof(*recs))
		return copy_from_user(recs, src, (size_t)nr * sizeof(*recs)) ?
		       -EFAULT : 0;
	for (i = 0; i < nr; i++) {
		ret = copy_struct_from_user(&recs[i], sizeof(recs[i]),
					    src + (size_t)i * rec_size,
					    rec_size);
		if (ret)
			return ret;
	}
	return 0;
}

int kmig_load(struct kmig_session *s, struct kmig_vm *vm,
	      struct kmig_load *arg)
{
	struct kmig_load_ctx c = {
		.s = s, .vm = vm, .arg = arg, .mm = vm->kvm->mm,
		.udata = u64_to_user_ptr(arg->data_uptr),
	};
	u32 rec_size = arg->rec_size ?: KMIG_REC_SIZE_V1;
	struct kmig_rec *recs;
	u64 off;
	long n;
	u32 i;
	int ret;

	if (arg->nr_recs > KMIG_LOAD_MAX_RECS ||
	    !kmig_entry_size_ok(rec_size, KMIG_REC_SIZE_V1, KMIG_REC_SIZE_MAX))
		return -EINVAL;
	if (arg->__reserved2)
		return -EOPNOTSUPP;

	recs = kvmalloc_array(arg->nr_recs, sizeof(*recs), GFP_KERNEL_ACCOUNT);
	c.recs = recs;
	c.pin = kmalloc_array(KMIG_LOAD_RUN, sizeof(*c.pin),
			      GFP_KERNEL_ACCOUNT);
	c.frame = kmalloc(KMIG_PAGE_SIZE, GFP_KERNEL_ACCOUNT);
	if ((!recs && arg->nr_recs) || !c.pin || !c.frame) {
		ret = -ENOMEM;
		goto out;
	}
	ret = kmig_load_copy_recs(recs, u64_to_user_ptr(arg->recs_uptr),
				  arg->nr_recs, rec_size);
	if (ret)
		goto out;
	if (!mmget_not_zero(c.mm)) {
		ret = -ESRCH;
		goto out;
	}
	if (down_read_killable(&s->load_sem)) {
		ret = -EINTR;
		goto out_mm;
	}
	c.sem_held = true;

	arg->done = 0;
	arg->pages = 0;
	arg->zeroed = 0;
	for (i = 0; i < arg->nr_recs; i += n) {
		const struct kmig_rec *r = &recs[i];

		off = c.data_off;
		ret = kmig_load_check(r, &off, arg->data_len);
		if (ret)
			break;
		if (kmig_rec_has_data(r)) {
			n = kmig_load_data_run(&c, i, kmig_load_run_len(&c, i));
			if (n < 0) {
				ret = n;
				break;
			}
		} else {
			ret = kmig_load_zero_rec(&c, r);
			if (ret)
				break;
			arg->done++;
			n = 1;
		}
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		cond_resched();
	}
	if (c.sem_held)
		up_read(&s->load_sem);
	atomic64_add(arg->pages, &s->loaded_pages);
out_mm:
	mmput(c.mm);
out:
	if (c.zdec)
		kmig_zdec_put(&s->zdecs, c.zdec);
	kfree(c.frame);
	kfree(c.pin);
	kvfree(recs);
	return ret;
}
