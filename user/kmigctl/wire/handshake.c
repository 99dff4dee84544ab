// SPDX-License-Identifier: GPL-2.0
/*
 * The channel handshake (handshake.h).
 *
 *   source                          destination
 *   preamble [F_AUTH]  ------->
 *   [AUTH_INIT Ns, session, chan] ->
 *                     <-------  preamble
 *                     <-------  [AUTH_CHALLENGE Nd, proof_d]
 *   [AUTH_PROOF proof_s] ------>
 *                     <-------  [AUTH_OK]      (frame MACs from here)
 *   HELLO             ------->
 *                     <-------  ACCEPT | REJECT
 *
 * The destination proves itself first, but only over the source's fresh
 * nonce; the source proves itself over the destination's. Nothing the
 * destination loads or tells in detail comes before the source's proof.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "auth.h"
#include "clock.h"
#include "handshake.h"
#include "secure.h"

/* What an unauthenticated peer is told, whatever the reason. */
#define HANDSHAKE_REFUSED \
	"this destination does not take this connection (it logs why; an unauthenticated peer is not told)"

static int handshake_send_preamble(struct chan *c, uint32_t version,
				   uint32_t flags)
{
	uint8_t pre[KMS_PREAMBLE_LEN];
	struct iovec iov = { .iov_base = pre, .iov_len = sizeof(pre) };

	if (c->preamble_sent)
		return 0;
	c->preamble_sent = true;
	kms_preamble_encode(pre, version, flags);
	return chan_writev(c, &iov, 1);
}

static int handshake_reason_frame(struct chan *c, uint32_t type,
				  const char *reason)
{
	uint8_t buf[KMS_MAX_REASON];
	size_t n = kms_reason_encode(reason, buf, sizeof(buf));

	return chan_send(c, type, buf, n);
}

/* Both directions' MACs from here on; the peer has proved the key. */
static int handshake_start_macs(struct chan *c, const struct auth_key *key,
				bool dest, const struct kms_auth *a,
				struct kms_error *e)
{
	struct frame_mac *s2d, *d2s;

	s2d = frame_mac_new(key, false, a->session_id, a->channel, a->ns, a->nd);
	d2s = frame_mac_new(key, true, a->session_id, a->channel, a->ns, a->nd);
	if (!s2d || !d2s) {
		frame_mac_free(s2d);
		frame_mac_free(d2s);
		kms_errorf(e, "%s: setting up the frame MACs failed", c->name);
		return -ENOMEM;
	}
	if (dest)
		chan_set_mac(c, d2s, s2d);
	else
		chan_set_mac(c, s2d, d2s);
	c->peer_auth = true;
	if (!c->sec[0] || !strcmp(c->sec, "auth-key"))
		snprintf(c->sec, sizeof(c->sec), "auth-key");
	else
		snprintf(c->sec + strlen(c->sec), sizeof(c->sec) - strlen(c->sec),
			 "+auth-key");
	return 0;
}

/*
 * The destination's answer to what the source sent so far: 0 for @want,
 * -ECONNREFUSED for a REJECT (its reason in @e), else -EPROTO.
 */
static int handshake_answer(struct chan *c, uint32_t want, uint8_t *buf,
			    size_t cap, struct kms_frame_hdr *fh,
			    struct kms_error *e)
{
	char reason[KMS_MAX_REASON + 1];
	int ret = chan_recv(c, fh, buf, cap, e);

	if (ret)
		return ret;
	if (fh->type == KMS_REJECT) {
		kms_reason_decode(buf, fh->len, reason, sizeof(reason));
		kms_errorf(e, "the destination rejected the migration: %s", reason);
		return -ECONNREFUSED;
	}
	if (fh->type != want) {
		kms_errorf(e, "%s: %s frame where %s or REJECT was due", c->name,
			   kms_frame_name(fh->type), kms_frame_name(want));
		return -EPROTO;
	}
	return 0;
}

/*
 * The source's part of the --auth-key exchange, after AUTH_INIT: @a holds
 * what that sent (Ns, session, channel) and gets the rest.
 */
static int handshake_auth_source(struct chan *c, struct kms_auth *a,
				 const struct auth_key *key, struct kms_error *e)
{
	uint8_t buf[KMS_MAX_REASON], want[AUTH_PROOF_LEN];
	struct kms_frame_hdr fh;
	struct kms_auth got;
	int ret;

	ret = handshake_answer(c, KMS_AUTH_CHALLENGE, buf, sizeof(buf), &fh, e);
	if (ret)
		return ret;
	kms_auth_challenge_decode(buf, &got);
	memcpy(a->nd, got.nd, sizeof(a->nd));
	auth_proof(key, true, a->session_id, a->channel, a->ns, a->nd, want);
	if (!auth_equal(want, got.proof, sizeof(want))) {
		kms_errorf(e, "%s: the destination could not prove it holds the auth key (another key, or not the destination meant)",
			   c->name);
		return -EACCES;
	}
	auth_proof(key, false, a->session_id, a->channel, a->ns, a->nd,
		   a->proof);
	ret = chan_send(c, KMS_AUTH_PROOF, a->proof, sizeof(a->proof));
	if (ret) {
		kms_errorf(e, "%s: sending AUTH_PROOF: %s", c->name,
			   chan_strerror(ret));
		return ret;
	}
	ret = handshake_answer(c, KMS_AUTH_OK, buf, sizeof(buf), &fh, e);
	if (ret)
		return ret;
	return handshake_start_macs(c, key, false, a, e);
}

int handshake_connect(struct chan *c, uint32_t version,
		      const struct kms_hello *h, const struct sec *s,
		      struct kms_error *e)
{
	uint8_t buf[KMS_HELLO_LEN(KMS_MAX_REGIONS)], pre[KMS_PREAMBLE_LEN];
	const struct auth_key *key = s ? s->key : NULL;
	struct kms_auth a = { .session_id = h->session_id,
			      .channel = h->channel };
	struct kms_frame_hdr fh;
	struct kms_error pe;
	uint32_t peer_version, peer_flags;
	size_t len;
	int ret, pret, send_err;

	ret = handshake_send_preamble(c, version, key ? KMS_PRE_F_AUTH : 0);
	if (!ret && key) {
		uint8_t init[KMS_AUTH_INIT_LEN];

		ret = auth_nonce(a.ns);
		kms_auth_init_encode(init, &a);
		if (!ret)
			ret = chan_send(c, KMS_AUTH_INIT, init, sizeof(init));
	} else if (!ret) {
		len = kms_hello_encode(h, buf);
		ret = chan_send(c, KMS_HELLO, buf, len);
	}
	/*
	 * A destination that refuses our preamble answers and closes before
	 * reading the rest: its answer may still be there to read.
	 */
	send_err = ret;
	if (ret && ret != -EPIPE && ret != -ECONNRESET && ret != -ENODATA) {
		kms_errorf(e, "%s: sending HELLO: %s", c->name,
			   chan_strerror(ret));
		return ret;
	}

	ret = chan_read(c, pre, sizeof(pre));
	if (ret) {
		if (send_err)
			kms_errorf(e, "%s: sending HELLO: %s", c->name,
				   chan_strerror(send_err));
		else
			kms_errorf(e, "%s: no answer to HELLO: %s", c->name,
				   chan_strerror(ret));
		return send_err ? send_err : ret;
	}
	pret = kms_preamble_decode(pre, &peer_version, &peer_flags, &pe);
	if (pret == -EPROTO) {
		kms_errorf(e, "%s: the peer is not a kmig destination: %s", c->name,
			   pe.msg);
		return pret;
	}
	if (pret) {
		/* Even from another version, a REJECT reads the same. */
		ret = handshake_answer(c, KMS_ACCEPT, buf, sizeof(buf), &fh, e);
		if (ret == -ECONNREFUSED)
			return ret;
		kms_errorf(e, "%s: the destination speaks stream version %u, this kmigctl %d",
			   c->name, peer_version, KMS_VERSION);
		return pret;
	}
	if (!key && (peer_flags & KMS_PRE_F_AUTH)) {
		/* Only a refusal may follow: we never offered a key. */
		ret = handshake_answer(c, KMS_REJECT, buf, sizeof(buf), &fh, e);
		if (ret == -ECONNREFUSED)
			return ret;
		kms_errorf(e, "%s: the destination answered with an auth exchange this source did not offer",
			   c->name);
		return -EPROTO;
	}
	if (key) {
		ret = handshake_auth_source(c, &a, key, e);
		if (ret)
			return ret;
		len = kms_hello_encode(h, buf);
		ret = chan_send(c, KMS_HELLO, buf, len);
		if (ret) {
			kms_errorf(e, "%s: sending HELLO: %s", c->name,
				   chan_strerror(ret));
			return ret;
		}
	}
	return handshake_answer(c, KMS_ACCEPT, buf, sizeof(buf), &fh, e);
}

/* Long enough for a peer on the same network to read our answer. */
#define HANDSHAKE_LINGER_MS	1000

int handshake_reject_public(struct chan *c, const char *reason)
{
	uint64_t until = now_ns() + HANDSHAKE_LINGER_MS * NSEC_PER_MSEC;
	char sink[4096];
	int ret = handshake_send_preamble(c, KMS_VERSION, 0);

	if (!ret)
		ret = handshake_reason_frame(c, KMS_REJECT, reason);
	/*
	 * A close with unread input (the peer's HELLO) would send a TCP
	 * reset, and the peer might lose our answer with it: end our side,
	 * then read until the peer closes too, for a bounded time.
	 */
	shutdown(c->fd, SHUT_WR);
	while (now_ns() < until && chan_poll_in(c, CHAN_TICK_MS) >= 0) {
		ssize_t n = recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT);

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			break;
	}
	return ret;
}

int handshake_reject(struct chan *c, const char *reason)
{
	return handshake_reject_public(c, c->peer_auth ? reason :
				       HANDSHAKE_REFUSED);
}

int handshake_accept(struct chan *c)
{
	int ret = handshake_send_preamble(c, KMS_VERSION, 0);

	return ret ? ret : chan_send(c, KMS_ACCEPT, NULL, 0);
}

/* The destination's part of the --auth-key exchange, after the preamble. */
static int handshake_auth_dest(struct chan *c, const struct auth_key *key,
			       struct kms_auth *a, struct kms_error *e)
{
	uint8_t buf[KMS_AUTH_CHALLENGE_LEN], want[AUTH_PROOF_LEN];
	struct kms_frame_hdr fh;
	struct kms_error pe;
	int ret;

	ret = chan_recv(c, &fh, buf, sizeof(buf), &pe);
	if (ret) {
		*e = pe;	/* it names the channel */
		return ret;
	}
	if (fh.type != KMS_AUTH_INIT) {
		kms_errorf(&pe, "%s frame where AUTH_INIT was due",
			   kms_frame_name(fh.type));
		ret = -EPROTO;
	}
	if (!ret)
		ret = kms_auth_init_decode(buf, fh.len, a, &pe);
	if (ret) {
		handshake_reject_public(c, pe.msg);
		kms_errorf(e, "%s: %s", c->name, pe.msg);
		return ret;
	}
	ret = auth_nonce(a->nd);
	if (ret) {
		kms_errorf(e, "%s: getrandom: %s", c->name, strerror(-ret));
		return ret;
	}
	auth_proof(key, true, a->session_id, a->channel, a->ns, a->nd,
		   a->proof);
	kms_auth_challenge_encode(buf, a);
	ret = handshake_send_preamble(c, KMS_VERSION, KMS_PRE_F_AUTH);
	if (!ret)
		ret = chan_send(c, KMS_AUTH_CHALLENGE, buf, sizeof(buf));
	if (ret) {
		kms_errorf(e, "%s: sending AUTH_CHALLENGE: %s", c->name,
			   chan_strerror(ret));
		return ret;
	}
	ret = chan_recv(c, &fh, buf, sizeof(buf), &pe);
	if (ret == -EPIPE || ret == -ECONNRESET) {
		/* A source whose key differs stops at our proof. */
		kms_errorf(e, "%s: the source left during the auth exchange (it holds another key, or none)",
			   c->name);
		return -EACCES;
	}
	if (ret) {
		*e = pe;	/* it names the channel */
		return ret;
	}
	if (fh.type != KMS_AUTH_PROOF) {
		kms_errorf(&pe, "%s frame where AUTH_PROOF was due",
			   kms_frame_name(fh.type));
		handshake_reject_public(c, pe.msg);
		kms_errorf(e, "%s: %s", c->name, pe.msg);
		return -EPROTO;
	}
	auth_proof(key, false, a->session_id, a->channel, a->ns, a->nd, want);
	if (!auth_equal(want, buf, sizeof(want))) {
		handshake_reject_public(c, "authentication failed: the source does not hold this destination's auth key");
		kms_errorf(e, "%s: authentication failed (the peer does not hold the auth key, or replayed an old handshake)",
			   c->name);
		return -EACCES;
	}
	ret = chan_send(c, KMS_AUTH_OK, NULL, 0);
	if (ret) {
		kms_errorf(e, "%s: sending AUTH_OK: %s", c->name,
			   chan_strerror(ret));
		return ret;
	}
	return handshake_start_macs(c, key, true, a, e);
}

int handshake_read_hello(struct chan *c, const struct sec *s,
			 struct kms_hello *h, struct kms_error *e)
{
	uint8_t pre[KMS_PREAMBLE_LEN], buf[KMS_HELLO_LEN(KMS_MAX_REGIONS)];
	const struct auth_key *key = s ? s->key : NULL;
	struct kms_frame_hdr fh;
	struct kms_auth a;
	struct kms_error pe;
	uint32_t version, flags;
	int ret;

	ret = chan_read(c, pre, sizeof(pre));
	if (ret) {
		kms_errorf(e, "%s: reading the preamble: %s",
			   c->name, chan_strerror(ret));
		return ret;
	}
	ret = kms_preamble_decode(pre, &version, &flags, &pe);
	if (!ret && key && !(flags & KMS_PRE_F_AUTH)) {
		kms_errorf(&pe, "this destination requires --auth-key (the source has none)");
		ret = -EACCES;
	} else if (!ret && !key && (flags & KMS_PRE_F_AUTH)) {
		kms_errorf(&pe, "this destination has no --auth-key (the source has one): give both the same, or neither");
		ret = -EACCES;
	}
	if (ret) {
		handshake_reject_public(c, pe.msg);
		kms_errorf(e, "%s: %s", c->name, pe.msg);
		return ret;
	}
	if (key) {
		ret = handshake_auth_dest(c, key, &a, e);
		if (ret)
			return ret;
	}

	ret = chan_recv(c, &fh, buf, sizeof(buf), &pe);
	if (ret) {
		/* pe already names the channel. */
		handshake_reject(c, pe.msg);
		*e = pe;
		return ret;
	}
	if (fh.type != KMS_HELLO) {
		kms_errorf(&pe, "%s frame where HELLO was due",
			   kms_frame_name(fh.type));
		ret = -EPROTO;
	}
	if (!ret)
		ret = kms_hello_decode(buf, fh.len, h, &pe);
	if (!ret && key &&
	    (h->session_id != a.session_id || h->channel != a.channel)) {
		kms_errorf(&pe, "HELLO for another session or channel than the one authenticated");
		ret = -EPROTO;
	}
	if (ret) {
		handshake_reject(c, pe.msg);
		kms_errorf(e, "%s: %s", c->name, pe.msg);
	}
	return ret;
}

int handshake_abort(struct chan *c, const char *reason)
{
	return handshake_reason_frame(c, KMS_ABORT, reason);
}
