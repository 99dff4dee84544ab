// SPDX-License-Identifier: GPL-2.0
/*
 * The data plane against real guests: worker rings on the source
 * (KMIG_SEND_SETUP / KMIG_SEND_ROUND / KMIG_RING_WAIT / mmap) and the load
 * path on the destination (KMIG_LOAD).
 *
 * A guest writes a known pattern; one round must account for every page of
 * every memslot exactly once, with the right kind (data for written pages,
 * zero for pages written with zeros, hole for pages never touched), the
 * next round exactly the pages written since, and loading what the rounds
 * produced into a second VM must reproduce the source's RAM byte for byte.
 * With KMIG_SEND_F_ZSTD text-like pages come as KMIG_REC_ZSTD frames that
 * KMIG_LOAD decompresses, random ones still raw, and the replay is still
 * exact.
 */
#include <pthread.h>
#include <stdlib.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

/* EXPECT_EQ(literal, __u64): the 6.1 harness compares them as written. */
#pragma GCC diagnostic ignored "-Wsign-compare"
#include "kselftest_harness.h"
#include "kmig_util.h"
#include "kvm_guest.h"
#include "test_util.h"

#define DATA_PAGES	2048		/* 8 MiB: four 2 MiB THP regions */
#define WORKERS		2

/* What a round produced, per page of the data and system memslots. */
struct round_log {
	__u8 *data_kind;		/* enum kmig_rec_kind per data page */
	__u8 *sys_kind;
	__u8 *data;			/* copies of KMIG_REC_PAGE data */
	__u64 dup;			/* pages reported twice */
	__u64 stray;			/* records outside both memslots */
	__u64 bad;			/* malformed records */
	__u64 pages;
	__u64 zbytes;			/* data of the KMIG_REC_ZSTD records */
	__u32 zrun_max;			/* pages a ZSTD record may carry */
	__u64 zrecs, zruns;		/* ZSTD records, those of 2+ pages */
	/* Everything, for replaying into the destination. */
	struct kmig_rec *recs;
	__u8 *rec_data;
	__u64 nr_recs;
	__u64 cap;
	pthread_mutex_t lock;
};

struct ring_map {
	void *mem;
	__u32 *head, *tail, mask;
	struct kmig_rec *recs;
	__u8 *data;
};

struct drainer {
	int fd;
	__u32 idx;
	struct ring_map *ring;
	struct round_log *log;
	int slow_us;			/* consumer delay, for back-pressure */
	int err;
};

static void log_init(struct round_log *log)
{
	memset(log, 0, sizeof(*log));
	log->data_kind = calloc(DATA_PAGES, 1);
	log->sys_kind = calloc(GUEST_SYS_PAGES, 1);
	log->data = calloc(DATA_PAGES, GUEST_PAGE_SIZE);
	log->cap = 1024;
	log->zrun_max = 1;
	log->recs = calloc(log->cap, sizeof(*log->recs));
	log->rec_data = calloc(log->cap, GUEST_PAGE_SIZE);
	CHECK(log->data_kind && log->sys_kind && log->data && log->recs &&
	      log->rec_data, "out of memory");
	pthread_mutex_init(&log->lock, NULL);
}

static void log_free(struct round_log *log)
{
	free(log->data_kind);
	free(log->sys_kind);
	free(log->data);
	free(log->recs);
	free(log->rec_data);
}

static void log_page(struct round_log *log, __u64 gpa, __u8 kind,
		     const void *data)
{
	__u8 *slot;
	__u64 page;

	if (gpa >= GUEST_DATA_GPA &&
	    gpa < GUEST_DATA_GPA + (__u64)DATA_PAGES * GUEST_PAGE_SIZE) {
		page = (gpa - GUEST_DATA_GPA) / GUEST_PAGE_SIZE;
		slot = &log->data_kind[page];
		if (data)
			memcpy(log->data + page * GUEST_PAGE_SIZE, data,
			       GUEST_PAGE_SIZE);
	} else if (gpa < GUEST_SYS_BYTES) {
		slot = &log->sys_kind[gpa / GUEST_PAGE_SIZE];
	} else {
		log->stray++;
		return;
	}
	if (*slot)
		log->dup++;
	*slot = kind;
	log->pages++;
}

static bool rec_has_data(const struct kmig_rec *r)
{
	return r->kind == KMIG_REC_PAGE || r->kind == KMIG_REC_ZSTD;
}

static bool rec_ok(const struct round_log *log, const struct kmig_rec *r)
{
	if (!r->npages || r->gpa % GUEST_PAGE_SIZE)
		return false;
	switch (r->kind) {
	case KMIG_REC_PAGE:
		return r->npages == 1 && r->len == GUEST_PAGE_SIZE;
	case KMIG_REC_ZSTD:
		/*
		 * The kernel sends a frame only when it saves an eighth, and
		 * a run only with KMIG_SEND_F_ZSTD_RUN.
		 */
		return r->npages <= log->zrun_max && r->len &&
		       r->len <= KMIG_ZSTD_MAX_LEN;
	case KMIG_REC_ZERO:
	case KMIG_REC_HOLE:
		return !r->len;
	default:
		return false;
	}
}

static void log_rec(struct round_log *log, const struct kmig_rec *r,
		    const void *data)
{
	__u32 i;

	pthread_mutex_lock(&log->lock);
	if (!rec_ok(log, r)) {
		log->bad++;
		goto out;
	}
	/* Only raw pages can be compared with RAM as they are. */
	for (i = 0; i < r->npages; i++)
		log_page(log, r->gpa + (__u64)i * GUEST_PAGE_SIZE, r->kind,
			 r->kind == KMIG_REC_PAGE ? data : NULL);
	if (r->kind == KMIG_REC_ZSTD) {
		log->zbytes += r->len;
		log->zrecs++;
		log->zruns += r->npages > 1;
	}
	if (log->nr_recs == log->cap) {
		log->cap *= 2;
		log->recs = realloc(log->recs, log->cap * sizeof(*log->recs));
		log->rec_data = realloc(log->rec_data,
					log->cap * GUEST_PAGE_SIZE);
		CHECK(log->recs && log->rec_data, "out of memory");
	}
	log->recs[log->nr_recs] = *r;
	if (data)
		memcpy(log->rec_data + log->nr_recs * GUEST_PAGE_SIZE, data,
		       r->len);
	log->nr_recs++;
out:
	pthread_mutex_unlock(&log->lock);
}

static int map_ring(int fd, __u32 i, const struct kmig_send_setup *setup,
		    struct ring_map *m)
{
	__u8 *mem = mmap(NULL, setup->ring_bytes, PROT_READ | PROT_WRITE,
			 MAP_SHARED, fd, KMIG_MMAP_RING(i));

	if (mem == MAP_FAILED)
		return -errno;
	m->mem = mem;
	m->head = (__u32 *)(mem + setup->off.head);
	m->tail = (__u32 *)(mem + setup->off.tail);
	m->mask = *(__u32 *)(mem + setup->off.mask);
	m->recs = (struct kmig_rec *)(mem + setup->off.recs);
	m->data = mem + setup->off.data;
	return 0;
}

/* Consumes ring @idx until its KMIG_REC_ROUND_END. */
static void *drain(void *arg)
{
	struct drainer *d = arg;
	struct ring_map *m = d->ring;

	for (;;) {
		struct kmig_ring_wait w = {
			.size = sizeof(w), .ring = d->idx, .timeout_ms = 200,
		};
		__u32 head = *m->head, tail;

		d->err = __kmig_ioctl(d->fd, KMIG_RING_WAIT, &w);
		if (d->err)
			return NULL;
		/* Acquire: records and data are complete up to tail. */
		tail = __atomic_load_n(m->tail, __ATOMIC_ACQUIRE);
		for (; head != tail; head++) {
			struct kmig_rec *r = &m->recs[head & m->mask];
			void *data = m->data +
				     (size_t)(head & m->mask) * GUEST_PAGE_SIZE;

			if (r->kind == KMIG_REC_ROUND_END) {
				__atomic_store_n(m->head, head + 1,
						 __ATOMIC_RELEASE);
				return NULL;
			}
			log_rec(d->log, r, rec_has_data(r) ? data : NULL);
			if (d->slow_us)
				usleep(d->slow_us);
			/* Release: our reads of the slot precede its reuse. */
			__atomic_store_n(m->head, head + 1, __ATOMIC_RELEASE);
		}
	}
}

FIXTURE(send) {
	struct guest_vm *vm;
	int fd;
	struct kmig_send_setup setup;
	struct ring_map rings[WORKERS];
};

/*
 * A session on @vm, tracking, with WORKERS rings of 16 records set up with
 * @flags and mapped into @rings.
 */
static void sender_open(struct __test_metadata *_metadata, struct guest_vm *vm,
			__u32 flags, int *fd, struct kmig_send_setup *setup,
			struct ring_map *rings)
{
	struct kmig_attach_vm attach = { .size = sizeof(attach) };
	struct kmig_dirty_start start = { .size = sizeof(start) };
	__u32 i;

	*fd = kmig_open();
	ASSERT_LE(0, *fd);
	attach.vm_fd = vm->fd;
	kmig_ioctl(*fd, KMIG_ATTACH_VM, &attach);
	kmig_ioctl(*fd, KMIG_DIRTY_START, &start);

	*setup = KMIG_ARG(kmig_send_setup, .flags = flags,
			  .nr_workers = WORKERS, .ring_entries = 16);
	kmig_ioctl(*fd, KMIG_SEND_SETUP, setup);
	for (i = 0; i < WORKERS; i++)
		ASSERT_EQ(0, map_ring(*fd, i, setup, &rings[i]));
}

static void sender_close(int fd, struct kmig_send_setup *setup,
			 struct ring_map *rings, struct guest_vm *vm)
{
	__u32 i;

	if (fd < 0)
		return;
	for (i = 0; i < WORKERS; i++)
		munmap(rings[i].mem, setup->ring_bytes);
	close(fd);
	guest_vm_free(vm);
}

FIXTURE_SETUP(send)
{
	struct guest_vm_opts opts = { .data_pages = DATA_PAGES, .nr_vcpus = 1 };
	const char *why;

	self->fd = -1;
	if (!guest_dirty_mode_supported(GUEST_DIRTY_BITMAP, &why))
		SKIP(return, "%s", why);
	if (!kmig_available(&why))
		SKIP(return, "%s", why);

	self->vm = guest_vm_create(&opts);
	sender_open(_metadata, self->vm, 0, &self->fd, &self->setup,
		    self->rings);
}

FIXTURE_TEARDOWN(send)
{
	sender_close(self->fd, &self->setup, self->rings, self->vm);
}

/* SYNC + SEND_ROUND with every ring drained by its own thread. */
static int run_round(int fd, struct ring_map *rings, struct round_log *log,
		     int slow_us, struct kmig_send_round *out)
{
	struct kmig_dirty_sync sync = { .size = sizeof(sync) };
	struct drainer d[WORKERS];
	pthread_t t[WORKERS];
	int ret, i;

	ret = __kmig_ioctl(fd, KMIG_DIRTY_SYNC, &sync);
	if (ret)
		return ret;
	for (i = 0; i < WORKERS; i++) {
		d[i] = (struct drainer){ .fd = fd, .idx = i, .ring = &rings[i],
					 .log = log, .slow_us = slow_us };
		pthread_create(&t[i], NULL, drain, &d[i]);
	}
	*out = KMIG_ARG(kmig_send_round);
	ret = __kmig_ioctl(fd, KMIG_SEND_ROUND, out);
	for (i = 0; i < WORKERS; i++) {
		pthread_join(t[i], NULL);
		if (!ret && d[i].err)
			ret = d[i].err;
	}
	return ret;
}

static __u64 count_kind(const __u8 *kinds, __u64 first, __u64 n, __u8 kind)
{
	__u64 c = 0, i;

	for (i = first; i < first + n; i++)
		c += kinds[i] == kind;
	return c;
}

/*
 * Pages 0..299 written with 0x5a, 300..399 with 0: they sit in the first
 * 2 MiB region. Pages 1024.. are never touched: whole THP regions, so they
 * must come out as holes, not read.
 */
static void write_pattern(struct guest_vm *vm)
{
	guest_vcpu_write_range(&vm->vcpus[0], GUEST_DATA_SLOT, 0, 300, 0x5a);
	guest_vcpu_write_range(&vm->vcpus[0], GUEST_DATA_SLOT, 300, 100, 0);
}

TEST_F(send, bulk_round_accounts_every_page_once)
{
	struct kmig_send_round round;
	struct round_log log;
	__u8 *ram = guest_vm_slot(self->vm, GUEST_DATA_SLOT)->hva;
	__u64 p;

	write_pattern(self->vm);
	log_init(&log);
	/* A slow consumer and 16-entry rings: the workers must wait. */
	ASSERT_EQ(0, run_round(self->fd, self->rings, &log, 20, &round));

	EXPECT_EQ(1, round.round);
	EXPECT_EQ(0, log.dup);
	EXPECT_EQ(0, log.stray);
	EXPECT_EQ(0, log.bad);
	EXPECT_EQ(DATA_PAGES + GUEST_SYS_PAGES, log.pages);
	EXPECT_EQ(round.pages, log.pages);
	EXPECT_EQ(round.normal + round.zero + round.hole, round.pages);
	EXPECT_EQ(round.normal * GUEST_PAGE_SIZE, round.bytes);

	EXPECT_EQ(300, count_kind(log.data_kind, 0, 300, KMIG_REC_PAGE));
	EXPECT_EQ(100, count_kind(log.data_kind, 300, 100, KMIG_REC_ZERO));
	EXPECT_EQ(DATA_PAGES - 1024,
		  count_kind(log.data_kind, 1024, DATA_PAGES - 1024,
			     KMIG_REC_HOLE));
	for (p = 0; p < 300; p++)
		ASSERT_EQ(0, memcmp(log.data + p * GUEST_PAGE_SIZE,
				    ram + p * GUEST_PAGE_SIZE, GUEST_PAGE_SIZE))
			TH_LOG("page %llu differs", (unsigned long long)p);
	/* The guest's code page is data, never a hole. */
	EXPECT_EQ(KMIG_REC_PAGE,
		  log.sys_kind[GUEST_CODE_GPA / GUEST_PAGE_SIZE]);
	TH_LOG("round 1: pages=%llu normal=%llu zero=%llu hole=%llu ns=%llu",
	       (unsigned long long)round.pages,
	       (unsigned long long)round.normal,
	       (unsigned long long)round.zero, (unsigned long long)round.hole,
	       (unsigned long long)round.scan_ns);
	log_free(&log);
}

/*
 * The zero test reads every byte: a page whose one non-zero byte sits
 * anywhere (its first word, either end of a 64-byte block, its last byte)
 * is data and comes out exactly; the zero page after each stays zero.
 */
TEST_F(send, one_nonzero_byte_anywhere_makes_a_data_page)
{
	static const __u32 offs[] = { 0, 7, 8, 63, 64, 127, 2048, 4032, 4095 };
	__u8 *ram = guest_vm_slot(self->vm, GUEST_DATA_SLOT)->hva;
	const __u64 n = 2 * ARRAY_SIZE(offs);
	struct kmig_send_round round;
	struct round_log log;
	__u64 i, p;

	/* Populated zero pages, then one byte each in the even ones. */
	guest_vcpu_write_range(&self->vm->vcpus[0], GUEST_DATA_SLOT, 0, n, 0);
	for (i = 0; i < ARRAY_SIZE(offs); i++)
		ram[2 * i * GUEST_PAGE_SIZE + offs[i]] = i & 1 ? 0x80 : 0x01;
	log_init(&log);
	ASSERT_EQ(0, run_round(self->fd, self->rings, &log, 0, &round));
	EXPECT_EQ(0, log.bad);
	for (i = 0; i < ARRAY_SIZE(offs); i++) {
		p = 2 * i;
		EXPECT_EQ(KMIG_REC_PAGE, log.data_kind[p])
			TH_LOG("byte %u set: page %llu not data", offs[i],
			       (unsigned long long)p);
		EXPECT_EQ(0, memcmp(log.data + p * GUEST_PAGE_SIZE,
				    ram + p * GUEST_PAGE_SIZE, GUEST_PAGE_SIZE));
		EXPECT_EQ(KMIG_REC_ZERO, log.data_kind[p + 1]);
	}
	log_free(&log);
}

/*
 * Holes told from present pages inside one page table: with THP off for
 * the slot, the guest writes pages 8i and 8i+1 with data and 8i+4 with
 * zeros in the first 1024 pages, so each 2 MiB region holds a PTE table
 * of present and empty entries. The round's page-table walk (one per
 * chunk) must call exactly the untouched ones holes and read the others.
 */
TEST_F(send, holes_between_small_pages_come_out_exactly)
{
	struct kmig_send_round round;
	struct round_log log;
	__u8 *ram = guest_vm_slot(self->vm, GUEST_DATA_SLOT)->hva;
	__u64 i, p;

	if (madvise(ram, (size_t)DATA_PAGES * GUEST_PAGE_SIZE, MADV_NOHUGEPAGE))
		SKIP(return, "madvise(MADV_NOHUGEPAGE): %m");
	for (i = 0; i < 128; i++) {
		guest_vcpu_write_range(&self->vm->vcpus[0], GUEST_DATA_SLOT,
				       8 * i, 2, 0x5a);
		guest_vcpu_write_range(&self->vm->vcpus[0], GUEST_DATA_SLOT,
				       8 * i + 4, 1, 0);
	}
	log_init(&log);
	/* A slow consumer and 16-entry rings: workers wait mid-chunk. */
	ASSERT_EQ(0, run_round(self->fd, self->rings, &log, 20, &round));

	EXPECT_EQ(0, log.dup);
	EXPECT_EQ(0, log.stray);
	EXPECT_EQ(0, log.bad);
	EXPECT_EQ(DATA_PAGES + GUEST_SYS_PAGES, log.pages);
	EXPECT_EQ(round.normal + round.zero + round.hole, round.pages);
	for (p = 0; p < 1024; p++) {
		__u8 want = p % 8 < 2 ? KMIG_REC_PAGE :
			    p % 8 == 4 ? KMIG_REC_ZERO : KMIG_REC_HOLE;

		ASSERT_EQ(want, log.data_kind[p])
			TH_LOG("page %llu", (unsigned long long)p);
		if (want == KMIG_REC_PAGE)
			ASSERT_EQ(0, memcmp(log.data + p * GUEST_PAGE_SIZE,
					    ram + p * GUEST_PAGE_SIZE,
					    GUEST_PAGE_SIZE))
				TH_LOG("page %llu differs", (unsigned long long)p);
	}
	EXPECT_EQ(DATA_PAGES - 1024,
		  count_kind(log.data_kind, 1024, DATA_PAGES - 1024,
			     KMIG_REC_HOLE));
	log_free(&log);
}

TEST_F(send, dirty_round_sends_exactly_the_rewritten_pages)
{
	static const __u64 again[] = { 0, 7, 299, 350, 1500, DATA_PAGES - 1 };
	struct kmig_send_round round;
	struct round_log log;
	__u64 i, n = 0;

	write_pattern(self->vm);
	log_init(&log);
	ASSERT_EQ(0, run_round(self->fd, self->rings, &log, 0, &round));
	log_free(&log);

	guest_vcpu_write_pages(&self->vm->vcpus[0], GUEST_DATA_SLOT, again,
			       ARRAY_SIZE(again), 0x77);
	log_init(&log);
	ASSERT_EQ(0, run_round(self->fd, self->rings, &log, 0, &round));
	EXPECT_EQ(2, round.round);
	EXPECT_EQ(0, log.dup);
	for (i = 0; i < ARRAY_SIZE(again); i++) {
		EXPECT_EQ(KMIG_REC_PAGE, log.data_kind[again[i]]);
		EXPECT_EQ(0x77, log.data[again[i] * GUEST_PAGE_SIZE]);
	}
	n = count_kind(log.data_kind, 0, DATA_PAGES, KMIG_REC_PAGE);
	EXPECT_EQ(ARRAY_SIZE(again), n);
	/* Page-table pages may be logged by the nested walk (layout.h). */
	EXPECT_GE(round.pages, ARRAY_SIZE(again));
	EXPECT_LE(round.pages, ARRAY_SIZE(again) + 2);

	/* Nothing written: an empty round still ends on every ring. */
	log_free(&log);
	log_init(&log);
	ASSERT_EQ(0, run_round(self->fd, self->rings, &log, 0, &round));
	EXPECT_EQ(3, round.round);
	EXPECT_EQ(0, count_kind(log.data_kind, 0, DATA_PAGES, KMIG_REC_PAGE));
	log_free(&log);
}

static int load(int fd, const struct kmig_rec *recs, __u32 n,
		const void *data, __u64 data_len, struct kmig_load *out)
{
	*out = KMIG_ARG(kmig_load, .nr_recs = n,
			.recs_uptr = (__u64)(uintptr_t)recs,
			.data_uptr = (__u64)(uintptr_t)data,
			.data_len = data_len);
	return __kmig_ioctl(fd, KMIG_LOAD, out);
}

/* Replays @log into session @fd, PAGE data packed back to back. */
static int replay(int fd, struct round_log *log, __u64 *pages)
{
	__u8 *data = malloc(GUEST_PAGE_SIZE * 64);
	struct kmig_load out;
	__u64 i = 0;
	int ret = 0;

	*pages = 0;
	while (!ret && i < log->nr_recs) {
		__u32 n = 0;
		__u64 len = 0;

		for (; n < 64 && i + n < log->nr_recs; n++) {
			const struct kmig_rec *r = &log->recs[i + n];

			if (!rec_has_data(r))
				continue;
			memcpy(data + len, log->rec_data +
			       (i + n) * GUEST_PAGE_SIZE, r->len);
			len += r->len;
		}
		ret = load(fd, &log->recs[i], n, data, len, &out);
		*pages += out.pages;
		i += n;
	}
	free(data);
	return ret;
}

TEST_F(send, rounds_replayed_into_a_second_vm_reproduce_ram)
{
	struct guest_vm_opts opts = { .data_pages = DATA_PAGES, .nr_vcpus = 1 };
	struct kmig_attach_vm attach = { .size = sizeof(attach) };
	struct kmig_send_round round;
	struct round_log log1, log2;
	static const __u64 again[] = { 3, 320, 1800 };
	struct guest_vm *dst;
	__u64 pages;
	int dfd;

	write_pattern(self->vm);
	log_init(&log1);
	log_init(&log2);
	ASSERT_EQ(0, run_round(self->fd, self->rings, &log1, 0, &round));
	/* Page 320 was zero and gets data; page 3 changes again. */
	guest_vcpu_write_pages(&self->vm->vcpus[0], GUEST_DATA_SLOT, again,
			       ARRAY_SIZE(again), 0x33);
	ASSERT_EQ(0, run_round(self->fd, self->rings, &log2, 0, &round));

	dst = guest_vm_create(&opts);
	dfd = kmig_open();
	ASSERT_LE(0, dfd);
	attach.vm_fd = dst->fd;
	kmig_ioctl(dfd, KMIG_ATTACH_VM, &attach);
	ASSERT_EQ(0, replay(dfd, &log1, &pages));
	ASSERT_EQ(0, replay(dfd, &log2, &pages));
	/* Page-table pages may come along (guest_layout.h). */
	EXPECT_GE(pages, 3);
	EXPECT_LE(pages, 5);

	EXPECT_EQ(0, memcmp(guest_vm_slot(self->vm, GUEST_DATA_SLOT)->hva,
			    guest_vm_slot(dst, GUEST_DATA_SLOT)->hva,
			    (size_t)DATA_PAGES * GUEST_PAGE_SIZE));
	close(dfd);
	guest_vm_free(dst);
	log_free(&log1);
	log_free(&log2);
}

TEST_F(send, setup_and_round_argument_errors)
{
	struct kmig_send_setup s2;
	struct kmig_ring_wait w;
	void *p;

	s2 = KMIG_ARG(kmig_send_setup, .nr_workers = 1, .ring_entries = 16);
	kmig_ioctl_err(EBUSY, self->fd, KMIG_SEND_SETUP, &s2);
	w = KMIG_ARG(kmig_ring_wait, .ring = WORKERS);
	kmig_ioctl_err(EINVAL, self->fd, KMIG_RING_WAIT, &w);
	w = KMIG_ARG(kmig_ring_wait, .ring = 0, .__reserved = 1);
	kmig_ioctl_err(EOPNOTSUPP, self->fd, KMIG_RING_WAIT, &w);

	/* Wrong length, ring out of range, misaligned offset. */
	p = mmap(NULL, self->setup.ring_bytes + 4096, PROT_READ, MAP_SHARED,
		 self->fd, KMIG_MMAP_RING(0));
	EXPECT_EQ(MAP_FAILED, p);
	p = mmap(NULL, self->setup.ring_bytes, PROT_READ, MAP_SHARED,
		 self->fd, KMIG_MMAP_RING(WORKERS));
	EXPECT_EQ(MAP_FAILED, p);
	p = mmap(NULL, self->setup.ring_bytes, PROT_READ, MAP_SHARED,
		 self->fd, 4096);
	EXPECT_EQ(MAP_FAILED, p);
}

/* Records that carried data (a page written by KMIG_LOAD each). */
static __u64 round_pages_with_data(const struct round_log *log)
{
	__u64 i, n = 0;

	for (i = 0; i < log->nr_recs; i++)
		n += rec_has_data(&log->recs[i]);
	return n;
}

/*
 * KMIG_SEND_ROUND in a child that is SIGKILLed after @ms, as when a
 * migration tool dies mid-round. 0 if the round was still blocked then.
 */
static int kill_round_after(int fd, unsigned int ms)
{
	struct kmig_send_round r = KMIG_ARG(kmig_send_round);
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -errno;
	if (!pid)
		_exit(__kmig_ioctl(fd, KMIG_SEND_ROUND, &r) ? 1 : 0);
	usleep(ms * 1000);
	kill(pid, SIGKILL);
	if (waitpid(pid, &status, 0) != pid)
		return -errno;
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL ? 0 : -1;
}

/* Sending with KMIG_SEND_F_ZSTD: the same session, compressing workers. */
FIXTURE(zsend) {
	struct guest_vm *vm;
	int fd;
	struct kmig_send_setup setup;
	struct ring_map rings[WORKERS];
};

/*
 * Why the compressing fixtures cannot run here (a dirty log, the module
 * and its @feature are needed), or NULL.
 */
static const char *zsend_missing(__u64 feature, const char *name)
{
	struct kmig_info info = KMIG_ARG(kmig_info);
	static char msg[64];
	const char *why;
	int fd;

	if (!guest_dirty_mode_supported(GUEST_DIRTY_BITMAP, &why) ||
	    !kmig_available(&why))
		return why;
	fd = kmig_open();
	if (fd < 0 || __kmig_ioctl(fd, KMIG_GET_INFO, &info)) {
		if (fd >= 0)
			close(fd);
		return "KMIG_GET_INFO failed";
	}
	close(fd);
	if (info.features & feature)
		return NULL;
	snprintf(msg, sizeof(msg), "kmig module without %s", name);
	return msg;
}

FIXTURE_SETUP(zsend)
{
	struct guest_vm_opts opts = { .data_pages = DATA_PAGES, .nr_vcpus = 1 };
	const char *why;

	self->fd = -1;
	why = zsend_missing(KMIG_FEATURE_ZSTD, "KMIG_FEATURE_ZSTD");
	if (why)
		SKIP(return, "%s", why);
	self->vm = guest_vm_create(&opts);
	sender_open(_metadata, self->vm, KMIG_SEND_F_ZSTD, &self->fd,
		    &self->setup, self->rings);
}

FIXTURE_TEARDOWN(zsend)
{
	sender_close(self->fd, &self->setup, self->rings, self->vm);
}

static __u64 xorshift64(__u64 *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/*
 * Pages [first, first + n) of @ram: text, 8-byte words from a 16-word
 * table (compresses like text), or xorshift64* output (does not compress).
 */
static void fill_pages(__u8 *ram, __u64 first, __u64 n, bool text)
{
	static const char words[16][9] = {
		"the     ", "kernel  ", "migrate ", "page    ", "memory  ",
		"guest   ", "and     ", "of      ", "dirty   ", "round   ",
		"ring    ", "worker  ", "zstd    ", "frame   ", "to      ",
		"a       ",
	};
	__u64 p, w, seed;

	for (p = first; p < first + n; p++) {
		__u64 *q = (__u64 *)(ram + p * GUEST_PAGE_SIZE);

		seed = (p + 1) * 0x9e3779b97f4a7c15ULL;
		for (w = 0; w < GUEST_PAGE_SIZE / 8; w++) {
			__u64 x = xorshift64(&seed);

			if (text)
				memcpy(&q[w], words[x >> 60], 8);
			else
				q[w] = x * 0x2545f4914f6cdd1dULL;
		}
	}
}

/*
 * Pages 0..511 text, 512..1023 random (two whole THP regions); the rest
 * never touched. The VMM's own writes need no dirty log: after
 * KMIG_DIRTY_START the bulk round takes every page anyway.
 */
TEST_F(zsend, text_compresses_random_stays_raw_and_replays_exactly)
{
	struct guest_vm_opts opts = { .data_pages = DATA_PAGES, .nr_vcpus = 1 };
	struct kmig_attach_vm attach = { .size = sizeof(attach) };
	__u8 *ram = guest_vm_slot(self->vm, GUEST_DATA_SLOT)->hva;
	static const __u64 again[] = { 3, 600, 1800 };
	struct kmig_send_round round;
	struct round_log log1, log2;
	struct guest_vm *dst;
	__u64 zdata, pages, p;
	int dfd;

	fill_pages(ram, 0, 512, true);
	fill_pages(ram, 512, 512, false);
	log_init(&log1);
	log_init(&log2);
	ASSERT_EQ(0, run_round(self->fd, self->rings, &log1, 0, &round));

	/* Every page once, with its kind. */
	EXPECT_EQ(0, log1.dup);
	EXPECT_EQ(0, log1.stray);
	EXPECT_EQ(0, log1.bad);
	EXPECT_EQ(DATA_PAGES + GUEST_SYS_PAGES, log1.pages);
	EXPECT_EQ(round.pages, log1.pages);
	EXPECT_EQ(round.normal + round.zero + round.hole, round.pages);
	EXPECT_EQ(512, count_kind(log1.data_kind, 0, 512, KMIG_REC_ZSTD));
	EXPECT_EQ(512, count_kind(log1.data_kind, 512, 512, KMIG_REC_PAGE));
	/* Past them only zero or hole pages (THP may round up the writes). */
	EXPECT_EQ(DATA_PAGES - 1024,
		  count_kind(log1.data_kind, 1024, DATA_PAGES - 1024,
			     KMIG_REC_HOLE) +
		  count_kind(log1.data_kind, 1024, DATA_PAGES - 1024,
			     KMIG_REC_ZERO));
	for (p = 512; p < 1024; p++)
		ASSERT_EQ(0, memcmp(log1.data + p * GUEST_PAGE_SIZE,
				    ram + p * GUEST_PAGE_SIZE, GUEST_PAGE_SIZE))
			TH_LOG("raw page %llu differs", (unsigned long long)p);

	/* The counters add up with what the rings carried. */
	zdata = count_kind(log1.data_kind, 0, DATA_PAGES, KMIG_REC_ZSTD);
	EXPECT_EQ(zdata + count_kind(log1.sys_kind, 0, GUEST_SYS_PAGES,
				     KMIG_REC_ZSTD), round.compressed);
	EXPECT_EQ(log1.zbytes, round.compressed_bytes);
	EXPECT_EQ((round.normal - round.compressed) * GUEST_PAGE_SIZE +
		  round.compressed_bytes, round.bytes);
	/* Text shrinks to well under half. */
	EXPECT_LT(round.compressed_bytes * 2,
		  round.compressed * GUEST_PAGE_SIZE);
	TH_LOG("round 1: normal=%llu compressed=%llu %llu -> %llu bytes (ratio %.2f)",
	       (unsigned long long)round.normal,
	       (unsigned long long)round.compressed,
	       (unsigned long long)round.compressed * GUEST_PAGE_SIZE,
	       (unsigned long long)round.compressed_bytes,
	       round.compressed_bytes ? (double)round.compressed *
		GUEST_PAGE_SIZE / round.compressed_bytes : 0.0);

	/*
	 * The guest stores a byte in a text, a random and a hole page: the
	 * random one is still random and goes raw, the others compress.
	 */
	guest_vcpu_write_pages(&self->vm->vcpus[0], GUEST_DATA_SLOT, again,
			       ARRAY_SIZE(again), 0x33);
	ASSERT_EQ(0, run_round(self->fd, self->rings, &log2, 0, &round));
	EXPECT_EQ(0, log2.bad);
	EXPECT_EQ(KMIG_REC_ZSTD, log2.data_kind[again[0]]);
	EXPECT_EQ(KMIG_REC_PAGE, log2.data_kind[again[1]]);
	EXPECT_EQ(KMIG_REC_ZSTD, log2.data_kind[again[2]]);
	EXPECT_EQ(0x33, log2.data[again[1] * GUEST_PAGE_SIZE]);

	/* Both rounds through KMIG_LOAD: the same bytes on the other side. */
	dst = guest_vm_create(&opts);
	dfd = kmig_open();
	ASSERT_LE(0, dfd);
	attach.vm_fd = dst->fd;
	kmig_ioctl(dfd, KMIG_ATTACH_VM, &attach);
	ASSERT_EQ(0, replay(dfd, &log1, &pages));
	EXPECT_EQ(round_pages_with_data(&log1), pages);
	ASSERT_EQ(0, replay(dfd, &log2, &pages));
	EXPECT_EQ(0, memcmp(guest_vm_slot(self->vm, GUEST_DATA_SLOT)->hva,
			    guest_vm_slot(dst, GUEST_DATA_SLOT)->hva,
			    (size_t)DATA_PAGES * GUEST_PAGE_SIZE));
	close(dfd);
	guest_vm_free(dst);
	log_free(&log1);
	log_free(&log2);
}

/*
 * KMIG_SEND_F_ZSTD_RUN: the same session, workers that put up to
 * KMIG_ZSTD_RUN_MAX neighbouring pages into one frame.
 */
FIXTURE(zrun) {
	struct guest_vm *vm;
	int fd;
	struct kmig_send_setup setup;
	struct ring_map rings[WORKERS];
};

FIXTURE_SETUP(zrun)
{
	struct guest_vm_opts opts = { .data_pages = DATA_PAGES, .nr_vcpus = 1 };
	const char *why;

	self->fd = -1;
	why = zsend_missing(KMIG_FEATURE_ZSTD_RUN, "KMIG_FEATURE_ZSTD_RUN");
	if (why)
		SKIP(return, "%s", why);
	self->vm = guest_vm_create(&opts);
	sender_open(_metadata, self->vm,
		    KMIG_SEND_F_ZSTD | KMIG_SEND_F_ZSTD_RUN, &self->fd,
		    &self->setup, self->rings);
}

FIXTURE_TEARDOWN(zrun)
{
	sender_close(self->fd, &self->setup, self->rings, self->vm);
}

/*
 * Text pages 0..511 go as runs (nearly all of 4 pages), random pages
 * 512..1023 raw after a few failed runs; the counters count pages; the
 * round replayed through KMIG_LOAD reproduces guest RAM byte for byte.
 */
TEST_F(zrun, text_goes_in_runs_and_replays_exactly)
{
	struct guest_vm_opts opts = { .data_pages = DATA_PAGES, .nr_vcpus = 1 };
	struct kmig_attach_vm attach = { .size = sizeof(attach) };
	__u8 *ram = guest_vm_slot(self->vm, GUEST_DATA_SLOT)->hva;
	struct kmig_send_round round;
	struct round_log log;
	struct guest_vm *dst;
	__u64 zdata, pages, want, i;
	int dfd;

	fill_pages(ram, 0, 512, true);
	fill_pages(ram, 512, 512, false);
	log_init(&log);
	log.zrun_max = KMIG_ZSTD_RUN_MAX;
	ASSERT_EQ(0, run_round(self->fd, self->rings, &log, 0, &round));

	EXPECT_EQ(0, log.dup);
	EXPECT_EQ(0, log.stray);
	EXPECT_EQ(0, log.bad);
	EXPECT_EQ(DATA_PAGES + GUEST_SYS_PAGES, log.pages);
	EXPECT_EQ(round.pages, log.pages);
	EXPECT_EQ(512, count_kind(log.data_kind, 0, 512, KMIG_REC_ZSTD));
	EXPECT_EQ(512, count_kind(log.data_kind, 512, 512, KMIG_REC_PAGE));
	for (i = 512; i < 1024; i++)
		ASSERT_EQ(0, memcmp(log.data + i * GUEST_PAGE_SIZE,
				    ram + i * GUEST_PAGE_SIZE, GUEST_PAGE_SIZE))
			TH_LOG("raw page %llu differs", (unsigned long long)i);
	/* Compressed counts pages, not records. */
	zdata = count_kind(log.data_kind, 0, DATA_PAGES, KMIG_REC_ZSTD);
	EXPECT_EQ(zdata + count_kind(log.sys_kind, 0, GUEST_SYS_PAGES,
				     KMIG_REC_ZSTD), round.compressed);
	EXPECT_EQ(log.zbytes, round.compressed_bytes);
	EXPECT_EQ((round.normal - round.compressed) * GUEST_PAGE_SIZE +
		  round.compressed_bytes, round.bytes);
	/* 512 text pages: at most a chunk edge or two short of 128 runs. */
	EXPECT_GE(log.zruns, 120);
	EXPECT_LT(log.zrecs, 200);
	TH_LOG("text: %llu pages in %llu zstd records (%llu runs), %llu bytes, %.0f B/page",
	       (unsigned long long)round.compressed,
	       (unsigned long long)log.zrecs, (unsigned long long)log.zruns,
	       (unsigned long long)round.compressed_bytes,
	       round.compressed ? (double)round.compressed_bytes /
		round.compressed : 0.0);

	dst = guest_vm_create(&opts);
	dfd = kmig_open();
	ASSERT_LE(0, dfd);
	attach.vm_fd = dst->fd;
	kmig_ioctl(dfd, KMIG_ATTACH_VM, &attach);
	ASSERT_EQ(0, replay(dfd, &log, &pages));
	for (i = 0, want = 0; i < log.nr_recs; i++)
		if (rec_has_data(&log.recs[i]))
			want += log.recs[i].npages;
	EXPECT_EQ(want, pages);
	EXPECT_EQ(round.normal, pages);
	EXPECT_EQ(0, memcmp(ram, guest_vm_slot(dst, GUEST_DATA_SLOT)->hva,
			    (size_t)DATA_PAGES * GUEST_PAGE_SIZE));
	close(dfd);
	guest_vm_free(dst);
	log_free(&log);
}

/* Closing with compression contexts in use, mid-round, frees everything. */
TEST_F(zsend, close_with_undrained_rings)
{
	struct kmig_dirty_sync sync = { .size = sizeof(sync) };

	fill_pages(guest_vm_slot(self->vm, GUEST_DATA_SLOT)->hva, 0, 1024,
		   true);
	kmig_ioctl(self->fd, KMIG_DIRTY_SYNC, &sync);
	/* Nobody drains: the round fills the 16-record rings and is cut. */
	ASSERT_EQ(0, kill_round_after(self->fd, 300));
}

TEST(send_setup_validates_counts)
{
	static const __u32 bad[][2] = {
		{ 0, 16 }, { KMIG_MAX_WORKERS + 1, 16 }, { 1, 8 }, { 1, 24 },
		{ 1, KMIG_MAX_RING_ENTRIES * 2 },
	};
	struct guest_vm_opts opts = { .data_pages = 64, .nr_vcpus = 0 };
	struct kmig_attach_vm attach = { .size = sizeof(attach) };
	struct kmig_send_round round = { .size = sizeof(round) };
	struct kmig_send_setup s;
	struct guest_vm *vm;
	const char *why;
	unsigned int i;
	int fd;

	if (!guest_dirty_mode_supported(GUEST_DIRTY_BITMAP, &why) ||
	    !kmig_available(&why))
		SKIP(return, "%s", why);
	vm = guest_vm_create(&opts);
	fd = kmig_open();
	ASSERT_LE(0, fd);
	s = KMIG_ARG(kmig_send_setup, .nr_workers = 1, .ring_entries = 16);
	kmig_ioctl_err(ENOTCONN, fd, KMIG_SEND_SETUP, &s);
	attach.vm_fd = vm->fd;
	kmig_ioctl(fd, KMIG_ATTACH_VM, &attach);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		s = KMIG_ARG(kmig_send_setup, .nr_workers = bad[i][0],
			     .ring_entries = bad[i][1]);
		kmig_ioctl_err(EINVAL, fd, KMIG_SEND_SETUP, &s);
	}
	/* No round before tracking and setup. */
	kmig_ioctl_err(EINVAL, fd, KMIG_SEND_ROUND, &round);
	close(fd);
	guest_vm_free(vm);
}

FIXTURE(load) {
	struct guest_vm *vm;
	int fd;
	__u8 page[GUEST_PAGE_SIZE * 2];
};

FIXTURE_SETUP(load)
{
	struct guest_vm_opts opts = { .data_pages = 512, .nr_vcpus = 0 };
	struct kmig_attach_vm attach = { .size = sizeof(attach) };
	const char *why;

	self->fd = -1;
	if (!guest_dirty_mode_supported(GUEST_DIRTY_BITMAP, &why) ||
	    !kmig_available(&why))
		SKIP(return, "%s", why);
	self->vm = guest_vm_create(&opts);
	self->fd = kmig_open();
	ASSERT_LE(0, self->fd);
	attach.vm_fd = self->vm->fd;
	kmig_ioctl(self->fd, KMIG_ATTACH_VM, &attach);
	memset(self->page, 0xab, sizeof(self->page));
}

FIXTURE_TEARDOWN(load)
{
	if (self->fd < 0)
		return;
	close(self->fd);
	guest_vm_free(self->vm);
}

#define DGPA(p)	(GUEST_DATA_GPA + (__u64)(p) * GUEST_PAGE_SIZE)

TEST_F(load, page_then_zero_clears_it)
{
	__u8 *ram = guest_vm_slot(self->vm, GUEST_DATA_SLOT)->hva;
	struct kmig_rec r[2] = {
		{ .gpa = DGPA(5), .npages = 1, .kind = KMIG_REC_PAGE,
		  .len = GUEST_PAGE_SIZE },
		{ .gpa = DGPA(4), .npages = 3, .kind = KMIG_REC_ZERO },
	};
	struct kmig_load out;

	ASSERT_EQ(0, load(self->fd, r, 1, self->page, GUEST_PAGE_SIZE, &out));
	EXPECT_EQ(1, out.pages);
	EXPECT_EQ(0xab, ram[5 * GUEST_PAGE_SIZE + 100]);
	ASSERT_EQ(0, load(self->fd, &r[1], 1, NULL, 0, &out));
	EXPECT_EQ(1, out.zeroed);
	EXPECT_EQ(0, ram[5 * GUEST_PAGE_SIZE + 100]);
}

TEST_F(load, hostile_records_are_refused_before_writing)
{
	__u8 *ram = guest_vm_slot(self->vm, GUEST_DATA_SLOT)->hva;
	struct kmig_rec good = { .gpa = DGPA(1), .npages = 1,
				 .kind = KMIG_REC_PAGE, .len = GUEST_PAGE_SIZE };
	struct {
		struct kmig_rec r;
		int err;
	} bad[] = {
		{ { .gpa = DGPA(2) + 8, .npages = 1, .kind = KMIG_REC_PAGE,
		    .len = GUEST_PAGE_SIZE }, EINVAL },
		{ { .gpa = DGPA(2), .npages = 1, .kind = KMIG_REC_PAGE,
		    .len = 100 }, EINVAL },
		{ { .gpa = DGPA(2), .npages = 2, .kind = KMIG_REC_PAGE,
		    .len = GUEST_PAGE_SIZE }, EINVAL },
		{ { .gpa = DGPA(2), .npages = 0, .kind = KMIG_REC_ZERO },
		  EINVAL },
		{ { .gpa = DGPA(510), .npages = 3, .kind = KMIG_REC_HOLE },
		  EINVAL },
		{ { .gpa = DGPA(2), .npages = 1, .kind = 9 }, EINVAL },
		{ { .gpa = DGPA(2), .npages = 1, .kind = KMIG_REC_ROUND_END },
		  EINVAL },
		{ { .gpa = 0x7000000000ULL, .npages = 1, .kind = KMIG_REC_PAGE,
		    .len = GUEST_PAGE_SIZE }, ENOENT },
	};
	struct kmig_rec recs[3];
	struct kmig_load out;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		recs[0] = good;
		recs[1] = bad[i].r;
		recs[2] = good;
		EXPECT_EQ(-bad[i].err, load(self->fd, recs, 3, self->page,
					    sizeof(self->page), &out))
			TH_LOG("bad record %u", i);
		EXPECT_EQ(1, out.done);
	}
	/* Data shorter than the PAGE records need. */
	recs[0] = good;
	recs[1] = good;
	EXPECT_EQ(-EINVAL, load(self->fd, recs, 2, self->page,
				GUEST_PAGE_SIZE + 10, &out));
	EXPECT_EQ(1, out.done);
	/* Too many records at once; a bad pointer. */
	EXPECT_EQ(-EINVAL, load(self->fd, recs, 4097, self->page, 0, &out));
	EXPECT_EQ(-EFAULT, load(self->fd, (void *)8, 1, self->page,
				GUEST_PAGE_SIZE, &out));
	EXPECT_EQ(-EFAULT, load(self->fd, recs, 1, (void *)8,
				GUEST_PAGE_SIZE, &out));
	/* Only page 1 was ever written. */
	for (i = 2; i < 512; i++)
		ASSERT_EQ(0, ram[i * GUEST_PAGE_SIZE]) TH_LOG("page %u", i);
}

TEST_HARNESS_MAIN
