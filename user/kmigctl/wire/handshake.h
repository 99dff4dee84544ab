/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Opening a channel: both sides send the preamble (magic, stream version,
 * flags), the source its HELLO, the destination ACCEPT or REJECT with a
 * reason. With --auth-key the AUTH_* exchange comes between preamble and
 * HELLO (auth.h), and every frame after it carries a MAC. The preamble and
 * REJECT never change between stream versions, so peers of different
 * versions always learn why they cannot talk.
 *
 * A REJECT tells an authenticated peer (TLS, --auth-key, a trusted unix
 * peer) why; anyone else learns only that it was refused, never this
 * destination's RAM layout or what it waits for: the reason is in the
 * destination's own log.
 */
#ifndef KMIGCTL_HANDSHAKE_H
#define KMIGCTL_HANDSHAKE_H

#include "chan.h"
#include "stream.h"

struct sec;

/*
 * Source side. Sends the preamble with @version (KMS_VERSION but for
 * tests), authenticates with @s's key if it has one, sends @h and reads
 * the answer. Returns 0 when accepted; otherwise -errno with the reason in
 * @e: a rejection reads "the destination rejected the migration: ...",
 * a destination that cannot prove it holds the key is -EACCES.
 */
int handshake_connect(struct chan *c, uint32_t version,
		      const struct kms_hello *h, const struct sec *s,
		      struct kms_error *e);

/*
 * Destination side, first half: reads the preamble, runs the auth
 * exchange if @s has a key (a source without it, or with another key, is
 * refused: -EACCES), and reads a HELLO into @h. On error the peer has
 * already been sent a REJECT, and the reason is in @e.
 */
int handshake_read_hello(struct chan *c, const struct sec *s,
			 struct kms_hello *h, struct kms_error *e);

/* Destination side, second half: ACCEPT, or REJECT with @reason. */
int handshake_accept(struct chan *c);
int handshake_reject(struct chan *c, const char *reason);
/* A REJECT whose reason anyone may read (versions, security modes). */
int handshake_reject_public(struct chan *c, const char *reason);

/* An ABORT frame with @reason (best effort, for failure paths). */
int handshake_abort(struct chan *c, const char *reason);

#endif /* KMIGCTL_HANDSHAKE_H */
