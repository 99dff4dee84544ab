/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Postcopy on the destination once the VM runs: a fault thread reads the
 * userfaultfd, resolves what it can here (place.h) and asks the source
 * for the rest on the preempt channel (REQUEST frames); a preempt thread
 * places the pages that come back. The data channels' receiver threads
 * place the background stream through the same placer.
 */
#ifndef KMIGCTL_DST_POSTCOPY_H
#define KMIGCTL_DST_POSTCOPY_H

#include <pthread.h>
#include <stdatomic.h>

#include "chan.h"
#include "place.h"

struct dst_postcopy {
	struct placer pl;
	int uffd;
	struct chan *pre;		/* the preempt channel */
	uint32_t features;		/* the HELLO's: RAM frames may be ZSTD */
	uint32_t ahead;			/* pages asked for after a fault's */
	pthread_t fault_thread, pre_thread;
	int nr_threads;
	/* Recovery: a puller per data channel asks for what is missing. */
	struct dpc_puller *pullers;
	uint32_t nr_pullers;
	atomic_int stop;

	pthread_mutex_t lock;		/* protects @error, @msg */
	int error;
	char msg[256];
};

/* Sets @d up over @uffd (made non-blocking) and the layout; 0 or -errno. */
int dst_postcopy_init(struct dst_postcopy *d, int uffd,
		      const struct kms_layout *l, const uint64_t *hva,
		      struct chan *pre, uint32_t features);
/* The fault and preempt threads: the VM may start after this. */
int dst_postcopy_start(struct dst_postcopy *d);
/*
 * Recovering a postcopy (`kmigctl postcopy-recover`): a thread per data
 * channel in @chans asks the source, in REQUEST frames, for every page
 * still pending, each page on one channel only; the channels' receivers
 * place what comes back. 0 or -errno.
 */
int dst_postcopy_pull(struct dst_postcopy *d, struct chan *chans, uint32_t n);
/* The first failure (-errno, 0 none), its message in @msg. */
int dst_postcopy_error(struct dst_postcopy *d, char *msg, size_t n);
/* Stops and joins the threads (the placer stays for the report). */
void dst_postcopy_stop(struct dst_postcopy *d);
void dst_postcopy_destroy(struct dst_postcopy *d);

#endif /* KMIGCTL_DST_POSTCOPY_H */
