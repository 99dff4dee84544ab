// SPDX-License-Identifier: GPL-2.0
/*
 * The source's page server (pageserve.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "libkmig.h"
#include "pageserve.h"
#include "signals.h"
#include "urgent.h"

static void ps_fail(struct page_server *ps, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void ps_fail(struct page_server *ps, int err, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&ps->lock);
	if (!ps->error) {
		ps->error = err ? err : -EIO;
		va_start(ap, fmt);
		vsnprintf(ps->msg, sizeof(ps->msg), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&ps->lock);
	atomic_store(&ps->stop, 1);
	/* The peer closing is the main channel's to report, not ours. */
	if (err == -EPIPE || err == -ECONNRESET || err == -ENODATA ||
	    err == -ESHUTDOWN)
		return;
	atomic_store(&ps->refused, 1);
	if (ps->s)
		sender_fail(ps->s, err, "%s", ps->msg);
}

int page_server_error(struct page_server *ps, char *msg, size_t n)
{
	int err;

	pthread_mutex_lock(&ps->lock);
	err = ps->error;
	if (msg && n)
		snprintf(msg, n, "%s", ps->msg);
	pthread_mutex_unlock(&ps->lock);
	return err;
}

/* Checks @gpa[0..nr) were not served yet on this connection, marks them. */
static int ps_check_repeat(struct page_server *ps, const uint64_t *gpa,
			   uint32_t nr)
{
	uint64_t i;
	uint32_t k;

	for (k = 0; k < nr; k++) {
		i = kms_layout_page_index(ps->layout, gpa[k]);
		if (ps->served[i / 64] & (1ULL << (i % 64))) {
			ps_fail(ps, -EPROTO,
				"the destination asked for the page at gpa 0x%" PRIx64 " again: a destination asks once per page, so this is a flood or a broken destination; requests are no longer served",
				gpa[k]);
			return -EPROTO;
		}
		ps->served[i / 64] |= 1ULL << (i % 64);
	}
	return 0;
}

/* One REQUEST: read the pages, send them back as one RAM frame. */
static int ps_serve(struct page_server *ps, const uint64_t *gpa, uint32_t nr,
		    uint8_t *frame, struct kmig_rec *recs)
{
	struct kmig_dirty_range ranges[KMS_MAX_REQUEST];
	uint8_t *data = frame + KMS_RAM_HDR_LEN + nr * KMS_REC_LEN;
	struct kmig_fetch out;
	uint32_t i, n = 0;
	uint64_t t;
	size_t len;
	int ret;

	/* Neighbours become one range: the guest often faults in runs. */
	for (i = 0; i < nr; i++) {
		if (n && ranges[n - 1].gpa +
			 (uint64_t)ranges[n - 1].npages * KMS_PAGE_SIZE == gpa[i]) {
			ranges[n - 1].npages++;
			continue;
		}
		memset(&ranges[n], 0, sizeof(ranges[n]));
		ranges[n].gpa = gpa[i];
		ranges[n].npages = 1;
		n++;
	}
	t = now_ns();
	ret = kmig_fetch(ps->kfd, ranges, n, recs, data,
			 (uint64_t)nr * KMS_PAGE_SIZE, &out);
	atomic_fetch_add(&ps->fetch_ns, now_ns() - t);
	if (ret) {
		ps_fail(ps, ret, "KMIG_FETCH of %u pages at gpa 0x%" PRIx64 ": %s",
			nr, gpa[0], kmig_strerror(ret));
		return ret;
	}
	for (i = 0; i < out.nr_recs; i++)
		kms_rec_encode(frame + KMS_RAM_HDR_LEN + i * KMS_REC_LEN, &recs[i]);
	len = KMS_RAM_HDR_LEN + out.nr_recs * KMS_REC_LEN;
	/* The data sits after room for @nr records: close the gap. */
	if (out.nr_recs != nr)
		memmove(frame + len, data, out.data_used);
	len += out.data_used;
	kms_ram_hdr_encode(frame, out.nr_recs, 0);
	kms_ram_seal(frame, len);
	if (ps->out_lock)
		pthread_mutex_lock(ps->out_lock);
	ret = chan_send(ps->out, KMS_RAM, frame, len);
	if (ps->out_lock)
		pthread_mutex_unlock(ps->out_lock);
	if (ret) {
		ps_fail(ps, ret, "preempt channel: sending pages: %s",
			chan_strerror(ret));
		return ret;
	}
	atomic_fetch_add(&ps->pages, nr);
	atomic_fetch_add(&ps->taken, out.taken);
	atomic_fetch_add(&ps->bytes, chan_frame_bytes(ps->out, len));
	/* Sent at once, paid by the background stream (--max-bandwidth). */
	if (ps->s)
		ratelimit_charge(ps->s->rl, chan_frame_bytes(ps->out, len));
	return 0;
}

static void *ps_main(void *arg)
{
	struct page_server *ps = arg;
	uint64_t gpa[KMS_MAX_REQUEST];
	struct kms_frame_hdr h;
	struct kmig_rec *recs;
	uint8_t *buf, *frame;
	struct kms_error e;
	uint32_t nr;
	uint64_t t;
	int ret;

	/* Only the preempt channel's server jumps the queue, not the pulls. */
	if (ps->urgent)
		urgent_thread();
	buf = malloc(KMS_REQUEST_LEN(KMS_MAX_REQUEST));
	frame = malloc(kms_ram_len(KMS_MAX_REQUEST, KMS_MAX_REQUEST));
	recs = calloc(KMS_MAX_REQUEST, sizeof(*recs));
	if (!buf || !frame || !recs) {
		ps_fail(ps, -ENOMEM, "out of memory");
		goto out;
	}
	while (!atomic_load(&ps->stop)) {
		ret = chan_poll_in(ps->pre, CHAN_TICK_MS);
		if (ret == 0)
			continue;
		if (ret > 0)
			ret = chan_recv(ps->pre, &h, buf,
					KMS_REQUEST_LEN(KMS_MAX_REQUEST), &e);
		else
			kms_errorf(&e, "preempt channel: %s", chan_strerror(ret));
		if (ret) {
			if (ret != -ESHUTDOWN)
				ps_fail(ps, ret, "%s", e.msg);
			break;
		}
		if (h.type != KMS_REQUEST) {
			ps_fail(ps, -EPROTO, "preempt channel: unexpected %s frame",
				kms_frame_name(h.type));
			break;
		}
		t = now_ns();
		ret = kms_request_decode(buf, h.len, ps->layout, gpa, &nr, &e);
		if (ret) {
			ps_fail(ps, ret, "preempt channel: %s", e.msg);
			break;
		}
		atomic_fetch_add(&ps->requests, 1);
		if (ps_check_repeat(ps, gpa, nr) ||
		    ps_serve(ps, gpa, nr, frame, recs))
			break;
		atomic_fetch_add(&ps->serve_ns, now_ns() - t);
	}
out:
	free(recs);
	free(frame);
	free(buf);
	return NULL;
}

int page_server_start(struct page_server *ps, int kfd, struct chan *pre,
		      const struct kms_layout *l, struct sender *s,
		      bool urgent)
{
	uint64_t pages = kms_layout_bytes(l) / KMS_PAGE_SIZE;
	sigset_t saved;
	int ret;

	memset(ps, 0, sizeof(*ps));
	ps->kfd = kfd;
	ps->pre = pre;
	ps->layout = l;
	ps->s = s;
	ps->urgent = urgent;
	ps->out = pre;
	if (getenv("KMIG_BENCH_URGENT_ON_DATA")) {
		ps->out = &s->chans[0];
		ps->out_lock = &s->chan_locks[0];
	}
	pthread_mutex_init(&ps->lock, NULL);
	atomic_init(&ps->stop, 0);
	atomic_init(&ps->refused, 0);
	pre->stop = &ps->stop;
	ps->served = calloc((pages + 63) / 64, sizeof(*ps->served));
	if (!ps->served)
		return -ENOMEM;
	signals_block(&saved);
	ret = pthread_create(&ps->thread, NULL, ps_main, ps);
	signals_restore(&saved);
	if (ret)
		return -ret;
	ps->up = true;
	return 0;
}

void page_server_stop(struct page_server *ps)
{
	atomic_store(&ps->stop, 1);
	if (ps->up)
		pthread_join(ps->thread, NULL);
	ps->up = false;
	free(ps->served);
	ps->served = NULL;
	pthread_mutex_destroy(&ps->lock);
}
