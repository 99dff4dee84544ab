/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kmig_vmm.h: the control protocol of a VMM that kmig migrates.
 *
 * kmigctl drives a migration through the VMM's control socket: it takes
 * the KVM VM fd and the memory layout from it, and pauses, resumes,
 * saves, loads and starts the guest. kmig-vmm (user/vmm/) is the reference
 * implementation; any VMM that speaks this protocol can be migrated by
 * kmigctl. Documentation/kmig-vmm.md describes it with examples.
 *
 * Framing. A unix SOCK_SEQPACKET socket; the VMM listens, clients
 * connect. Each request and each reply is one packet: struct vmm_msg
 * followed by @len bytes of payload, in host byte order. A packet is at
 * most VMM_MSG_MAX bytes (a larger request gets -EMSGSIZE); state blobs
 * are tens of KiB, so both sides should raise their SO_SNDBUF/SO_RCVBUF
 * to a few MiB.
 *
 * One reply per request. The VMM serves a client's requests in order and
 * answers each with exactly one packet of the same @type before it reads
 * the next. @status is 0 or a negative errno; on error the payload is a
 * NUL-terminated message for the user, whatever the request. A request
 * with a payload it does not take, or a malformed header (@status or
 * @reserved not 0, @len not the payload's size), gets -EINVAL.
 *
 *  request        payload in          reply payload
 *  VMM_HELLO      -                   struct vmm_hello, then nr_regions x
 *                                     struct vmm_region; the KVM VM fd
 *                                     rides along (SCM_RIGHTS)
 *  VMM_PAUSE      -                   -  (every vCPU out of KVM_RUN)
 *  VMM_RESUME     -                   -
 *  VMM_GET_STATE  -                   opaque device-state blob (paused)
 *  VMM_SET_STATE  blob from GET_STATE -  (destination, before START)
 *  VMM_START      -                   -  (destination: run the vCPUs)
 *  VMM_CHECK      -                   struct vmm_check: the workload
 *                                     checker's verdict (pauses the guest
 *                                     around the check)
 *  VMM_QUIT       -                   -  (then the VMM exits)
 *
 * The blob carries everything but RAM; its first 8 bytes are a magic
 * that names its format (kmig-vmm's: "KMIGVMM1", user/vmm/state.h).
 *
 * Compatibility. VMM_CONTROL_VERSION grows by one whenever requests or
 * reply fields are added; request numbers and existing fields never
 * change meaning. A VMM answers a request type it does not know with
 * -EOPNOTSUPP. A client reads vmm_hello.version and uses only what that
 * version offers.
 */
#ifndef KMIG_VMM_H
#define KMIG_VMM_H

#include <stdint.h>

#define VMM_CONTROL_VERSION	1
#define VMM_MSG_MAX		(16 << 20)	/* largest packet */

enum vmm_msg_type {
	VMM_HELLO = 1,
	VMM_PAUSE = 2,
	VMM_RESUME = 3,
	VMM_GET_STATE = 4,
	VMM_SET_STATE = 5,
	VMM_START = 6,
	VMM_CHECK = 7,
	VMM_QUIT = 8,
};

struct vmm_msg {
	uint32_t type;		/* enum vmm_msg_type */
	int32_t status;		/* requests: 0; replies: 0 or -errno */
	uint32_t len;		/* payload bytes that follow */
	uint32_t reserved;	/* 0 */
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
