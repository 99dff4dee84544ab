// SPDX-License-Identifier: GPL-2.0
/*
 * libkmig's static inline ring helpers (libkmig.h) against a producer
 * thread that follows the ring protocol of linux/kmig.h exactly as the
 * kernel's workers do (fill record and data, store-release tail; wait
 * while the ring is full, load-acquire head). Indices start just below
 * 2^32 so they wrap during the test. Every record and every data slot is
 * checked on the consumer side: a missing barrier or a wrong mask shows
 * as a torn or stale record.
 */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "libkmig.h"

#define ENTRIES		64
#define RECORDS		200000
#define START		(UINT32_MAX - 1000)	/* wraps after 1000 records */

struct shared {
	__u32 head, tail;
	struct kmig_rec recs[ENTRIES];
	unsigned char data[ENTRIES][KMIG_PAGE_SIZE];
};

static void *producer(void *arg)
{
	struct shared *sh = arg;
	__u32 ptail = START, i;

	for (i = 0; i < RECORDS; i++, ptail++) {
		struct kmig_rec *r = &sh->recs[ptail & (ENTRIES - 1)];

		/* Full: wait for the consumer (load-acquire of head). */
		while (ptail - __atomic_load_n(&sh->head, __ATOMIC_ACQUIRE) >= ENTRIES)
			sched_yield();
		r->gpa = (__u64)i << 12;
		r->npages = 1;
		r->kind = i % 3 ? KMIG_REC_PAGE : KMIG_REC_ZERO;
		r->len = r->kind == KMIG_REC_PAGE ? KMIG_PAGE_SIZE : 0;
		/* Data words that say which record they belong to. */
		memset(sh->data[ptail & (ENTRIES - 1)], i & 0xff, KMIG_PAGE_SIZE);
		__atomic_store_n(&sh->tail, ptail + 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

TEST(records_arrive_in_order_across_the_wrap)
{
	struct shared *sh = calloc(1, sizeof(*sh));
	struct kmig_ring ring;
	__u32 seen = 0, bad = 0, batches = 0;
	pthread_t t;

	ASSERT_NE(NULL, sh);
	memset(sh, 0, sizeof(*sh));
	sh->head = sh->tail = START;
	memset(&ring, 0, sizeof(ring));
	ring.khead = &sh->head;
	ring.ktail = &sh->tail;
	ring.mask = ENTRIES - 1;
	ring.entries = ENTRIES;
	ring.recs = sh->recs;
	ring.data = &sh->data[0][0];

	ASSERT_EQ(0, pthread_create(&t, NULL, producer, sh));
	while (seen < RECORDS) {
		__u32 ready = kmig_ring_ready(&ring), head, i;

		if (!ready) {
			sched_yield();
			continue;
		}
		ASSERT_LE(ready, (__u32)ENTRIES);
		head = kmig_ring_head(&ring);
		for (i = 0; i < ready; i++) {
			const struct kmig_rec *r = kmig_ring_rec(&ring, head + i);
			const unsigned char *d = kmig_ring_data(&ring, head + i);
			__u32 n = seen + i;

			if (r->gpa != (__u64)n << 12 || r->npages != 1 ||
			    d[0] != (n & 0xff) || d[KMIG_PAGE_SIZE - 1] != (n & 0xff))
				bad++;
		}
		seen += ready;
		batches++;
		kmig_ring_advance(&ring, ready);
	}
	pthread_join(t, NULL);
	EXPECT_EQ(0U, bad);
	EXPECT_EQ((__u32)RECORDS, seen);
	EXPECT_EQ(START + RECORDS, kmig_ring_head(&ring));
	EXPECT_EQ(0U, kmig_ring_ready(&ring));
	TH_LOG("%u records in %u batches", seen, batches);
	free(sh);
}

TEST(helpers_index_with_the_mask)
{
	struct shared *sh = calloc(1, sizeof(*sh));
	struct kmig_ring ring = { .mask = ENTRIES - 1, .entries = ENTRIES };

	ASSERT_NE(NULL, sh);
	ring.recs = sh->recs;
	ring.data = &sh->data[0][0];
	EXPECT_EQ(&sh->recs[1], kmig_ring_rec(&ring, ENTRIES + 1));
	EXPECT_EQ(&sh->recs[ENTRIES - 1], kmig_ring_rec(&ring, UINT32_MAX));
	EXPECT_EQ((const void *)sh->data[ENTRIES - 1], kmig_ring_data(&ring, UINT32_MAX));
	EXPECT_EQ((const void *)sh->data[0], kmig_ring_data(&ring, 0));
	free(sh);
}

TEST_HARNESS_MAIN
