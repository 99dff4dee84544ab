// SPDX-License-Identifier: GPL-2.0
/*
 * receiver_decode() (kmigctl/destination/receiver.c): what a destination data channel
 * does with each frame, without sockets or KMIG_LOAD. The messages are the
 * ones the report shows after the channel's name.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "kselftest_harness.h"
#include "receiver.h"
#include "stream.h"

static const struct kms_layout layout = {
	.nr = 1,
	.r = { { 0, 1 << 20 } },
};

static struct kms_ram ram;

TEST(sync_in_order_then_out_of_order)
{
	struct kms_frame_hdr h = { .type = KMS_SYNC, .len = KMS_SYNC_LEN };
	struct kms_error e;
	uint8_t b[KMS_SYNC_LEN];
	uint32_t round = 0;

	kms_sync_encode(b, 1);
	EXPECT_EQ(RECV_SYNC, receiver_decode(&layout, 0, 1, &h, b, &ram,
					     &round, &e));
	EXPECT_EQ(1U, round);
	EXPECT_EQ(-EPROTO, receiver_decode(&layout, 0, 2, &h, b, &ram,
					   &round, &e));
	EXPECT_STREQ("SYNC for round 1 where round 2 was due", e.msg);
	b[4] = 1;
	EXPECT_EQ(-EPROTO, receiver_decode(&layout, 0, 1, &h, b, &ram,
					   &round, &e));
	EXPECT_STREQ("malformed SYNC or LOADED frame", e.msg);
}

TEST(ram_frame_checked_against_the_layout)
{
	uint8_t b[KMS_RAM_HDR_LEN + KMS_REC_LEN];
	struct kms_frame_hdr h = { .type = KMS_RAM, .len = sizeof(b) };
	struct kmig_rec r = { .gpa = 0x2000, .npages = 4, .kind = KMS_REC_ZERO };
	struct kms_error e;
	uint32_t round;

	kms_ram_hdr_encode(b, 1, 0);
	kms_rec_encode(b + KMS_RAM_HDR_LEN, &r);
	kms_ram_seal(b, sizeof(b));
	ASSERT_EQ(RECV_RAM, receiver_decode(&layout, 0, 1, &h, b, &ram,
					    &round, &e));
	EXPECT_EQ(1U, ram.nr);
	EXPECT_EQ(4U, ram.zero);

	r.gpa = 1 << 20;	/* just past guest RAM */
	kms_rec_encode(b + KMS_RAM_HDR_LEN, &r);
	kms_ram_seal(b, sizeof(b));
	EXPECT_EQ(-ERANGE, receiver_decode(&layout, 0, 1, &h, b, &ram,
					   &round, &e));
	EXPECT_EQ(0, strncmp(e.msg, "bad RAM frame: record 0: gpa 0x100000", 37));
}

TEST(end_and_unexpected_frames)
{
	struct kms_frame_hdr h = { .type = KMS_END };
	struct kms_error e;
	uint32_t round;

	EXPECT_EQ(RECV_END, receiver_decode(&layout, 0, 1, &h, NULL, &ram,
					    &round, &e));
	h.type = KMS_GO;
	EXPECT_EQ(-EPROTO, receiver_decode(&layout, 0, 1, &h, NULL, &ram,
					   &round, &e));
	EXPECT_STREQ("unexpected GO frame", e.msg);
}

TEST_HARNESS_MAIN
