// SPDX-License-Identifier: GPL-2.0
/*
 * Destination side: records received by userspace are written into the
 * attached VM's RAM from the kernel. The stream is hostile until checked:
 * every record must name whole pages inside one memslot, and data lengths
 * must add up, before anything is written. A zstd-compressed page is
 * decompressed into a kernel buffer and written only once it proved to be
 * exactly one page, so a bad frame never leaves a half-written page.
 *
 * Guest addresses are translated through KVM's memslots as they are at
 * the write, under kvm->srcu as KVM's own kvm_write_guest() does: a VMM
 * that deletes or moves a memslot between two loads, and reuses the old
 * host address for something else, never gets a page written there.
 */
#include <linux/bitmap.h>
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
/* Pages zeroed between two chances to reschedule. */
#define KMIG_LOAD_BATCH		64

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

static int kmig_load_refresh(struct kmig_session *s)
{
	struct kmig_slots *slots, *old = s->loaded;
	struct kmig_slot *k, *o;
	u32 i;

	slots = kmig_vm_snapshot_slots(s->vm);
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
	kmig_obj_inc(KMIG_OBJ_PINS);

	dst = kmap_local_page(page);
	if (src)
		memcpy(dst, src, KMIG_PAGE_SIZE);
	else
		clear_page(dst);
	kunmap_local(dst);
	/* Dirty: the page's new content must reach the backing store. */
	unpin_user_pages_dirty_lock(&page, 1, true);
	kmig_obj_dec(KMIG_OBJ_PINS);
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
	return 0;
}

struct kmig_load_ctx {
	struct kmig_session *s;
	struct kmig_load *arg;
	struct mm_struct *mm;
};

/*
 * The memslot the record lies in, as KVM has it now (kvm->srcu held), and
 * the session's bitmap for it; -ESTALE if the session's snapshot predates
 * the memslot. The snapshot cannot be refreshed here: it takes
 * kvm->slots_lock, under which KVM waits for SRCU readers (us).
 */
static int kmig_load_slot(struct kmig_load_ctx *c, const struct kmig_rec *r,
			  struct kvm_memory_slot **msp, struct kmig_slot **kp)
{
	struct kvm *kvm = c->s->vm->kvm;
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

static int kmig_load_zero_run(struct kmig_load_ctx *c,
			      struct kvm_memory_slot *ms, struct kmig_slot *k,
			      u64 first, u64 npages)
{
	u64 end = first + npages, p, n = 0;
	unsigned long hva;
	int ret;

	/* Zero or hole: untouched, unless an earlier record wrote it. */
	for (p = find_next_bit(k->bitmap, end, first); p < end;
	     p = find_next_bit(k->bitmap, end, p + 1)) {
		hva = __gfn_to_hva_memslot(ms, ms->base_gfn + p);
		ret = kmig_load_page(c->mm, hva, NULL);
		if (ret)
			return ret;
		__clear_bit(p, k->bitmap);
		c->arg->zeroed++;
		if (++n % KMIG_LOAD_BATCH == 0) {
			if (fatal_signal_pending(current))
				return -EINTR;
			cond_resched();
		}
	}
	return 0;
}

static int kmig_load_rec(struct kmig_load_ctx *c, const struct kmig_rec *r,
			 const void *data)
{
	struct kvm *kvm = c->s->vm->kvm;
	struct kvm_memory_slot *ms;
	struct kmig_slot *k;
	unsigned long hva;
	int idx, ret, tries = 0;
	u64 first;

	for (;;) {
		idx = srcu_read_lock(&kvm->srcu);
		ret = kmig_load_slot(c, r, &ms, &k);
		if (ret != -ESTALE)
			break;
		srcu_read_unlock(&kvm->srcu, idx);
		/* The VMM keeps editing: let the caller retry. */
		if (++tries > 2)
			return -EAGAIN;
		ret = kmig_load_refresh(c->s);
		if (ret)
			return ret;
	}
	if (ret)
		goto out;
	first = (r->gpa >> PAGE_SHIFT) - ms->base_gfn;
	if (r->kind == KMIG_REC_PAGE || r->kind == KMIG_REC_ZSTD) {
		hva = __gfn_to_hva_memslot(ms, ms->base_gfn + first);
		ret = kmig_load_page(c->mm, hva, data);
		if (!ret) {
			__set_bit(first, k->bitmap);
			c->arg->pages++;
		}
	} else {
		ret = kmig_load_zero_run(c, ms, k, first, r->npages);
	}
out:
	srcu_read_unlock(&kvm->srcu, idx);
	return ret;
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

int kmig_load(struct kmig_session *s, struct kmig_load *arg)
{
	const void __user *udata = u64_to_user_ptr(arg->data_uptr);
	struct kmig_load_ctx c = { .s = s, .arg = arg, .mm = s->vm->kvm->mm };
	u32 rec_size = arg->rec_size ?: KMIG_REC_SIZE_V1;
	struct kmig_rec *recs;
	u64 data_off = 0;
	void *page;
	u32 i;
	int ret;

	lockdep_assert_held(&s->lock);

	if (arg->nr_recs > KMIG_LOAD_MAX_RECS ||
	    !kmig_entry_size_ok(rec_size, KMIG_REC_SIZE_V1, KMIG_REC_SIZE_MAX))
		return -EINVAL;
	if (arg->__reserved2)
		return -EOPNOTSUPP;

	recs = kvmalloc_array(arg->nr_recs, sizeof(*recs), GFP_KERNEL_ACCOUNT);
	page = kmalloc(KMIG_PAGE_SIZE, GFP_KERNEL_ACCOUNT);
	if ((!recs && arg->nr_recs) || !page) {
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

	arg->done = 0;
	arg->pages = 0;
	arg->zeroed = 0;
	for (i = 0; i < arg->nr_recs; i++) {
		const struct kmig_rec *r = &recs[i];
		u64 off = data_off;
		const void *data;

		ret = kmig_load_check(r, &data_off, arg->data_len);
		if (ret)
			break;
		data = kmig_load_data(s, r, udata + off, page);
		if (IS_ERR(data)) {
			ret = PTR_ERR(data);
			break;
		}
		ret = kmig_load_rec(&c, r, data);
		if (ret)
			break;
		arg->done++;
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		cond_resched();
	}
	mmput(c.mm);
	s->stats.loaded_pages += arg->pages;
out:
	kfree(page);
	kvfree(recs);
	return ret;
}
