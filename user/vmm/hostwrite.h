/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The host-write device: what the hostwrite workload drives. It completes
 * requests the way a virtio device does, by writing guest RAM from the
 * VMM (userspace): the guest names a page of its slice and a sequence
 * number n (BLK_HW_PAGE, BLK_HW_SEQ in its block) and does OUT to
 * GUEST_PORT_HOSTWRITE; the vCPU thread fills the page with
 * hostwrite_word(page, n, 0..511), writes entry (n, page) into the vCPU's
 * used ring and n as its used index (guest_layout.h), reports both pages
 * with KMIG_DIRTY_MARK (mark.h), and only then lets the OUT complete: the
 * guest acts on the completion once its OUT returns. The device paces
 * the requests to the workload's rate, one page each (vcpu_pace()).
 *
 * The device keeps no state of its own (the used index lives in guest
 * RAM, the request names its sequence number): nothing to migrate but RAM.
 */
#ifndef KMIG_VMM_HOSTWRITE_H
#define KMIG_VMM_HOSTWRITE_H

#include <stdint.h>

#include "guest_layout.h"

struct vmm_vcpu;

/* Word @j of the page at RAM offset @off filled by request @seq. */
static inline uint64_t hostwrite_word(uint64_t off, uint64_t seq, unsigned int j)
{
	/* Odd multiplier: distinct sequence numbers give distinct words. */
	return (seq * 0x9e3779b97f4a7c15ULL) ^ (off + 8 * j) ^
	       GUEST_HOSTWRITE_MAGIC;
}

/* Serves vCPU @v's OUT to GUEST_PORT_HOSTWRITE. */
void hostwrite_request(struct vmm_vcpu *v);

#endif /* KMIG_VMM_HOSTWRITE_H */
