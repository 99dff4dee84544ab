/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The main channel once the handshake is done: every wait on it goes
 * through mainchan_recv(), and a keepalive thread sends a KEEPALIVE frame
 * every second, so that either side tells a silent peer (a hung process,
 * a partition that TCP does not see yet) from a busy one within
 * --peer-timeout seconds, whatever phase it is in.
 *
 * A wait ends on the first of: a frame (KEEPALIVEs are eaten), the step's
 * deadline, the peer's silence, the channel failing, an ABORT from the
 * peer, or the caller's check (a signal, a cancel, a data channel failing).
 */
#ifndef KMIGCTL_MAINCHAN_H
#define KMIGCTL_MAINCHAN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "chan.h"

#define MAINCHAN_KEEPALIVE_MS	1000

struct mainchan {
	struct chan *c;
	const char *peer;		/* "the source", "the destination" */
	int peer_timeout_ms;		/* silent this long: the peer is lost */
	pthread_mutex_t lock;		/* orders every write on @c */
	uint64_t last_rx_ns;		/* the last frame read (reader only) */

	pthread_t ka;
	bool ka_up;
	atomic_int ka_stop;
	/* The keepalive sleeps on @ka_cond: a stop wakes it at once. */
	pthread_mutex_t ka_lock;
	pthread_cond_t ka_cond;
	atomic_int ka_err;		/* the keepalive's send failed: -errno */
	/*
	 * KEEPALIVE bytes sent and read: the reports leave them out, so that
	 * what one side sent still equals what the other received, although
	 * the last keepalives may cross the end of the migration unread.
	 */
	atomic_uint_fast64_t ka_out;
	uint64_t ka_in;			/* reader only */
};

/*
 * The caller's own reasons to stop waiting, asked every tick: true ends
 * the wait with -ECANCELED (the caller has recorded why).
 */
typedef bool (*mainchan_check_fn)(void *arg);

void mainchan_init(struct mainchan *mc, struct chan *c, const char *peer,
		   int peer_timeout_ms);
/* Starts the keepalive thread (with the stop signals blocked in it). */
int mainchan_start_keepalive(struct mainchan *mc);
/* Stops and joins it; safe to call twice or when it never started. */
void mainchan_stop_keepalive(struct mainchan *mc);
void mainchan_destroy(struct mainchan *mc);

/* One frame, serialised with the keepalive and other writers. */
int mainchan_send(struct mainchan *mc, uint32_t type, const void *payload,
		  uint32_t len);

/*
 * The one wait for the peer's next frame (not a KEEPALIVE) into @buf, at
 * most @cap bytes. @what names it for messages ("READY"); @deadline_ns is
 * absolute (CLOCK_MONOTONIC), 0 for none (the peer's liveness still
 * bounds the wait), and the message counts it from the call.
 * Returns 0 with the frame in @h/@buf, or:
 *   -ETIME        the deadline passed
 *   -ENOLINK      the peer was silent for peer_timeout_ms
 *   -ECONNABORTED the peer sent ABORT (its reason in @e)
 *   -ECANCELED    @check said stop
 *   another -errno: the channel failed
 * Every error has its message in @e.
 */
int mainchan_recv(struct mainchan *mc, struct kms_frame_hdr *h, uint8_t *buf,
		  size_t cap, const char *what, uint64_t deadline_ns,
		  mainchan_check_fn check, void *arg, struct kms_error *e);

/*
 * Without waiting (but up to @wait_ms for a frame to arrive): 1 and the
 * frame when the peer sent one, 0 when it did not, -errno as above.
 */
int mainchan_poll(struct mainchan *mc, struct kms_frame_hdr *h, uint8_t *buf,
		  size_t cap, int wait_ms, struct kms_error *e);

/*
 * After another channel failed: did the peer say why (an ABORT within
 * @wait_ms)? 1 with its words in @e ("the source aborted the migration:
 * ..."), else 0; other frames are dropped, the migration is failing.
 */
int mainchan_peer_abort(struct mainchan *mc, int wait_ms, struct kms_error *e);

/*
 * The commit's waits give up in the protocol's order, MAINCHAN_STEP_ORDER_MS
 * apart: the source on READY first (@order -1), the destination on GO (0),
 * the source on the ACK last (1). Each wait starts only a little after the
 * one before it, and each side notices its deadline up to a wait tick
 * late, so with equal timeouts a frame lost in transit could end in either
 * side's words. In order, the side that waited for the lost frame always
 * gives its own verdict first ("no READY", "no GO", "outcome unknown").
 */
#define MAINCHAN_STEP_ORDER_MS	(2 * CHAN_TICK_MS)

static inline int mainchan_step_ms(int step_timeout_ms, int order)
{
	int m = MAINCHAN_STEP_ORDER_MS;

	if (step_timeout_ms <= 0)
		return step_timeout_ms;
	if (step_timeout_ms <= 4 * m)
		m = step_timeout_ms / 4;
	return step_timeout_ms + order * m;
}

#endif /* KMIGCTL_MAINCHAN_H */
