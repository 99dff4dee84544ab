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

struct kmig_harvest {
	struct kmig_slots *slots;
	u32 mode;
	u64 new_pages;
	unsigned long *bounce;	/* PAGE_SIZE: user bitmap chunks */
};

#define KMIG_BOUNCE_WORDS	(PAGE_SIZE / sizeof(unsigned long))

/* Sets bit @off of slot (as_id << 16 | id), as a dirty-ring entry names it. */
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
	if (off >= k->npages || __test_and_set_bit(off, k->bitmap))
		return;
	k->dirty++;
	h->new_pages++;
}

/*
 * ORs KVM's bitmap for @k from the scratch mapping into the session's.
 * Returns the number of bits KVM reported, or -errno.
 */
static long kmig_or_user_bitmap(struct kmig_harvest *h, struct kmig_slot *k,
				const unsigned long __user *src)
{
	size_t nwords = BITS_TO_LONGS(k->npages), w, i, n;
	unsigned long tail = BITMAP_LAST_WORD_MASK(k->npages);
	long reported = 0;

	for (w = 0; w < nwords; w += n) {
		n = min_t(size_t, nwords - w, KMIG_BOUNCE_WORDS);
		if (copy_from_user(h->bounce, src + w, n * sizeof(long)))
			return -EFAULT;
		/* The scratch is VMM memory: never trust bits past npages. */
		if (w + n == nwords)
			h->bounce[n - 1] &= tail;
		for (i = 0; i < n; i++) {
			unsigned long got = h->bounce[i];
			unsigned long fresh = got & ~k->bitmap[w + i];

			reported += hweight_long(got);
			if (!fresh)
				continue;
			k->bitmap[w + i] |= fresh;
			k->dirty += hweight_long(fresh);
			h->new_pages += hweight_long(fresh);
		}
	}
	return reported;
}

/* Fails with -EAGAIN if the memslot changed since the snapshot. */
static int kmig_slot_current(struct kvm *kvm, struct kmig_slot *k)
{
	struct kvm_memory_slot *ms;
	int idx, ret = 0;

	idx = srcu_read_lock(&kvm->srcu);
	ms = id_to_memslot(__kvm_memslots(kvm, k->as_id), k->id);
	if (!ms || ms->npages != k->npages || ms->base_gfn != k->base_gfn ||
	    !(ms->flags & KVM_MEM_LOG_DIRTY_PAGES))
		ret = -EAGAIN;
	srcu_read_unlock(&kvm->srcu, idx);
	return ret;
}

static int kmig_harvest_slot_log(struct kmig_vm *vm, struct kmig_harvest *h,
				 struct kmig_slot *k)
{
	void __user *uarg = (void __user *)(vm->scratch + KMIG_SCRATCH_ARG);
	void __user *ubm = (void __user *)(vm->scratch + KMIG_SCRATCH_BITMAP);
	struct kvm_clear_dirty_log clear = {};
	struct kvm_dirty_log log = {};
	long ret;

	/*
	 * KVM writes the whole bitmap of the slot it finds by id. The check
	 * makes a delete-and-recreate race unlikely; if one still happens,
	 * KVM only writes into the VMM's own address space.
	 */
	ret = kmig_slot_current(vm->kvm, k);
	if (ret)
		return ret;

	log.slot = (u32)k->as_id << 16 | k->id;
	log.dirty_bitmap = ubm;
	if (copy_to_user(uarg, &log, sizeof(log)))
		return -EFAULT;
	ret = kmig_vm_ioctl(vm, KVM_GET_DIRTY_LOG, (unsigned long)uarg);
	if (ret == -ENOENT || ret == -EINVAL)
		return -EAGAIN;	/* slot vanished or lost logging under us */
	if (ret)
		return ret;

	ret = kmig_or_user_bitmap(h, k, ubm);
	if (ret <= 0 || h->mode != KMIG_DIRTY_MODE_MANUAL)
		return ret < 0 ? ret : 0;

	/* Manual protect: re-arm write protection for what we just took. */
	clear.slot = log.slot;
	clear.first_page = 0;
	clear.num_pages = k->npages;
	clear.dirty_bitmap = ubm;
	if (copy_to_user(uarg, &clear, sizeof(clear)))
		return -EFAULT;
	ret = kmig_vm_ioctl(vm, KVM_CLEAR_DIRTY_LOG, (unsigned long)uarg);
	return ret == -ENOENT || ret == -EINVAL ? -EAGAIN : ret;
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
	ret = kmig_vm_scratch(vm, KMIG_SCRATCH_BITMAP + need);
	if (ret)
		return ret;

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
 * and recycles the entries.
 */
static void kmig_harvest_vcpu_ring(struct kmig_vm *vm, struct kmig_harvest *h,
				   struct kvm_vcpu *vcpu)
{
	struct kvm_dirty_ring *ring = &vcpu->dirty_ring;
	struct kmig_slot *last = NULL;
	u32 *fetch = &vm->ring_fetch[vcpu->vcpu_idx];
	u32 n;

	if (!ring->dirty_gfns)
		return;
	/* Entries before reset_index are recycled; start where KVM does. */
	if (!test_and_set_bit(vcpu->vcpu_idx, vm->ring_seen))
		*fetch = READ_ONCE(ring->reset_index);

	for (n = 0; n < ring->size; n++) {
		struct kvm_dirty_gfn *e = &ring->dirty_gfns[*fetch &
							    (ring->size - 1)];
		u32 slot;
		u64 off;

		/* Acquire: slot and offset are read after F_DIRTY is seen. */
		if (!(smp_load_acquire(&e->flags) & KVM_DIRTY_GFN_F_DIRTY))
			break;
		slot = READ_ONCE(e->slot);
		off = READ_ONCE(e->offset);
		kmig_mark(h, &last, slot, off);
		/* Release: our reads of the entry happen before KVM reuses it. */
		smp_store_release(&e->flags, KVM_DIRTY_GFN_F_RESET);
		(*fetch)++;
	}
}

static int kmig_harvest_ring(struct kmig_vm *vm, struct kmig_harvest *h)
{
	struct kvm_vcpu *vcpu;
	unsigned long i;
	long ret;

	kvm_for_each_vcpu(i, vcpu, vm->kvm)
		kmig_harvest_vcpu_ring(vm, h, vcpu);

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

	h.bounce = kmalloc(PAGE_SIZE, GFP_KERNEL);
	if (!h.bounce)
		return -ENOMEM;
	ret = kmig_vm_call(vm, kmig_harvest_fn, &h);
	kfree(h.bounce);
	/* Pages found before a failure are kept: they are still dirty. */
	*new_pages = h.new_pages;
	return ret;
}
