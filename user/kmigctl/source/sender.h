/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The source's data plane: one thread per kmig worker ring drains records
 * and page data into RAM frames on the data channels, picking channels
 * fairly (round robin, skipping busy ones), under the shared rate limit.
 * The main thread runs the rounds.
 */
#ifndef KMIGCTL_SENDER_H
#define KMIGCTL_SENDER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "libkmig.h"
#include "chan.h"
#include "ratelimit.h"

/* Records per RAM frame the source builds: 1 MiB of pages at most. */
#define SENDER_BATCH		256
/*
 * How long a drain thread waits in KMIG_RING_WAIT before looking around.
 * A record wakes it at once; the timeout only bounds how long a stop
 * (sender_destroy(), after the migration) waits for the thread: 100 ms
 * there was most of kmigctl's teardown.
 */
#define SENDER_WAIT_MS		10

struct sender {
	int kfd;			/* the kmig session */
	uint32_t nr_rings;
	struct kmig_ring *rings;
	uint32_t nr_chans;
	struct chan *chans;		/* the data channels (1..nr_chans) */
	pthread_mutex_t *chan_locks;
	atomic_uint next_chan;		/* round-robin cursor */
	struct ratelimit *rl;		/* NULL: unlimited */
	pthread_t *threads;
	uint32_t nr_threads;		/* started */

	pthread_mutex_t lock;		/* protects what follows, to @msg */
	pthread_cond_t cond;
	uint32_t rings_done;		/* rings past this round's ROUND_END */
	int error;			/* first failure, -errno */
	char msg[256];

	atomic_int stop;		/* drain threads: exit */
	atomic_int failed;		/* discard records, abandon channel I/O */
	atomic_int cancelled;		/* the kernel said -ECANCELED */
	atomic_uint_fast64_t pages_done; /* pages the rings handed over */
	/*
	 * Pages a ZSTD record may carry: 1, or KMS_ZSTD_RUN_MAX when the
	 * HELLO announced KMS_F_ZSTD_RUN (set after sender_init()).
	 */
	uint32_t zstd_run_max;
};

/*
 * Starts a drain thread per ring. @chans are connected and handshaken;
 * their stop flag must be &s->failed (sender_init() sets it). Returns 0 or
 * -errno.
 */
int sender_init(struct sender *s, int kfd, struct kmig_ring *rings,
		uint32_t nr_rings, struct chan *chans, uint32_t nr_chans,
		struct ratelimit *rl);
int sender_start(struct sender *s);

/*
 * One round: KMIG_SEND_ROUND, then waits until every ring passed its
 * ROUND_END and puts a SYNC(round) on every data channel. @out gets the
 * kernel's counters. Returns 0, the kernel's -errno (-ECANCELED, -EINTR),
 * or the first channel failure (sender_error() says what).
 */
int sender_round(struct sender *s, struct kmig_send_round *out);

/* END on every data channel: nothing more follows. */
int sender_end(struct sender *s);

/* Records a failure (the first one wins) and abandons channel I/O. */
void sender_fail(struct sender *s, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The first failure, -errno (0: none); its message in @msg. */
int sender_error(struct sender *s, char *msg, size_t n);

uint64_t sender_bytes(struct sender *s);

/* Stops and joins the drain threads; frees what sender_init() took. */
void sender_destroy(struct sender *s);

#endif /* KMIGCTL_SENDER_H */
