// SPDX-License-Identifier: GPL-2.0
/*
 * The switchover: pause the source, send the last dirty pages and the
 * device state, wait until the destination has loaded everything (READY),
 * tell it to start (GO), and quit the source once it runs (ACK).
 *
 * Each step moves the commit protocol (commit.h) on: a cancel or failure
 * before GO resumes the source VM; from GO on nothing does, and a missing
 * ACK leaves the source paused with the outcome unknown.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "kmig_vmm.h"
#include "clock.h"
#include "migrate.h"
#include "testhook.h"

_Static_assert(KMS_MAX_STATE + sizeof(struct vmm_msg) == VMM_MSG_MAX,
	       "a device-state frame must fit one VMM control packet");

static bool switchover_hold_stop(void *arg)
{
	return migration_cancelled(arg);
}

/*
 * The destination's next frame on main; the final round's LOADED is
 * skipped. @order places the wait among the commit's (mainchan_step_ms()):
 * -1 for READY, a little less than --step-timeout, 1 for the ACK, a
 * little more.
 */
int switchover_recv(struct migration *m, struct kms_frame_hdr *h,
		    uint8_t *buf, size_t cap, const char *what, int order)
{
	do {
		if (migration_recv(m, h, buf, cap, what,
				   mainchan_step_ms(m->o.step_timeout_ms, order)))
			return -1;
	} while (h->type == KMS_LOADED);
	return 0;
}

/* VMM_GET_STATE, and the blob as DEVICE_STATE on the main channel. */
int switchover_device_state(struct migration *m)
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
	ret = mainchan_send(&m->mc, KMS_DEVICE_STATE, blob, len);
	free(blob);
	if (ret)
		return migration_fail(m, "failed", "main channel: %s",
				      chan_strerror(ret));
	return 0;
}

/* Sends the device state and END on the main channel, END on the others. */
static int switchover_send_state(struct migration *m)
{
	int ret;

	if (switchover_device_state(m))
		return -1;
	ret = mainchan_send(&m->mc, KMS_END, NULL, 0);
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

int switchover_commit(struct migration *m, uint64_t t_pause)
{
	uint8_t buf[KMS_MAX_REASON];
	struct kms_frame_hdr h;
	uint64_t t_go, t_ack, start_ns, wire, t;
	typeof(m->rep.parts) *parts = &m->rep.parts;
	struct kms_error e;

	t = now_ns();
	if (switchover_recv(m, &h, buf, sizeof(buf), "READY", -1))
		return -1;
	parts->load = now_ns() - t;
	if (h.type != KMS_READY)
		return migration_fail(m, "failed",
				      "main channel: %s frame where READY was due",
				      kms_frame_name(h.type));
	/* The last moment a cancel can take effect. */
	if (migration_cancelled(m))
		return migration_fail_cancelled(m);

	if (commit_go(m))
		return -1;
	t_go = now_ns();
	testhook_hold("go-sent", NULL, NULL);

	if (switchover_recv(m, &h, buf, sizeof(buf), "ACK", 1))
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
	return 0;
}

int switchover_pause(struct migration *m, struct kmig_dirty_sync *sy,
		     uint64_t *t_pause)
{
	typeof(m->rep.parts) *parts = &m->rep.parts;
	uint64_t t;

	/* The downtime starts when we ask: the guest may stop at once. */
	*t_pause = now_ns();
	if (commit_pause(m))
		return -1;
	t = now_ns();
	parts->pause = t - *t_pause;

	if (testhook_hold("switchover", switchover_hold_stop, m))
		return migration_fail_cancelled(m);
	t = now_ns();
	if (migration_sync(m, sy))
		return -1;
	parts->sync = now_ns() - t;
	return 0;
}

int switchover_run(struct migration *m)
{
	struct kmig_dirty_sync sy;
	struct round_stat *rs;
	uint64_t t_pause, t;
	typeof(m->rep.parts) *parts = &m->rep.parts;

	if (switchover_pause(m, &sy, &t_pause))
		return -1;
	t = now_ns();
	if (migration_round(m, PHASE_SWITCHOVER, sy.dirty_pages, &rs))
		return -1;
	parts->round = now_ns() - t;
	t = now_ns();
	if (switchover_send_state(m))
		return -1;
	parts->state = now_ns() - t;

	if (switchover_commit(m, t_pause))
		return -1;
	m->rep.phases.switchover = now_ns() - t_pause;
	commit_acked(m);
	return 0;
}
