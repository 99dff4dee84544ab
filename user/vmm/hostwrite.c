// SPDX-License-Identifier: GPL-2.0
/*
 * The host-write device (see hostwrite.h).
 */
#include <stdio.h>
#include <string.h>

#include "hostwrite.h"
#include "mark.h"
#include "runctl.h"
#include "vcpu.h"
#include "vmm.h"

#define WORDS_PER_PAGE	(GUEST_PAGE_SIZE / 8)

static uint64_t blk_get(struct vmm_vcpu *v, int field)
{
	uint64_t val;

	memcpy(&val, v->vmm->ram.base + GUEST_BLOCK(v->id) + field,
	       sizeof(val));
	return val;
}

void hostwrite_request(struct vmm_vcpu *v)
{
	struct vmm *vmm = v->vmm;
	uint64_t page = blk_get(v, BLK_HW_PAGE), seq = blk_get(v, BLK_HW_SEQ);
	uint64_t buf[WORDS_PER_PAGE], *entry;
	struct mark_range written[2];
	struct workload_slice s;
	uint8_t *ring;
	char why[160];
	unsigned int j;

	/* The guest's request is input: only its own slice, a real number. */
	workload_slice(&vmm->wl, vmm->ram.size, vmm->nr_vcpus, v->id, &s);
	if (s.mode != GUEST_MODE_HOSTWRITE || page % GUEST_PAGE_SIZE ||
	    page < s.first || page >= s.first + s.pages * GUEST_PAGE_SIZE ||
	    !seq) {
		snprintf(why, sizeof(why),
			 "bad host-write request: page 0x%llx, sequence %llu",
			 (unsigned long long)page, (unsigned long long)seq);
		runctl_fail(v, why);
		return;
	}

	/* The "DMA": the data from a device buffer into guest RAM. */
	for (j = 0; j < WORDS_PER_PAGE; j++)
		buf[j] = hostwrite_word(page, seq, j);
	memcpy(vmm->ram.base + page, buf, sizeof(buf));

	/* The used ring: the entry, then the index that publishes it. */
	ring = vmm->ram.base + s.ring;
	entry = (uint64_t *)(ring + HW_RING_FIRST +
			     (seq - 1) % HW_RING_ENTRIES * HW_RING_ENTRY_SIZE);
	entry[0] = seq;
	entry[1] = page;
	__atomic_store_n((uint64_t *)(ring + HW_USED_IDX), seq,
			 __ATOMIC_RELEASE);

	/* After the writes, before the OUT completes: a migration sees them. */
	written[0] = (struct mark_range){ .offset = page, .npages = 1 };
	written[1] = (struct mark_range){ .offset = s.ring, .npages = 1 };
	mark_written(vmm, written, 2);
	v->hostwrites++;
	/*
	 * The device holds the workload's rate, one page per request: evenly
	 * spaced requests, where the guest's pacing OUT every BLK_BATCH pages
	 * would make bursts with quiet gaps between them.
	 */
	vcpu_pace(v, 1);
}
