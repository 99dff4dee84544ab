// SPDX-License-Identifier: GPL-2.0
/*
 * What libkmig hands the kernel: this test defines ioctl() itself, so the
 * libkmig.a objects linked into it call a fake /dev/kmig that records each
 * request and answers like the module would. Checks that every struct goes
 * out with size = sizeof and zeroed fields, that outputs come back (also
 * on failure where the kernel writes them back: SEND_ROUND, LOAD; not for
 * DIRTY_MARK, whose output means nothing then, nor FETCH), how
 * kmig_get_memslots() retries on -ENOSPC, and that kmig_send_setup()
 * refuses a ring layout that does not fit its mapping.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "libkmig.h"
#include "test_util.h"

/* An fd number no test opens: only ioctls on it reach the fake. */
#define FAKE_FD		1000

static struct fake {
	unsigned long request;
	unsigned char arg[128];		/* what libkmig passed, as it passed it */
	int calls;
	/* KMIG_GET_MEMSLOTS: the VM's slot count, per call (then the last). */
	unsigned int vm_slots[4];
	int nr_vm_slots;
	bool always_grow;	/* -ENOSPC, one more than offered, forever */
	bool overflow;		/* success, but one more than offered */
	int fail_errno;		/* SEND_ROUND, LOAD, DIRTY_MARK: fail after the outputs */
	bool bad_layout;	/* SEND_SETUP: data past ring_bytes */
} fake;

static void fake_reset(void)
{
	memset(&fake, 0, sizeof(fake));
}

/*
 * The recorded request holds slots_uptr; LeakSanitizer would count that
 * copy as a live reference to a buffer libkmig should have freed.
 */
static int fake_leak_check(void)
{
	memset(fake.arg, 0, sizeof(fake.arg));
	return leak_check();
}

static int fake_get_memslots(struct kmig_get_memslots *a)
{
	struct kmig_memslot *slots = (void *)(uintptr_t)a->slots_uptr;
	unsigned int n, s;

	a->generation = 100 + fake.calls;
	if (fake.always_grow || fake.overflow) {
		a->nr_slots++;
		errno = ENOSPC;
		return fake.overflow ? 0 : -1;
	}

	/* This call's slot count: the VM grows from one call to the next. */
	n = fake.vm_slots[fake.calls <= fake.nr_vm_slots ? fake.calls - 1 :
							    fake.nr_vm_slots - 1];
	if (a->nr_slots < n) {
		a->nr_slots = n;
		errno = ENOSPC;
		return -1;
	}
	for (s = 0; s < n; s++) {
		memset(&slots[s], 0, sizeof(slots[s]));
		slots[s].id = s;
		slots[s].gpa = (__u64)s << 30;
		slots[s].size = 1 << 20;
	}
	a->nr_slots = n;
	return 0;
}

/* Answers like the module, writing each output field. */
static int fake_ioctl(unsigned long request, void *arg)
{
	fake.calls++;
	fake.request = request;
	memcpy(fake.arg, arg, *(__u32 *)arg < sizeof(fake.arg) ?
				*(__u32 *)arg : sizeof(fake.arg));

	switch (request) {
	case KMIG_GET_INFO:
		((struct kmig_info *)arg)->api_version = KMIG_API_VERSION;
		((struct kmig_info *)arg)->session_id = 12;
		((struct kmig_info *)arg)->features = KMIG_FEATURE_DIRTY_RING;
		return 0;
	case KMIG_ATTACH_VM:
		((struct kmig_attach_vm *)arg)->dirty_mode = KMIG_DIRTY_MODE_RING;
		((struct kmig_attach_vm *)arg)->nr_memslots = 3;
		return 0;
	case KMIG_GET_MEMSLOTS:
		return fake_get_memslots(arg);
	case KMIG_DIRTY_START:
		((struct kmig_dirty_start *)arg)->nr_pages = 4096;
		((struct kmig_dirty_start *)arg)->nr_memslots = 2;
		return 0;
	case KMIG_DIRTY_SYNC:
		((struct kmig_dirty_sync *)arg)->dirty_pages = 5;
		((struct kmig_dirty_sync *)arg)->harvest_ns = 6;
		((struct kmig_dirty_sync *)arg)->out_flags = KMIG_SYNC_MEMSLOTS_CHANGED;
		return 0;
	case KMIG_DIRTY_GET_BITMAP:
		((struct kmig_dirty_bitmap *)arg)->dirty = 9;
		return 0;
	case KMIG_DIRTY_STOP:
		return 0;
	case KMIG_SEND_SETUP: {
		struct kmig_send_setup *a = arg;
		__u32 n = a->ring_entries;

		a->off = (struct kmig_ring_offsets){ .head = 0, .tail = 64,
			.mask = 128, .entries = 132, .flags = 136,
			.dropped = 140, .recs = 4096,
			.data = 4096 + n * 16 };
		a->ring_bytes = a->off.data + (__u64)n * KMIG_PAGE_SIZE;
		if (fake.bad_layout)
			a->ring_bytes -= 1;
		return 0;
	}
	case KMIG_SEND_ROUND: {
		struct kmig_send_round *a = arg;

		a->round = 3;
		a->pages = 100;
		a->normal = 60;
		a->zero = 30;
		a->hole = 10;
		a->bytes = 60 * 4096;
		a->scan_ns = 777;
		break;
	}
	case KMIG_RING_WAIT:
		((struct kmig_ring_wait *)arg)->ready = 17;
		return 0;
	case KMIG_DIRTY_MARK:
		((struct kmig_dirty_mark *)arg)->marked = 33;
		break;
	case KMIG_LOAD:
		((struct kmig_load *)arg)->done = 2;
		((struct kmig_load *)arg)->pages = 1;
		((struct kmig_load *)arg)->zeroed = 5;
		break;
	case KMIG_FETCH:
		/* The kernel writes FETCH's outputs only on success. */
		if (fake.fail_errno)
			break;
		((struct kmig_fetch *)arg)->nr_recs = 3;
		((struct kmig_fetch *)arg)->data_used = 2 * 4096;
		((struct kmig_fetch *)arg)->taken = 2;
		break;
	default:
		errno = ENOTTY;
		return -1;
	}
	/*
	 * SEND_ROUND, LOAD, DIRTY_MARK: outputs written, then maybe an error;
	 * FETCH: the error alone.
	 */
	if (fake.fail_errno) {
		errno = fake.fail_errno;
		return -1;
	}
	return 0;
}



int ioctl(int fd, unsigned long request, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (fd == FAKE_FD)
		return fake_ioctl(request, arg);
	return syscall(SYS_ioctl, fd, request, arg);
}

/* Every byte of @s after the header fields named by @from is zero. */
static int zero_from(const void *s, size_t from, size_t size)
{
	const unsigned char *b = s;

	for (; from < size; from++)
		if (b[from])
			return 0;
	return 1;
}

TEST(get_info)
{
	struct kmig_info info, *sent = (void *)fake.arg;

	fake_reset();
	memset(&info, 0xff, sizeof(info));
	ASSERT_EQ(0, kmig_get_info(FAKE_FD, &info));
	EXPECT_EQ(KMIG_GET_INFO, fake.request);
	EXPECT_EQ(sizeof(struct kmig_info), sent->size);
	EXPECT_TRUE(zero_from(sent, 4, sizeof(*sent)));
	EXPECT_EQ(12U, info.session_id);
	EXPECT_EQ((__u32)KMIG_API_VERSION, info.api_version);
	EXPECT_EQ(KMIG_FEATURE_DIRTY_RING, info.features);
	EXPECT_EQ(sizeof(struct kmig_info), info.size);
	/* The output is optional. */
	EXPECT_EQ(0, kmig_get_info(FAKE_FD, NULL));
}

TEST(attach_vm)
{
	struct kmig_attach_vm out, *sent = (void *)fake.arg;

	fake_reset();
	ASSERT_EQ(0, kmig_attach_vm(FAKE_FD, 42, &out));
	EXPECT_EQ(KMIG_ATTACH_VM, fake.request);
	EXPECT_EQ(sizeof(struct kmig_attach_vm), sent->size);
	EXPECT_EQ(0U, sent->flags);
	EXPECT_EQ(42, sent->vm_fd);
	EXPECT_TRUE(zero_from(sent, offsetof(struct kmig_attach_vm, __reserved),
			      sizeof(*sent)));
	EXPECT_EQ((__u32)KMIG_DIRTY_MODE_RING, out.dirty_mode);
	EXPECT_EQ(3U, out.nr_memslots);
	EXPECT_EQ(0, kmig_attach_vm(FAKE_FD, 42, NULL));
}

TEST(dirty_start_sync_stop)
{
	struct kmig_dirty_start start;
	struct kmig_dirty_sync sync;

	fake_reset();
	ASSERT_EQ(0, kmig_dirty_start(FAKE_FD, &start));
	EXPECT_EQ(KMIG_DIRTY_START, fake.request);
	EXPECT_EQ(sizeof(struct kmig_dirty_start), *(__u32 *)fake.arg);
	EXPECT_TRUE(zero_from(fake.arg, 4, sizeof(start)));
	EXPECT_EQ(4096ULL, start.nr_pages);
	EXPECT_EQ(2U, start.nr_memslots);

	ASSERT_EQ(0, kmig_dirty_sync(FAKE_FD, &sync));
	EXPECT_EQ(KMIG_DIRTY_SYNC, fake.request);
	EXPECT_EQ(sizeof(struct kmig_dirty_sync), *(__u32 *)fake.arg);
	EXPECT_TRUE(zero_from(fake.arg, 4, sizeof(sync)));
	EXPECT_EQ(5ULL, sync.dirty_pages);
	EXPECT_EQ(6ULL, sync.harvest_ns);
	EXPECT_EQ(KMIG_SYNC_MEMSLOTS_CHANGED, sync.out_flags);

	ASSERT_EQ(0, kmig_dirty_stop(FAKE_FD));
	EXPECT_EQ(KMIG_DIRTY_STOP, fake.request);
	EXPECT_EQ(sizeof(struct kmig_dirty_stop), *(__u32 *)fake.arg);
	EXPECT_TRUE(zero_from(fake.arg, 4, sizeof(struct kmig_dirty_stop)));
}

TEST(dirty_get_bitmap)
{
	struct kmig_dirty_bitmap *sent = (void *)fake.arg;
	__u64 bitmap[2], dirty = 0;

	fake_reset();
	ASSERT_EQ(0, kmig_dirty_get_bitmap(FAKE_FD, 1, 7, 128, 100, bitmap,
					   KMIG_BITMAP_CLEAR, &dirty));
	EXPECT_EQ(KMIG_DIRTY_GET_BITMAP, fake.request);
	EXPECT_EQ(sizeof(struct kmig_dirty_bitmap), sent->size);
	EXPECT_EQ(KMIG_BITMAP_CLEAR, sent->flags);
	EXPECT_EQ(1, sent->as_id);
	EXPECT_EQ(7, sent->slot_id);
	EXPECT_EQ(0U, sent->__reserved);
	EXPECT_EQ(128ULL, sent->first_page);
	EXPECT_EQ(100ULL, sent->nr_pages);
	EXPECT_EQ((__u64)(uintptr_t)bitmap, sent->bitmap_uptr);
	EXPECT_EQ(0ULL, sent->dirty);
	EXPECT_EQ(9ULL, dirty);
}

/*
 * The VMM's marks: its own VM fd, the caller's array with the entry size
 * of this header, and the count of pages marked back; nothing back on
 * failure.
 */
TEST(dirty_mark)
{
	struct kmig_dirty_range ranges[2] = {
		{ .gpa = 0x200000, .npages = 1 },
		{ .gpa = 0x100000000ULL, .npages = 3, .as_id = 1 },
	};
	struct kmig_dirty_mark *sent = (void *)fake.arg;
	__u64 marked = 0;

	fake_reset();
	ASSERT_EQ(0, kmig_dirty_mark(FAKE_FD, 42, ranges, 2, &marked));
	EXPECT_EQ(KMIG_DIRTY_MARK, fake.request);
	EXPECT_EQ(sizeof(struct kmig_dirty_mark), sent->size);
	EXPECT_EQ(0U, sent->flags);
	EXPECT_EQ(42, sent->vm_fd);
	EXPECT_EQ(2U, sent->nr_ranges);
	EXPECT_EQ((__u64)(uintptr_t)ranges, sent->ranges_uptr);
	EXPECT_EQ(sizeof(struct kmig_dirty_range), sent->range_size);
	EXPECT_EQ(0U, sent->__reserved);
	EXPECT_EQ(0ULL, sent->marked);
	EXPECT_EQ(33ULL, marked);
	/* The caller's ranges are only read. */
	EXPECT_EQ(0x100000000ULL, ranges[1].gpa);
	EXPECT_EQ(3U, ranges[1].npages);
	EXPECT_EQ(0, kmig_dirty_mark(FAKE_FD, 42, ranges, 2, NULL));

	fake.fail_errno = EBADF;
	marked = 7;
	EXPECT_EQ(-EBADF, kmig_dirty_mark(FAKE_FD, 42, ranges, 2, &marked));
	EXPECT_EQ(7ULL, marked);
}

TEST(get_memslots_fits_first_time)
{
	struct kmig_memslot *slots = NULL;
	unsigned int nr = 0;
	__u64 gen = 0;

	fake_reset();
	fake.vm_slots[0] = 3;
	fake.nr_vm_slots = 1;
	ASSERT_EQ(0, kmig_get_memslots(FAKE_FD, &slots, &nr, &gen));
	EXPECT_EQ(1, fake.calls);
	EXPECT_EQ(sizeof(struct kmig_get_memslots), *(__u32 *)fake.arg);
	ASSERT_EQ(3U, nr);
	ASSERT_NE(NULL, slots);
	EXPECT_EQ(2, slots[2].id);
	EXPECT_EQ(2ULL << 30, slots[2].gpa);
	EXPECT_EQ(101ULL, gen);
	free(slots);
}

/* What one kmig_get_memslots() call returned, with its buffer freed. */
struct memslots_result {
	int ret;
	unsigned int nr;
	bool outputs_untouched;	/* *slots and *nr as before the call */
	bool slots_null;
	int last_id;		/* slots[nr - 1].id, read inside the buffer */
};

static void *get_memslots_thread(void *arg)
{
	struct kmig_memslot *const sentinel = (void *)&fake;
	struct kmig_memslot *slots = sentinel;
	struct memslots_result *r = arg;
	unsigned int nr = 9;

	r->ret = kmig_get_memslots(FAKE_FD, &slots, &nr, NULL);
	r->nr = nr;
	r->outputs_untouched = slots == sentinel && nr == 9;
	r->slots_null = !slots;
	if (r->ret == 0 && nr)
		r->last_id = slots[nr - 1].id;	/* ASan: inside the allocation */
	if (slots != sentinel)
		free(slots);
	return NULL;
}

/*
 * Runs the call on a thread of its own: once that thread has exited, no
 * stale copy of the buffer's address is left on a live stack or in a
 * register, where LeakSanitizer's conservative scan would count it as a
 * reference and miss a leak.
 */
static struct memslots_result get_memslots_once(void)
{
	struct memslots_result r = { .ret = -ECHILD, .last_id = -1 };
	pthread_t t;

	if (pthread_create(&t, NULL, get_memslots_thread, &r) == 0)
		pthread_join(t, NULL);
	return r;
}

/* The VM grows between the calls: each -ENOSPC says how many are needed. */
TEST(get_memslots_retries_on_enospc)
{
	struct memslots_result r;

	fake_reset();
	fake.vm_slots[0] = 40;
	fake.vm_slots[1] = 50;
	fake.vm_slots[2] = 50;
	fake.nr_vm_slots = 3;
	r = get_memslots_once();
	EXPECT_EQ(0, r.ret);
	EXPECT_EQ(3, fake.calls);
	EXPECT_EQ(50U, r.nr);
	EXPECT_EQ(49, r.last_id);
	EXPECT_EQ(0, fake_leak_check());
}

TEST(get_memslots_no_slots_is_null)
{
	struct memslots_result r;

	fake_reset();
	fake.nr_vm_slots = 1;
	r = get_memslots_once();
	EXPECT_EQ(0, r.ret);
	EXPECT_EQ(0U, r.nr);
	EXPECT_TRUE(r.slots_null);
	EXPECT_EQ(0, fake_leak_check());
}

/* A VMM that never stops adding memslots cannot keep libkmig looping. */
TEST(get_memslots_gives_up)
{
	struct memslots_result r;

	fake_reset();
	fake.always_grow = true;
	r = get_memslots_once();
	EXPECT_EQ(-ENOSPC, r.ret);
	EXPECT_EQ(16, fake.calls);
	/* Outputs untouched on failure, and the buffer freed. */
	EXPECT_TRUE(r.outputs_untouched);
	EXPECT_EQ(0, fake_leak_check());
}

/* A kernel claiming more slots than the buffer holds must not be believed. */
TEST(get_memslots_rejects_overflow)
{
	struct memslots_result r;

	fake_reset();
	fake.overflow = true;
	r = get_memslots_once();
	EXPECT_EQ(-EIO, r.ret);
	EXPECT_TRUE(r.outputs_untouched);
	EXPECT_EQ(0, fake_leak_check());
}

TEST(send_round_outputs_also_on_failure)
{
	struct kmig_send_round out, *sent = (void *)fake.arg;

	fake_reset();
	ASSERT_EQ(0, kmig_send_round(FAKE_FD, &out));
	EXPECT_EQ(KMIG_SEND_ROUND, fake.request);
	EXPECT_EQ(sizeof(struct kmig_send_round), sent->size);
	EXPECT_TRUE(zero_from(sent, 4, sizeof(*sent)));
	EXPECT_EQ(3U, out.round);
	EXPECT_EQ(60ULL, out.normal);
	EXPECT_EQ(777ULL, out.scan_ns);

	/* -EINTR part way: the kernel's counters still come back. */
	fake.fail_errno = EINTR;
	memset(&out, 0, sizeof(out));
	EXPECT_EQ(-EINTR, kmig_send_round(FAKE_FD, &out));
	EXPECT_EQ(100ULL, out.pages);
	EXPECT_EQ(-EINTR, kmig_send_round(FAKE_FD, NULL));
}

TEST(ring_wait)
{
	struct kmig_ring_wait *sent = (void *)fake.arg;
	__u32 ready = 0;

	fake_reset();
	ASSERT_EQ(0, kmig_ring_wait(FAKE_FD, 5, 250, &ready));
	EXPECT_EQ(KMIG_RING_WAIT, fake.request);
	EXPECT_EQ(sizeof(struct kmig_ring_wait), sent->size);
	EXPECT_EQ(0U, sent->flags);
	EXPECT_EQ(5U, sent->ring);
	EXPECT_EQ(250U, sent->timeout_ms);
	EXPECT_EQ(0U, sent->ready);
	EXPECT_EQ(0U, sent->__reserved);
	EXPECT_EQ(17U, ready);
	EXPECT_EQ(0, kmig_ring_wait(FAKE_FD, 0, 0, NULL));
}

TEST(load_outputs_also_on_failure)
{
	struct kmig_rec recs[2] = { { .gpa = 0x1000, .npages = 1,
				      .kind = KMIG_REC_ZERO } };
	struct kmig_load out, *sent = (void *)fake.arg;
	char data[16];

	fake_reset();
	ASSERT_EQ(0, kmig_load(FAKE_FD, recs, 2, data, sizeof(data), &out));
	EXPECT_EQ(KMIG_LOAD, fake.request);
	EXPECT_EQ(sizeof(struct kmig_load), sent->size);
	EXPECT_EQ(0U, sent->flags);
	EXPECT_EQ(2U, sent->nr_recs);
	EXPECT_EQ(0U, sent->__reserved);
	EXPECT_EQ((__u64)(uintptr_t)recs, sent->recs_uptr);
	EXPECT_EQ((__u64)(uintptr_t)data, sent->data_uptr);
	EXPECT_EQ(sizeof(data), sent->data_len);
	EXPECT_EQ(0ULL, sent->done);
	EXPECT_EQ(5ULL, out.zeroed);

	fake.fail_errno = EINVAL;
	memset(&out, 0, sizeof(out));
	EXPECT_EQ(-EINVAL, kmig_load(FAKE_FD, recs, 2, data, sizeof(data), &out));
	EXPECT_EQ(2ULL, out.done);
}

TEST(fetch_builds_its_struct)
{
	struct kmig_dirty_range ranges[2] = { { .gpa = 0x2000, .npages = 3 } };
	struct kmig_fetch out, *sent = (void *)fake.arg;
	struct kmig_rec recs[3];
	char data[3 * 4096];

	fake_reset();
	ASSERT_EQ(0, kmig_fetch(FAKE_FD, ranges, 1, recs, data, sizeof(data),
				&out));
	EXPECT_EQ(KMIG_FETCH, fake.request);
	EXPECT_EQ(sizeof(struct kmig_fetch), sent->size);
	EXPECT_EQ(0U, sent->flags);
	EXPECT_EQ(1U, sent->nr_ranges);
	EXPECT_EQ(sizeof(struct kmig_dirty_range), sent->range_size);
	EXPECT_EQ((__u64)(uintptr_t)ranges, sent->ranges_uptr);
	EXPECT_EQ((__u64)(uintptr_t)recs, sent->recs_uptr);
	EXPECT_EQ(sizeof(struct kmig_rec), sent->rec_size);
	EXPECT_EQ((__u64)(uintptr_t)data, sent->data_uptr);
	EXPECT_EQ(sizeof(data), sent->data_len);
	EXPECT_EQ(0U, sent->__reserved);
	EXPECT_EQ(0U, sent->__reserved2);
	EXPECT_EQ(3U, out.nr_recs);
	EXPECT_EQ(2ULL * 4096, out.data_used);
	EXPECT_EQ(2ULL, out.taken);
	/* out may be NULL. */
	ASSERT_EQ(0, kmig_fetch(FAKE_FD, ranges, 1, recs, data, sizeof(data),
				NULL));

	/* A failed fetch leaves @out alone: the kernel wrote nothing. */
	fake.fail_errno = ENOSPC;
	memset(&out, 0x5a, sizeof(out));
	EXPECT_EQ(-ENOSPC, kmig_fetch(FAKE_FD, ranges, 1, recs, data, 4096,
				      &out));
	EXPECT_EQ(0x5a5a5a5aU, out.nr_recs);
}

TEST(send_setup_checks_the_layout)
{
	struct kmig_send_setup *sent = (void *)fake.arg;
	struct kmig_ring *rings = (void *)&fake;

	fake_reset();
	fake.bad_layout = true;
	EXPECT_EQ(-EPROTO, kmig_send_setup(FAKE_FD, 2, 64, &rings));
	EXPECT_EQ(KMIG_SEND_SETUP, fake.request);
	EXPECT_EQ(sizeof(struct kmig_send_setup), sent->size);
	EXPECT_EQ(2U, sent->nr_workers);
	EXPECT_EQ(64U, sent->ring_entries);
	EXPECT_TRUE(zero_from(sent, offsetof(struct kmig_send_setup, ring_bytes),
			      sizeof(*sent)));
	EXPECT_EQ((void *)&fake, rings);	/* untouched on failure */

	/* A good layout, but FAKE_FD cannot be mapped: mmap's error. */
	fake.bad_layout = false;
	EXPECT_EQ(-EBADF, kmig_send_setup(FAKE_FD, 2, 64, &rings));
	EXPECT_EQ((void *)&fake, rings);
	EXPECT_EQ(-EINVAL, kmig_send_setup(FAKE_FD, 2, 64, NULL));
	EXPECT_EQ(0, fake_leak_check());
}

TEST(unknown_fd_still_reaches_the_kernel)
{
	EXPECT_EQ(-EBADF, kmig_get_info(-1, NULL));
}

TEST_HARNESS_MAIN
