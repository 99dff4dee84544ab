// SPDX-License-Identifier: GPL-2.0
/*
 * Ring draining and RAM frames on the source (sender.h).
 *
 * A record leaves the ring only after its frame has been written to a
 * socket: the head moves past it after the write, so the page data is
 * sent straight from the ring's data slots (writev), never copied.
 *
 * After a failure the drain threads keep consuming records without
 * sending them, so the kernel's round always runs to its end and the main
 * thread, blocked in KMIG_SEND_ROUND, gets back control.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "crc32c.h"
#include "sender.h"

struct drain_arg {
	struct sender *s;
	uint32_t ring;
};

void sender_fail(struct sender *s, int err, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&s->lock);
	if (!s->error) {
		s->error = err ? err : -EIO;
		va_start(ap, fmt);
		vsnprintf(s->msg, sizeof(s->msg), fmt, ap);
		va_end(ap);
	}
	atomic_store(&s->failed, 1);
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

int sender_error(struct sender *s, char *msg, size_t n)
{
	int err;

	pthread_mutex_lock(&s->lock);
	err = s->error;
	if (msg && n)
		snprintf(msg, n, "%s", s->msg);
	pthread_mutex_unlock(&s->lock);
	return err;
}

uint64_t sender_bytes(struct sender *s)
{
	uint64_t sum = 0;
	uint32_t i;

	for (i = 0; i < s->nr_chans; i++)
		sum += atomic_load(&s->chans[i].bytes_out);
	return sum;
}

/*
 * Fair channel selection: the next channel in round-robin order that is
 * free; if all are busy, wait for that first one. A slow channel thus gets
 * less, never more, than its share.
 */
static uint32_t sender_pick_chan(struct sender *s)
{
	uint32_t start = atomic_fetch_add(&s->next_chan, 1), k, c;

	for (k = 0; k < s->nr_chans; k++) {
		c = (start + k) % s->nr_chans;
		if (!pthread_mutex_trylock(&s->chan_locks[c]))
			return c;
	}
	c = start % s->nr_chans;
	pthread_mutex_lock(&s->chan_locks[c]);
	return c;
}

static int sender_send(struct sender *s, struct iovec *iov, int iovcnt,
		       uint64_t bytes)
{
	uint32_t c;
	int ret;

	ratelimit_take(s->rl, bytes, &s->failed);
	c = sender_pick_chan(s);
	ret = chan_send_framev(&s->chans[c], KMS_RAM, iov, iovcnt);
	pthread_mutex_unlock(&s->chan_locks[c]);
	if (ret && ret != -ESHUTDOWN)
		sender_fail(s, ret, "%s: %s", s->chans[c].name,
			    chan_strerror(ret));
	return ret;
}

/* Can this ring record go into a RAM frame as it is? */
static bool rec_sendable(const struct sender *s, const struct kmig_rec *rec)
{
	switch (rec->kind) {
	case KMIG_REC_PAGE:
		return rec->npages == 1 && rec->len == KMIG_PAGE_SIZE;
	case KMIG_REC_ZSTD:
		/* A run only where the HELLO announced runs. */
		return rec->npages && rec->npages <= s->zstd_run_max &&
		       rec->len && rec->len <= KMS_ZSTD_MAX_LEN;
	case KMIG_REC_ZERO:
	case KMIG_REC_HOLE:
		return rec->npages && !rec->len;
	default:
		return false;
	}
}

/*
 * Takes up to SENDER_BATCH of the @ready records at the ring's head into
 * one RAM frame, stopping at a ROUND_END. Returns the records consumed.
 */
static uint32_t drain_batch(struct sender *s, struct kmig_ring *r,
			    uint32_t ready, uint8_t *table, struct iovec *iov)
{
	uint8_t *recs = table + KMS_RAM_HDR_LEN;
	uint32_t head = kmig_ring_head(r), nr = 0, iovs = 0, i;
	uint64_t npages = 0, data = 0;
	bool round_end = false;

	for (i = 0; i < ready && i < SENDER_BATCH; i++) {
		const struct kmig_rec *rec = kmig_ring_rec(r, head + i);

		if (rec->kind == KMIG_REC_ROUND_END) {
			round_end = true;
			break;
		}
		/* The kernel is trusted, but a record we cannot frame is fatal. */
		if (!rec_sendable(s, rec)) {
			sender_fail(s, -EPROTO,
				    "ring %u: malformed record (kind %u, %u pages, len %u)",
				    r->index, rec->kind, rec->npages, rec->len);
			continue;
		}
		kms_rec_encode(recs + nr * KMS_REC_LEN, rec);
		/* A zstd frame sits at the start of its slot, @len bytes. */
		if (rec->len) {
			iov[2 + iovs].iov_base = (void *)kmig_ring_data(r, head + i);
			iov[2 + iovs].iov_len = rec->len;
			iovs++;
			data += rec->len;
		}
		npages += rec->npages;
		nr++;
	}

	if (nr && !atomic_load(&s->failed)) {
		uint32_t len = KMS_RAM_HDR_LEN + nr * KMS_REC_LEN + data;
		uint32_t crc = crc32c(kms_ram_crc_start(nr), recs,
				      nr * KMS_REC_LEN);

		/* The checksum is taken here, off the ring's slots. */
		for (uint32_t k = 0; k < iovs; k++)
			crc = crc32c(crc, iov[2 + k].iov_base, iov[2 + k].iov_len);
		kms_ram_hdr_encode(table, nr, crc);
		/* iov[0] the frame header's, iov[2 + iovs] the MAC's slot. */
		iov[1].iov_base = table;
		iov[1].iov_len = KMS_RAM_HDR_LEN + nr * KMS_REC_LEN;
		sender_send(s, iov, 2 + iovs, KMS_FRAME_HDR_LEN + len);
	}
	atomic_fetch_add(&s->pages_done, npages);

	/* Only now, with the frame on the socket, do the slots go back. */
	kmig_ring_advance(r, i + round_end);
	if (round_end) {
		pthread_mutex_lock(&s->lock);
		s->rings_done++;
		pthread_cond_broadcast(&s->cond);
		pthread_mutex_unlock(&s->lock);
	}
	return i + round_end;
}

static void *drain_main(void *p)
{
	struct drain_arg *a = p;
	struct sender *s = a->s;
	struct kmig_ring *r = &s->rings[a->ring];
	/* Header, table, the data of each record, the MAC. */
	struct iovec iov[3 + SENDER_BATCH];
	uint8_t *table;

	table = malloc(KMS_RAM_HDR_LEN + SENDER_BATCH * KMS_REC_LEN);
	if (!table) {
		sender_fail(s, -ENOMEM, "out of memory");
		free(a);
		return NULL;
	}

	while (!atomic_load(&s->stop)) {
		uint32_t ready = kmig_ring_ready(r);
		int ret;

		if (!ready) {
			ret = kmig_ring_wait(s->kfd, a->ring, SENDER_WAIT_MS,
					     NULL);
			if (ret == -ECANCELED) {
				/* The main thread backs out; wait for stop. */
				atomic_store(&s->cancelled, 1);
				sleep_ns(20 * NSEC_PER_MSEC);
			} else if (ret < 0 && ret != -EINTR) {
				sender_fail(s, ret, "KMIG_RING_WAIT on ring %u: %s",
					    a->ring, kmig_strerror(ret));
				sleep_ns(20 * NSEC_PER_MSEC);
			}
			continue;
		}
		drain_batch(s, r, ready, table, iov);
		/* A worker waiting for ring space only wakes through this. */
		ret = kmig_ring_wait(s->kfd, a->ring, 0, NULL);
		if (ret == -ECANCELED)
			atomic_store(&s->cancelled, 1);
	}
	free(table);
	free(a);
	return NULL;
}

int sender_init(struct sender *s, int kfd, struct kmig_ring *rings,
		uint32_t nr_rings, struct chan *chans, uint32_t nr_chans,
		struct ratelimit *rl)
{
	uint32_t i;

	memset(s, 0, sizeof(*s));
	s->kfd = kfd;
	s->rings = rings;
	s->nr_rings = nr_rings;
	s->chans = chans;
	s->nr_chans = nr_chans;
	s->rl = rl;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	atomic_init(&s->next_chan, 0);
	atomic_init(&s->stop, 0);
	atomic_init(&s->failed, 0);
	atomic_init(&s->cancelled, 0);
	atomic_init(&s->pages_done, 0);
	s->zstd_run_max = 1;

	s->chan_locks = calloc(nr_chans, sizeof(*s->chan_locks));
	s->threads = calloc(nr_rings, sizeof(*s->threads));
	if (!s->chan_locks || !s->threads)
		return -ENOMEM;
	for (i = 0; i < nr_chans; i++) {
		pthread_mutex_init(&s->chan_locks[i], NULL);
		chans[i].stop = &s->failed;
	}
	return 0;
}

int sender_start(struct sender *s)
{
	uint32_t i;
	int ret;

	for (i = 0; i < s->nr_rings; i++) {
		struct drain_arg *a = malloc(sizeof(*a));

		if (!a)
			return -ENOMEM;
		a->s = s;
		a->ring = i;
		ret = pthread_create(&s->threads[i], NULL, drain_main, a);
		if (ret) {
			free(a);
			return -ret;
		}
		s->nr_threads++;
	}
	return 0;
}

/* Writes a frame on every data channel, in channel order. */
static int sender_broadcast(struct sender *s, uint32_t type,
			    const void *payload, uint32_t len)
{
	uint32_t i;
	int ret;

	for (i = 0; i < s->nr_chans; i++) {
		pthread_mutex_lock(&s->chan_locks[i]);
		ret = chan_send(&s->chans[i], type, payload, len);
		pthread_mutex_unlock(&s->chan_locks[i]);
		if (ret) {
			if (ret != -ESHUTDOWN)
				sender_fail(s, ret, "%s: %s", s->chans[i].name,
					    chan_strerror(ret));
			return sender_error(s, NULL, 0);
		}
	}
	return 0;
}

int sender_round(struct sender *s, struct kmig_send_round *out)
{
	uint8_t sync[KMS_SYNC_LEN];
	int ret;

	pthread_mutex_lock(&s->lock);
	s->rings_done = 0;
	pthread_mutex_unlock(&s->lock);

	ret = kmig_send_round(s->kfd, out);
	if (ret < 0)
		return ret;

	/* Every worker queued its ROUND_END; wait until they are drained. */
	pthread_mutex_lock(&s->lock);
	while (s->rings_done < s->nr_rings && !s->error)
		pthread_cond_wait(&s->cond, &s->lock);
	ret = s->error;
	pthread_mutex_unlock(&s->lock);
	if (ret)
		return ret;

	/* The round's frames are all on the wire before its SYNC. */
	kms_sync_encode(sync, out->round);
	return sender_broadcast(s, KMS_SYNC, sync, sizeof(sync));
}

int sender_end(struct sender *s)
{
	return sender_broadcast(s, KMS_END, NULL, 0);
}

void sender_destroy(struct sender *s)
{
	uint32_t i;

	atomic_store(&s->stop, 1);
	for (i = 0; i < s->nr_threads; i++)
		pthread_join(s->threads[i], NULL);
	s->nr_threads = 0;
	if (s->chan_locks)
		for (i = 0; i < s->nr_chans; i++)
			pthread_mutex_destroy(&s->chan_locks[i]);
	free(s->chan_locks);
	free(s->threads);
	s->chan_locks = NULL;
	s->threads = NULL;
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
}
