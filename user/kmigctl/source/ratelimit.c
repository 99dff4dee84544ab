// SPDX-License-Identifier: GPL-2.0
/*
 * A token bucket with debt (ratelimit.h): a taker may overdraw the bucket
 * and then sleeps off the debt, so a frame larger than the burst still
 * goes, and the long-run rate is exactly the limit.
 */
#include "clock.h"
#include "ratelimit.h"

/*
 * A tenth of a second's worth, at least 256 KiB: idle time (between
 * rounds) earns at most that much of a burst. A frame larger than the
 * burst still goes, on debt.
 */
#define RATELIMIT_MIN_BURST	(256.0 * 1024)

void ratelimit_init(struct ratelimit *rl, uint64_t bytes_per_sec)
{
	pthread_mutex_init(&rl->lock, NULL);
	rl->rate = bytes_per_sec;
	rl->burst = bytes_per_sec / 10.0;
	if (rl->burst < RATELIMIT_MIN_BURST)
		rl->burst = RATELIMIT_MIN_BURST;
	/* Start empty: the first second already obeys the limit. */
	rl->tokens = 0;
	rl->last_ns = now_ns();
}

void ratelimit_destroy(struct ratelimit *rl)
{
	pthread_mutex_destroy(&rl->lock);
}

/* Refills the bucket, takes @bytes; the nanoseconds the debt lasts. */
static uint64_t ratelimit_debit(struct ratelimit *rl, uint64_t bytes,
				uint64_t now)
{
	uint64_t wait_ns;

	pthread_mutex_lock(&rl->lock);
	rl->tokens += (double)(now - rl->last_ns) * rl->rate / NSEC_PER_SEC;
	if (rl->tokens > rl->burst)
		rl->tokens = rl->burst;
	rl->last_ns = now;
	rl->tokens -= bytes;
	wait_ns = rl->tokens < 0 ?
		  (uint64_t)(-rl->tokens * NSEC_PER_SEC / rl->rate) : 0;
	pthread_mutex_unlock(&rl->lock);
	return wait_ns;
}

void ratelimit_charge(struct ratelimit *rl, uint64_t bytes)
{
	if (rl && rl->rate)
		ratelimit_debit(rl, bytes, now_ns());
}

void ratelimit_take(struct ratelimit *rl, uint64_t bytes,
		    const atomic_int *stop)
{
	uint64_t now, end;

	if (!rl || !rl->rate)
		return;

	now = now_ns();
	end = now + ratelimit_debit(rl, bytes, now);
	while ((now = now_ns()) < end) {
		if (stop && atomic_load(stop))
			return;
		sleep_ns(end - now < 50 * NSEC_PER_MSEC ? end - now :
							  50 * NSEC_PER_MSEC);
	}
}
