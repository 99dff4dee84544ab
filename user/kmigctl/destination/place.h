/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Postcopy on the destination: placing pages into the running VM's RAM
 * through the userfaultfd its VMM handed over (VMM_POSTCOPY_BEGIN), and
 * knowing which pages are still missing.
 *
 * A page is "pending" from the source's DISCARD (its copy here is stale
 * and was dropped) until a copy of it has been placed. Every page is
 * placed atomically (UFFDIO_COPY, UFFDIO_ZEROPAGE): whole or not at all,
 * and never twice: a second copy (a requested page that the background
 * stream also carried) finds the page present and is dropped. A pending
 * bit is cleared only once its page is present, so a fault on a page
 * that is not pending can be resolved here, without the source: its copy
 * is in place already, or it is one the stream said is zero or never
 * populated (those are left unpopulated and fault as missing).
 */
#ifndef KMIGCTL_PLACE_H
#define KMIGCTL_PLACE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "stream.h"

/* Fault latency histogram: bucket i counts latencies in [2^i, 2^(i+1)) µs. */
#define PLACE_LAT_BUCKETS	32

struct placer {
	int uffd;
	const struct kms_layout *layout;
	uint64_t hva[KMS_MAX_REGIONS];	/* each region's address in the VMM */
	uint64_t nr_pages;		/* over the layout */
	_Atomic uint64_t *pending;	/* bit per page: stale, not placed */
	_Atomic uint64_t *requested;	/* bit per page: asked for */
	_Atomic uint64_t *t_fault;	/* per page: when it faulted (ns), 0 */
	atomic_uint_fast64_t nr_pending;

	/* Counters (report and netlink-like status). */
	atomic_uint_fast64_t discarded;
	atomic_uint_fast64_t urgent_pages, urgent_bytes;	/* preempt */
	atomic_uint_fast64_t bg_pages, bg_bytes;		/* data channels */
	atomic_uint_fast64_t duplicates;	/* already present: dropped */
	atomic_uint_fast64_t faults;		/* fault events read */
	atomic_uint_fast64_t local_zero;	/* resolved without the source */
	atomic_uint_fast64_t requests;		/* pages asked for (faults) */
	atomic_uint_fast64_t ahead;		/* asked for after a fault's */
	atomic_uint_fast64_t pulled;		/* recovery: pages pulled */
	atomic_uint_fast64_t blocked_ns;	/* sum of fault latencies */
	atomic_uint_fast64_t max_ns;
	atomic_uint_fast64_t lat_hist[PLACE_LAT_BUCKETS];
	/*
	 * Where a requested page's latency goes (means, for the benchmark's
	 * breakdown): the fault read until its REQUEST is sent, and its RAM
	 * frame received until placed; the rest is the source's serving
	 * (its report) and the wire both ways with the wake-ups.
	 */
	atomic_uint_fast64_t request_ns, request_frames;
	atomic_uint_fast64_t place_ns, place_frames;	/* urgent frames */
	atomic_uint_fast64_t urgent_lat_ns, urgent_lat_n;	/* requested pages */

	pthread_mutex_t lat_lock;		/* protects @lat */
	uint32_t *lat;				/* each fault's latency, µs */
	size_t nr_lat, cap_lat;
};

/* Per placing thread: a zstd context and a page buffer. */
struct place_ctx {
	void *dctx;
	/* A ZSTD record's pages: one, or a run (KMS_F_ZSTD_RUN). */
	uint8_t page[KMS_ZSTD_RUN_MAX * KMS_PAGE_SIZE];
};

/*
 * @hva: each layout region's address in the VMM (from KMIG_GET_MEMSLOTS).
 * The uffd stays the caller's to close.
 */
int placer_init(struct placer *pl, int uffd, const struct kms_layout *l,
		const uint64_t *hva);
void placer_destroy(struct placer *pl);

/* Marks a DISCARD range pending (before the VM starts). */
void placer_discard(struct placer *pl, uint64_t gpa, uint64_t npages);

static inline bool placer_test(_Atomic uint64_t *bits, uint64_t i)
{
	return atomic_load(&bits[i / 64]) & (1ULL << (i % 64));
}

/* The gpa of the page at @hva in the VMM, or UINT64_MAX: not guest RAM. */
uint64_t placer_gpa(const struct placer *pl, uint64_t hva);

int place_ctx_init(struct place_ctx *c);
void place_ctx_destroy(struct place_ctx *c);

/*
 * Places the pages of a checked RAM frame that are still pending
 * (@urgent: it came on the preempt channel). 0 or -errno with @e set.
 */
int place_frame(struct placer *pl, struct place_ctx *c,
		const struct kms_ram *ram, bool urgent, struct kms_error *e);

/*
 * A fault on @gpa: 1 if the source must send it (pending and not yet
 * asked for: the caller sends the REQUEST), 0 if it was resolved here or
 * is already on its way, -errno on failure.
 */
int place_fault(struct placer *pl, uint64_t gpa, uint64_t t_ns,
		struct kms_error *e);

/*
 * The pages after @gpa's in its region, up to @max, that are pending and
 * not asked for yet, until the first that is not: marked asked for, their
 * addresses into @out. Returns how many (the caller sends the REQUEST).
 */
uint32_t place_ahead(struct placer *pl, uint64_t gpa, uint32_t max,
		     uint64_t *out);

/* Latency percentile @p (0..100) in µs over the faults so far; 0: none. */
uint32_t placer_latency(struct placer *pl, double p);

#endif /* KMIGCTL_PLACE_H */
