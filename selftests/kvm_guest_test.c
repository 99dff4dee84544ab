// SPDX-License-Identifier: GPL-2.0
/*
 * The test VM against KVM alone, no kmig: KVM's own dirty log must report
 * exactly the pages the guest wrote in each round, in every dirty-logging
 * mode, and the system memslot must stay clean after the warm-up. The kmig
 * tests rely on both; if this fails, their failures say nothing about kmig.
 */
#include <stdlib.h>

#include "kselftest_harness.h"
#include "kvm_guest.h"
#include "page_sets.h"
#include "test_util.h"

#define DATA_PAGES	4096

FIXTURE(guest) {
	struct guest_vm *vm;
	__u64 npages;
	__u64 *seen;
};

FIXTURE_VARIANT(guest) {
	enum guest_dirty_mode mode;
	bool memfd;
};

FIXTURE_VARIANT_ADD(guest, bitmap) { .mode = GUEST_DIRTY_BITMAP };
FIXTURE_VARIANT_ADD(guest, manual) { .mode = GUEST_DIRTY_MANUAL };
FIXTURE_VARIANT_ADD(guest, manual_initset) { .mode = GUEST_DIRTY_MANUAL_INITSET };
FIXTURE_VARIANT_ADD(guest, ring) { .mode = GUEST_DIRTY_RING };
FIXTURE_VARIANT_ADD(guest, bitmap_memfd) { .mode = GUEST_DIRTY_BITMAP, .memfd = true };

static pthread_mutex_t harvest_lock = PTHREAD_MUTEX_INITIALIZER;

/* vCPU threads share the bitmap and each ring's fetch index. */
static void ring_full_harvest(struct guest_vcpu *vcpu, void *opaque)
{
	pthread_mutex_lock(&harvest_lock);
	guest_kvm_harvest(vcpu->vm, GUEST_DATA_SLOT, opaque, NULL);
	pthread_mutex_unlock(&harvest_lock);
}

FIXTURE_SETUP(guest)
{
	struct guest_vm_opts opts = {
		.mode = variant->mode, .memfd = variant->memfd,
		.data_pages = DATA_PAGES, .nr_vcpus = 2,
		.ring_bytes = 4096,	/* small: runs hit KVM_EXIT_DIRTY_RING_FULL */
	};
	__u64 sys[BITMAP_WORDS(GUEST_SYS_PAGES)] = { 0 };
	const char *why;

	if (!guest_dirty_mode_supported(variant->mode, &why))
		SETUP_SKIP("%s", why);
	self->npages = DATA_PAGES;
	self->vm = guest_vm_create(&opts);
	self->seen = calloc(BITMAP_WORDS(DATA_PAGES), sizeof(__u64));
	self->vm->ring_full = ring_full_harvest;
	self->vm->ring_full_opaque = self->seen;
	/* Drain: INITIALLY_SET starts all-dirty; ring mode has warm-up pages. */
	guest_kvm_harvest(self->vm, GUEST_DATA_SLOT, self->seen, sys);
	memset(self->seen, 0, BITMAP_WORDS(DATA_PAGES) * sizeof(__u64));
}

FIXTURE_TEARDOWN(guest)
{
	guest_vm_free(self->vm);
	free(self->seen);
}

/* Harvests the data slot and compares with @want; checks the system slot. */
static __u64 harvest_diff(struct __test_metadata *_metadata,
			  FIXTURE_DATA(guest) *self, const struct page_set *want,
			  char *why, size_t len)
{
	__u64 *expect = page_set_bitmap(want, self->npages);
	__u64 sys[BITMAP_WORDS(GUEST_SYS_PAGES)] = { 0 };
	__u64 other, diff;

	other = guest_kvm_harvest(self->vm, GUEST_DATA_SLOT, self->seen, sys);
	EXPECT_EQ(0ULL, other) TH_LOG("dirty ring entries of unknown memslots");
	sys[0] &= ~GUEST_SYS_MAY_DIRTY;
	EXPECT_EQ(0ULL, bitmap_weight64(sys, GUEST_SYS_PAGES))
		TH_LOG("system memslot pages dirty, first word 0x%llx",
		       (unsigned long long)sys[0]);
	diff = bitmap_diff64(expect, self->seen, self->npages, why, len);
	memset(self->seen, 0, BITMAP_WORDS(self->npages) * sizeof(__u64));
	free(expect);
	return diff;
}

TEST_F(guest, rounds)
{
	struct page_set a, b, fresh, old, none = { 0 };
	char why[256];

	page_set_spread(&a, self->npages, 97, 5);
	guest_vcpu_write_pages(&self->vm->vcpus[0], GUEST_DATA_SLOT, a.pages,
			       a.n, 1);
	ASSERT_EQ(0ULL, harvest_diff(_metadata, self, &a, why, sizeof(why)))
		TH_LOG("round A: %s", why);

	page_set_stride(&fresh, self->npages, 89, 3);
	page_set_every_other(&old, &a);
	page_set_union(&b, &old, &fresh);
	guest_vcpu_write_pages(&self->vm->vcpus[1], GUEST_DATA_SLOT, b.pages,
			       b.n, 2);
	ASSERT_EQ(0ULL, harvest_diff(_metadata, self, &b, why, sizeof(why)))
		TH_LOG("round B: %s", why);

	guest_vcpu_idle(&self->vm->vcpus[0]);
	ASSERT_EQ(0ULL, harvest_diff(_metadata, self, &none, why, sizeof(why)))
		TH_LOG("idle round: %s", why);
	page_set_free(&a);
	page_set_free(&b);
	page_set_free(&old);
	page_set_free(&fresh);
}

/* In ring mode, 1000 pages in one run overflow a 256-entry ring. */
TEST_F(guest, many_pages_one_run)
{
	struct page_set all;
	char why[256];
	__u64 t0 = now_ns();

	page_set_stride(&all, self->npages, 4, 1);
	guest_vcpu_write_pages(&self->vm->vcpus[0], GUEST_DATA_SLOT, all.pages,
			       all.n, 3);
	TH_LOG("%llu pages written in %llu us, %lu ring-full exits",
	       (unsigned long long)all.n,
	       (unsigned long long)(now_ns() - t0) / 1000,
	       self->vm->vcpus[0].ring_full_exits);
	if (variant->mode == GUEST_DIRTY_RING)
		ASSERT_LT(0UL, self->vm->vcpus[0].ring_full_exits);
	ASSERT_EQ(0ULL, harvest_diff(_metadata, self, &all, why, sizeof(why)))
		TH_LOG("%s", why);
	page_set_free(&all);
}

TEST_F(guest, two_vcpus_in_parallel)
{
	struct page_set even, odd, both;
	const __u64 *pages[2];
	__u64 n[2];
	char why[256];

	/* 680 pages each: in ring mode both vCPUs fill their rings. */
	page_set_stride(&even, self->npages, 6, 0);
	page_set_stride(&odd, self->npages, 6, 3);
	page_set_union(&both, &even, &odd);
	pages[0] = even.pages;
	pages[1] = odd.pages;
	n[0] = even.n;
	n[1] = odd.n;
	guest_vm_write_parallel(self->vm, GUEST_DATA_SLOT, pages, n, 4);
	ASSERT_EQ(0ULL, harvest_diff(_metadata, self, &both, why, sizeof(why)))
		TH_LOG("%s", why);
	page_set_free(&even);
	page_set_free(&odd);
	page_set_free(&both);
}

TEST_HARNESS_MAIN
