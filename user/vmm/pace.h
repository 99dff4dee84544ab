/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Pacing a vCPU's writes to a rate: the guest reports pages written with
 * an OUT, the vCPU thread sleeps until the rate allows what was written.
 */
#ifndef KMIG_VMM_PACE_H
#define KMIG_VMM_PACE_H

#include <stdint.h>

struct pace {
	uint64_t rate;		/* bytes per second, 0 = unpaced */
	uint64_t t0_ns;		/* start of the current accounting period */
	uint64_t bytes;		/* written since t0_ns */
};

void pace_set_rate(struct pace *p, uint64_t bytes_per_sec);

/*
 * Accounts @bytes written at @now_ns; returns the time until which the
 * writer must sleep, or 0 when it may go on.
 */
uint64_t pace_account(struct pace *p, uint64_t bytes, uint64_t now_ns);

#endif /* KMIG_VMM_PACE_H */
