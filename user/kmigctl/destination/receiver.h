/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The destination's data plane: one thread per data channel reads RAM
 * frames, checks every record against the guest's layout (stream.c) and
 * hands them to KMIG_LOAD. A SYNC ends a round on its channel; no channel
 * loads the next round's pages before every channel has finished the
 * round, so a page re-sent in a later round, on another channel, always
 * lands after its older copy. The channel that completes a round tells the
 * source on the main channel (LOADED), which measures its bandwidth end
 * to end with it and never pauses the VM while we still lag behind.
 */
#ifndef KMIGCTL_RECEIVER_H
#define KMIGCTL_RECEIVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "chan.h"
#include "place.h"
#include "stream.h"

struct receiver {
	int kfd;			/* the kmig session, attached */
	const struct kms_layout *layout;
	uint32_t features;		/* the source's HELLO: KMS_F_* */
	uint32_t nr_chans;
	struct chan *chans;		/* data channels */
	struct chan *main;		/* for LOADED */
	pthread_mutex_t *main_lock;	/* serialises writes on @main */
	pthread_t *threads;
	uint32_t nr_threads;

	pthread_mutex_t lock;		/* protects what follows, to @msg */
	pthread_cond_t cond;
	uint32_t barrier_count;		/* channels waiting at the barrier */
	uint32_t barrier_gen;		/* rounds completed by all channels */
	uint32_t ended;			/* channels that sent END */
	uint32_t *rounds;		/* per channel: SYNCs seen */
	int error;
	char msg[256];

	atomic_int failed;		/* stop: abandons channel I/O too */
	atomic_uint_fast64_t normal, zero, hole;	/* pages by kind */
	atomic_uint_fast64_t compressed;		/* of @normal: ZSTD */
	atomic_uint_fast64_t data_bytes;		/* page data as sent */
	atomic_uint_fast64_t loaded, zeroed;		/* KMIG_LOAD outputs */
	atomic_uint_fast64_t frames;
	/*
	 * Postcopy: set before READY, while no RAM frame is in flight (the
	 * source sends the background round only after GO); from then on
	 * pages are placed through the userfaultfd, not KMIG_LOAD.
	 */
	struct placer *_Atomic placer;
};

/* What a data channel does with a frame that receiver_decode() passed. */
enum recv_action {
	RECV_RAM = 1,		/* hand @ram to KMIG_LOAD */
	RECV_SYNC,		/* round *@round ended: the barrier */
	RECV_END,		/* the channel's last frame */
};

/*
 * A data channel's frame @h/@buf (as chan_recv() read it) checked against
 * the layout @l, the HELLO's @features and the round due (@expect): an
 * enum recv_action, or -errno with the reason in @e. Pure: no I/O, no
 * ioctl, so the fuzzer (user/fuzz) runs exactly what the receiver does.
 */
int receiver_decode(const struct kms_layout *l, uint32_t features,
		    uint32_t expect, const struct kms_frame_hdr *h,
		    const uint8_t *buf, struct kms_ram *ram, uint32_t *round,
		    struct kms_error *e);

/* @features: the source's HELLO features, which RAM frames may use. */
int receiver_init(struct receiver *r, int kfd, const struct kms_layout *l,
		  uint32_t features, struct chan *chans, uint32_t nr_chans,
		  struct chan *main, pthread_mutex_t *main_lock);
int receiver_start(struct receiver *r);

/*
 * Waits up to @timeout_ms for every channel's END. Returns 1 when all
 * ended, 0 on timeout, or the first failure (-errno).
 */
int receiver_wait_end(struct receiver *r, int timeout_ms);

/* Records a failure (the first wins) and stops every channel. */
void receiver_fail(struct receiver *r, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int receiver_error(struct receiver *r, char *msg, size_t n);

/* Rounds every channel completed (SYNCs), once all have ended. */
uint32_t receiver_rounds(struct receiver *r);
uint64_t receiver_bytes(struct receiver *r);

void receiver_destroy(struct receiver *r);

#endif /* KMIGCTL_RECEIVER_H */
