/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One migration channel: a connected stream socket carrying frames of the
 * kmig stream (stream.h). Reads and writes are whole or fail; none blocks
 * for ever: a peer that makes no progress for @stall_ms fails the call, so
 * does one still busy at @deadline_ns (a handshake sent a byte at a time
 * makes progress, but must still end), and another thread (or a signal
 * handler) can abandon it by setting *@stop.
 */
#ifndef KMIGCTL_CHAN_H
#define KMIGCTL_CHAN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "stream.h"

/* How often a blocked call looks at *stop. */
#define CHAN_TICK_MS	100

struct chan {
	int fd;
	char name[24];		/* "main channel", "data channel 3" */
	int stall_ms;		/* no progress for this long: -ETIMEDOUT */
	uint64_t deadline_ns;	/* CLOCK_MONOTONIC; 0: none. Past it: -ETIME */
	const atomic_int *stop;	/* optional: non-zero abandons I/O (-ESHUTDOWN) */
	atomic_uint_fast64_t bytes_out;
	atomic_uint_fast64_t bytes_in;
};

void chan_init(struct chan *c, int fd, const char *name, int stall_ms,
	       const atomic_int *stop);
void chan_close(struct chan *c);

/*
 * Writes all of @iov (modified as it goes; @iovcnt at most IOV_MAX).
 * Returns 0 or -errno: -EPIPE/-ECONNRESET the peer went away, -ETIMEDOUT,
 * -ETIME, -ESHUTDOWN.
 */
int chan_writev(struct chan *c, struct iovec *iov, int iovcnt);

/*
 * Reads exactly @len bytes. -EPIPE when the peer closed before the first
 * byte, -ENODATA when it closed part way (a truncated frame), -ECONNRESET
 * for a reset, -ETIMEDOUT, -ETIME, -ESHUTDOWN.
 */
int chan_read(struct chan *c, void *buf, size_t len);

/* One frame: header + @len payload bytes from @payload. */
int chan_send(struct chan *c, uint32_t type, const void *payload,
	      uint32_t len);

/*
 * Reads one frame into @buf (@cap bytes; the header's bounds are checked
 * before the payload is read, and a payload larger than @cap is refused).
 * Errors are described in @e, naming the channel.
 */
int chan_recv(struct chan *c, struct kms_frame_hdr *h, uint8_t *buf,
	      size_t cap, struct kms_error *e);

/* Waits up to @timeout_ms for something to read: 1, 0 on timeout, -errno. */
int chan_poll_in(struct chan *c, int timeout_ms);

/* Describes a chan_* error for a message ("peer closed the connection"). */
const char *chan_strerror(int err);

#endif /* KMIGCTL_CHAN_H */
