// SPDX-License-Identifier: GPL-2.0
/*
 * The main channel's wait and keepalive (mainchan.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "mainchan.h"
#include "signals.h"

void mainchan_init(struct mainchan *mc, struct chan *c, const char *peer,
		   int peer_timeout_ms)
{
	memset(mc, 0, sizeof(*mc));
	mc->c = c;
	mc->peer = peer;
	mc->peer_timeout_ms = peer_timeout_ms;
	mc->last_rx_ns = now_ns();
	pthread_mutex_init(&mc->lock, NULL);
	pthread_mutex_init(&mc->ka_lock, NULL);
	cond_init_monotonic(&mc->ka_cond);
	atomic_init(&mc->ka_stop, 0);
	atomic_init(&mc->ka_err, 0);
	atomic_init(&mc->ka_out, 0);
}

int mainchan_send(struct mainchan *mc, uint32_t type, const void *payload,
		  uint32_t len)
{
	int ret;

	pthread_mutex_lock(&mc->lock);
	ret = chan_send(mc->c, type, payload, len);
	pthread_mutex_unlock(&mc->lock);
	return ret;
}

/*
 * Sleeps a keepalive period, or less when told to stop; true to stop.
 * (A sleep in ticks made every stop wait up to a tick: on the destination
 * that was in the downtime, between the VM's start and the ACK.)
 */
static bool mainchan_keepalive_sleep(struct mainchan *mc)
{
	uint64_t until = deadline_after_ms(MAINCHAN_KEEPALIVE_MS);
	bool stop;

	pthread_mutex_lock(&mc->ka_lock);
	while (!atomic_load(&mc->ka_stop) &&
	       cond_wait_until(&mc->ka_cond, &mc->ka_lock, until) != ETIMEDOUT)
		;
	stop = atomic_load(&mc->ka_stop);
	pthread_mutex_unlock(&mc->ka_lock);
	return stop;
}

/*
 * Sends regardless of other traffic: a frame every second costs nothing,
 * and the peer then needs no notion of "recent traffic" to judge us.
 */
static void *mainchan_keepalive(void *arg)
{
	struct mainchan *mc = arg;
	int ret;

	while (!atomic_load(&mc->ka_stop)) {
		if (mainchan_keepalive_sleep(mc))
			break;
		ret = mainchan_send(mc, KMS_KEEPALIVE, NULL, 0);
		if (ret) {
			atomic_store(&mc->ka_err, ret);
			break;
		}
		atomic_fetch_add(&mc->ka_out, chan_frame_bytes(mc->c, 0));
	}
	return NULL;
}

int mainchan_start_keepalive(struct mainchan *mc)
{
	sigset_t saved;
	int ret;

	if (mc->ka_up)
		return 0;
	atomic_store(&mc->ka_stop, 0);
	signals_block(&saved);
	ret = -pthread_create(&mc->ka, NULL, mainchan_keepalive, mc);
	signals_restore(&saved);
	if (!ret)
		mc->ka_up = true;
	return ret;
}

void mainchan_stop_keepalive(struct mainchan *mc)
{
	if (!mc->ka_up)
		return;
	pthread_mutex_lock(&mc->ka_lock);
	atomic_store(&mc->ka_stop, 1);
	pthread_cond_signal(&mc->ka_cond);
	pthread_mutex_unlock(&mc->ka_lock);
	pthread_join(mc->ka, NULL);
	mc->ka_up = false;
}

void mainchan_destroy(struct mainchan *mc)
{
	mainchan_stop_keepalive(mc);
	pthread_cond_destroy(&mc->ka_cond);
	pthread_mutex_destroy(&mc->ka_lock);
	pthread_mutex_destroy(&mc->lock);
}

/* Reads the frame that poll() said is there; eats a KEEPALIVE (returns 0). */
static int mainchan_read(struct mainchan *mc, struct kms_frame_hdr *h,
			 uint8_t *buf, size_t cap, struct kms_error *e)
{
	char reason[KMS_MAX_REASON + 1];
	int ret;

	ret = chan_recv(mc->c, h, buf, cap, e);
	if (ret)
		return ret;
	mc->last_rx_ns = now_ns();
	if (h->type == KMS_KEEPALIVE) {
		mc->ka_in += chan_frame_bytes(mc->c, 0);
		return 0;
	}
	if (h->type == KMS_ABORT) {
		kms_reason_decode(buf, h->len, reason, sizeof(reason));
		kms_errorf(e, "%s aborted the migration: %s", mc->peer, reason);
		return -ECONNABORTED;
	}
	return 1;
}

int mainchan_poll(struct mainchan *mc, struct kms_frame_hdr *h, uint8_t *buf,
		  size_t cap, int wait_ms, struct kms_error *e)
{
	uint64_t until = now_ns() + (uint64_t)wait_ms * NSEC_PER_MSEC;
	int ret;

	for (;;) {
		uint64_t now = now_ns();
		int left = now < until ? (until - now) / NSEC_PER_MSEC : 0;

		ret = chan_poll_in(mc->c, left);
		if (ret < 0) {
			kms_errorf(e, "%s: %s", mc->c->name, chan_strerror(ret));
			return ret;
		}
		if (!ret)
			return 0;
		ret = mainchan_read(mc, h, buf, cap, e);
		if (ret)
			return ret;
	}
}

int mainchan_peer_abort(struct mainchan *mc, int wait_ms, struct kms_error *e)
{
	uint8_t buf[KMS_MAX_REASON];
	struct kms_frame_hdr h;

	return mainchan_poll(mc, &h, buf, sizeof(buf), wait_ms, e) == -ECONNABORTED;
}

int mainchan_recv(struct mainchan *mc, struct kms_frame_hdr *h, uint8_t *buf,
		  size_t cap, const char *what, uint64_t deadline_ns,
		  mainchan_check_fn check, void *arg, struct kms_error *e)
{
	uint64_t start = now_ns(), silent_since, now;
	int ret;

	for (;;) {
		if (check && check(arg)) {
			kms_errorf(e, "stopped waiting for %s", what);
			return -ECANCELED;
		}
		ret = mainchan_poll(mc, h, buf, cap, CHAN_TICK_MS, e);
		if (ret > 0)
			return 0;
		if (ret < 0)
			return ret;

		now = now_ns();
		/* What sat in the socket while we were not reading counts. */
		silent_since = mc->last_rx_ns > start ? mc->last_rx_ns : start;
		if (mc->peer_timeout_ms > 0 &&
		    now - silent_since > (uint64_t)mc->peer_timeout_ms * NSEC_PER_MSEC) {
			kms_errorf(e, "%s went silent: nothing on the %s for %d s while waiting for %s (--peer-timeout)",
				   mc->peer, mc->c->name, mc->peer_timeout_ms / 1000,
				   what);
			return -ENOLINK;
		}
		if (deadline_ns && now >= deadline_ns) {
			kms_errorf(e, "no %s from %s within %llu s (--step-timeout)",
				   what, mc->peer,
				   (unsigned long long)((deadline_ns - start +
							 NSEC_PER_SEC / 2) / NSEC_PER_SEC));
			return -ETIME;
		}
		ret = atomic_load(&mc->ka_err);
		if (ret) {
			kms_errorf(e, "%s: sending a KEEPALIVE: %s", mc->c->name,
				   chan_strerror(ret));
			return ret;
		}
	}
}
