/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KVM's dirty ring (--dirty-ring), as seen from the VMM.
 *
 * In ring mode KVM pushes every page the guest dirties into the vCPU's
 * ring and exits with KVM_EXIT_DIRTY_RING_FULL when the ring is full; the
 * vCPU cannot run again until someone harvests the ring and calls
 * KVM_RESET_DIRTY_RINGS. Harvesting is destructive, so exactly one party
 * may do it:
 *
 *  - while a control client holds the VM fd (it got VMM_HELLO and is still
 *    connected), that is kmig: the vCPU thread sleeps 1 ms and re-enters
 *    KVM_RUN until kmigctl's next KMIG_DIRTY_SYNC has emptied the ring;
 *  - otherwise nobody migrates, and the vCPU thread discards its own ring
 *    so that the guest keeps running.
 */
#ifndef KMIG_VMM_RING_H
#define KMIG_VMM_RING_H

struct vmm;
struct vmm_vcpu;

/* Enables KVM_CAP_DIRTY_LOG_RING; before any vCPU exists. */
void ring_enable(struct vmm *vmm);
void ring_map(struct vmm *vmm, struct vmm_vcpu *v);
void ring_unmap(struct vmm *vmm, struct vmm_vcpu *v);

/* KVM_EXIT_DIRTY_RING_FULL, on the vCPU thread. */
void ring_full(struct vmm_vcpu *v);

/* A control client took the VM fd (VMM_HELLO) / went away. */
void ring_claim(struct vmm *vmm);
void ring_release(struct vmm *vmm);

#endif /* KMIG_VMM_RING_H */
