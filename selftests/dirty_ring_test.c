// SPDX-License-Identifier: GPL-2.0
/*
 * Dirty rings that fill up: with a 4 KiB ring (256 entries, KVM exits at
 * 192) a guest writing ~1000 pages in one run exits with
 * KVM_EXIT_DIRTY_RING_FULL several times; the VMM calls KMIG_DIRTY_SYNC and
 * re-enters. No page may be lost across those syncs, on one vCPU or on two
 * filling their rings at the same time.
 */
#include <stdlib.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmig_track.h"
#include "kvm_guest.h"
#include "page_sets.h"
#include "test_util.h"

#define DATA_PAGES	16384
#define RING_BYTES	4096

FIXTURE(ring) {
	struct guest_vm *vm;
	struct kmig_tracker t;
	char why[512];
};

FIXTURE_VARIANT(ring) {
	bool memfd;
};

FIXTURE_VARIANT_ADD(ring, anon) { .memfd = false };
FIXTURE_VARIANT_ADD(ring, memfd) { .memfd = true };

FIXTURE_SETUP(ring)
{
	struct guest_vm_opts opts = {
		.mode = GUEST_DIRTY_RING, .ring_bytes = RING_BYTES,
		.memfd = variant->memfd, .data_pages = DATA_PAGES,
		.nr_vcpus = 2,
	};
	const char *why;

	self->t.fd = -1;
	if (!guest_dirty_mode_supported(GUEST_DIRTY_RING, &why) ||
	    !kmig_available(&why))
		SETUP_SKIP("%s", why);
	self->vm = guest_vm_create(&opts);
}

FIXTURE_TEARDOWN(ring)
{
	kmig_track_close(&self->t);
	guest_vm_free(self->vm);
}

/* Attach, start, and take the bulk round: every page of both memslots. */
static void track(struct __test_metadata *_metadata, FIXTURE_DATA(ring) *self)
{
	__u64 map[BITMAP_WORDS(DATA_PAGES)], sys[BITMAP_WORDS(GUEST_SYS_PAGES)];
	struct kmig_dirty_sync s;
	__u64 dirty, sys_dirty;

	ASSERT_EQ(0, kmig_track_start(&self->t, self->vm));
	ASSERT_EQ((__u32)KMIG_DIRTY_MODE_RING, self->t.attach.dirty_mode);
	ASSERT_EQ(0, __kmig_sync(self->t.fd, &s));
	ASSERT_EQ(self->t.start.nr_pages, s.dirty_pages);
	ASSERT_EQ(0, kmig_track_bitmap(&self->t, GUEST_DATA_SLOT,
				       KMIG_BITMAP_CLEAR, map, &dirty));
	ASSERT_EQ(0, kmig_track_bitmap(&self->t, GUEST_SYS_SLOT,
				       KMIG_BITMAP_CLEAR, sys, &sys_dirty));
	ASSERT_EQ((__u64)DATA_PAGES, dirty);
	ASSERT_EQ((__u64)DATA_PAGES, bitmap_weight64(map, DATA_PAGES));
	ASSERT_EQ((__u64)GUEST_SYS_PAGES, sys_dirty);
}

static void sync_and_check(struct __test_metadata *_metadata,
			   FIXTURE_DATA(ring) *self, const char *round,
			   const struct page_set *want)
{
	struct kmig_dirty_sync s;
	__u64 taken;
	int err;

	ASSERT_EQ(0, __kmig_sync(self->t.fd, &s));
	TH_LOG("harvest: mode=ring%s round=%s pages=%llu dirty=%llu ns=%llu ring-full-syncs=%lu",
	       self->vm->opts.memfd ? "+memfd" : "", round,
	       (unsigned long long)self->t.start.nr_pages,
	       (unsigned long long)s.dirty_pages,
	       (unsigned long long)s.harvest_ns, self->t.ring_syncs);
	ASSERT_EQ(0ULL, kmig_track_take_check(&self->t, GUEST_DATA_SLOT, want,
			&taken, self->why, sizeof(self->why), &err))
		TH_LOG("round %s: %s", round, self->why);
	ASSERT_EQ(0, err);
	ASSERT_EQ(s.dirty_pages, taken);
}

TEST_F(ring, full_one_vcpu)
{
	struct guest_vcpu *v = &self->vm->vcpus[0];
	struct page_set set;

	track(_metadata, self);
	page_set_stride(&set, DATA_PAGES, 16, 5);	/* 1024 pages */
	guest_vcpu_write_pages(v, GUEST_DATA_SLOT, set.pages, set.n, 1);
	ASSERT_LT(0UL, v->ring_full_exits);
	ASSERT_EQ(v->ring_full_exits, self->t.ring_syncs);
	sync_and_check(_metadata, self, "first-touch", &set);

	/* Again: pages already mapped, now write-protected by the resets. */
	self->t.ring_syncs = 0;
	v->ring_full_exits = 0;
	guest_vcpu_write_pages(v, GUEST_DATA_SLOT, set.pages, set.n, 2);
	ASSERT_LT(0UL, v->ring_full_exits);
	sync_and_check(_metadata, self, "rewrite", &set);
	page_set_free(&set);
}

TEST_F(ring, full_two_vcpus_at_once)
{
	struct page_set a, b, both;
	const __u64 *pages[2];
	__u64 n[2];

	track(_metadata, self);
	page_set_stride(&a, DATA_PAGES, 16, 0);
	page_set_stride(&b, DATA_PAGES, 16, 8);
	page_set_union(&both, &a, &b);
	pages[0] = a.pages;
	pages[1] = b.pages;
	n[0] = a.n;
	n[1] = b.n;
	guest_vm_write_parallel(self->vm, GUEST_DATA_SLOT, pages, n, 3);
	ASSERT_LT(0UL, self->vm->vcpus[0].ring_full_exits);
	ASSERT_LT(0UL, self->vm->vcpus[1].ring_full_exits);
	sync_and_check(_metadata, self, "two-vcpus", &both);
	page_set_free(&a);
	page_set_free(&b);
	page_set_free(&both);
}

/*
 * Entries the guest pushed before the session attached belong to the bulk
 * round; they must not show up again in the first tracked round.
 */
TEST_F(ring, entries_from_before_attach)
{
	struct page_set before, a;

	/* 64 pages: with the warm-up's entries, below the ring's limit */
	page_set_stride(&before, DATA_PAGES, 256, 1);
	guest_vcpu_write_pages(&self->vm->vcpus[0], GUEST_DATA_SLOT,
			       before.pages, before.n, 1);
	track(_metadata, self);
	page_set_stride(&a, DATA_PAGES, 256, 128);
	guest_vcpu_write_pages(&self->vm->vcpus[1], GUEST_DATA_SLOT, a.pages,
			       a.n, 2);
	sync_and_check(_metadata, self, "after-attach", &a);
	page_set_free(&before);
	page_set_free(&a);
}

TEST_HARNESS_MAIN
