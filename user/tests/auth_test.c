// SPDX-License-Identifier: GPL-2.0
/*
 * --auth-key over real sockets (kmigctl/wire/auth.c, handshake.c, chan.c):
 * sources with the key get in, and their frames carry MACs the other side
 * checks; a source without the key, with another key, or replaying an
 * old handshake is refused before its HELLO is read, and learns nothing
 * but that; a frame altered after the handshake fails its check.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "auth.h"
#include "chan.h"
#include "handshake.h"
#include "secure.h"

static void key_fill(struct auth_key *k, uint8_t seed)
{
	k->len = 32;
	for (size_t i = 0; i < k->len; i++)
		k->k[i] = seed + i * 7;
}

FIXTURE(pair) {
	int fd[2];
	struct chan src, dst;
	struct auth_key kd, ks;
	struct sec sd, ss;
};

FIXTURE_SETUP(pair)
{
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				self->fd));
	chan_init(&self->src, self->fd[0], "main channel", 2000, NULL);
	chan_init(&self->dst, self->fd[1], "main channel", 2000, NULL);
	key_fill(&self->kd, 1);
	key_fill(&self->ks, 1);
	memset(&self->sd, 0, sizeof(self->sd));
	memset(&self->ss, 0, sizeof(self->ss));
	self->sd.server = true;
	self->sd.key = &self->kd;
	self->ss.key = &self->ks;
}

FIXTURE_TEARDOWN(pair)
{
	chan_close(&self->src);
	chan_close(&self->dst);
}

struct dest {
	struct chan *c;
	const struct sec *s;
	struct kms_hello got;
	int ret;
	char msg[256];
};

static void *dest_main(void *arg)
{
	struct dest *d = arg;
	struct kms_error e;

	d->ret = handshake_read_hello(d->c, d->s, &d->got, &e);
	if (d->ret) {
		snprintf(d->msg, sizeof(d->msg), "%s", e.msg);
		return NULL;
	}
	d->ret = handshake_accept(d->c);
	return NULL;
}

static struct kms_hello hello(void)
{
	struct kms_hello h = {
		.session_id = 0x1234, .nr_channels = 2, .page_size = KMS_PAGE_SIZE,
		.nr_vcpus = 1, .layout = { .nr = 1, .r = { { 0, 1 << 20 } } },
	};

	h.ram_bytes = 1 << 20;
	return h;
}

static int run_handshake(struct chan *src, const struct sec *ss,
			 struct chan *dst, const struct sec *sd,
			 struct dest *d, struct kms_error *e)
{
	struct kms_hello h = hello();
	pthread_t t;
	int ret;

	memset(d, 0, sizeof(*d));
	d->c = dst;
	d->s = sd;
	if (pthread_create(&t, NULL, dest_main, d))
		return -1;
	ret = handshake_connect(src, KMS_VERSION, &h, ss, e);
	/* A source that gives up closes, as kmigctl does. */
	if (ret)
		shutdown(src->fd, SHUT_RDWR);
	pthread_join(t, NULL);
	return ret;
}

TEST_F(pair, same_key_accepted_and_frames_macd)
{
	uint8_t buf[64];
	struct kms_frame_hdr h;
	struct kms_error e;
	struct dest d;

	ASSERT_EQ(0, run_handshake(&self->src, &self->ss, &self->dst, &self->sd,
				   &d, &e)) TH_LOG("%s", e.msg);
	ASSERT_EQ(0, d.ret) TH_LOG("%s", d.msg);
	EXPECT_EQ(0x1234ULL, d.got.session_id);
	EXPECT_TRUE(self->src.peer_auth);
	EXPECT_TRUE(self->dst.peer_auth);
	EXPECT_STREQ("auth-key", self->dst.sec);
	/* Both ways, several frames: the sequence numbers agree. */
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(0, chan_send(&self->src, KMS_ABORT, "x", 1));
		ASSERT_EQ(0, chan_recv(&self->dst, &h, buf, sizeof(buf), &e))
			TH_LOG("%s", e.msg);
		EXPECT_EQ((uint32_t)KMS_ABORT, h.type);
		EXPECT_EQ(1U, h.len);
		ASSERT_EQ(0, chan_send(&self->dst, KMS_KEEPALIVE, NULL, 0));
		ASSERT_EQ(0, chan_recv(&self->src, &h, buf, sizeof(buf), &e));
		EXPECT_EQ((uint32_t)KMS_KEEPALIVE, h.type);
	}
}

TEST_F(pair, altered_frame_fails_its_mac)
{
	uint8_t buf[64], raw[64];
	struct kms_frame_hdr h;
	struct kms_error e;
	struct dest d;
	ssize_t n;

	ASSERT_EQ(0, run_handshake(&self->src, &self->ss, &self->dst, &self->sd,
				   &d, &e));
	ASSERT_EQ(0, d.ret);
	/* Through a second pair, so one bit can change on the way. */
	int mitm[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, mitm));
	int real = self->src.fd;

	self->src.fd = mitm[0];
	ASSERT_EQ(0, chan_send(&self->src, KMS_ABORT, "disk full", 9));
	self->src.fd = real;
	n = read(mitm[1], raw, sizeof(raw));
	ASSERT_EQ((ssize_t)(KMS_FRAME_HDR_LEN + 9 + AUTH_TAG_LEN), n);
	raw[KMS_FRAME_HDR_LEN + 3] ^= 0x04;	/* "disk full" -> "dis/ full" */
	ASSERT_EQ(n, write(self->src.fd, raw, n));
	EXPECT_EQ(-EBADMSG, chan_recv(&self->dst, &h, buf, sizeof(buf), &e));
	EXPECT_NE(NULL, strstr(e.msg, "failed its MAC check")) TH_LOG("%s", e.msg);
	close(mitm[0]);
	close(mitm[1]);
}

TEST_F(pair, replayed_frame_fails_its_mac)
{
	uint8_t buf[64], raw[64];
	struct kms_frame_hdr h;
	struct kms_error e;
	struct dest d;
	int mitm[2], real;
	ssize_t n;

	ASSERT_EQ(0, run_handshake(&self->src, &self->ss, &self->dst, &self->sd,
				   &d, &e));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, mitm));
	real = self->src.fd;
	self->src.fd = mitm[0];
	ASSERT_EQ(0, chan_send(&self->src, KMS_ABORT, "once", 4));
	self->src.fd = real;
	n = read(mitm[1], raw, sizeof(raw));
	ASSERT_GT(n, 0);
	/* The same bytes twice: the second has a used sequence number. */
	ASSERT_EQ(n, write(self->src.fd, raw, n));
	ASSERT_EQ(n, write(self->src.fd, raw, n));
	ASSERT_EQ(0, chan_recv(&self->dst, &h, buf, sizeof(buf), &e));
	EXPECT_EQ(-EBADMSG, chan_recv(&self->dst, &h, buf, sizeof(buf), &e));
	close(mitm[0]);
	close(mitm[1]);
}

TEST_F(pair, wrong_key_refused_both_ways)
{
	struct kms_error e;
	struct dest d;

	key_fill(&self->ks, 2);
	EXPECT_EQ(-EACCES, run_handshake(&self->src, &self->ss, &self->dst,
					 &self->sd, &d, &e));
	EXPECT_NE(NULL, strstr(e.msg, "could not prove it holds the auth key"))
		TH_LOG("%s", e.msg);
	EXPECT_NE(0, d.ret);
	EXPECT_FALSE(self->dst.peer_auth);
}

TEST_F(pair, no_key_refused_with_a_public_reason)
{
	struct kms_error e;
	struct dest d;

	EXPECT_EQ(-ECONNREFUSED, run_handshake(&self->src, NULL, &self->dst,
					       &self->sd, &d, &e));
	EXPECT_STREQ("the destination rejected the migration: this destination requires --auth-key (the source has none)",
		     e.msg);
	EXPECT_EQ(-EACCES, d.ret);
}

TEST_F(pair, key_at_a_destination_without_one)
{
	struct kms_error e;
	struct dest d;

	EXPECT_EQ(-ECONNREFUSED, run_handshake(&self->src, &self->ss, &self->dst,
					       NULL, &d, &e));
	EXPECT_NE(NULL, strstr(e.msg, "this destination has no --auth-key"));
}

/* Reads the destination's preamble and AUTH_CHALLENGE as an attacker. */
static void read_challenge(struct __test_metadata *_metadata, struct chan *c,
			   struct kms_auth *a)
{
	uint8_t pre[KMS_PREAMBLE_LEN], buf[KMS_AUTH_CHALLENGE_LEN];
	struct kms_frame_hdr h;
	struct kms_error e;

	ASSERT_EQ(0, chan_read(c, pre, sizeof(pre)));
	ASSERT_EQ(0, chan_recv(c, &h, buf, sizeof(buf), &e));
	ASSERT_EQ((uint32_t)KMS_AUTH_CHALLENGE, h.type);
	kms_auth_challenge_decode(buf, a);
}

/* The attacker's answer: a REJECT with @want in its reason. */
static void expect_reject(struct __test_metadata *_metadata, struct chan *c,
			  const char *want)
{
	char reason[KMS_MAX_REASON + 1];
	uint8_t buf[KMS_MAX_REASON];
	struct kms_frame_hdr h;
	struct kms_error e;

	ASSERT_EQ(0, chan_recv(c, &h, buf, sizeof(buf), &e)) TH_LOG("%s", e.msg);
	ASSERT_EQ((uint32_t)KMS_REJECT, h.type);
	kms_reason_decode(buf, h.len, reason, sizeof(reason));
	EXPECT_NE(NULL, strstr(reason, want)) TH_LOG("%s", reason);
}

/*
 * An attacker's opening on @src: the destination's half runs on a thread
 * into @d; a preamble with the AUTH flag and @a's AUTH_INIT go out, and
 * the destination's challenge comes back into @ch.
 */
static void attacker_open(struct __test_metadata *_metadata,
			  FIXTURE_DATA(pair) *self, const struct kms_auth *a,
			  struct dest *d, pthread_t *t, struct kms_auth *ch)
{
	uint8_t pre[KMS_PREAMBLE_LEN], init[KMS_AUTH_INIT_LEN];

	memset(d, 0, sizeof(*d));
	d->c = &self->dst;
	d->s = &self->sd;
	ASSERT_EQ(0, pthread_create(t, NULL, dest_main, d));
	kms_preamble_encode(pre, KMS_VERSION, KMS_PRE_F_AUTH);
	kms_auth_init_encode(init, a);
	ASSERT_EQ((ssize_t)sizeof(pre), write(self->src.fd, pre, sizeof(pre)));
	ASSERT_EQ(0, chan_send(&self->src, KMS_AUTH_INIT, init, sizeof(init)));
	read_challenge(_metadata, &self->src, ch);
}

/*
 * An attacker that saw a whole successful handshake replays the source's
 * AUTH_INIT and AUTH_PROOF on a new connection: the destination's fresh
 * nonce makes the old proof worthless.
 */
TEST_F(pair, replayed_handshake_refused)
{
	struct kms_auth a = { .session_id = 0x1234, .channel = 0 }, ch;
	uint8_t old_proof[AUTH_PROOF_LEN], old_nd[AUTH_NONCE_LEN];
	struct dest d;
	pthread_t t;

	/* The observed handshake, as the real source ran it. */
	ASSERT_EQ(0, auth_nonce(a.ns));
	attacker_open(_metadata, self, &a, &d, &t, &ch);
	memcpy(old_nd, ch.nd, sizeof(old_nd));
	auth_proof(&self->ks, false, a.session_id, 0, a.ns, old_nd, old_proof);
	ASSERT_EQ(0, chan_send(&self->src, KMS_AUTH_PROOF, old_proof,
			       sizeof(old_proof)));
	shutdown(self->src.fd, SHUT_RDWR);
	pthread_join(t, NULL);

	/* The replay, on a new connection to the same destination. */
	chan_close(&self->src);
	chan_close(&self->dst);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, self->fd));
	chan_init(&self->src, self->fd[0], "main channel", 2000, NULL);
	chan_init(&self->dst, self->fd[1], "main channel", 2000, NULL);
	attacker_open(_metadata, self, &a, &d, &t, &ch);
	EXPECT_NE(0, memcmp(ch.nd, old_nd, sizeof(old_nd)));
	ASSERT_EQ(0, chan_send(&self->src, KMS_AUTH_PROOF, old_proof,
			       sizeof(old_proof)));
	expect_reject(_metadata, &self->src, "authentication failed");
	pthread_join(t, NULL);
	EXPECT_EQ(-EACCES, d.ret);
	EXPECT_NE(NULL, strstr(d.msg, "authentication failed"));
}

/* No key: a well-formed exchange with a made-up proof. */
TEST_F(pair, made_up_proof_refused_before_hello)
{
	uint8_t proof[AUTH_PROOF_LEN] = { 0 };
	struct kms_auth a = { .session_id = 7, .channel = 0 }, ch;
	struct dest d;
	pthread_t t;

	attacker_open(_metadata, self, &a, &d, &t, &ch);
	ASSERT_EQ(0, chan_send(&self->src, KMS_AUTH_PROOF, proof, sizeof(proof)));
	expect_reject(_metadata, &self->src, "authentication failed");
	pthread_join(t, NULL);
	EXPECT_EQ(-EACCES, d.ret);
	EXPECT_EQ(0ULL, d.got.session_id);	/* no HELLO was read */
}

TEST(key_file_rules)
{
	char path[] = "/tmp/kmig-auth-XXXXXX", err[256];
	struct auth_key *k = malloc(sizeof(*k));
	int fd = mkstemp(path);

	ASSERT_NE(NULL, k);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(8, write(fd, "12345678", 8));
	EXPECT_EQ(-EINVAL, auth_key_load(k, path, err, sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "too short"));
	ASSERT_EQ(24, write(fd, "abcdefghijklmnopqrstuvwx", 24));
	EXPECT_EQ(0, auth_key_load(k, path, err, sizeof(err))) TH_LOG("%s", err);
	EXPECT_EQ(32U, k->len);
	ASSERT_EQ(0, fchmod(fd, 0644));
	EXPECT_EQ(-EPERM, auth_key_load(k, path, err, sizeof(err)));
	close(fd);
	unlink(path);
	free(k);
}

TEST_HARNESS_MAIN
