/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * kmig: kernel data plane for live migration of KVM virtual machines.
 *
 * Every ioctl takes one struct that starts with "__u32 size; __u32 flags;".
 * The kernel reads it with copy_struct_from_user(), so the ABI can grow
 * at the end of each struct without a new ioctl number:
 *
 *  - size smaller than the first version of the struct   -> -EINVAL
 *  - size larger than the kernel knows, non-zero tail     -> -E2BIG
 *  - size larger than the kernel knows, all-zero tail     -> accepted
 *  - a flag bit the kernel does not know                  -> -EOPNOTSUPP
 *  - a non-zero field named __reserved                    -> -EOPNOTSUPP
 *  - a pointer the kernel cannot read or write            -> -EFAULT
 *  - an ioctl number /dev/kmig does not know              -> -ENOTTY
 *
 * Output fields are written back for min(size, kernel's size) bytes, so an
 * old binary never sees fields it did not ask for.
 *
 * A session is one open file description of /dev/kmig. It attaches to at
 * most one KVM VM, and a VM is attached to at most one session at a time
 * (harvesting KVM's dirty log is destructive: two harvesters would steal
 * each other's pages). open() fails with -ENFILE while the module's
 * max_sessions sessions (default 256) are open system-wide.
 */
#ifndef _UAPI_LINUX_KMIG_H
#define _UAPI_LINUX_KMIG_H

#include <linux/types.h>
#include <linux/ioctl.h>

/*
 * 2: records carry an address space (struct kmig_rec.as_id), arrays carry
 *    their entry size, KMIG_DIRTY_MARK; KMIG_SEND_ROUND no longer loses
 *    the pages of an interrupted round.
 *
 * KMIG_FETCH came later without a bump: it only adds an ioctl (older
 * modules answer -ENOTTY) and changes nothing of version 2's calls or
 * records; KMIG_FEATURE_FETCH tells whether the module has it. So did
 * KMIG_POSTCOPY_PROGRESS (KMIG_FEATURE_POSTCOPY_PROGRESS), and zstd runs
 * (KMIG_FEATURE_ZSTD_RUN): a new KMIG_SEND_SETUP flag asks for them, and
 * without it the rings carry what they always did.
 */
#define KMIG_API_VERSION	2
#define KMIG_DEVICE_PATH	"/dev/kmig"

/* 0xBA is unused in Documentation/userspace-api/ioctl/ioctl-number.rst */
#define KMIG_TYPE		0xBA

enum {
	KMIG_CMD_BASE = 0x00,
	KMIG_CMD_GET_INFO = KMIG_CMD_BASE,
	KMIG_CMD_ATTACH_VM,
	KMIG_CMD_GET_MEMSLOTS,
	KMIG_CMD_DIRTY_START,
	KMIG_CMD_DIRTY_SYNC,
	KMIG_CMD_DIRTY_GET_BITMAP,
	KMIG_CMD_DIRTY_STOP,
	KMIG_CMD_SEND_SETUP,
	KMIG_CMD_SEND_ROUND,
	KMIG_CMD_RING_WAIT,
	KMIG_CMD_LOAD,
	KMIG_CMD_DIRTY_MARK,
	KMIG_CMD_FETCH,
	KMIG_CMD_POSTCOPY_PROGRESS,
};

/* Feature bits reported by KMIG_GET_INFO. */
#define KMIG_FEATURE_DIRTY_BITMAP	0x1ULL /* KVM_GET_DIRTY_LOG VMs */
#define KMIG_FEATURE_DIRTY_MANUAL	0x2ULL /* ...with MANUAL_PROTECT2 */
#define KMIG_FEATURE_DIRTY_RING		0x4ULL /* KVM_CAP_DIRTY_LOG_RING */
#define KMIG_FEATURE_ZSTD		0x8ULL /* KMIG_SEND_F_ZSTD, KMIG_REC_ZSTD */
#define KMIG_FEATURE_AS_ID		0x10ULL /* kmig_rec.as_id, entry sizes */
#define KMIG_FEATURE_DIRTY_MARK		0x20ULL /* KMIG_DIRTY_MARK */
#define KMIG_FEATURE_FETCH		0x40ULL /* KMIG_FETCH */
#define KMIG_FEATURE_POSTCOPY_PROGRESS	0x80ULL /* KMIG_POSTCOPY_PROGRESS */
#define KMIG_FEATURE_ZSTD_RUN		0x100ULL /* KMIG_SEND_F_ZSTD_RUN, runs */

/**
 * struct kmig_info - ioctl(KMIG_GET_INFO)
 * @size: sizeof(struct kmig_info)
 * @flags: Must be 0
 * @api_version: Output: KMIG_API_VERSION of the running module
 * @session_id: Output: this session's id, as the netlink family shows it
 * @features: Output: KMIG_FEATURE_* bits the module supports
 *
 * Works on every session, attached or not.
 */
struct kmig_info {
	__u32 size;
	__u32 flags;
	__u32 api_version;
	__u32 session_id;
	__aligned_u64 features;
};

#define KMIG_GET_INFO		_IO(KMIG_TYPE, KMIG_CMD_GET_INFO)

/* How kmig harvests the attached VM's dirty pages (fixed by the VMM). */
enum kmig_dirty_mode {
	KMIG_DIRTY_MODE_BITMAP = 1,	/* KVM_GET_DIRTY_LOG, clears on read */
	KMIG_DIRTY_MODE_MANUAL = 2,	/* KVM_GET_DIRTY_LOG + KVM_CLEAR_DIRTY_LOG */
	KMIG_DIRTY_MODE_RING = 3,	/* per-vCPU rings + KVM_RESET_DIRTY_RINGS */
};

/**
 * struct kmig_attach_vm - ioctl(KMIG_ATTACH_VM)
 * @size: sizeof(struct kmig_attach_vm)
 * @flags: Must be 0
 * @vm_fd: A KVM VM file descriptor (from KVM_CREATE_VM). It may have reached
 *         the caller from the VMM through SCM_RIGHTS or pidfd_getfd(); the
 *         session takes its own reference, so the caller may close it.
 * @__reserved: Must be 0
 * @dirty_mode: Output: enum kmig_dirty_mode the VM uses. Decided by the VM's
 *              state at attach: a dirty ring if the VMM enabled
 *              KVM_CAP_DIRTY_LOG_RING, else the dirty bitmap, manual-protect
 *              if KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 is on.
 * @nr_memslots: Output: number of memslots the VM has now
 *
 * Errors: -EBADF @vm_fd is not an open fd; -EINVAL it is not a KVM VM fd;
 * -EBUSY this session is already attached, or the VM is attached to another
 * session; -ESRCH the VM's process has already exited.
 */
struct kmig_attach_vm {
	__u32 size;
	__u32 flags;
	__s32 vm_fd;
	__u32 __reserved;
	__u32 dirty_mode;
	__u32 nr_memslots;
};

#define KMIG_ATTACH_VM		_IO(KMIG_TYPE, KMIG_CMD_ATTACH_VM)

/**
 * struct kmig_memslot - one KVM memslot, as KMIG_GET_MEMSLOTS reports it
 * @as_id: KVM address space (1 is SMM on x86)
 * @id: KVM memslot id within @as_id
 * @flags: The memslot's KVM_MEM_* flags
 * @gpa: Guest physical address of the first byte
 * @size: Bytes; a multiple of the page size
 * @hva: Address of the first byte in the VMM's address space
 */
struct kmig_memslot {
	__u16 as_id;
	__u16 id;
	__u32 flags;
	__aligned_u64 gpa;
	__aligned_u64 size;
	__aligned_u64 hva;
};

/**
 * struct kmig_get_memslots - ioctl(KMIG_GET_MEMSLOTS)
 * @size: sizeof(struct kmig_get_memslots)
 * @flags: Must be 0
 * @nr_slots: Input: entries @slots_uptr has room for. Output: the number of
 *            memslots the VM has; on -ENOSPC the number needed.
 * @slot_size: Bytes per entry at @slots_uptr: sizeof(struct kmig_memslot)
 *             of the caller's header, or 0 for the first version's (32).
 *             A larger entry gets its unknown tail zeroed; a smaller one
 *             than the first version fails with -EINVAL.
 * @generation: Output: KVM's memslot generation. It changes whenever the
 *              VMM adds, removes or edits a memslot.
 * @slots_uptr: Pointer to an array of struct kmig_memslot, ordered by
 *              (as_id, gpa). May be 0 when @nr_slots is 0.
 *
 * Errors: -ENOTCONN the session has no VM; -ENOSPC @nr_slots is too small.
 */
struct kmig_get_memslots {
	__u32 size;
	__u32 flags;
	__u32 nr_slots;
	__u32 slot_size;
	__aligned_u64 generation;
	__aligned_u64 slots_uptr;
};

#define KMIG_GET_MEMSLOTS	_IO(KMIG_TYPE, KMIG_CMD_GET_MEMSLOTS)

/**
 * struct kmig_dirty_start - ioctl(KMIG_DIRTY_START)
 * @size: sizeof(struct kmig_dirty_start)
 * @flags: Must be 0
 * @nr_pages: Output: pages tracked over all memslots
 * @nr_memslots: Output: memslots tracked
 * @__reserved: Must be 0
 *
 * Starts (or restarts) dirty tracking: the session's bitmap for each memslot
 * is set in full, so the first KMIG_DIRTY_SYNC reports every page (the bulk
 * round) and later ones only what the guest wrote since the previous sync.
 * The VMM must have set KVM_MEM_LOG_DIRTY_PAGES on every writable memslot;
 * read-only memslots are tracked as clean after the bulk round.
 *
 * Errors: -ENOTCONN no VM; -ENODATA a writable memslot has no dirty logging;
 * -ESRCH the VM's process has exited; -ENOMEM.
 */
struct kmig_dirty_start {
	__u32 size;
	__u32 flags;
	__aligned_u64 nr_pages;
	__u32 nr_memslots;
	__u32 __reserved;
};

#define KMIG_DIRTY_START	_IO(KMIG_TYPE, KMIG_CMD_DIRTY_START)

/* kmig_dirty_sync.out_flags */
#define KMIG_SYNC_MEMSLOTS_CHANGED	0x1U /* re-read KMIG_GET_MEMSLOTS */

/**
 * struct kmig_dirty_sync - ioctl(KMIG_DIRTY_SYNC)
 * @size: sizeof(struct kmig_dirty_sync)
 * @flags: Must be 0
 * @dirty_pages: Output: pages now set in the session's bitmaps
 * @new_pages: Output: pages this call found dirty that were not yet set
 * @generation: Output: memslot generation the bitmaps follow
 * @harvest_ns: Output: time this call spent harvesting KVM's dirty state
 * @out_flags: Output: KMIG_SYNC_* bits
 * @__reserved: Must be 0
 *
 * Harvests the VM's dirty pages (dirty bitmap or every vCPU's dirty ring,
 * re-arming write protection through KVM's own ioctls) and ORs them into the
 * session's bitmaps. Pages stay set until KMIG_DIRTY_GET_BITMAP with
 * KMIG_BITMAP_CLEAR takes them. A memslot added since the previous sync
 * starts fully dirty; a removed one is dropped.
 *
 * In ring mode a vCPU that exits with KVM_EXIT_DIRTY_RING_FULL cannot run
 * again until a sync has emptied its ring: the VMM calls KMIG_DIRTY_SYNC (on
 * any thread) before KVM_RUN.
 *
 * Errors: -ENOTCONN no VM; -EINVAL tracking not started; -ENODATA a new
 * writable memslot has no dirty logging; -ESRCH the VM's process exited;
 * -EIO KVM refused (the VM is dead); -EAGAIN memslots kept changing under
 * the sync: call again.
 */
struct kmig_dirty_sync {
	__u32 size;
	__u32 flags;
	__aligned_u64 dirty_pages;
	__aligned_u64 new_pages;
	__aligned_u64 generation;
	__aligned_u64 harvest_ns;
	__u32 out_flags;
	__u32 __reserved;
};

#define KMIG_DIRTY_SYNC		_IO(KMIG_TYPE, KMIG_CMD_DIRTY_SYNC)

/* kmig_dirty_bitmap.flags */
#define KMIG_BITMAP_CLEAR	0x1U /* take the pages: clear what was copied */

/**
 * struct kmig_dirty_bitmap - ioctl(KMIG_DIRTY_GET_BITMAP)
 * @size: sizeof(struct kmig_dirty_bitmap)
 * @flags: KMIG_BITMAP_* bits
 * @as_id: Address space of the memslot
 * @slot_id: Memslot id
 * @__reserved: Must be 0
 * @first_page: First page of the range, relative to the memslot; a multiple
 *              of 64
 * @nr_pages: Pages in the range; a multiple of 64 unless the range ends at
 *            the memslot's end; not 0
 * @bitmap_uptr: Output buffer, one bit per page (bit i of 64-bit word w is
 *               page first_page + 64 * w + i), rounded up to 8 bytes
 * @dirty: Output: bits set in the copied range
 *
 * Copies the session's dirty bitmap for a range of one memslot.
 *
 * Errors: -ENOTCONN no VM; -EINVAL tracking not started, or a bad range;
 * -ENOENT no such memslot (it vanished: check KMIG_SYNC_MEMSLOTS_CHANGED).
 */
struct kmig_dirty_bitmap {
	__u32 size;
	__u32 flags;
	__u16 as_id;
	__u16 slot_id;
	__u32 __reserved;
	__aligned_u64 first_page;
	__aligned_u64 nr_pages;
	__aligned_u64 bitmap_uptr;
	__aligned_u64 dirty;
};

#define KMIG_DIRTY_GET_BITMAP	_IO(KMIG_TYPE, KMIG_CMD_DIRTY_GET_BITMAP)

/**
 * struct kmig_dirty_stop - ioctl(KMIG_DIRTY_STOP)
 * @size: sizeof(struct kmig_dirty_stop)
 * @flags: Must be 0
 *
 * Stops tracking and frees the session's bitmaps. Dirty logging on the
 * memslots is the VMM's to turn off. Errors: -ENOTCONN no VM; -EINVAL
 * tracking not started.
 */
struct kmig_dirty_stop {
	__u32 size;
	__u32 flags;
};

#define KMIG_DIRTY_STOP		_IO(KMIG_TYPE, KMIG_CMD_DIRTY_STOP)

/*
 * Sending: worker kthreads scan the session's dirty bitmaps and put one
 * record per page (or per run of zero/never-populated pages) into their own
 * ring, which userspace maps and drains (one ring per data channel).
 */
#define KMIG_PAGE_SIZE		4096
#define KMIG_MAX_WORKERS	16
#define KMIG_MAX_RING_ENTRIES	4096

/* Mmap offset of worker @i's ring; the length is kmig_send_setup.ring_bytes. */
#define KMIG_MMAP_RING(i)	((__u64)(i) << 32)

/* struct kmig_rec.kind */
enum kmig_rec_kind {
	KMIG_REC_PAGE = 1,	/* @len bytes of page data in the record's slot */
	KMIG_REC_ZERO = 2,	/* @npages pages that read as zero */
	KMIG_REC_HOLE = 3,	/* @npages pages never populated: not read */
	KMIG_REC_ROUND_END = 4,	/* the worker finished round @gpa */
	KMIG_REC_ZSTD = 5,	/* @npages pages as one zstd frame of @len bytes */
};

/*
 * KMIG_REC_ZSTD: @npages guest-contiguous pages (1..KMIG_ZSTD_RUN_MAX) of
 * one memslot compressed as a single zstd frame of @len bytes,
 * 1..KMIG_ZSTD_MAX_LEN, that decompresses to exactly @npages *
 * KMIG_PAGE_SIZE bytes. The frame sits at the start of the record's one
 * data slot, so a run is still one record and one slot, and loads alone,
 * in any order, on any channel.
 *
 * Workers send one page this way when its frame is at most
 * KMIG_ZSTD_MAX_LEN bytes (7/8 of a page); otherwise the page goes raw as
 * KMIG_REC_PAGE. Only with KMIG_SEND_F_ZSTD_RUN do they send runs (npages
 * above 1): up to KMIG_ZSTD_RUN_MAX neighbouring data pages whose frame
 * fits KMIG_ZSTD_MAX_LEN; a run that does not fit goes page by page.
 * KMIG_LOAD accepts any @len below KMIG_PAGE_SIZE, and runs on a module
 * with KMIG_FEATURE_ZSTD_RUN (older ones refuse npages above 1: -EINVAL).
 */
#define KMIG_ZSTD_MAX_LEN	(KMIG_PAGE_SIZE - KMIG_PAGE_SIZE / 8)
#define KMIG_ZSTD_RUN_MAX	4
#define KMIG_ZSTD_LEVEL_DEFAULT	1
#define KMIG_ZSTD_LEVEL_MAX	19

/**
 * struct kmig_rec - one ring record
 * @gpa: Guest physical address of the first page (round number for
 *       KMIG_REC_ROUND_END)
 * @npages: Pages covered: 1 for KMIG_REC_PAGE, 1..KMIG_ZSTD_RUN_MAX for
 *          KMIG_REC_ZSTD, a run for ZERO and HOLE
 * @kind: enum kmig_rec_kind
 * @as_id: KVM address space of @gpa (1 is SMM on x86). API version 1 had
 *         a 16-bit @kind here, always below 256: its records read as
 *         address space 0, and a version-1 reader refuses a record of
 *         another space as an unknown kind.
 * @len: Bytes of data in the record's data slot (KMIG_PAGE_SIZE for a raw
 *       page, the frame's size for KMIG_REC_ZSTD, 0 for the others)
 *
 * Record i's data slot is at data + (i & mask) * KMIG_PAGE_SIZE. Arrays
 * of records say their stride (kmig_send_setup.rec_size,
 * kmig_load.rec_size), so the record can grow.
 */
struct kmig_rec {
	__aligned_u64 gpa;
	__u32 npages;
	__u8 kind;
	__u8 as_id;
	__u16 len;
};

/* sizeof(struct kmig_rec) in API version 1, the stride when none is given */
#define KMIG_REC_SIZE_V1	16

/**
 * struct kmig_ring_offsets - byte offsets inside one ring's mapping
 * @head: __u32 consumer index, written by userspace
 * @tail: __u32 producer index, written by the kernel
 * @mask: __u32 ring_entries - 1
 * @entries: __u32 number of records
 * @flags: __u32 reserved for ring flags, 0 today
 * @dropped: __u32 reserved, 0
 * @recs: struct kmig_rec[entries]
 * @data: entries data slots of KMIG_PAGE_SIZE bytes
 *
 * Indices run freely and wrap at 2^32; record i is recs[i & mask].
 *
 *   record i            owner      next step
 *   tail <= i           kernel     fill record + data, store-release tail
 *   head <= i < tail    userspace  load-acquire tail, read record + data,
 *                                  then store-release head = i + 1
 *   i < head            kernel     free for the next fill
 */
struct kmig_ring_offsets {
	__u32 head;
	__u32 tail;
	__u32 mask;
	__u32 entries;
	__u32 flags;
	__u32 dropped;
	__u32 recs;
	__u32 data;
};

/* kmig_send_setup.flags */
#define KMIG_SEND_F_ZSTD	0x1U /* compress pages: KMIG_REC_ZSTD */
#define KMIG_SEND_F_ZSTD_RUN	0x2U /* with F_ZSTD: runs of pages per frame */

/**
 * struct kmig_send_setup - ioctl(KMIG_SEND_SETUP)
 * @size: sizeof(struct kmig_send_setup)
 * @flags: KMIG_SEND_F_* bits
 * @nr_workers: Worker kthreads and rings, 1..KMIG_MAX_WORKERS
 * @ring_entries: Records per ring, a power of two in 16..KMIG_MAX_RING_ENTRIES
 * @ring_bytes: Output: length to mmap for each ring
 * @off: Output: the layout of each ring's mapping
 * @zstd_level: With KMIG_SEND_F_ZSTD: the zstd level,
 *              1..KMIG_ZSTD_LEVEL_MAX, 0 for KMIG_ZSTD_LEVEL_DEFAULT.
 *              Must be 0 without the flag.
 * @__reserved: Must be 0
 * @rec_size: Output: bytes per record in the rings (the stride of @off.recs)
 * @__reserved2: Must be 0
 *
 * Creates the workers and their rings once per session. Map ring i with
 * mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
 * KMIG_MMAP_RING(i)).
 *
 * With KMIG_SEND_F_ZSTD every worker gets its own zstd compression context
 * and sends a data page as KMIG_REC_ZSTD when its frame is at most
 * KMIG_ZSTD_MAX_LEN bytes, else raw as KMIG_REC_PAGE. A module without
 * KMIG_FEATURE_ZSTD refuses the flag with -EOPNOTSUPP.
 *
 * KMIG_SEND_F_ZSTD_RUN (with KMIG_SEND_F_ZSTD, else -EINVAL) lets workers
 * compress up to KMIG_ZSTD_RUN_MAX neighbouring data pages as one
 * KMIG_REC_ZSTD record (npages above 1): give it only when the reader
 * takes such records (a destination module with KMIG_FEATURE_ZSTD_RUN).
 * A run whose frame does not fit KMIG_ZSTD_MAX_LEN goes page by page, and
 * the worker stops trying runs for a while. Each worker then also holds
 * a buffer of KMIG_ZSTD_RUN_MAX pages. A module without
 * KMIG_FEATURE_ZSTD_RUN refuses the flag with -EOPNOTSUPP.
 *
 * The rings and zstd contexts are charged to the caller's memory cgroup.
 *
 * Errors: -ENOTCONN no VM; -EINVAL bad counts or level; -EBUSY already
 * set up; -ENOMEM, also when they exceed the caller's memory cgroup limit
 * (the session is then as before the call).
 */
struct kmig_send_setup {
	__u32 size;
	__u32 flags;
	__u32 nr_workers;
	__u32 ring_entries;
	__aligned_u64 ring_bytes;
	struct kmig_ring_offsets off;
	__u32 zstd_level;
	__u32 __reserved;
	__u32 rec_size;
	__u32 __reserved2;
};

#define KMIG_SEND_SETUP		_IO(KMIG_TYPE, KMIG_CMD_SEND_SETUP)

/**
 * struct kmig_send_round - ioctl(KMIG_SEND_ROUND)
 * @size: sizeof(struct kmig_send_round)
 * @flags: Must be 0
 * @round: Output: this round's number (1 is the first)
 * @__reserved: Must be 0
 * @pages: Output: dirty pages the round took from the bitmaps
 * @normal: Output: pages sent with their data
 * @zero: Output: pages found zero
 * @hole: Output: pages never populated, not read
 * @bytes: Output: data bytes put into the rings (compressed sizes for
 *         KMIG_REC_ZSTD records)
 * @scan_ns: Output: wall time of the round
 * @compressed: Output: pages of @normal sent as KMIG_REC_ZSTD
 * @compressed_bytes: Output: bytes of their frames; they saved
 *                    @compressed * KMIG_PAGE_SIZE - @compressed_bytes
 *
 * Takes every page set in the session's bitmaps (after KMIG_DIRTY_SYNC) and
 * has the workers turn them into records. Returns when every worker has
 * queued its KMIG_REC_ROUND_END record; userspace must drain the rings
 * meanwhile (from other threads), else the round waits for space.
 *
 * A signal interrupts the round with -EINTR, a cancel with -ECANCELED, a
 * page that cannot be read (the VMM unmapped guest RAM) with -EFAULT: the
 * workers stop at their next page. Pages not yet in a ring stay set in
 * the bitmaps (nothing is lost: a later round takes them); records
 * already published are the caller's, to send as usual.
 *
 * While the round runs, the session lets other threads in for
 * KMIG_DIRTY_SYNC (dirty-ring VMs: a vCPU that exited with
 * KVM_EXIT_DIRTY_RING_FULL needs its ring emptied to run on; the pages
 * found join the bitmaps, and this round may take them), KMIG_GET_INFO,
 * KMIG_GET_MEMSLOTS, KMIG_RING_WAIT and KMIG_FETCH (postcopy's urgent
 * pages); anything else fails with -EBUSY.
 *
 * Errors: -ENOTCONN no VM; -EINVAL tracking not started or no
 * KMIG_SEND_SETUP; -ESRCH the VM's process exited; -EINTR; -ECANCELED;
 * -EFAULT; -EOPNOTSUPP an address space other than 0 while the caller's
 * KMIG_SEND_SETUP was of API version 1 (records without @as_id).
 */
struct kmig_send_round {
	__u32 size;
	__u32 flags;
	__u32 round;
	__u32 __reserved;
	__aligned_u64 pages;
	__aligned_u64 normal;
	__aligned_u64 zero;
	__aligned_u64 hole;
	__aligned_u64 bytes;
	__aligned_u64 scan_ns;
	__aligned_u64 compressed;
	__aligned_u64 compressed_bytes;
};

#define KMIG_SEND_ROUND		_IO(KMIG_TYPE, KMIG_CMD_SEND_ROUND)

/**
 * struct kmig_ring_wait - ioctl(KMIG_RING_WAIT)
 * @size: sizeof(struct kmig_ring_wait)
 * @flags: Must be 0
 * @ring: Ring (worker) index
 * @timeout_ms: Longest wait; 0 does not block
 * @ready: Output: records ready to consume (tail - head)
 * @__reserved: Must be 0
 *
 * Tells the ring's worker that records were consumed (it may be waiting for
 * space) and waits until records are ready or the timeout passes. A worker
 * whose ring is full sleeps until this call (or 100 ms): consumers call it,
 * with @timeout_ms 0 if they only want to wake the worker, after releasing
 * records. Unlike the
 * other ioctls it runs concurrently with KMIG_SEND_ROUND.
 *
 * Errors: -EINVAL no KMIG_SEND_SETUP or @ring out of range; -EINTR.
 */
struct kmig_ring_wait {
	__u32 size;
	__u32 flags;
	__u32 ring;
	__u32 timeout_ms;
	__u32 ready;
	__u32 __reserved;
};

#define KMIG_RING_WAIT		_IO(KMIG_TYPE, KMIG_CMD_RING_WAIT)

/**
 * struct kmig_load - ioctl(KMIG_LOAD)
 * @size: sizeof(struct kmig_load)
 * @flags: Must be 0
 * @nr_recs: Records at @recs_uptr, at most 4096
 * @__reserved: Must be 0
 * @recs_uptr: struct kmig_rec[nr_recs] (KMIG_REC_PAGE, _ZSTD, _ZERO or
 *             _HOLE)
 * @data_uptr: The data of the KMIG_REC_PAGE and KMIG_REC_ZSTD records,
 *             back to back, each @len bytes
 * @data_len: Bytes at @data_uptr
 * @done: Output: records applied (on error: before the bad one)
 * @pages: Output: pages written
 * @zeroed: Output: pages cleared because an earlier record had written them
 * @rec_size: Bytes per record at @recs_uptr; 0 for KMIG_REC_SIZE_V1. A
 *            multiple of 8 from 16 to 256; bytes past the kernel's
 *            struct kmig_rec must be zero (-E2BIG otherwise).
 * @__reserved2: Must be 0
 *
 * Each record is written where KVM's memslots put its @as_id and @gpa at
 * that moment (as KVM's own writes to guest memory are): a VMM may edit
 * its memslots between loads. A memslot that changed counts as possibly
 * written, so zero and hole records clear its pages.
 *
 * Destination side: writes pages into the attached VM's RAM from the kernel.
 * Every record must lie inside one memslot; zero and never-populated pages
 * are left untouched (unpopulated) unless this session wrote them before.
 * The destination VM's RAM must start zero.
 *
 * A KMIG_REC_ZSTD record (@len 1..KMIG_PAGE_SIZE - 1, @npages
 * 1..KMIG_ZSTD_RUN_MAX, all inside one memslot) is decompressed into a
 * kernel buffer first and written to guest RAM only if it decompressed to
 * exactly @npages * KMIG_PAGE_SIZE bytes: a bad frame fails with -EINVAL,
 * leaves its pages as they were and counts in neither @done nor @pages.
 *
 * Errors: -ENOTCONN no VM; -EINVAL a record with an unknown kind, a
 * misaligned gpa, a bad length, npages 0 or past its memslot, data past
 * @data_len, or a zstd frame that is corrupt or does not decompress to
 * exactly its pages; -ENOENT a gpa in no memslot; -ESRCH the VM's process
 * exited; -ENOMEM; -EAGAIN the VMM kept editing memslots during the
 * load (@done says how far it got: call again with the rest); -EINTR a
 * fatal signal.
 */
struct kmig_load {
	__u32 size;
	__u32 flags;
	__u32 nr_recs;
	__u32 __reserved;
	__aligned_u64 recs_uptr;
	__aligned_u64 data_uptr;
	__aligned_u64 data_len;
	__aligned_u64 done;
	__aligned_u64 pages;
	__aligned_u64 zeroed;
	__u32 rec_size;
	__u32 __reserved2;
};

#define KMIG_LOAD		_IO(KMIG_TYPE, KMIG_CMD_LOAD)

/**
 * struct kmig_dirty_range - pages the VMM itself wrote
 * @gpa: Guest physical address of the first page; page aligned
 * @npages: Pages, at least 1
 * @as_id: KVM address space of @gpa
 * @__reserved: Must be 0
 */
struct kmig_dirty_range {
	__aligned_u64 gpa;
	__u32 npages;
	__u16 as_id;
	__u16 __reserved;
};

/**
 * struct kmig_dirty_mark - ioctl(KMIG_DIRTY_MARK)
 * @size: sizeof(struct kmig_dirty_mark)
 * @flags: Must be 0
 * @vm_fd: The VM whose guest RAM the caller wrote
 * @nr_ranges: Entries at @ranges_uptr, at most 4096
 * @ranges_uptr: struct kmig_dirty_range[nr_ranges]
 * @range_size: Bytes per entry; 0 for sizeof(struct kmig_dirty_range) (16)
 * @__reserved: Must be 0
 * @marked: Output: pages marked (0 when no migration tracks the VM)
 *
 * KVM logs only the guest's own writes. A VMM that writes guest RAM from
 * userspace (device emulation: virtio rings and buffers, DMA of emulated
 * devices, firmware variables) must report those writes, or a migration
 * in progress never sends them: after the write, and before it acts on it
 * as done (before it completes the request to the guest, and before it
 * acknowledges a pause), it calls KMIG_DIRTY_MARK on any /dev/kmig file
 * of its own (it need not be attached: the VM is named by @vm_fd) with
 * the pages written. The pages join the tracking session's bitmaps at its
 * next KMIG_DIRTY_SYNC. Without a tracking session the call does nothing
 * (KMIG_DIRTY_START takes every page anyway).
 *
 * Errors: -EBADF @vm_fd is not open; -EINVAL not a KVM VM, a bad range
 * (unaligned, npages 0, as_id out of range, past the end of guest
 * physical memory); -EFAULT; -ENOMEM.
 */
struct kmig_dirty_mark {
	__u32 size;
	__u32 flags;
	__s32 vm_fd;
	__u32 nr_ranges;
	__aligned_u64 ranges_uptr;
	__u32 range_size;
	__u32 __reserved;
	__aligned_u64 marked;
};

#define KMIG_DIRTY_MARK		_IO(KMIG_TYPE, KMIG_CMD_DIRTY_MARK)

/* Most pages one KMIG_FETCH reads. */
#define KMIG_FETCH_MAX_PAGES	256

/**
 * struct kmig_fetch - ioctl(KMIG_FETCH)
 * @size: sizeof(struct kmig_fetch)
 * @flags: Must be 0
 * @nr_ranges: Entries at @ranges_uptr, 1..KMIG_FETCH_MAX_PAGES
 * @range_size: Bytes per entry; 0 for sizeof(struct kmig_dirty_range) (16)
 * @ranges_uptr: struct kmig_dirty_range[nr_ranges]: the pages wanted, at
 *               most KMIG_FETCH_MAX_PAGES in all; each inside one memslot
 * @recs_uptr: Output: one struct kmig_rec per page asked (npages 1, kind
 *             KMIG_REC_PAGE, _ZERO or _HOLE), in the order asked
 * @rec_size: Stride at @recs_uptr; 0 for KMIG_REC_SIZE_V1 (rules as
 *            kmig_load.rec_size; the tail past the kernel's struct is zeroed)
 * @nr_recs: Output: records written (the pages asked, on success)
 * @data_uptr: Output: the data of the KMIG_REC_PAGE records back to back,
 *             KMIG_PAGE_SIZE each (rec.len = KMIG_PAGE_SIZE)
 * @data_len: Input: bytes of room at @data_uptr; must hold every page asked
 *            (pages * KMIG_PAGE_SIZE), else -ENOSPC before anything is read
 * @data_used: Output: bytes written at @data_uptr
 * @taken: Output: of the pages asked, how many were still set in the
 *         session's dirty bitmaps. Fetching clears them there, so a round
 *         running now (or a later one) does not send them again; a page a
 *         running round already took may still be sent by it too.
 * @__reserved: Must be 0
 * @__reserved2: Must be 0
 *
 * Reads pages of the attached VM now, in the caller's thread, while a
 * KMIG_SEND_ROUND may be running on another thread (postcopy: the
 * destination faulted on these pages and waits for them). Never-populated
 * pages are not faulted in (KMIG_REC_HOLE), zero pages are KMIG_REC_ZERO,
 * as rounds report them. Needs dirty tracking started (the memslots are the
 * session's tracked snapshot).
 *
 * A page asked twice comes twice (and counts once in @taken). The bits are
 * cleared only once every page was read and copied out: on any error
 * nothing was taken, and the outputs are not written. A write the guest
 * makes after the read is in KVM's dirty log and reaches the bitmaps at
 * the next KMIG_DIRTY_SYNC, as usual. A range's __reserved must be 0
 * (-EINVAL), as for KMIG_DIRTY_MARK.
 *
 * Errors: -ENOTCONN no VM; -EINVAL tracking not started, a misaligned gpa,
 * npages 0, more than KMIG_FETCH_MAX_PAGES pages, a bad range_size or
 * rec_size; -ENOENT a range not inside one memslot; -ENOSPC @data_len too
 * small; -EFAULT; -ESRCH the VM's process exited; -ECANCELED the session
 * was cancelled; -EINTR a fatal signal.
 */
struct kmig_fetch {
	__u32 size;
	__u32 flags;
	__u32 nr_ranges;
	__u32 range_size;
	__aligned_u64 ranges_uptr;
	__aligned_u64 recs_uptr;
	__u32 rec_size;
	__u32 nr_recs;
	__aligned_u64 data_uptr;
	__aligned_u64 data_len;
	__aligned_u64 data_used;
	__aligned_u64 taken;
	__u32 __reserved;
	__u32 __reserved2;
};

#define KMIG_FETCH		_IO(KMIG_TYPE, KMIG_CMD_FETCH)

/**
 * struct kmig_postcopy_progress - ioctl(KMIG_POSTCOPY_PROGRESS)
 * @size: sizeof(struct kmig_postcopy_progress)
 * @flags: Must be 0
 * @missing_pages: Pages the destination still waits for
 * @faults: Fault events it read from the userfaultfd
 * @requested_pages: Of them, pages it asked the source for
 * @urgent_pages: Pages placed from the preempt channel
 * @background_pages: Pages placed from the background stream
 * @blocked_ns: The faults' waits, summed: the guest's vCPU blocked time
 * @postcopy_ns: Time since the guest started here
 * @latency_p50_us: Fault latency, median so far
 * @latency_p99_us: ...99th percentile
 * @latency_max_us: ...largest
 * @__reserved: Must be 0
 *
 * During postcopy the destination places pages through the VMM's
 * userfaultfd, which the module does not see; its kmigctl publishes its
 * own counts into its session with this call, now and then, so that the
 * netlink dump shows them (KMIG_A_SESSION_PC_*) beside the loads: how far
 * postcopy is, for an operator on the destination host. The module keeps
 * the last values as they are (they are the caller's word, shown to the
 * callers of its namespace only, like every session attribute) and shows
 * them from the first call until the session closes. Any session may
 * call it, attached or not; it never waits for another ioctl.
 *
 * Errors: -EFAULT.
 */
struct kmig_postcopy_progress {
	__u32 size;
	__u32 flags;
	__aligned_u64 missing_pages;
	__aligned_u64 faults;
	__aligned_u64 requested_pages;
	__aligned_u64 urgent_pages;
	__aligned_u64 background_pages;
	__aligned_u64 blocked_ns;
	__aligned_u64 postcopy_ns;
	__u32 latency_p50_us;
	__u32 latency_p99_us;
	__u32 latency_max_us;
	__u32 __reserved;
};

#define KMIG_POSTCOPY_PROGRESS	_IO(KMIG_TYPE, KMIG_CMD_POSTCOPY_PROGRESS)

/*
 * Generic netlink control plane (Documentation/netlink/specs/kmig.yaml).
 * A session belongs to the network namespace it was opened in. The
 * KMIG_NL_CMD_SESSION_GET dump lists it only to requesters in that
 * namespace that own it (same euid as its opener) or have CAP_NET_ADMIN
 * over the namespace; KMIG_NL_CMD_SESSION_CANCEL and
 * KMIG_NL_CMD_SESSION_POSTCOPY need CAP_NET_ADMIN over the requester's
 * namespace (-EPERM) and find only that namespace's sessions (-ENOENT).
 *
 * KMIG_NL_CMD_SESSION_POSTCOPY only records the request: the dump shows
 * KMIG_A_SESSION_POSTCOPY_REQUESTED 1 until the next KMIG_DIRTY_START.
 * The module does nothing else with it; whoever drives the migration
 * polls it and switches to postcopy if it can.
 *
 * Cancelling a session makes KMIG_DIRTY_SYNC, KMIG_SEND_ROUND,
 * KMIG_RING_WAIT, KMIG_LOAD and KMIG_FETCH fail with -ECANCELED (a blocked
 * KMIG_SEND_ROUND or KMIG_RING_WAIT returns at once) until the next
 * KMIG_DIRTY_START, so whoever drives the migration notices and backs out.
 */
#define KMIG_GENL_NAME		"kmig"
#define KMIG_GENL_VERSION	1

enum kmig_nl_cmd {
	KMIG_NL_CMD_UNSPEC,
	/* dump, one message per session; KMIG_A_SESSION_ID lists one */
	KMIG_NL_CMD_SESSION_GET,
	/* netns admin: cancel the migration of session KMIG_A_SESSION_ID */
	KMIG_NL_CMD_SESSION_CANCEL,
	/* netns admin: ask session KMIG_A_SESSION_ID's migration for postcopy */
	KMIG_NL_CMD_SESSION_POSTCOPY,

	__KMIG_NL_CMD_MAX,
};

#define KMIG_NL_CMD_MAX		(__KMIG_NL_CMD_MAX - 1)

/* KMIG_A_SESSION_STATE values */
enum kmig_session_state {
	KMIG_SESSION_IDLE = 1,		/* no VM attached */
	KMIG_SESSION_ATTACHED = 2,	/* VM attached, not tracking */
	KMIG_SESSION_TRACKING = 3,	/* dirty tracking started */
	KMIG_SESSION_VM_GONE = 4,	/* the VM's process exited */
	KMIG_SESSION_CANCELLED = 5,	/* cancelled, until DIRTY_START */
};

enum kmig_a_session {
	KMIG_A_SESSION_UNSPEC,
	KMIG_A_SESSION_PAD,
	KMIG_A_SESSION_ID,		/* u32 */
	KMIG_A_SESSION_STATE,		/* u32: enum kmig_session_state */
	KMIG_A_SESSION_VM_PID,		/* u32: pid that created the VM */
	KMIG_A_SESSION_DIRTY_MODE,	/* u32: enum kmig_dirty_mode */
	KMIG_A_SESSION_MEMSLOTS,	/* u32: memslots tracked or seen */
	KMIG_A_SESSION_GENERATION,	/* u64: memslot generation */
	KMIG_A_SESSION_PAGES,		/* u64: pages tracked */
	KMIG_A_SESSION_DIRTY_PAGES,	/* u64: pages set in the bitmaps */
	KMIG_A_SESSION_SYNCS,		/* u64: KMIG_DIRTY_SYNC calls done */
	KMIG_A_SESSION_HARVEST_NS,	/* u64: total time spent harvesting */
	KMIG_A_SESSION_HARVESTED,	/* u64: dirty pages harvested in all */
	KMIG_A_SESSION_ROUNDS,		/* u64: KMIG_SEND_ROUND calls done */
	KMIG_A_SESSION_SENT_PAGES,	/* u64: pages the rounds took */
	KMIG_A_SESSION_ZERO_PAGES,	/* u64: of them found zero */
	KMIG_A_SESSION_HOLE_PAGES,	/* u64: of them never populated */
	KMIG_A_SESSION_SENT_BYTES,	/* u64: data bytes put into the rings */
	KMIG_A_SESSION_COMPRESSED_PAGES, /* u64: pages sent as KMIG_REC_ZSTD */
	KMIG_A_SESSION_COMPRESSED_BYTES, /* u64: bytes of their frames */
	KMIG_A_SESSION_LOADED_PAGES,	/* u64: pages KMIG_LOAD wrote */
	KMIG_A_SESSION_FETCHED_PAGES,	/* u64: pages KMIG_FETCH returned */
	KMIG_A_SESSION_FETCHED_BYTES,	/* u64: data bytes they carried */
	KMIG_A_SESSION_POSTCOPY_REQUESTED, /* u32: 1 once requested */
	/* Destination, postcopy: the last KMIG_POSTCOPY_PROGRESS, if any. */
	KMIG_A_SESSION_PC_MISSING_PAGES,	/* u64 */
	KMIG_A_SESSION_PC_FAULTS,		/* u64 */
	KMIG_A_SESSION_PC_REQUESTED_PAGES,	/* u64 */
	KMIG_A_SESSION_PC_URGENT_PAGES,		/* u64 */
	KMIG_A_SESSION_PC_BACKGROUND_PAGES,	/* u64 */
	KMIG_A_SESSION_PC_BLOCKED_NS,		/* u64 */
	KMIG_A_SESSION_PC_NS,			/* u64: time in postcopy */
	KMIG_A_SESSION_PC_LATENCY_P50_US,	/* u32 */
	KMIG_A_SESSION_PC_LATENCY_P99_US,	/* u32 */
	KMIG_A_SESSION_PC_LATENCY_MAX_US,	/* u32 */

	__KMIG_A_SESSION_MAX,
};

#define KMIG_A_SESSION_MAX	(__KMIG_A_SESSION_MAX - 1)

#endif /* _UAPI_LINUX_KMIG_H */
