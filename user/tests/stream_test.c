// SPDX-License-Identifier: GPL-2.0
/*
 * The migration stream's codec (kmigctl/wire/stream.c): what the source encodes
 * decodes to the same thing, and every hostile input the destination can
 * meet is refused with the right errno and a message that names it:
 * truncation, oversize lengths and counts, addresses outside guest RAM,
 * misalignment, wrap-around, bad magic and version, zstd records that were
 * not negotiated or whose lengths are out of bounds.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "stream.h"

/* 128 MiB at 0 and 64 MiB at 4 GiB: two regions, as around a PCI hole. */
static const struct kms_layout two_regions = {
	.nr = 2,
	.r = { { 0, 128 << 20 }, { 1ULL << 32, 64 << 20 } },
};

static struct kms_hello sample_hello(void)
{
	struct kms_hello h = {
		.session_id = 0x0123456789abcdefULL,
		.channel = 2,
		.nr_channels = 4,
		.page_size = KMS_PAGE_SIZE,
		.nr_vcpus = 2,
		.layout = two_regions,
	};

	h.ram_bytes = kms_layout_bytes(&h.layout);
	return h;
}

/* A RAM payload built by hand, as a hostile source would. */
/* The tests build frames by hand: each is sealed with its CRC as sent. */
static int sealed_ram_decode(const uint8_t *p, size_t len,
			     const struct kms_layout *l, uint32_t features,
			     struct kms_ram *out, struct kms_error *e)
{
	if (len >= KMS_RAM_HDR_LEN)
		kms_ram_seal((uint8_t *)p, len);
	return kms_ram_decode(p, len, l, features, out, e);
}

struct ram_buf {
	uint8_t b[KMS_RAM_HDR_LEN + 8 * (KMS_REC_LEN + KMS_PAGE_SIZE)];
	size_t len;
	uint32_t nr;
};

static void ram_begin(struct ram_buf *r)
{
	memset(r, 0, sizeof(*r));
	r->len = KMS_RAM_HDR_LEN;
}

/* Appends a record; data for PAGE records is appended by ram_finish(). */
static void ram_rec(struct ram_buf *r, uint64_t gpa, uint32_t npages,
		    uint16_t kind, uint16_t len)
{
	uint8_t *q = r->b + KMS_RAM_HDR_LEN + r->nr * KMS_REC_LEN;

	kms_put_u64(q, gpa);
	kms_put_u32(q + 8, npages);
	kms_put_u16(q + 12, kind);
	kms_put_u16(q + 14, len);
	r->nr++;
	r->len += KMS_REC_LEN;
}

/* Sets the count and appends @pages pages of data (byte i of page p = p). */
static void ram_finish(struct ram_buf *r, uint32_t pages)
{
	uint32_t p;

	kms_ram_hdr_encode(r->b, r->nr, 0);
	for (p = 0; p < pages; p++) {
		memset(r->b + r->len, 0x40 + p, KMS_PAGE_SIZE);
		r->len += KMS_PAGE_SIZE;
	}
}

TEST(little_endian_helpers)
{
	uint8_t b[8];

	kms_put_u64(b, 0x1122334455667788ULL);
	EXPECT_EQ(0x88, b[0]);
	EXPECT_EQ(0x11, b[7]);
	EXPECT_EQ(0x1122334455667788ULL, kms_get_u64(b));
	kms_put_u16(b, 0xbeef);
	EXPECT_EQ(0xbeef, kms_get_u16(b));
}

TEST(preamble_round_trip)
{
	uint8_t pre[KMS_PREAMBLE_LEN];
	struct kms_error e;
	uint32_t v = 0, f;

	kms_preamble_encode(pre, KMS_VERSION, 0);
	EXPECT_EQ(0, memcmp(pre, "KMIGSTRM", 8));
	EXPECT_EQ(0, kms_preamble_decode(pre, &v, &f, &e));
	EXPECT_EQ((uint32_t)KMS_VERSION, v);
}

TEST(preamble_bad_magic)
{
	uint8_t pre[KMS_PREAMBLE_LEN];
	struct kms_error e;
	uint32_t v, f;

	/* Somebody's HTTP client on the migration port. */
	memcpy(pre, "GET / HTTP/1.1\r\n", KMS_PREAMBLE_LEN);
	EXPECT_EQ(-EPROTO, kms_preamble_decode(pre, &v, &f, &e));
	EXPECT_NE(NULL, strstr(e.msg, "not a kmig migration stream"));
}

TEST(preamble_other_version)
{
	uint8_t pre[KMS_PREAMBLE_LEN];
	struct kms_error e;
	uint32_t v = 0, f;

	/* A kmigctl of the previous version. */
	kms_preamble_encode(pre, 1, 0);
	EXPECT_EQ(-EPROTONOSUPPORT, kms_preamble_decode(pre, &v, &f, &e));
	EXPECT_EQ(1U, v);	/* still reported, for the message */
	EXPECT_STREQ("stream version 1 is not supported (this kmigctl speaks version 3)",
		     e.msg);
	kms_preamble_encode(pre, 0, 0);
	EXPECT_EQ(-EPROTONOSUPPORT, kms_preamble_decode(pre, &v, &f, &e));
}

TEST(preamble_unknown_flags_refused)
{
	uint8_t pre[KMS_PREAMBLE_LEN];
	struct kms_error e;
	uint32_t v, f;

	kms_preamble_encode(pre, KMS_VERSION, KMS_PRE_F_AUTH);
	EXPECT_EQ(0, kms_preamble_decode(pre, &v, &f, &e));
	EXPECT_EQ(KMS_PRE_F_AUTH, f);
	pre[12] = 2;
	EXPECT_EQ(-EPROTO, kms_preamble_decode(pre, &v, &f, &e));
}

TEST(ram_checksum_catches_one_flipped_bit)
{
	struct kmig_rec in = { .gpa = 0x3000, .npages = 1,
			       .kind = KMIG_REC_PAGE, .len = KMIG_PAGE_SIZE };
	struct kms_ram *ram = malloc(sizeof(*ram));
	size_t len = kms_ram_len(1, 1);
	uint8_t *b = calloc(1, len);
	struct kms_error e;

	ASSERT_NE(NULL, ram);
	ASSERT_NE(NULL, b);
	kms_ram_hdr_encode(b, 1, 0);
	kms_rec_encode(b + KMS_RAM_HDR_LEN, &in);
	memset(b + KMS_RAM_HDR_LEN + KMS_REC_LEN, 0x5a, KMS_PAGE_SIZE);
	kms_ram_seal(b, len);
	ASSERT_EQ(0, kms_ram_decode(b, len, &two_regions, 0, ram, &e));
	/* One bit of the page data, then one of the record. */
	b[len - 100] ^= 0x10;
	EXPECT_EQ(-EBADMSG, kms_ram_decode(b, len, &two_regions, 0, ram, &e));
	EXPECT_NE(NULL, strstr(e.msg, "checksum mismatch"));
	EXPECT_EQ(0U, ram->nr);
	b[len - 100] ^= 0x10;
	b[KMS_RAM_HDR_LEN + 1] ^= 0x01;
	EXPECT_EQ(-EBADMSG, kms_ram_decode(b, len, &two_regions, 0, ram, &e));
	free(b);
	free(ram);
}

TEST(frame_header_bounds)
{
	uint8_t hdr[KMS_FRAME_HDR_LEN];
	struct kms_frame_hdr h;
	struct kms_error e;

	kms_frame_hdr_encode(hdr, KMS_RAM, kms_ram_len(1, 1));
	ASSERT_EQ(0, kms_frame_hdr_decode(hdr, &h, &e));
	EXPECT_EQ((uint32_t)KMS_RAM, h.type);
	EXPECT_EQ(kms_ram_len(1, 1), h.len);

	/* The largest RAM frame passes, one byte more does not. */
	kms_frame_hdr_encode(hdr, KMS_RAM, KMS_RAM_MAX_LEN);
	EXPECT_EQ(0, kms_frame_hdr_decode(hdr, &h, &e));
	kms_frame_hdr_encode(hdr, KMS_RAM, KMS_RAM_MAX_LEN + 1);
	EXPECT_EQ(-EMSGSIZE, kms_frame_hdr_decode(hdr, &h, &e));
	EXPECT_NE(NULL, strstr(e.msg, "RAM frame of"));

	/* A 4 GiB length must never make anyone allocate 4 GiB. */
	kms_frame_hdr_encode(hdr, KMS_DEVICE_STATE, UINT32_MAX);
	EXPECT_EQ(-EMSGSIZE, kms_frame_hdr_decode(hdr, &h, &e));
	kms_frame_hdr_encode(hdr, KMS_DEVICE_STATE, 0);
	EXPECT_EQ(-EMSGSIZE, kms_frame_hdr_decode(hdr, &h, &e));

	/* Fixed-size frames take exactly their size. */
	kms_frame_hdr_encode(hdr, KMS_END, 1);
	EXPECT_EQ(-EMSGSIZE, kms_frame_hdr_decode(hdr, &h, &e));
	kms_frame_hdr_encode(hdr, KMS_SYNC, KMS_SYNC_LEN - 1);
	EXPECT_EQ(-EMSGSIZE, kms_frame_hdr_decode(hdr, &h, &e));
	kms_frame_hdr_encode(hdr, KMS_ACK, KMS_ACK_LEN);
	EXPECT_EQ(0, kms_frame_hdr_decode(hdr, &h, &e));
	kms_frame_hdr_encode(hdr, KMS_LOADED, KMS_SYNC_LEN);
	EXPECT_EQ(0, kms_frame_hdr_decode(hdr, &h, &e));
	kms_frame_hdr_encode(hdr, KMS_LOADED, 0);
	EXPECT_EQ(-EMSGSIZE, kms_frame_hdr_decode(hdr, &h, &e));
	kms_frame_hdr_encode(hdr, KMS_KEEPALIVE, 0);
	EXPECT_EQ(0, kms_frame_hdr_decode(hdr, &h, &e));
	kms_frame_hdr_encode(hdr, KMS_KEEPALIVE, 1);
	EXPECT_EQ(-EMSGSIZE, kms_frame_hdr_decode(hdr, &h, &e));
	kms_frame_hdr_encode(hdr, KMS_REJECT, KMS_MAX_REASON + 1);
	EXPECT_EQ(-EMSGSIZE, kms_frame_hdr_decode(hdr, &h, &e));
}

TEST(frame_header_unknown_type)
{
	uint8_t hdr[KMS_FRAME_HDR_LEN];
	struct kms_frame_hdr h;
	struct kms_error e;

	kms_frame_hdr_encode(hdr, 0, 0);
	EXPECT_EQ(-EPROTO, kms_frame_hdr_decode(hdr, &h, &e));
	kms_frame_hdr_encode(hdr, KMS_FRAME_TYPE_MAX + 1, 0);
	EXPECT_EQ(-EPROTO, kms_frame_hdr_decode(hdr, &h, &e));
	EXPECT_STREQ("unknown frame type 22", e.msg);
	EXPECT_STREQ("unknown", kms_frame_name(99));
	EXPECT_STREQ("DEVICE_STATE", kms_frame_name(KMS_DEVICE_STATE));
}

TEST(hello_round_trip)
{
	uint8_t buf[KMS_HELLO_LEN(KMS_MAX_REGIONS)];
	struct kms_hello h = sample_hello(), got;
	struct kms_error e;
	size_t len;

	len = kms_hello_encode(&h, buf);
	EXPECT_EQ((size_t)KMS_HELLO_LEN(2), len);
	ASSERT_EQ(0, kms_hello_decode(buf, len, &got, &e));
	EXPECT_EQ(h.session_id, got.session_id);
	EXPECT_EQ(2U, got.channel);
	EXPECT_EQ(4U, got.nr_channels);
	EXPECT_EQ(2U, got.nr_vcpus);
	EXPECT_EQ(192ULL << 20, got.ram_bytes);
	ASSERT_EQ(2U, got.layout.nr);
	EXPECT_EQ(1ULL << 32, got.layout.r[1].gpa);
	EXPECT_EQ(0, kms_layout_compare(&h.layout, &got.layout, &e));
}

/* Encodes sample_hello() changed by @edit, and decodes it. */
static int hello_edited(void (*edit)(struct kms_hello *h, uint8_t *buf,
				     size_t *len),
			struct kms_error *e)
{
	uint8_t buf[KMS_HELLO_LEN(KMS_MAX_REGIONS) + 16];
	struct kms_hello h = sample_hello(), got;
	size_t len;

	len = kms_hello_encode(&h, buf);
	edit(&h, buf, &len);
	return kms_hello_decode(buf, len, &got, e);
}

static void truncate_hello(struct kms_hello *h, uint8_t *buf, size_t *len)
{
	(void)h; (void)buf;
	*len -= 1;
}

static void short_hello(struct kms_hello *h, uint8_t *buf, size_t *len)
{
	(void)h; (void)buf;
	*len = 10;
}

static void many_regions(struct kms_hello *h, uint8_t *buf, size_t *len)
{
	(void)h; (void)len;
	kms_put_u32(buf + 20, 100000);
}

static void no_regions(struct kms_hello *h, uint8_t *buf, size_t *len)
{
	(void)h;
	kms_put_u32(buf + 20, 0);
	*len = KMS_HELLO_LEN(0);
}

static void page_64k(struct kms_hello *h, uint8_t *buf, size_t *len)
{
	(void)h; (void)len;
	kms_put_u32(buf + 16, 65536);
}

static void too_many_channels(struct kms_hello *h, uint8_t *buf, size_t *len)
{
	(void)h; (void)len;
	kms_put_u32(buf + 12, KMS_MAX_CHANNELS + 1);
}

static void channel_past_count(struct kms_hello *h, uint8_t *buf, size_t *len)
{
	(void)h; (void)len;
	kms_put_u32(buf + 8, 5);
}

static void session_zero(struct kms_hello *h, uint8_t *buf, size_t *len)
{
	(void)h; (void)len;
	kms_put_u64(buf, 0);
}

static void overlap(struct kms_hello *h, uint8_t *buf, size_t *len)
{
	(void)h; (void)len;
	kms_put_u64(buf + 40 + 16, 64 << 20);	/* region 1 inside region 0 */
}

static void wraps(struct kms_hello *h, uint8_t *buf, size_t *len)
{
	(void)h; (void)len;
	kms_put_u64(buf + 40 + 16, UINT64_MAX & ~4095ULL);
	kms_put_u64(buf + 48 + 16, 1ULL << 20);
}

static void misaligned(struct kms_hello *h, uint8_t *buf, size_t *len)
{
	(void)h; (void)len;
	kms_put_u64(buf + 48, (128 << 20) + 512);
}

static void ram_sum_lies(struct kms_hello *h, uint8_t *buf, size_t *len)
{
	(void)h; (void)len;
	kms_put_u64(buf + 24, 1ULL << 40);
}

/* The former reserved word carries the features: an unknown one. */
static void unknown_feature(struct kms_hello *h, uint8_t *buf, size_t *len)
{
	(void)h; (void)len;
	kms_put_u32(buf + 36, KMS_F_ZSTD | 0x80000000U);
}

TEST(hello_hostile)
{
	struct kms_error e;

	EXPECT_EQ(-EPROTO, hello_edited(truncate_hello, &e));
	EXPECT_NE(NULL, strstr(e.msg, "2 regions take"));
	EXPECT_EQ(-EPROTO, hello_edited(short_hello, &e));
	EXPECT_NE(NULL, strstr(e.msg, "truncated"));
	EXPECT_EQ(-EMSGSIZE, hello_edited(many_regions, &e));
	EXPECT_EQ(-EMSGSIZE, hello_edited(no_regions, &e));
	EXPECT_EQ(-EPROTONOSUPPORT, hello_edited(page_64k, &e));
	EXPECT_STREQ("source page size 65536 (this side supports 4096)", e.msg);
	EXPECT_EQ(-EMSGSIZE, hello_edited(too_many_channels, &e));
	EXPECT_EQ(-EPROTO, hello_edited(channel_past_count, &e));
	EXPECT_EQ(-EPROTO, hello_edited(session_zero, &e));
	EXPECT_EQ(-EPROTO, hello_edited(overlap, &e));
	EXPECT_NE(NULL, strstr(e.msg, "overlaps"));
	EXPECT_EQ(-ERANGE, hello_edited(wraps, &e));
	EXPECT_EQ(-EPROTO, hello_edited(misaligned, &e));
	EXPECT_EQ(-EPROTO, hello_edited(ram_sum_lies, &e));
	EXPECT_EQ(-EPROTONOSUPPORT, hello_edited(unknown_feature, &e));
	EXPECT_STREQ("the source uses stream features 0x80000000 that this kmigctl does not know",
		     e.msg);
}

TEST(hello_carries_features)
{
	uint8_t buf[KMS_HELLO_LEN(KMS_MAX_REGIONS)];
	struct kms_hello h = sample_hello(), got;
	struct kms_error e;
	size_t len;

	len = kms_hello_encode(&h, buf);
	ASSERT_EQ(0, kms_hello_decode(buf, len, &got, &e));
	EXPECT_EQ(0U, got.features);
	h.features = KMS_F_ZSTD;
	len = kms_hello_encode(&h, buf);
	EXPECT_EQ(KMS_F_ZSTD, kms_get_u32(buf + 36));
	ASSERT_EQ(0, kms_hello_decode(buf, len, &got, &e));
	EXPECT_EQ(KMS_F_ZSTD, got.features);
}

TEST(layout_compare_names_both)
{
	struct kms_layout small = { .nr = 1, .r = { { 0, 64 << 20 } } };
	struct kms_error e;

	EXPECT_EQ(-EINVAL, kms_layout_compare(&two_regions, &small, &e));
	EXPECT_STREQ("guest RAM layouts differ: source 0x0+128M 0x100000000+64M, destination 0x0+64M",
		     e.msg);
}

TEST(layout_contains_edges)
{
	const struct kms_layout *l = &two_regions;

	EXPECT_TRUE(kms_layout_contains(l, 0, 1));
	EXPECT_TRUE(kms_layout_contains(l, 0, (128 << 20) / 4096));
	EXPECT_FALSE(kms_layout_contains(l, 0, (128 << 20) / 4096 + 1));
	EXPECT_TRUE(kms_layout_contains(l, (128 << 20) - 4096, 1));
	EXPECT_FALSE(kms_layout_contains(l, 128 << 20, 1));	/* the hole */
	EXPECT_FALSE(kms_layout_contains(l, (1ULL << 32) - 4096, 2));
	EXPECT_TRUE(kms_layout_contains(l, (1ULL << 32) + (63 << 20), 256));
	EXPECT_FALSE(kms_layout_contains(l, 0, 0));
	/* npages * 4096 would overflow 64 bits. */
	EXPECT_FALSE(kms_layout_contains(l, 0, UINT64_MAX / 2));
	EXPECT_FALSE(kms_layout_contains(l, UINT64_MAX - 4095, 1));
}

TEST(ram_round_trip)
{
	struct kms_ram *ram = malloc(sizeof(*ram));
	struct ram_buf r;
	struct kms_error e;

	ASSERT_NE(NULL, ram);
	ram_begin(&r);
	ram_rec(&r, 0x5000, 1, KMS_REC_PAGE, KMS_PAGE_SIZE);
	ram_rec(&r, 0x10000, 16, KMS_REC_ZERO, 0);
	ram_rec(&r, 1ULL << 32, 512, KMS_REC_HOLE, 0);
	ram_rec(&r, 0x7000, 1, KMS_REC_PAGE, KMS_PAGE_SIZE);
	ram_finish(&r, 2);

	ASSERT_EQ(0, sealed_ram_decode(r.b, r.len, &two_regions, 0, ram, &e));
	EXPECT_EQ(4U, ram->nr);
	EXPECT_EQ(0x5000ULL, ram->recs[0].gpa);
	EXPECT_EQ(16U, ram->recs[1].npages);
	EXPECT_EQ(KMIG_REC_ZERO, ram->recs[1].kind);
	EXPECT_EQ(KMIG_REC_HOLE, ram->recs[2].kind);
	EXPECT_EQ(2ULL, ram->normal);
	EXPECT_EQ(16ULL, ram->zero);
	EXPECT_EQ(512ULL, ram->hole);
	ASSERT_EQ((size_t)2 * KMS_PAGE_SIZE, ram->data_len);
	EXPECT_EQ(0x40, ram->data[0]);
	EXPECT_EQ(0x41, ram->data[KMS_PAGE_SIZE]);
	free(ram);
}

TEST(ram_encoder_matches_decoder)
{
	struct kmig_rec in = { .gpa = 0x3000, .npages = 1,
			       .kind = KMIG_REC_PAGE, .len = KMIG_PAGE_SIZE };
	struct kms_ram *ram = malloc(sizeof(*ram));
	uint8_t *b = calloc(1, kms_ram_len(1, 1));
	struct kms_error e;

	ASSERT_NE(NULL, ram);
	ASSERT_NE(NULL, b);
	kms_ram_hdr_encode(b, 1, 0);
	kms_rec_encode(b + KMS_RAM_HDR_LEN, &in);
	ASSERT_EQ(0, sealed_ram_decode(b, kms_ram_len(1, 1), &two_regions, 0, ram, &e));
	EXPECT_EQ(0, memcmp(&in, &ram->recs[0], sizeof(in)));
	free(b);
	free(ram);
}

/* One record of the given shape, decoded against two_regions. */
static int ram_one(uint64_t gpa, uint32_t npages, uint16_t kind, uint16_t len,
		   uint32_t data_pages, struct kms_error *e)
{
	static struct kms_ram ram;
	struct ram_buf r;

	ram_begin(&r);
	ram_rec(&r, gpa, npages, kind, len);
	ram_finish(&r, data_pages);
	return sealed_ram_decode(r.b, r.len, &two_regions, 0, &ram, e);
}

TEST(ram_hostile_records)
{
	struct kms_error e;

	/* Outside guest RAM: past the end, in the hole, far away. */
	EXPECT_EQ(-ERANGE, ram_one(128 << 20, 1, KMS_REC_PAGE, 4096, 1, &e));
	EXPECT_STREQ("record 0: gpa 0x8000000 + 1 pages is outside guest RAM",
		     e.msg);
	EXPECT_EQ(-ERANGE, ram_one(0xfee00000, 1, KMS_REC_PAGE, 4096, 1, &e));
	EXPECT_EQ(-ERANGE, ram_one(UINT64_MAX & ~4095ULL, 1, KMS_REC_PAGE,
				   4096, 1, &e));
	/* A run that starts inside but runs off the end of its region. */
	EXPECT_EQ(-ERANGE, ram_one((128 << 20) - 4096, 2, KMS_REC_ZERO, 0, 0, &e));
	EXPECT_EQ(-ERANGE, ram_one(0, UINT32_MAX, KMS_REC_HOLE, 0, 0, &e));
	/* Misaligned. */
	EXPECT_EQ(-EPROTO, ram_one(0x1001, 1, KMS_REC_PAGE, 4096, 1, &e));
	EXPECT_NE(NULL, strstr(e.msg, "not page-aligned"));
	/* Lengths that do not fit the kind. */
	EXPECT_EQ(-EPROTO, ram_one(0x1000, 1, KMS_REC_PAGE, 4095, 1, &e));
	EXPECT_EQ(-EPROTO, ram_one(0x1000, 2, KMS_REC_PAGE, 4096, 1, &e));
	EXPECT_EQ(-EPROTO, ram_one(0x1000, 1, KMS_REC_ZERO, 4096, 1, &e));
	EXPECT_EQ(-EPROTO, ram_one(0x1000, 0, KMS_REC_HOLE, 0, 0, &e));
	/* Unknown kinds, including the ring-only ROUND_END. */
	EXPECT_EQ(-EPROTO, ram_one(0x1000, 1, KMIG_REC_ROUND_END, 0, 0, &e));
	EXPECT_EQ(-EPROTO, ram_one(0x1000, 1, 77, 0, 0, &e));
	EXPECT_STREQ("record 0: unknown kind 77", e.msg);
}

/* Appends @bytes bytes of zstd frame data (the codec does not look in). */
static void ram_frame_data(struct ram_buf *r, size_t bytes)
{
	memset(r->b + r->len, 0x28, bytes);
	r->len += bytes;
}

TEST(ram_zstd_round_trip)
{
	struct kms_ram *ram = malloc(sizeof(*ram));
	struct ram_buf r;
	struct kms_error e;

	ASSERT_NE(NULL, ram);
	ram_begin(&r);
	ram_rec(&r, 0x5000, 1, KMS_REC_ZSTD, 100);
	ram_rec(&r, 0x6000, 1, KMS_REC_PAGE, KMS_PAGE_SIZE);
	ram_rec(&r, 0x7000, 1, KMS_REC_ZSTD, KMS_ZSTD_MAX_LEN);
	ram_rec(&r, 0x8000, 1, KMS_REC_ZSTD, 1);
	kms_ram_hdr_encode(r.b, r.nr, 0);
	/* Data in record order: 100 bytes, one page, 4095 bytes, 1 byte. */
	ram_frame_data(&r, 100);
	memset(r.b + r.len, 0x40, KMS_PAGE_SIZE);
	r.len += KMS_PAGE_SIZE;
	ram_frame_data(&r, KMS_ZSTD_MAX_LEN + 1);

	ASSERT_EQ(0, sealed_ram_decode(r.b, r.len, &two_regions, KMS_F_ZSTD, ram,
				    &e)) TH_LOG("%s", e.msg);
	EXPECT_EQ(4U, ram->nr);
	EXPECT_EQ(KMIG_REC_ZSTD, ram->recs[0].kind);
	EXPECT_EQ(100, ram->recs[0].len);
	EXPECT_EQ(4ULL, ram->normal);
	EXPECT_EQ(3ULL, ram->compressed);
	EXPECT_EQ((size_t)100 + KMS_PAGE_SIZE + KMS_ZSTD_MAX_LEN + 1,
		  ram->data_len);
	EXPECT_EQ(0x40, ram->data[100]);

	/* The same frame without the feature negotiated: refused. */
	EXPECT_EQ(-EPROTO, sealed_ram_decode(r.b, r.len, &two_regions, 0, ram, &e));
	EXPECT_STREQ("record 0: zstd record, but the source did not announce compression",
		     e.msg);
	EXPECT_EQ(0U, ram->nr);
	free(ram);
}

/*
 * One zstd record with @len in the record and @bytes of data after it,
 * under HELLO @features.
 */
static int zstd_one_f(uint64_t gpa, uint32_t npages, uint16_t len,
		      size_t bytes, uint32_t features, struct kms_ram *ram,
		      struct kms_error *e)
{
	struct ram_buf r;

	ram_begin(&r);
	ram_rec(&r, gpa, npages, KMS_REC_ZSTD, len);
	kms_ram_hdr_encode(r.b, r.nr, 0);
	ram_frame_data(&r, bytes);
	return sealed_ram_decode(r.b, r.len, &two_regions, features, ram, e);
}

static int zstd_one(uint64_t gpa, uint32_t npages, uint16_t len, size_t bytes,
		    struct kms_error *e)
{
	static struct kms_ram ram;

	return zstd_one_f(gpa, npages, len, bytes, KMS_F_ZSTD, &ram, e);
}

TEST(ram_zstd_hostile)
{
	struct kms_error e;

	EXPECT_EQ(0, zstd_one(0x1000, 1, 300, 300, &e));
	/* Empty, a whole page, more than a page. */
	EXPECT_EQ(-EPROTO, zstd_one(0x1000, 1, 0, 0, &e));
	EXPECT_STREQ("record 0: zstd record with 0 bytes of data (allowed 1..4095)",
		     e.msg);
	EXPECT_EQ(-EPROTO, zstd_one(0x1000, 1, KMS_PAGE_SIZE, KMS_PAGE_SIZE, &e));
	EXPECT_EQ(-EPROTO, zstd_one(0x1000, 1, UINT16_MAX, 0, &e));
	/* A run of pages (not announced), a misaligned or foreign address. */
	EXPECT_EQ(-EPROTO, zstd_one(0x1000, 2, 300, 300, &e));
	EXPECT_STREQ("record 0: zstd run of 2 pages, but the source did not announce zstd runs",
		     e.msg);
	EXPECT_EQ(-EPROTO, zstd_one(0x1000, 0, 300, 300, &e));
	EXPECT_STREQ("record 0: zstd record with 0 pages (allowed 1..1)", e.msg);
	EXPECT_EQ(-EPROTO, zstd_one(0x1001, 1, 300, 300, &e));
	EXPECT_EQ(-ERANGE, zstd_one(128 << 20, 1, 300, 300, &e));
	/* Data shorter or longer than the record says. */
	EXPECT_EQ(-EPROTO, zstd_one(0x1000, 1, 300, 299, &e));
	EXPECT_STREQ("RAM frame carries 299 bytes of data, its records need 300",
		     e.msg);
	EXPECT_EQ(-EPROTO, zstd_one(0x1000, 1, 300, 301, &e));
}

/* KMS_F_ZSTD_RUN: a ZSTD record carries 1..KMS_ZSTD_RUN_MAX pages. */
TEST(ram_zstd_runs)
{
	const uint32_t f = KMS_F_ZSTD | KMS_F_ZSTD_RUN;
	struct kms_ram *ram = malloc(sizeof(*ram));
	struct kms_error e;
	uint32_t n;

	ASSERT_NE(NULL, ram);
	ASSERT_EQ(4, KMS_ZSTD_RUN_MAX);
	for (n = 1; n <= KMS_ZSTD_RUN_MAX; n++) {
		ASSERT_EQ(0, zstd_one_f(0x1000, n, 2000, 2000, f, ram, &e))
			TH_LOG("%u pages: %s", n, e.msg);
		EXPECT_EQ(1U, ram->nr);
		EXPECT_EQ(n, ram->recs[0].npages);
		/* Pages, not records, in the report's counters. */
		EXPECT_EQ((uint64_t)n, ram->normal);
		EXPECT_EQ((uint64_t)n, ram->compressed);
		EXPECT_EQ((size_t)2000, ram->data_len);
	}
	/* Longer than a run, none at all, or a frame as big as a page. */
	EXPECT_EQ(-EPROTO, zstd_one_f(0x1000, KMS_ZSTD_RUN_MAX + 1, 2000, 2000,
				      f, ram, &e));
	EXPECT_STREQ("record 0: zstd record with 5 pages (allowed 1..4)", e.msg);
	EXPECT_EQ(0U, ram->nr);
	EXPECT_EQ(-EPROTO, zstd_one_f(0x1000, 0, 2000, 2000, f, ram, &e));
	EXPECT_EQ(-EPROTO, zstd_one_f(0x1000, UINT32_MAX, 2000, 2000, f, ram,
				      &e));
	EXPECT_EQ(-EPROTO, zstd_one_f(0x1000, 4, KMS_PAGE_SIZE, KMS_PAGE_SIZE,
				      f, ram, &e));
	/* Every page of the run inside one region: the last ones, not past. */
	EXPECT_EQ(0, zstd_one_f((128 << 20) - 4 * KMS_PAGE_SIZE, 4, 2000, 2000,
				f, ram, &e)) TH_LOG("%s", e.msg);
	EXPECT_EQ(-ERANGE, zstd_one_f((128 << 20) - 3 * KMS_PAGE_SIZE, 4, 2000,
				      2000, f, ram, &e));
	EXPECT_STREQ("record 0: gpa 0x7ffd000 + 4 pages is outside guest RAM",
		     e.msg);
	/* Runs without zstd: the HELLO itself is refused (hello_zstd_run). */
	EXPECT_EQ(-EPROTO, zstd_one_f(0x1000, 2, 2000, 2000, KMS_F_ZSTD_RUN,
				      ram, &e));
	free(ram);
}

TEST(hello_zstd_run)
{
	struct kms_hello h = sample_hello(), got;
	uint8_t buf[KMS_HELLO_LEN(KMS_MAX_REGIONS)];
	struct kms_error e;
	size_t n;

	h.features = KMS_F_ZSTD | KMS_F_ZSTD_RUN;
	n = kms_hello_encode(&h, buf);
	ASSERT_EQ(0, kms_hello_decode(buf, n, &got, &e)) TH_LOG("%s", e.msg);
	EXPECT_EQ(KMS_F_ZSTD | KMS_F_ZSTD_RUN, got.features);
	h.features = KMS_F_ZSTD_RUN;
	n = kms_hello_encode(&h, buf);
	EXPECT_EQ(-EPROTO, kms_hello_decode(buf, n, &got, &e));
	EXPECT_STREQ("HELLO announces zstd runs without zstd", e.msg);
}

TEST(ram_data_must_add_up)
{
	struct kms_error e;

	/* A page record without its data, and data nobody asked for. */
	EXPECT_EQ(-EPROTO, ram_one(0x1000, 1, KMS_REC_PAGE, 4096, 0, &e));
	EXPECT_STREQ("RAM frame carries 0 bytes of data, its records need 4096",
		     e.msg);
	EXPECT_EQ(-EPROTO, ram_one(0x1000, 1, KMS_REC_ZERO, 0, 1, &e));
	EXPECT_EQ(-EPROTO, ram_one(0x1000, 1, KMS_REC_PAGE, 4096, 2, &e));
}

TEST(ram_hostile_counts)
{
	static struct kms_ram ram;
	struct ram_buf r;
	struct kms_error e;

	ram_begin(&r);
	ram_rec(&r, 0, 1, KMS_REC_ZERO, 0);
	ram_finish(&r, 0);
	/* More records claimed than the frame holds. */
	kms_put_u32(r.b, 2);
	EXPECT_EQ(-EPROTO, sealed_ram_decode(r.b, r.len, &two_regions, 0, &ram, &e));
	EXPECT_NE(NULL, strstr(e.msg, "cannot hold its 2 records"));
	kms_put_u32(r.b, KMS_MAX_RECS + 1);
	EXPECT_EQ(-EMSGSIZE, sealed_ram_decode(r.b, r.len, &two_regions, 0, &ram, &e));
	kms_put_u32(r.b, UINT32_MAX);
	EXPECT_EQ(-EMSGSIZE, sealed_ram_decode(r.b, r.len, &two_regions, 0, &ram, &e));
	kms_put_u32(r.b, 0);
	EXPECT_EQ(-EMSGSIZE, sealed_ram_decode(r.b, r.len, &two_regions, 0, &ram, &e));
	/* Truncated below the header. */
	EXPECT_EQ(-EPROTO, sealed_ram_decode(r.b, 4, &two_regions, 0, &ram, &e));
	/* A checksum that does not match. */
	kms_put_u32(r.b, 1);
	kms_ram_seal(r.b, r.len);
	r.b[4] ^= 1;
	EXPECT_EQ(-EBADMSG, kms_ram_decode(r.b, r.len, &two_regions, 0, &ram, &e));
}

/* A failed decode leaves nothing that looks loadable. */
TEST(ram_failure_leaves_no_records)
{
	static struct kms_ram ram;
	struct ram_buf r;
	struct kms_error e;

	ram_begin(&r);
	ram_rec(&r, 0x1000, 1, KMS_REC_ZERO, 0);
	ram_rec(&r, 1ULL << 40, 1, KMS_REC_ZERO, 0);
	ram_finish(&r, 0);
	EXPECT_EQ(-ERANGE, sealed_ram_decode(r.b, r.len, &two_regions, 0, &ram, &e));
	EXPECT_EQ(0U, ram.nr);
	EXPECT_NE(NULL, strstr(e.msg, "record 1:"));
}

TEST(sync_and_ack)
{
	uint8_t b[8];
	struct kms_error e;
	uint32_t round = 0;
	uint64_t ns = 0;

	kms_sync_encode(b, 7);
	ASSERT_EQ(0, kms_sync_decode(b, sizeof(b), &round, &e));
	EXPECT_EQ(7U, round);
	b[5] = 1;
	EXPECT_EQ(-EPROTO, kms_sync_decode(b, sizeof(b), &round, &e));
	EXPECT_EQ(-EPROTO, kms_sync_decode(b, 4, &round, &e));

	kms_ack_encode(b, 1234567);
	ASSERT_EQ(0, kms_ack_decode(b, sizeof(b), &ns, &e));
	EXPECT_EQ(1234567ULL, ns);
	kms_ack_encode(b, UINT64_MAX);
	EXPECT_EQ(-ERANGE, kms_ack_decode(b, sizeof(b), &ns, &e));
}

TEST(reason_is_sanitised)
{
	const uint8_t evil[] = "bad\x1b[2Jthing\n\xff";
	uint8_t buf[KMS_MAX_REASON];
	char out[64];
	size_t n;

	kms_reason_decode(evil, sizeof(evil) - 1, out, sizeof(out));
	EXPECT_STREQ("bad?[2Jthing??", out);
	/* Longer than the output: cut, still terminated. */
	kms_reason_decode(evil, sizeof(evil) - 1, out, 4);
	EXPECT_STREQ("bad", out);

	n = kms_reason_encode("", buf, sizeof(buf));
	EXPECT_EQ(strlen("unspecified"), n);
	n = kms_reason_encode("why", buf, 2);
	EXPECT_EQ(2U, n);
}

TEST_HARNESS_MAIN
