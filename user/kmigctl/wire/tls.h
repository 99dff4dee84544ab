/* SPDX-License-Identifier: GPL-2.0 */
/*
 * TLS 1.3 on a migration channel, with GnuTLS: x509 (QEMU's --tls-creds
 * directory layout, both sides verified against ca-cert.pem) or an
 * external PSK (psktool's file format, psk_dhe_ke only: forward secrecy).
 * After the handshake the record layer moves into the kernel (kTLS: the
 * traffic keys and sequence numbers from gnutls_record_get_state() go into
 * setsockopt(SOL_TLS, TLS_TX/TLS_RX)) where tls.ko is there; otherwise
 * GnuTLS keeps it, through tls_conn_sendv() and tls_conn_recv().
 *
 * All socket I/O is MSG_DONTWAIT; the caller's wait function decides how
 * long to wait (deadlines, stalls, a stop flag), so nothing here blocks.
 */
#ifndef KMIGCTL_TLS_H
#define KMIGCTL_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

enum tls_role { TLS_CLIENT, TLS_SERVER };	/* client: the source (kmigctl migrate) */

struct tls_opts {
	/*
	 * x509, QEMU's layout: ca-cert.pem; server-cert.pem + server-key.pem
	 * (server); client-cert.pem + client-key.pem (client). Both sides
	 * verify the peer's chain against ca-cert.pem: the server REQUIRES a
	 * client certificate.
	 */
	const char *creds_dir;
	/* psktool's format, lines "identity:hexkey"; the client uses the first line */
	const char *psk_file;
	/* client, x509: the name the server's certificate must carry (DNS or IP SAN) */
	const char *hostname;
	bool no_ktls;		/* keep GnuTLS's record layer even where kTLS works */
	/*
	 * NULL: AES-128-GCM, AES-256-GCM and CHACHA20-POLY1305, in that
	 * order; else one of them (GnuTLS's name), e.g. for tests.
	 */
	const char *cipher;
};

/* Loaded once per command, shared by all channels (read-only after load). */
struct tls_creds;

/*
 * Exactly one of @o->creds_dir and @o->psk_file set. Returns 0 or -errno
 * with the reason in @err, naming the file that is missing, unreadable or
 * bad (-ENOENT, -EACCES, -EINVAL).
 */
int tls_creds_load(struct tls_creds **out, enum tls_role role,
		   const struct tls_opts *o, char *err, size_t errlen);
void tls_creds_free(struct tls_creds *cr);
const char *tls_creds_mode(const struct tls_creds *cr);	/* "x509" or "psk" */

/*
 * Waits until the fd is ready for @events (POLLIN/POLLOUT); 0 to go on,
 * -errno to abandon (deadline, stall, stop flag: the channel layer decides).
 */
typedef int (*tls_wait_fn)(void *arg, short events);

struct tls_conn;

/*
 * TLS 1.3 only, handshake on the connected stream socket @fd (blocking or
 * not: all I/O is MSG_DONTWAIT, and @wait is called on EAGAIN). Then hands
 * the record layer to the kernel unless the creds say no_ktls or it cannot
 * (tls_conn_ktls_why_not()). Returns 0, or -errno with a one-line reason
 * in @err: -EACCES for authentication failures ("the peer's certificate is
 * not signed by ca-cert.pem", "certificate name does not match HOST",
 * "unknown PSK identity / wrong key", "the peer refused our certificate"),
 * -EPROTO for protocol failures ("the peer does not speak TLS"), -EPIPE
 * or -ECONNRESET when the peer went away, and @wait's own error unchanged.
 *
 * TLS 1.3 lets the client finish before the server has checked the
 * client's certificate: a server that refuses it does so with an alert,
 * which the client sees on its first read (-EACCES, tls_conn_error()).
 */
int tls_handshake(const struct tls_creds *cr, int fd, tls_wait_fn wait,
		  void *arg, struct tls_conn **out, char *err, size_t errlen);

/*
 * true: the kernel does the record layer now: plain sendmsg/recv/poll on
 * the fd from here on (tls_conn_sendv/recv are then never called). A
 * non-data record (an alert) makes recv() fail with EIO then:
 * tls_ktls_read_alert() says what it was.
 */
bool tls_conn_ktls(const struct tls_conn *t);

/*
 * Userspace record layer (kTLS off or unavailable). Like sendmsg/recv
 * with MSG_DONTWAIT: bytes moved (send may be partial), 0 = EOF on recv
 * (close_notify, or the TCP connection closed, as with kTLS), -EAGAIN
 * (then wait for tls_conn_wants()), other -errno: -EPROTO for a bad
 * record (bad MAC, etc.), -EACCES for an authentication alert from the
 * peer, -EPIPE/-ECONNRESET from the socket; tls_conn_error() describes
 * the last one. After -EAGAIN from tls_conn_sendv() its next call must
 * start with the same bytes (the record is already encrypted, and is
 * counted as moved only once it is out).
 *
 * One thread may send while another receives on the same conn: GnuTLS
 * allows one sender and one receiver on a session, and nothing here makes
 * a receive write or a send read (no tickets, no post-handshake auth, no
 * automatic key update; a KeyUpdate from the peer is answered by the next
 * send).
 */
ssize_t tls_conn_sendv(struct tls_conn *t, const struct iovec *iov,
		       int iovcnt);
ssize_t tls_conn_recv(struct tls_conn *t, void *buf, size_t len);

/* After -EAGAIN: POLLOUT for a send, POLLIN for a receive. */
short tls_conn_wants(const struct tls_conn *t, bool sending);

/* Plaintext already decrypted and buffered (poll on the fd would not show it). */
bool tls_conn_pending(struct tls_conn *t);

/* For the report/log: e.g. "TLS1.3 AES-128-GCM x509 (kTLS)" / "... psk (GnuTLS records)". */
const char *tls_conn_describe(const struct tls_conn *t);

/* Why kTLS was not used, or NULL if it is ("tls.ko not loaded", ...). */
const char *tls_conn_ktls_why_not(const struct tls_conn *t);

/* The reason for the last error of tls_conn_sendv/recv ("" if none). */
const char *tls_conn_error(const struct tls_conn *t);

/*
 * kTLS only: recv() on @fd failed with EIO, which 6.1 returns for a
 * record that is not application data. Reads that record and returns
 * -EACCES (an authentication alert), -EPROTO (another alert or record) or
 * 0 (close_notify: the peer's orderly end), with the reason in @err.
 */
int tls_ktls_read_alert(int fd, char *err, size_t errlen);

void tls_conn_free(struct tls_conn *t);	/* no close_notify; does not close the fd */

#endif /* KMIGCTL_TLS_H */
