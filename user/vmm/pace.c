// SPDX-License-Identifier: GPL-2.0
/*
 * Pacing a vCPU's writes to a rate.
 */
#include "pace.h"
#include "util.h"

/*
 * Falling further behind than this (a pause, a migration's stop-and-copy,
 * a slow host) restarts the accounting instead of letting the guest burst
 * to catch up: a burst of dirtying is what pacing is there to prevent.
 */
#define PACE_MAX_LAG_NS		(100 * 1000 * 1000ULL)

void pace_set_rate(struct pace *p, uint64_t bytes_per_sec)
{
	p->rate = bytes_per_sec;
	p->t0_ns = 0;
	p->bytes = 0;
}

uint64_t pace_account(struct pace *p, uint64_t bytes, uint64_t now_ns)
{
	uint64_t due;

	if (!p->rate)
		return 0;
	if (!p->t0_ns) {
		p->t0_ns = now_ns;
		p->bytes = 0;
	}
	p->bytes += bytes;
	due = p->t0_ns + (uint64_t)((__uint128_t)p->bytes *
				    NSEC_PER_SEC / p->rate);
	if (due + PACE_MAX_LAG_NS < now_ns) {
		p->t0_ns = now_ns;
		p->bytes = 0;
		return 0;
	}
	return due > now_ns ? due : 0;
}
