// SPDX-License-Identifier: GPL-2.0
/*
 * The migration hold: VMM_HOLD, and what a holder's departure means.
 */
#include <errno.h>

#include "hold.h"
#include "postcopy.h"
#include "requests.h"
#include "runctl.h"
#include "status.h"
#include "util.h"
#include "vmm.h"

static bool guest_paused(struct vmm *vmm)
{
	return vmm->started && !runctl_running(vmm);
}

static void release(struct vmm *vmm)
{
	vmm->hold.holder = NULL;
	vmm->hold.pid = 0;
	vmm->hold.phase = VMM_PHASE_NONE;
	vmm->hold.took_over = false;
}

/* 0, or -errno with the reply's message set. */
static int migrate(struct vmm *vmm, const struct request_client *cl,
		   struct request_reply *r)
{
	struct hold *h = &vmm->hold;

	if (h->holder == cl) {
		if (h->phase == VMM_PHASE_MIGRATING)
			return 0;
		return request_error(r, -EINVAL,
				     "this migration committed: it cannot go back to migrating");
	}
	if (h->holder)
		return request_error(r, -EBUSY,
				     "another migration (pid %d) holds this VM",
				     (int)h->pid);
	/* The guest may be running at the destination: not a second time. */
	if (h->orphaned)
		return request_error(r, -EBUSY,
				     "an earlier migration committed and its outcome is unknown: `kmigctl resume` first");
	h->holder = cl;
	h->pid = cl->pid;
	h->phase = VMM_PHASE_MIGRATING;
	return 0;
}

static int not_holder(struct vmm *vmm, struct request_reply *r,
		      const char *what)
{
	if (vmm->hold.holder)
		return request_error(r, -EPERM,
				     "only the migration that holds this VM (pid %d) may %s",
				     (int)vmm->hold.pid, what);
	return request_error(r, -EPERM,
			     "no migration holds this VM: nothing to %s", what);
}

/*
 * A new client takes over an orphaned commit (kmigctl migrate --resume):
 * the guest stays paused, the VMM is no longer orphaned while it holds.
 */
static int take_over(struct vmm *vmm, const struct request_client *cl)
{
	struct hold *h = &vmm->hold;

	vmm_warn("pid %d took over the committed migration: the guest stays paused",
		 (int)cl->pid);
	h->holder = cl;
	h->pid = cl->pid;
	h->phase = VMM_PHASE_COMMITTED;
	h->orphaned = false;
	h->took_over = true;
	return 0;
}

static int commit(struct vmm *vmm, const struct request_client *cl,
		  struct request_reply *r)
{
	struct hold *h = &vmm->hold;

	if (!h->holder && h->orphaned && guest_paused(vmm))
		return take_over(vmm, cl);
	if (h->holder != cl)
		return not_holder(vmm, r, "commit");
	/*
	 * A guest still running here once the destination may start it
	 * would run twice.
	 */
	if (!guest_paused(vmm))
		return request_error(r, -EBUSY,
				     "the guest is not paused: send VMM_PAUSE before committing");
	h->phase = VMM_PHASE_COMMITTED;
	return 0;
}

/* A holder that took over an orphaned commit lets go: as it found it. */
static void reorphan(struct vmm *vmm)
{
	struct hold *h = &vmm->hold;

	if (!h->took_over || h->phase != VMM_PHASE_COMMITTED ||
	    !guest_paused(vmm))
		return;
	vmm_warn("pid %d let go of the committed migration it took over: the guest stays paused, orphaned",
		 (int)h->pid);
	h->orphaned = true;
}

static int unhold(struct vmm *vmm, const struct request_client *cl,
		  struct request_reply *r)
{
	if (vmm->hold.holder != cl)
		return not_holder(vmm, r, "release");
	/* Whoever holds the VM answers for the userfaultfd's faults. */
	if (postcopy_active(&vmm->postcopy))
		return request_error(r, -EBUSY,
				     "postcopy in progress: send VMM_POSTCOPY_END before releasing the VM");
	reorphan(vmm);
	release(vmm);
	return 0;
}

void hold_request(struct vmm *vmm, const struct request_client *cl,
		  const void *payload, size_t len, struct request_reply *r)
{
	const struct vmm_hold *req = payload;
	int ret;

	if (len != sizeof(*req)) {
		request_error(r, -EINVAL, "VMM_HOLD takes a struct vmm_hold (%zu bytes), not %zu",
			      sizeof(*req), len);
		return;
	}
	if (req->reserved) {
		request_error(r, -EINVAL, "VMM_HOLD: reserved must be 0");
		return;
	}
	switch (req->phase) {
	case VMM_PHASE_MIGRATING:
		ret = migrate(vmm, cl, r);
		break;
	case VMM_PHASE_COMMITTED:
		ret = commit(vmm, cl, r);
		break;
	case VMM_PHASE_NONE:
		ret = unhold(vmm, cl, r);
		break;
	default:
		ret = request_error(r, -EINVAL, "VMM_HOLD: unknown phase %u",
				    req->phase);
	}
	if (ret)
		return;
	status_read(vmm, &r->small.status);
	r->payload = &r->small.status;
	r->len = sizeof(r->small.status);
}

bool hold_permits(struct vmm *vmm, const struct request_client *cl,
		  struct request_reply *r)
{
	struct hold *h = &vmm->hold;

	if (!h->holder || h->holder == cl)
		return true;
	request_error(r, -EBUSY,
		      "a live migration (pid %d) holds this VM: cancel it first (kmigctl cancel)",
		      (int)h->pid);
	return false;
}

void hold_resumed(struct vmm *vmm)
{
	vmm->hold.orphaned = false;
}

void hold_client_gone(struct vmm *vmm, const struct request_client *cl)
{
	struct hold *h = &vmm->hold;

	if (h->holder != cl)
		return;
	if (postcopy_active(&vmm->postcopy)) {
		postcopy_client_gone(vmm);
		release(vmm);
		return;
	}
	if (h->phase == VMM_PHASE_MIGRATING && guest_paused(vmm)) {
		vmm_warn("migration client (pid %d) went away before committing: resuming the guest",
			 (int)h->pid);
		runctl_resume(vmm);
	} else if (h->phase == VMM_PHASE_COMMITTED && guest_paused(vmm)) {
		vmm_warn("migration client (pid %d) went away after committing: the guest stays paused; the destination may be running it; `kmigctl resume` resumes it here",
			 (int)h->pid);
		h->orphaned = true;
	}
	release(vmm);
}
