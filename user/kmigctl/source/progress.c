// SPDX-License-Identifier: GPL-2.0
/*
 * The live progress line (progress.h).
 */
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "progress.h"

#define PROGRESS_TICK_MS	250
#define MIB			(1024.0 * 1024.0)

static const char *const phase_names[] = {
	[PHASE_SETUP] = "setup",
	[PHASE_BULK] = "bulk",
	[PHASE_DIRTY] = "dirty",
	[PHASE_SWITCHOVER] = "switchover",
	[PHASE_POSTCOPY] = "postcopy",
};

void progress_format(char *buf, size_t n, enum progress_phase phase,
		     uint32_t round, uint64_t done, uint64_t total,
		     double rate, double elapsed_s)
{
	double pct = total ? 100.0 * (done < total ? done : total) / total : 100;
	uint64_t left = done < total ? total - done : 0;

	if (phase == PHASE_SETUP) {
		snprintf(buf, n, "setup  %.1f s", elapsed_s);
		return;
	}
	snprintf(buf, n, "round %u (%s)  %3.0f%%  %.1f MiB/s  %.1f MiB left  %.1f s",
		 round, phase_names[phase], pct, rate / MIB,
		 left * 4096.0 / MIB, elapsed_s);
}

static void *progress_main(void *arg)
{
	struct progress *p = arg;
	uint64_t last_bytes = sender_bytes(p->s), last_ns = now_ns();
	double rate = 0;
	char line[160];

	while (!atomic_load(&p->stop)) {
		uint64_t now, bytes, done;

		sleep_ns(PROGRESS_TICK_MS * NSEC_PER_MSEC);
		now = now_ns();
		bytes = sender_bytes(p->s);
		/* A short moving average: steady, yet follows a new rate. */
		rate = 0.5 * rate + 0.5 * (bytes - last_bytes) * 1e9 /
				     (now - last_ns ? now - last_ns : 1);
		last_bytes = bytes;
		last_ns = now;
		done = atomic_load(&p->s->pages_done) - atomic_load(&p->round_base);
		progress_format(line, sizeof(line), atomic_load(&p->phase),
				atomic_load(&p->round), done,
				atomic_load(&p->round_pages), rate,
				(now - p->start_ns) / 1e9);
		/* \r and erase-line: the line redraws in place. */
		fprintf(stderr, "\r\033[K%s", line);
		fflush(stderr);
	}
	fputs("\r\033[K", stderr);
	fflush(stderr);
	return NULL;
}

void progress_start(struct progress *p, bool enabled, struct sender *s,
		    uint64_t start_ns)
{
	memset(p, 0, sizeof(*p));
	p->s = s;
	p->start_ns = start_ns;
	atomic_init(&p->stop, 0);
	atomic_init(&p->phase, PHASE_SETUP);
	atomic_init(&p->round, 0);
	atomic_init(&p->round_pages, 0);
	atomic_init(&p->round_base, 0);
	p->enabled = enabled &&
		     !pthread_create(&p->thread, NULL, progress_main, p);
}

void progress_round(struct progress *p, enum progress_phase phase,
		    uint32_t round, uint64_t pages)
{
	atomic_store(&p->round_base, atomic_load(&p->s->pages_done));
	atomic_store(&p->round_pages, pages);
	atomic_store(&p->round, round);
	atomic_store(&p->phase, phase);
}

void progress_stop(struct progress *p)
{
	if (!p->enabled)
		return;
	atomic_store(&p->stop, 1);
	pthread_join(p->thread, NULL);
	p->enabled = false;
}
