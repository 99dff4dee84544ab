/* SPDX-License-Identifier: GPL-2.0 */
/*
 * When precopy stops and the switchover starts: the estimated downtime
 * (remaining dirty bytes / measured bandwidth) under --downtime-limit, or
 * --max-rounds dirty rounds done, or --timeout reached.
 */
#ifndef KMIGCTL_POLICY_H
#define KMIGCTL_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define POLICY_NO_LIMIT		UINT32_MAX	/* --max-rounds not given */

enum switchover_reason {
	SWITCHOVER_NOT_YET = 0,
	SWITCHOVER_CONVERGED,	/* estimated downtime under the limit */
	SWITCHOVER_MAX_ROUNDS,	/* --max-rounds dirty rounds done */
	SWITCHOVER_TIMEOUT,	/* --timeout elapsed */
	SWITCHOVER_POSTCOPY,	/* postcopy: --postcopy, --postcopy-after N */
	SWITCHOVER_NOT_CONVERGING, /* postcopy: --postcopy auto saw why */
};

/* When precopy hands over to postcopy (--postcopy ...). */
enum postcopy_mode {
	POSTCOPY_OFF = 0,
	POSTCOPY_AFTER_BULK,	/* --postcopy: right after the bulk round */
	POSTCOPY_AFTER_N,	/* --postcopy-after N dirty rounds */
	POSTCOPY_AUTO,		/* --postcopy auto: when precopy cannot converge */
	POSTCOPY_MANUAL,	/* --postcopy manual: at `kmigctl postcopy-start` */
};

/*
 * --postcopy auto: precopy cannot converge once the guest dirties at
 * least this share of the bandwidth for this many dirty rounds in a row.
 */
#define POLICY_SLOW_SHARE	0.8
#define POLICY_SLOW_ROUNDS	3

struct precopy_policy {
	uint64_t downtime_limit_ms;
	uint32_t max_rounds;	/* dirty rounds after the bulk round */
	uint64_t timeout_ms;	/* 0: none */
	enum postcopy_mode postcopy;
	uint32_t postcopy_after;	/* POSTCOPY_AFTER_N */
};

/* Where precopy stands after a round and the sync that followed it. */
struct precopy_state {
	uint32_t dirty_rounds;	/* rounds done after the bulk round */
	uint64_t elapsed_ms;	/* since the migration started */
	uint64_t remaining_bytes; /* dirty pages now x page size */
	double bandwidth;	/* bytes/s measured; 0: unknown */
	double dirty_rate;	/* bytes/s dirtied during the last round */
	uint32_t slow_rounds;	/* dirty rounds in a row that dirtied at
				 * least POLICY_SLOW_SHARE of @bandwidth */
	bool postcopy_requested; /* `kmigctl postcopy-start` asked for it */
};

/*
 * The decision, and the estimated downtime in ms (infinite while the
 * bandwidth is unknown and something remains).
 */
enum switchover_reason precopy_decide(const struct precopy_policy *p,
				      const struct precopy_state *s,
				      double *est_ms);

/*
 * With postcopy on: whether precopy's decision @r (or its absence) turns
 * into a postcopy switch at this point: SWITCHOVER_POSTCOPY or
 * SWITCHOVER_NOT_CONVERGING with the reason in @why, else @r unchanged.
 * A precopy that converged switches over as precopy, except at
 * --postcopy's point and at `kmigctl postcopy-start` (in any postcopy
 * mode), which are asked for explicitly. --postcopy manual is precopy
 * alone until then.
 */
enum switchover_reason postcopy_decide(const struct precopy_policy *p,
				       const struct precopy_state *s,
				       enum switchover_reason r, char *why,
				       size_t n);

/* "converged", "max-rounds", "timeout", "postcopy", "not-converging"; "none". */
const char *switchover_reason_name(enum switchover_reason r);

/*
 * The bandwidth estimate after a round that sent @bytes in @ns: that
 * round's rate when it moved enough data to be a measurement, else the
 * previous estimate @prev.
 */
double bandwidth_update(double prev, uint64_t bytes, uint64_t ns);

#endif /* KMIGCTL_POLICY_H */
