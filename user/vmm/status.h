/* SPDX-License-Identifier: GPL-2.0 */
/*
 * VMM_STATUS (kmig_vmm.h): the run state, the migration hold and the
 * guest's progress, all read without pausing the guest.
 */
#ifndef KMIG_VMM_STATUS_H
#define KMIG_VMM_STATUS_H

#include <stdint.h>

#include "kmig_vmm.h"

struct vmm;

void status_read(struct vmm *vmm, struct vmm_status *st);

/*
 * Pages the guest's workload wrote so far, over all vCPUs, from the
 * progress the guest keeps in its blocks; 0 without a workload.
 */
uint64_t status_guest_progress(struct vmm *vmm);

#endif /* KMIG_VMM_STATUS_H */
