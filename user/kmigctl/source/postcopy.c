// SPDX-License-Identifier: GPL-2.0
/*
 * Postcopy, the source's side: instead of sending the last dirty pages
 * with the VM paused, tell the destination which of its pages are stale
 * (DISCARD), send the device state, and let it start the VM at once
 * (POSTCOPY, READY, GO, ACK: the commit protocol's steps, commit.h).
 * Then the stale pages follow in one background round on the data
 * channels, while the page server (pageserve.c) answers the pages the
 * running guest faults on first, on the preempt channel. The destination
 * says DONE when it has every page; only then does the source VMM quit.
 *
 * From postcopy's ACK on, the source VM must never resume (it runs on the
 * destination) and must not go away either: some pages exist only here.
 * A failure then leaves it paused and its VMM up (SRC_POSTCOPY).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "migrate.h"
#include "signals.h"
#include "testhook.h"

/* Sends the DISCARD frames for what the bitmaps hold now; counts pages. */
static int postcopy_discards(struct migration *m, uint64_t *pages)
{
	struct kmig_memslot *slots = NULL;
	struct kms_discard *d = NULL;
	__u64 *bm = NULL;
	uint64_t p, run;
	unsigned int nr_slots, i;
	uint8_t *buf = NULL;
	uint32_t nr = 0;
	int ret;

	*pages = 0;
	ret = kmig_get_memslots(m->kfd, &slots, &nr_slots, NULL);
	if (ret)
		return migration_fail(m, "failed", "KMIG_GET_MEMSLOTS: %s",
				      kmig_strerror(ret));
	d = malloc(KMS_MAX_DISCARD * sizeof(*d));
	buf = malloc(KMS_DISCARD_LEN(KMS_MAX_DISCARD));
	if (!d || !buf) {
		ret = migration_fail(m, "failed", "out of memory");
		goto out;
	}
	for (i = 0; i < nr_slots; i++) {
		uint64_t npages = slots[i].size / KMS_PAGE_SIZE;

		free(bm);
		bm = calloc((npages + 63) / 64, sizeof(*bm));
		if (!bm) {
			ret = migration_fail(m, "failed", "out of memory");
			goto out;
		}
		/* Not taken: the background round takes them. */
		ret = kmig_dirty_get_bitmap(m->kfd, slots[i].as_id, slots[i].id, 0,
					    npages, bm, 0, NULL);
		if (ret) {
			ret = migration_fail(m, "failed", "KMIG_DIRTY_GET_BITMAP: %s",
					     kmig_strerror(ret));
			goto out;
		}
		for (p = 0; p < npages; p++) {
			if (!(bm[p / 64] & (1ULL << (p % 64))))
				continue;
			for (run = 1; p + run < npages &&
			     (bm[(p + run) / 64] & (1ULL << ((p + run) % 64))); run++)
				;
			d[nr].gpa = slots[i].gpa + p * KMS_PAGE_SIZE;
			d[nr].npages = run;
			*pages += run;
			p += run - 1;
			if (++nr < KMS_MAX_DISCARD)
				continue;
			ret = mainchan_send(&m->mc, KMS_DISCARD, buf,
					    kms_discard_encode(d, nr, buf));
			nr = 0;
			if (ret)
				goto send_failed;
		}
	}
	/* Tests: a range past the end of guest RAM, which must be refused. */
	if (testhook_misbehave("discard-outside") && nr < KMS_MAX_DISCARD) {
		const struct kms_region *r = &m->hello.layout.r[m->hello.layout.nr - 1];

		d[nr].gpa = r->gpa + r->size;
		d[nr++].npages = 16;
	}
	ret = 0;
	if (nr)
		ret = mainchan_send(&m->mc, KMS_DISCARD, buf,
				    kms_discard_encode(d, nr, buf));
send_failed:
	if (ret)
		ret = migration_fail(m, "failed", "main channel: sending DISCARD: %s",
				     chan_strerror(ret));
out:
	free(bm);
	free(buf);
	free(d);
	free(slots);
	return ret ? -1 : 0;
}

/* The main channel until DONE, watching the page server meanwhile. */
static bool postcopy_check(void *arg)
{
	struct migration *m = arg;
	char msg[256];

	if (kmigctl_stop_signal) {
		migration_fail(m, "failed", "stopped by signal %d (%s) during postcopy",
			       kmigctl_stop_signal, strsignal(kmigctl_stop_signal));
		return true;
	}
	for (uint32_t i = 0; i <= m->nr_ps_data; i++) {
		struct page_server *ps = i ? &m->ps_data[i - 1] : &m->ps;

		if (atomic_load(&ps->refused) &&
		    page_server_error(ps, msg, sizeof(msg))) {
			migration_fail(m, "failed", "%s", msg);
			return true;
		}
	}
	return false;
}

static int postcopy_wait_done(struct migration *m)
{
	uint8_t buf[KMS_MAX_REASON];
	struct kms_frame_hdr h;
	struct kms_error e;
	int ret;

	for (;;) {
		ret = mainchan_recv(&m->mc, &h, buf, sizeof(buf), "DONE", 0,
				    postcopy_check, m, &e);
		if (ret == -ECANCELED)
			return -1;
		if (ret)
			return migration_fail(m, "failed", "%s", e.msg);
		/*
		 * A destination we refused is not done, whatever it says; one
		 * that closed the preempt channel after DONE is.
		 */
		if (h.type == KMS_DONE)
			return postcopy_check(m) ? -1 : 0;
		if (h.type != KMS_LOADED)
			return migration_fail(m, "failed",
					      "main channel: %s frame where DONE was due",
					      kms_frame_name(h.type));
	}
}

int postcopy_run(struct migration *m)
{
	typeof(m->rep.parts) *parts = &m->rep.parts;
	uint8_t pc[KMS_POSTCOPY_LEN];
	struct kmig_dirty_sync sy;
	struct round_stat *rs;
	uint64_t t_pause, t, t_pc, pages;
	int ret;

	m->rep.postcopy.on = true;
	m->rep.postcopy.precopy_ns = now_ns() - m->start_ns;
	if (m->log_rounds)
		fprintf(stderr, "kmig: migrate: postcopy: %s\n", m->rep.postcopy.why);
	if (switchover_pause(m, &sy, &t_pause))
		return -1;
	t = now_ns();
	if (postcopy_discards(m, &pages) || switchover_device_state(m))
		return -1;
	m->rep.postcopy.discarded = pages;
	/* The background round's number: the next one the kernel runs. */
	kms_postcopy_encode(pc, m->rep.nr_rounds ?
			    m->rep.rounds[m->rep.nr_rounds - 1].round + 1 : 1,
			    pages);
	ret = mainchan_send(&m->mc, KMS_POSTCOPY, pc, sizeof(pc));
	if (ret)
		return migration_fail(m, "failed", "main channel: sending POSTCOPY: %s",
				      chan_strerror(ret));
	parts->state = now_ns() - t;

	if (switchover_commit(m, t_pause))
		return -1;
	commit_postcopy(m);
	t_pc = now_ns();
	testhook_hold("postcopy", NULL, NULL);

	ret = page_server_start(&m->ps, m->kfd, &m->pre, &m->hello.layout, &m->s,
				true);
	if (ret)
		return migration_fail(m, "failed", "starting the page server: %s",
				      strerror(-ret));
	m->ps_up = true;
	if (migration_round(m, PHASE_POSTCOPY, sy.dirty_pages, &rs))
		return -1;
	if (sender_end(&m->s)) {
		char msg[256];

		sender_error(&m->s, msg, sizeof(msg));
		return migration_fail(m, "failed", "%s", msg);
	}
	if (postcopy_wait_done(m))
		return -1;
	m->rep.postcopy.postcopy_ns = now_ns() - t_pc;
	commit_acked(m);
	return 0;
}

int postcopy_resume_run(struct migration *m)
{
	uint32_t i;
	int ret;

	m->rep.postcopy.on = true;
	snprintf(m->rep.postcopy.why, sizeof(m->rep.postcopy.why),
		 "--resume: serving the pages the recovering destination lacks");
	m->rep.switchover = "resume";
	if (!m->o.quiet)
		fprintf(stderr, "kmig: migrate: resuming postcopy: serving pages on %u data channels and the preempt channel\n",
			m->o.channels);
	m->ps_data = calloc(m->o.channels, sizeof(*m->ps_data));
	if (!m->ps_data)
		return migration_fail(m, "failed", "out of memory");
	ret = page_server_start(&m->ps, m->kfd, &m->pre, &m->hello.layout, NULL,
				true);
	if (!ret)
		m->ps_up = true;
	for (i = 0; !ret && i < m->o.channels; i++) {
		/* The destination pulls the rest on the data channels. */
		ret = page_server_start(&m->ps_data[i], m->kfd, &m->data[i],
					&m->hello.layout, NULL, false);
		if (!ret)
			m->nr_ps_data++;
	}
	if (ret)
		return migration_fail(m, "failed", "starting the page servers: %s",
				      strerror(-ret));
	if (postcopy_wait_done(m))
		return -1;
	commit_acked(m);
	return 0;
}
