// SPDX-License-Identifier: GPL-2.0
/*
 * Placing postcopy pages (place.h). The userfaultfd's ioctls act on the
 * VMM's address space although this is another process: the context
 * belongs to the mm that created it, and UFFDIO_COPY reads its source
 * from ours.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/userfaultfd.h>
#include <zstd.h>

#include "clock.h"
#include "place.h"

int placer_init(struct placer *pl, int uffd, const struct kms_layout *l,
		const uint64_t *hva)
{
	uint64_t words;

	memset(pl, 0, sizeof(*pl));
	pl->uffd = uffd;
	pl->layout = l;
	memcpy(pl->hva, hva, l->nr * sizeof(*hva));
	pl->nr_pages = kms_layout_bytes(l) / KMS_PAGE_SIZE;
	words = (pl->nr_pages + 63) / 64;
	pl->pending = calloc(words, sizeof(*pl->pending));
	pl->requested = calloc(words, sizeof(*pl->requested));
	pl->t_fault = calloc(pl->nr_pages, sizeof(*pl->t_fault));
	pthread_mutex_init(&pl->lat_lock, NULL);
	if (!pl->pending || !pl->requested || !pl->t_fault)
		return -ENOMEM;
	return 0;
}

void placer_destroy(struct placer *pl)
{
	free(pl->pending);
	free(pl->requested);
	free(pl->t_fault);
	free(pl->lat);
	pthread_mutex_destroy(&pl->lat_lock);
	pl->pending = NULL;
	pl->requested = NULL;
	pl->t_fault = NULL;
	pl->lat = NULL;
}

static bool bit_set(_Atomic uint64_t *bits, uint64_t i)
{
	uint64_t m = 1ULL << (i % 64);

	return !(atomic_fetch_or(&bits[i / 64], m) & m);
}

static void bit_clear(_Atomic uint64_t *bits, uint64_t i)
{
	atomic_fetch_and(&bits[i / 64], ~(1ULL << (i % 64)));
}

void placer_discard(struct placer *pl, uint64_t gpa, uint64_t npages)
{
	uint64_t first = kms_layout_page_index(pl->layout, gpa), i;

	/* kms_discard_decode() checked the range lies in one region. */
	for (i = 0; i < npages; i++)
		if (bit_set(pl->pending, first + i))
			atomic_fetch_add(&pl->nr_pending, 1);
	atomic_fetch_add(&pl->discarded, npages);
}

uint64_t placer_gpa(const struct placer *pl, uint64_t hva)
{
	const struct kms_layout *l = pl->layout;
	uint32_t i;

	for (i = 0; i < l->nr; i++)
		if (hva >= pl->hva[i] && hva - pl->hva[i] < l->r[i].size)
			return l->r[i].gpa + ((hva - pl->hva[i]) & ~(uint64_t)(KMS_PAGE_SIZE - 1));
	return UINT64_MAX;
}

/* The hva of @gpa's page; the layout checks were done by the decoder. */
static uint64_t placer_hva(const struct placer *pl, uint64_t gpa)
{
	const struct kms_layout *l = pl->layout;
	uint32_t i;

	for (i = 0; i < l->nr; i++)
		if (gpa >= l->r[i].gpa && gpa - l->r[i].gpa < l->r[i].size)
			return pl->hva[i] + (gpa - l->r[i].gpa);
	return 0;
}

static void placer_latency_add(struct placer *pl, uint64_t ns)
{
	uint64_t us = ns / 1000, max;
	uint32_t b = 0;

	while (b + 1 < PLACE_LAT_BUCKETS && (us >> (b + 1)))
		b++;
	atomic_fetch_add(&pl->lat_hist[b], 1);
	atomic_fetch_add(&pl->blocked_ns, ns);
	max = atomic_load(&pl->max_ns);
	while (ns > max && !atomic_compare_exchange_weak(&pl->max_ns, &max, ns))
		;
	pthread_mutex_lock(&pl->lat_lock);
	if (pl->nr_lat == pl->cap_lat) {
		size_t cap = pl->cap_lat ? 2 * pl->cap_lat : 4096;
		uint32_t *n = realloc(pl->lat, cap * sizeof(*n));

		if (n) {
			pl->lat = n;
			pl->cap_lat = cap;
		}
	}
	if (pl->nr_lat < pl->cap_lat)
		pl->lat[pl->nr_lat++] = us > UINT32_MAX ? UINT32_MAX : us;
	pthread_mutex_unlock(&pl->lat_lock);
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

uint32_t placer_latency(struct placer *pl, double p)
{
	uint32_t v = 0;
	size_t i;

	pthread_mutex_lock(&pl->lat_lock);
	if (pl->nr_lat) {
		qsort(pl->lat, pl->nr_lat, sizeof(*pl->lat), u32_cmp);
		i = (size_t)(p / 100.0 * (pl->nr_lat - 1) + 0.5);
		v = pl->lat[i < pl->nr_lat ? i : pl->nr_lat - 1];
	}
	pthread_mutex_unlock(&pl->lat_lock);
	return v;
}

/* One ioctl on the uffd; -EAGAIN (the mm is changing) is retried. */
static int placer_ioctl(struct placer *pl, unsigned long req, void *arg)
{
	int ret;

	do {
		ret = ioctl(pl->uffd, req, arg) ? -errno : 0;
	} while (ret == -EAGAIN || ret == -EINTR);
	return ret;
}

/* Wakes whoever waits on the page (its fault was resolved by another). */
static int placer_wake(struct placer *pl, uint64_t hva)
{
	struct uffdio_range r = { .start = hva, .len = KMS_PAGE_SIZE };

	return placer_ioctl(pl, UFFDIO_WAKE, &r);
}

/*
 * Places one page at @gpa: @data, or zeros when NULL. 1 placed, 0 it was
 * present already (dropped), -errno.
 */
static int placer_put(struct placer *pl, uint64_t hva, const void *data)
{
	int ret;

	if (data) {
		struct uffdio_copy c = {
			.dst = hva, .src = (uintptr_t)data, .len = KMS_PAGE_SIZE,
		};

		ret = placer_ioctl(pl, UFFDIO_COPY, &c);
	} else {
		struct uffdio_zeropage z = {
			.range = { .start = hva, .len = KMS_PAGE_SIZE },
		};

		ret = placer_ioctl(pl, UFFDIO_ZEROPAGE, &z);
	}
	if (ret == -EEXIST)
		return placer_wake(pl, hva) ?: 0;
	return ret ?: 1;
}

/* A copy of the page at @gpa arrived: place it if it is still missing. */
static int place_page(struct placer *pl, uint64_t gpa, const void *data,
		      bool urgent, struct kms_error *e)
{
	uint64_t i = kms_layout_page_index(pl->layout, gpa), t;
	int ret;

	if (!placer_test(pl->pending, i)) {
		atomic_fetch_add(&pl->duplicates, 1);
		return 0;
	}
	ret = placer_put(pl, placer_hva(pl, gpa), data);
	if (ret < 0) {
		kms_errorf(e, "placing the page at gpa 0x%" PRIx64 ": %s", gpa,
			   strerror(-ret));
		return ret;
	}
	if (!ret) {
		atomic_fetch_add(&pl->duplicates, 1);
		return 0;
	}
	/* Present now: only from here may a fault be resolved locally. */
	bit_clear(pl->pending, i);
	atomic_fetch_sub(&pl->nr_pending, 1);
	if (urgent) {
		atomic_fetch_add(&pl->urgent_pages, 1);
		atomic_fetch_add(&pl->urgent_bytes, KMS_PAGE_SIZE);
	} else {
		atomic_fetch_add(&pl->bg_pages, 1);
	}
	t = atomic_exchange(&pl->t_fault[i], 0);
	if (t) {
		t = now_ns() - t;
		placer_latency_add(pl, t);
		if (placer_test(pl->requested, i)) {
			atomic_fetch_add(&pl->urgent_lat_ns, t);
			atomic_fetch_add(&pl->urgent_lat_n, 1);
		}
	}
	return 0;
}

int place_ctx_init(struct place_ctx *c)
{
	c->dctx = ZSTD_createDCtx();
	return c->dctx ? 0 : -ENOMEM;
}

void place_ctx_destroy(struct place_ctx *c)
{
	ZSTD_freeDCtx(c->dctx);
	c->dctx = NULL;
}

int place_frame(struct placer *pl, struct place_ctx *c,
		const struct kms_ram *ram, bool urgent, struct kms_error *e)
{
	const uint8_t *data = ram->data;
	const uint8_t *pages;
	uint32_t i;
	uint64_t p;
	size_t n;
	int ret;

	for (i = 0; i < ram->nr; i++) {
		const struct kmig_rec *r = &ram->recs[i];

		switch (r->kind) {
		case KMS_REC_PAGE:
			pages = data;
			data += r->len;
			break;
		case KMS_REC_ZSTD:
			/*
			 * Its pages whole or nothing, as KMIG_LOAD insists too
			 * (a run longer than the buffer cannot come out exact).
			 */
			n = ZSTD_decompressDCtx(c->dctx, c->page, sizeof(c->page),
						data, r->len);
			if (ZSTD_isError(n) ||
			    n != (size_t)r->npages * KMS_PAGE_SIZE) {
				kms_errorf(e, "the zstd frame for gpa 0x%" PRIx64 " does not decompress to exactly its %" PRIu32 " pages",
					   (uint64_t)r->gpa, (uint32_t)r->npages);
				return -EINVAL;
			}
			data += r->len;
			pages = c->page;
			break;
		default:	/* ZERO, HOLE: kms_ram_decode() allows no other */
			for (p = 0; p < r->npages; p++) {
				ret = place_page(pl, r->gpa + p * KMS_PAGE_SIZE,
						 NULL, urgent, e);
				if (ret)
					return ret;
			}
			continue;
		}
		for (p = 0; p < r->npages; p++) {
			ret = place_page(pl, r->gpa + p * KMS_PAGE_SIZE,
					 pages + p * KMS_PAGE_SIZE, urgent, e);
			if (ret)
				return ret;
		}
		if (!urgent)
			atomic_fetch_add(&pl->bg_bytes, r->len);
	}
	return 0;
}

uint32_t place_ahead(struct placer *pl, uint64_t gpa, uint32_t max,
		     uint64_t *out)
{
	uint64_t i = kms_layout_page_index(pl->layout, gpa);
	uint32_t n = 0;

	/* Neighbours end with @gpa's region. */
	while (n < max && kms_layout_contains(pl->layout, gpa, n + 2) &&
	       placer_test(pl->pending, i + n + 1) &&
	       bit_set(pl->requested, i + n + 1)) {
		out[n] = gpa + (uint64_t)(n + 1) * KMS_PAGE_SIZE;
		n++;
	}
	atomic_fetch_add(&pl->ahead, n);
	return n;
}

int place_fault(struct placer *pl, uint64_t gpa, uint64_t t_ns,
		struct kms_error *e)
{
	uint64_t i = kms_layout_page_index(pl->layout, gpa), expect = 0;
	int ret;

	atomic_fetch_add(&pl->faults, 1);
	if (placer_test(pl->pending, i)) {
		/* The first fault's time counts; later ones wait as well. */
		atomic_compare_exchange_strong(&pl->t_fault[i], &expect, t_ns);
		if (!bit_set(pl->requested, i))
			return 0;
		/* Placed meanwhile? Then the copy woke the vCPU already. */
		if (!placer_test(pl->pending, i))
			return 0;
		atomic_fetch_add(&pl->requests, 1);
		return 1;
	}
	/*
	 * Present, or zero by the stream's word and never populated here:
	 * zero-fill it; a present page just needs its waiter woken.
	 */
	ret = placer_put(pl, placer_hva(pl, gpa), NULL);
	if (ret < 0) {
		kms_errorf(e, "resolving the fault at gpa 0x%" PRIx64 ": %s", gpa,
			   strerror(-ret));
		return ret;
	}
	if (ret)
		atomic_fetch_add(&pl->local_zero, 1);
	placer_latency_add(pl, now_ns() - t_ns);
	return 0;
}
