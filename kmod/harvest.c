// SPDX-License-Identifier: GPL-2.0
/*
 * Harvesting KVM's dirty state into the session's bitmaps.
 *
 * On 6.1 nothing exported re-arms write protection, so reading
 * memslot->dirty_bitmap ourselves would miss pages the guest dirties again.
 * Instead the VM worker (vm.c), with the VMM's mm adopted, issues KVM's own
 * KVM_GET_DIRTY_LOG / KVM_CLEAR_DIRTY_LOG / KVM_RESET_DIRTY_RINGS ioctls on
 * the VM file; bitmaps travel through a scratch mapping in that mm.
 */
#include <linux/bitmap.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "kmig.h"

/* Scratch layout: the ioctl argument, then the bitmap, cache-line apart. */
#define KMIG_SCRATCH_ARG	0
#define KMIG_SCRATCH_BITMAP	128
/* Words between two chances to reschedule. */
#define KMIG_BOUNCE_WORDS	512

struct kmig_harvest {
	struct kmig_slots *slots;
	u32 mode;
	u64 new_pages;
	void *scratch;		/* kernel view of the scratch buffer */
};

/*
 * Sets bit @off of slot (as_id << 16 | id), as a dirty-ring entry names it.
 * Atomic: during a round, workers clear bits of the same words.
 */
static void kmig_mark(struct kmig_harvest *h, struct kmig_slot **last,
		      u32 slot, u64 off)
{
	struct kmig_slot *k = *last;

	if (!k || k->as_id != slot >> 16 || k->id != (u16)slot) {
		k = kmig_slots_find(h->slots, slot >> 16, (u16)slot);
		if (!k)
			return;	/* memslot gone; a new one starts all dirty */
		*last = k;
	}
	if (off >= k->npages || test_and_set_bit(off, k->bitmap))
		return;
	k->dirty++;
	h->new_pages++;
}

/* Takes every bit of @k: what a lost KVM bitmap leaves us to assume. */
static void kmig_mark_all(struct kmig_harvest *h, struct kmig_slot *k)
{
	u64 had = bitmap_weight(k->bitmap, k->npages);

	bitmap_fill(k->bitmap, k->npages);
	h->new_pages += k->npages - had;
	k->dirty = k->npages;
}

/*
 * ORs the bitmap KVM left in the scratch buffer into @k's. Returns the
 * number of bits KVM reported.
 */
static long kmig_or_bitmap(struct kmig_harvest *h, struct kmig_slot *k)
{
	const unsigned long *src = h->scratch + KMIG_SCRATCH_BITMAP;
	size_t nwords = BITS_TO_LONGS(k->npages), w;
	unsigned long tail = BITMAP_LAST_WORD_MASK(k->npages);
	long reported = 0;

	for (w = 0; w < nwords; w++) {
		/* The buffer is mapped in the VMM: read each word once. */
		unsigned long got = READ_ONCE(src[w]), fresh;

		/* ... and never trust bits past npages. */
		if (w == nwords - 1)
			got &= tail;
		reported += hweight_long(got);
		fresh = got & ~k->bitmap[w];
		if (!fresh)
			continue;
		k->bitmap[w] |= fresh;
		k->dirty += hweight_long(fresh);
		h->new_pages += hweight_long(fresh);
		if (!(w % KMIG_BOUNCE_WORDS))
			cond_resched();
	}
	return reported;
}

/* Fails with -EAGAIN if the memslot is not the one of the snapshot. */
static int kmig_slot_current(struct kvm *kvm, struct kmig_slot *k)
{
	struct kvm_memory_slot *ms;
	int idx, ret = 0;

	idx = srcu_read_lock(&kvm->srcu);
	ms = id_to_memslot(__kvm_memslots(kvm, k->as_id), k->id);
	if (ms != k->kslot || !(ms->flags & KVM_MEM_LOG_DIRTY_PAGES) ||
	    ms->npages != k->npages)
		ret = -EAGAIN;
	srcu_read_unlock(&kvm->srcu, idx);
	return ret;
}

static int kmig_harvest_slot_log(struct kmig_vm *vm, struct kmig_harvest *h,
				 struct kmig_slot *k)
{
	void __user *uarg = (void __user *)(vm->scratch + KMIG_SCRATCH_ARG);
	void __user *ubm = (void __user *)(vm->scratch + KMIG_SCRATCH_BITMAP);
	struct kvm_clear_dirty_log *clear = h->scratch + KMIG_SCRATCH_ARG;
	struct kvm_dirty_log *log = h->scratch + KMIG_SCRATCH_ARG;
	long ret;

	/*
	 * KVM writes the whole bitmap of the slot it finds by id. If that
	 * is no longer ours (an edit since the check), the generation check
	 * after the harvest catches it; a bigger bitmap faults past the
	 * scratch buffer (scratch.c).
	 */
	ret = kmig_slot_current(vm->kvm, k);
	if (ret)
		return ret;

	memset(log, 0, sizeof(*log));
	log->slot = (u32)k->as_id << 16 | k->id;
	log->dirty_bitmap = ubm;
	ret = kmig_vm_ioctl(vm, KVM_GET_DIRTY_LOG, (unsigned long)uarg);
	if (ret == -EFAULT) {
		/*
		 * KVM may have cleared its bitmap before its copy failed
		 * (the VMM unmapped the scratch, or the slot grew): the
		 * pages it held are unknown, so all of them are dirty.
		 */
		kmig_mark_all(h, k);
		return -EAGAIN;
	}
	if (ret == -ENOENT || ret == -EINVAL)
		return -EAGAIN;	/* slot vanished or lost logging under us */
	if (ret)
		return ret;

	ret = kmig_or_bitmap(h, k);
	if (ret <= 0 || h->mode != KMIG_DIRTY_MODE_MANUAL)
		return 0;

	/* Manual protect: re-arm write protection for what we just took. */
	memset(clear, 0, sizeof(*clear));
	clear->slot = (u32)k->as_id << 16 | k->id;
	clear->first_page = 0;
	clear->num_pages = k->npages;
	clear->dirty_bitmap = ubm;
	ret = kmig_vm_ioctl(vm, KVM_CLEAR_DIRTY_LOG, (unsigned long)uarg);
	return ret == -ENOENT || ret == -EINVAL || ret == -EFAULT ? -EAGAIN :
								    ret;
}

static int kmig_harvest_log(struct kmig_vm *vm, struct kmig_harvest *h)
{
	size_t need = 0;
	u32 i;
	int ret;

	for (i = 0; i < h->slots->nr; i++)
		need = max_t(size_t, need,
			     BITS_TO_LONGS(h->slots->slot[i].npages) *
			     sizeof(long));
	h->scratch = kmig_scratch_get(vm, KMIG_SCRATCH_BITMAP + need);
	if (IS_ERR(h->scratch))
		return PTR_ERR(h->scratch);

	for (i = 0; i < h->slots->nr; i++) {
		struct kmig_slot *k = &h->slots->slot[i];

		if (k->flags & KVM_MEM_READONLY)
			continue;	/* the guest cannot write it */
		ret = kmig_harvest_slot_log(vm, h, k);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * Dirty ring: entry ownership per Documentation/virt/kvm/api.rst. KVM
 * publishes an entry by setting F_DIRTY (after slot/offset); we hand it
 * back with F_RESET, and KVM_RESET_DIRTY_RINGS then re-protects the pages
 * and recycles the entries from reset_index on.
 *
 * Every harvest starts at reset_index, where KVM itself resumes: nothing
 * is cached between harvests, so a reset by anyone else (the VMM throwing
 * entries away) cannot leave us waiting at an entry that is never filled.
 * Entries already handed back but not yet recycled are skipped.
 */
static void kmig_harvest_vcpu_ring(struct kmig_harvest *h,
				   struct kvm_vcpu *vcpu)
{
	struct kvm_dirty_ring *ring = &vcpu->dirty_ring;
	struct kmig_slot *last = NULL;
	u32 idx, n;

	if (!ring->dirty_gfns)
		return;
	idx = READ_ONCE(ring->reset_index);
	for (n = 0; n < ring->size; n++, idx++) {
		struct kvm_dirty_gfn *e = &ring->dirty_gfns[idx &
							    (ring->size - 1)];
		u32 flags, slot;
		u64 off;

		/* Acquire: slot and offset are read after F_DIRTY is seen. */
		flags = smp_load_acquire(&e->flags);
		if (flags & KVM_DIRTY_GFN_F_RESET)
			continue;
		if (!(flags & KVM_DIRTY_GFN_F_DIRTY))
			break;
		slot = READ_ONCE(e->slot);
		off = READ_ONCE(e->offset);
		kmig_mark(h, &last, slot, off);
		/* Release: our reads of the entry happen before KVM reuses it. */
		smp_store_release(&e->flags, KVM_DIRTY_GFN_F_RESET);
	}
}

static int kmig_harvest_ring(struct kmig_vm *vm, struct kmig_harvest *h)
{
	struct kvm_vcpu *vcpu;
	unsigned long i;
	long ret;

	kvm_for_each_vcpu(i, vcpu, vm->kvm)
		kmig_harvest_vcpu_ring(h, vcpu);

	ret = kmig_vm_ioctl(vm, KVM_RESET_DIRTY_RINGS, 0);
	return ret < 0 ? ret : 0;
}

static int kmig_harvest_fn(struct kmig_vm *vm, void *arg)
{
	struct kmig_harvest *h = arg;

	if (h->mode == KMIG_DIRTY_MODE_RING)
		return kmig_harvest_ring(vm, h);
	return kmig_harvest_log(vm, h);
}

int kmig_harvest(struct kmig_vm *vm, struct kmig_slots *slots, u32 mode,
		 u64 *new_pages)
{
	struct kmig_harvest h = { .slots = slots, .mode = mode };
	int ret;

	ret = kmig_vm_call(vm, kmig_harvest_fn, &h);
	/* Pages found before a failure are kept: they are still dirty. */
	*new_pages = h.new_pages;
	return ret;
}
