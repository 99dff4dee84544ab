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

#include "chan.h"
#include "clock.h"

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
}

void chan_close(struct chan *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/*
 * Waits for @events; 0 when ready, -ETIMEDOUT after a stall, -ETIME past
 * the deadline, -ESHUTDOWN.
 */
static int chan_wait(struct chan *c, short events, uint64_t since)
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

int chan_writev(struct chan *c, struct iovec *iov, int iovcnt)
{
	uint64_t progress = now_ns();

	while (iovcnt > 0) {
		struct msghdr m = { .msg_iov = iov, .msg_iovlen = iovcnt };
		ssize_t n;

		/* MSG_NOSIGNAL: a closed peer is -EPIPE here, not SIGPIPE. */
		n = sendmsg(c->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			int ret;

			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -errno;
			ret = chan_wait(c, POLLOUT, progress);
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
		ssize_t n = recv(c->fd, (char *)buf + got, len - got,
				 MSG_DONTWAIT);

		if (n == 0)
			return got ? -ENODATA : -EPIPE;
		if (n < 0) {
			int ret;

			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -errno;
			ret = chan_wait(c, POLLIN, progress);
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

int chan_send(struct chan *c, uint32_t type, const void *payload,
	      uint32_t len)
{
	uint8_t hdr[KMS_FRAME_HDR_LEN];
	struct iovec iov[2] = {
		{ .iov_base = hdr, .iov_len = sizeof(hdr) },
		{ .iov_base = (void *)payload, .iov_len = len },
	};

	kms_frame_hdr_encode(hdr, type, len);
	return chan_writev(c, iov, len ? 2 : 1);
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
		kms_errorf(e, "%s: %s", c->name,
			 chan_strerror(ret));
		return ret;
	}
	ret = kms_frame_hdr_decode(hdr, h, &fe);
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
		kms_errorf(e, "%s: %s frame: %s", c->name,
			 kms_frame_name(h->type), chan_strerror(ret));
		return ret;
	}
	return 0;
}

int chan_poll_in(struct chan *c, int timeout_ms)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	int n = poll(&p, 1, timeout_ms);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	return n > 0;
}
