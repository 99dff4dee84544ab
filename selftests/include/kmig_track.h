/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A kmig session tracking a test VM: what the dirty and lifetime tests share.
 * All functions return 0 or -errno, so tests ASSERT on them; only the
 * ring-full handler, which runs on vCPU threads, aborts on error.
 */
#ifndef KMIG_SELFTEST_KMIG_TRACK_H
#define KMIG_SELFTEST_KMIG_TRACK_H

#include "kmig_util.h"
#include "kvm_guest.h"
#include "page_sets.h"

struct kmig_tracker {
	int fd;				/* the session */
	struct guest_vm *vm;
	struct kmig_attach_vm attach;	/* ATTACH's output */
	struct kmig_dirty_start start;	/* START's output */
	unsigned long ring_syncs;	/* SYNCs done by the ring-full handler */
};

/* Opens a session, attaches @vm and starts tracking. */
int kmig_track_start(struct kmig_tracker *t, struct guest_vm *vm);
void kmig_track_close(struct kmig_tracker *t);

/*
 * The VMM's KVM_EXIT_DIRTY_RING_FULL handling with kmig: KMIG_DIRTY_SYNC
 * empties the vCPU's ring before KVM_RUN is entered again. Installed on the
 * VM by kmig_track_start().
 */
void kmig_track_ring_full(struct guest_vcpu *vcpu, void *opaque);

/* Copies memslot @slot's whole bitmap; *dirty gets the count. */
int kmig_track_bitmap(struct kmig_tracker *t, __u32 slot, __u32 flags,
		      __u64 *bitmap, __u64 *dirty);

/*
 * Takes (GET_BITMAP with KMIG_BITMAP_CLEAR) memslot @slot and the system
 * memslot and compares with @want. Returns the number of wrong pages:
 * @slot's pages that differ from @want, plus system pages other than the
 * page tables (GUEST_SYS_MAY_DIRTY); @why names them. *taken gets the
 * number of pages taken from both slots, *err an ioctl error.
 */
__u64 kmig_track_take_check(struct kmig_tracker *t, __u32 slot,
			    const struct page_set *want, __u64 *taken,
			    char *why, size_t len, int *err);

#endif /* KMIG_SELFTEST_KMIG_TRACK_H */
