// SPDX-License-Identifier: GPL-2.0
/*
 * Postcopy's frames (kmigctl/wire/stream_postcopy.c): DISCARD lists and
 * page REQUESTs encode and decode to the same thing, and what a hostile
 * peer sends is refused before anyone acts on it: ranges outside guest
 * RAM or across a region's end, unaligned, empty, wrapping, overlapping
 * or going backwards (within a frame and across frames), counts that do
 * not match the length, non-zero reserved words.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "kselftest_harness.h"
#include "stream.h"

/* 128 MiB at 0 and 64 MiB at 4 GiB, as around a PCI hole. */
static const struct kms_layout two = {
	.nr = 2,
	.r = { { 0, 128 << 20 }, { 1ULL << 32, 64 << 20 } },
};

static uint8_t buf[KMS_DISCARD_LEN(8)];

static int discard(const struct kms_discard *d, uint32_t nr, uint64_t *next,
		   uint64_t *pages, struct kms_error *e)
{
	struct kms_discard out[8];
	size_t len = kms_discard_encode(d, nr, buf);
	uint32_t got;

	return kms_discard_decode(buf, len, &two, next, out, &got, pages, e);
}

TEST(discard_round_trip)
{
	struct kms_discard d[3] = {
		{ 0, 1 }, { 0x10000, 16 }, { (1ULL << 32) + 0x3ff0000, 16 },
	}, out[8];
	uint64_t next = 0, pages = 0;
	struct kms_error e;
	uint32_t nr;
	size_t len = kms_discard_encode(d, 3, buf);

	ASSERT_EQ(KMS_DISCARD_LEN(3), len);
	ASSERT_EQ(0, kms_discard_decode(buf, len, &two, &next, out, &nr, &pages, &e))
		TH_LOG("%s", e.msg);
	ASSERT_EQ(3ULL, nr);
	EXPECT_EQ(0, memcmp(d, out, sizeof(d)));
	EXPECT_EQ(33ULL, pages);
	/* The last range ends exactly at the end of the second region. */
	EXPECT_EQ((1ULL << 32) + (64 << 20), next);
}

TEST(discard_hostile_ranges)
{
	static const struct {
		struct kms_discard d;
		int err;
	} bad[] = {
		{ { 128 << 20, 1 }, -ERANGE },		/* in the hole */
		{ { (128 << 20) - 4096, 2 }, -ERANGE },	/* across a region's end */
		{ { 0x800, 1 }, -ERANGE },		/* unaligned */
		{ { 0, 0 }, -ERANGE },			/* empty */
		{ { 0, UINT64_MAX / 4096 + 1 }, -ERANGE }, /* bytes overflow */
		{ { UINT64_MAX & ~4095ULL, 2 }, -ERANGE },/* gpa wraps */
		{ { 1ULL << 40, 1 }, -ERANGE },		/* far outside */
	};
	struct kms_error e;
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t next = 0, pages = 0;

		EXPECT_EQ(bad[i].err, discard(&bad[i].d, 1, &next, &pages, &e))
			TH_LOG("case %u: %s", i, e.msg);
	}
}

TEST(discard_overlap_and_order)
{
	struct kms_discard overlap[2] = { { 0, 4 }, { 0x2000, 1 } };
	struct kms_discard backwards[2] = { { 0x10000, 1 }, { 0, 1 } };
	struct kms_discard twice[2] = { { 0x10000, 1 }, { 0x10000, 1 } };
	struct kms_discard first = { 0x10000, 4 }, again = { 0x11000, 1 };
	uint64_t next = 0, pages = 0;
	struct kms_error e;

	EXPECT_EQ(-EPROTO, discard(overlap, 2, &next, &pages, &e));
	next = 0;
	EXPECT_EQ(-EPROTO, discard(backwards, 2, &next, &pages, &e));
	next = 0;
	EXPECT_EQ(-EPROTO, discard(twice, 2, &next, &pages, &e));
	/* Across frames too: the second frame may not go back. */
	next = 0;
	pages = 0;
	ASSERT_EQ(0, discard(&first, 1, &next, &pages, &e));
	EXPECT_EQ(-EPROTO, discard(&again, 1, &next, &pages, &e)) TH_LOG("%s", e.msg);
	EXPECT_NE(NULL, strstr(e.msg, "overlaps"));
}

TEST(discard_counts_and_reserved)
{
	struct kms_discard d = { 0, 1 }, out[8];
	uint64_t next = 0, pages = 0;
	struct kms_error e;
	uint32_t nr;
	size_t len = kms_discard_encode(&d, 1, buf);

	kms_put_u32(buf, 2);	/* claims two, carries one */
	EXPECT_EQ(-EMSGSIZE, kms_discard_decode(buf, len, &two, &next, out, &nr,
						&pages, &e));
	kms_put_u32(buf, 0);
	EXPECT_EQ(-EMSGSIZE, kms_discard_decode(buf, len, &two, &next, out, &nr,
						&pages, &e));
	kms_put_u32(buf, 1);
	kms_put_u32(buf + 4, 1);
	EXPECT_EQ(-EPROTO, kms_discard_decode(buf, len, &two, &next, out, &nr,
					      &pages, &e));
}

TEST(request_round_trip_and_hostile)
{
	uint64_t gpa[3] = { 0, 0x5000, (1ULL << 32) + 0x1000 }, out[KMS_MAX_REQUEST];
	uint8_t b[KMS_REQUEST_LEN(KMS_MAX_REQUEST)];
	struct kms_error e;
	uint32_t nr;
	size_t len = kms_request_encode(gpa, 3, b);

	ASSERT_EQ(0, kms_request_decode(b, len, &two, out, &nr, &e));
	ASSERT_EQ(3ULL, nr);
	EXPECT_EQ(0, memcmp(gpa, out, sizeof(gpa)));

	gpa[1] = 128 << 20;	/* the hole */
	len = kms_request_encode(gpa, 3, b);
	EXPECT_EQ(-ERANGE, kms_request_decode(b, len, &two, out, &nr, &e));
	EXPECT_NE(NULL, strstr(e.msg, "not a page of guest RAM"));
	gpa[1] = 0x5008;	/* unaligned */
	len = kms_request_encode(gpa, 3, b);
	EXPECT_EQ(-ERANGE, kms_request_decode(b, len, &two, out, &nr, &e));
	/* More pages than one request may carry, and a short frame. */
	kms_put_u32(b, KMS_MAX_REQUEST + 1);
	EXPECT_EQ(-EMSGSIZE, kms_request_decode(b, len, &two, out, &nr, &e));
	kms_put_u32(b, 3);
	EXPECT_EQ(-EMSGSIZE, kms_request_decode(b, len - 1, &two, out, &nr, &e));
}

TEST(postcopy_frame)
{
	uint8_t b[KMS_POSTCOPY_LEN];
	struct kms_error e;
	uint64_t pages;
	uint32_t round;

	kms_postcopy_encode(b, 7, 1234);
	ASSERT_EQ(0, kms_postcopy_decode(b, sizeof(b), &round, &pages, &e));
	EXPECT_EQ(7ULL, round);
	EXPECT_EQ(1234ULL, pages);
	kms_put_u32(b + 4, 1);
	EXPECT_EQ(-EPROTO, kms_postcopy_decode(b, sizeof(b), &round, &pages, &e));
}

TEST(page_index_over_regions)
{
	EXPECT_EQ(0ULL, kms_layout_page_index(&two, 0));
	EXPECT_EQ(1ULL, kms_layout_page_index(&two, 0x1fff));
	EXPECT_EQ(UINT64_MAX, kms_layout_page_index(&two, 128 << 20));
	EXPECT_EQ(32768ULL, kms_layout_page_index(&two, 1ULL << 32));
	EXPECT_EQ(32768ULL + 16383,
		  kms_layout_page_index(&two, (1ULL << 32) + (64 << 20) - 1));
	EXPECT_EQ(UINT64_MAX, kms_layout_page_index(&two, (1ULL << 32) + (64 << 20)));
}

TEST(hello_preempt_channel)
{
	struct kms_hello h = {
		.session_id = 1, .channel = 3, .nr_channels = 2,
		.page_size = KMS_PAGE_SIZE, .nr_vcpus = 1, .layout = two,
	}, out;
	uint8_t b[KMS_HELLO_LEN(KMS_MAX_REGIONS)];
	struct kms_error e;
	size_t len;

	h.ram_bytes = kms_layout_bytes(&two);
	/* Channel nr_channels + 1 is the preempt channel, with postcopy only. */
	len = kms_hello_encode(&h, b);
	EXPECT_EQ(-EPROTO, kms_hello_decode(b, len, &out, &e));
	h.features = KMS_F_POSTCOPY;
	len = kms_hello_encode(&h, b);
	EXPECT_EQ(0, kms_hello_decode(b, len, &out, &e)) TH_LOG("%s", e.msg);
	h.channel = 4;
	len = kms_hello_encode(&h, b);
	EXPECT_EQ(-EPROTO, kms_hello_decode(b, len, &out, &e));
}

TEST_HARNESS_MAIN
