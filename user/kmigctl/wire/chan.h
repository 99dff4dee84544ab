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

struct tls_conn;
struct frame_mac;

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

	/*
	 * Security (secure.h): TLS, whose records are the kernel's (kTLS, and
	 * I/O on @fd stays plain) or GnuTLS's (@tls_records: every byte
	 * through @tls); and --auth-key's frame MACs, one per direction, set
	 * by the handshake once the peer has proved it has the key.
	 */
	struct tls_conn *tls;
	bool tls_records;
	struct frame_mac *mac_tx, *mac_rx;
	bool peer_auth;		/* the peer proved who it is (any way) */
	bool preamble_sent;	/* handshake.c: ours went out already */
	char tls_why[128];	/* the last TLS failure, for messages */
	char peer[80];		/* who is at the other end, for logs */
	char sec[64];		/* how, for the report: "auth-key", ... */
};

void chan_init(struct chan *c, int fd, const char *name, int stall_ms,
	       const atomic_int *stop);
/* Closes the socket and drops its security state. */
void chan_close(struct chan *c);
/*
 * Moves the connection, its security and its byte counts from @src (left
 * closed) into @dst under a new @name and @stop.
 */
void chan_take(struct chan *dst, struct chan *src, const char *name,
	       const atomic_int *stop);
/* TLS on the connection (secure.c, after the TLS handshake). */
void chan_set_tls(struct chan *c, struct tls_conn *t);
/* The frame MACs from now on (handshake.c, after the auth exchange). */
void chan_set_mac(struct chan *c, struct frame_mac *tx, struct frame_mac *rx);

/*
 * Waits until @fd is ready for @events, as the calls below do (stall
 * counted from @since_ns, the deadline, *stop). 0 or -errno.
 */
int chan_wait_ready(struct chan *c, short events, uint64_t since_ns);

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

/* Bytes on the wire of a frame with @len payload bytes (MAC included). */
static inline uint64_t chan_frame_bytes(const struct chan *c, uint32_t len)
{
	return KMS_FRAME_HDR_LEN + len + (c->mac_tx ? KMS_TAG_LEN : 0);
}

/* One frame: header + @len payload bytes from @payload. */
int chan_send(struct chan *c, uint32_t type, const void *payload,
	      uint32_t len);

/*
 * One frame whose payload is in @iov[1..@iovcnt): @iov[0] is the
 * header's slot (the call points it at its own), @iov[@iovcnt] a spare
 * slot for the MAC (the array holds @iovcnt + 1). @iov is consumed.
 */
int chan_send_framev(struct chan *c, uint32_t type, struct iovec *iov,
		     int iovcnt);

/*
 * Reads one frame into @buf (@cap bytes; the header's bounds are checked
 * before the payload is read, and a payload larger than @cap is refused).
 * With frame MACs, the MAC is checked before the call returns: a frame
 * that fails it is -EBADMSG and never reaches the caller.
 * Errors are described in @e, naming the channel.
 */
int chan_recv(struct chan *c, struct kms_frame_hdr *h, uint8_t *buf,
	      size_t cap, struct kms_error *e);

/* Waits up to @timeout_ms for something to read: 1, 0 on timeout, -errno. */
int chan_poll_in(struct chan *c, int timeout_ms);

/* Describes a chan_* error for a message ("peer closed the connection"). */
const char *chan_strerror(int err);

#endif /* KMIGCTL_CHAN_H */
