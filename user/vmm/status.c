// SPDX-License-Identifier: GPL-2.0
/*
 * VMM_STATUS: what the VMM and its guest are doing, read while the guest
 * runs.
 */
#include <string.h>
#include <unistd.h>

#include "postcopy.h"
#include "runctl.h"
#include "status.h"
#include "vmm.h"

/* How long to wait for a vCPU to leave the end of a pass (see below). */
#define EDGE_TRIES	10
#define EDGE_WAIT_US	100

/*
 * A field of vCPU @id's block. The vCPU may be storing it right now: one
 * aligned 8-byte load sees either the old value or the new one.
 */
static uint64_t blk_load(struct vmm *vmm, int id, int field)
{
	const uint64_t *p = (const uint64_t *)(vmm->ram.base +
					       GUEST_BLOCK(id) + field);

	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

/*
 * counter and dirty: passes * pages + pages done in this pass. The guest
 * stores BLK_INDEX after each page and, at the end of a pass, BLK_PASS
 * while BLK_INDEX still says "all pages": only that state is ambiguous (a
 * pass done, or the next one just begun), so wait for the guest to move
 * on. Anywhere else BLK_PASS cannot change while BLK_INDEX stays put,
 * which the two reads of BLK_INDEX around it check. A guest paused at the
 * end of a pass stays there; its count is then right or one pass ahead,
 * and stands still either way.
 */
static uint64_t passes_progress(struct vmm *vmm, int id)
{
	uint64_t pages = blk_load(vmm, id, BLK_PAGES), index, pass, again;
	int tries;

	for (tries = 0;; tries++) {
		index = blk_load(vmm, id, BLK_INDEX);
		pass = blk_load(vmm, id, BLK_PASS);
		again = blk_load(vmm, id, BLK_INDEX);
		if (index == again && (index != pages || tries >= EDGE_TRIES))
			break;
		if (index == again)
			usleep(EDGE_WAIT_US);
	}
	return pass * pages + index;
}

uint64_t status_guest_progress(struct vmm *vmm)
{
	uint64_t sum = 0;
	int id;

	/* An --incoming VMM has no guest blocks until VMM_SET_STATE. */
	if (!vmm->have_workload)
		return 0;
	for (id = 0; id < vmm->nr_vcpus; id++) {
		/* During postcopy: never wait for the client to place it. */
		if (!postcopy_page_present(vmm, GUEST_BLOCK(id)))
			continue;
		switch (vmm->wl.mode) {
		case GUEST_MODE_COUNTER:
		case GUEST_MODE_DIRTY:
			sum += passes_progress(vmm, id);
			break;
		default:
			/* One pass; BLK_PASS only says that it ended. */
			sum += blk_load(vmm, id, BLK_INDEX);
		}
	}
	return sum;
}

void status_read(struct vmm *vmm, struct vmm_status *st)
{
	memset(st, 0, sizeof(*st));
	/* The main thread, this one, is the only one that starts or pauses. */
	if (vmm->started)
		st->flags |= VMM_ST_STARTED;
	if (vmm->started && !runctl_running(vmm))
		st->flags |= VMM_ST_PAUSED;
	if (vmm->opt.incoming)
		st->flags |= VMM_ST_INCOMING;
	if (vmm->hold.orphaned || vmm->postcopy.orphaned)
		st->flags |= VMM_ST_ORPHANED;
	if (postcopy_active(&vmm->postcopy))
		st->flags |= VMM_ST_POSTCOPY;
	st->phase = vmm->hold.phase;
	st->holder_pid = vmm->hold.holder ? vmm->hold.pid : 0;
	st->guest_progress = status_guest_progress(vmm);
}
