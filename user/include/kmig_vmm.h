/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kmig_vmm.h: the control protocol of a VMM that kmig migrates.
 *
 * kmigctl drives a migration through the VMM's control socket: it takes
 * the KVM VM fd and the memory layout from it, pauses, resumes, saves,
 * loads and starts the guest, and tells the VMM which phase of the
 * migration it is in. kmig-vmm (user/vmm/) is the reference
 * implementation; any VMM that speaks this protocol can be migrated by
 * kmigctl. Documentation/kmig-vmm.md describes it with examples.
 *
 * Framing. A unix SOCK_SEQPACKET socket; the VMM listens, clients
 * connect (the VMM learns each client's pid with SO_PEERCRED). Each
 * request and each reply is one packet: struct vmm_msg followed by @len
 * bytes of payload, in host byte order. A packet is at most VMM_MSG_MAX
 * bytes (a larger request gets -EMSGSIZE); state blobs are tens of KiB,
 * so both sides should raise their SO_SNDBUF/SO_RCVBUF to a few MiB.
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
 *  VMM_STATUS     -                   struct vmm_status          (v2)
 *  VMM_HOLD       struct vmm_hold     struct vmm_status, after   (v2)
 *
 * The blob carries everything but RAM; its first 8 bytes are a magic
 * that names its format (kmig-vmm's: "KMIGVMM1", user/vmm/state.h).
 *
 * The migration hold (v2). A guest must run on exactly one host whatever
 * fails during a migration: a kmigctl that dies, a lost connection, a
 * destination that never answers. So the migrating client tells the VMM
 * where it stands with VMM_HOLD, and the VMM acts on it when the client
 * goes away. A hold belongs to the connection that took it; a payload of
 * the wrong size, a non-zero @reserved or an unknown phase get -EINVAL.
 *
 *  - VMM_PHASE_MIGRATING: this client migrates this VM, as source or
 *    destination. -EBUSY if another client holds it, or while
 *    VMM_ST_ORPHANED; repeating it is a no-op; -EINVAL once COMMITTED.
 *  - VMM_PHASE_COMMITTED: source only, with the guest paused, just before
 *    kmigctl tells the destination to start (GO). From then on the
 *    destination may be running the guest, so the VMM never resumes it
 *    by itself. -EPERM from a client that does not hold the VM; -EBUSY
 *    while the guest runs.
 *  - VMM_PHASE_NONE: the holder releases the hold and nothing else
 *    changes; -EPERM from anyone else.
 *
 * While a client holds the VM, VMM_PAUSE, VMM_RESUME, VMM_SET_STATE and
 * VMM_START from any other client get -EBUSY; VMM_HELLO, VMM_GET_STATE,
 * VMM_CHECK, VMM_STATUS and VMM_QUIT are served for anyone. When the
 * holder's connection closes (it exited, crashed or was killed):
 *
 *  - MIGRATING, guest paused: the VMM resumes it. GO was never sent, so
 *    the destination cannot be running it.
 *  - COMMITTED, guest paused: it stays paused and the VMM sets
 *    VMM_ST_ORPHANED: only an operator who knows whether the destination
 *    runs the guest may resume it (VMM_RESUME, which clears the flag) or
 *    quit it. No new migration may start meanwhile.
 *  - otherwise (a running guest, a destination not started yet): nothing
 *    changes.
 *
 * Compatibility. VMM_CONTROL_VERSION grows by one whenever requests or
 * reply fields are added; request numbers and existing fields never
 * change meaning. A VMM answers a request type it does not know with
 * -EOPNOTSUPP. A client reads vmm_hello.version and uses only what that
 * version offers: VMM_STATUS and VMM_HOLD need version 2 or later.
 */
#ifndef KMIG_VMM_H
#define KMIG_VMM_H

#include <stdint.h>

#define VMM_CONTROL_VERSION	2
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
	VMM_STATUS = 9,		/* v2 */
	VMM_HOLD = 10,		/* v2 */
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

/* Where the holding client is in its migration (VMM_HOLD). */
enum vmm_phase {
	/* Release the hold. */
	VMM_PHASE_NONE = 0,
	/* This client migrates this VM (source or destination). */
	VMM_PHASE_MIGRATING = 1,
	/*
	 * Source: GO is about to be sent; from now the VMM never resumes the
	 * guest by itself.
	 */
	VMM_PHASE_COMMITTED = 2,
};

/* VMM_HOLD's payload. */
struct vmm_hold {
	uint32_t phase;		/* enum vmm_phase */
	uint32_t reserved;	/* 0, else -EINVAL */
};

/*
 * VMM_STATUS's reply, and VMM_HOLD's: the run state, the hold, and how far
 * the guest got, read without pausing it. A client tells a running guest
 * by @guest_progress moving between two looks; a VMM that cannot count
 * its guest's writes reports 0 there (so does kmig-vmm before it has a
 * workload: --incoming, before VMM_SET_STATE).
 */
struct vmm_status {
	uint32_t flags;		/* VMM_ST_* */
	/* The holder's VMM_PHASE_*; VMM_PHASE_NONE if none. */
	uint32_t phase;
	/* The holding client's pid (SO_PEERCRED), 0: none. */
	int32_t holder_pid;
	uint32_t reserved;	/* 0 */
	/* Pages the guest's workload wrote so far. */
	uint64_t guest_progress;
};

#define VMM_ST_STARTED	(1U << 0)	/* the vCPUs were started */
#define VMM_ST_PAUSED	(1U << 1)	/* started, and paused now */
#define VMM_ST_INCOMING	(1U << 2)	/* started with --incoming */
/*
 * A migration committed, then its client went away: paused, the
 * destination's state unknown.
 */
#define VMM_ST_ORPHANED	(1U << 3)

#endif /* KMIG_VMM_H */
