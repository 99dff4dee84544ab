/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Booting a fresh guest (source VMM only): page tables, GDT and code in
 * guest RAM, and vCPUs put straight into 64-bit mode with KVM_SET_SREGS,
 * as KVM's selftests do: no firmware, no mode switches in the guest.
 */
#ifndef KMIG_VMM_BOOT_H
#define KMIG_VMM_BOOT_H

#include <stddef.h>

struct vmm;

/* Writes the system area (guest_layout.h) and every vCPU's block. */
void boot_write_memory(struct vmm *vmm);
/* Long mode at guest_entry, RDI = the vCPU's block. */
void boot_vcpu(struct vmm *vmm, int id);

/* The guest code as linked into kmig-vmm (guest.S). */
extern const char guest_code_start[], guest_code_end[], guest_entry[];
extern const char guest_isr[];
extern const char guest_text_words[];

#endif /* KMIG_VMM_BOOT_H */
