// SPDX-License-Identifier: GPL-2.0
/*
 * The main channel's one wait (kmigctl/wire/mainchan.c) and the channel
 * deadline (chan.c), over real sockets: KEEPALIVEs are eaten, a peer that
 * is alive but never answers meets the step's deadline, a silent one is
 * found within the peer timeout, an ABORT brings the peer's words, and a
 * handshake trickled a byte at a time still ends at its deadline.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "chan.h"
#include "clock.h"
#include "handshake.h"
#include "mainchan.h"

FIXTURE(pair) {
	int fd[2];
	struct chan a, b;	/* a: the peer; b: the side under test */
};

FIXTURE_SETUP(pair)
{
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				self->fd));
	chan_init(&self->a, self->fd[0], "main channel", 5000, NULL);
	chan_init(&self->b, self->fd[1], "main channel", 5000, NULL);
}

FIXTURE_TEARDOWN(pair)
{
	chan_close(&self->a);
	chan_close(&self->b);
}

static uint64_t ms_since(uint64_t t0)
{
	return (now_ns() - t0) / NSEC_PER_MSEC;
}

static void *trickle(void *arg)
{
	struct chan *c = arg;

	/* A byte every 50 ms for 3 s: always progress, never done. */
	for (int i = 0; i < 60; i++) {
		if (send(c->fd, "K", 1, MSG_NOSIGNAL) != 1)
			break;
		sleep_ns(50 * NSEC_PER_MSEC);
	}
	return NULL;
}

TEST_F(pair, trickled_read_meets_the_deadline)
{
	uint8_t buf[KMS_PREAMBLE_LEN + 64];
	uint64_t t0 = now_ns();
	pthread_t t;

	ASSERT_EQ(0, pthread_create(&t, NULL, trickle, &self->a));
	self->b.deadline_ns = now_ns() + 400 * NSEC_PER_MSEC;
	EXPECT_EQ(-ETIME, chan_read(&self->b, buf, sizeof(buf)));
	EXPECT_GT(1500U, ms_since(t0));
	shutdown(self->fd[1], SHUT_RDWR);
	pthread_join(t, NULL);
}

static void *set_later(void *arg)
{
	sleep_ns(200 * NSEC_PER_MSEC);
	atomic_store((atomic_int *)arg, 1);
	return NULL;
}

TEST_F(pair, stop_ends_a_blocked_read)
{
	atomic_int stop = 0;
	uint8_t buf[16];
	pthread_t t;

	self->b.stop = &stop;
	ASSERT_EQ(0, pthread_create(&t, NULL, set_later, &stop));
	EXPECT_EQ(-ESHUTDOWN, chan_read(&self->b, buf, sizeof(buf)));
	pthread_join(t, NULL);
}

TEST_F(pair, keepalives_are_eaten)
{
	struct mainchan mc;
	struct kms_frame_hdr h;
	struct kms_error e;
	uint8_t buf[64];

	mainchan_init(&mc, &self->b, "the destination", 5000);
	for (int i = 0; i < 3; i++)
		ASSERT_EQ(0, chan_send(&self->a, KMS_KEEPALIVE, NULL, 0));
	ASSERT_EQ(0, chan_send(&self->a, KMS_READY, NULL, 0));
	EXPECT_EQ(0, mainchan_recv(&mc, &h, buf, sizeof(buf), "READY", 0,
				   NULL, NULL, &e));
	EXPECT_EQ((uint32_t)KMS_READY, h.type);
	EXPECT_EQ(3U * KMS_FRAME_HDR_LEN, mc.ka_in);
	/* Only keepalives waiting: a poll finds nothing. */
	ASSERT_EQ(0, chan_send(&self->a, KMS_KEEPALIVE, NULL, 0));
	EXPECT_EQ(0, mainchan_poll(&mc, &h, buf, sizeof(buf), 50, &e));
	mainchan_destroy(&mc);
}

TEST_F(pair, silent_peer_is_lost)
{
	uint64_t t0 = now_ns();
	struct mainchan mc;
	struct kms_frame_hdr h;
	struct kms_error e;
	uint8_t buf[64];

	mainchan_init(&mc, &self->b, "the destination", 500);
	EXPECT_EQ(-ENOLINK, mainchan_recv(&mc, &h, buf, sizeof(buf), "ACK", 0,
					  NULL, NULL, &e));
	EXPECT_NE(NULL, strstr(e.msg, "the destination went silent")) TH_LOG("%s", e.msg);
	EXPECT_LE(500U, ms_since(t0));
	EXPECT_GT(2000U, ms_since(t0));
	mainchan_destroy(&mc);
}

/* The peer's keepalive thread runs: alive, but READY never comes. */
TEST_F(pair, live_peer_meets_the_step_deadline)
{
	struct mainchan peer, mc;
	struct kms_frame_hdr h;
	struct kms_error e;
	uint8_t buf[64];

	mainchan_init(&peer, &self->a, "the source", 0);
	ASSERT_EQ(0, mainchan_start_keepalive(&peer));
	mainchan_init(&mc, &self->b, "the destination", 1500);
	EXPECT_EQ(-ETIME, mainchan_recv(&mc, &h, buf, sizeof(buf), "READY",
					now_ns() + 3000 * NSEC_PER_MSEC,
					NULL, NULL, &e));
	EXPECT_STREQ("no READY from the destination within 3 s (--step-timeout)",
		     e.msg);
	EXPECT_LE(2U * KMS_FRAME_HDR_LEN, mc.ka_in);
	mainchan_destroy(&peer);
	mainchan_destroy(&mc);
}

TEST_F(pair, abort_brings_the_reason)
{
	struct mainchan mc;
	struct kms_frame_hdr h;
	struct kms_error e;
	uint8_t buf[KMS_MAX_REASON];

	mainchan_init(&mc, &self->b, "the source", 5000);
	ASSERT_EQ(0, handshake_abort(&self->a, "disk full"));
	EXPECT_EQ(-ECONNABORTED, mainchan_recv(&mc, &h, buf, sizeof(buf), "GO",
					       0, NULL, NULL, &e));
	EXPECT_STREQ("the source aborted the migration: disk full", e.msg);
	mainchan_destroy(&mc);
}

static bool stop_third(void *arg)
{
	int *n = arg;

	return ++*n >= 3;
}

TEST_F(pair, the_callers_check_ends_the_wait)
{
	struct mainchan mc;
	struct kms_frame_hdr h;
	struct kms_error e;
	uint8_t buf[64];
	int n = 0;

	mainchan_init(&mc, &self->b, "the source", 5000);
	EXPECT_EQ(-ECANCELED, mainchan_recv(&mc, &h, buf, sizeof(buf), "END",
					    0, stop_third, &n, &e));
	EXPECT_EQ(3, n);
	mainchan_destroy(&mc);
}

TEST_HARNESS_MAIN
