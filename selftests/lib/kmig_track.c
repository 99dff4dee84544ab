// SPDX-License-Identifier: GPL-2.0
/* A kmig session tracking a test VM; see include/kmig_track.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kmig_track.h"
#include "test_util.h"

int kmig_track_start(struct kmig_tracker *t, struct guest_vm *vm)
{
	int r;

	t->vm = vm;
	t->fd = kmig_open();
	if (t->fd < 0)
		return t->fd;
	r = __kmig_attach(t->fd, vm->fd, &t->attach);
	if (!r)
		r = __kmig_start(t->fd, &t->start);
	vm->ring_full = kmig_track_ring_full;
	vm->ring_full_opaque = t;
	return r;
}

void kmig_track_close(struct kmig_tracker *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
}

void kmig_track_ring_full(struct guest_vcpu *vcpu, void *opaque)
{
	struct kmig_tracker *t = opaque;
	int r = __kmig_sync(t->fd, NULL);

	if (r)
		die("vCPU %d: KMIG_DIRTY_SYNC after KVM_EXIT_DIRTY_RING_FULL: %s",
		    vcpu->id, kmig_errname(r));
	__atomic_fetch_add(&t->ring_syncs, 1, __ATOMIC_RELAXED);
}

int kmig_track_bitmap(struct kmig_tracker *t, __u32 slot, __u32 flags,
		      __u64 *bitmap, __u64 *dirty)
{
	struct guest_slot *s = guest_vm_slot(t->vm, slot);

	return __kmig_get_bitmap(t->fd, 0, slot, 0, s->npages, flags, bitmap,
				 dirty);
}

__u64 kmig_track_take_check(struct kmig_tracker *t, __u32 slot,
			    const struct page_set *want, __u64 *taken,
			    char *why, size_t len, int *err)
{
	__u64 npages = guest_vm_slot(t->vm, slot)->npages;
	__u64 *seen = calloc(BITMAP_WORDS(npages), sizeof(__u64));
	__u64 *expect = page_set_bitmap(want, npages);
	__u64 sys[BITMAP_WORDS(GUEST_SYS_PAGES)] = { 0 };
	__u64 dirty = 0, sys_dirty = 0, diff, sys_wrong;
	size_t pos;

	CHECK(seen, "out of memory");
	*err = kmig_track_bitmap(t, slot, KMIG_BITMAP_CLEAR, seen, &dirty);
	if (!*err && slot != GUEST_SYS_SLOT)
		*err = kmig_track_bitmap(t, GUEST_SYS_SLOT, KMIG_BITMAP_CLEAR,
					 sys, &sys_dirty);
	*taken = dirty + sys_dirty;
	diff = bitmap_diff64(expect, seen, npages, why, len);
	if (*err || slot == GUEST_SYS_SLOT)
		goto out;
	/* The guest wrote no system page; its page tables may still show. */
	sys[0] &= ~GUEST_SYS_MAY_DIRTY;
	sys_wrong = bitmap_weight64(sys, GUEST_SYS_PAGES);
	if (sys_wrong) {
		pos = strlen(why);
		snprintf(why + pos, len - pos,
			 "; %llu system pages, first word 0x%llx",
			 (unsigned long long)sys_wrong,
			 (unsigned long long)sys[0]);
	}
	diff += sys_wrong;
	if (dirty != bitmap_weight64(seen, npages)) {
		pos = strlen(why);
		snprintf(why + pos, len - pos, "; dirty=%llu but %llu bits set",
			 (unsigned long long)dirty,
			 (unsigned long long)bitmap_weight64(seen, npages));
		diff++;
	}
out:
	free(seen);
	free(expect);
	return diff;
}
