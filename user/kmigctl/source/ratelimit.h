/* SPDX-License-Identifier: GPL-2.0 */
/*
 * --max-bandwidth: one token bucket shared by every channel, so the limit
 * holds for the migration as a whole however many channels carry it.
 */
#ifndef KMIGCTL_RATELIMIT_H
#define KMIGCTL_RATELIMIT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

struct ratelimit {
	pthread_mutex_t lock;
	uint64_t rate;		/* bytes per second; 0: unlimited */
	double tokens;		/* bytes that may go now; negative: debt */
	double burst;		/* the most tokens that pile up */
	uint64_t last_ns;	/* when tokens were last refilled */
};

void ratelimit_init(struct ratelimit *rl, uint64_t bytes_per_sec);
void ratelimit_destroy(struct ratelimit *rl);

/*
 * Takes @bytes from the bucket, sleeping until the rate allows them (in
 * short slices, returning early once *@stop is set). Sending first and
 * paying after keeps each sender's wait proportional to its own frame.
 */
void ratelimit_take(struct ratelimit *rl, uint64_t bytes,
		    const atomic_int *stop);

/*
 * Takes @bytes from the bucket without waiting: pages a faulting guest
 * waits for go at once, and the debt delays the next ratelimit_take()
 * instead, so the limit still holds for the whole migration.
 */
void ratelimit_charge(struct ratelimit *rl, uint64_t bytes);

#endif /* KMIGCTL_RATELIMIT_H */
