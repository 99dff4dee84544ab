// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_frames: a channel's frames after the handshake, read by the real
 * chan_recv() (on a socketpair whose peer sent the fuzzer's bytes) and
 * consumed the way kmigctl consumes them.
 *
 * Input: one byte of mode, one byte of HELLO features (bit 0: KMS_F_ZSTD,
 * bit 1: with it KMS_F_ZSTD_RUN),
 * then the peer's bytes: frame headers and payloads.
 *   mode % 3 == 0: a destination data channel (receiver.c's recv_main()):
 *     receiver_decode() on each frame, RAM frames written into the model
 *     guest RAM (fuzz_model.c) as KMIG_LOAD would, SYNC rounds counted,
 *     until END or an error.
 *   mode % 3 == 1: the destination main channel (incoming.c): through
 *     mainchan_poll() (KEEPALIVEs eaten, ABORT's reason decoded), one
 *     DEVICE_STATE, then END, then GO.
 *   mode % 3 == 2: the source main channel (precopy.c, switchover.c):
 *     LOADED(1), LOADED(2), ..., then READY, then an ACK to decode.
 *   mode >= 0xc0: the source's preempt channel in postcopy (pageserve.c):
 *     REQUEST frames, every page asked for checked against the layout.
 * The destination main channel also takes postcopy's DISCARD frames
 * (each range inside guest RAM, going up) and POSTCOPY instead of END.
 *
 * Findings: a sanitizer report; a page written outside the model RAM; a
 * frame accepted that breaks its type's bounds; a SYNC accepted out of
 * order; a message that is not one printable line; a hang.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_model.h"
#include "mainchan.h"
#include "receiver.h"
#include "stream.h"

static struct model_ram ram_model;
static struct kms_ram ram;
static uint8_t *frame_buf;	/* KMS_MAX_FRAME, as the main channel's */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	model_ram_init(&ram_model);
	frame_buf = malloc(KMS_MAX_FRAME);
	if (!frame_buf)
		abort();
	return 0;
}

/* A frame chan_recv() returned is inside its type's bounds and the cap. */
static void check_frame(const struct kms_frame_hdr *h, size_t cap)
{
	uint8_t hdr[KMS_FRAME_HDR_LEN];
	struct kms_frame_hdr again;
	struct kms_error e;

	FUZZ_ASSERT(h->len <= cap);
	kms_frame_hdr_encode(hdr, h->type, h->len);
	FUZZ_ASSERT(kms_frame_hdr_decode(hdr, &again, &e) == 0);
	FUZZ_ASSERT(again.type == h->type && again.len == h->len);
}

static void fuzz_data_channel(struct chan *c, uint32_t features)
{
	uint32_t expect = 1, round;
	struct kms_frame_hdr h;
	struct kms_error e;
	int ret;

	for (;;) {
		e.msg[0] = 0;
		ret = chan_recv(c, &h, frame_buf, KMS_RAM_MAX_LEN, &e);
		if (ret) {
			FUZZ_ASSERT(ret < 0 && e.msg[0]);
			fuzz_check_error(&e);
			return;
		}
		check_frame(&h, KMS_RAM_MAX_LEN);
		ret = receiver_decode(&fuzz_layout, features, expect, &h,
				      frame_buf, &ram, &round, &e);
		switch (ret) {
		case RECV_RAM:
			FUZZ_ASSERT(h.type == KMS_RAM);
			/* KMIG_LOAD refusing the frame fails the channel. */
			if (model_ram_apply(&ram_model, &ram, frame_buf, h.len))
				return;
			break;
		case RECV_SYNC:
			FUZZ_ASSERT(h.type == KMS_SYNC && round == expect);
			expect++;
			break;
		case RECV_END:
			FUZZ_ASSERT(h.type == KMS_END);
			return;
		default:
			FUZZ_ASSERT(ret < 0 && e.msg[0]);
			fuzz_check_error(&e);
			return;
		}
	}
}

/* The next frame that is not a KEEPALIVE; false when the channel failed. */
static bool main_next(struct mainchan *mc, struct kms_frame_hdr *h, size_t cap)
{
	struct kms_error e = { .msg = "" };
	int ret;

	ret = mainchan_poll(mc, h, frame_buf, cap, 0, &e);
	if (ret <= 0) {
		/* The peer's EOF is readable: poll never comes back empty. */
		FUZZ_ASSERT(ret < 0 && e.msg[0]);
		fuzz_check_error(&e);
		return false;
	}
	check_frame(h, cap);
	FUZZ_ASSERT(h->type != KMS_KEEPALIVE && h->type != KMS_ABORT);
	return true;
}

static struct kms_discard discards[KMS_MAX_DISCARD];

/* incoming_discard(): a DISCARD's ranges, all inside RAM and going up. */
static bool fuzz_discard(uint32_t len, uint64_t *next, uint64_t *pages)
{
	struct kms_error e = { .msg = "" };
	uint64_t before = *next;
	uint32_t nr, i;

	if (kms_discard_decode(frame_buf, len, &fuzz_layout, next, discards,
			       &nr, pages, &e)) {
		fuzz_check_error(&e);
		return false;
	}
	for (i = 0; i < nr; i++) {
		FUZZ_ASSERT(kms_layout_contains(&fuzz_layout, discards[i].gpa,
						discards[i].npages));
		FUZZ_ASSERT(discards[i].gpa >= before);
		before = discards[i].gpa + discards[i].npages * KMS_PAGE_SIZE;
	}
	FUZZ_ASSERT(before == *next);
	return true;
}

static void fuzz_src_preempt(struct chan *c)
{
	uint64_t gpa[KMS_MAX_REQUEST];
	struct kms_frame_hdr h;
	struct kms_error e;
	uint32_t nr, i;

	for (;;) {
		e.msg[0] = 0;
		if (chan_recv(c, &h, frame_buf, KMS_REQUEST_LEN(KMS_MAX_REQUEST), &e)) {
			fuzz_check_error(&e);
			return;
		}
		check_frame(&h, KMS_REQUEST_LEN(KMS_MAX_REQUEST));
		if (h.type != KMS_REQUEST)
			return;
		if (kms_request_decode(frame_buf, h.len, &fuzz_layout, gpa, &nr, &e)) {
			fuzz_check_error(&e);
			return;
		}
		FUZZ_ASSERT(nr >= 1 && nr <= KMS_MAX_REQUEST);
		for (i = 0; i < nr; i++)
			FUZZ_ASSERT(kms_layout_contains(&fuzz_layout, gpa[i], 1) &&
				    !(gpa[i] % KMS_PAGE_SIZE));
	}
}

static void fuzz_dst_main(struct chan *c)
{
	uint64_t next = 0, pages = 0, want;
	struct kms_error e = { .msg = "" };
	struct kms_frame_hdr h;
	struct mainchan mc;
	void *state = NULL;
	uint32_t round;

	mainchan_init(&mc, c, "the source", 0);
	/* incoming_precopy(): DEVICE_STATE once, then END (or postcopy's). */
	while (main_next(&mc, &h, KMS_MAX_FRAME)) {
		if (h.type == KMS_DISCARD && !state) {
			if (!fuzz_discard(h.len, &next, &pages))
				break;
			continue;
		}
		if (h.type == KMS_POSTCOPY && state) {
			if (kms_postcopy_decode(frame_buf, h.len, &round, &want, &e))
				fuzz_check_error(&e);
			break;
		}
		if (h.type == KMS_DEVICE_STATE && !state) {
			FUZZ_ASSERT(h.len >= 1 && h.len <= KMS_MAX_STATE);
			state = malloc(h.len);
			FUZZ_ASSERT(state);
			memcpy(state, frame_buf, h.len);
			continue;
		}
		/* incoming_switchover(): READY sent, GO awaited. */
		if (h.type == KMS_END && state && main_next(&mc, &h, KMS_MAX_REASON))
			FUZZ_ASSERT(h.len <= KMS_MAX_REASON);
		break;
	}
	free(state);
	mainchan_destroy(&mc);
}

static void fuzz_src_main(struct chan *c)
{
	struct kms_error e = { .msg = "" };
	uint32_t round = 1, got;
	struct kms_frame_hdr h;
	struct mainchan mc;
	uint64_t start_ns;

	mainchan_init(&mc, c, "the destination", 0);
	/* migration_wait_loaded() for each round, then READY, then ACK. */
	for (;;) {
		if (!main_next(&mc, &h, KMS_MAX_REASON))
			goto out;
		if (h.type != KMS_LOADED)
			break;
		if (kms_sync_decode(frame_buf, h.len, &got, &e) || got != round)
			goto out;
		round++;
	}
	if (h.type != KMS_READY || !main_next(&mc, &h, KMS_MAX_REASON) ||
	    h.type != KMS_ACK)
		goto out;
	if (kms_ack_decode(frame_buf, h.len, &start_ns, &e))
		fuzz_check_error(&e);
	else
		FUZZ_ASSERT(start_ns <= 3600ULL * 1000000000ULL);
out:
	mainchan_destroy(&mc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct chan c;
	int peer;

	if (size < 2)
		return 0;
	fuzz_chan_open(&c, &peer, data[0] >= 0xc0 ? "preempt channel" :
		       data[0] % 3 ? "main channel" : "data channel 1",
		       data + 2, size - 2);
	if (data[0] >= 0xc0) {
		fuzz_src_preempt(&c);
		fuzz_chan_close(&c, peer);
		return 0;
	}
	switch (data[0] % 3) {
	case 0:
		fuzz_data_channel(&c, data[1] & 1 ? KMS_F_ZSTD |
				  (data[1] & 2 ? KMS_F_ZSTD_RUN : 0) : 0);
		break;
	case 1:
		fuzz_dst_main(&c);
		break;
	case 2:
		fuzz_src_main(&c);
		break;
	}
	fuzz_chan_close(&c, peer);
	return 0;
}
