/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Opening a channel: both sides send the preamble (magic and stream
 * version), the source its HELLO, the destination ACCEPT or REJECT with a
 * reason. The preamble and REJECT never change between stream versions,
 * so peers of different versions always learn why they cannot talk.
 */
#ifndef KMIGCTL_HANDSHAKE_H
#define KMIGCTL_HANDSHAKE_H

#include "chan.h"
#include "stream.h"

/*
 * Source side. Sends the preamble with @version (KMS_VERSION but for
 * tests) and @h, then reads the answer. Returns 0 when accepted; otherwise
 * -errno with the reason in @e: a rejection reads "the destination
 * rejected the migration: ...".
 */
int handshake_connect(struct chan *c, uint32_t version,
		      const struct kms_hello *h, struct kms_error *e);

/*
 * Destination side, first half: reads the preamble and a HELLO into @h.
 * On error the peer has already been sent a REJECT with the reason, which
 * is also in @e.
 */
int handshake_read_hello(struct chan *c, struct kms_hello *h,
			 struct kms_error *e);

/* Destination side, second half: ACCEPT, or REJECT with @reason. */
int handshake_accept(struct chan *c);
int handshake_reject(struct chan *c, const char *reason);

/* An ABORT frame with @reason (best effort, for failure paths). */
int handshake_abort(struct chan *c, const char *reason);

#endif /* KMIGCTL_HANDSHAKE_H */
