// SPDX-License-Identifier: GPL-2.0
/*
 * The source's side of the commit protocol (commit.h): its states, how a
 * failure is recorded in each, and what the end of the command does to
 * the VM. The destination's states are driven by incoming.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "commit.h"
#include "kmigctl.h"
#include "migrate.h"
#include "signals.h"

const char *src_state_name(enum src_state s)
{
	static const char *const names[] = {
		[SRC_SETUP] = "setup", [SRC_PRECOPY] = "precopy",
		[SRC_PAUSED] = "paused", [SRC_COMMITTED] = "committed",
		[SRC_GO_SENT] = "go-sent", [SRC_POSTCOPY] = "postcopy",
		[SRC_DONE] = "done",
	};

	return s <= SRC_DONE ? names[s] : "?";
}

const char *dst_state_name(enum dst_state s)
{
	static const char *const names[] = {
		[DST_LISTEN] = "listen", [DST_LOADING] = "loading",
		[DST_READY] = "ready", [DST_POSTCOPY] = "postcopy",
		[DST_STARTED] = "started",
	};

	return s <= DST_STARTED ? names[s] : "?";
}

int migration_fail(struct migration *m, const char *result, const char *fmt,
		   ...)
{
	va_list ap;

	if (!m->rep.error[0]) {
		/* Past GO nothing failed for sure: the destination may run it. */
		m->rep.result = m->state >= SRC_GO_SENT ? "unknown" : result;
		va_start(ap, fmt);
		vsnprintf(m->rep.error, sizeof(m->rep.error), fmt, ap);
		va_end(ap);
	}
	return -1;
}

bool migration_cancelled(struct migration *m)
{
	if (kmigctl_stop_signal)
		return true;
	if (m->state >= SRC_GO_SENT)
		return false;
	if (m->sender_up && atomic_load(&m->s.cancelled))
		return true;
	/* A zero-timeout ring wait only reports the cancelled state. */
	return m->rings && kmig_ring_wait(m->kfd, 0, 0, NULL) == -ECANCELED;
}

int migration_fail_cancelled(struct migration *m)
{
	m->cancelled = m->state < SRC_GO_SENT;
	if (kmigctl_stop_signal)
		return migration_fail(m, "cancelled",
				      "cancelled by signal %d (%s)",
				      kmigctl_stop_signal,
				      strsignal(kmigctl_stop_signal));
	return migration_fail(m, "cancelled",
			      "cancelled (kmigctl cancel %u)", m->rep.kmig_session);
}

int commit_hold(struct migration *m)
{
	char err[256];

	if (vmm_hold(&m->vmm, VMM_PHASE_MIGRATING, NULL, err, sizeof(err)))
		return migration_fail(m, "failed", "%s", err);
	return 0;
}

void commit_precopy(struct migration *m)
{
	m->state = SRC_PRECOPY;
}

int commit_pause(struct migration *m)
{
	char err[256];

	if (vmm_call(&m->vmm, VMM_PAUSE, NULL, 0, NULL, NULL, err, sizeof(err)))
		return migration_fail(m, "failed", "%s", err);
	m->state = SRC_PAUSED;
	return 0;
}

int commit_go(struct migration *m)
{
	uint64_t before;
	char err[256];
	int ret;

	/*
	 * First the VMM: were we to die after GO left, it must not resume
	 * the guest when our control connection closes.
	 */
	if (vmm_hold(&m->vmm, VMM_PHASE_COMMITTED, NULL, err, sizeof(err)))
		return migration_fail(m, "failed", "%s", err);
	m->state = SRC_COMMITTED;

	before = atomic_load(&m->main.bytes_out);
	ret = mainchan_send(&m->mc, KMS_GO, NULL, 0);
	/* Not one byte of GO went out: the destination cannot start. */
	if (ret && atomic_load(&m->main.bytes_out) == before)
		return migration_fail(m, "failed", "main channel: sending GO: %s",
				      chan_strerror(ret));
	m->state = SRC_GO_SENT;
	if (ret)
		return migration_fail(m, "unknown",
				      "main channel: sending GO: %s, after part of it left",
				      chan_strerror(ret));
	return 0;
}

void commit_postcopy(struct migration *m)
{
	m->state = SRC_POSTCOPY;
}

int commit_resume(struct migration *m)
{
	struct vmm_status st;
	char err[256];

	if (vmm_status(&m->vmm, &st, err, sizeof(err)))
		return migration_fail(m, "failed", "%s", err);
	if (!(st.flags & VMM_ST_PAUSED) || !(st.flags & VMM_ST_ORPHANED))
		return migration_fail(m, "failed",
				      "the VMM at %s has no postcopy to resume: its guest is %s%s",
				      m->o.vmm, st.flags & VMM_ST_PAUSED ? "paused" : "not paused",
				      st.flags & VMM_ST_ORPHANED ? "" :
				      ", and no migration left it committed (orphaned)");
	if (vmm_hold(&m->vmm, VMM_PHASE_COMMITTED, NULL, err, sizeof(err)))
		return migration_fail(m, "failed", "%s", err);
	/* Its pages are needed on the other side: never resumed here. */
	m->state = SRC_POSTCOPY;
	return 0;
}

void commit_acked(struct migration *m)
{
	char err[256];

	m->state = SRC_DONE;
	if (vmm_call(&m->vmm, VMM_QUIT, NULL, 0, NULL, NULL, err, sizeof(err)))
		fprintf(stderr, "kmig: migrate: the source VMM did not quit: %s\n",
			err);
}

/* Appends to the report's error. */
static void commit_note(struct migration *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void commit_note(struct migration *m, const char *fmt, ...)
{
	size_t len = strlen(m->rep.error);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m->rep.error + len, sizeof(m->rep.error) - len, fmt, ap);
	va_end(ap);
}

int commit_finish(struct migration *m)
{
	char err[256], cause[sizeof(m->rep.error)];

	switch (m->state) {
	case SRC_SETUP:
	case SRC_PRECOPY:
		m->rep.source_vm = "running";
		break;
	case SRC_PAUSED:
	case SRC_COMMITTED:
		if (vmm_call(&m->vmm, VMM_RESUME, NULL, 0, NULL, NULL, err,
			     sizeof(err))) {
			commit_note(m, "; and the source VM could not be resumed: %s",
				    err);
			m->rep.source_vm = "paused";
		} else {
			m->rep.source_vm = "resumed";
		}
		break;
	case SRC_GO_SENT:
		snprintf(cause, sizeof(cause), "%s", m->rep.error);
		if (m->rep.postcopy.on)
			snprintf(m->rep.error, sizeof(m->rep.error),
				 "outcome unknown: %.200s; the destination may be running the VM in postcopy, with pages only this host has: check it; if it runs, `kmigctl postcopy-recover` there and `kmigctl migrate --resume` here, else `kmigctl resume` here",
				 cause);
		else
			snprintf(m->rep.error, sizeof(m->rep.error),
				 "outcome unknown: %.280s; the destination may be running the VM: check it, then `kmigctl resume --vmm %.100s` here or stop it there",
				 cause, m->o.vmm);
		m->rep.result = "unknown";
		m->rep.source_vm = "paused";
		break;
	case SRC_POSTCOPY:
		snprintf(cause, sizeof(cause), "%s", m->rep.error);
		snprintf(m->rep.error, sizeof(m->rep.error),
			 "postcopy interrupted: %.200s; the VM runs on the destination, which still needs pages that only this host has: the source VMM keeps them, paused (never resume it here); carry on with `kmigctl postcopy-recover` there and `kmigctl migrate --resume` here",
			 cause);
		m->rep.result = "interrupted";
		m->rep.source_vm = "paused";
		break;
	case SRC_DONE:
		m->rep.source_vm = "quit";
		break;
	}
	if (m->state == SRC_DONE && !m->rep.error[0])
		return KMIGCTL_EXIT_OK;
	if (m->state == SRC_GO_SENT)
		return KMIGCTL_EXIT_UNKNOWN;
	if (m->state == SRC_POSTCOPY)
		return KMIGCTL_EXIT_POSTCOPY;
	return m->cancelled ? KMIGCTL_EXIT_CANCELLED : KMIGCTL_EXIT_FAILURE;
}
