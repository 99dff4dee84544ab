/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vCPUs: creation, and the thread that runs each one.
 */
#ifndef KMIG_VMM_VCPU_H
#define KMIG_VMM_VCPU_H

#include <stdint.h>

struct vmm;
struct vmm_vcpu;

/* Creates vCPU @id with KVM's supported CPUID, runnable; exits on failure. */
void vcpu_create(struct vmm *vmm, int id);
/* Starts its thread, parked until runctl_start(). */
void vcpu_start_thread(struct vmm *vmm, int id);
void vcpu_destroy(struct vmm *vmm, int id);
/* Sets each vCPU's pacing from the workload and --rate. */
void vcpu_set_pacing(struct vmm *vmm);
/*
 * vCPU thread: @pages were written for the guest (its pacing OUT, or a
 * device's request); sleeps as long as the vCPU's rate needs.
 */
void vcpu_pace(struct vmm_vcpu *v, uint32_t pages);
/* Stderr: what each vCPU did, for the record, at exit. */
void vcpu_report(struct vmm *vmm);

#endif /* KMIG_VMM_VCPU_H */
