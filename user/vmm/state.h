/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The device-state blob of VMM_GET_STATE / VMM_SET_STATE: everything the
 * destination needs besides RAM to continue the guest exactly.
 *
 * Layout (little endian, as the host): a struct state_header, then
 * nr_sections sections, each a struct state_section followed by @len
 * bytes of payload, padded to 8 bytes. Payloads are KVM's own structs,
 * exactly as the KVM_GET_* ioctls return them, so a reader needs nothing
 * but <linux/kvm.h>:
 *
 *  type            index    payload
 *  STATE_CONFIG    0        struct state_config
 *  STATE_CLOCK     0        struct kvm_clock_data (KVM_GET_CLOCK)
 *  STATE_IRQCHIP   chip id  struct kvm_irqchip (PIC master, slave, IOAPIC)
 *  STATE_CPUID     vCPU     struct kvm_cpuid2 + nent entries
 *  STATE_REGS      vCPU     struct kvm_regs
 *  STATE_SREGS     vCPU     struct kvm_sregs
 *  STATE_FPU       vCPU     struct kvm_fpu
 *  STATE_XSAVE     vCPU     struct kvm_xsave (KVM_GET_XSAVE2's size)
 *  STATE_XCRS      vCPU     struct kvm_xcrs
 *  STATE_MSRS      vCPU     struct kvm_msrs + nmsrs entries
 *  STATE_LAPIC     vCPU     struct kvm_lapic_state
 *  STATE_EVENTS    vCPU     struct kvm_vcpu_events
 *  STATE_MP_STATE  vCPU     struct kvm_mp_state
 *  STATE_DEBUGREGS vCPU     struct kvm_debugregs
 *  STATE_TSC_KHZ   vCPU     uint64_t, KVM_GET_TSC_KHZ
 *
 * Restored in QEMU's order: TSC rate and CPUID first, then regs, xsave
 * (or fpu), xcrs, sregs, MSRs, mp_state, LAPIC, events, debug registers;
 * then the irqchips and the clock.
 */
#ifndef KMIG_VMM_STATE_H
#define KMIG_VMM_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "guest_layout.h"

#define STATE_MAGIC		"KMIGVMM1"	/* 8 bytes, no NUL */
#define STATE_VERSION		1

struct state_header {
	char magic[8];
	uint32_t version;
	uint32_t nr_sections;
	uint64_t size;		/* of the whole blob */
};

struct state_section {
	uint32_t type;		/* enum state_type */
	uint32_t index;		/* vCPU id, irqchip id, or 0 */
	uint32_t len;		/* payload bytes */
	uint32_t reserved;	/* 0 */
};

enum state_type {
	STATE_CONFIG = 1,
	STATE_CLOCK,
	STATE_IRQCHIP,
	STATE_CPUID = 16,
	STATE_REGS,
	STATE_SREGS,
	STATE_FPU,
	STATE_XSAVE,
	STATE_XCRS,
	STATE_MSRS,
	STATE_LAPIC,
	STATE_EVENTS,
	STATE_MP_STATE,
	STATE_DEBUGREGS,
	STATE_TSC_KHZ,
	__STATE_VCPU_END,
};

/* What the destination must match, and how to check the guest. */
struct state_config {
	uint64_t ram_size;
	uint32_t nr_vcpus;
	uint32_t rate_mib;	/* the source's --rate */
	char workload[64];	/* the source's --workload */
};

struct vmm;
struct workload;

/* A checked blob: where each section's payload is in it (NULL: absent). */
#define STATE_NR_IRQCHIPS	3
#define STATE_NR_VCPU_TYPES	(__STATE_VCPU_END - STATE_CPUID)

struct state_part {
	const void *data;	/* NULL: absent */
	uint32_t len;
};

struct state_parsed {
	const struct state_config *config;
	struct state_part clock;
	struct state_part irqchip[STATE_NR_IRQCHIPS];
	struct state_part vcpu[GUEST_MAX_VCPUS][STATE_NR_VCPU_TYPES];
};

/*
 * The vCPUs must be parked. Returns 0 and a malloc'ed blob, or -errno with
 * a message in @err.
 */
int state_save(struct vmm *vmm, void **blob, size_t *len, char *err,
	       size_t errlen);

/*
 * Validates the whole blob, then loads it into the (never run) vCPUs and
 * adopts its workload. 0 or -errno with a message in @err.
 */
int state_load(struct vmm *vmm, const void *blob, size_t len, char *err,
	       size_t errlen);

/*
 * state_load()'s checks alone, without KVM (@vmm is only read): 0 when the
 * blob would be loaded, with its sections in @p (pointers into @blob) and
 * its workload in @wl. Pure, for the fuzzer (user/fuzz/fuzz_state.c).
 */
int state_parse(struct vmm *vmm, const void *blob, size_t len,
		struct state_parsed *p, struct workload *wl, char *err,
		size_t errlen);

#endif /* KMIG_VMM_STATE_H */
