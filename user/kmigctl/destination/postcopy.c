// SPDX-License-Identifier: GPL-2.0
/*
 * The destination's postcopy threads (postcopy.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/userfaultfd.h>

#include "clock.h"
#include "postcopy.h"
#include "testhook.h"
#include "urgent.h"

/* Fault events read at once. */
#define FAULT_BATCH	64
/*
 * Pages asked for after a faulting page's, while they are still missing:
 * a guest that walks its memory finds them there instead of faulting on
 * each (as the kernel's fault-around maps 16 pages of a file). They go in
 * a REQUEST of their own after the faults', so the source sends the
 * faulting pages first, each vCPU waits only for its own.
 */
#define FAULT_AHEAD	15

static void dpc_fail(struct dst_postcopy *d, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void dpc_fail(struct dst_postcopy *d, int err, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&d->lock);
	if (!d->error) {
		d->error = err ? err : -EIO;
		va_start(ap, fmt);
		vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&d->lock);
	atomic_store(&d->stop, 1);
}

int dst_postcopy_error(struct dst_postcopy *d, char *msg, size_t n)
{
	int err;

	pthread_mutex_lock(&d->lock);
	err = d->error;
	if (msg && n)
		snprintf(msg, n, "%s", d->msg);
	pthread_mutex_unlock(&d->lock);
	return err;
}

static int dpc_send_requests(struct dst_postcopy *d, const uint64_t *gpa,
			     uint32_t nr)
{
	uint8_t buf[KMS_REQUEST_LEN(KMS_MAX_REQUEST)];
	size_t len = kms_request_encode(gpa, nr, buf);
	int ret = chan_send(d->pre, KMS_REQUEST, buf, len);

	if (ret)
		dpc_fail(d, ret, "preempt channel: sending a page request: %s",
			 chan_strerror(ret));
	return ret;
}

/* Handles the fault events in @msg; asks for the pages it cannot resolve. */
static int dpc_faults(struct dst_postcopy *d, const struct uffd_msg *msg,
		      int n)
{
	uint64_t want[KMS_MAX_REQUEST], next[KMS_MAX_REQUEST], gpa;
	uint64_t t = now_ns();
	uint32_t nr = 0, ahead, room;
	struct kms_error e;
	int i, ret;

	for (i = 0; i < n; i++) {
		if (msg[i].event != UFFD_EVENT_PAGEFAULT)
			continue;
		gpa = placer_gpa(&d->pl, msg[i].arg.pagefault.address);
		if (gpa == UINT64_MAX) {
			dpc_fail(d, -EFAULT, "a fault at 0x%llx, outside guest RAM",
				 (unsigned long long)msg[i].arg.pagefault.address);
			return -EFAULT;
		}
		ret = place_fault(&d->pl, gpa, t, &e);
		if (ret < 0) {
			dpc_fail(d, ret, "%s", e.msg);
			return ret;
		}
		if (ret)
			want[nr++] = gpa;
	}
	/* FAULT_BATCH is below KMS_MAX_REQUEST: one frame. */
	if (!nr)
		return 0;
	ret = dpc_send_requests(d, want, nr);
	atomic_fetch_add(&d->pl.request_ns, now_ns() - t);
	atomic_fetch_add(&d->pl.request_frames, 1);
	if (ret)
		return ret;
	for (i = 0, ahead = 0; i < (int)nr; i++) {
		room = KMS_MAX_REQUEST - ahead;
		ahead += place_ahead(&d->pl, want[i],
				     room < d->ahead ? room : d->ahead,
				     next + ahead);
	}
	return ahead ? dpc_send_requests(d, next, ahead) : 0;
}

/* Tests: requests a source must refuse (testhook.h). */
static void dpc_misbehave(struct dst_postcopy *d)
{
	const struct kms_region *r = &d->pl.layout->r[d->pl.layout->nr - 1];
	uint64_t gpa = r->gpa + r->size;

	if (testhook_misbehave("request-outside"))
		dpc_send_requests(d, &gpa, 1);
	if (testhook_misbehave("request-repeat")) {
		gpa = d->pl.layout->r[0].gpa;
		dpc_send_requests(d, &gpa, 1);
		dpc_send_requests(d, &gpa, 1);
	}
}

static void *dpc_fault_main(void *arg)
{
	struct dst_postcopy *d = arg;
	struct uffd_msg msg[FAULT_BATCH];
	struct pollfd pfd = { .fd = d->uffd, .events = POLLIN };
	ssize_t n;

	_Static_assert(FAULT_BATCH <= KMS_MAX_REQUEST, "one REQUEST per read");
	urgent_thread();
	dpc_misbehave(d);
	while (!atomic_load(&d->stop)) {
		if (poll(&pfd, 1, CHAN_TICK_MS) <= 0)
			continue;
		n = read(d->uffd, msg, sizeof(msg));
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			dpc_fail(d, -errno, "reading the userfaultfd: %s",
				 strerror(errno));
			break;
		}
		if (dpc_faults(d, msg, n / sizeof(msg[0])))
			break;
	}
	return NULL;
}

/* Urgent pages: RAM frames on the preempt channel. */
static void *dpc_pre_main(void *arg)
{
	struct dst_postcopy *d = arg;
	struct place_ctx *pc = NULL;
	struct kms_frame_hdr h;
	struct kms_ram *ram;
	struct kms_error e;
	uint8_t *buf;
	uint64_t t;
	int ret;

	urgent_thread();
	buf = malloc(KMS_RAM_MAX_LEN);
	ram = malloc(sizeof(*ram));
	pc = malloc(sizeof(*pc));
	if (!buf || !ram || !pc || place_ctx_init(pc)) {
		dpc_fail(d, -ENOMEM, "out of memory");
		goto out;
	}
	while (!atomic_load(&d->stop)) {
		/* Idle while the guest faults on nothing: not a stall. */
		ret = chan_poll_in(d->pre, CHAN_TICK_MS);
		if (ret == 0)
			continue;
		if (ret > 0)
			ret = chan_recv(d->pre, &h, buf, KMS_RAM_MAX_LEN, &e);
		else
			kms_errorf(&e, "preempt channel: %s", chan_strerror(ret));
		if (ret) {
			if (ret != -ESHUTDOWN)
				dpc_fail(d, ret, "%s", e.msg);
			break;
		}
		if (h.type != KMS_RAM) {
			dpc_fail(d, -EPROTO, "preempt channel: unexpected %s frame",
				 kms_frame_name(h.type));
			break;
		}
		t = now_ns();
		ret = kms_ram_decode(buf, h.len, d->pl.layout, d->features, ram, &e);
		if (!ret)
			ret = place_frame(&d->pl, pc, ram, true, &e);
		if (ret) {
			dpc_fail(d, ret, "preempt channel: %s", e.msg);
			break;
		}
		atomic_fetch_add(&d->pl.place_ns, now_ns() - t);
		atomic_fetch_add(&d->pl.place_frames, 1);
	}
out:
	if (pc && pc->dctx)
		place_ctx_destroy(pc);
	free(pc);
	free(ram);
	free(buf);
	return NULL;
}

struct dpc_puller {
	struct dst_postcopy *d;
	struct chan *c;
	uint32_t idx, n;
	pthread_t thread;
};

/* The gpa of page @i of the layout (kms_layout_page_index()'s inverse). */
static uint64_t dpc_page_gpa(const struct kms_layout *l, uint64_t i)
{
	uint32_t r;

	for (r = 0; r < l->nr; r++) {
		uint64_t pages = l->r[r].size / KMS_PAGE_SIZE;

		if (i < pages)
			return l->r[r].gpa + i * KMS_PAGE_SIZE;
		i -= pages;
	}
	return UINT64_MAX;
}

/* Chunks of KMS_MAX_REQUEST pages, every n-th one from idx, are ours. */
static void *dpc_pull_main(void *arg)
{
	struct dpc_puller *p = arg;
	struct dst_postcopy *d = p->d;
	uint64_t want[KMS_MAX_REQUEST], k, i, end;
	uint8_t buf[KMS_REQUEST_LEN(KMS_MAX_REQUEST)];
	uint32_t nr;
	int ret;

	for (k = p->idx; k * KMS_MAX_REQUEST < d->pl.nr_pages; k += p->n) {
		if (atomic_load(&d->stop))
			break;
		end = (k + 1) * KMS_MAX_REQUEST;
		if (end > d->pl.nr_pages)
			end = d->pl.nr_pages;
		nr = 0;
		for (i = k * KMS_MAX_REQUEST; i < end; i++)
			if (placer_test(d->pl.pending, i))
				want[nr++] = dpc_page_gpa(d->pl.layout, i);
		if (!nr)
			continue;
		ret = chan_send(p->c, KMS_REQUEST, buf,
				kms_request_encode(want, nr, buf));
		if (ret) {
			if (ret != -ESHUTDOWN)
				dpc_fail(d, ret, "%s: asking for missing pages: %s",
					 p->c->name, chan_strerror(ret));
			break;
		}
		atomic_fetch_add(&d->pl.pulled, nr);
	}
	return NULL;
}

int dst_postcopy_pull(struct dst_postcopy *d, struct chan *chans, uint32_t n)
{
	uint32_t i;
	int ret;

	d->pullers = calloc(n, sizeof(*d->pullers));
	if (!d->pullers)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		d->pullers[i] = (struct dpc_puller) {
			.d = d, .c = &chans[i], .idx = i, .n = n,
		};
		ret = pthread_create(&d->pullers[i].thread, NULL, dpc_pull_main,
				     &d->pullers[i]);
		if (ret)
			return -ret;
		d->nr_pullers++;
	}
	return 0;
}

int dst_postcopy_init(struct dst_postcopy *d, int uffd,
		      const struct kms_layout *l, const uint64_t *hva,
		      struct chan *pre, uint32_t features)
{
	const char *ahead;
	unsigned long n;
	int fl;

	memset(d, 0, sizeof(*d));
	d->uffd = uffd;
	d->pre = pre;
	d->features = features;
	d->ahead = FAULT_AHEAD;
	/* For benchmarks: KMIG_BENCH_FAULT_AHEAD=0 asks for faults only. */
	ahead = getenv("KMIG_BENCH_FAULT_AHEAD");
	if (ahead && *ahead) {
		n = strtoul(ahead, NULL, 10);
		d->ahead = n < KMS_MAX_REQUEST ? n : KMS_MAX_REQUEST - 1;
	}
	pthread_mutex_init(&d->lock, NULL);
	atomic_init(&d->stop, 0);
	fl = fcntl(uffd, F_GETFL);
	if (fl < 0 || fcntl(uffd, F_SETFL, fl | O_NONBLOCK))
		return -errno;
	pre->stop = &d->stop;
	return placer_init(&d->pl, uffd, l, hva);
}

int dst_postcopy_start(struct dst_postcopy *d)
{
	int ret;

	ret = pthread_create(&d->fault_thread, NULL, dpc_fault_main, d);
	if (ret)
		return -ret;
	d->nr_threads = 1;
	ret = pthread_create(&d->pre_thread, NULL, dpc_pre_main, d);
	if (ret)
		return -ret;
	d->nr_threads = 2;
	return 0;
}

void dst_postcopy_stop(struct dst_postcopy *d)
{
	atomic_store(&d->stop, 1);
	if (d->nr_threads > 0)
		pthread_join(d->fault_thread, NULL);
	if (d->nr_threads > 1)
		pthread_join(d->pre_thread, NULL);
	d->nr_threads = 0;
	for (uint32_t i = 0; i < d->nr_pullers; i++)
		pthread_join(d->pullers[i].thread, NULL);
	d->nr_pullers = 0;
}

void dst_postcopy_destroy(struct dst_postcopy *d)
{
	dst_postcopy_stop(d);
	free(d->pullers);
	d->pullers = NULL;
	placer_destroy(&d->pl);
	pthread_mutex_destroy(&d->lock);
}
