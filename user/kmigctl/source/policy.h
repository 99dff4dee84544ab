/* SPDX-License-Identifier: GPL-2.0 */
/*
 * When precopy stops and the switchover starts: the estimated downtime
 * (remaining dirty bytes / measured bandwidth) under --downtime-limit, or
 * --max-rounds dirty rounds done, or --timeout reached.
 */
#ifndef KMIGCTL_POLICY_H
#define KMIGCTL_POLICY_H

#include <stdint.h>

#define POLICY_NO_LIMIT		UINT32_MAX	/* --max-rounds not given */

enum switchover_reason {
	SWITCHOVER_NOT_YET = 0,
	SWITCHOVER_CONVERGED,	/* estimated downtime under the limit */
	SWITCHOVER_MAX_ROUNDS,	/* --max-rounds dirty rounds done */
	SWITCHOVER_TIMEOUT,	/* --timeout elapsed */
};

struct precopy_policy {
	uint64_t downtime_limit_ms;
	uint32_t max_rounds;	/* dirty rounds after the bulk round */
	uint64_t timeout_ms;	/* 0: none */
};

/* Where precopy stands after a round and the sync that followed it. */
struct precopy_state {
	uint32_t dirty_rounds;	/* rounds done after the bulk round */
	uint64_t elapsed_ms;	/* since the migration started */
	uint64_t remaining_bytes; /* dirty pages now x page size */
	double bandwidth;	/* bytes/s measured; 0: unknown */
};

/*
 * The decision, and the estimated downtime in ms (infinite while the
 * bandwidth is unknown and something remains).
 */
enum switchover_reason precopy_decide(const struct precopy_policy *p,
				      const struct precopy_state *s,
				      double *est_ms);

/* "converged", "max-rounds", "timeout"; "none" before a decision. */
const char *switchover_reason_name(enum switchover_reason r);

/*
 * The bandwidth estimate after a round that sent @bytes in @ns: that
 * round's rate when it moved enough data to be a measurement, else the
 * previous estimate @prev.
 */
double bandwidth_update(double prev, uint64_t bytes, uint64_t ns);

#endif /* KMIGCTL_POLICY_H */
