/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The mmap'ed record rings workers fill and userspace drains (single
 * producer, single consumer; protocol in uapi/linux/kmig.h).
 */
#ifndef _KMIG_RING_H
#define _KMIG_RING_H

#include <linux/types.h>
#include <linux/wait.h>
#include <linux/kmig.h>

struct vm_area_struct;

struct kmig_ring {
	void *mem;		/* vmalloc_user(): header page, recs, data */
	size_t bytes;
	u32 *head;		/* written by userspace */
	u32 *tail;		/* written by us, store-release */
	struct kmig_rec *recs;
	u8 *data;
	u32 mask;
	u32 ptail;		/* producer's own copy of *tail */
	wait_queue_head_t wq;	/* producer waits for space, consumer for records */
};

int kmig_ring_init(struct kmig_ring *r, u32 entries);
void kmig_ring_free(struct kmig_ring *r);
void kmig_ring_offsets(u32 entries, struct kmig_ring_offsets *off,
		       u64 *bytes);
int kmig_ring_mmap(struct kmig_ring *r, struct vm_area_struct *vma);

/* Producer side: the worker that owns the ring. */
bool kmig_ring_has_space(struct kmig_ring *r);
struct kmig_rec *kmig_ring_rec(struct kmig_ring *r, void **data);
void kmig_ring_publish(struct kmig_ring *r);

/* Consumer side: KMIG_RING_WAIT. */
long kmig_ring_wait(struct kmig_ring *r, u32 timeout_ms, const bool *abort,
		    u32 *ready);

#endif /* _KMIG_RING_H */
