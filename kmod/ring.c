// SPDX-License-Identifier: GPL-2.0
/*
 * Record rings shared with userspace through mmap. One page of header
 * (head and tail on their own cache lines), then the records, then one
 * KMIG_PAGE_SIZE data slot per record, all from one vmalloc area.
 *
 * The area is charged to the memory cgroup of the task that set the rings
 * up (up to KMIG_MAX_WORKERS rings of about 16 MiB each per session), so
 * it comes from __vmalloc(GFP_KERNEL_ACCOUNT): vmalloc_user() does not
 * account, and 6.1 exports neither __vmalloc_node_range() nor a way to mark
 * an area VM_USERMAP, which remap_vmalloc_range() insists on. The pages are
 * mapped into userspace with vm_insert_pages() instead, as that does.
 */
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/sched/signal.h>
#include <linux/vmalloc.h>

#include "ring.h"

#define KMIG_RING_HEAD	0
#define KMIG_RING_TAIL	64
#define KMIG_RING_MASK	128

/* Pages vm_insert_pages() maps per call, from an array on the stack. */
#define KMIG_RING_MAP_BATCH	32

void kmig_ring_offsets(u32 entries, struct kmig_ring_offsets *off, u64 *bytes)
{
	u32 recs = PAGE_SIZE;
	u32 data = PAGE_ALIGN(recs + entries * sizeof(struct kmig_rec));

	off->head = KMIG_RING_HEAD;
	off->tail = KMIG_RING_TAIL;
	off->mask = KMIG_RING_MASK;
	off->entries = KMIG_RING_MASK + 4;
	off->flags = KMIG_RING_MASK + 8;
	off->dropped = KMIG_RING_MASK + 12;
	off->recs = recs;
	off->data = data;
	*bytes = (u64)data + (u64)entries * KMIG_PAGE_SIZE;
}

int kmig_ring_init(struct kmig_ring *r, u32 entries)
{
	struct kmig_ring_offsets off;
	u64 bytes;
	u8 *mem;

	kmig_ring_offsets(entries, &off, &bytes);
	/*
	 * Zeroed: head = tail = 0. The size is the caller's choice: past its
	 * cgroup's limit this fails with -ENOMEM (no OOM kill, no warning).
	 */
	mem = __vmalloc(bytes, GFP_KERNEL_ACCOUNT | __GFP_ZERO |
			__GFP_RETRY_MAYFAIL | __GFP_NOWARN);
	if (!mem)
		return -ENOMEM;

	r->mem = mem;
	r->bytes = bytes;
	r->head = (u32 *)(mem + off.head);
	r->tail = (u32 *)(mem + off.tail);
	r->recs = (struct kmig_rec *)(mem + off.recs);
	r->data = mem + off.data;
	r->mask = entries - 1;
	r->ptail = 0;
	*(u32 *)(mem + off.mask) = entries - 1;
	*(u32 *)(mem + off.entries) = entries;
	init_waitqueue_head(&r->wq);
	return 0;
}

/*
 * Userspace mappings hold their own page references: vfree() is safe. The
 * memory cgroup is uncharged when the last reference goes.
 */
void kmig_ring_free(struct kmig_ring *r)
{
	vfree(r->mem);
	r->mem = NULL;
}

/*
 * What remap_vmalloc_range() would do: the whole ring, every page mapped
 * now (vm_insert_pages() takes a reference on each), never expanded by
 * mremap() nor dumped. On an error the caller's mmap() unmaps what was
 * inserted.
 */
int kmig_ring_mmap(struct kmig_ring *r, struct vm_area_struct *vma)
{
	struct page *pages[KMIG_RING_MAP_BATCH];
	unsigned long uaddr = vma->vm_start;
	size_t off = 0;
	int ret;

	if (vma->vm_end - vma->vm_start != r->bytes)
		return -EINVAL;
	while (off < r->bytes) {
		unsigned long i, n = min_t(size_t, KMIG_RING_MAP_BATCH,
					   (r->bytes - off) >> PAGE_SHIFT);

		for (i = 0; i < n; i++)
			pages[i] = vmalloc_to_page(r->mem + off +
						   (i << PAGE_SHIFT));
		i = n;
		ret = vm_insert_pages(vma, uaddr, pages, &i);
		if (ret)
			return ret;
		if (i)		/* not mapped, without an error: never seen */
			return -EFAULT;
		uaddr += n << PAGE_SHIFT;
		off += n << PAGE_SHIFT;
	}
	vma->vm_flags |= VM_DONTEXPAND | VM_DONTDUMP;
	return 0;
}

bool kmig_ring_has_space(struct kmig_ring *r)
{
	/* Acquire: the consumer's reads of freed slots precede our reuse. */
	return r->ptail - smp_load_acquire(r->head) <= r->mask;
}

struct kmig_rec *kmig_ring_rec(struct kmig_ring *r, void **data)
{
	u32 i = r->ptail & r->mask;

	if (data)
		*data = r->data + (size_t)i * KMIG_PAGE_SIZE;
	return &r->recs[i];
}

void kmig_ring_publish(struct kmig_ring *r)
{
	/* Release: the record and its data are visible before the tail. */
	smp_store_release(r->tail, ++r->ptail);
	if (wq_has_sleeper(&r->wq))
		wake_up(&r->wq);
}

static u32 kmig_ring_ready(struct kmig_ring *r)
{
	/* Acquire pairs with kmig_ring_publish(): records before tail. */
	return smp_load_acquire(r->tail) - READ_ONCE(*r->head);
}

static bool kmig_ring_woken(struct kmig_ring *r, const bool *abort)
{
	return kmig_ring_ready(r) || READ_ONCE(*abort);
}

long kmig_ring_wait(struct kmig_ring *r, u32 timeout_ms, const bool *abort,
		    u32 *ready)
{
	long ret = 0;

	/* The consumer moved head: a producer waiting for space may go on. */
	if (wq_has_sleeper(&r->wq))
		wake_up(&r->wq);

	if (timeout_ms)
		ret = wait_event_interruptible_timeout(r->wq,
						       kmig_ring_woken(r, abort),
						       msecs_to_jiffies(timeout_ms));
	*ready = kmig_ring_ready(r);
	if (READ_ONCE(*abort))
		return -ECANCELED;
	return ret < 0 ? ret : 0;
}
