// SPDX-License-Identifier: GPL-2.0
/*
 * The precopy convergence decision (policy.h), kept free of I/O so the unit
 * tests can drive it through every case.
 */
#include <math.h>
#include <stdio.h>

#include "policy.h"

/*
 * Below this a round's timing is mostly fixed costs (a sync, a few frames),
 * not bandwidth: keep the previous estimate.
 */
#define BANDWIDTH_MIN_BYTES	(256 * 1024)

double bandwidth_update(double prev, uint64_t bytes, uint64_t ns)
{
	if (bytes < BANDWIDTH_MIN_BYTES || !ns)
		return prev;
	return bytes * 1e9 / ns;
}

enum switchover_reason precopy_decide(const struct precopy_policy *p,
				      const struct precopy_state *s,
				      double *est_ms)
{
	double est;

	if (!s->remaining_bytes)
		est = 0;
	else if (s->bandwidth > 0)
		est = s->remaining_bytes * 1e3 / s->bandwidth;
	else
		est = INFINITY;
	*est_ms = est;

	if (est <= (double)p->downtime_limit_ms)
		return SWITCHOVER_CONVERGED;
	if (p->max_rounds != POLICY_NO_LIMIT && s->dirty_rounds >= p->max_rounds)
		return SWITCHOVER_MAX_ROUNDS;
	if (p->timeout_ms && s->elapsed_ms >= p->timeout_ms)
		return SWITCHOVER_TIMEOUT;
	return SWITCHOVER_NOT_YET;
}

enum switchover_reason postcopy_decide(const struct precopy_policy *p,
				       const struct precopy_state *s,
				       enum switchover_reason r, char *why,
				       size_t n)
{
	if (p->postcopy != POSTCOPY_OFF && s->postcopy_requested) {
		snprintf(why, n, "kmigctl postcopy-start");
		return SWITCHOVER_POSTCOPY;
	}
	switch (p->postcopy) {
	case POSTCOPY_OFF:
	case POSTCOPY_MANUAL:
		return r;
	case POSTCOPY_AFTER_BULK:
		snprintf(why, n, "--postcopy: after the bulk round");
		return SWITCHOVER_POSTCOPY;
	case POSTCOPY_AFTER_N:
		if (r == SWITCHOVER_CONVERGED || s->dirty_rounds < p->postcopy_after)
			break;
		snprintf(why, n, "--postcopy-after %u: after %u dirty rounds",
			 p->postcopy_after, s->dirty_rounds);
		return SWITCHOVER_POSTCOPY;
	case POSTCOPY_AUTO:
		if (r == SWITCHOVER_CONVERGED || s->slow_rounds < POLICY_SLOW_ROUNDS)
			break;
		snprintf(why, n, "precopy cannot converge: the guest dirtied %.1f MiB/s, at least %.0f%% of the %.1f MiB/s bandwidth, for %u rounds in a row",
			 s->dirty_rate / (1 << 20), POLICY_SLOW_SHARE * 100,
			 s->bandwidth / (1 << 20), s->slow_rounds);
		return SWITCHOVER_NOT_CONVERGING;
	}
	/* A forced switchover becomes postcopy: no unbounded downtime. */
	if (r == SWITCHOVER_MAX_ROUNDS || r == SWITCHOVER_TIMEOUT) {
		snprintf(why, n, "%s reached", r == SWITCHOVER_MAX_ROUNDS ?
			 "--max-rounds" : "--timeout");
		return SWITCHOVER_POSTCOPY;
	}
	return r;
}

const char *switchover_reason_name(enum switchover_reason r)
{
	switch (r) {
	case SWITCHOVER_POSTCOPY:
		return "postcopy";
	case SWITCHOVER_NOT_CONVERGING:
		return "not-converging";
	case SWITCHOVER_CONVERGED:
		return "converged";
	case SWITCHOVER_MAX_ROUNDS:
		return "max-rounds";
	case SWITCHOVER_TIMEOUT:
		return "timeout";
	default:
		return "none";
	}
}
