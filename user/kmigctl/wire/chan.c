// SPDX-License-Identifier: GPL-2.0
/*
 * Frame I/O on a migration channel (chan.h). Sockets stay in blocking mode
 * but every call is MSG_DONTWAIT behind a poll() with a short tick, so a
 * stalled peer or another thread's failure is noticed.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth.h"
#include "chan.h"
#include "clock.h"
#include "tls.h"

void chan_init(struct chan *c, int fd, const char *name, int stall_ms,
	       const atomic_int *stop)
{
	c->fd = fd;
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->stall_ms = stall_ms;
	c->stop = stop;
	c->deadline_ns = 0;
	atomic_init(&c->bytes_out, 0);
	atomic_init(&c->bytes_in, 0);
	c->tls = NULL;
	c->tls_records = false;
	c->mac_tx = c->mac_rx = NULL;
	c->peer_auth = false;
	c->preamble_sent = false;
	c->sec[0] = 0;
	c->tls_why[0] = 0;
	c->peer[0] = 0;
}

void chan_close(struct chan *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	tls_conn_free(c->tls);
	c->tls = NULL;
	c->tls_records = false;
	frame_mac_free(c->mac_tx);
	frame_mac_free(c->mac_rx);
	c->mac_tx = c->mac_rx = NULL;
}

void chan_take(struct chan *dst, struct chan *src, const char *name,
	       const atomic_int *stop)
{
	chan_init(dst, src->fd, name, src->stall_ms, stop);
	atomic_store(&dst->bytes_in, atomic_load(&src->bytes_in));
	atomic_store(&dst->bytes_out, atomic_load(&src->bytes_out));
	dst->tls = src->tls;
	dst->tls_records = src->tls_records;
	dst->mac_tx = src->mac_tx;
	dst->mac_rx = src->mac_rx;
	dst->peer_auth = src->peer_auth;
	memcpy(dst->sec, src->sec, sizeof(dst->sec));
	memcpy(dst->peer, src->peer, sizeof(dst->peer));
	src->fd = -1;
	src->tls = NULL;
	src->mac_tx = src->mac_rx = NULL;
}

void chan_set_tls(struct chan *c, struct tls_conn *t)
{
	c->tls = t;
	c->tls_records = t && !tls_conn_ktls(t);
}

void chan_set_mac(struct chan *c, struct frame_mac *tx, struct frame_mac *rx)
{
	c->mac_tx = tx;
	c->mac_rx = rx;
}

/*
 * Waits for @events; 0 when ready, -ETIMEDOUT after a stall, -ETIME past
 * the deadline, -ESHUTDOWN.
 */
/* Keeps GnuTLS's words for a record-layer failure. */
static void chan_tls_failed(struct chan *c, ssize_t err)
{
	const char *why;

	if (err != -EPROTO && err != -EACCES)
		return;
	why = tls_conn_error(c->tls);
	snprintf(c->tls_why, sizeof(c->tls_why), "%s", why ? why : "");
}

int chan_wait_ready(struct chan *c, short events, uint64_t since)
{
	struct pollfd p = { .fd = c->fd, .events = events };

	for (;;) {
		int n;

		if (c->stop && atomic_load(c->stop))
			return -ESHUTDOWN;
		if (c->stall_ms > 0 &&
		    now_ns() - since > (uint64_t)c->stall_ms * NSEC_PER_MSEC)
			return -ETIMEDOUT;
		if (c->deadline_ns && now_ns() >= c->deadline_ns)
			return -ETIME;
		n = poll(&p, 1, CHAN_TICK_MS);
		if (n > 0)
			return 0;	/* ready, or an error the call will report */
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

/*
 * One non-blocking send of what @iov holds, on the socket (plain or kTLS)
 * or through GnuTLS's records: bytes sent or -errno.
 */
static ssize_t chan_send_some(struct chan *c, struct iovec *iov, int iovcnt)
{
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = iovcnt };
	ssize_t n;

	if (c->tls_records) {
		n = tls_conn_sendv(c->tls, iov, iovcnt);
		if (n < 0)
			chan_tls_failed(c, n);
		return n;
	}
	/* MSG_NOSIGNAL: a closed peer is -EPIPE here, not SIGPIPE. */
	n = sendmsg(c->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
	return n < 0 ? -errno : n;
}

/*
 * One non-blocking read into @buf: bytes read, 0 at the peer's orderly end
 * (a TLS close_notify too), or -errno. kTLS's own errors become TLS ones:
 * EBADMSG a record that failed to decrypt, EIO a record that is not data
 * (an alert, read here).
 */
static ssize_t chan_recv_some(struct chan *c, void *buf, size_t len)
{
	ssize_t n;

	if (c->tls_records) {
		n = tls_conn_recv(c->tls, buf, len);
		if (n < 0)
			chan_tls_failed(c, n);
		return n;
	}
	n = recv(c->fd, buf, len, MSG_DONTWAIT);
	if (n >= 0)
		return n;
	if (!c->tls || (errno != EBADMSG && errno != EIO))
		return -errno;
	if (errno == EBADMSG) {
		snprintf(c->tls_why, sizeof(c->tls_why),
			 "a record failed its authentication (altered in transit)");
		return -EPROTO;
	}
	return tls_ktls_read_alert(c->fd, c->tls_why, sizeof(c->tls_why));
}

int chan_writev(struct chan *c, struct iovec *iov, int iovcnt)
{
	uint64_t progress = now_ns();

	while (iovcnt > 0) {
		ssize_t n = chan_send_some(c, iov, iovcnt);

		if (n < 0) {
			int ret;

			if (n == -EINTR)
				continue;
			if (n != -EAGAIN)
				return n;
			ret = chan_wait_ready(c, POLLOUT, progress);
			if (ret)
				return ret;
			continue;
		}
		progress = now_ns();
		atomic_fetch_add(&c->bytes_out, n);
		while (iovcnt > 0 && (size_t)n >= iov->iov_len) {
			n -= iov->iov_len;
			iov++;
			iovcnt--;
		}
		if (iovcnt > 0) {
			iov->iov_base = (char *)iov->iov_base + n;
			iov->iov_len -= n;
		}
	}
	return 0;
}

int chan_read(struct chan *c, void *buf, size_t len)
{
	uint64_t progress = now_ns();
	size_t got = 0;

	while (got < len) {
		ssize_t n = chan_recv_some(c, (char *)buf + got, len - got);

		if (n == 0)
			return got ? -ENODATA : -EPIPE;
		if (n < 0) {
			int ret;

			if (n == -EINTR)
				continue;
			if (n != -EAGAIN)
				return n;
			ret = chan_wait_ready(c, POLLIN, progress);
			if (ret)
				return ret;
			continue;
		}
		progress = now_ns();
		atomic_fetch_add(&c->bytes_in, n);
		got += n;
	}
	return 0;
}

int chan_send_framev(struct chan *c, uint32_t type, struct iovec *iov,
		     int iovcnt)
{
	uint8_t hdr[KMS_FRAME_HDR_LEN], tag[AUTH_TAG_LEN];
	uint64_t len = 0;
	int i;

	for (i = 1; i < iovcnt; i++)
		len += iov[i].iov_len;
	if (c->mac_tx)
		len += AUTH_TAG_LEN;
	if (len > UINT32_MAX)
		return -EMSGSIZE;
	/* The MAC covers the header too, whose length counts the MAC. */
	kms_frame_hdr_encode(hdr, type, len);
	iov[0].iov_base = hdr;
	iov[0].iov_len = sizeof(hdr);
	if (c->mac_tx) {
		frame_mac_tag(c->mac_tx, iov, iovcnt, tag);
		iov[iovcnt].iov_base = tag;
		iov[iovcnt].iov_len = sizeof(tag);
		iovcnt++;
	}
	return chan_writev(c, iov, iovcnt);
}

int chan_send(struct chan *c, uint32_t type, const void *payload,
	      uint32_t len)
{
	struct iovec iov[3] = {
		[1] = { .iov_base = (void *)payload, .iov_len = len },
	};

	return chan_send_framev(c, type, iov, len ? 2 : 1);
}

const char *chan_strerror(int err)
{
	switch (err) {
	case -EPIPE:
		return "the peer closed the connection";
	case -ENODATA:
		return "the peer closed the connection mid-frame (truncated stream)";
	case -ECONNRESET:
		return "the connection was reset by the peer";
	case -ETIMEDOUT:
		return "the peer stalled (no progress within the stall timeout)";
	case -ETIME:
		return "the peer did not finish in time (deadline passed)";
	case -ESHUTDOWN:
		return "abandoned (a signal, or another failure)";
	case -EBADMSG:
		return "a frame failed its authentication check (a wrong key, or altered in transit)";
	case -EACCES:
		return "the peer refused this side's credentials (a TLS authentication alert)";
	case -EPROTO:
		return "a TLS record failed its check, or the peer sent a TLS alert";
	default:
		return strerror(-err);
	}
}

int chan_recv(struct chan *c, struct kms_frame_hdr *h, uint8_t *buf,
	      size_t cap, struct kms_error *e)
{
	uint8_t hdr[KMS_FRAME_HDR_LEN];
	struct kms_error fe;
	int ret;

	ret = chan_read(c, hdr, sizeof(hdr));
	if (ret) {
		if (c->tls && c->tls_why[0] && (ret == -EPROTO || ret == -EACCES))
			kms_errorf(e, "%s: TLS: %s", c->name, c->tls_why);
		else
			kms_errorf(e, "%s: %s", c->name, chan_strerror(ret));
		return ret;
	}
	/* The header is not yet authenticated: only its bounds are used. */
	if (c->mac_rx) {
		uint32_t wire = kms_get_u32(hdr + 4);

		if (wire < AUTH_TAG_LEN) {
			kms_errorf(e, "%s: frame of %u bytes cannot hold its MAC",
				   c->name, wire);
			return -EBADMSG;
		}
		kms_put_u32(hdr + 4, wire - AUTH_TAG_LEN);
		ret = kms_frame_hdr_decode(hdr, h, &fe);
		kms_put_u32(hdr + 4, wire);
	} else {
		ret = kms_frame_hdr_decode(hdr, h, &fe);
	}
	if (ret) {
		kms_errorf(e, "%s: %s", c->name, fe.msg);
		return ret;
	}
	if (h->len > cap) {
		kms_errorf(e, "%s: %s frame of %u bytes where at most %zu fit",
			 c->name, kms_frame_name(h->type), h->len, cap);
		return -EMSGSIZE;
	}
	ret = chan_read(c, buf, h->len);
	if (ret) {
		/* A frame cut short is a truncated stream. */
		if (ret == -EPIPE)
			ret = -ENODATA;
		if (c->tls && c->tls_why[0] && (ret == -EPROTO || ret == -EACCES))
			kms_errorf(e, "%s: %s frame: TLS: %s", c->name,
				   kms_frame_name(h->type), c->tls_why);
		else
			kms_errorf(e, "%s: %s frame: %s", c->name,
				   kms_frame_name(h->type), chan_strerror(ret));
		return ret;
	}
	if (c->mac_rx) {
		uint8_t tag[AUTH_TAG_LEN], want[AUTH_TAG_LEN];
		struct iovec iov[2] = {
			{ .iov_base = hdr, .iov_len = sizeof(hdr) },
			{ .iov_base = buf, .iov_len = h->len },
		};

		ret = chan_read(c, tag, sizeof(tag));
		if (ret) {
			if (ret == -EPIPE)
				ret = -ENODATA;
			kms_errorf(e, "%s: %s frame's MAC: %s", c->name,
				   kms_frame_name(h->type), chan_strerror(ret));
			return ret;
		}
		frame_mac_tag(c->mac_rx, iov, 2, want);
		if (!auth_equal(tag, want, sizeof(tag))) {
			kms_errorf(e, "%s: %s frame failed its MAC check (altered in transit, or not from the peer that authenticated)",
				   c->name, kms_frame_name(h->type));
			return -EBADMSG;
		}
	}
	return 0;
}

int chan_poll_in(struct chan *c, int timeout_ms)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	int n;

	/* Records GnuTLS already decrypted are not on the socket any more. */
	if (c->tls_records && tls_conn_pending(c->tls))
		return 1;
	n = poll(&p, 1, timeout_ms);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	return n > 0;
}
