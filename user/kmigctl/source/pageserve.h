/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Postcopy on the source: the page server answers the destination's page
 * requests (REQUEST frames on the preempt channel) at once, reading the
 * pages with KMIG_FETCH in its own thread while the background round runs
 * on the others, and sends them back as RAM frames on the same channel,
 * where they never queue behind background data.
 *
 * The destination is authenticated but its requests are still checked:
 * a page outside guest RAM, or one asked for twice on one connection (a
 * destination asks once per page and drops duplicates; repeats are a
 * flood), ends the service with an error instead of being served.
 */
#ifndef KMIGCTL_PAGESERVE_H
#define KMIGCTL_PAGESERVE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "chan.h"
#include "sender.h"
#include "stream.h"

struct page_server {
	int kfd;
	struct chan *pre;
	const struct kms_layout *layout;
	struct sender *s;		/* failed with us: the round stops too */
	/*
	 * Where the pages go: @pre, or (benchmarks only,
	 * KMIG_BENCH_URGENT_ON_DATA=1) data channel 1 behind the background
	 * frames, to measure what the preempt channel saves.
	 */
	struct chan *out;
	pthread_mutex_t *out_lock;
	uint64_t *served;		/* bit per page: sent on this connection */
	pthread_t thread;
	bool up;
	bool urgent;			/* the preempt channel's */
	atomic_int stop;
	/*
	 * It stopped for a reason of its own (a bad or repeated request, a
	 * page it could not read), not because the peer went away.
	 */
	atomic_int refused;

	pthread_mutex_t lock;		/* protects @error, @msg */
	int error;
	char msg[256];

	atomic_uint_fast64_t requests;	/* REQUEST frames */
	atomic_uint_fast64_t pages;	/* pages asked for and sent */
	atomic_uint_fast64_t bytes;	/* RAM frame bytes sent */
	atomic_uint_fast64_t taken;	/* of @pages, not yet sent by a round */
	atomic_uint_fast64_t fetch_ns;	/* time in KMIG_FETCH */
	atomic_uint_fast64_t serve_ns;	/* REQUEST read -> its RAM frame sent */
};

/*
 * Serves @pre from a thread of its own, an urgent one (urgent.h) when
 * @urgent: @pre is the preempt channel, where faulting vCPUs wait. A
 * failure stops the background round of @s too: a destination that is
 * refused gets nothing more.
 */
int page_server_start(struct page_server *ps, int kfd, struct chan *pre,
		      const struct kms_layout *l, struct sender *s,
		      bool urgent);
/* The first failure (-errno; 0 none) and its message. */
int page_server_error(struct page_server *ps, char *msg, size_t n);
void page_server_stop(struct page_server *ps);

#endif /* KMIGCTL_PAGESERVE_H */
