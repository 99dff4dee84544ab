// SPDX-License-Identifier: GPL-2.0
/*
 * The channel handshake (handshake.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "clock.h"
#include "handshake.h"

static int handshake_send_preamble(struct chan *c, uint32_t version)
{
	uint8_t pre[KMS_PREAMBLE_LEN];
	struct iovec iov = { .iov_base = pre, .iov_len = sizeof(pre) };

	kms_preamble_encode(pre, version);
	return chan_writev(c, &iov, 1);
}

static int handshake_reason_frame(struct chan *c, uint32_t type,
				  const char *reason)
{
	uint8_t buf[KMS_MAX_REASON];
	size_t n = kms_reason_encode(reason, buf, sizeof(buf));

	return chan_send(c, type, buf, n);
}

int handshake_connect(struct chan *c, uint32_t version,
		      const struct kms_hello *h, struct kms_error *e)
{
	uint8_t buf[KMS_HELLO_LEN(KMS_MAX_REGIONS)], pre[KMS_PREAMBLE_LEN];
	char reason[KMS_MAX_REASON + 1];
	struct kms_frame_hdr fh;
	struct kms_error pe;
	uint32_t peer_version;
	size_t len;
	int ret, pret, send_err;

	ret = handshake_send_preamble(c, version);
	len = kms_hello_encode(h, buf);
	if (!ret)
		ret = chan_send(c, KMS_HELLO, buf, len);
	/*
	 * A destination that refuses our preamble answers and closes before
	 * reading the HELLO: its answer may still be there to read.
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
	pret = kms_preamble_decode(pre, &peer_version, &pe);
	if (pret == -EPROTO) {
		kms_errorf(e, "%s: the peer is not a kmig destination: %s", c->name,
			 pe.msg);
		return pret;
	}

	/* Even from another version, a REJECT reads the same. */
	ret = chan_recv(c, &fh, buf, sizeof(buf), e);
	if (ret)
		return ret;
	if (fh.type == KMS_REJECT) {
		kms_reason_decode(buf, fh.len, reason, sizeof(reason));
		kms_errorf(e, "the destination rejected the migration: %s", reason);
		return -ECONNREFUSED;
	}
	if (pret) {
		kms_errorf(e, "%s: the destination speaks stream version %u, this kmigctl %d",
			 c->name, peer_version, KMS_VERSION);
		return pret;
	}
	if (fh.type != KMS_ACCEPT) {
		kms_errorf(e, "%s: %s frame where ACCEPT or REJECT was due", c->name,
			 kms_frame_name(fh.type));
		return -EPROTO;
	}
	return 0;
}

/* Long enough for a peer on the same network to read our answer. */
#define HANDSHAKE_LINGER_MS	1000

int handshake_reject(struct chan *c, const char *reason)
{
	uint64_t until = now_ns() + HANDSHAKE_LINGER_MS * NSEC_PER_MSEC;
	char sink[4096];
	int ret = handshake_send_preamble(c, KMS_VERSION);

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

int handshake_accept(struct chan *c)
{
	int ret = handshake_send_preamble(c, KMS_VERSION);

	return ret ? ret : chan_send(c, KMS_ACCEPT, NULL, 0);
}

int handshake_read_hello(struct chan *c, struct kms_hello *h,
			 struct kms_error *e)
{
	uint8_t pre[KMS_PREAMBLE_LEN], buf[KMS_HELLO_LEN(KMS_MAX_REGIONS)];
	struct kms_frame_hdr fh;
	struct kms_error pe;
	uint32_t version;
	int ret;

	ret = chan_read(c, pre, sizeof(pre));
	if (ret) {
		kms_errorf(e, "%s: reading the preamble: %s",
			 c->name, chan_strerror(ret));
		return ret;
	}
	ret = kms_preamble_decode(pre, &version, &pe);
	if (ret) {
		handshake_reject(c, pe.msg);
		kms_errorf(e, "%s: %s", c->name, pe.msg);
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
