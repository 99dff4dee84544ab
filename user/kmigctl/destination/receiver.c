// SPDX-License-Identifier: GPL-2.0
/*
 * Data channels on the destination (receiver.h). Nothing from the wire
 * reaches KMIG_LOAD before kms_ram_decode() has checked it; KMIG_LOAD
 * checks again in the kernel against the memslots.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "libkmig.h"
#include "receiver.h"

struct recv_arg {
	struct receiver *r;
	uint32_t idx;
};

void receiver_fail(struct receiver *r, int err, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&r->lock);
	if (!r->error) {
		r->error = err ? err : -EIO;
		va_start(ap, fmt);
		vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
		va_end(ap);
	}
	atomic_store(&r->failed, 1);
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

int receiver_error(struct receiver *r, char *msg, size_t n)
{
	int err;

	pthread_mutex_lock(&r->lock);
	err = r->error;
	if (msg && n)
		snprintf(msg, n, "%s", r->msg);
	pthread_mutex_unlock(&r->lock);
	return err;
}

static int receiver_loaded(struct receiver *r, uint32_t round)
{
	uint8_t b[KMS_SYNC_LEN];
	int ret;

	kms_sync_encode(b, round);
	pthread_mutex_lock(r->main_lock);
	ret = chan_send(r->main, KMS_LOADED, b, sizeof(b));
	pthread_mutex_unlock(r->main_lock);
	if (ret)
		receiver_fail(r, ret, "%s: sending LOADED: %s", r->main->name,
			      chan_strerror(ret));
	return ret;
}

/*
 * Channel @idx finished round @round: wait for the others. A channel that
 * already sent END can never arrive, so waiting for it is a protocol
 * error, not a hang.
 */
static int receiver_barrier(struct receiver *r, uint32_t idx, uint32_t round)
{
	uint32_t gen;
	int ret = 0;

	pthread_mutex_lock(&r->lock);
	r->rounds[idx] = round;
	gen = r->barrier_gen;
	if (++r->barrier_count == r->nr_chans) {
		r->barrier_count = 0;
		r->barrier_gen++;
		pthread_cond_broadcast(&r->cond);
		pthread_mutex_unlock(&r->lock);
		/*
		 * Sent before this thread reads on, so LOADED(n) always
		 * precedes LOADED(n + 1), whichever thread completes that.
		 */
		return receiver_loaded(r, round);
	}
	while (r->barrier_gen == gen && !r->error && !r->ended)
		pthread_cond_wait(&r->cond, &r->lock);
	if (r->barrier_gen == gen && !r->error) {
		pthread_mutex_unlock(&r->lock);
		receiver_fail(r, -EPROTO,
			      "data channel %u waits at the end of round %u, but another channel already ended",
			      idx + 1, round);
		return -EPROTO;
	}
	ret = r->barrier_gen == gen ? r->error : 0;
	pthread_mutex_unlock(&r->lock);
	return ret;
}

int receiver_decode(const struct kms_layout *l, uint32_t features,
		    uint32_t expect, const struct kms_frame_hdr *h,
		    const uint8_t *buf, struct kms_ram *ram, uint32_t *round,
		    struct kms_error *e)
{
	struct kms_error de;
	int ret;

	switch (h->type) {
	case KMS_RAM:
		ret = kms_ram_decode(buf, h->len, l, features, ram, &de);
		if (ret) {
			kms_errorf(e, "bad RAM frame: %s", de.msg);
			return ret;
		}
		return RECV_RAM;
	case KMS_SYNC:
		ret = kms_sync_decode(buf, h->len, round, e);
		if (ret)
			return ret;
		if (*round != expect) {
			kms_errorf(e, "SYNC for round %u where round %u was due",
				   *round, expect);
			return -EPROTO;
		}
		return RECV_SYNC;
	case KMS_END:
		return RECV_END;
	default:
		kms_errorf(e, "unexpected %s frame", kms_frame_name(h->type));
		return -EPROTO;
	}
}

/* Bytes of data the records [0, n) carry (raw pages and zstd frames). */
static size_t receiver_data_of(const struct kmig_rec *recs, uint64_t n)
{
	size_t bytes = 0;
	uint64_t i;

	for (i = 0; i < n; i++)
		if (recs[i].kind == KMIG_REC_PAGE || recs[i].kind == KMIG_REC_ZSTD)
			bytes += recs[i].len;
	return bytes;
}

/* KMIG_LOAD gives up with -EAGAIN while the VMM keeps editing memslots. */
#define LOAD_TRIES	8

/* A frame's pages by kind, for the report. */
static void receiver_count(struct receiver *r, const struct kms_ram *ram)
{
	atomic_fetch_add(&r->normal, ram->normal);
	atomic_fetch_add(&r->zero, ram->zero);
	atomic_fetch_add(&r->hole, ram->hole);
	atomic_fetch_add(&r->compressed, ram->compressed);
	atomic_fetch_add(&r->data_bytes, ram->data_len);
}

/* Postcopy: the frame's pages go to the running VM through the placer. */
static int receiver_place(struct receiver *r, struct chan *c,
			  struct placer *pl, struct place_ctx **pc,
			  struct kms_ram *ram)
{
	struct kms_error e;
	int ret;

	if (!*pc) {
		*pc = malloc(sizeof(**pc));
		if (!*pc || place_ctx_init(*pc)) {
			free(*pc);
			*pc = NULL;
			receiver_fail(r, -ENOMEM, "out of memory");
			return -ENOMEM;
		}
	}
	ret = place_frame(pl, *pc, ram, false, &e);
	if (ret) {
		receiver_fail(r, ret, "%s: %s", c->name, e.msg);
		return ret;
	}
	receiver_count(r, ram);
	atomic_fetch_add(&r->frames, 1);
	return 0;
}

/* Hands a RAM frame that receiver_decode() checked to KMIG_LOAD. */
static int receiver_load(struct receiver *r, struct chan *c,
			 struct kms_ram *ram)
{
	uint64_t first = 0, pages = 0, zeroed = 0;
	size_t off = 0;
	struct kmig_load out;
	int ret, tries = 0;

	/* A retry goes on after the records the last call applied. */
	do {
		ret = kmig_load(r->kfd, ram->recs + first, ram->nr - first,
				ram->data + off, ram->data_len - off, &out);
		pages += out.pages;
		zeroed += out.zeroed;
		if (ret == -EAGAIN) {
			off += receiver_data_of(ram->recs + first, out.done);
			first += out.done;
		}
	} while (ret == -EAGAIN && ++tries < LOAD_TRIES);
	if (ret) {
		receiver_fail(r, ret, "%s: KMIG_LOAD failed at record %llu of %u: %s",
			      c->name, (unsigned long long)(first + out.done),
			      ram->nr, kmig_strerror(ret));
		return ret;
	}
	receiver_count(r, ram);
	atomic_fetch_add(&r->loaded, pages);
	atomic_fetch_add(&r->zeroed, zeroed);
	atomic_fetch_add(&r->frames, 1);
	return 0;
}

static void *recv_main(void *p)
{
	struct recv_arg *a = p;
	struct receiver *r = a->r;
	struct chan *c = &r->chans[a->idx];
	uint32_t expect = 1, round;
	struct place_ctx *pc = NULL;
	struct kms_frame_hdr h;
	struct kms_error e;
	struct placer *pl;
	struct kms_ram *ram;
	uint8_t *buf;
	int ret;

	buf = malloc(KMS_RAM_MAX_LEN);
	ram = malloc(sizeof(*ram));
	if (!buf || !ram) {
		receiver_fail(r, -ENOMEM, "out of memory");
		goto out;
	}

	for (;;) {
		ret = chan_recv(c, &h, buf, KMS_RAM_MAX_LEN, &e);
		if (ret) {
			if (ret != -ESHUTDOWN)
				receiver_fail(r, ret, "%s", e.msg);
			break;
		}
		ret = receiver_decode(r->layout, r->features, expect, &h, buf,
				      ram, &round, &e);
		switch (ret) {
		case RECV_RAM:
			pl = atomic_load(&r->placer);
			ret = pl ? receiver_place(r, c, pl, &pc, ram) :
				   receiver_load(r, c, ram);
			break;
		case RECV_SYNC:
			ret = receiver_barrier(r, a->idx, round);
			expect++;
			break;
		case RECV_END:
			pthread_mutex_lock(&r->lock);
			r->ended++;
			pthread_cond_broadcast(&r->cond);
			pthread_mutex_unlock(&r->lock);
			goto out;
		default:
			receiver_fail(r, ret, "%s: %s", c->name, e.msg);
		}
		if (ret)
			break;
	}
out:
	if (pc) {
		place_ctx_destroy(pc);
		free(pc);
	}
	free(ram);
	free(buf);
	free(a);
	return NULL;
}

int receiver_init(struct receiver *r, int kfd, const struct kms_layout *l,
		  uint32_t features, struct chan *chans, uint32_t nr_chans,
		  struct chan *main, pthread_mutex_t *main_lock)
{
	uint32_t i;

	memset(r, 0, sizeof(*r));
	r->kfd = kfd;
	r->layout = l;
	r->features = features;
	r->chans = chans;
	r->nr_chans = nr_chans;
	r->main = main;
	r->main_lock = main_lock;
	pthread_mutex_init(&r->lock, NULL);
	/* Its waits are timed (receiver_wait_end()) on kmigctl's one clock. */
	cond_init_monotonic(&r->cond);
	atomic_init(&r->failed, 0);
	atomic_init(&r->normal, 0);
	atomic_init(&r->zero, 0);
	atomic_init(&r->hole, 0);
	atomic_init(&r->compressed, 0);
	atomic_init(&r->data_bytes, 0);
	atomic_init(&r->loaded, 0);
	atomic_init(&r->zeroed, 0);
	atomic_init(&r->frames, 0);
	atomic_init(&r->placer, NULL);
	r->threads = calloc(nr_chans, sizeof(*r->threads));
	r->rounds = calloc(nr_chans, sizeof(*r->rounds));
	if (!r->threads || !r->rounds)
		return -ENOMEM;
	for (i = 0; i < nr_chans; i++)
		chans[i].stop = &r->failed;
	return 0;
}

int receiver_start(struct receiver *r)
{
	uint32_t i;
	int ret;

	for (i = 0; i < r->nr_chans; i++) {
		struct recv_arg *a = malloc(sizeof(*a));

		if (!a)
			return -ENOMEM;
		a->r = r;
		a->idx = i;
		ret = pthread_create(&r->threads[i], NULL, recv_main, a);
		if (ret) {
			free(a);
			return -ret;
		}
		r->nr_threads++;
	}
	return 0;
}

int receiver_wait_end(struct receiver *r, int timeout_ms)
{
	uint64_t until = deadline_after_ms(timeout_ms);
	int ret;

	pthread_mutex_lock(&r->lock);
	while (r->ended < r->nr_chans && !r->error)
		if (cond_wait_until(&r->cond, &r->lock, until))
			break;
	ret = r->error ? r->error : r->ended == r->nr_chans;
	pthread_mutex_unlock(&r->lock);
	return ret;
}

uint32_t receiver_rounds(struct receiver *r)
{
	uint32_t i, n;

	pthread_mutex_lock(&r->lock);
	n = r->nr_chans ? r->rounds[0] : 0;
	for (i = 1; i < r->nr_chans; i++)
		if (r->rounds[i] < n)
			n = r->rounds[i];
	pthread_mutex_unlock(&r->lock);
	return n;
}

uint64_t receiver_bytes(struct receiver *r)
{
	uint64_t sum = 0;
	uint32_t i;

	for (i = 0; i < r->nr_chans; i++)
		sum += atomic_load(&r->chans[i].bytes_in);
	return sum;
}

void receiver_destroy(struct receiver *r)
{
	uint32_t i;

	atomic_store(&r->failed, 1);
	pthread_mutex_lock(&r->lock);
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	for (i = 0; i < r->nr_threads; i++)
		pthread_join(r->threads[i], NULL);
	r->nr_threads = 0;
	free(r->threads);
	free(r->rounds);
	r->threads = NULL;
	r->rounds = NULL;
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
}
