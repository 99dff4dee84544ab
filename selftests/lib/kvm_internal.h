/* SPDX-License-Identifier: GPL-2.0 */
/* Shared between the guest library's own files only. */
#ifndef KMIG_SELFTEST_KVM_INTERNAL_H
#define KMIG_SELFTEST_KVM_INTERNAL_H

#include "kvm_guest.h"

void guest_vcpu_setup(struct guest_vm *vm, int id);
void guest_vcpu_warm_up(struct guest_vcpu *vcpu);

#endif /* KMIG_SELFTEST_KVM_INTERNAL_H */
