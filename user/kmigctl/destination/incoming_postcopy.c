// SPDX-License-Identifier: GPL-2.0
/*
 * Postcopy on the destination (incoming.h): the source's DISCARDs and
 * POSTCOPY, the userfaultfd set up before the VM starts, the wait until
 * every page is in, and what the placer counted.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "incoming.h"
#include "libkmig.h"
#include "signals.h"

/* A DISCARD frame: checked, then kept until the VMM can drop the pages. */
int incoming_discard(struct incoming *in, const uint8_t *buf,
			    uint32_t len)
{
	struct kms_discard *d;
	struct kms_error e;
	uint32_t nr;

	if (!(in->hello.features & KMS_F_POSTCOPY) || in->state_blob)
		return incoming_fail(in, "main channel: unexpected DISCARD frame");
	if (in->cap_discards - in->nr_discards < KMS_MAX_DISCARD) {
		/* Bounded: ranges only go up, each at least a page of RAM. */
		d = realloc(in->discards, (in->nr_discards + KMS_MAX_DISCARD) *
			    sizeof(*d));
		if (!d)
			return incoming_fail(in, "out of memory");
		in->discards = d;
		in->cap_discards = in->nr_discards + KMS_MAX_DISCARD;
	}
	if (kms_discard_decode(buf, len, &in->layout, &in->discard_next,
			       in->discards + in->nr_discards, &nr,
			       &in->discard_pages, &e))
		return incoming_fail(in, "main channel: %s", e.msg);
	in->nr_discards += nr;
	return 0;
}

/* POSTCOPY instead of END: every precopy round must be loaded by now. */
int incoming_postcopy_frame(struct incoming *in, const uint8_t *buf,
				   uint32_t len)
{
	struct kms_error e;
	uint64_t pages;
	uint32_t done;

	if (!(in->hello.features & KMS_F_POSTCOPY) || !in->state_blob)
		return incoming_fail(in, "main channel: unexpected POSTCOPY frame%s",
				     in->state_blob ? "" : " (no device state)");
	if (kms_postcopy_decode(buf, len, &in->pc_round, &pages, &e))
		return incoming_fail(in, "main channel: %s", e.msg);
	if (pages != in->discard_pages)
		return incoming_fail(in, "POSTCOPY counts %llu discarded pages, the DISCARD frames %llu",
				     (unsigned long long)pages,
				     (unsigned long long)in->discard_pages);
	done = receiver_rounds(&in->r);
	if (in->pc_round != done + 1)
		return incoming_fail(in, "POSTCOPY with round %u next, but the data channels completed %u rounds",
				     in->pc_round, done);
	in->postcopy = true;
	return 0;
}

/*
 * Before READY in postcopy: the VMM's userfaultfd, the stale pages
 * dropped (so that they fault), the fault and preempt threads up, and the
 * data channels placing through the userfaultfd from now on.
 */
/* The VMM's userfaultfd (the same one again on recovery), the placer. */
static int incoming_postcopy_attach(struct incoming *in)
{
	char err[256];
	int ret;

	if (vmm_postcopy_begin(&in->vmm, &in->uffd, err, sizeof(err)))
		return incoming_fail(in, "%s", err);
	ret = dst_postcopy_init(&in->pc, in->uffd, &in->layout, in->hva,
				&in->pre, in->hello.features);
	in->pc_up = true;
	if (ret)
		return incoming_fail(in, "postcopy: %s", strerror(-ret));
	return 0;
}

int incoming_postcopy_prepare(struct incoming *in)
{
	struct vmm_discard *vd;
	sigset_t saved;
	char err[256];
	uint32_t i;
	int ret;

	if (incoming_postcopy_attach(in))
		return -1;
	vd = calloc(in->nr_discards ?: 1, sizeof(*vd));
	if (!vd)
		return incoming_fail(in, "out of memory");
	for (i = 0; i < in->nr_discards; i++) {
		vd[i].gpa = in->discards[i].gpa;
		vd[i].npages = in->discards[i].npages;
		placer_discard(&in->pc.pl, vd[i].gpa, vd[i].npages);
	}
	ret = in->nr_discards ? vmm_discard(&in->vmm, vd, in->nr_discards, err,
					    sizeof(err)) : 0;
	free(vd);
	if (ret)
		return incoming_fail(in, "%s", err);
	atomic_store(&in->r.placer, &in->pc.pl);
	signals_block(&saved);
	ret = dst_postcopy_start(&in->pc);
	signals_restore(&saved);
	if (ret)
		return incoming_fail(in, "starting the postcopy threads: %s",
				     strerror(-ret));
	return 0;
}

/* How often the netlink dump's postcopy counts are brought up to date. */
#define PUBLISH_NS	(500 * 1000000ULL)

/*
 * The placer's counts into the kmig session, for `kmigctl status` on this
 * host (KMIG_POSTCOPY_PROGRESS): at most every PUBLISH_NS unless @now.
 * A module without it is no failure: the report has them all the same.
 */
static void incoming_postcopy_publish(struct incoming *in, bool now)
{
	struct placer *pl = &in->pc.pl;
	struct kmig_postcopy_progress p;
	uint64_t t = now_ns();

	if (in->no_progress || (!now && t - in->t_published < PUBLISH_NS))
		return;
	in->t_published = t;
	memset(&p, 0, sizeof(p));
	p.missing_pages = atomic_load(&pl->nr_pending);
	p.faults = atomic_load(&pl->faults);
	p.requested_pages = atomic_load(&pl->requests);
	p.urgent_pages = atomic_load(&pl->urgent_pages);
	p.background_pages = atomic_load(&pl->bg_pages);
	p.blocked_ns = atomic_load(&pl->blocked_ns);
	p.postcopy_ns = t - in->t_postcopy;
	p.latency_p50_us = placer_latency(pl, 50);
	p.latency_p99_us = placer_latency(pl, 99);
	p.latency_max_us = atomic_load(&pl->max_ns) / 1000;
	if (kmig_postcopy_progress(in->kfd, &p) == -ENOTTY)
		in->no_progress = true;
}

/* Why the wait for postcopy's end stops: done, or a failure (recorded). */
static bool incoming_postcopy_check(void *arg)
{
	struct incoming *in = arg;
	char msg[256];

	incoming_postcopy_publish(in, false);

	if (kmigctl_stop_signal) {
		incoming_fail(in, "stopped by signal %d (%s) during postcopy",
			      kmigctl_stop_signal, strsignal(kmigctl_stop_signal));
		return true;
	}
	if (receiver_error(&in->r, msg, sizeof(msg)) ||
	    dst_postcopy_error(&in->pc, msg, sizeof(msg))) {
		incoming_fail(in, "%s", msg);
		return true;
	}
	/* A recovery has no background round: the pulls are its stream. */
	if ((in->o.recover || receiver_wait_end(&in->r, 0) == 1) &&
	    !atomic_load(&in->pc.pl.nr_pending)) {
		in->pc_complete = true;
		return true;
	}
	return false;
}

/* The VM runs; its missing pages come in. Ends with DONE to the source. */
int incoming_postcopy_wait(struct incoming *in)
{
	uint8_t buf[KMS_MAX_REASON];
	struct kms_frame_hdr h;
	struct kms_error e;
	char err[256];
	int ret;

	ret = mainchan_recv(&in->mc, &h, buf, sizeof(buf), "the end of postcopy",
			    0, incoming_postcopy_check, in, &e);
	if (ret == -ECANCELED && !in->pc_complete)
		return -1;
	if (ret && ret != -ECANCELED)
		return incoming_fail(in, "%s", e.msg);
	if (!ret)
		return incoming_fail(in, "main channel: unexpected %s frame during postcopy",
				     kms_frame_name(h.type));
	dst_postcopy_stop(&in->pc);
	incoming_postcopy_publish(in, true);
	if (vmm_postcopy_end(&in->vmm, err, sizeof(err)))
		return incoming_fail(in, "%s", err);
	close(in->uffd);
	in->uffd = -1;
	/* Every page is here: from now on the VM is ours like any other. */
	in->state = DST_STARTED;
	in->rep.postcopy.postcopy_ns = now_ns() - in->t_postcopy;
	mainchan_stop_keepalive(&in->mc);
	in->main.stop = NULL;
	if (mainchan_send(&in->mc, KMS_DONE, NULL, 0))
		snprintf(in->rep.warning, sizeof(in->rep.warning),
			 "DONE did not reach the source: the VM runs here with all its memory, and the source VMM stays paused until its operator quits it");
	return 0;
}

/* What the postcopy placer counted, for the report. */
void incoming_postcopy_report(struct incoming *in)
{
	typeof(in->rep.postcopy) *r = &in->rep.postcopy;
	struct placer *pl = &in->pc.pl;
	uint32_t i;

	r->on = true;
	r->discarded = atomic_load(&pl->discarded);
	r->faults = atomic_load(&pl->faults);
	r->requests = atomic_load(&pl->requests);
	r->ahead = atomic_load(&pl->ahead);
	r->pulled = atomic_load(&pl->pulled);
	r->urgent_pages = atomic_load(&pl->urgent_pages);
	r->urgent_bytes = atomic_load(&pl->urgent_bytes);
	r->bg_pages = atomic_load(&pl->bg_pages);
	r->bg_bytes = atomic_load(&pl->bg_bytes);
	r->duplicates = atomic_load(&pl->duplicates);
	r->local_zero = atomic_load(&pl->local_zero);
	r->missing = atomic_load(&pl->nr_pending);
	r->blocked_ns = atomic_load(&pl->blocked_ns);
	r->max_us = atomic_load(&pl->max_ns) / 1000;
	r->p50_us = placer_latency(pl, 50);
	r->p99_us = placer_latency(pl, 99);
	for (i = 0; i < PLACE_LAT_BUCKETS; i++)
		r->hist[i] = atomic_load(&pl->lat_hist[i]);
	r->request_ns = atomic_load(&pl->request_ns);
	r->request_frames = atomic_load(&pl->request_frames);
	r->place_ns = atomic_load(&pl->place_ns);
	r->place_frames = atomic_load(&pl->place_frames);
	r->urgent_lat_ns = atomic_load(&pl->urgent_lat_ns);
	r->urgent_lat_n = atomic_load(&pl->urgent_lat_n);
	r->precopy_ns = in->t_postcopy > in->start_ns ?
			in->t_postcopy - in->start_ns : 0;
}


/* The VMM's missing pages (bit per page over its regions) become pending. */
static int incoming_recover_missing(struct incoming *in)
{
	uint64_t nbits = 0, base = 0, p, run;
	uint8_t *bm = NULL;
	char err[256];
	uint32_t r;

	if (vmm_postcopy_missing(&in->vmm, &bm, &nbits, err, sizeof(err)))
		return incoming_fail(in, "%s", err);
	if (nbits != kms_layout_bytes(&in->layout) / KMS_PAGE_SIZE) {
		free(bm);
		return incoming_fail(in, "the VMM reports %llu pages of guest RAM, its memslots hold %llu",
				     (unsigned long long)nbits,
				     (unsigned long long)(kms_layout_bytes(&in->layout) /
							  KMS_PAGE_SIZE));
	}
	for (r = 0; r < in->info.hello.nr_regions; r++) {
		const struct vmm_region *vr = &in->info.regions[r];
		uint64_t pages = vr->size / KMS_PAGE_SIZE;

		if (!kms_layout_contains(&in->layout, vr->gpa, pages)) {
			free(bm);
			return incoming_fail(in, "VMM region %u is not in the memslots", r);
		}
		for (p = 0; p < pages; p++) {
			if (!(bm[(base + p) / 8] & (1U << ((base + p) % 8))))
				continue;
			for (run = 1; p + run < pages &&
			     (bm[(base + p + run) / 8] & (1U << ((base + p + run) % 8)));
			     run++)
				;
			placer_discard(&in->pc.pl, vr->gpa + p * KMS_PAGE_SIZE, run);
			p += run - 1;
		}
		base += pages;
	}
	free(bm);
	return 0;
}

int incoming_recover(struct incoming *in)
{
	sigset_t saved;
	char err[256];
	int ret;

	in->postcopy = true;
	if (incoming_postcopy_attach(in))
		return -1;
	if (incoming_recover_missing(in))
		return -1;
	if (!in->o.quiet)
		fprintf(stderr, "kmig: postcopy-recover: %llu pages missing: asking the source for them\n",
			(unsigned long long)atomic_load(&in->pc.pl.nr_pending));
	atomic_store(&in->r.placer, &in->pc.pl);
	signals_block(&saved);
	ret = dst_postcopy_start(&in->pc);
	if (!ret)
		ret = dst_postcopy_pull(&in->pc, in->data, in->nr_data);
	signals_restore(&saved);
	if (ret)
		return incoming_fail(in, "starting the postcopy threads: %s",
				     strerror(-ret));
	/* The source serves again: the VM goes on. */
	in->state = DST_POSTCOPY;
	in->t_postcopy = now_ns();
	if (vmm_call(&in->vmm, VMM_RESUME, NULL, 0, NULL, NULL, err, sizeof(err)))
		return incoming_fail(in, "%s", err);
	return incoming_postcopy_wait(in);
}
