// SPDX-License-Identifier: GPL-2.0
/*
 * Dirty tracking through kmig, in each of KVM's dirty-logging modes: after
 * the bulk round, every KMIG_DIRTY_SYNC + GET_BITMAP(CLEAR) must return
 * exactly the pages the guest wrote since the previous one: a lost page
 * would be a corrupt migration, an extra page wasted bandwidth.
 */
#include <stdlib.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmig_track.h"
#include "kvm_guest.h"
#include "page_sets.h"
#include "test_util.h"

#define DATA_PAGES	16384	/* 64 MiB */
#define EXTRA_PAGES	256
#define EXTRA_SLOT	GUEST_FIRST_EXTRA_SLOT

FIXTURE(dirty) {
	struct guest_vm *vm;
	struct kmig_tracker t;
	char why[512];
};

FIXTURE_VARIANT(dirty) {
	enum guest_dirty_mode mode;
	bool memfd;
	__u32 want_mode;	/* kmig_attach_vm.dirty_mode */
};

FIXTURE_VARIANT_ADD(dirty, bitmap) {
	.mode = GUEST_DIRTY_BITMAP, .want_mode = KMIG_DIRTY_MODE_BITMAP,
};
FIXTURE_VARIANT_ADD(dirty, manual) {
	.mode = GUEST_DIRTY_MANUAL, .want_mode = KMIG_DIRTY_MODE_MANUAL,
};
FIXTURE_VARIANT_ADD(dirty, manual_initset) {
	.mode = GUEST_DIRTY_MANUAL_INITSET, .want_mode = KMIG_DIRTY_MODE_MANUAL,
};
FIXTURE_VARIANT_ADD(dirty, ring) {
	.mode = GUEST_DIRTY_RING, .want_mode = KMIG_DIRTY_MODE_RING,
};
FIXTURE_VARIANT_ADD(dirty, bitmap_memfd) {
	.mode = GUEST_DIRTY_BITMAP, .memfd = true,
	.want_mode = KMIG_DIRTY_MODE_BITMAP,
};
FIXTURE_VARIANT_ADD(dirty, ring_memfd) {
	.mode = GUEST_DIRTY_RING, .memfd = true,
	.want_mode = KMIG_DIRTY_MODE_RING,
};

FIXTURE_SETUP(dirty)
{
	struct guest_vm_opts opts = {
		.mode = variant->mode, .memfd = variant->memfd,
		.data_pages = DATA_PAGES, .nr_vcpus = 2,
	};
	const char *why;

	self->t.fd = -1;
	if (!guest_dirty_mode_supported(variant->mode, &why) ||
	    !kmig_available(&why))
		SETUP_SKIP("%s", why);
	self->vm = guest_vm_create(&opts);
	ASSERT_EQ(0, kmig_track_start(&self->t, self->vm));
	ASSERT_EQ(variant->want_mode, self->t.attach.dirty_mode);
	ASSERT_EQ(2U, self->t.attach.nr_memslots);
	ASSERT_EQ(2U, self->t.start.nr_memslots);
	ASSERT_EQ(DATA_PAGES + GUEST_SYS_PAGES, self->t.start.nr_pages);
}

FIXTURE_TEARDOWN(dirty)
{
	kmig_track_close(&self->t);
	guest_vm_free(self->vm);
}

static void log_harvest(struct __test_metadata *_metadata,
			FIXTURE_DATA(dirty) *self, const char *round,
			const struct kmig_dirty_sync *s)
{
	TH_LOG("harvest: mode=%s%s round=%s pages=%llu dirty=%llu ns=%llu",
	       guest_dirty_mode_name(self->vm->opts.mode),
	       self->vm->opts.memfd ? "+memfd" : "", round,
	       (unsigned long long)self->t.start.nr_pages,
	       (unsigned long long)s->dirty_pages,
	       (unsigned long long)s->harvest_ns);
}

/* SYNC, then take the data slot and compare with @want. */
#define SYNC_AND_CHECK(round, want) do {				\
	struct kmig_dirty_sync __s;					\
	__u64 __taken;							\
	int __err;							\
									\
	ASSERT_EQ(0, __kmig_sync(self->t.fd, &__s));			\
	log_harvest(_metadata, self, round, &__s);			\
	ASSERT_EQ(0ULL, kmig_track_take_check(&self->t, GUEST_DATA_SLOT,\
			want, &__taken, self->why, sizeof(self->why),	\
			&__err))					\
		TH_LOG("round %s: %s", round, self->why);		\
	ASSERT_EQ(0, __err);						\
	/* dirty_pages counts every slot; all was just taken. */	\
	ASSERT_EQ(__s.dirty_pages, __taken) TH_LOG("round %s", round);	\
	ASSERT_EQ(0U, __s.out_flags & KMIG_SYNC_MEMSLOTS_CHANGED);	\
} while (0)

/*
 * The bulk round: START set every page of every memslot, so the first SYNC
 * reports them all, whatever the guest did. Takes them.
 */
static void bulk_round(struct __test_metadata *_metadata,
		       FIXTURE_DATA(dirty) *self, __u64 npages)
{
	struct kmig_dirty_sync s;
	__u64 *map = calloc(BITMAP_WORDS(npages), sizeof(__u64)), dirty;
	__u64 sys[BITMAP_WORDS(GUEST_SYS_PAGES)];

	ASSERT_EQ(0, __kmig_sync(self->t.fd, &s));
	log_harvest(_metadata, self, "bulk", &s);
	ASSERT_EQ(self->t.start.nr_pages, s.dirty_pages);
	ASSERT_EQ(0, kmig_track_bitmap(&self->t, GUEST_DATA_SLOT,
				       KMIG_BITMAP_CLEAR, map, &dirty));
	ASSERT_EQ(npages, dirty);
	ASSERT_EQ(npages, bitmap_weight64(map, npages));
	ASSERT_EQ(0, kmig_track_bitmap(&self->t, GUEST_SYS_SLOT,
				       KMIG_BITMAP_CLEAR, sys, &dirty));
	ASSERT_EQ((__u64)GUEST_SYS_PAGES, dirty);
	/* Taken: a plain read now finds nothing. */
	ASSERT_EQ(0, kmig_track_bitmap(&self->t, GUEST_DATA_SLOT, 0, map,
				       &dirty));
	ASSERT_EQ(0ULL, dirty);
	ASSERT_EQ(0ULL, bitmap_weight64(map, npages));
	free(map);
}

TEST_F(dirty, rounds)
{
	struct page_set a, b, fresh, old, none = { 0 };

	bulk_round(_metadata, self, DATA_PAGES);

	page_set_spread(&a, DATA_PAGES, 97, 5);
	guest_vcpu_write_pages(&self->vm->vcpus[0], GUEST_DATA_SLOT, a.pages,
			       a.n, 1);
	SYNC_AND_CHECK("A", &a);

	/* New pages plus every other page of A, from the other vCPU. */
	page_set_stride(&fresh, DATA_PAGES, 89, 3);
	page_set_every_other(&old, &a);
	page_set_union(&b, &old, &fresh);
	guest_vcpu_write_pages(&self->vm->vcpus[1], GUEST_DATA_SLOT, b.pages,
			       b.n, 2);
	SYNC_AND_CHECK("B", &b);

	/* The same pages again: write protection was re-armed. */
	guest_vcpu_write_pages(&self->vm->vcpus[0], GUEST_DATA_SLOT, b.pages,
			       b.n, 3);
	SYNC_AND_CHECK("B-again", &b);

	guest_vcpu_idle(&self->vm->vcpus[0]);
	guest_vcpu_idle(&self->vm->vcpus[1]);
	SYNC_AND_CHECK("idle", &none);
	SYNC_AND_CHECK("no-run", &none);

	page_set_free(&a);
	page_set_free(&b);
	page_set_free(&fresh);
	page_set_free(&old);
}

/* Pages stay set until taken; SYNCs OR into the session's bitmap. */
TEST_F(dirty, accumulate_and_partial_take)
{
	struct page_set a, b, ab;
	struct kmig_dirty_sync s;
	__u64 *want, map[BITMAP_WORDS(DATA_PAGES)], part[2], dirty, i;

	bulk_round(_metadata, self, DATA_PAGES);

	page_set_spread(&a, DATA_PAGES, 61, 0);
	page_set_stride(&b, DATA_PAGES, 43, 1);
	page_set_union(&ab, &a, &b);
	guest_vcpu_write_pages(&self->vm->vcpus[0], GUEST_DATA_SLOT, a.pages,
			       a.n, 1);
	ASSERT_EQ(0, __kmig_sync(self->t.fd, &s));
	ASSERT_LE(a.n, s.new_pages);
	ASSERT_GE(a.n + 2, s.new_pages) TH_LOG("A plus the page tables at most");
	guest_vcpu_write_pages(&self->vm->vcpus[0], GUEST_DATA_SLOT, b.pages,
			       b.n, 2);
	ASSERT_EQ(0, __kmig_sync(self->t.fd, &s));
	/* Pages of B already set from A are not new. */
	ASSERT_LE(ab.n - a.n, s.new_pages);
	ASSERT_GE(ab.n - a.n + 2, s.new_pages);

	/* Take pages [64, 192) only: the rest stays set. */
	ASSERT_EQ(0, __kmig_get_bitmap(self->t.fd, 0, GUEST_DATA_SLOT, 64, 128,
				       KMIG_BITMAP_CLEAR, part, &dirty));
	want = page_set_bitmap(&ab, DATA_PAGES);
	ASSERT_EQ(want[1], part[0]);
	ASSERT_EQ(want[2], part[1]);
	ASSERT_EQ((__u64)__builtin_popcountll(want[1]) +
		  __builtin_popcountll(want[2]), dirty);
	want[1] = want[2] = 0;
	ASSERT_EQ(0, kmig_track_bitmap(&self->t, GUEST_DATA_SLOT, 0, map,
				       &dirty));
	ASSERT_EQ(0ULL, bitmap_diff64(want, map, DATA_PAGES, self->why,
				      sizeof(self->why)))
		TH_LOG("%s", self->why);
	ASSERT_EQ(bitmap_weight64(want, DATA_PAGES), dirty);
	/* Word by word, the same bits. */
	for (i = 0; i < DATA_PAGES / 64; i += 37) {
		ASSERT_EQ(0, __kmig_get_bitmap(self->t.fd, 0, GUEST_DATA_SLOT,
					       i * 64, 64, 0, part, NULL));
		ASSERT_EQ(want[i], part[0]) TH_LOG("word %llu",
						   (unsigned long long)i);
	}
	free(want);
	page_set_free(&a);
	page_set_free(&b);
	page_set_free(&ab);
}

TEST_F(dirty, restart_is_a_new_bulk_round)
{
	struct kmig_dirty_start start;
	struct page_set a;

	bulk_round(_metadata, self, DATA_PAGES);
	page_set_spread(&a, DATA_PAGES, 301, 0);
	guest_vcpu_write_pages(&self->vm->vcpus[0], GUEST_DATA_SLOT, a.pages,
			       a.n, 1);
	ASSERT_EQ(0, __kmig_stop(self->t.fd));
	ASSERT_EQ(0, __kmig_start(self->t.fd, &start));
	ASSERT_EQ(self->t.start.nr_pages, start.nr_pages);
	bulk_round(_metadata, self, DATA_PAGES);
	/* ...and the round after the new bulk round is exact again. */
	guest_vcpu_write_pages(&self->vm->vcpus[1], GUEST_DATA_SLOT, a.pages,
			       a.n, 2);
	SYNC_AND_CHECK("after-restart", &a);
	page_set_free(&a);
}

TEST_F(dirty, two_vcpus_in_parallel)
{
	struct page_set even, odd, both;
	const __u64 *pages[2];
	__u64 n[2];

	bulk_round(_metadata, self, DATA_PAGES);
	/* Disjoint sets, one per vCPU, ~1400 pages each. */
	page_set_stride(&even, DATA_PAGES, 12, 0);
	page_set_stride(&odd, DATA_PAGES, 12, 6);
	page_set_union(&both, &even, &odd);
	pages[0] = even.pages;
	pages[1] = odd.pages;
	n[0] = even.n;
	n[1] = odd.n;
	guest_vm_write_parallel(self->vm, GUEST_DATA_SLOT, pages, n, 7);
	SYNC_AND_CHECK("parallel", &both);
	page_set_free(&even);
	page_set_free(&odd);
	page_set_free(&both);
}

/* The harvest cost for the report: all pages, a quarter, none. */
TEST_F(dirty, harvest_cost)
{
	struct page_set all, quarter, none = { 0 };

	bulk_round(_metadata, self, DATA_PAGES);
	page_set_stride(&all, DATA_PAGES, 1, 0);
	page_set_stride(&quarter, DATA_PAGES, 4, 0);
	guest_vcpu_write_range(&self->vm->vcpus[0], GUEST_DATA_SLOT, 0,
			       DATA_PAGES, 1);
	SYNC_AND_CHECK("all", &all);
	guest_vcpu_write_pages(&self->vm->vcpus[0], GUEST_DATA_SLOT,
			       quarter.pages, quarter.n, 2);
	SYNC_AND_CHECK("quarter", &quarter);
	SYNC_AND_CHECK("none", &none);
	page_set_free(&all);
	page_set_free(&quarter);
}

/* Host stores through the hva are not guest writes: KVM does not log them. */
TEST_F(dirty, host_writes)
{
	struct guest_slot *data = guest_vm_slot(self->vm, GUEST_DATA_SLOT);
	struct page_set a;
	struct kmig_dirty_sync s;
	__u64 taken;
	int err;

	bulk_round(_metadata, self, DATA_PAGES);
	page_set_spread(&a, DATA_PAGES, 512, 0);
	memset(data->hva, 0x5a, 64 * GUEST_PAGE_SIZE);
	guest_vcpu_write_pages(&self->vm->vcpus[0], GUEST_DATA_SLOT, a.pages,
			       a.n, 1);
	memset(data->hva, 0xa5, 64 * GUEST_PAGE_SIZE);
	/* Only that nothing breaks: what is reported is KVM's business. */
	ASSERT_EQ(0, __kmig_sync(self->t.fd, &s));
	kmig_track_take_check(&self->t, GUEST_DATA_SLOT, &a, &taken,
			      self->why, sizeof(self->why), &err);
	ASSERT_EQ(0, err);
	TH_LOG("after host writes to pages 0-63: %s", self->why[0] ?
	       self->why : "exactly the guest's pages");
	page_set_free(&a);
}

static void get_memslots(struct __test_metadata *_metadata,
			 FIXTURE_DATA(dirty) *self, struct kmig_memslot *slots,
			 __u32 want)
{
	__u32 nr = GUEST_MAX_SLOTS;

	ASSERT_EQ(0, __kmig_get_memslots(self->t.fd, slots, &nr, NULL));
	ASSERT_EQ(want, nr);
}

/* Memslots added and removed by the VMM while kmig tracks. */
TEST_F(dirty, memslot_add_delete)
{
	struct kmig_memslot slots[GUEST_MAX_SLOTS];
	struct page_set all, a, none = { 0 };
	struct kmig_dirty_sync s, s2;
	__u64 map[BITMAP_WORDS(EXTRA_PAGES)], dirty;
	int err;

	bulk_round(_metadata, self, DATA_PAGES);
	guest_vm_add_slot(self->vm, EXTRA_SLOT, GUEST_EXTRA_GPA(0), EXTRA_PAGES,
			  KVM_MEM_LOG_DIRTY_PAGES);
	ASSERT_EQ(0, __kmig_sync(self->t.fd, &s));
	ASSERT_NE(0U, s.out_flags & KMIG_SYNC_MEMSLOTS_CHANGED);
	ASSERT_LE((__u64)EXTRA_PAGES, s.dirty_pages);
	get_memslots(_metadata, self, slots, 3);
	ASSERT_EQ(EXTRA_SLOT, slots[2].id);
	ASSERT_EQ(GUEST_EXTRA_GPA(0), slots[2].gpa);
	ASSERT_EQ((__u64)EXTRA_PAGES * GUEST_PAGE_SIZE, slots[2].size);

	/* A new memslot starts fully dirty. */
	page_set_stride(&all, EXTRA_PAGES, 1, 0);
	ASSERT_EQ(0ULL, kmig_track_take_check(&self->t, EXTRA_SLOT, &all,
			&dirty, self->why, sizeof(self->why), &err))
		TH_LOG("new memslot: %s", self->why);

	/* Then exact like the others, in the same SYNC as the data slot. */
	page_set_spread(&a, EXTRA_PAGES, 7, 2);
	guest_vcpu_write_pages(&self->vm->vcpus[0], EXTRA_SLOT, a.pages, a.n, 1);
	guest_vcpu_write_pages(&self->vm->vcpus[1], GUEST_DATA_SLOT, a.pages,
			       a.n, 1);
	ASSERT_EQ(0, __kmig_sync(self->t.fd, &s2));
	ASSERT_EQ(0U, s2.out_flags & KMIG_SYNC_MEMSLOTS_CHANGED);
	ASSERT_EQ(s.generation, s2.generation);
	ASSERT_EQ(0ULL, kmig_track_take_check(&self->t, EXTRA_SLOT, &a,
			&dirty, self->why, sizeof(self->why), &err))
		TH_LOG("extra slot: %s", self->why);
	ASSERT_EQ(0ULL, kmig_track_take_check(&self->t, GUEST_DATA_SLOT, &a,
			&dirty, self->why, sizeof(self->why), &err))
		TH_LOG("data slot: %s", self->why);

	/* Deleted: dropped at the next SYNC, then ENOENT. */
	ASSERT_EQ(0, guest_vm_del_slot(self->vm, EXTRA_SLOT));
	ASSERT_EQ(0, __kmig_sync(self->t.fd, &s));
	ASSERT_NE(0U, s.out_flags & KMIG_SYNC_MEMSLOTS_CHANGED);
	ASSERT_NE(s.generation, s2.generation);
	ASSERT_EQ(-ENOENT, __kmig_get_bitmap(self->t.fd, 0, EXTRA_SLOT, 0,
					     EXTRA_PAGES, 0, map, NULL));
	get_memslots(_metadata, self, slots, 2);
	SYNC_AND_CHECK("after-delete", &none);
	page_set_free(&all);
	page_set_free(&a);
}

TEST_F(dirty, memslot_added_without_dirty_log)
{
	bulk_round(_metadata, self, DATA_PAGES);
	guest_vm_add_slot(self->vm, EXTRA_SLOT, GUEST_EXTRA_GPA(0), EXTRA_PAGES,
			  0);
	ASSERT_EQ(-ENODATA, __kmig_sync(self->t.fd, NULL));
	/* Removing it makes the VM trackable again. */
	ASSERT_EQ(0, guest_vm_del_slot(self->vm, EXTRA_SLOT));
	ASSERT_EQ(0, __kmig_sync(self->t.fd, NULL));
}

/* A read-only memslot: all dirty when it appears, clean after that. */
TEST_F(dirty, memslot_readonly)
{
	struct page_set all, none = { 0 };
	struct kmig_dirty_sync s;
	__u64 dirty;
	int err;

	bulk_round(_metadata, self, DATA_PAGES);
	guest_vm_add_slot(self->vm, EXTRA_SLOT, GUEST_EXTRA_GPA(0), EXTRA_PAGES,
			  KVM_MEM_READONLY);
	ASSERT_EQ(0, __kmig_sync(self->t.fd, &s));
	ASSERT_NE(0U, s.out_flags & KMIG_SYNC_MEMSLOTS_CHANGED);
	page_set_stride(&all, EXTRA_PAGES, 1, 0);
	ASSERT_EQ(0ULL, kmig_track_take_check(&self->t, EXTRA_SLOT, &all,
			&dirty, self->why, sizeof(self->why), &err))
		TH_LOG("%s", self->why);
	ASSERT_EQ(0, __kmig_sync(self->t.fd, &s));
	ASSERT_EQ(0ULL, kmig_track_take_check(&self->t, EXTRA_SLOT, &none,
			&dirty, self->why, sizeof(self->why), &err))
		TH_LOG("%s", self->why);
	page_set_free(&all);
}

TEST_HARNESS_MAIN
