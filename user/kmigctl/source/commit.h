/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The commit protocol: who owns the VM at every instant of a migration,
 * and what each side does when something fails in each state. Precopy,
 * the switchover (and later postcopy) move through these states only by
 * calling in here; a failure anywhere is recorded with migration_fail(),
 * and commit_finish() then does what the state says. The table, with the
 * timeouts, is in Documentation/stream-format.md ("Who runs the VM").
 *
 * The rule: the source owns the VM until the first byte of GO leaves it;
 * from then on it never resumes the VM by itself, because the destination
 * may be running it. The destination starts the VM only on GO and, once
 * started, never stops it for a network problem.
 */
#ifndef KMIGCTL_COMMIT_H
#define KMIGCTL_COMMIT_H

#include <stdbool.h>

struct migration;

enum src_state {
	SRC_SETUP,	/* connecting; the VM runs here; failure: nothing to undo */
	SRC_PRECOPY,	/* rounds; the VM runs here; failure: ABORT, it runs on */
	SRC_PAUSED,	/* switchover before GO; failure: resume the VM */
	SRC_COMMITTED,	/* the VMM knows GO is next; failure before a GO byte
			 * left: resume */
	SRC_GO_SENT,	/* GO is out, no ACK yet: the destination may run the
			 * VM; failure: the VM stays paused, outcome unknown */
	SRC_POSTCOPY,	/* postcopy's ACK: the destination runs the VM but
			 * some pages are only here; failure: the VM stays
			 * paused and the VMM stays up with them */
	SRC_DONE,	/* ACK (postcopy: DONE): the destination runs it with
			 * all its memory; the source VMM quits */
};

enum dst_state {
	DST_LISTEN,	/* no source yet; strays are refused, the wait goes on */
	DST_LOADING,	/* a source's stream; failure: the VMM quits (empty) */
	DST_READY,	/* READY sent, waiting for GO; failure: the VMM quits */
	DST_POSTCOPY,	/* GO came in postcopy: the VM runs here, pages still
			 * come from the source; failure: pause it, keep the
			 * VMM (never run on a partial image) */
	DST_STARTED,	/* the VM runs here with all its memory: nothing
			 * stops it */
};

/* The exit status of `kmigctl migrate` when the outcome is unknown. */
#define KMIGCTL_EXIT_UNKNOWN	4
/*
 * Postcopy broke off: the VM runs (or waits) on the destination, which
 * still needs pages the paused source VMM holds.
 */
#define KMIGCTL_EXIT_POSTCOPY	5

const char *src_state_name(enum src_state s);
const char *dst_state_name(enum dst_state s);

/*
 * Records the first failure (@result "failed" or "cancelled"; from
 * SRC_GO_SENT on always "unknown") and returns -1.
 */
int migration_fail(struct migration *m, const char *result, const char *fmt,
		   ...) __attribute__((format(printf, 3, 4)));

/*
 * Has someone cancelled us: a signal, `kmigctl cancel` (the kernel then
 * answers -ECANCELED; this asks it without side effects)? After GO a
 * cancel can no longer take effect, and only a signal counts.
 */
bool migration_cancelled(struct migration *m);
/* Fails the migration as cancelled, with the reason. */
int migration_fail_cancelled(struct migration *m);

/*
 * The VMM takes part: VMM_HOLD(MIGRATING) after HELLO, so that it resumes
 * its guest itself if this kmigctl dies before committing. 0 or -1.
 */
int commit_hold(struct migration *m);
/* Every channel is up: SRC_SETUP -> SRC_PRECOPY. */
void commit_precopy(struct migration *m);
/* VMM_PAUSE: SRC_PRECOPY -> SRC_PAUSED. 0 or -1. */
int commit_pause(struct migration *m);
/*
 * VMM_HOLD(COMMITTED), then GO on the main channel: -> SRC_GO_SENT. 0 or
 * -1; on -1 the state says whether GO may have left (SRC_GO_SENT).
 */
int commit_go(struct migration *m);
/* The ACK came: -> SRC_DONE, and the source VMM is told to quit. */
void commit_acked(struct migration *m);
/* Postcopy's ACK came: -> SRC_POSTCOPY (the VMM stays, paused). */
void commit_postcopy(struct migration *m);
/*
 * --resume: take over a VMM whose postcopy broke off (paused, orphaned
 * after COMMITTED) with VMM_HOLD(COMMITTED): -> SRC_POSTCOPY. 0 or -1.
 */
int commit_resume(struct migration *m);
/*
 * At the end, whatever happened: resumes the VM where the state says so,
 * leaves it paused (and says so) where the outcome is unknown. Returns
 * the exit status.
 */
int commit_finish(struct migration *m);

#endif /* KMIGCTL_COMMIT_H */
