// SPDX-License-Identifier: GPL-2.0
/*
 * The destination's postcopy placement (kmigctl/destination/place.c and
 * postcopy.c) against a real userfaultfd over memory of this process,
 * standing in for the VMM's guest RAM, and a real socket standing in for
 * the preempt channel to the source:
 *  - a thread touching a discarded page blocks until the fault thread has
 *    asked for it (one REQUEST) and the page that comes back is placed;
 *  - a fault on a page that is not pending is resolved here with zeros,
 *    without a request;
 *  - a copy that arrives after the page was placed is dropped, never
 *    written twice; zstd pages are decompressed before placing;
 *  - when every discarded page is in, nothing is pending.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/userfaultfd.h>
#include <zstd.h>

#include "kselftest_harness.h"
#include "postcopy.h"
#include "test_util.h"

#define NPAGES		16
#define GPA		0x100000ULL

struct touch {
	volatile uint8_t *p;
	uint8_t seen;
};

static void *toucher(void *arg)
{
	struct touch *t = arg;

	t->seen = t->p[100];
	return NULL;
}

/*
 * The placer counts after its ioctl has woken the faulting thread: a
 * counter may lag that thread by a moment.
 */
static uint64_t settled(atomic_uint_fast64_t *v, uint64_t want)
{
	for (int i = 0; i < 200 && atomic_load(v) != want; i++)
		usleep(5000);
	return atomic_load(v);
}

static void fill(uint8_t *page, uint64_t gpa)
{
	for (int i = 0; i < KMS_PAGE_SIZE; i++)
		page[i] = (uint8_t)(gpa >> 12) + i % 7;
}

/* A RAM frame for one page of @gpa, raw or as zstd, sealed with its CRC. */
static size_t ram_frame(uint8_t *out, uint64_t gpa, bool zstd)
{
	uint8_t page[KMS_PAGE_SIZE];
	struct kmig_rec r = { .gpa = gpa, .npages = 1 };
	size_t len, n;

	fill(page, gpa);
	if (zstd) {
		n = ZSTD_compress(out + KMS_RAM_HDR_LEN + KMS_REC_LEN,
				  KMS_PAGE_SIZE, page, sizeof(page), 1);
		r.kind = KMS_REC_ZSTD;
		r.len = n;
	} else {
		memcpy(out + KMS_RAM_HDR_LEN + KMS_REC_LEN, page, sizeof(page));
		r.kind = KMS_REC_PAGE;
		r.len = KMS_PAGE_SIZE;
	}
	kms_rec_encode(out + KMS_RAM_HDR_LEN, &r);
	len = KMS_RAM_HDR_LEN + KMS_REC_LEN + r.len;
	kms_ram_hdr_encode(out, 1, 0);
	kms_ram_seal(out, len);
	return len;
}

/*
 * A RAM frame of one ZSTD record claiming @npages pages from @gpa whose
 * frame holds @have pages of fill(), sealed.
 */
static size_t ram_frame_run(uint8_t *out, uint64_t gpa, uint32_t npages,
			    uint32_t have)
{
	static uint8_t pages[8 * KMS_PAGE_SIZE];
	struct kmig_rec r = { .gpa = gpa, .npages = npages,
			      .kind = KMS_REC_ZSTD };
	size_t len;

	for (uint32_t p = 0; p < have; p++)
		fill(pages + p * KMS_PAGE_SIZE, gpa + p * KMS_PAGE_SIZE);
	r.len = ZSTD_compress(out + KMS_RAM_HDR_LEN + KMS_REC_LEN,
			      KMS_ZSTD_MAX_LEN, pages,
			      (size_t)have * KMS_PAGE_SIZE, 1);
	kms_rec_encode(out + KMS_RAM_HDR_LEN, &r);
	len = KMS_RAM_HDR_LEN + KMS_REC_LEN + r.len;
	kms_ram_hdr_encode(out, 1, 0);
	kms_ram_seal(out, len);
	return len;
}

FIXTURE(place) {
	uint8_t *mem;
	int uffd;
	int sv[2];
	struct kms_layout layout;
	struct chan pre, src;
	struct dst_postcopy d;
	bool up;
};

FIXTURE_SETUP(place)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	uint64_t hva;

	self->mem = mmap(NULL, NPAGES * KMS_PAGE_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->mem);
	self->uffd = syscall(__NR_userfaultfd, O_CLOEXEC);
	if (self->uffd < 0)
		SETUP_SKIP("userfaultfd: %s", strerror(errno));
	ASSERT_EQ(0, ioctl(self->uffd, UFFDIO_API, &api));
	reg.range.start = (uintptr_t)self->mem;
	reg.range.len = NPAGES * KMS_PAGE_SIZE;
	ASSERT_EQ(0, ioctl(self->uffd, UFFDIO_REGISTER, &reg));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, self->sv));
	chan_init(&self->pre, self->sv[0], "preempt channel", 5000, NULL);
	chan_init(&self->src, self->sv[1], "source", 5000, NULL);
	self->layout.nr = 1;
	self->layout.r[0].gpa = GPA;
	self->layout.r[0].size = NPAGES * KMS_PAGE_SIZE;
	hva = (uintptr_t)self->mem;
	ASSERT_EQ(0, dst_postcopy_init(&self->d, self->uffd, &self->layout,
				       &hva, &self->pre, KMS_F_ZSTD));
	self->up = true;
	/* Pages 4..7 are stale here: the source has their only copy. */
	placer_discard(&self->d.pl, GPA + 4 * KMS_PAGE_SIZE, 4);
	ASSERT_EQ(0, dst_postcopy_start(&self->d));
}

FIXTURE_TEARDOWN(place)
{
	if (self->up)
		dst_postcopy_destroy(&self->d);
	chan_close(&self->pre);
	chan_close(&self->src);
	if (self->uffd >= 0)
		close(self->uffd);
	munmap(self->mem, NPAGES * KMS_PAGE_SIZE);
}

/* Pages [@from, @to) hold what the source's fill() put in them. */
static void expect_pages_filled(struct __test_metadata *_metadata,
				FIXTURE_DATA(place) *self, uint64_t from,
				uint64_t to)
{
	uint8_t want[KMS_PAGE_SIZE];

	for (uint64_t p = from; p < to; p++) {
		fill(want, GPA + p * KMS_PAGE_SIZE);
		EXPECT_EQ(0, memcmp(want, self->mem + p * KMS_PAGE_SIZE,
				    KMS_PAGE_SIZE)) TH_LOG("page %llu", (unsigned long long)p);
	}
}

TEST_F_TIMEOUT(place, fault_requests_then_places, 30)
{
	static uint8_t frame[KMS_RAM_MAX_LEN], buf[4096];
	struct touch t = { .p = self->mem + 5 * KMS_PAGE_SIZE };
	uint8_t want[KMS_PAGE_SIZE];
	uint64_t gpa[KMS_MAX_REQUEST];
	struct kms_frame_hdr h;
	struct kms_ram *ram = malloc(sizeof(*ram));
	struct place_ctx pc;
	struct kms_error e;
	pthread_t th;
	uint32_t nr;
	size_t len;

	ASSERT_EQ(4ULL, atomic_load(&self->d.pl.nr_pending));
	ASSERT_EQ(0, pthread_create(&th, NULL, toucher, &t));
	/* The source's side: exactly one request, for page 5. */
	ASSERT_EQ(0, chan_recv(&self->src, &h, buf, sizeof(buf), &e)) TH_LOG("%s", e.msg);
	ASSERT_EQ((uint32_t)KMS_REQUEST, h.type);
	ASSERT_EQ(0, kms_request_decode(buf, h.len, &self->layout, gpa, &nr, &e));
	ASSERT_EQ(1ULL, nr);
	ASSERT_EQ(GPA + 5 * KMS_PAGE_SIZE, gpa[0]);
	/* Then, in a request of their own, the missing pages after it. */
	ASSERT_EQ(0, chan_recv(&self->src, &h, buf, sizeof(buf), &e)) TH_LOG("%s", e.msg);
	ASSERT_EQ((uint32_t)KMS_REQUEST, h.type);
	ASSERT_EQ(0, kms_request_decode(buf, h.len, &self->layout, gpa + 1, &nr, &e));
	ASSERT_EQ(2ULL, nr);
	EXPECT_EQ(GPA + 6 * KMS_PAGE_SIZE, gpa[1]);
	EXPECT_EQ(GPA + 7 * KMS_PAGE_SIZE, gpa[2]);
	len = ram_frame(frame, gpa[0], false);
	ASSERT_EQ(0, chan_send(&self->src, KMS_RAM, frame, len));
	pthread_join(th, NULL);
	fill(want, gpa[0]);
	EXPECT_EQ(want[100], t.seen);
	EXPECT_EQ(0, memcmp(want, self->mem + 5 * KMS_PAGE_SIZE, KMS_PAGE_SIZE));
	EXPECT_EQ(3ULL, settled(&self->d.pl.nr_pending, 3));
	EXPECT_EQ(1ULL, settled(&self->d.pl.urgent_pages, 1));
	EXPECT_EQ(1ULL, atomic_load(&self->d.pl.requests));
	EXPECT_EQ(2ULL, atomic_load(&self->d.pl.ahead));
	EXPECT_GT(placer_latency(&self->d.pl, 50), 0U);

	/* The background stream brings 4..7: page 5 again is dropped. */
	ASSERT_EQ(0, place_ctx_init(&pc));
	for (uint64_t p = 4; p < 8; p++) {
		len = ram_frame(frame, GPA + p * KMS_PAGE_SIZE, p == 6);
		ASSERT_EQ(0, kms_ram_decode(frame, len, &self->layout, KMS_F_ZSTD,
					    ram, &e)) TH_LOG("%s", e.msg);
		ASSERT_EQ(0, place_frame(&self->d.pl, &pc, ram, false, &e))
			TH_LOG("%s", e.msg);
	}
	place_ctx_destroy(&pc);
	EXPECT_EQ(1ULL, atomic_load(&self->d.pl.duplicates));
	EXPECT_EQ(3ULL, atomic_load(&self->d.pl.bg_pages));
	EXPECT_EQ(0ULL, atomic_load(&self->d.pl.nr_pending));
	expect_pages_filled(_metadata, self, 4, 8);
	EXPECT_EQ(0, dst_postcopy_error(&self->d, NULL, 0));
	free(ram);
}

/* The one REQUEST frame waiting on @c: its pages into @gpa, how many. */
static uint32_t recv_request(struct __test_metadata *_metadata,
			     FIXTURE_DATA(place) *self, uint64_t *gpa)
{
	static uint8_t buf[KMS_REQUEST_LEN(KMS_MAX_REQUEST)];
	struct kms_frame_hdr h;
	struct kms_error e;
	uint32_t nr = 0;

	EXPECT_EQ(0, chan_recv(&self->src, &h, buf, sizeof(buf), &e)) TH_LOG("%s", e.msg);
	EXPECT_EQ((uint32_t)KMS_REQUEST, h.type);
	EXPECT_EQ(0, kms_request_decode(buf, h.len, &self->layout, gpa, &nr, &e))
		TH_LOG("%s", e.msg);
	return nr;
}

/*
 * Asking ahead: a fault on the first of the stale pages 4..7 asks for it,
 * then for 5..7 (not 8: it is here). A fault on 6 meanwhile asks for
 * nothing: it is on its way. Stale pages 14 and 15 end the region: a
 * fault on 14 asks ahead for 15 only, never past the layout.
 */
TEST_F_TIMEOUT(place, fault_asks_for_the_missing_pages_after_it_once, 30)
{
	struct touch t4 = { .p = self->mem + 4 * KMS_PAGE_SIZE };
	struct touch t6 = { .p = self->mem + 6 * KMS_PAGE_SIZE };
	struct touch t14 = { .p = self->mem + 14 * KMS_PAGE_SIZE };
	static uint8_t frame[KMS_RAM_MAX_LEN];
	uint64_t gpa[KMS_MAX_REQUEST], p;
	pthread_t th4, th6, th14;

	placer_discard(&self->d.pl, GPA + 14 * KMS_PAGE_SIZE, 2);
	ASSERT_EQ(0, pthread_create(&th4, NULL, toucher, &t4));
	ASSERT_EQ(1U, recv_request(_metadata, self, gpa));
	EXPECT_EQ(GPA + 4 * KMS_PAGE_SIZE, gpa[0]);
	ASSERT_EQ(3U, recv_request(_metadata, self, gpa));
	for (p = 0; p < 3; p++)
		EXPECT_EQ(GPA + (5 + p) * KMS_PAGE_SIZE, gpa[p]);
	ASSERT_EQ(0, pthread_create(&th6, NULL, toucher, &t6));
	EXPECT_EQ(0, chan_poll_in(&self->src, 200));

	ASSERT_EQ(0, pthread_create(&th14, NULL, toucher, &t14));
	ASSERT_EQ(1U, recv_request(_metadata, self, gpa));
	EXPECT_EQ(GPA + 14 * KMS_PAGE_SIZE, gpa[0]);
	ASSERT_EQ(1U, recv_request(_metadata, self, gpa));
	EXPECT_EQ(GPA + 15 * KMS_PAGE_SIZE, gpa[0]);

	for (p = 4; p < 16; p = p == 7 ? 14 : p + 1)
		ASSERT_EQ(0, chan_send(&self->src, KMS_RAM, frame,
				       ram_frame(frame, GPA + p * KMS_PAGE_SIZE,
						 false)));
	pthread_join(th4, NULL);
	pthread_join(th6, NULL);
	pthread_join(th14, NULL);
	expect_pages_filled(_metadata, self, 4, 8);
	expect_pages_filled(_metadata, self, 14, 16);
	EXPECT_EQ(0ULL, settled(&self->d.pl.nr_pending, 0));
	EXPECT_EQ(2ULL, atomic_load(&self->d.pl.requests));
	EXPECT_EQ(4ULL, atomic_load(&self->d.pl.ahead));
	EXPECT_EQ(0, dst_postcopy_error(&self->d, NULL, 0));
}

TEST_F_TIMEOUT(place, fault_on_known_page_is_local, 30)
{
	struct touch t = { .p = self->mem + 1 * KMS_PAGE_SIZE };
	pthread_t th;

	ASSERT_EQ(0, pthread_create(&th, NULL, toucher, &t));
	pthread_join(th, NULL);
	EXPECT_EQ(0, t.seen);
	EXPECT_EQ(1ULL, settled(&self->d.pl.local_zero, 1));
	EXPECT_EQ(0ULL, atomic_load(&self->d.pl.requests));
	/* Nothing went to the source. */
	EXPECT_EQ(0, chan_poll_in(&self->src, 200));
}

TEST_F_TIMEOUT(place, bad_zstd_is_refused_and_page_stays_missing, 30)
{
	static uint8_t frame[KMS_RAM_MAX_LEN];
	struct kms_ram *ram = malloc(sizeof(*ram));
	struct place_ctx pc;
	struct kms_error e;
	size_t len;

	len = ram_frame(frame, GPA + 4 * KMS_PAGE_SIZE, true);
	/* A broken zstd frame, resealed as a source would send it. */
	frame[KMS_RAM_HDR_LEN + KMS_REC_LEN] ^= 0xff;	/* its magic */
	kms_ram_seal(frame, len);
	ASSERT_EQ(0, kms_ram_decode(frame, len, &self->layout, KMS_F_ZSTD, ram, &e));
	ASSERT_EQ(0, place_ctx_init(&pc));
	EXPECT_EQ(-EINVAL, place_frame(&self->d.pl, &pc, ram, false, &e));
	place_ctx_destroy(&pc);
	EXPECT_EQ(4ULL, atomic_load(&self->d.pl.nr_pending));
	free(ram);
}

/* KMS_F_ZSTD_RUN: one frame of pages 4..7 places all four. */
TEST_F_TIMEOUT(place, zstd_run_places_every_page, 30)
{
	static uint8_t frame[KMS_RAM_MAX_LEN];
	const uint32_t f = KMS_F_ZSTD | KMS_F_ZSTD_RUN;
	struct kms_ram *ram = malloc(sizeof(*ram));
	struct place_ctx pc;
	struct kms_error e;
	size_t len;

	len = ram_frame_run(frame, GPA + 4 * KMS_PAGE_SIZE, 4, 4);
	ASSERT_EQ(0, kms_ram_decode(frame, len, &self->layout, f, ram, &e))
		TH_LOG("%s", e.msg);
	ASSERT_EQ(4ULL, ram->compressed);
	ASSERT_EQ(0, place_ctx_init(&pc));
	ASSERT_EQ(0, place_frame(&self->d.pl, &pc, ram, false, &e))
		TH_LOG("%s", e.msg);
	place_ctx_destroy(&pc);
	EXPECT_EQ(0ULL, atomic_load(&self->d.pl.nr_pending));
	EXPECT_EQ(4ULL, atomic_load(&self->d.pl.bg_pages));
	expect_pages_filled(_metadata, self, 4, 8);
	EXPECT_EQ(0, dst_postcopy_error(&self->d, NULL, 0));
	free(ram);
}

/* A run whose frame holds one page too few or too many: nothing placed. */
TEST_F_TIMEOUT(place, zstd_run_of_wrong_size_is_refused, 30)
{
	static uint8_t frame[KMS_RAM_MAX_LEN];
	const uint32_t f = KMS_F_ZSTD | KMS_F_ZSTD_RUN;
	struct kms_ram *ram = malloc(sizeof(*ram));
	struct place_ctx pc;
	struct kms_error e;
	size_t len;

	ASSERT_EQ(0, place_ctx_init(&pc));
	len = ram_frame_run(frame, GPA + 4 * KMS_PAGE_SIZE, 4, 3);
	ASSERT_EQ(0, kms_ram_decode(frame, len, &self->layout, f, ram, &e));
	EXPECT_EQ(-EINVAL, place_frame(&self->d.pl, &pc, ram, false, &e));
	EXPECT_STREQ("the zstd frame for gpa 0x104000 does not decompress to exactly its 4 pages",
		     e.msg);
	len = ram_frame_run(frame, GPA + 4 * KMS_PAGE_SIZE, 3, 4);
	ASSERT_EQ(0, kms_ram_decode(frame, len, &self->layout, f, ram, &e));
	EXPECT_EQ(-EINVAL, place_frame(&self->d.pl, &pc, ram, false, &e));
	place_ctx_destroy(&pc);
	EXPECT_EQ(4ULL, atomic_load(&self->d.pl.nr_pending));
	free(ram);
}

TEST_HARNESS_MAIN
