/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The reference VMM's control protocol (kmig-vmm <-> kmigctl).
 *
 * A unix SOCK_SEQPACKET socket; kmig-vmm listens at --control PATH. Each
 * request and each reply is one packet: struct vmm_msg followed by @len
 * bytes of payload. Every request gets exactly one reply with the same
 * @type; @status is 0 or a negative errno, and on error the payload is a
 * NUL-terminated message for the user.
 *
 *  request          payload in            reply payload
 *  VMM_HELLO        -                     struct vmm_hello, then
 *                                         vmm_hello.nr_regions x
 *                                         struct vmm_region; the KVM VM fd
 *                                         rides along (SCM_RIGHTS)
 *  VMM_PAUSE        -                     -   (every vCPU out of KVM_RUN)
 *  VMM_RESUME       -                     -
 *  VMM_GET_STATE    -                     opaque device-state blob (paused)
 *  VMM_SET_STATE    blob from GET_STATE   -   (destination, before START)
 *  VMM_START        -                     -   (destination: run the vCPUs)
 *  VMM_CHECK        -                     struct vmm_check: the workload
 *                                         checker's verdict (pauses the
 *                                         guest around the check)
 *  VMM_QUIT         -                     -   (then the VMM exits)
 *
 * The blob carries everything but RAM: per vCPU regs, sregs, fpu, xsave,
 * xcrs, MSRs, LAPIC, events, mp_state; the VM's clock; the workload's
 * parameters. Its first 8 bytes are the magic "KMIGVMM1".
 */
#ifndef KMIG_VMM_H
#define KMIG_VMM_H

#include <stdint.h>

#define VMM_CONTROL_VERSION	1
#define VMM_MSG_MAX		(16 << 20)	/* largest packet */

enum vmm_msg_type {
	VMM_HELLO = 1,
	VMM_PAUSE,
	VMM_RESUME,
	VMM_GET_STATE,
	VMM_SET_STATE,
	VMM_START,
	VMM_CHECK,
	VMM_QUIT,
};

struct vmm_msg {
	uint32_t type;		/* enum vmm_msg_type */
	int32_t status;		/* replies: 0 or -errno */
	uint32_t len;		/* payload bytes that follow */
	uint32_t reserved;
};

struct vmm_hello {
	uint32_t version;	/* VMM_CONTROL_VERSION */
	uint32_t nr_vcpus;
	uint32_t nr_regions;
	uint32_t incoming;	/* 1: started with --incoming */
	uint64_t ram_size;
	char workload[64];	/* as given on the command line */
};

struct vmm_region {
	uint64_t gpa;
	uint64_t size;
	uint32_t slot;		/* KVM memslot id */
	uint32_t flags;		/* KVM_MEM_* */
};

struct vmm_check {
	int32_t ok;		/* 1: memory passed the workload's checker */
	uint32_t pages;		/* pages checked */
	char verdict[248];	/* one line for the user */
};

#endif /* KMIG_VMM_H */
