/* SPDX-License-Identifier: LGPL-2.1 OR MIT */
/*
 * libkmig: a thin C wrapper around the /dev/kmig ioctls (linux/kmig.h).
 *
 * Conventions, as in liburing:
 *  - every function that can fail returns >= 0 on success or -errno; errno
 *    itself is never the only report of an error;
 *  - every ioctl struct is built here with size = sizeof(struct) and all
 *    other input fields zeroed, so a caller compiled against this header
 *    keeps working when the kernel grows a struct;
 *  - output structs passed in by pointer may be NULL when the caller does
 *    not need them.
 *
 * The session is the open /dev/kmig file: close(2) it to end the session.
 */
#ifndef LIBKMIG_H
#define LIBKMIG_H

#include <linux/kmig.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Opens KMIG_DEVICE_PATH (O_RDWR | O_CLOEXEC): a new session. Returns the fd. */
int kmig_open(void);

/* KMIG_GET_INFO: API version, this session's id and feature bits. */
int kmig_get_info(int fd, struct kmig_info *info);

/*
 * KMIG_ATTACH_VM: attach the session to the KVM VM behind @vm_fd.
 * @out (may be NULL) receives the dirty mode and memslot count.
 */
int kmig_attach_vm(int fd, int vm_fd, struct kmig_attach_vm *out);

/*
 * KMIG_GET_MEMSLOTS: the attached VM's memslots, ordered by (as_id, gpa).
 * Allocates *@slots (release with free(); NULL when there are none) and
 * retries while the VM gains memslots between the calls (-ENOSPC).
 * @generation may be NULL.
 */
int kmig_get_memslots(int fd, struct kmig_memslot **slots, unsigned int *nr,
		      __u64 *generation);

/* KMIG_DIRTY_START: (re)start dirty tracking. @out may be NULL. */
int kmig_dirty_start(int fd, struct kmig_dirty_start *out);

/* KMIG_DIRTY_SYNC: harvest the VM's dirty pages. @out may be NULL. */
int kmig_dirty_sync(int fd, struct kmig_dirty_sync *out);

/*
 * KMIG_DIRTY_GET_BITMAP: copy the session's bitmap for @nr_pages pages of
 * memslot (@as_id, @slot_id) from @first_page into @bitmap (one bit per
 * page in 64-bit words, DIV_ROUND_UP(@nr_pages, 64) * 8 bytes).
 * @flags: KMIG_BITMAP_* (KMIG_BITMAP_CLEAR takes the pages).
 * @dirty (may be NULL) receives the number of bits set.
 */
int kmig_dirty_get_bitmap(int fd, __u16 as_id, __u16 slot_id,
			  __u64 first_page, __u64 nr_pages, __u64 *bitmap,
			  __u32 flags, __u64 *dirty);

/* KMIG_DIRTY_STOP: stop tracking and free the session's bitmaps. */
int kmig_dirty_stop(int fd);

/*
 * KMIG_DIRTY_MARK (the VMM's side): reports @nr_ranges ranges (at most
 * 4096) of guest RAM of the VM behind @vm_fd that the caller wrote itself,
 * from userspace, which KVM's dirty log never sees (device emulation: a
 * virtio ring, an emulated device's DMA). Call it after the write and
 * before acting on it as done (completing the request to the guest,
 * acknowledging a pause). @fd is any session of the caller's, attached or
 * not. @marked (may be NULL) receives the pages marked: 0 while no
 * migration tracks the VM. Since KMIG_1.2; needs KMIG_FEATURE_DIRTY_MARK.
 */
int kmig_dirty_mark(int fd, int vm_fd, const struct kmig_dirty_range *ranges,
		    __u32 nr_ranges, __u64 *marked);

/*
 * Sending (source side). KMIG_SEND_SETUP creates the session's worker
 * kthreads, each with a record ring that this library maps into the caller.
 * One thread per ring drains it with the static inline helpers below while
 * another thread runs kmig_send_round().
 */

/*
 * One mapped worker ring. The fields are the library's; read them through
 * the helpers. @khead and @ktail point into the shared mapping.
 */
struct kmig_ring {
	__u32 *khead;			/* consumer index: ours */
	const __u32 *ktail;		/* producer index: the kernel's */
	__u32 mask;			/* entries - 1 */
	__u32 entries;
	const struct kmig_rec *recs;
	const unsigned char *data;	/* entries slots of KMIG_PAGE_SIZE */
	void *map;			/* the whole mapping, for munmap() */
	__u64 map_bytes;
	__u32 index;			/* ring (worker) number */
	__u32 __pad;
};

/*
 * KMIG_SEND_SETUP with @nr_workers workers of @ring_entries records each,
 * then maps every ring. On success *@rings is an array of @nr_workers
 * mapped rings; release it with kmig_rings_unmap(). The kernel's layout
 * (struct kmig_ring_offsets) is checked against the mapping: a module
 * whose offsets do not fit gives -EPROTO.
 */
int kmig_send_setup(int fd, __u32 nr_workers, __u32 ring_entries,
		    struct kmig_ring **rings);

/*
 * The same with every input of struct kmig_send_setup: @arg's flags
 * (KMIG_SEND_F_ZSTD), zstd_level, nr_workers and ring_entries go in (the
 * library sets its size), the kernel's outputs come back in it. Since
 * KMIG_1.1.
 */
int kmig_send_setup_ex(int fd, struct kmig_send_setup *arg,
		       struct kmig_ring **rings);

/* Unmaps the rings from kmig_send_setup() and frees the array. */
void kmig_rings_unmap(struct kmig_ring *rings, __u32 nr_workers);

/*
 * KMIG_SEND_ROUND: one round over the pages the last sync found dirty.
 * Blocks until every worker queued its KMIG_REC_ROUND_END; other threads
 * must drain the rings meanwhile. @out (may be NULL) receives the round's
 * counters, also when the round failed part way (-EINTR, -ECANCELED).
 */
int kmig_send_round(int fd, struct kmig_send_round *out);

/*
 * KMIG_RING_WAIT: tells worker @ring that records were consumed and waits
 * up to @timeout_ms (0: not at all) for records. @ready (may be NULL)
 * receives the number of records ready. -ECANCELED once the session has
 * been cancelled (kmigctl cancel).
 */
int kmig_ring_wait(int fd, __u32 ring, __u32 timeout_ms, __u32 *ready);

/*
 * Records ready to consume: from kmig_ring_head() up to the kernel's tail.
 * Acquire: pairs with the kernel's store-release of the tail, so the
 * records below the tail and their data are visible once we see it.
 */
static inline __u32 kmig_ring_ready(const struct kmig_ring *r)
{
	return __atomic_load_n(r->ktail, __ATOMIC_ACQUIRE) -
	       __atomic_load_n(r->khead, __ATOMIC_RELAXED);
}

/* The index of the first unconsumed record (only the consumer writes it). */
static inline __u32 kmig_ring_head(const struct kmig_ring *r)
{
	return __atomic_load_n(r->khead, __ATOMIC_RELAXED);
}

/* Record @i (a free-running index: head, head + 1, ...). */
static inline const struct kmig_rec *kmig_ring_rec(const struct kmig_ring *r,
						   __u32 i)
{
	return &r->recs[i & r->mask];
}

/* The data slot of record @i: KMIG_PAGE_SIZE bytes, rec->len of them used. */
static inline const void *kmig_ring_data(const struct kmig_ring *r, __u32 i)
{
	return r->data + (__u64)(i & r->mask) * KMIG_PAGE_SIZE;
}

/*
 * Gives @n consumed records back to the kernel. Release: every read of those
 * records and their data happens before the kernel may refill them. Call
 * kmig_ring_wait() afterwards so a worker waiting for space goes on.
 */
static inline void kmig_ring_advance(struct kmig_ring *r, __u32 n)
{
	__atomic_store_n(r->khead, kmig_ring_head(r) + n, __ATOMIC_RELEASE);
}

/*
 * KMIG_LOAD (destination side): writes @nr records (at most 4096) into the
 * attached VM's RAM; @data holds the KMIG_REC_PAGE records' data back to
 * back, @data_len bytes. @out (may be NULL) receives done/pages/zeroed,
 * also on failure, where done counts the records applied before the bad
 * one.
 */
int kmig_load(int fd, const struct kmig_rec *recs, __u32 nr,
	      const void *data, __u64 data_len, struct kmig_load *out);

/*
 * KMIG_FETCH (source side, postcopy): reads the @nr ranges of pages at
 * @ranges (at most KMIG_FETCH_MAX_PAGES pages in all, each range inside
 * one memslot) out of the attached VM now, also while kmig_send_round()
 * runs on another thread, and takes them from the session's dirty
 * bitmaps. @recs gets one record per page, in the order asked
 * (KMIG_REC_PAGE, _ZERO or _HOLE); @data the KMIG_REC_PAGE records' data
 * back to back, and must have room for every page asked (@data_len at
 * least pages * KMIG_PAGE_SIZE, else -ENOSPC). @out (may be NULL)
 * receives nr_recs, data_used and taken (pages that were still dirty) on
 * success. Since KMIG_1.3; needs KMIG_FEATURE_FETCH.
 */
int kmig_fetch(int fd, const struct kmig_dirty_range *ranges, __u32 nr,
	       struct kmig_rec *recs, void *data, __u64 data_len,
	       struct kmig_fetch *out);

/*
 * Destination, postcopy: publishes @p (its counts; size, flags and
 * __reserved are filled in) into the session, where the netlink dump
 * shows it (KMIG_A_SESSION_PC_*). Never waits for another call on the
 * session. Since KMIG_1.4; needs KMIG_FEATURE_POSTCOPY_PROGRESS (older
 * modules: -ENOTTY).
 */
int kmig_postcopy_progress(int fd, const struct kmig_postcopy_progress *p);

/*
 * What an errno means when a kmig call returns it (e.g. -ENOTCONN: "session
 * has no VM attached"); falls back to strerror(). Takes err or -err.
 */
const char *kmig_strerror(int err);

/*
 * "idle", "attached", "tracking", "vm-gone", "cancelled"; "unknown"
 * otherwise.
 */
const char *kmig_session_state_name(__u32 state);

/* "bitmap", "manual", "ring"; "none" for 0; "unknown" otherwise. */
const char *kmig_dirty_mode_name(__u32 mode);

#ifdef __cplusplus
}
#endif

#endif /* LIBKMIG_H */
