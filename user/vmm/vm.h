/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The KVM VM: /dev/kvm, KVM_CREATE_VM, the in-kernel irqchip, the dirty
 * logging mode, and RAM's memslots (always with KVM_MEM_LOG_DIRTY_PAGES:
 * kmig harvests KVM's own dirty log and needs it on every writable
 * memslot).
 */
#ifndef KMIG_VMM_VM_H
#define KMIG_VMM_VM_H

struct vmm;

/* Creates the VM, its RAM and memslots, and its vCPUs; exits on failure. */
void vm_create(struct vmm *vmm);
void vm_destroy(struct vmm *vmm);

#endif /* KMIG_VMM_VM_H */
