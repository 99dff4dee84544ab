// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_hello: the first bytes on a channel, through the real handshake
 * (kmigctl/wire/handshake.c over chan.c, on a socketpair whose peer sent the
 * fuzzer's bytes and closed).
 *
 * Input: one byte of mode, then the peer's bytes.
 *   mode bit 0 = 0: the destination (`kmigctl incoming`) reads the
 *     source's preamble and HELLO (handshake_read_hello()), then does what
 *     incoming.c does with it: compares the layout with its own
 *     (fuzz_layout) and the channel with the one it waits for (bit 1: a
 *     data channel of the accepted session, else the main channel), and
 *     answers ACCEPT or REJECT. What it sent back must be a preamble and
 *     one ACCEPT or REJECT frame that a source can decode.
 *   mode bit 0 = 1: the source (`kmigctl migrate`) sends its HELLO and
 *     reads the destination's answer (handshake_connect()).
 *
 * Findings: a sanitizer report; a HELLO accepted that breaks what the
 * destination relies on (a layout that fails kms_layout_check(), a RAM
 * size that is not its sum, channel counts out of bounds); a source that
 * takes anything but a preamble and an ACCEPT for acceptance; a message
 * that is not one line; a hang (libFuzzer's -timeout).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz_model.h"
#include "handshake.h"
#include "secure.h"
#include "stream.h"

#define FUZZ_SESSION	0x0123456789abcdefULL
#define FUZZ_CHANNELS	2
#define FUZZ_VCPUS	2

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The HELLO the source sends, and the destination's main channel had. */
static struct kms_hello fuzz_hello(uint32_t channel)
{
	struct kms_hello h = {
		.session_id = FUZZ_SESSION,
		.channel = channel,
		.nr_channels = FUZZ_CHANNELS,
		.page_size = KMS_PAGE_SIZE,
		.nr_vcpus = FUZZ_VCPUS,
		.layout = fuzz_layout,
	};

	h.ram_bytes = kms_layout_bytes(&h.layout);
	return h;
}

/* A HELLO that kms_hello_decode() passed: what the destination relies on. */
static void check_hello(const struct kms_hello *h)
{
	struct kms_error e;
	uint32_t i;

	FUZZ_ASSERT(h->page_size == KMS_PAGE_SIZE);
	FUZZ_ASSERT(h->session_id != 0);
	FUZZ_ASSERT(h->nr_channels >= 1 && h->nr_channels <= KMS_MAX_CHANNELS);
	/* Postcopy's preempt channel is the one past the data channels. */
	FUZZ_ASSERT(h->channel <= h->nr_channels +
		    !!(h->features & KMS_F_POSTCOPY));
	FUZZ_ASSERT(!(h->features & ~KMS_F_KNOWN));
	FUZZ_ASSERT(!(h->features & KMS_F_RESUME) ||
		    (h->features & KMS_F_POSTCOPY));
	FUZZ_ASSERT(kms_layout_check(&h->layout, &e) == 0);
	FUZZ_ASSERT(h->ram_bytes == kms_layout_bytes(&h->layout));
	for (i = 0; i < h->layout.nr; i++)
		FUZZ_ASSERT(kms_layout_contains(&h->layout, h->layout.r[i].gpa,
						h->layout.r[i].size / KMS_PAGE_SIZE));
}

/* incoming.c's checks of a HELLO (incoming_accept_main(), _data()). */
static const char *dst_refuses(const struct kms_hello *h, bool data_chan)
{
	struct kms_hello main_hello = fuzz_hello(0);
	struct kms_error e;

	if (kms_layout_compare(&h->layout, &fuzz_layout, &e)) {
		fuzz_check_error(&e);
		return "layouts differ";
	}
	if (!data_chan)
		return h->channel ? "the first connection must be the main channel" :
		       h->nr_vcpus != FUZZ_VCPUS ? "vCPU counts differ" : NULL;
	if (h->session_id != main_hello.session_id ||
	    h->nr_channels != main_hello.nr_channels || !h->channel ||
	    h->features != main_hello.features)
		return "not a data channel this destination waits for";
	return NULL;
}

/* What the destination sent back: a preamble and ACCEPT or REJECT. */
static void check_answer(int peer, bool accepted)
{
	uint8_t buf[KMS_PREAMBLE_LEN + KMS_FRAME_HDR_LEN + KMS_MAX_REASON + 1];
	char reason[KMS_MAX_REASON + 1];
	struct kms_frame_hdr fh;
	struct kms_error e;
	uint32_t version, flags;
	size_t got = 0, i;
	ssize_t n;

	while (got < sizeof(buf)) {
		n = recv(peer, buf + got, sizeof(buf) - got, MSG_DONTWAIT);
		if (n <= 0)
			break;
		got += n;
	}
	if (!got) {
		/* Only a peer that never sent a whole preamble gets nothing. */
		FUZZ_ASSERT(!accepted);
		return;
	}
	FUZZ_ASSERT(got >= KMS_PREAMBLE_LEN + KMS_FRAME_HDR_LEN);
	FUZZ_ASSERT(kms_preamble_decode(buf, &version, &flags, &e) == 0);
	FUZZ_ASSERT(kms_frame_hdr_decode(buf + KMS_PREAMBLE_LEN, &fh, &e) == 0);
	FUZZ_ASSERT(got == KMS_PREAMBLE_LEN + KMS_FRAME_HDR_LEN + fh.len);
	FUZZ_ASSERT(fh.type == (accepted ? KMS_ACCEPT : KMS_REJECT));
	if (accepted)
		return;
	kms_reason_decode(buf + KMS_PREAMBLE_LEN + KMS_FRAME_HDR_LEN, fh.len,
			  reason, sizeof(reason));
	FUZZ_ASSERT(strlen(reason) == fh.len);
	for (i = 0; i < fh.len; i++)
		FUZZ_ASSERT(reason[i] >= 0x20 && reason[i] < 0x7f);
}

/* A destination with --auth-key: the fuzzer plays a source without it. */
static const struct sec *fuzz_key_sec(void)
{
	static struct auth_key key = { .len = 32 };
	static struct sec s = { .server = true, .key = &key };

	return &s;
}

static void fuzz_destination(const uint8_t *data, size_t size, bool data_chan,
			     bool with_key)
{
	struct kms_error e = { .msg = "" };
	struct kms_hello h;
	const char *why;
	struct chan c;
	int peer, ret;
	bool accepted = false;

	fuzz_chan_open(&c, &peer, data_chan ? "data channel ?" : "main channel",
		       data, size);
	ret = handshake_read_hello(&c, with_key ? fuzz_key_sec() : NULL, &h, &e);
	/* Nobody without the key gets past the exchange. */
	if (with_key) {
		FUZZ_ASSERT(ret < 0 && e.msg[0]);
		fuzz_check_error(&e);
		fuzz_chan_close(&c, peer);
		return;
	}
	if (ret) {
		FUZZ_ASSERT(ret < 0 && e.msg[0]);
		fuzz_check_error(&e);
	} else {
		check_hello(&h);
		why = dst_refuses(&h, data_chan);
		if (why) {
			handshake_reject(&c, why);
		} else {
			FUZZ_ASSERT(handshake_accept(&c) == 0);
			accepted = true;
		}
	}
	check_answer(peer, accepted);
	fuzz_chan_close(&c, peer);
}

static void fuzz_source(const uint8_t *data, size_t size)
{
	struct kms_hello h = fuzz_hello(0);
	struct kms_error e = { .msg = "" };
	uint8_t accept[KMS_PREAMBLE_LEN + KMS_FRAME_HDR_LEN];
	struct chan c;
	int peer, ret;

	fuzz_chan_open(&c, &peer, "main channel", data, size);
	ret = handshake_connect(&c, KMS_VERSION, &h, NULL, &e);
	kms_preamble_encode(accept, KMS_VERSION, 0);
	kms_frame_hdr_encode(accept + KMS_PREAMBLE_LEN, KMS_ACCEPT, 0);
	if (ret) {
		FUZZ_ASSERT(ret < 0 && e.msg[0]);
		fuzz_check_error(&e);
	} else {
		/* Accepted: the answer was exactly a preamble and ACCEPT. */
		FUZZ_ASSERT(size >= sizeof(accept) &&
			    !memcmp(data, accept, sizeof(accept)));
	}
	fuzz_chan_close(&c, peer);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 1)
		fuzz_source(data + 1, size - 1);
	else
		fuzz_destination(data + 1, size - 1, data[0] & 2, data[0] & 4);
	return 0;
}
