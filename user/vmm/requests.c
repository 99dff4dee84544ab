// SPDX-License-Identifier: GPL-2.0
/*
 * What each control request (kmig_vmm.h) does; the migration hold is
 * hold.c's, VMM_STATUS's reply status.c's, postcopy postcopy.c's.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "hold.h"
#include "postcopy.h"
#include "requests.h"
#include "ring.h"
#include "runctl.h"
#include "state.h"
#include "status.h"
#include "util.h"
#include "vmm.h"

int request_error(struct request_reply *r, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
	va_end(ap);
	r->status = status;
	r->payload = r->msg;
	r->len = strlen(r->msg) + 1;
	return status;
}

static void do_hello(struct vmm *vmm, struct request_client *cl,
		     struct request_reply *r)
{
	size_t len = sizeof(struct vmm_hello) +
		     vmm->ram.nr_regions * sizeof(struct vmm_region);
	struct vmm_hello *hello = calloc(1, len);
	struct vmm_region *region = (struct vmm_region *)(hello + 1);
	int i;

	if (!hello) {
		request_error(r, -ENOMEM, "out of memory");
		return;
	}
	hello->version = VMM_CONTROL_VERSION;
	hello->nr_vcpus = vmm->nr_vcpus;
	hello->nr_regions = vmm->ram.nr_regions;
	hello->incoming = vmm->opt.incoming;
	hello->ram_size = vmm->ram.size;
	snprintf(hello->workload, sizeof(hello->workload), "%s",
		 vmm->wl.spec);
	for (i = 0; i < vmm->ram.nr_regions; i++)
		region[i] = (struct vmm_region) {
			.gpa = vmm->ram.region[i].gpa,
			.size = vmm->ram.region[i].size,
			.slot = i,
			.flags = KVM_MEM_LOG_DIRTY_PAGES,
		};
	/* This client may now harvest the dirty log: hands off the ring. */
	if (!cl->claimed) {
		cl->claimed = true;
		ring_claim(vmm);
	}
	r->payload = r->to_free = hello;
	r->len = len;
	r->pass_fd = vmm->vm_fd;
}

static void do_pause(struct vmm *vmm, struct request_reply *r)
{
	(void)r;
	/* A VMM that has not started has nothing running to pause. */
	if (vmm->started)
		runctl_pause(vmm);
}

static void do_resume(struct vmm *vmm, struct request_reply *r)
{
	if (!vmm->started) {
		request_error(r, -EINVAL, "not started yet: send VMM_START");
		return;
	}
	runctl_resume(vmm);
	hold_resumed(vmm);
}

static void do_get_state(struct vmm *vmm, struct request_reply *r)
{
	char err[sizeof(r->msg)];
	void *blob;
	size_t len;
	int ret;

	if (!vmm->have_workload) {
		request_error(r, -ENODATA, "no guest state yet: this VMM waits for VMM_SET_STATE");
		return;
	}
	if (runctl_running(vmm)) {
		request_error(r, -EBUSY, "the guest is running: send VMM_PAUSE first");
		return;
	}
	/* With pages missing here, a blob would describe a partial image. */
	if (postcopy_active(&vmm->postcopy)) {
		request_error(r, -EBUSY, "postcopy in progress: this side's memory is incomplete until VMM_POSTCOPY_END");
		return;
	}
	ret = state_save(vmm, &blob, &len, err, sizeof(err));
	if (ret) {
		request_error(r, ret, "%s", err);
		return;
	}
	r->payload = r->to_free = blob;
	r->len = len;
}

static void do_set_state(struct vmm *vmm, const void *payload, size_t len,
			 struct request_reply *r)
{
	char err[sizeof(r->msg)];
	int ret;

	if (!vmm->opt.incoming || vmm->started) {
		request_error(r, -EBUSY, "%s",
			      vmm->opt.incoming ? "the guest already runs here" :
			      "not a destination: start kmig-vmm with --incoming");
		return;
	}
	ret = state_load(vmm, payload, len, err, sizeof(err));
	if (ret) {
		request_error(r, ret, "%s", err);
		return;
	}
	vmm_warn("state loaded: workload %s, %d vCPUs", vmm->wl.spec,
		 vmm->nr_vcpus);
}

static void do_start(struct vmm *vmm, struct request_reply *r)
{
	if (vmm->started)
		request_error(r, -EALREADY, "the guest already runs");
	else if (!vmm->state_loaded)
		request_error(r, -EINVAL, "no state loaded: send VMM_SET_STATE first");
	else
		runctl_start(vmm);
}

void request_check(struct vmm *vmm, struct vmm_check *out)
{
	bool running = runctl_running(vmm);

	/* Nobody would place the missing pages it touches: it would hang. */
	if (vmm->postcopy.orphaned) {
		memset(out, 0, sizeof(*out));
		snprintf(out->verdict, sizeof(out->verdict),
			 "not checked: postcopy's client went away with pages still missing");
		return;
	}
	if (running)
		runctl_pause(vmm);
	check_memory(vmm, out);
	if (running)
		runctl_resume(vmm);
}

static void do_check(struct vmm *vmm, struct request_reply *r)
{
	if (!vmm->have_workload) {
		request_error(r, -ENODATA, "no workload to check yet: send VMM_SET_STATE first");
		return;
	}
	request_check(vmm, &r->small.check);
	r->payload = &r->small.check;
	r->len = sizeof(r->small.check);
}

static void do_status(struct vmm *vmm, struct request_reply *r)
{
	status_read(vmm, &r->small.status);
	r->payload = &r->small.status;
	r->len = sizeof(r->small.status);
}

/* What a migration that holds the VM keeps for itself (hold.h). */
static bool run_state_request(uint32_t type)
{
	return type == VMM_PAUSE || type == VMM_RESUME ||
	       type == VMM_SET_STATE || type == VMM_START;
}

void request_handle(struct vmm *vmm, struct request_client *cl,
		    uint32_t type, const void *payload, size_t len,
		    struct request_reply *r)
{
	memset(r, 0, sizeof(*r));
	r->pass_fd = -1;
	if (type != VMM_SET_STATE && type != VMM_HOLD && type != VMM_DISCARD &&
	    len) {
		request_error(r, -EINVAL, "request %u takes no payload", type);
		return;
	}
	/* An orphaned postcopy: the guest must not run on a partial image. */
	if ((type == VMM_RESUME || type == VMM_START || type == VMM_CHECK) &&
	    !postcopy_permits_run(vmm, cl, type, r))
		return;
	if (run_state_request(type) && !hold_permits(vmm, cl, r))
		return;
	switch (type) {
	case VMM_HELLO:
		do_hello(vmm, cl, r);
		break;
	case VMM_PAUSE:
		do_pause(vmm, r);
		break;
	case VMM_RESUME:
		do_resume(vmm, r);
		break;
	case VMM_GET_STATE:
		do_get_state(vmm, r);
		break;
	case VMM_SET_STATE:
		do_set_state(vmm, payload, len, r);
		break;
	case VMM_START:
		do_start(vmm, r);
		break;
	case VMM_CHECK:
		do_check(vmm, r);
		break;
	case VMM_QUIT:
		r->quit = true;
		break;
	case VMM_STATUS:
		do_status(vmm, r);
		break;
	case VMM_HOLD:
		hold_request(vmm, cl, payload, len, r);
		break;
	case VMM_POSTCOPY_BEGIN:
		postcopy_begin(vmm, cl, r);
		break;
	case VMM_DISCARD:
		postcopy_discard(vmm, cl, payload, len, r);
		break;
	case VMM_POSTCOPY_END:
		postcopy_end(vmm, cl, r);
		break;
	case VMM_POSTCOPY_MISSING:
		postcopy_missing(vmm, cl, r);
		break;
	default:
		request_error(r, -EOPNOTSUPP, "unknown request type %u", type);
	}
}
