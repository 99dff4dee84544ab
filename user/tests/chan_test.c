// SPDX-License-Identifier: GPL-2.0
/*
 * Frames over real sockets (kmigctl/wire/chan.c and handshake.c): whole frames
 * arrive whole; a peer that closes, truncates, stalls or sends a huge
 * length is reported as such, without reading or allocating what the
 * header claims; the handshake accepts a matching peer and turns a
 * rejection into the destination's own words.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "chan.h"
#include "clock.h"
#include "handshake.h"

FIXTURE(pair) {
	int fd[2];
	struct chan a, b;
};

FIXTURE_SETUP(pair)
{
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				self->fd));
	chan_init(&self->a, self->fd[0], "main channel", 2000, NULL);
	chan_init(&self->b, self->fd[1], "data channel 1", 2000, NULL);
}

FIXTURE_TEARDOWN(pair)
{
	chan_close(&self->a);
	chan_close(&self->b);
}

TEST_F(pair, frame_round_trip)
{
	uint8_t sync[KMS_SYNC_LEN], buf[64];
	struct kms_frame_hdr h;
	struct kms_error e;
	uint32_t round = 0;

	kms_sync_encode(sync, 3);
	ASSERT_EQ(0, chan_send(&self->a, KMS_SYNC, sync, sizeof(sync)));
	ASSERT_EQ(0, chan_send(&self->a, KMS_END, NULL, 0));
	ASSERT_EQ(0, chan_recv(&self->b, &h, buf, sizeof(buf), &e));
	EXPECT_EQ((uint32_t)KMS_SYNC, h.type);
	ASSERT_EQ(0, kms_sync_decode(buf, h.len, &round, &e));
	EXPECT_EQ(3U, round);
	ASSERT_EQ(0, chan_recv(&self->b, &h, buf, sizeof(buf), &e));
	EXPECT_EQ((uint32_t)KMS_END, h.type);
	EXPECT_EQ(0U, h.len);
	EXPECT_EQ((uint64_t)2 * KMS_FRAME_HDR_LEN + KMS_SYNC_LEN,
		  atomic_load(&self->a.bytes_out));
	EXPECT_EQ(atomic_load(&self->a.bytes_out), atomic_load(&self->b.bytes_in));
}

/* Larger than any socket buffer: partial writes must be resumed. */
static void *big_writer(void *arg)
{
	struct chan *c = arg;
	uint8_t *blob = malloc(KMS_MAX_STATE);
	long ret = -ENOMEM;

	if (blob) {
		for (size_t i = 0; i < KMS_MAX_STATE; i++)
			blob[i] = i * 7;
		ret = chan_send(c, KMS_DEVICE_STATE, blob, KMS_MAX_STATE);
		free(blob);
	}
	return (void *)ret;
}

TEST_F(pair, largest_frame_survives_partial_writes)
{
	uint8_t *buf = malloc(KMS_MAX_FRAME);
	struct kms_frame_hdr h;
	struct kms_error e;
	pthread_t t;
	void *ret;
	size_t bad = 0;

	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, pthread_create(&t, NULL, big_writer, &self->a));
	EXPECT_EQ(0, chan_recv(&self->b, &h, buf, KMS_MAX_FRAME, &e));
	pthread_join(t, &ret);
	EXPECT_EQ(0, (long)ret);
	EXPECT_EQ((uint32_t)KMS_MAX_STATE, h.len);
	for (size_t i = 0; i < KMS_MAX_STATE; i++)
		bad += buf[i] != (uint8_t)(i * 7);
	EXPECT_EQ(0U, bad);
	free(buf);
}

TEST_F(pair, clean_close_is_epipe)
{
	struct kms_frame_hdr h;
	struct kms_error e;
	uint8_t buf[8];

	chan_close(&self->a);
	EXPECT_EQ(-EPIPE, chan_recv(&self->b, &h, buf, sizeof(buf), &e));
	EXPECT_STREQ("data channel 1: the peer closed the connection", e.msg);
}

TEST_F(pair, truncated_payload_is_enodata)
{
	uint8_t hdr[KMS_FRAME_HDR_LEN], part[100] = { 0 }, buf[KMS_MAX_REASON];
	struct kms_frame_hdr h;
	struct kms_error e;

	kms_frame_hdr_encode(hdr, KMS_ABORT, 300);
	ASSERT_EQ((ssize_t)sizeof(hdr), write(self->fd[0], hdr, sizeof(hdr)));
	ASSERT_EQ((ssize_t)sizeof(part), write(self->fd[0], part, sizeof(part)));
	chan_close(&self->a);
	EXPECT_EQ(-ENODATA, chan_recv(&self->b, &h, buf, sizeof(buf), &e));
	EXPECT_STREQ("data channel 1: ABORT frame: the peer closed the connection mid-frame (truncated stream)",
		     e.msg);
}

TEST_F(pair, truncated_header_is_enodata)
{
	struct kms_frame_hdr h;
	struct kms_error e;
	uint8_t buf[8];

	ASSERT_EQ(3, write(self->fd[0], "\x06\0\0", 3));
	chan_close(&self->a);
	EXPECT_EQ(-ENODATA, chan_recv(&self->b, &h, buf, sizeof(buf), &e));
}

/* A 16 MiB claim into a 64-byte buffer: refused before reading on. */
TEST_F(pair, oversize_for_buffer_is_refused)
{
	uint8_t hdr[KMS_FRAME_HDR_LEN], buf[64];
	struct kms_frame_hdr h;
	struct kms_error e;

	kms_frame_hdr_encode(hdr, KMS_DEVICE_STATE, KMS_MAX_STATE);
	ASSERT_EQ((ssize_t)sizeof(hdr), write(self->fd[0], hdr, sizeof(hdr)));
	EXPECT_EQ(-EMSGSIZE, chan_recv(&self->b, &h, buf, sizeof(buf), &e));
	EXPECT_NE(NULL, strstr(e.msg, "where at most 64 fit"));
	/* Beyond the format's own bound: refused by the header check. */
	kms_frame_hdr_encode(hdr, KMS_RAM, UINT32_MAX);
	ASSERT_EQ((ssize_t)sizeof(hdr), write(self->fd[0], hdr, sizeof(hdr)));
	EXPECT_EQ(-EMSGSIZE, chan_recv(&self->b, &h, buf, sizeof(buf), &e));
}

TEST_F(pair, stalled_peer_times_out)
{
	struct kms_frame_hdr h;
	struct kms_error e;
	uint8_t buf[8];
	uint64_t t0 = now_ns();

	self->b.stall_ms = 300;
	EXPECT_EQ(-ETIMEDOUT, chan_recv(&self->b, &h, buf, sizeof(buf), &e));
	EXPECT_GE(now_ns() - t0, 300 * NSEC_PER_MSEC);
	EXPECT_LT(now_ns() - t0, 2000 * NSEC_PER_MSEC);
}

static void *set_later(void *arg)
{
	sleep_ns(200 * NSEC_PER_MSEC);
	atomic_store((atomic_int *)arg, 1);
	return NULL;
}

/* A writer blocked on a full socket gives up once told to stop. */
TEST_F(pair, stop_flag_abandons_a_blocked_write)
{
	static uint8_t blob[1 << 20];
	atomic_int stop = 0;
	pthread_t t;
	int ret = 0, i;

	self->a.stop = &stop;
	self->a.stall_ms = 10000;
	ASSERT_EQ(0, pthread_create(&t, NULL, set_later, &stop));
	for (i = 0; i < 64 && !ret; i++)
		ret = chan_send(&self->a, KMS_DEVICE_STATE, blob, sizeof(blob));
	pthread_join(t, NULL);
	EXPECT_EQ(-ESHUTDOWN, ret);
}

/* A unix peer that closes with our data unread resets the connection. */
TEST_F(pair, reset_is_named_as_such)
{
	struct kms_frame_hdr h;
	struct kms_error e;
	uint8_t buf[8];

	ASSERT_EQ(0, chan_send(&self->b, KMS_END, NULL, 0));
	chan_close(&self->a);
	EXPECT_EQ(-ECONNRESET, chan_recv(&self->b, &h, buf, sizeof(buf), &e));
	EXPECT_STREQ("data channel 1: the connection was reset by the peer", e.msg);
}

TEST_F(pair, write_to_closed_peer_is_epipe_not_sigpipe)
{
	int ret;

	chan_close(&self->b);
	ret = chan_send(&self->a, KMS_END, NULL, 0);
	EXPECT_TRUE(ret == -EPIPE || ret == -ECONNRESET);
}

/* The destination half of a handshake, run on its own thread. */
struct dest {
	struct chan *c;
	struct kms_layout layout;
	struct kms_hello got;
	int ret;
	char msg[256];
};

static void *dest_main(void *arg)
{
	struct dest *d = arg;
	struct kms_error e;

	d->ret = handshake_read_hello(d->c, NULL, &d->got, &e);
	if (d->ret) {
		snprintf(d->msg, sizeof(d->msg), "%s", e.msg);
		return NULL;
	}
	if (kms_layout_compare(&d->got.layout, &d->layout, &e)) {
		handshake_reject(d->c, e.msg);
		d->ret = -EINVAL;
		return NULL;
	}
	d->ret = handshake_accept(d->c);
	return NULL;
}

static struct kms_hello hello_128m(void)
{
	struct kms_hello h = {
		.session_id = 42, .nr_channels = 1, .page_size = KMS_PAGE_SIZE,
		.nr_vcpus = 1, .layout = { .nr = 1, .r = { { 0, 128 << 20 } } },
	};

	h.ram_bytes = 128 << 20;
	return h;
}

static int handshake_with(struct chan *src, struct chan *dst,
			  uint32_t version, const struct kms_layout *dst_layout,
			  struct dest *d, struct kms_error *e)
{
	struct kms_hello h = hello_128m();
	pthread_t t;
	int ret;

	memset(d, 0, sizeof(*d));
	d->c = dst;
	d->layout = *dst_layout;
	if (pthread_create(&t, NULL, dest_main, d))
		return -1;
	ret = handshake_connect(src, version, &h, NULL, e);
	pthread_join(t, NULL);
	return ret;
}

TEST_F(pair, handshake_accepts_matching_layout)
{
	struct kms_layout l = { .nr = 1, .r = { { 0, 128 << 20 } } };
	struct kms_error e;
	struct dest d;

	ASSERT_EQ(0, handshake_with(&self->a, &self->b, KMS_VERSION, &l, &d, &e));
	EXPECT_EQ(0, d.ret);
	EXPECT_EQ(42ULL, d.got.session_id);
}

TEST_F(pair, handshake_rejects_other_layout_with_reason)
{
	struct kms_layout l = { .nr = 1, .r = { { 0, 256 << 20 } } };
	struct kms_error e;
	struct dest d;

	/* A peer that proved who it is (secure.c) learns why. */
	self->b.peer_auth = true;
	EXPECT_EQ(-ECONNREFUSED,
		  handshake_with(&self->a, &self->b, KMS_VERSION, &l, &d, &e));
	EXPECT_STREQ("the destination rejected the migration: guest RAM layouts differ: source 0x0+128M, destination 0x0+256M",
		     e.msg);
}

TEST_F(pair, handshake_tells_an_unauthenticated_peer_nothing)
{
	struct kms_layout l = { .nr = 1, .r = { { 0, 256 << 20 } } };
	struct kms_error e;
	struct dest d;

	EXPECT_EQ(-ECONNREFUSED,
		  handshake_with(&self->a, &self->b, KMS_VERSION, &l, &d, &e));
	EXPECT_EQ(NULL, strstr(e.msg, "layout")) TH_LOG("%s", e.msg);
	EXPECT_EQ(NULL, strstr(e.msg, "256M")) TH_LOG("%s", e.msg);
	EXPECT_NE(NULL, strstr(e.msg, "does not take this connection"));
}

TEST_F(pair, handshake_rejects_other_version_with_reason)
{
	struct kms_layout l = { .nr = 1, .r = { { 0, 128 << 20 } } };
	struct kms_error e;
	struct dest d;

	EXPECT_EQ(-ECONNREFUSED, handshake_with(&self->a, &self->b, 1, &l, &d, &e));
	EXPECT_EQ(-EPROTONOSUPPORT, d.ret);
	EXPECT_STREQ("data channel 1: stream version 1 is not supported (this kmigctl speaks version 3)",
		     d.msg);
	EXPECT_STREQ("the destination rejected the migration: stream version 1 is not supported (this kmigctl speaks version 3)",
		     e.msg);
}

/* A source that is not kmig at all gets a REJECT it could read. */
TEST_F(pair, handshake_with_garbage_peer)
{
	struct kms_hello got;
	struct kms_error e;
	uint8_t reply[KMS_PREAMBLE_LEN];

	ASSERT_EQ(16, write(self->fd[0], "GET / HTTP/1.1\r\n", 16));
	EXPECT_EQ(-EPROTO, handshake_read_hello(&self->b, NULL, &got, &e));
	EXPECT_STREQ("data channel 1: not a kmig migration stream (bad magic)",
		     e.msg);
	ASSERT_EQ(0, chan_read(&self->a, reply, sizeof(reply)));
	EXPECT_EQ(0, memcmp(reply, KMS_MAGIC, 8));
}

TEST_HARNESS_MAIN
