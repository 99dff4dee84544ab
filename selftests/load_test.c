// SPDX-License-Identifier: GPL-2.0
/*
 * KMIG_LOAD from several threads at once into one real guest, the way
 * kmigctl's receivers call it (one thread per data channel, one session):
 * disjoint pages, raw and zstd, must all land byte for byte; two threads
 * writing the same pages must leave each page whole, as one of them wrote
 * it, and marked written (a later ZERO record clears every page that holds
 * data); hostile batches loaded beside good ones are still refused before
 * they write; a raw page whose data faults midway fails the load and counts
 * as written. zstd runs (up to KMIG_ZSTD_RUN_MAX pages in one frame) land
 * exactly or not at all. The last case times KMIG_LOAD per page (raw, zstd, runs of
 * 1 to 512 pages; medians): ratios mean something only within one sandbox
 * run (e.g. against an older kmig.ko through KMIG_MODULE).
 *
 * zstd frames come from the system's libzstd (dlopen, so nothing links
 * it) when it is there; otherwise from hand-made RLE frames (RFC 8878).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* EXPECT_EQ(literal, __u64): the 6.1 harness compares them as written. */
#pragma GCC diagnostic ignored "-Wsign-compare"
#include "kselftest_harness.h"
#include "kmig_util.h"
#include "kvm_guest.h"
#include "test_util.h"

#define PAGES		2048		/* 8 MiB of guest RAM */
#define BATCH		64		/* records per KMIG_LOAD, as kmigctl */
#define THREADS		4
#define PG		GUEST_PAGE_SIZE
#define DGPA(p)		(GUEST_DATA_GPA + (__u64)(p) * PG)

/* ---- zstd frames ---- */

typedef size_t (*zstd_compress_fn)(void *, size_t, const void *, size_t, int);
typedef unsigned int (*zstd_is_error_fn)(size_t);

static zstd_compress_fn zcompress;
static zstd_is_error_fn zis_error;

static bool have_libzstd(void)
{
	static int tried;
	void *h;

	if (!tried) {
		tried = 1;
		h = dlopen("libzstd.so.1", RTLD_NOW);
		if (h) {
			zcompress = (zstd_compress_fn)dlsym(h, "ZSTD_compress");
			zis_error = (zstd_is_error_fn)dlsym(h, "ZSTD_isError");
			if (!zcompress || !zis_error)
				zcompress = NULL;
		}
	}
	return zcompress;
}

/* One RLE block of PG copies of @byte, the content size in the header. */
static size_t zstd_rle_page(__u8 *out, __u8 byte)
{
	__u32 bh = 1 | 1 << 1 | PG << 3;	/* last, RLE, size */
	size_t len = 0;

	out[len++] = 0x28;
	out[len++] = 0xb5;
	out[len++] = 0x2f;
	out[len++] = 0xfd;
	out[len++] = 0x60;			/* single segment, 2-byte FCS */
	out[len++] = (PG - 256) & 0xff;
	out[len++] = (PG - 256) >> 8;
	out[len++] = bh & 0xff;
	out[len++] = (bh >> 8) & 0xff;
	out[len++] = bh >> 16;
	out[len++] = byte;
	return len;
}

/*
 * Page @p of version @v, as a "text" page (compressible) or a "random"
 * one. Without libzstd a text page is one byte repeated (an RLE frame).
 */
static void make_page(__u8 *out, __u32 p, __u32 v, bool text)
{
	__u64 x = (__u64)p * 0x9e3779b97f4a7c15ULL ^ v * 0xbf58476d1ce4e5b9ULL;
	size_t i, n = 0;

	if (text && !have_libzstd()) {
		memset(out, (__u8)(p * 7 + v * 13 + 1), PG);
		return;
	}
	if (text) {
		while (n < PG)
			n += snprintf((char *)out + n, PG - n,
				      "page %u version %u line %zu: the quick brown fox\n",
				      p, v, n / 64);
		return;
	}
	for (i = 0; i < PG; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(out + i, &x, 8);
	}
}

/* The frame of a text page made by make_page(), or 0 if it stays raw. */
static size_t make_frame(__u8 *out, const __u8 *page)
{
	size_t len;

	if (!have_libzstd())
		return zstd_rle_page(out, page[0]);
	len = zcompress(out, PG - 1, page, PG, 1);
	return zis_error(len) ? 0 : len;
}

/* ---- batches ---- */

/* Up to BATCH records and their data, ready for KMIG_LOAD. */
struct batch {
	struct kmig_rec recs[BATCH];
	__u32 nr;
	__u64 len;
	__u8 data[BATCH * PG];
};

static void batch_page(struct batch *b, __u32 p, __u32 v, bool zstd)
{
	struct kmig_rec *r = &b->recs[b->nr++];
	__u8 page[PG];
	size_t flen = 0;

	make_page(page, p, v, zstd);
	if (zstd)
		flen = make_frame(b->data + b->len, page);
	*r = (struct kmig_rec){ .gpa = DGPA(p), .npages = 1 };
	if (flen) {
		r->kind = KMIG_REC_ZSTD;
		r->len = flen;
	} else {
		r->kind = KMIG_REC_PAGE;
		r->len = PG;
		memcpy(b->data + b->len, page, PG);
	}
	b->len += r->len;
}

static int load(int fd, const struct kmig_rec *recs, __u32 n,
		const void *data, __u64 len, struct kmig_load *out)
{
	*out = KMIG_ARG(kmig_load, .nr_recs = n,
			.recs_uptr = (__u64)(uintptr_t)recs,
			.data_uptr = (__u64)(uintptr_t)data, .data_len = len);
	return __kmig_ioctl(fd, KMIG_LOAD, out);
}

static int load_batch(int fd, const struct batch *b, struct kmig_load *out)
{
	return load(fd, b->recs, b->nr, b->data, b->len, out);
}

/* Whether page @p holds version @v (as make_page() made it). */
static bool page_is_version(const __u8 *ram, __u32 p, __u32 v, bool text)
{
	__u8 want[PG];

	make_page(want, p, v, text);
	return !memcmp(ram + (size_t)p * PG, want, PG);
}

static bool page_is_zero(const __u8 *ram, __u32 p)
{
	static const __u8 zero[PG];

	return !memcmp(ram + (size_t)p * PG, zero, PG);
}

/* Every other run of 8 pages is text (zstd), the rest random (raw). */
static bool is_text(__u32 p)
{
	return (p / 8) % 2;
}

FIXTURE(load) {
	struct guest_vm *vm;
	__u8 *ram;
	int fd;
};

FIXTURE_SETUP(load)
{
	struct guest_vm_opts opts = { .data_pages = PAGES, .nr_vcpus = 0 };
	const char *why;

	self->fd = -1;
	if (!guest_dirty_mode_supported(GUEST_DIRTY_BITMAP, &why) ||
	    !kmig_available(&why))
		SETUP_SKIP("%s", why);
	/* Once, before any thread: every page is made the same way. */
	have_libzstd();
	self->vm = guest_vm_create(&opts);
	self->ram = guest_vm_slot(self->vm, GUEST_DATA_SLOT)->hva;
	self->fd = kmig_open();
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, __kmig_attach(self->fd, self->vm->fd, NULL));
}

FIXTURE_TEARDOWN(load)
{
	if (self->fd < 0)
		return;
	close(self->fd);
	guest_vm_free(self->vm);
}

/* ---- threads ---- */

struct loader {
	pthread_t tid;
	int fd;
	__u32 idx, nr;			/* this thread's share */
	__u32 version;
	int mode;			/* enum below */
	int iters;
	pthread_barrier_t *start;
	int *writers;			/* L_ZERO: runs while > 0 */
	/* Results. */
	int err;
	__u64 pages, zeroed, calls;
	char msg[160];
};

enum {
	L_DISJOINT,	/* batches of BATCH pages, batch b to thread b % nr */
	L_SAME,		/* every page, version @version, @iters times */
	L_ZERO,		/* ZERO records over every page, @iters times */
	L_HOSTILE,	/* hostile batches at the upper half */
};

static void loader_fail(struct loader *l, int err, const char *what)
{
	if (!l->err) {
		l->err = err ? err : -EIO;
		snprintf(l->msg, sizeof(l->msg), "thread %u: %s: %s", l->idx,
			 what, strerror(err < 0 ? -err : err));
	}
}

static void run_disjoint(struct loader *l, struct batch *b)
{
	struct kmig_load out;
	__u32 first, p;
	int ret;

	for (first = l->idx * BATCH; first < PAGES; first += l->nr * BATCH) {
		b->nr = 0;
		b->len = 0;
		for (p = first; p < first + BATCH; p++)
			batch_page(b, p, l->version, is_text(p));
		ret = load_batch(l->fd, b, &out);
		l->calls++;
		if (ret || out.done != b->nr || out.pages != b->nr)
			return loader_fail(l, ret, "disjoint batch");
		l->pages += out.pages;
	}
}

/* The same pages as another thread, each version its own kind. */
static void run_same(struct loader *l, struct batch *b, __u32 npages)
{
	struct kmig_load out;
	__u32 j;
	int i, ret;

	for (i = 0; i < l->iters; i++) {
		for (j = 0; j < npages / BATCH; j++) {
			ret = load_batch(l->fd, &b[j], &out);
			l->calls++;
			if (ret || out.done != b[j].nr)
				return loader_fail(l, ret, "same-page batch");
			l->pages += out.pages;
		}
	}
}

static void run_zero(struct loader *l, __u32 npages)
{
	struct kmig_rec z = { .gpa = DGPA(0), .npages = npages,
			      .kind = KMIG_REC_ZERO };
	struct kmig_load out;
	int i, ret;

	for (i = 0; i < l->iters || __atomic_load_n(l->writers, __ATOMIC_ACQUIRE);
	     i++) {
		ret = load(l->fd, &z, 1, NULL, 0, &out);
		l->calls++;
		if (ret || out.done != 1)
			return loader_fail(l, ret, "zero record");
		l->zeroed += out.zeroed;
	}
}

/* Where the hostile batches aim: batch 2, which the good threads skip. */
#define HOSTILE_PAGE	(2 * BATCH)

/*
 * Hostile batches aimed at pages the good threads leave alone: each must
 * fail with its errno after exactly the good record before it (page
 * HOSTILE_PAGE), and write nothing else.
 */
static void run_hostile(struct loader *l, struct batch *b)
{
	const __u32 t = HOSTILE_PAGE;
	struct {
		struct kmig_rec r;
		int err;
	} bad[] = {
		{ { .gpa = DGPA(t + 2) + 8, .npages = 1, .kind = KMIG_REC_PAGE,
		    .len = PG }, EINVAL },
		{ { .gpa = DGPA(t + 2), .npages = 1, .kind = KMIG_REC_PAGE,
		    .len = 100 }, EINVAL },
		{ { .gpa = DGPA(t + 2), .npages = 2, .kind = KMIG_REC_PAGE,
		    .len = PG }, EINVAL },
		{ { .gpa = DGPA(t + 2), .npages = 1, .kind = 9 }, EINVAL },
		{ { .gpa = DGPA(PAGES - 1), .npages = 3, .kind = KMIG_REC_HOLE },
		  EINVAL },
		{ { .gpa = 0x7000000000ULL, .npages = 1, .kind = KMIG_REC_PAGE,
		    .len = PG }, ENOENT },
		/* Garbage as a frame, and data past data_len. */
		{ { .gpa = DGPA(t + 3), .npages = 1, .kind = KMIG_REC_ZSTD,
		    .len = 200 }, EINVAL },
		{ { .gpa = DGPA(t + 3), .npages = 1, .kind = KMIG_REC_PAGE,
		    .len = PG }, EINVAL },
	};
	struct kmig_load out;
	unsigned int i;
	int k, ret;

	for (k = 0; k < l->iters; k++) {
		for (i = 0; i < ARRAY_SIZE(bad); i++) {
			struct kmig_rec recs[3];
			__u64 len = 3 * PG;

			/* A good raw page first, its content this batch's. */
			memset(b->data, 0x5a, 3 * PG);
			recs[0] = (struct kmig_rec){ .gpa = DGPA(t), .npages = 1,
						     .kind = KMIG_REC_PAGE,
						     .len = PG };
			recs[1] = bad[i].r;
			recs[2] = recs[0];
			if (i == ARRAY_SIZE(bad) - 1)
				len = PG + 10;
			ret = load(l->fd, recs, 3, b->data, len, &out);
			l->calls++;
			if (ret != -bad[i].err || out.done != 1) {
				snprintf(l->msg, sizeof(l->msg),
					 "hostile record %u: %d done %llu", i,
					 ret, (unsigned long long)out.done);
				l->err = -EIO;
				return;
			}
		}
	}
}

static void *loader_main(void *arg)
{
	const __u32 same = PAGES / 4;
	struct loader *l = arg;
	struct batch *b = calloc(same / BATCH, sizeof(*b));
	__u32 p;

	if (!b) {
		loader_fail(l, -ENOMEM, "batch");
		return NULL;
	}
	/* Made before the start, so that the loads overlap. */
	if (l->mode == L_SAME)
		for (p = 0; p < same; p++)
			batch_page(&b[p / BATCH], p, l->version,
				   l->version % 2);
	pthread_barrier_wait(l->start);
	switch (l->mode) {
	case L_DISJOINT:
		run_disjoint(l, b);
		break;
	case L_SAME:
		run_same(l, b, same);
		if (l->writers)
			__atomic_fetch_sub(l->writers, 1, __ATOMIC_RELEASE);
		break;
	case L_ZERO:
		run_zero(l, same);
		break;
	case L_HOSTILE:
		run_hostile(l, b);
		break;
	}
	free(b);
	return NULL;
}

/* Runs @n loaders at once (each set up by the caller) and joins them. */
static void run_loaders(struct loader *l, __u32 n)
{
	pthread_barrier_t start;
	__u32 i;

	CHECK(!pthread_barrier_init(&start, NULL, n), "barrier");
	for (i = 0; i < n; i++) {
		l[i].start = &start;
		CHECK(!pthread_create(&l[i].tid, NULL, loader_main, &l[i]),
		      "pthread_create");
	}
	for (i = 0; i < n; i++)
		pthread_join(l[i].tid, NULL);
	pthread_barrier_destroy(&start);
}

TEST_F(load, threads_disjoint_pages_raw_and_zstd)
{
	struct loader l[THREADS];
	__u64 pages = 0;
	__u32 i, p, v, bad = 0;

	TH_LOG("zstd frames from %s", have_libzstd() ? "libzstd" :
	       "hand-made RLE blocks");
	/* Version 1, then version 2 with the batches on other threads. */
	for (v = 1; v <= 2; v++) {
		memset(l, 0, sizeof(l));
		for (i = 0; i < THREADS; i++) {
			l[i].fd = self->fd;
			l[i].idx = (i + v) % THREADS;
			l[i].nr = THREADS;
			l[i].version = v;
			l[i].mode = L_DISJOINT;
		}
		run_loaders(l, THREADS);
		for (i = 0; i < THREADS; i++) {
			EXPECT_EQ(0, l[i].err) TH_LOG("%s", l[i].msg);
			pages += l[i].pages;
		}
	}
	EXPECT_EQ(2 * PAGES, pages);
	for (p = 0; p < PAGES; p++)
		if (!page_is_version(self->ram, p, 2, is_text(p)) && bad++ < 5)
			TH_LOG("page %u is not version 2", p);
	EXPECT_EQ(0, bad);
}

/*
 * Two threads load the same 512 pages over and over, one raw (version 2),
 * one zstd (version 3): every page must be wholly one of the two. Then a
 * ZERO record must find every one of them written and clear it.
 */
TEST_F(load, threads_same_pages_whole_and_marked)
{
	const __u32 n = PAGES / 4;
	struct kmig_rec z = { .gpa = DGPA(0), .npages = n,
			      .kind = KMIG_REC_ZERO };
	struct kmig_load out;
	struct loader l[2];
	__u32 p, i, v2 = 0, v3 = 0, bad = 0;

	memset(l, 0, sizeof(l));
	for (i = 0; i < 2; i++) {
		l[i].fd = self->fd;
		l[i].idx = i;
		l[i].version = 2 + i;
		l[i].mode = L_SAME;
		l[i].iters = 8;
	}
	run_loaders(l, 2);
	EXPECT_EQ(0, l[0].err) TH_LOG("%s", l[0].msg);
	EXPECT_EQ(0, l[1].err) TH_LOG("%s", l[1].msg);
	for (p = 0; p < n; p++) {
		if (page_is_version(self->ram, p, 2, false))
			v2++;
		else if (page_is_version(self->ram, p, 3, true))
			v3++;
		else if (bad++ < 5)
			TH_LOG("page %u is a mix", p);
	}
	TH_LOG("%u pages from the raw thread, %u from the zstd one", v2, v3);
	EXPECT_EQ(0, bad);
	EXPECT_EQ(n, v2 + v3);

	ASSERT_EQ(0, load(self->fd, &z, 1, NULL, 0, &out));
	EXPECT_EQ(n, out.zeroed);
	for (p = 0; p < n; p++)
		if (!page_is_zero(self->ram, p) && bad++ < 5)
			TH_LOG("page %u not cleared", p);
	EXPECT_EQ(0, bad);
}

/*
 * A writer and a zeroer on the same pages at once: afterwards each page
 * holds the writer's version or zeroes, never a mix, and whatever holds
 * data is still marked written (a last ZERO record clears it all).
 */
TEST_F(load, threads_write_and_zero_same_pages)
{
	const __u32 n = PAGES / 4;
	struct kmig_rec z = { .gpa = DGPA(0), .npages = n,
			      .kind = KMIG_REC_ZERO };
	struct kmig_load out;
	struct loader l[2];
	__u32 p, data = 0, bad = 0;
	int writers = 1;

	memset(l, 0, sizeof(l));
	l[0] = (struct loader){ .fd = self->fd, .idx = 0, .version = 3,
				.mode = L_SAME, .iters = 8,
				.writers = &writers };
	l[1] = (struct loader){ .fd = self->fd, .idx = 1, .mode = L_ZERO,
				.iters = 1, .writers = &writers };
	run_loaders(l, 2);
	EXPECT_EQ(0, l[0].err) TH_LOG("%s", l[0].msg);
	EXPECT_EQ(0, l[1].err) TH_LOG("%s", l[1].msg);
	for (p = 0; p < n; p++) {
		if (page_is_version(self->ram, p, 3, true))
			data++;
		else if (!page_is_zero(self->ram, p) && bad++ < 5)
			TH_LOG("page %u is a mix", p);
	}
	TH_LOG("%u of %u pages hold data, the zeroer cleared %llu", data, n,
	       (unsigned long long)l[1].zeroed);
	EXPECT_EQ(0, bad);

	ASSERT_EQ(0, load(self->fd, &z, 1, NULL, 0, &out));
	EXPECT_GE(out.zeroed, data);
	for (p = 0; p < n; p++)
		if (!page_is_zero(self->ram, p) && bad++ < 5)
			TH_LOG("page %u not cleared", p);
	EXPECT_EQ(0, bad);
}

/* Hostile batches beside good loads: refused, and nothing written there. */
TEST_F(load, threads_hostile_beside_good)
{
	struct loader l[3];
	__u32 i, p, bad = 0;

	memset(l, 0, sizeof(l));
	for (i = 0; i < 2; i++) {
		l[i].fd = self->fd;
		l[i].idx = i;
		l[i].nr = 4;		/* batches 0, 1, 4, 5, ... */
		l[i].version = 1;
		l[i].mode = L_DISJOINT;
	}
	/* Batches 2, 3, 6, 7, ... are left alone: the hostile ones aim there. */
	l[2] = (struct loader){ .fd = self->fd, .idx = 2, .mode = L_HOSTILE,
				.iters = 20 };
	run_loaders(l, 3);
	for (i = 0; i < 3; i++)
		EXPECT_EQ(0, l[i].err) TH_LOG("%s", l[i].msg);
	for (p = 0; p < PAGES; p++) {
		bool good = (p / BATCH) % 4 < 2;

		if (good && !page_is_version(self->ram, p, 1, is_text(p)) &&
		    bad++ < 5)
			TH_LOG("page %u lost", p);
		/* The hostile batches' good record: HOSTILE_PAGE. */
		if (!good && p != HOSTILE_PAGE && !page_is_zero(self->ram, p) &&
		    bad++ < 5)
			TH_LOG("page %u written by a refused record", p);
	}
	EXPECT_EQ(0, bad);
	EXPECT_EQ(0x5a, self->ram[HOSTILE_PAGE * PG + 100]);
}

/*
 * A raw page whose data runs into an unmapped page: the load fails with
 * EFAULT after the records before it. A fault at the data's first byte
 * leaves the page as it was; one midway may leave a prefix of the data
 * (and the rest as it was), and then the page counts as written: a ZERO
 * record afterwards clears it.
 */
TEST_F(load, raw_data_fault_midway)
{
	struct kmig_rec recs[2] = {
		{ .gpa = DGPA(10), .npages = 1, .kind = KMIG_REC_PAGE,
		  .len = PG },
		{ .gpa = DGPA(11), .npages = 1, .kind = KMIG_REC_PAGE,
		  .len = PG },
	};
	struct kmig_rec z = { .gpa = DGPA(10), .npages = 4,
			      .kind = KMIG_REC_ZERO };
	struct kmig_load out;
	__u32 i, prefix;
	__u8 *buf;

	buf = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, buf);
	memset(buf, 0x77, 3 * PG);
	ASSERT_EQ(0, munmap(buf + 2 * PG, PG));

	/* Page 12 gets data, then a load whose data faults at its start. */
	recs[0].gpa = DGPA(12);
	ASSERT_EQ(0, load(self->fd, recs, 1, buf, PG, &out));
	ASSERT_EQ(-EFAULT, load(self->fd, recs, 1, buf + 2 * PG, PG, &out));
	EXPECT_EQ(0, out.done);
	EXPECT_EQ(0, out.pages);
	for (i = 0; i < PG; i++)
		ASSERT_EQ(0x77, self->ram[12 * PG + i]) TH_LOG("byte %u", i);

	/* Record 1's data is half in the hole. */
	recs[0].gpa = DGPA(10);
	EXPECT_EQ(-EFAULT, load(self->fd, recs, 2, buf + PG / 2,
				2 * PG, &out));
	EXPECT_EQ(1, out.done);
	EXPECT_EQ(1, out.pages);
	EXPECT_EQ(0x77, self->ram[10 * PG + PG - 1]);
	for (prefix = 0; prefix < PG && self->ram[11 * PG + prefix] == 0x77;)
		prefix++;
	for (i = prefix; i < PG; i++)
		ASSERT_EQ(0, self->ram[11 * PG + i]) TH_LOG("byte %u", i);
	TH_LOG("page 11 kept %u bytes of the data it could read", prefix);

	ASSERT_EQ(0, load(self->fd, &z, 1, NULL, 0, &out));
	EXPECT_EQ(prefix ? 3 : 2, out.zeroed);
	EXPECT_TRUE(page_is_zero(self->ram, 10));
	EXPECT_TRUE(page_is_zero(self->ram, 11));
	EXPECT_TRUE(page_is_zero(self->ram, 12));
	munmap(buf, 2 * PG);
}

/* ---- zstd runs (KMIG_FEATURE_ZSTD_RUN) ---- */

/* @n text pages from @p on, version @v, back to back in @out. */
static void make_pages(__u8 *out, __u32 p, __u32 n, __u32 v)
{
	__u32 i;

	for (i = 0; i < n; i++)
		make_page(out + (size_t)i * PG, p + i, v, true);
}

/* One ZSTD record for the @have pages at @pages, claiming @npages at @p. */
static struct kmig_rec run_rec(__u8 *frame, __u32 p, __u32 npages,
			       const __u8 *pages, __u32 have)
{
	size_t len = zcompress(frame, PG - 1, pages, (size_t)have * PG, 1);

	if (zis_error(len))
		len = 0;
	return (struct kmig_rec){ .gpa = DGPA(p), .npages = npages,
				  .kind = KMIG_REC_ZSTD, .len = len };
}

static bool pages_zero(const __u8 *ram, __u32 p, __u32 n)
{
	__u32 i;

	for (i = 0; i < n; i++)
		if (!page_is_zero(ram, p + i))
			return false;
	return true;
}

/*
 * A ZSTD record of up to KMIG_ZSTD_RUN_MAX pages lands exactly, beside
 * single pages and raw ones in the same load, and marks every page
 * written; a run that decompresses to more or fewer pages than it
 * claims, claims more than KMIG_ZSTD_RUN_MAX, or runs past its memslot's
 * end is refused and leaves guest RAM as it was.
 */
TEST_F(load, zstd_runs_land_exactly_or_not_at_all)
{
	static __u8 pages[8 * PG], data[8 * PG];
	struct kmig_rec recs[8];
	struct kmig_info info = KMIG_ARG(kmig_info);
	struct kmig_load out;
	__u64 len = 0;
	__u32 i;

	kmig_ioctl(self->fd, KMIG_GET_INFO, &info);
	if (!(info.features & KMIG_FEATURE_ZSTD_RUN))
		SKIP(return, "kmig module without KMIG_FEATURE_ZSTD_RUN");
	if (!have_libzstd())
		SKIP(return, "no libzstd.so.1 to make multi-page frames");
	ASSERT_EQ(4, KMIG_ZSTD_RUN_MAX);

	/* A 4-page run alone: one record, four pages, each exact. */
	make_pages(pages, 100, 4, 1);
	recs[0] = run_rec(data, 100, 4, pages, 4);
	ASSERT_NE(0, recs[0].len);
	ASSERT_EQ(0, load(self->fd, recs, 1, data, recs[0].len, &out));
	EXPECT_EQ(1, out.done);
	EXPECT_EQ(4, out.pages);
	for (i = 100; i < 104; i++)
		EXPECT_TRUE(page_is_version(self->ram, i, 1, true))
			TH_LOG("page %u", i);
	EXPECT_TRUE(page_is_zero(self->ram, 99));
	EXPECT_TRUE(page_is_zero(self->ram, 104));

	/* Runs of 2 and 3, a raw page and a single frame in one load. */
	make_pages(pages, 200, 7, 2);
	recs[0] = run_rec(data, 200, 2, pages, 2);
	len = recs[0].len;
	recs[1] = (struct kmig_rec){ .gpa = DGPA(202), .npages = 1,
				     .kind = KMIG_REC_PAGE, .len = PG };
	memcpy(data + len, pages + 2 * PG, PG);
	len += PG;
	recs[2] = run_rec(data + len, 203, 1, pages + 3 * PG, 1);
	len += recs[2].len;
	recs[3] = run_rec(data + len, 204, 3, pages + 4 * PG, 3);
	len += recs[3].len;
	ASSERT_EQ(0, load(self->fd, recs, 4, data, len, &out));
	EXPECT_EQ(4, out.done);
	EXPECT_EQ(7, out.pages);
	for (i = 200; i < 207; i++)
		EXPECT_TRUE(page_is_version(self->ram, i, 2, true))
			TH_LOG("page %u", i);

	/* Every page of a run is marked written: a ZERO record clears all. */
	recs[0] = (struct kmig_rec){ .gpa = DGPA(100), .npages = 4,
				     .kind = KMIG_REC_ZERO };
	ASSERT_EQ(0, load(self->fd, recs, 1, NULL, 0, &out));
	EXPECT_EQ(4, out.zeroed);
	EXPECT_TRUE(pages_zero(self->ram, 100, 4));

	/* Claims 4 pages, holds 3; claims 3, holds 4: nothing written. */
	make_pages(pages, 300, 5, 3);
	recs[0] = run_rec(data, 300, 4, pages, 3);
	ASSERT_EQ(-EINVAL, load(self->fd, recs, 1, data, recs[0].len, &out));
	EXPECT_EQ(0, out.done);
	EXPECT_EQ(0, out.pages);
	recs[0] = run_rec(data, 300, 3, pages, 4);
	ASSERT_EQ(-EINVAL, load(self->fd, recs, 1, data, recs[0].len, &out));
	/* More than a run may hold, even when the frame says so. */
	recs[0] = run_rec(data, 300, 5, pages, 5);
	ASSERT_NE(0, recs[0].len);
	ASSERT_EQ(-EINVAL, load(self->fd, recs, 1, data, recs[0].len, &out));
	EXPECT_EQ(0, out.done);
	EXPECT_TRUE(pages_zero(self->ram, 300, 5));

	/*
	 * The memslot's last 4 pages as one run are fine; a run of 4 from
	 * 2 pages before its end is refused, also behind a good run that
	 * the same load writes.
	 */
	make_pages(pages, PAGES - 6, 6, 4);
	recs[0] = run_rec(data, PAGES - 4, 4, pages + 2 * PG, 4);
	ASSERT_EQ(0, load(self->fd, recs, 1, data, recs[0].len, &out));
	EXPECT_EQ(4, out.pages);
	for (i = PAGES - 4; i < PAGES; i++)
		EXPECT_TRUE(page_is_version(self->ram, i, 4, true))
			TH_LOG("page %u", i);
	make_pages(pages, PAGES - 6, 6, 5);
	recs[0] = run_rec(data, PAGES - 6, 4, pages, 4);
	len = recs[0].len;
	recs[1] = run_rec(data + len, PAGES - 2, 4, pages + 4 * PG, 4);
	len += recs[1].len;
	EXPECT_EQ(-EINVAL, load(self->fd, recs, 2, data, len, &out));
	EXPECT_EQ(1, out.done);
	EXPECT_EQ(4, out.pages);
	for (i = PAGES - 6; i < PAGES - 2; i++)
		EXPECT_TRUE(page_is_version(self->ram, i, 5, true))
			TH_LOG("page %u", i);
	/* The refused run's pages still hold what the first load wrote. */
	for (i = PAGES - 2; i < PAGES; i++)
		EXPECT_TRUE(page_is_version(self->ram, i, 4, true))
			TH_LOG("page %u", i);
	EXPECT_EQ(-EINVAL, load(self->fd, &recs[1], 1, data + recs[0].len,
				recs[1].len, &out));
}

/* ---- timing ---- */

static int cmp_u64(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return x < y ? -1 : x > y;
}

#define RUNS	31

/* Median ns per page of RUNS loads of @n pages from @first, @text or not. */
static int per_page_ns(int fd, __u32 first, __u32 n, bool zstd,
		       double *per_page)
{
	__u64 ns[RUNS];
	struct kmig_rec *recs = calloc(n, sizeof(*recs));
	__u8 *data = malloc((size_t)n * PG), page[PG];
	struct kmig_load out;
	__u64 len = 0;
	__u32 i;
	int ret = 0;

	CHECK(recs && data, "out of memory");
	for (i = 0; i < n; i++) {
		size_t flen = 0;

		make_page(page, first + i, 5, zstd);
		if (zstd)
			flen = make_frame(data + len, page);
		recs[i] = (struct kmig_rec){ .gpa = DGPA(first + i),
					     .npages = 1,
					     .kind = flen ? KMIG_REC_ZSTD :
							    KMIG_REC_PAGE,
					     .len = flen ? flen : PG };
		if (!flen)
			memcpy(data + len, page, PG);
		len += recs[i].len;
	}
	/* Once unmeasured: the pages are populated, as on a later round. */
	ret = load(fd, recs, n, data, len, &out);
	for (i = 0; !ret && i < RUNS; i++) {
		__u64 t0 = now_ns();

		ret = load(fd, recs, n, data, len, &out);
		ns[i] = now_ns() - t0;
	}
	if (!ret) {
		qsort(ns, RUNS, sizeof(ns[0]), cmp_u64);
		*per_page = (double)ns[RUNS / 2] / n;
	}
	free(recs);
	free(data);
	return ret;
}

TEST_F(load, per_page_cost)
{
	static const __u32 sizes[] = { 1, 64, 512 };
	double raw[ARRAY_SIZE(sizes)], zst[ARRAY_SIZE(sizes)];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		ASSERT_EQ(0, per_page_ns(self->fd, 0, sizes[i], false, &raw[i]));
		ASSERT_EQ(0, per_page_ns(self->fd, 1024, sizes[i], true,
					 &zst[i]));
	}
	for (i = 0; i < ARRAY_SIZE(sizes); i++)
		TH_LOG("median of %d: KMIG_LOAD of %u pages: raw %.2f us/page, "
		       "zstd (%s) %.2f us/page", RUNS, sizes[i],
		       raw[i] / 1000, have_libzstd() ? "text" : "RLE",
		       zst[i] / 1000);
	/* Every page loaded: the content is what the last load said. */
	EXPECT_TRUE(page_is_version(self->ram, 0, 5, false));
	EXPECT_TRUE(page_is_version(self->ram, 1024 + 511, 5, true));
}

TEST_HARNESS_MAIN
