// SPDX-License-Identifier: GPL-2.0
/*
 * The switchover: pause the source, send the last dirty pages and the
 * device state, wait until the destination has loaded everything (READY),
 * tell it to start (GO), and quit the source once it runs (ACK).
 *
 * A cancel is honoured until GO is sent. Whatever fails before the ACK
 * arrives, the caller resumes the source VM; a destination that cannot
 * send its ACK stops its own VM, so that only one of the two runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "handshake.h"
#include "migrate.h"

/*
 * Test hook (KMIG_TEST_HOLD_SWITCHOVER=PATH): with the VM paused, create
 * PATH and wait until it is removed, so a test can act in exactly this
 * phase. Bounded, and a cancel ends the wait.
 */
#define HOLD_MAX_NS	(120 * NSEC_PER_SEC)

static int switchover_hold(struct migration *m)
{
	uint64_t until = now_ns() + HOLD_MAX_NS;
	int fd;

	fd = open(m->o.hold_switchover, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0)
		close(fd);
	while (!access(m->o.hold_switchover, F_OK) && now_ns() < until) {
		if (migration_cancelled(m))
			return migration_fail_cancelled(m);
		sleep_ns(50 * NSEC_PER_MSEC);
	}
	return 0;
}

/* Reads the destination's next main-channel frame into @buf. */
static int switchover_recv(struct migration *m, struct kms_frame_hdr *h,
			   uint8_t *buf, size_t cap, const char *what,
			   bool cancellable)
{
	uint64_t since = now_ns();
	char reason[KMS_MAX_REASON + 1];
	struct kms_error e;
	int ret;

	for (;;) {
		if (cancellable && migration_cancelled(m))
			return migration_fail_cancelled(m);
		ret = chan_poll_in(&m->main, CHAN_TICK_MS);
		if (ret < 0)
			return migration_fail(m, "failed", "main channel: %s",
					      chan_strerror(ret));
		if (ret == 0) {
			if (now_ns() - since > (uint64_t)m->o.stall_ms * NSEC_PER_MSEC)
				return migration_fail(m, "failed",
						      "no %s from the destination within %d s",
						      what, m->o.stall_ms / 1000);
			continue;
		}
		ret = chan_recv(&m->main, h, buf, cap, &e);
		if (ret)
			return migration_fail(m, "failed", "waiting for %s: %s",
					      what, e.msg);
		/* The final round's LOADED: not awaited, so skipped here. */
		if (h->type != KMS_LOADED)
			break;
	}
	if (h->type == KMS_ABORT) {
		kms_reason_decode(buf, h->len, reason, sizeof(reason));
		return migration_fail(m, "failed",
				      "the destination aborted the migration: %s",
				      reason);
	}
	return 0;
}

/* Sends the device state and END on the main channel, END on the others. */
static int switchover_send_state(struct migration *m)
{
	char err[256];
	uint32_t len = 0;
	void *blob = NULL;
	int ret;

	ret = vmm_call(&m->vmm, VMM_GET_STATE, NULL, 0, &blob, &len, err,
		       sizeof(err));
	if (ret)
		return migration_fail(m, "failed", "%s", err);
	if (!len || len > KMS_MAX_STATE) {
		free(blob);
		return migration_fail(m, "failed",
				      "the VMM's device state is %u bytes (allowed 1..%d)",
				      len, KMS_MAX_STATE);
	}
	ret = chan_send(&m->main, KMS_DEVICE_STATE, blob, len);
	free(blob);
	if (!ret)
		ret = chan_send(&m->main, KMS_END, NULL, 0);
	if (ret)
		return migration_fail(m, "failed", "main channel: %s",
				      chan_strerror(ret));
	if (sender_end(&m->s)) {
		char msg[256];

		sender_error(&m->s, msg, sizeof(msg));
		return migration_fail(m, "failed", "%s", msg);
	}
	return 0;
}

int switchover_run(struct migration *m)
{
	uint8_t buf[KMS_MAX_REASON];
	struct kmig_dirty_sync sy;
	struct kms_frame_hdr h;
	struct round_stat *rs;
	uint64_t t_pause, t_go, t_ack, start_ns, wire, t;
	typeof(m->rep.parts) *parts = &m->rep.parts;
	struct kms_error e;
	char err[256];
	int ret;

	/* The downtime starts when we ask: the guest may stop at once. */
	t_pause = now_ns();
	ret = vmm_call(&m->vmm, VMM_PAUSE, NULL, 0, NULL, NULL, err, sizeof(err));
	if (ret)
		return migration_fail(m, "failed", "%s", err);
	m->paused = true;
	t = now_ns();
	parts->pause = t - t_pause;

	if (m->o.hold_switchover && switchover_hold(m))
		return -1;
	t = now_ns();
	if (migration_sync(m, &sy))
		return -1;
	parts->sync = now_ns() - t;
	t = now_ns();
	if (migration_round(m, PHASE_SWITCHOVER, sy.dirty_pages, &rs))
		return -1;
	parts->round = now_ns() - t;
	t = now_ns();
	if (switchover_send_state(m))
		return -1;
	parts->state = now_ns() - t;

	t = now_ns();
	if (switchover_recv(m, &h, buf, sizeof(buf), "READY", true))
		return -1;
	parts->load = now_ns() - t;
	if (h.type != KMS_READY)
		return migration_fail(m, "failed",
				      "main channel: %s frame where READY was due",
				      kms_frame_name(h.type));
	/* The last moment a cancel can take effect. */
	if (migration_cancelled(m))
		return migration_fail_cancelled(m);

	ret = chan_send(&m->main, KMS_GO, NULL, 0);
	t_go = now_ns();
	if (ret)
		return migration_fail(m, "failed", "main channel: sending GO: %s",
				      chan_strerror(ret));
	m->committed = true;

	if (switchover_recv(m, &h, buf, sizeof(buf), "ACK", false))
		return -1;
	t_ack = now_ns();
	if (h.type != KMS_ACK)
		return migration_fail(m, "failed",
				      "main channel: %s frame where ACK was due",
				      kms_frame_name(h.type));
	if (kms_ack_decode(buf, h.len, &start_ns, &e))
		return migration_fail(m, "failed", "main channel: %s", e.msg);

	/*
	 * Downtime: pause -> the destination VM running, without a shared
	 * clock. GO -> ACK is two network trips plus the destination's own
	 * start time (which the ACK carries); one trip is half the rest.
	 */
	wire = t_ack - t_go > start_ns ? t_ack - t_go - start_ns : 0;
	m->rep.downtime_ns = (t_go - t_pause) + wire / 2 + start_ns;
	parts->start = t_ack - t_go;
	m->rep.have_downtime = true;
	m->paused = false;	/* never resume: the destination runs now */

	ret = vmm_call(&m->vmm, VMM_QUIT, NULL, 0, NULL, NULL, err, sizeof(err));
	if (ret)
		fprintf(stderr, "kmig: migrate: the source VMM did not quit: %s\n",
			err);
	return 0;
}
