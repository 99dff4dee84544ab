/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kmig internal interfaces: sessions, attached VMs, dirty tracking.
 *
 * Lock order: kmig_sessions_lock -> session->lock -> kvm->slots_lock or
 * kmig_vms_lock, and session->report_lock (a spinlock, innermost) under
 * either of the first two. session->lock is taken killably; KMIG_SEND_ROUND
 * lets go of it while its workers run (session->round_active), so a vCPU
 * thread's ring-full sync never waits for a whole round. Netlink never
 * takes session->lock.
 *
 * KMIG_LOAD runs without session->lock, several at once (one per data
 * channel): session->load_sem (read; written only to swap the "loaded"
 * snapshot) -> kvm->srcu -> one of session->load_page_lock[] -> the
 * caller's mmap_lock (a fault in its buffer). The snapshot swap takes
 * load_sem for writing, then kvm->slots_lock. The VMM's mmap_lock is taken
 * (to pin a run of pages) with no page lock held.
 */
#ifndef _KMIG_H
#define _KMIG_H

#include <linux/kthread.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/rwsem.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/kvm_host.h>
#include <linux/kmig.h>

#include "compat.h"

/* One KVM memslot as the session tracks it. */
struct kmig_slot {
	u16 as_id;
	u16 id;
	u32 flags;		/* KVM_MEM_* */
	u64 base_gfn;
	u64 npages;
	u64 hva;
	/*
	 * KVM's own memslot when the snapshot was taken: its identity, since
	 * 6.1 allocates a new one for every edit. Compared, never
	 * dereferenced (it may be freed since).
	 */
	const struct kvm_memory_slot *kslot;
	unsigned long *bitmap;	/* pages dirty and not yet taken */
	u64 dirty;		/* bits set in @bitmap */
};

/*
 * A snapshot of the VM's memslots: the user memslots sorted by (as_id,
 * base_gfn) in slot[0..nr), KVM's internal ones after them up to nr_all
 * (identity only: they are never migrated).
 */
struct kmig_slots {
	u64 generation;			/* sum of as_gen[] */
	u64 as_gen[KVM_ADDRESS_SPACE_NUM];
	u32 nr;
	u32 nr_all;
	struct kmig_slot slot[];
};

/*
 * An attached VM. The session holds a reference on the VM file, which keeps
 * struct kvm (and kvm->mm's mm_struct, not its address space) alive.
 */
struct kmig_vm {
	struct list_head node;		/* kmig_vms, under kmig_vms_lock */
	struct file *file;
	struct kvm *kvm;
	/*
	 * KVM's dirty-log ioctls only run with current->mm == kvm->mm and take
	 * their arguments from user memory, so they are issued from this
	 * worker, which adopts the VMM's mm, using a scratch mapping there.
	 */
	struct kthread_worker *worker;
	struct file *scratch_file;	/* scratch.c; NULL until needed */
	unsigned long scratch;		/* its address in kvm->mm */
	size_t scratch_len;		/* bytes it can hold */
	/*
	 * Pages the VMM wrote itself (KMIG_DIRTY_MARK), until the session's
	 * next sync takes them: @marks fills, @marks_spare is the sync's.
	 */
	spinlock_t mark_lock;
	bool tracking;			/* a session tracks: marks are kept */
	bool marks_overflow;		/* too many: everything is dirty */
	u32 nr_marks;
	struct kmig_dirty_range *marks;
	struct kmig_dirty_range *marks_spare;
};

/* Totals over the session's life, shown by netlink (KMIG_A_SESSION_*). */
struct kmig_stats {
	u64 syncs;
	u64 harvest_ns;
	u64 harvested;
	u64 rounds;
	u64 sent_pages;		/* taken by rounds: normal + zero + hole */
	u64 zero_pages;
	u64 hole_pages;
	u64 sent_bytes;		/* data put into the rings */
	u64 compressed_pages;
	u64 compressed_bytes;
	u64 loaded_pages;
	u64 fetched_pages;	/* KMIG_FETCH: pages returned */
	u64 fetched_bytes;	/* ...and their data */
};

/*
 * What the netlink control plane shows of a session: published under
 * report_lock at the end of every ioctl, so a dump never waits for
 * s->lock (held for a whole KMIG_SEND_ROUND).
 */
struct kmig_report {
	bool has_pc;			/* @pc was published */
	struct kmig_postcopy_progress pc;	/* destination, postcopy */
	bool tracking;
	u32 dirty_mode;
	u32 nr_slots;
	u64 generation;
	u64 pages;
	u64 dirty_pages;
	struct kmig_stats stats;
};

struct cred;
struct kmig_send;
struct kmig_zcomp;
struct kmig_zdec;

/*
 * Destination: idle decompression contexts. A load takes one at its first
 * ZSTD record and gives it back at its end, so loads running at once never
 * share one; at most KMIG_ZDEC_POOL_MAX stay cached, the rest are freed.
 */
struct kmig_zdec_pool {
	spinlock_t lock;		/* protects below; nothing sleeps under it */
	struct list_head free;
	unsigned int nr_free;
};

/* Loads writing one guest page exclude each other: a lock per gfn hash. */
#define KMIG_LOAD_PAGE_LOCKS	64

struct kmig_session {
	struct mutex lock;		/* serializes ioctls; protects below */
	struct list_head node;		/* kmig_sessions */
	u32 id;
	struct kmig_vm *vm;		/* NULL until KMIG_ATTACH_VM */
	struct kmig_slots *slots;	/* NULL unless tracking */
	struct kmig_send *send;		/* workers + rings, once set up */
	/*
	 * Destination (load.c), not under @lock: @loaded (the memslots and
	 * which of their pages a load wrote, atomic bit ops) is swapped for a
	 * new snapshot only with @load_sem held for writing; loads hold it
	 * for reading.
	 */
	struct rw_semaphore load_sem;
	struct kmig_slots *loaded;
	struct kmig_zdec_pool zdecs;
	struct mutex load_page_lock[KMIG_LOAD_PAGE_LOCKS];	/* by gfn */
	atomic64_t loaded_pages;	/* shown as stats.loaded_pages */
	u32 dirty_mode;			/* enum kmig_dirty_mode */
	u64 dirty_pages;		/* sum of slot[].dirty */
	bool cancelled;			/* by netlink, until DIRTY_START */
	bool postcopy_requested;	/* by netlink, until DIRTY_START */
	bool round_active;		/* KMIG_SEND_ROUND waits for workers */
	struct kmig_stats stats;
	spinlock_t report_lock;		/* protects @report, @pc */
	struct kmig_report report;
	struct kmig_postcopy_progress pc;	/* KMIG_POSTCOPY_PROGRESS's */
	bool has_pc;
	/* Set at open, constant: who may see and cancel it over netlink. */
	struct net *net;		/* the opener's network namespace */
	const struct cred *cred;	/* the opener's credentials (f_cred) */
};

/*
 * Live objects, by kind (debugfs kmig/objects): with no /dev/kmig file
 * open and nothing in flight, every count is 0. The selftest runner checks
 * that after every test.
 */
enum kmig_obj {
	KMIG_OBJ_SESSIONS,
	KMIG_OBJ_VMS,
	KMIG_OBJ_SLOT_SETS,
	KMIG_OBJ_RINGS,
	KMIG_OBJ_WORKERS,
	KMIG_OBJ_PINS,
	KMIG_OBJ_ZSTD,
	KMIG_OBJ_SCRATCH,
	KMIG_OBJ_NR,
};

extern atomic_long_t kmig_objs[KMIG_OBJ_NR];

static inline void kmig_obj_inc(enum kmig_obj o)
{
	atomic_long_inc(&kmig_objs[o]);
}

static inline void kmig_obj_dec(enum kmig_obj o)
{
	atomic_long_dec(&kmig_objs[o]);
}

static inline void kmig_obj_add(enum kmig_obj o, long n)
{
	atomic_long_add(n, &kmig_objs[o]);
}

/*
 * The entry size userspace gives for an array (records, memslots, ranges):
 * at least the first version's, in 8-byte steps, at most @max.
 */
static inline bool kmig_entry_size_ok(u32 size, u32 min, u32 max)
{
	return size >= min && size <= max && !(size % 8);
}

/* debug.c */
void kmig_debugfs_init(void);
void kmig_debugfs_exit(void);

/* session.c */
extern struct mutex kmig_sessions_lock;
extern struct list_head kmig_sessions;
int kmig_session_init(void);
void kmig_session_exit(void);
u32 kmig_session_state(struct kmig_session *s, const struct kmig_report *r);
void kmig_session_report(struct kmig_session *s, struct kmig_report *r);
void kmig_session_cancel(struct kmig_session *s);
void kmig_session_publish_loaded(struct kmig_session *s);

/* vm.c */
struct kmig_vm *kmig_vm_attach(int fd, u32 session_id);
void kmig_vm_detach(struct kmig_vm *vm);
bool kmig_vm_alive(struct kmig_vm *vm);
u32 kmig_vm_dirty_mode(struct kmig_vm *vm);
u64 kmig_vm_generation(struct kmig_vm *vm);
u32 kmig_vm_count_slots(struct kmig_vm *vm);
struct kmig_slots *kmig_vm_snapshot_slots(struct kmig_vm *vm);
int kmig_vm_call(struct kmig_vm *vm, int (*fn)(struct kmig_vm *, void *),
		 void *arg);
long kmig_vm_ioctl(struct kmig_vm *vm, unsigned int cmd, unsigned long arg);
int kmig_vm_mark(struct kmig_dirty_mark *arg);
void kmig_vm_track(struct kmig_vm *vm, bool on);
u32 kmig_vm_take_marks(struct kmig_vm *vm, struct kmig_dirty_range **ranges,
		       bool *overflow);

/* dirty.c */
int kmig_dirty_start(struct kmig_session *s, struct kmig_dirty_start *arg);
int kmig_dirty_sync(struct kmig_session *s, struct kmig_dirty_sync *arg);
int kmig_dirty_get_bitmap(struct kmig_session *s,
			  struct kmig_dirty_bitmap *arg);
void kmig_dirty_stop(struct kmig_session *s);
struct kmig_slot *kmig_slots_find(struct kmig_slots *slots, u16 as_id,
				  u16 id);
void kmig_slots_free(struct kmig_slots *slots);

/* scratch.c: worker context, the VMM's mm adopted */
void *kmig_scratch_get(struct kmig_vm *vm, size_t len);
bool kmig_scratch_ours(struct kmig_vm *vm);
void kmig_scratch_put(struct kmig_vm *vm);
/* any context */
void kmig_scratch_forget(struct kmig_vm *vm);

/* harvest.c */
int kmig_harvest(struct kmig_vm *vm, struct kmig_slots *slots, u32 mode,
		 u64 *new_pages);

/* page.c */
int kmig_read_page(unsigned long hva, void *buf);
int kmig_copy_page(struct page *page, void *buf);
long kmig_pin_pages_remote(struct mm_struct *mm, unsigned long hva,
			   unsigned long n, struct page **pages);
int kmig_pinned_page_kind(struct page *page, void *buf);

/* compress.c */
struct kmig_zcomp *kmig_zcomp_create(u32 level);
void kmig_zcomp_destroy(struct kmig_zcomp *z);
size_t kmig_zcomp_page(struct kmig_zcomp *z, void *page);
size_t kmig_zcomp_pages(struct kmig_zcomp *z, void *dst, const void *src,
			u32 npages);
void kmig_zdec_pool_init(struct kmig_zdec_pool *pool);
void kmig_zdec_pool_destroy(struct kmig_zdec_pool *pool);
struct kmig_zdec *kmig_zdec_get(struct kmig_zdec_pool *pool);
void kmig_zdec_put(struct kmig_zdec_pool *pool, struct kmig_zdec *z);
const void *kmig_zdec_pages(struct kmig_zdec *z, const void *src, size_t len,
			    u32 npages);

/* send.c */
int kmig_send_setup(struct kmig_session *s, struct kmig_send_setup *arg,
		    bool rec_v1);
int kmig_send_round(struct kmig_session *s, struct kmig_send_round *arg);
long kmig_send_ring_wait(struct kmig_session *s, struct kmig_ring_wait *arg);
int kmig_send_mmap(struct kmig_session *s, struct vm_area_struct *vma);
void kmig_send_destroy(struct kmig_send *send);
void kmig_send_wake(struct kmig_send *send);

/* load.c */
int kmig_load(struct kmig_session *s, struct kmig_vm *vm,
	      struct kmig_load *arg);

/* fetch.c */
int kmig_fetch(struct kmig_session *s, struct kmig_fetch *arg);

/* netlink.c */
int kmig_netlink_init(void);
void kmig_netlink_exit(void);

#endif /* _KMIG_H */
