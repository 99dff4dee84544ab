// SPDX-License-Identifier: GPL-2.0
/*
 * KVM's own dirty harvesting, as a VMM without kmig does it: the reference
 * the guest library is checked against (kvm_guest_test), so that a kmig
 * test failure is known not to come from the test VM itself.
 */
#include <stdlib.h>
#include <sys/ioctl.h>

#include "kvm_guest.h"
#include "test_util.h"

static void harvest_bitmap(struct guest_vm *vm, struct guest_slot *s,
			   __u64 *bitmap)
{
	__u64 words = BITMAP_WORDS(s->npages), i;
	__u64 *buf = calloc(words, sizeof(*buf));
	struct kvm_dirty_log log = { .slot = s->id, .dirty_bitmap = buf };
	struct kvm_clear_dirty_log clear = {
		.slot = s->id, .num_pages = s->npages, .dirty_bitmap = buf,
	};

	CHECK(buf, "out of memory");
	if (ioctl(vm->fd, KVM_GET_DIRTY_LOG, &log))
		die_errno("KVM_GET_DIRTY_LOG slot %u", s->id);
	/* Manual-protect: GET only reads; CLEAR re-protects what we took. */
	if (vm->opts.mode != GUEST_DIRTY_BITMAP &&
	    ioctl(vm->fd, KVM_CLEAR_DIRTY_LOG, &clear))
		die_errno("KVM_CLEAR_DIRTY_LOG slot %u", s->id);
	for (i = 0; i < words; i++)
		bitmap[i] |= buf[i];
	free(buf);
}

static __u64 harvest_ring(struct guest_vcpu *v, struct guest_slot *s,
			  __u64 *bitmap, __u64 *sys)
{
	__u64 other = 0;

	for (;;) {
		struct kvm_dirty_gfn *e = &v->ring[v->ring_fetch %
						   v->ring_entries];
		/* Acquire: the entry's slot/offset are valid once DIRTY is. */
		__u32 flags = __atomic_load_n(&e->flags, __ATOMIC_ACQUIRE);

		if (!(flags & KVM_DIRTY_GFN_F_DIRTY))
			break;
		/* slot is as_id << 16 | id; tests use address space 0 */
		if (e->slot == s->id && e->offset < s->npages)
			set_bit64(bitmap, e->offset);
		else if (sys && e->slot == GUEST_SYS_SLOT &&
			 e->offset < GUEST_SYS_PAGES)
			set_bit64(sys, e->offset);
		else
			other++;
		/* Release: KVM may reuse the entry once it sees RESET. */
		__atomic_store_n(&e->flags, KVM_DIRTY_GFN_F_RESET,
				 __ATOMIC_RELEASE);
		v->ring_fetch++;
	}
	return other;
}

__u64 guest_kvm_harvest(struct guest_vm *vm, __u32 slot, __u64 *bitmap,
			__u64 *sys)
{
	struct guest_slot *s = guest_vm_slot(vm, slot);
	__u64 other = 0;
	int i;

	if (vm->opts.mode != GUEST_DIRTY_RING) {
		harvest_bitmap(vm, s, bitmap);
		if (sys)
			harvest_bitmap(vm, guest_vm_slot(vm, GUEST_SYS_SLOT),
				       sys);
		return 0;
	}
	for (i = 0; i < vm->nr_vcpus; i++)
		other += harvest_ring(&vm->vcpus[i], s, bitmap, sys);
	/* Re-arms write protection for the collected pages. */
	if (ioctl(vm->fd, KVM_RESET_DIRTY_RINGS, 0) < 0)
		die_errno("KVM_RESET_DIRTY_RINGS");
	return other;
}
