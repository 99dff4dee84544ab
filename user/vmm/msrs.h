/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The vCPUs' MSRs for the state blob: every MSR KVM lists in
 * KVM_GET_MSR_INDEX_LIST that this vCPU model can read (EFER, STAR,
 * LSTAR, the TSC, the kvmclock MSRs, ...), as QEMU saves them.
 */
#ifndef KMIG_VMM_MSRS_H
#define KMIG_VMM_MSRS_H

#include <stddef.h>
#include <linux/kvm.h>

struct vmm;

/* Fills vmm->msr_index from KVM's list, keeping the readable ones. */
void msrs_probe(struct vmm *vmm);

/* A malloc'ed struct kvm_msrs with every probed MSR; NULL on failure. */
struct kvm_msrs *msrs_get(struct vmm *vmm, int vcpu_fd);

/*
 * Writes @msrs. An MSR KVM refuses to write is fine if the vCPU already
 * holds that value (some are read-only to the host); anything else is an
 * error: 0 or -errno, with a message in @err.
 */
int msrs_set(int vcpu_fd, const struct kvm_msrs *msrs, char *err,
	     size_t errlen);

#endif /* KMIG_VMM_MSRS_H */
