// SPDX-License-Identifier: GPL-2.0
/*
 * Precopy: the bulk round, then dirty rounds until the policy (policy.c)
 * says switch over. Also the pieces the switchover shares: a sync, a
 * round, and a look at the main channel for the destination's ABORT.
 *
 * After every round precopy also reads its own session's
 * KMIG_A_SESSION_POSTCOPY_REQUESTED (one netlink dump of that session):
 * `kmigctl postcopy-start` switches any --postcopy mode to postcopy.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "genl.h"
#include "handshake.h"
#include "migrate.h"
#include "session.h"
#include "signals.h"

struct round_stat *migration_add_round(struct migration *m)
{
	struct round_stat *rs;

	rs = realloc(m->rep.rounds, (m->rep.nr_rounds + 1) * sizeof(*rs));
	if (!rs)
		return NULL;
	m->rep.rounds = rs;
	rs = &m->rep.rounds[m->rep.nr_rounds++];
	memset(rs, 0, sizeof(*rs));
	rs->dirty_rate = NAN;
	return rs;
}

static bool migration_recv_check(void *arg)
{
	struct migration *m = arg;

	/* Before GO a cancel fails us; after it, only a signal ends the wait. */
	if (!migration_cancelled(m))
		return false;
	migration_fail_cancelled(m);
	return true;
}

int migration_recv(struct migration *m, struct kms_frame_hdr *h, uint8_t *buf,
		   size_t cap, const char *what, int timeout_ms)
{
	struct kms_error e;
	int ret;

	ret = mainchan_recv(&m->mc, h, buf, cap, what,
			    deadline_after_ms(timeout_ms), migration_recv_check,
			    m, &e);
	if (ret == -ECANCELED)	/* the check failed us already */
		return -1;
	if (ret)
		return migration_fail(m, "failed", "%s", e.msg);
	return 0;
}

int migration_peer_abort(struct migration *m, int wait_ms)
{
	struct kms_error e;

	if (!m->mc_up || !mainchan_peer_abort(&m->mc, wait_ms, &e))
		return 0;
	return migration_fail(m, "failed", "%s", e.msg);
}

/* The destination closed or aborted while we were not looking. */
static int migration_check_peer(struct migration *m)
{
	uint8_t buf[KMS_MAX_REASON];
	struct kms_frame_hdr h;
	struct kms_error e;
	int ret;

	ret = mainchan_poll(&m->mc, &h, buf, sizeof(buf), 0, &e);
	if (!ret)
		return 0;
	if (ret < 0)
		return migration_fail(m, "failed", "%s", e.msg);
	return migration_fail(m, "failed",
			      "main channel: %s frame from the destination during precopy",
			      kms_frame_name(h.type));
}

int migration_sync(struct migration *m, struct kmig_dirty_sync *sy)
{
	uint64_t t = now_ns();
	int ret;

	do {
		ret = kmig_dirty_sync(m->kfd, sy);
	} while (ret == -EAGAIN || (ret == -EINTR && !kmigctl_stop_signal));
	/* The switchover's own sync is in its downtime_parts_ms. */
	if (m->state == SRC_PRECOPY) {
		m->rep.phases.syncs += now_ns() - t;
		m->rep.phases.nr_syncs++;
	}
	if (ret == -ECANCELED || (ret == -EINTR && kmigctl_stop_signal))
		return migration_fail_cancelled(m);
	if (ret < 0)
		return migration_fail(m, "failed", "KMIG_DIRTY_SYNC: %s",
				      kmig_strerror(ret));
	/* The stream announced a layout; a new one cannot be followed. */
	if (sy->out_flags & KMIG_SYNC_MEMSLOTS_CHANGED)
		return migration_fail(m, "failed",
				      "the VM's memory layout changed during the migration");
	return 0;
}

/*
 * Waits for the destination's LOADED(@round): everything sent so far is in
 * its VM. Until then data may sit in socket buffers, and a switchover
 * would have to wait for it with the VM paused.
 */
static int migration_wait_loaded(struct migration *m, uint32_t round)
{
	uint8_t buf[KMS_MAX_REASON];
	struct kms_frame_hdr h;
	struct kms_error e;
	char what[32];
	uint32_t got;

	snprintf(what, sizeof(what), "LOADED(%u)", round);
	if (migration_recv(m, &h, buf, sizeof(buf), what, m->o.step_timeout_ms))
		return -1;
	if (h.type != KMS_LOADED || kms_sync_decode(buf, h.len, &got, &e) ||
	    got != round)
		return migration_fail(m, "failed",
				      "main channel: %s frame where %s was due",
				      kms_frame_name(h.type), what);
	return 0;
}

int migration_round(struct migration *m, enum progress_phase phase,
		    uint64_t pages, struct round_stat **out)
{
	char msg[256];
	struct kmig_send_round sr;
	struct round_stat *rs;
	uint64_t t0, bytes0;
	int ret;

	rs = migration_add_round(m);
	if (!rs)
		return migration_fail(m, "failed", "out of memory");
	progress_round(&m->prog, phase, m->rep.nr_rounds, pages);
	if (m->log_rounds)
		fprintf(stderr, "kmig: migrate: round %u (%s): %llu pages\n",
			m->rep.nr_rounds, phase == PHASE_BULK ? "bulk" :
			phase == PHASE_DIRTY ? "dirty" :
			phase == PHASE_POSTCOPY ? "postcopy" : "final",
			(unsigned long long)pages);
	t0 = now_ns();
	bytes0 = sender_bytes(&m->s);
	ret = sender_round(&m->s, &sr);
	/* The final round's load overlaps the device state's transfer. */
	if (!ret && phase != PHASE_SWITCHOVER && migration_wait_loaded(m, sr.round))
		return -1;

	rs->round = sr.round;
	rs->bulk = phase == PHASE_BULK;
	rs->final = phase == PHASE_SWITCHOVER;
	rs->postcopy = phase == PHASE_POSTCOPY;
	rs->pages = sr.pages;
	rs->normal = sr.normal;
	rs->zero = sr.zero;
	rs->hole = sr.hole;
	rs->compressed = sr.compressed;
	rs->page_bytes = sr.bytes;
	rs->bytes = sender_bytes(&m->s) - bytes0;
	rs->ns = now_ns() - t0;
	rs->scan_ns = sr.scan_ns;
	if (phase != PHASE_SWITCHOVER)
		m->rep.phases.rounds += rs->ns;
	m->rep.normal += sr.normal;
	m->rep.zero += sr.zero;
	m->rep.hole += sr.hole;
	m->rep.zstd.compressed += sr.compressed;
	m->rep.zstd.data_bytes += sr.bytes;
	*out = rs;

	if (!ret)
		return 0;
	if (sender_error(&m->s, msg, sizeof(msg))) {
		/* The destination's own words beat "connection reset". */
		if (migration_peer_abort(m, 500))
			return -1;
		return migration_fail(m, "failed", "%s", msg);
	}
	if (ret == -ECANCELED || (ret == -EINTR && kmigctl_stop_signal))
		return migration_fail_cancelled(m);
	return migration_fail(m, "failed", "KMIG_SEND_ROUND: %s",
			      kmig_strerror(ret));
}

/* The netlink socket precopy polls its session's postcopy request on. */
struct postcopy_poll {
	struct kmig_genl g;
	bool open;		/* false: could not open, poll no more */
	bool warned;		/* the request could not be honoured */
};

/*
 * Whether `kmigctl postcopy-start` asked this session for postcopy. Quiet
 * on errors (the request is then missed, precopy goes on); without any
 * --postcopy option warns once that it cannot be honoured.
 */
static bool postcopy_poll(struct migration *m, struct postcopy_poll *pp)
{
	struct kmig_session_stats s;

	if (!pp->open || pp->warned)
		return false;
	if (session_dump_one(&pp->g, m->rep.kmig_session, &s) != 1 ||
	    !SESSION_HAS(&s, KMIG_A_SESSION_POSTCOPY_REQUESTED) ||
	    !s.postcopy_requested)
		return false;
	if (m->o.policy.postcopy != POSTCOPY_OFF)
		return true;
	fprintf(stderr, "kmig: migrate: postcopy-start requested, but this migration has no postcopy channels (no --postcopy option): going on with precopy\n");
	pp->warned = true;
	return false;
}

static int precopy_loop(struct migration *m, struct postcopy_poll *pp,
			enum switchover_reason *why)
{
	struct precopy_state st = { 0 };
	struct kmig_dirty_sync sy;
	struct round_stat *rs;
	uint64_t t_sync, now;
	uint32_t done = 0;
	double bw = 0;

	/* The first sync after KMIG_DIRTY_START holds every page: the bulk. */
	if (migration_sync(m, &sy))
		return -1;
	t_sync = now_ns();
	for (;;) {
		if (migration_round(m, done ? PHASE_DIRTY : PHASE_BULK,
				    sy.dirty_pages, &rs))
			return -1;
		/*
		 * In the units of the remaining bytes (pages of 4096): what
		 * compression saved counts as sent, else a compressed round
		 * would look slow and the downtime estimate high.
		 */
		bw = bandwidth_update(bw, rs->bytes + rs->normal * KMS_PAGE_SIZE -
				      rs->page_bytes, rs->ns);
		if (migration_sync(m, &sy))
			return -1;
		now = now_ns();
		/* What the guest dirtied from the last sync to this one. */
		rs->dirty_rate = now > t_sync ? sy.dirty_pages * (double)KMS_PAGE_SIZE *
						1e9 / (now - t_sync) : NAN;
		t_sync = now;
		done++;

		if (migration_cancelled(m))
			return migration_fail_cancelled(m);
		if (migration_check_peer(m))
			return -1;

		st.dirty_rounds = done - 1;
		st.elapsed_ms = (now - m->start_ns) / NSEC_PER_MSEC;
		st.remaining_bytes = sy.dirty_pages * KMS_PAGE_SIZE;
		st.bandwidth = bw;
		st.dirty_rate = isnan(rs->dirty_rate) ? 0 : rs->dirty_rate;
		if (done > 1 && bw > 0 && st.dirty_rate >= POLICY_SLOW_SHARE * bw)
			st.slow_rounds++;
		else
			st.slow_rounds = 0;
		st.postcopy_requested = postcopy_poll(m, pp);
		*why = precopy_decide(&m->o.policy, &st, &m->rep.est_downtime_ms);
		*why = postcopy_decide(&m->o.policy, &st, *why,
				       m->rep.postcopy.why,
				       sizeof(m->rep.postcopy.why));
		if (*why != SWITCHOVER_NOT_YET)
			return 0;
	}
}

int precopy_run(struct migration *m, enum switchover_reason *why)
{
	struct postcopy_poll pp = { 0 };
	int ret;

	/* kmig_genl_open() says why on stderr; precopy goes on without. */
	pp.open = !kmig_genl_open(&pp.g);
	ret = precopy_loop(m, &pp, why);
	if (pp.open)
		kmig_genl_close(&pp.g);
	return ret;
}
