/* SPDX-License-Identifier: GPL-2.0 */
/*
 * CLOCK_MONOTONIC in nanoseconds, the one clock kmigctl measures with: the
 * report's times, deadlines and the rate limiter all use it.
 */
#ifndef KMIGCTL_CLOCK_H
#define KMIGCTL_CLOCK_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#define NSEC_PER_MSEC	1000000ULL
#define NSEC_PER_SEC	1000000000ULL

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

/* Sleeps @ns, resuming after signals (callers poll their own flags). */
static inline void sleep_ns(uint64_t ns)
{
	struct timespec ts = {
		.tv_sec = ns / NSEC_PER_SEC,
		.tv_nsec = ns % NSEC_PER_SEC,
	};

	while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts))
		;
}

/* A deadline @ms from now, for a wait; 0 (none) when @ms is not positive. */
static inline uint64_t deadline_after_ms(int64_t ms)
{
	return ms > 0 ? now_ns() + (uint64_t)ms * NSEC_PER_MSEC : 0;
}

/* A condition variable whose timed waits run on now_ns()'s clock. */
static inline void cond_init_monotonic(pthread_cond_t *c)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(c, &ca);
	pthread_condattr_destroy(&ca);
}

/*
 * pthread_cond_timedwait() on a cond_init_monotonic() variable until
 * @deadline_ns, a now_ns() time (deadline_after_ms()): 0 when woken,
 * ETIMEDOUT past it.
 */
static inline int cond_wait_until(pthread_cond_t *c, pthread_mutex_t *m,
				  uint64_t deadline_ns)
{
	struct timespec ts = {
		.tv_sec = deadline_ns / NSEC_PER_SEC,
		.tv_nsec = deadline_ns % NSEC_PER_SEC,
	};

	return pthread_cond_timedwait(c, m, &ts);
}

static inline double ns_to_ms(uint64_t ns)
{
	return ns / 1e6;
}

#endif /* KMIGCTL_CLOCK_H */
