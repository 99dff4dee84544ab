/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The live progress line of `kmigctl migrate` on a terminal (stderr):
 * phase, round, percent of the round, rate, what remains, elapsed time.
 * Redrawn a few times a second by a thread of its own; nothing is printed
 * when stderr is not a TTY.
 */
#ifndef KMIGCTL_PROGRESS_H
#define KMIGCTL_PROGRESS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "sender.h"

enum progress_phase {
	PHASE_SETUP,
	PHASE_BULK,
	PHASE_DIRTY,
	PHASE_SWITCHOVER,
	PHASE_POSTCOPY,		/* the background round, VM on the destination */
};

struct progress {
	bool enabled;
	pthread_t thread;
	atomic_int stop;
	struct sender *s;
	uint64_t start_ns;
	atomic_int phase;
	atomic_uint round;
	atomic_uint_fast64_t round_pages;	/* dirty pages the round takes */
	atomic_uint_fast64_t round_base;	/* s->pages_done at its start */
};

/* Starts the thread only if @enabled (a TTY, no --quiet). */
void progress_start(struct progress *p, bool enabled, struct sender *s,
		    uint64_t start_ns);
void progress_round(struct progress *p, enum progress_phase phase,
		    uint32_t round, uint64_t pages);
/* Stops the thread and clears the line. */
void progress_stop(struct progress *p);

/* The line itself, for the unit tests: "round 2 (dirty) ...". */
void progress_format(char *buf, size_t n, enum progress_phase phase,
		     uint32_t round, uint64_t done, uint64_t total,
		     double rate, double elapsed_s);

#endif /* KMIGCTL_PROGRESS_H */
