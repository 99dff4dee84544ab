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
 *  VMM_POSTCOPY_BEGIN -               struct vmm_postcopy; the   (v3)
 *                                     userfaultfd rides along
 *                                     (SCM_RIGHTS)
 *  VMM_DISCARD    n x struct          -                          (v3)
 *                 vmm_discard
 *  VMM_POSTCOPY_END -                 -                          (v3)
 *  VMM_POSTCOPY_MISSING -             uint64_t nr_pages, then    (v3)
 *                                     the bitmap of missing
 *                                     pages (ceil(nr_pages/8) B)
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
 *    VMM_ST_ORPHANED after a commit (an orphaned postcopy allows it: that
 *    is how recovery reattaches); repeating it is a no-op; -EINVAL once
 *    COMMITTED.
 *  - VMM_PHASE_COMMITTED: source only, with the guest paused, just before
 *    kmigctl tells the destination to start (GO). From then on the
 *    destination may be running the guest, so the VMM never resumes it
 *    by itself. -EPERM from a client that does not hold the VM; -EBUSY
 *    while the guest runs. One exception, the takeover: while nobody
 *    holds the VM, its guest is paused and VMM_ST_ORPHANED is set
 *    because a committed holder went away (a postcopy whose source-side
 *    kmigctl exited; `kmigctl migrate --resume` takes it over), a new
 *    client's VMM_HOLD(VMM_PHASE_COMMITTED) makes it the holder in
 *    COMMITTED: the guest stays paused and VMM_ST_ORPHANED clears while
 *    it holds. When that holder goes away, or releases the hold, with
 *    the guest still paused, VMM_ST_ORPHANED is set again (a takeover
 *    leaves the VMM as it found it); VMM_QUIT ends the VMM as after a
 *    normal migration. Anywhere else (nobody orphaned it, a guest that
 *    runs, another client holds it) VMM_HOLD(COMMITTED) from a client that
 *    does not hold the VM is still -EPERM.
 *  - VMM_PHASE_NONE: the holder releases the hold and nothing else
 *    changes; -EPERM from anyone else; -EBUSY while postcopy is active.
 *
 * While a client holds the VM, VMM_PAUSE, VMM_RESUME, VMM_SET_STATE and
 * VMM_START from any other client get -EBUSY; VMM_HELLO, VMM_GET_STATE,
 * VMM_CHECK, VMM_STATUS and VMM_QUIT are served for anyone. When the
 * holder's connection closes (it exited, crashed or was killed):
 *
 *  - postcopy active (v3): the VMM pauses the guest and sets
 *    VMM_ST_ORPHANED (see Postcopy).
 *  - MIGRATING, guest paused: the VMM resumes it. GO was never sent, so
 *    the destination cannot be running it.
 *  - COMMITTED, guest paused: it stays paused and the VMM sets
 *    VMM_ST_ORPHANED: only an operator who knows whether the destination
 *    runs the guest may resume it (VMM_RESUME, which clears the flag) or
 *    quit it. No new migration may start meanwhile.
 *  - otherwise (a running guest, a destination not started yet): nothing
 *    changes.
 *
 * Postcopy (v3). The destination's guest may start before all its RAM
 * has arrived: a page it touches that is not there yet faults through a
 * userfaultfd, and the destination's kmigctl (another process) places
 * the page with UFFDIO_COPY or UFFDIO_ZEROPAGE on that userfaultfd. Every
 * postcopy request comes from the client that holds VMM_PHASE_MIGRATING
 * on an --incoming VMM (-EPERM from anyone else, -EINVAL on a source):
 *
 *  - VMM_POSTCOPY_BEGIN, before VMM_START: the VMM creates a userfaultfd
 *    that also takes faults from the kernel (KVM faults on guest RAM
 *    through GUP), registers all of guest RAM with
 *    UFFDIO_REGISTER_MODE_MISSING and hands the fd to the client, which
 *    may resolve faults with UFFDIO_COPY, UFFDIO_ZEROPAGE and UFFDIO_WAKE
 *    at the HVAs of the VM's memslots (KMIG_GET_MEMSLOTS). The fd is
 *    O_NONBLOCK (poll() on a blocking userfaultfd reports EPOLLERR), and
 *    the VMM never reads it. The VMM
 *    keeps its own copy open until VMM_POSTCOPY_END, so the userfaultfd
 *    outlives a client that dies (with the last copy closed the kernel
 *    would fill every missing page with zeros). Repeating it, or sending
 *    it after VMM_START while postcopy is active, hands the same
 *    userfaultfd again: this is how a recovering kmigctl reattaches
 *    (faults raised meanwhile wait on it, unread). -EOPNOTSUPP when the
 *    kernel's userfaultfd cannot handle this VMM's RAM.
 *  - VMM_DISCARD, after POSTCOPY_BEGIN and before VMM_START: the pages
 *    the source says are stale here. The VMM drops them, so that the
 *    guest's next touch faults (anonymous RAM: MADV_DONTNEED; memfd RAM:
 *    a hole punched in the memfd). Each range must start page-aligned,
 *    cover at least one page and lie inside one struct vmm_region, and
 *    the payload must be a non-empty whole number of entries: otherwise
 *    -EINVAL, with a message naming the bad entry, and nothing is
 *    discarded.
 *  - VMM_POSTCOPY_END: every page is in. The VMM unregisters guest RAM
 *    and closes its copy of the userfaultfd: RAM is ordinary memory again
 *    (a page never placed now reads as zero) and faults are no longer
 *    reported, even on a copy the client still has open. -EINVAL unless
 *    postcopy is active.
 *
 * While postcopy is active VMM_STATUS reports VMM_ST_POSTCOPY, and
 * VMM_GET_STATE gets -EBUSY (this side's memory is incomplete). When the
 * holder's connection closes during postcopy (kmigctl died, or gave up
 * because the source is gone) the VMM pauses the guest, sets
 * VMM_ST_ORPHANED and, until a client sends VMM_POSTCOPY_BEGIN again,
 * refuses VMM_RESUME, VMM_START and VMM_CHECK from anyone with -EPERM:
 * some pages exist only on the source, and the guest must never run on
 * a partial image. VMM_QUIT still works.
 *
 * Recovering a postcopy (kmigctl postcopy-recover). A new client takes
 * VMM_HOLD(VMM_PHASE_MIGRATING) (allowed while orphaned this way; it
 * cannot release the hold until VMM_POSTCOPY_END) and sends
 * VMM_POSTCOPY_BEGIN, which clears VMM_ST_ORPHANED and hands it the same
 * userfaultfd: faults raised and not yet read wait on it. It asks
 * VMM_POSTCOPY_MISSING which pages are still to come, places them and
 * resumes the guest with VMM_RESUME, then ends with VMM_POSTCOPY_END as
 * the first client would have. Should it go away before the end, the VMM
 * is as after the first loss (paused, orphaned), and another client may
 * recover it the same way, any number of times.
 *
 * VMM_RESUME during postcopy: only from the client that holds the VM and
 * sent VMM_POSTCOPY_BEGIN on its own connection (it serves the faults,
 * so the guest may run); from anyone else -EPERM ("the guest's memory is
 * incomplete here"), and from everyone while orphaned.
 *
 *  - VMM_POSTCOPY_MISSING, from that same client while postcopy is active
 *    (-EPERM from anyone else; -EINVAL before its VMM_POSTCOPY_BEGIN or
 *    outside postcopy): the pages that are not present in the VMM's
 *    memory, those that would fault: never placed since the discard, or
 *    never populated. The reply is a uint64_t nr_pages, all of guest RAM
 *    counted through the regions in VMM_HELLO's order (vmm_region array
 *    order, each region's pages in address order), then ceil(nr_pages/8)
 *    bytes: bit i (byte i / 8, bit i % 8, LSB first) is page i, 1 =
 *    missing. kmig-vmm asks mincore() of its RAM mapping: a page of
 *    anonymous RAM is present when its PTE maps it, a page of memfd RAM
 *    when it is in the memfd's page cache (a punched page is not). A page
 *    swapped out reads as missing too; that is harmless: a copy of it
 *    from the source fails UFFDIO_COPY with -EEXIST (the PTE, or for a
 *    memfd the page-cache slot, holds its swap entry) and is dropped,
 *    and a fault on it swaps it in without the userfaultfd. -E2BIG when
 *    the bitmap does not fit a VMM_MSG_MAX packet (more than 512 GiB).
 *
 * Pausing during postcopy. A vCPU blocked in KVM on a missing page
 * sleeps until the page arrives; the kick signal does not get it out of
 * KVM_RUN (Linux 6.1 wakes it only for a fatal signal). So while postcopy
 * is active VMM_PAUSE waits at most VMM_POSTCOPY_PARK_MS for the vCPUs to
 * park and then counts one that did not as paused: it cannot execute
 * guest code while it waits for its page, and once the page arrives the
 * kick still pending makes KVM_RUN return before the next guest entry, so
 * the vCPU parks without running. Outside postcopy VMM_PAUSE returns only
 * when every vCPU is parked.
 *
 * The VMM's own reads of guest RAM during postcopy (VMM_CHECK, the
 * host-write device, --check-after) are ordinary accesses that may fault
 * and wait for the client: a client must therefore resolve faults in a
 * thread or process other than the one waiting for the reply to such a
 * request, since the VMM serves requests on one thread. VMM_STATUS never
 * waits: it reads the guest's progress only from pages that are present.
 * A VMM_CHECK during postcopy reads pages not yet placed as zero (it
 * skips pages that are not resident): check after VMM_POSTCOPY_END.
 *
 * Compatibility. VMM_CONTROL_VERSION grows by one whenever requests or
 * reply fields are added; request numbers and existing fields never
 * change meaning. A VMM answers a request type it does not know with
 * -EOPNOTSUPP. A client reads vmm_hello.version and uses only what that
 * version offers: VMM_STATUS and VMM_HOLD need version 2 or later,
 * VMM_POSTCOPY_BEGIN, VMM_DISCARD and VMM_POSTCOPY_END version 3.
 * VMM_POSTCOPY_MISSING, recovery (a RESUME from the reattached client)
 * and the takeover of an orphaned commit joined version 3 before it was
 * released: a VMM of an earlier v3 answers VMM_POSTCOPY_MISSING with
 * -EOPNOTSUPP, and such a postcopy cannot be recovered.
 */
#ifndef KMIG_VMM_H
#define KMIG_VMM_H

#include <stdint.h>

#define VMM_CONTROL_VERSION	3
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
	VMM_POSTCOPY_BEGIN = 11,	/* v3 */
	VMM_DISCARD = 12,	/* v3 */
	VMM_POSTCOPY_END = 13,	/* v3 */
	VMM_POSTCOPY_MISSING = 14,	/* v3 */
};

/* How long a pause during postcopy waits for vCPUs to park (see above). */
#define VMM_POSTCOPY_PARK_MS	500

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

/* VMM_POSTCOPY_BEGIN's reply; the userfaultfd comes with it. */
struct vmm_postcopy {
	uint32_t flags;		/* 0; none defined yet */
	uint32_t reserved;	/* 0 */
	uint64_t ram_size;	/* bytes registered: all of guest RAM */
};

/*
 * VMM_DISCARD's payload: an array of these, at most VMM_MSG_MAX bytes.
 * @gpa is page-aligned (4 KiB), @npages >= 1, and the range lies inside
 * one struct vmm_region.
 */
struct vmm_discard {
	uint64_t gpa;
	uint64_t npages;
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
 * destination's state unknown. Or (with VMM_ST_POSTCOPY) a postcopy's
 * client went away: paused, some pages only on the source.
 */
#define VMM_ST_ORPHANED	(1U << 3)
/* VMM_POSTCOPY_BEGIN was sent, VMM_POSTCOPY_END not yet (v3). */
#define VMM_ST_POSTCOPY	(1U << 4)

#endif /* KMIG_VMM_H */
