// SPDX-License-Identifier: GPL-2.0
/*
 * Source side of a round: worker kthreads, each with its own ring, take
 * chunks of the session's dirty bitmaps from a shared cursor, read the
 * pages in the VMM's adopted mm and queue one record per page (raw, or
 * zstd-compressed with KMIG_SEND_F_ZSTD), per run of up to
 * KMIG_ZSTD_RUN_MAX data pages in one zstd frame (KMIG_SEND_F_ZSTD_RUN),
 * or per run of zero or never-populated pages. Back-pressure: a worker
 * whose ring is full waits for userspace; nothing is dropped.
 *
 * A page leaves the bitmap only once its record is published: a round
 * that stops early (a signal, a cancel, a page that cannot be read) puts
 * back the page in hand and the zero/hole run not yet queued, so the
 * bitmaps always hold exactly what userspace has not been given.
 */
#include <linux/bitmap.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/pgtable.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>

#include "kmig.h"
#include "ring.h"

/* Pages per chunk a worker takes at once: 2 MiB, one THP. */
#define KMIG_CHUNK_PAGES	512

/*
 * After a zstd run that did not fit its slot, the pages a worker sends
 * one by one before it tries a run again: doubling from the first to the
 * last while runs keep failing, so incompressible data pays for a
 * wasted run's compression on at most 1 page in 256.
 */
#define KMIG_ZRUN_BACKOFF_MIN	16
#define KMIG_ZRUN_BACKOFF_MAX	1024

/* Present pages a worker gets ahead in one get_user_pages_fast_only(). */
#define KMIG_GUP_BATCH		64

struct kmig_worker {
	struct kmig_send *send;
	struct task_struct *task;
	struct kmig_ring ring;
	struct kmig_zcomp *zc;		/* KMIG_SEND_F_ZSTD: this worker's own */
	/* KMIG_SEND_F_ZSTD_RUN: KMIG_ZSTD_RUN_MAX pages read ahead. */
	u8 *zrun_buf;
	u32 zrun_skip;			/* pages to send alone first */
	u32 zrun_backoff;		/* the next failure's zrun_skip */
	/* Pages got ahead, gup[gup_next..gup_nr) not read yet; one chunk's. */
	struct page *gup[KMIG_GUP_BATCH];
	unsigned long gup_hva;		/* of gup[0] */
	u32 gup_nr, gup_next;
	u32 round_seen;
	/* This round's counters, summed by KMIG_SEND_ROUND. */
	u64 normal, zero, hole, bytes, compressed, compressed_bytes;
	/* A run of zero or hole pages not yet queued. */
	u8 run_kind;
	u8 run_as_id;
	u32 run_pages;
	u64 run_gpa;
};

struct kmig_send {
	struct kvm *kvm;
	u32 nr_workers;
	u32 entries;
	/* Round state, written by KMIG_SEND_ROUND before it bumps @round. */
	u32 round;
	struct kmig_slots *slots;
	u64 *chunk_start;		/* per slot: its first chunk number */
	u64 nr_chunks;
	atomic64_t cursor;		/* next chunk to take */
	atomic_t active;		/* workers still in the round */
	bool cancel;			/* this round: interrupted */
	/* The session's cancelled flag (netlink), until DIRTY_START. */
	const bool *cancelled;
	bool rec_v1;			/* the reader knows no kmig_rec.as_id */
	int error;
	wait_queue_head_t start_wq;
	wait_queue_head_t done_wq;
	struct kmig_worker w[];
};

static bool kmig_send_stopping(struct kmig_send *send)
{
	return READ_ONCE(send->cancel) || READ_ONCE(*send->cancelled);
}

static bool kmig_worker_may_go(struct kmig_worker *w)
{
	return kmig_ring_has_space(&w->ring) || kmig_send_stopping(w->send);
}

/* Waits for a free record; false if the round was cancelled meanwhile. */
static bool kmig_worker_wait_space(struct kmig_worker *w)
{
	struct kmig_send *send = w->send;

	while (!kmig_ring_has_space(&w->ring)) {
		if (kmig_send_stopping(send) || kthread_should_stop())
			return false;
		/* Short timeout: userspace only wakes us via KMIG_RING_WAIT. */
		wait_event_interruptible_timeout(w->ring.wq,
						 kmig_worker_may_go(w), HZ / 10);
	}
	return true;
}

static bool kmig_worker_emit(struct kmig_worker *w, u8 kind, u8 as_id,
			     u64 gpa, u32 npages, u16 len)
{
	struct kmig_rec *rec;

	if (!kmig_worker_wait_space(w))
		return false;
	rec = kmig_ring_rec(&w->ring, NULL);
	rec->gpa = gpa;
	rec->npages = npages;
	rec->kind = kind;
	rec->as_id = as_id;
	rec->len = len;
	kmig_ring_publish(&w->ring);
	return true;
}

/* Queues the pending run; on failure it stays pending for the put-back. */
static bool kmig_worker_flush_run(struct kmig_worker *w)
{
	if (w->run_pages &&
	    !kmig_worker_emit(w, w->run_kind, w->run_as_id, w->run_gpa,
			      w->run_pages, 0))
		return false;
	w->run_pages = 0;
	return true;
}

/*
 * The round stops with the pages of @taken (the chunk's bits, page @first
 * of @k on) from @from on not queued, and perhaps a run of zero/hole pages
 * of the same chunk: they go back into the bitmap. Atomic: a ring-full
 * sync may set bits of the same words meanwhile.
 */
static void kmig_worker_put_back(struct kmig_worker *w, struct kmig_slot *k,
				 u64 first, const unsigned long *taken, u64 from,
				 u64 n)
{
	u64 run, i;

	for (i = find_next_bit(taken, n, from); i < n;
	     i = find_next_bit(taken, n, i + 1))
		set_bit(first + i, k->bitmap);
	if (!w->run_pages)
		return;
	run = (w->run_gpa >> PAGE_SHIFT) - k->base_gfn;
	for (i = 0; i < w->run_pages; i++)
		set_bit(run + i, k->bitmap);
	if (w->run_kind == KMIG_REC_ZERO)
		w->zero -= w->run_pages;
	else
		w->hole -= w->run_pages;
	w->run_pages = 0;
}

/*
 * Adds @n zero or hole pages from @pgoff of @k to the pending run, first
 * queueing the run in hand if they do not continue it; false to stop the
 * round (the run in hand then stays pending, the new pages are not added).
 */
static bool kmig_worker_add_run(struct kmig_worker *w, struct kmig_slot *k,
				u64 pgoff, u32 n, int kind)
{
	u64 gpa = (k->base_gfn + pgoff) << PAGE_SHIFT;

	if (!w->run_pages || w->run_kind != kind ||
	    w->run_as_id != k->as_id ||
	    w->run_gpa + ((u64)w->run_pages << PAGE_SHIFT) != gpa) {
		if (!kmig_worker_flush_run(w))
			return false;
		w->run_kind = kind;
		w->run_as_id = k->as_id;
		w->run_gpa = gpa;
	}
	/* Counted once in a run: a run put back is uncounted again. */
	w->run_pages += n;
	if (kind == KMIG_REC_ZERO)
		w->zero += n;
	else
		w->hole += n;
	return true;
}

static void kmig_worker_count(struct kmig_worker *w, u32 npages, size_t len,
			      bool compressed)
{
	w->normal += npages;
	w->bytes += len;
	if (compressed) {
		w->compressed += npages;
		w->compressed_bytes += len;
	}
}

/*
 * Queues the @m data pages read into zrun_buf, from @pgoff of @k on: one
 * zstd frame when it fits a slot, else each page as its own frame or raw
 * (and runs rest a while). *@queued: how many of them are in the ring,
 * also when it returns false to stop the round.
 */
static bool kmig_worker_queue_zrun(struct kmig_worker *w, struct kmig_slot *k,
				   u64 pgoff, u32 m, u32 *queued)
{
	u64 gpa = (k->base_gfn + pgoff) << PAGE_SHIFT;
	const u8 *src;
	size_t len;
	void *data;
	u32 i;

	*queued = 0;
	if (m > 1) {
		if (!kmig_worker_wait_space(w))
			return false;
		/* Compressed straight into the next data slot. */
		kmig_ring_rec(&w->ring, &data);
		len = kmig_zcomp_pages(w->zc, data, w->zrun_buf, m);
		cond_resched();
		if (len) {
			if (!kmig_worker_emit(w, KMIG_REC_ZSTD, k->as_id, gpa, m,
					      len))
				return false;
			kmig_worker_count(w, m, len, true);
			w->zrun_backoff = KMIG_ZRUN_BACKOFF_MIN;
			*queued = m;
			return true;
		}
		w->zrun_skip = w->zrun_backoff;
		w->zrun_backoff = min(2 * w->zrun_backoff,
				      (u32)KMIG_ZRUN_BACKOFF_MAX);
	}
	for (i = 0; i < m; i++) {
		if (!kmig_worker_wait_space(w))
			return false;
		kmig_ring_rec(&w->ring, &data);
		src = w->zrun_buf + i * KMIG_PAGE_SIZE;
		len = kmig_zcomp_pages(w->zc, data, src, 1);
		if (!len)
			memcpy(data, src, KMIG_PAGE_SIZE);
		cond_resched();
		if (!kmig_worker_emit(w, len ? KMIG_REC_ZSTD : KMIG_REC_PAGE,
				      k->as_id, gpa + i * KMIG_PAGE_SIZE, 1,
				      len ?: KMIG_PAGE_SIZE))
			return false;
		kmig_worker_count(w, 1, len ?: KMIG_PAGE_SIZE, len);
		(*queued)++;
	}
	return true;
}

/* Drops the pages got ahead and not read. */
static void kmig_worker_gup_drop(struct kmig_worker *w)
{
	while (w->gup_next < w->gup_nr)
		put_page(w->gup[w->gup_next++]);
	w->gup_nr = 0;
	w->gup_next = 0;
}

/*
 * Page @p of the chunk at @hva into @buf, as kmig_read_page() reads it,
 * with the present pages got ahead: the run of taken, non-hole pages from
 * @p on (up to KMIG_GUP_BATCH) in one get_user_pages_fast_only() call, so
 * one page-table walk with interrupts off per batch (one lookup for a
 * THP) instead of one per page. Pages are read in order; a page out of
 * order, or not present, drops the batch or goes the slow way.
 *
 * A page is read later after its lookup than before, never before its
 * bit was taken: a guest write meanwhile sets the bit again, as for any
 * page written while it is read.
 */
static int kmig_worker_read(struct kmig_worker *w, unsigned long hva,
			    const unsigned long *taken,
			    const unsigned long *holes, u64 p, u64 n, void *buf)
{
	struct page *page;
	u64 end;
	int kind, got;

	if (w->gup_next >= w->gup_nr ||
	    hva != w->gup_hva + ((unsigned long)w->gup_next << PAGE_SHIFT)) {
		kmig_worker_gup_drop(w);
		end = min3(find_next_zero_bit(taken, n, p),
			   find_next_bit(holes, n, p),
			   p + KMIG_GUP_BATCH);
		got = get_user_pages_fast_only(hva, max_t(u64, end - p, 1), 0,
					       w->gup);
		/* Not present: the slow way, without a second lookup. */
		if (got <= 0)
			return kmig_read_page(hva, buf);
		w->gup_nr = got;
		w->gup_hva = hva;
	}
	page = w->gup[w->gup_next++];
	kind = kmig_copy_page(page, buf);
	put_page(page);
	return kind;
}

/*
 * KMIG_SEND_F_ZSTD_RUN: the data pages of the chunk from *@p on (taken,
 * not holes; up to KMIG_ZSTD_RUN_MAX) read into the worker's buffer and
 * queued together; a page that reads zero or hole ends the run and joins
 * the pending zero/hole run. *@p: the first page not looked at, or, when
 * it returns false to stop the round, the first page not queued.
 */
static bool kmig_worker_zrun(struct kmig_worker *w, struct kmig_slot *k,
			     u64 first, const unsigned long *taken,
			     const unsigned long *holes, u64 n, u64 *p)
{
	u64 start = *p, q = *p;
	u32 m = 0, queued;
	int kind = KMIG_REC_PAGE;

	while (q < n && m < KMIG_ZSTD_RUN_MAX && test_bit(q, taken) &&
	       !test_bit(q, holes)) {
		kind = kmig_worker_read(w, k->hva + ((first + q) << PAGE_SHIFT),
					taken, holes, q, n,
					w->zrun_buf + m * KMIG_PAGE_SIZE);
		if (kind < 0) {
			WRITE_ONCE(w->send->error, kind);
			*p = start;
			return false;
		}
		q++;
		if (kind != KMIG_REC_PAGE)
			break;
		m++;
	}
	if (!kmig_worker_queue_zrun(w, k, first + start, m, &queued)) {
		*p = start + queued;
		return false;
	}
	if (kind != KMIG_REC_PAGE &&
	    !kmig_worker_add_run(w, k, first + q - 1, 1, kind)) {
		*p = q - 1;
		return false;
	}
	*p = q;
	return true;
}

/*
 * Queues page @p of the chunk (@first of @k), taken from the bitmap;
 * false to stop the round.
 */
static bool kmig_worker_page(struct kmig_worker *w, struct kmig_slot *k,
			     u64 first, const unsigned long *taken,
			     const unsigned long *holes, u64 p, u64 n)
{
	u64 pgoff = first + p, gpa = (k->base_gfn + pgoff) << PAGE_SHIFT;
	unsigned long hva = k->hva + (pgoff << PAGE_SHIFT);
	void *data;
	int kind;

	if (!kmig_worker_wait_space(w))
		return false;
	/* Read straight into the next data slot; only PAGE publishes it. */
	kmig_ring_rec(&w->ring, &data);
	kind = kmig_worker_read(w, hva, taken, holes, p, n, data);
	if (kind < 0) {
		WRITE_ONCE(w->send->error, kind);
		return false;
	}
	if (kind == KMIG_REC_PAGE) {
		/* Compressed in place: the frame replaces the slot's start. */
		size_t len = 0;

		if (w->zc) {
			len = kmig_zcomp_page(w->zc, data);
			/* High levels take long per page: not a whole chunk. */
			cond_resched();
		}

		/*
		 * The data already sits in the next record's slot, so the page
		 * goes first; a pending run waits (records need no order).
		 */
		if (!kmig_worker_emit(w, len ? KMIG_REC_ZSTD : KMIG_REC_PAGE,
				      k->as_id, gpa, 1, len ?: KMIG_PAGE_SIZE))
			return false;
		kmig_worker_count(w, 1, len ?: KMIG_PAGE_SIZE, len);
		return true;
	}
	return kmig_worker_add_run(w, k, pgoff, 1, kind);
}

/*
 * Holes found from the page tables, a chunk at a time: one mmap_read_lock
 * and one walk per chunk instead of a lock and a walk per page, and an
 * empty page table (2 MiB), PMD page (1 GiB) or more skipped whole. The
 * pages it marks are those kmig_read_page() would call holes in private
 * anonymous memory (an empty entry at any level, or the shared zero page);
 * everything else (file memory, huge, swapped or present pages, addresses
 * outside any VMA) is left to kmig_read_page(), page by page.
 *
 * Sound because the chunk's bits are taken before the walk: a page
 * written after its entry was read is in KVM's dirty log again, and one
 * written before it is not a hole.
 */
static void kmig_mark_holes(unsigned long *holes, unsigned long base,
			    unsigned long from, unsigned long to)
{
	bitmap_set(holes, (from - base) >> PAGE_SHIFT, (to - from) >> PAGE_SHIFT);
}

static void kmig_anon_holes(struct mm_struct *mm, unsigned long base,
			    unsigned long addr, unsigned long end,
			    unsigned long *holes)
{
	unsigned long next;
	pte_t *ptep, *pte0, pte;
	pud_t *pud, pudval;
	pmd_t *pmd, pmdval;
	pgd_t *pgd;
	p4d_t *p4d;

	for (; addr < end; addr = next) {
		pgd = pgd_offset(mm, addr);
		next = pgd_addr_end(addr, end);
		if (pgd_none(READ_ONCE(*pgd))) {
			kmig_mark_holes(holes, base, addr, next);
			continue;
		}
		p4d = p4d_offset(pgd, addr);
		next = p4d_addr_end(addr, end);
		if (p4d_none(READ_ONCE(*p4d))) {
			kmig_mark_holes(holes, base, addr, next);
			continue;
		}
		pud = pud_offset(p4d, addr);
		next = pud_addr_end(addr, end);
		pudval = READ_ONCE(*pud);
		if (pud_none(pudval)) {
			kmig_mark_holes(holes, base, addr, next);
			continue;
		}
		if (!pud_present(pudval) || pud_leaf(pudval))
			continue;
		pmd = pmd_offset(pud, addr);
		next = pmd_addr_end(addr, end);
		pmdval = READ_ONCE(*pmd);
		if (pmd_none(pmdval)) {
			kmig_mark_holes(holes, base, addr, next);
			continue;
		}
		if (!pmd_present(pmdval) || pmd_leaf(pmdval) || pmd_bad(pmdval))
			continue;
		pte0 = pte_offset_map(pmd, addr);
		for (ptep = pte0; addr < next; addr += PAGE_SIZE, ptep++) {
			pte = READ_ONCE(*ptep);
			if (pte_none(pte) ||
			    (pte_present(pte) && is_zero_pfn(pte_pfn(pte))))
				__set_bit((addr - base) >> PAGE_SHIFT, holes);
		}
		pte_unmap(pte0);
	}
}

/* Marks in @holes the pages of @n from @hva that are holes (see above). */
static void kmig_chunk_holes(struct mm_struct *mm, unsigned long hva, u64 n,
			     unsigned long *holes)
{
	unsigned long addr = hva, end = hva + (n << PAGE_SHIFT);
	struct vm_area_struct *vma;

	bitmap_zero(holes, KMIG_CHUNK_PAGES);
	mmap_read_lock(mm);
	while (addr < end) {
		vma = find_vma(mm, addr);
		if (!vma || vma->vm_start >= end)
			break;
		addr = max(addr, vma->vm_start);
		if (vma_is_anonymous(vma))
			kmig_anon_holes(mm, hva, addr, min(end, vma->vm_end),
					holes);
		addr = min(end, vma->vm_end);
	}
	mmap_read_unlock(mm);
}

static struct kmig_slot *kmig_chunk_slot(struct kmig_send *send, u64 chunk,
					 u64 *first)
{
	u32 i;

	for (i = send->slots->nr; i-- > 0;) {
		if (chunk >= send->chunk_start[i]) {
			*first = (chunk - send->chunk_start[i]) *
				 KMIG_CHUNK_PAGES;
			return &send->slots->slot[i];
		}
	}
	return NULL;
}

/*
 * Takes the chunk's bits out of the bitmap at once, into @taken: chunks
 * are whole words owned by one worker; the only other writer is a
 * ring-full sync setting bits, which the exchange does not lose.
 */
static void kmig_chunk_take(struct kmig_slot *k, u64 first, u64 n,
			    unsigned long *taken)
{
	unsigned long *word = k->bitmap + first / BITS_PER_LONG;
	u64 i;

	for (i = 0; i < BITS_TO_LONGS(n); i++)
		taken[i] = READ_ONCE(word[i]) ? xchg(&word[i], 0) : 0;
}

/* One chunk's pages; false to stop the round (what is left is put back). */
static bool kmig_worker_chunk(struct kmig_worker *w, struct kmig_slot *k,
			      u64 first, u64 n)
{
	DECLARE_BITMAP(taken, KMIG_CHUNK_PAGES);
	DECLARE_BITMAP(holes, KMIG_CHUNK_PAGES);
	u64 p, q;

	kmig_chunk_take(k, first, n, taken);
	p = find_first_bit(taken, n);
	if (p >= n)
		return true;
	kmig_chunk_holes(current->mm, k->hva + (first << PAGE_SHIFT), n, holes);
	while (p < n) {
		if (test_bit(p, holes)) {
			/* A run of holes whose bits are all set: one step. */
			q = min(find_next_zero_bit(taken, n, p),
				find_next_zero_bit(holes, n, p));
			if (!kmig_worker_add_run(w, k, first + p, q - p,
						 KMIG_REC_HOLE))
				goto stop;
			p = find_next_bit(taken, n, q);
			continue;
		}
		if (w->zrun_buf && !w->zrun_skip) {
			if (!kmig_worker_zrun(w, k, first, taken, holes, n, &p))
				goto stop;
			p = find_next_bit(taken, n, p);
			continue;
		}
		if (w->zrun_skip)
			w->zrun_skip--;
		if (!kmig_worker_page(w, k, first, taken, holes, p, n))
			goto stop;
		p = find_next_bit(taken, n, p + 1);
	}
	kmig_worker_gup_drop(w);
	/* Runs end with their chunk, so none outlives the round. */
	if (kmig_worker_flush_run(w))
		return true;
	p = n;
stop:
	kmig_worker_gup_drop(w);
	kmig_worker_put_back(w, k, first, taken, p, n);
	return false;
}

static void kmig_worker_round(struct kmig_worker *w)
{
	struct kmig_send *send = w->send;
	struct kmig_slot *k;
	u64 chunk, first;

	w->normal = 0;
	w->zero = 0;
	w->hole = 0;
	w->bytes = 0;
	w->compressed = 0;
	w->compressed_bytes = 0;
	w->run_pages = 0;

	while (!kmig_send_stopping(send) && !kthread_should_stop()) {
		chunk = atomic64_fetch_inc(&send->cursor);
		if (chunk >= send->nr_chunks)
			break;
		k = kmig_chunk_slot(send, chunk, &first);
		if (!kmig_worker_chunk(w, k, first,
				       min_t(u64, KMIG_CHUNK_PAGES,
					     k->npages - first)))
			return;
		cond_resched();
	}
	if (!kmig_send_stopping(send))
		kmig_worker_emit(w, KMIG_REC_ROUND_END, 0, send->round, 0, 0);
}

static int kmig_worker_fn(void *arg)
{
	struct kmig_worker *w = arg;
	struct kmig_send *send = w->send;
	struct mm_struct *mm = send->kvm->mm;

	while (!kthread_should_stop()) {
		wait_event_interruptible(send->start_wq, kthread_should_stop() ||
					 READ_ONCE(send->round) != w->round_seen);
		if (kthread_should_stop())
			break;
		/* Acquire: the round's state is set before the round number. */
		w->round_seen = smp_load_acquire(&send->round);

		if (mmget_not_zero(mm)) {
			kthread_use_mm(mm);
			kmig_worker_round(w);
			kthread_unuse_mm(mm);
			mmput(mm);
		} else {
			WRITE_ONCE(send->error, -ESRCH);
		}
		if (atomic_dec_and_test(&send->active))
			wake_up(&send->done_wq);
	}
	return 0;
}

/*
 * The session was cancelled (s->cancelled is set): a running round stops
 * at once; the next ones fail until DIRTY_START clears the flag. One flag,
 * so a cancel racing a restart leaves one answer that netlink and the
 * ioctls agree on.
 */
void kmig_send_wake(struct kmig_send *send)
{
	u32 i;

	for (i = 0; i < send->nr_workers; i++)
		wake_up(&send->w[i].ring.wq);
	wake_up(&send->done_wq);
}

void kmig_send_destroy(struct kmig_send *send)
{
	u32 i;

	if (!send)
		return;
	WRITE_ONCE(send->cancel, true);
	for (i = 0; i < send->nr_workers; i++) {
		if (send->w[i].task) {
			kthread_stop(send->w[i].task);
			kmig_obj_dec(KMIG_OBJ_WORKERS);
		}
		/* The worker has stopped: nothing uses its context now. */
		kmig_zcomp_destroy(send->w[i].zc);
		kvfree(send->w[i].zrun_buf);
		if (send->w[i].ring.mem) {
			kmig_ring_free(&send->w[i].ring);
			kmig_obj_dec(KMIG_OBJ_RINGS);
		}
	}
	kfree(send->chunk_start);
	kfree(send);
}

int kmig_send_setup(struct kmig_session *s, struct kmig_send_setup *arg,
		    bool rec_v1)
{
	struct kmig_send *send;
	u32 i;
	int ret;

	if (s->send)
		return -EBUSY;
	if (!arg->nr_workers || arg->nr_workers > KMIG_MAX_WORKERS ||
	    arg->ring_entries < 16 ||
	    arg->ring_entries > KMIG_MAX_RING_ENTRIES ||
	    !is_power_of_2(arg->ring_entries))
		return -EINVAL;
	if (arg->zstd_level > KMIG_ZSTD_LEVEL_MAX ||
	    (arg->zstd_level && !(arg->flags & KMIG_SEND_F_ZSTD)) ||
	    (arg->flags & KMIG_SEND_F_ZSTD_RUN &&
	     !(arg->flags & KMIG_SEND_F_ZSTD)))
		return -EINVAL;

	send = kzalloc(struct_size(send, w, arg->nr_workers),
		       GFP_KERNEL_ACCOUNT);
	if (!send)
		return -ENOMEM;
	send->kvm = s->vm->kvm;
	send->cancelled = &s->cancelled;
	send->rec_v1 = rec_v1;
	send->nr_workers = arg->nr_workers;
	send->entries = arg->ring_entries;
	init_waitqueue_head(&send->start_wq);
	init_waitqueue_head(&send->done_wq);

	for (i = 0; i < send->nr_workers; i++) {
		struct kmig_worker *w = &send->w[i];

		w->send = send;
		ret = kmig_ring_init(&w->ring, send->entries);
		if (ret)
			goto err;
		kmig_obj_inc(KMIG_OBJ_RINGS);
		/* Created before the worker runs, freed after it stopped. */
		if (arg->flags & KMIG_SEND_F_ZSTD) {
			w->zc = kmig_zcomp_create(arg->zstd_level);
			if (IS_ERR(w->zc)) {
				ret = PTR_ERR(w->zc);
				w->zc = NULL;
				goto err;
			}
		}
		if (arg->flags & KMIG_SEND_F_ZSTD_RUN) {
			w->zrun_buf = kvmalloc(KMIG_ZSTD_RUN_MAX * KMIG_PAGE_SIZE,
					       GFP_KERNEL_ACCOUNT);
			if (!w->zrun_buf) {
				ret = -ENOMEM;
				goto err;
			}
			w->zrun_backoff = KMIG_ZRUN_BACKOFF_MIN;
		}
		w->task = kthread_run(kmig_worker_fn, w, "kmig/%u:%u", s->id, i);
		if (IS_ERR(w->task)) {
			ret = PTR_ERR(w->task);
			w->task = NULL;
			goto err;
		}
		kmig_obj_inc(KMIG_OBJ_WORKERS);
	}

	kmig_ring_offsets(send->entries, &arg->off, &arg->ring_bytes);
	arg->rec_size = sizeof(struct kmig_rec);
	/* Release: KMIG_RING_WAIT and mmap look at it without s->lock. */
	smp_store_release(&s->send, send);
	return 0;

err:
	kmig_send_destroy(send);
	return ret;
}

static int kmig_send_plan(struct kmig_send *send, struct kmig_slots *slots)
{
	u64 n = 0;
	u32 i;

	kfree(send->chunk_start);
	send->chunk_start = kcalloc(max_t(u32, slots->nr, 1), sizeof(u64),
				    GFP_KERNEL_ACCOUNT);
	if (!send->chunk_start)
		return -ENOMEM;
	for (i = 0; i < slots->nr; i++) {
		send->chunk_start[i] = n;
		n += DIV_ROUND_UP(slots->slot[i].npages, KMIG_CHUNK_PAGES);
	}
	send->slots = slots;
	send->nr_chunks = n;
	return 0;
}

/*
 * Called with s->lock held; lets go of it while the workers run, with
 * s->round_active set: meanwhile only what kmig_ioc_check() lets through
 * runs (a ring-full DIRTY_SYNC, which only sets bits; reads), and nothing
 * may change s->slots, s->send or the bitmaps' words but the workers.
 */
int kmig_send_round(struct kmig_session *s, struct kmig_send_round *arg)
{
	struct kmig_send *send = s->send;
	u64 t0 = ktime_get_ns();
	u32 i;
	int ret;

	if (!send || !s->slots)
		return -EINVAL;
	if (!kmig_vm_alive(s->vm))
		return -ESRCH;
	/* Its records would land in address space 0 on the other side. */
	for (i = 0; send->rec_v1 && i < s->slots->nr; i++)
		if (s->slots->slot[i].as_id)
			return -EOPNOTSUPP;
	ret = kmig_send_plan(send, s->slots);
	if (ret)
		return ret;

	atomic64_set(&send->cursor, 0);
	atomic_set(&send->active, send->nr_workers);
	send->cancel = false;
	send->error = 0;
	WRITE_ONCE(s->round_active, true);
	mutex_unlock(&s->lock);
	/* Release: workers see the plan once they see the new round. */
	smp_store_release(&send->round, send->round + 1);
	wake_up_all(&send->start_wq);

	ret = wait_event_interruptible(send->done_wq,
				       !atomic_read(&send->active));
	if (!ret && READ_ONCE(s->cancelled)) {
		ret = -ECANCELED;
	} else if (ret) {
		/* Workers stop at their next page: a short wait. */
		WRITE_ONCE(send->cancel, true);
		for (i = 0; i < send->nr_workers; i++)
			wake_up(&send->w[i].ring.wq);
		wait_event(send->done_wq, !atomic_read(&send->active));
		ret = -EINTR;
	} else {
		ret = READ_ONCE(send->error);
	}
	/* Held by the others only briefly. */
	mutex_lock(&s->lock);
	WRITE_ONCE(s->round_active, false);

	/* Workers cleared bits concurrently: recount rather than track. */
	s->dirty_pages = 0;
	for (i = 0; i < s->slots->nr; i++) {
		struct kmig_slot *k = &s->slots->slot[i];

		k->dirty = bitmap_weight(k->bitmap, k->npages);
		s->dirty_pages += k->dirty;
	}

	arg->round = send->round;
	/* Output fields arrive with whatever userspace left in them. */
	arg->normal = 0;
	arg->zero = 0;
	arg->hole = 0;
	arg->bytes = 0;
	arg->compressed = 0;
	arg->compressed_bytes = 0;
	for (i = 0; i < send->nr_workers; i++) {
		arg->normal += send->w[i].normal;
		arg->zero += send->w[i].zero;
		arg->hole += send->w[i].hole;
		arg->bytes += send->w[i].bytes;
		arg->compressed += send->w[i].compressed;
		arg->compressed_bytes += send->w[i].compressed_bytes;
	}
	/* What the records carry: syncs may have added pages meanwhile. */
	arg->pages = arg->normal + arg->zero + arg->hole;
	arg->scan_ns = ktime_get_ns() - t0;
	s->stats.rounds++;
	s->stats.sent_pages += arg->pages;
	s->stats.zero_pages += arg->zero;
	s->stats.hole_pages += arg->hole;
	s->stats.sent_bytes += arg->bytes;
	s->stats.compressed_pages += arg->compressed;
	s->stats.compressed_bytes += arg->compressed_bytes;
	return ret;
}

long kmig_send_ring_wait(struct kmig_session *s, struct kmig_ring_wait *arg)
{
	/* Set once under s->lock and freed only at release: no lock here. */
	struct kmig_send *send = smp_load_acquire(&s->send);

	if (!send || arg->ring >= send->nr_workers)
		return -EINVAL;
	return kmig_ring_wait(&send->w[arg->ring].ring, arg->timeout_ms,
			      send->cancelled, &arg->ready);
}

int kmig_send_mmap(struct kmig_session *s, struct vm_area_struct *vma)
{
	/* Acquire pairs with kmig_send_setup(): a set-up send is complete. */
	struct kmig_send *send = smp_load_acquire(&s->send);
	u64 ring = vma->vm_pgoff >> (32 - PAGE_SHIFT);

	if (!send || vma->vm_pgoff & ((1UL << (32 - PAGE_SHIFT)) - 1) ||
	    ring >= send->nr_workers)
		return -EINVAL;
	return kmig_ring_mmap(&send->w[ring].ring, vma);
}
