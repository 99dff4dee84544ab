// SPDX-License-Identifier: GPL-2.0
/*
 * zstd page compression with the kernel's lib/zstd: a compression context
 * per send worker (source) and, on the destination, a decompression
 * context per KMIG_LOAD running, from a small per-session pool. A frame
 * holds one page, or with KMIG_SEND_F_ZSTD_RUN a run of up to
 * KMIG_ZSTD_RUN_MAX neighbouring pages; every frame stands alone, so any
 * record can be loaded alone, in any order, on any channel.
 *
 * Contexts and their workspaces are charged to the memory cgroup of the
 * task whose ioctl creates them (KMIG_SEND_SETUP, KMIG_LOAD).
 */
#include <linux/err.h>
#include <linux/list.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/vmalloc.h>
#include <linux/zstd.h>

#include "kmig.h"

/* Past the cgroup's limit: -ENOMEM from the ioctl, not an OOM kill. */
#define KMIG_ZSTD_GFP	(GFP_KERNEL_ACCOUNT | __GFP_RETRY_MAYFAIL | __GFP_NOWARN)

struct kmig_zcomp {
	zstd_cctx *cctx;
	zstd_parameters params;
	void *wksp;			/* __vmalloc: ~67 KB at level 1 */
	/* The frame, copied over the page only when it is small enough. */
	u8 frame[KMIG_ZSTD_MAX_LEN];
};

/* Idle contexts a session keeps: about one per data channel. */
#define KMIG_ZDEC_POOL_MAX	KMIG_MAX_WORKERS

struct kmig_zdec {
	struct list_head node;		/* kmig_zdec_pool.free, while idle */
	zstd_dctx *dctx;
	void *wksp;			/* __vmalloc: ~160 KB */
	/* A bad frame must never reach guest RAM: decompress here first. */
	u8 pages[KMIG_ZSTD_RUN_MAX * KMIG_PAGE_SIZE];
};

/*
 * The input size the parameters are tuned for, also for single pages:
 * zstd's 32 KiB table (window 32 KiB, minimum match 6) packs text pages
 * about 6% tighter than its 4 KiB one, and a run's frame needs the window.
 * Its workspace is ~181 KB a worker at level 1 (~74 KB for 4 KiB).
 */
#define KMIG_ZSTD_SRC_HINT	(8 * KMIG_PAGE_SIZE)

/*
 * zstd_parameters starts with its compression parameters; reaching them
 * through the first member keeps zstd's CamelCase field name out of kmig
 * (checkpatch cannot see the kernel's headers out of tree).
 */
static const zstd_compression_parameters *
kmig_zstd_cparams(const zstd_parameters *p)
{
	return (const zstd_compression_parameters *)p;
}

/*
 * Level 0 means KMIG_ZSTD_LEVEL_DEFAULT. The parameters are tuned for a
 * KMIG_ZSTD_SRC_HINT input, which keeps the workspace small even at high
 * levels.
 */
struct kmig_zcomp *kmig_zcomp_create(u32 level)
{
	struct kmig_zcomp *z;
	size_t bound;

	if (!level)
		level = KMIG_ZSTD_LEVEL_DEFAULT;
	if (level > KMIG_ZSTD_LEVEL_MAX)
		return ERR_PTR(-EINVAL);
	z = kzalloc(sizeof(*z), GFP_KERNEL_ACCOUNT);
	if (!z)
		return ERR_PTR(-ENOMEM);
	z->params = zstd_get_params((int)level, KMIG_ZSTD_SRC_HINT);
	bound = zstd_cctx_workspace_bound(kmig_zstd_cparams(&z->params));
	/* kmig_zcomp_destroy() undoes any part of this (vfree(NULL) is fine). */
	z->wksp = __vmalloc(bound, KMIG_ZSTD_GFP);
	z->cctx = z->wksp ? zstd_init_cctx(z->wksp, bound) : NULL;
	kmig_obj_inc(KMIG_OBJ_ZSTD);
	if (!z->cctx) {
		kmig_zcomp_destroy(z);
		return ERR_PTR(-ENOMEM);
	}
	return z;
}

void kmig_zcomp_destroy(struct kmig_zcomp *z)
{
	if (!z)
		return;
	vfree(z->wksp);
	kfree(z);
	kmig_obj_dec(KMIG_OBJ_ZSTD);
}

/*
 * Compresses the page at @page. If the frame fits in KMIG_ZSTD_MAX_LEN
 * bytes it replaces the page's first bytes and its length is returned;
 * otherwise (zstd says the destination is too small) 0: send it raw.
 */
size_t kmig_zcomp_page(struct kmig_zcomp *z, void *page)
{
	size_t len;

	len = zstd_compress_cctx(z->cctx, z->frame, sizeof(z->frame), page,
				 KMIG_PAGE_SIZE, &z->params);
	if (zstd_is_error(len) || !len || len > KMIG_ZSTD_MAX_LEN)
		return 0;
	memcpy(page, z->frame, len);
	return len;
}

/*
 * Compresses the @npages pages at @src as one frame straight into @dst
 * (KMIG_ZSTD_MAX_LEN bytes of room). Returns its length, or 0 when it
 * does not fit (or zstd fails): @dst then holds garbage.
 */
size_t kmig_zcomp_pages(struct kmig_zcomp *z, void *dst, const void *src,
			u32 npages)
{
	size_t len;

	len = zstd_compress_cctx(z->cctx, dst, KMIG_ZSTD_MAX_LEN, src,
				 (size_t)npages * KMIG_PAGE_SIZE, &z->params);
	if (zstd_is_error(len) || len > KMIG_ZSTD_MAX_LEN)
		return 0;
	return len;
}

static void kmig_zdec_destroy(struct kmig_zdec *z)
{
	if (!z)
		return;
	vfree(z->wksp);
	kvfree(z);
	kmig_obj_dec(KMIG_OBJ_ZSTD);
}

static struct kmig_zdec *kmig_zdec_create(void)
{
	size_t bound = zstd_dctx_workspace_bound();
	struct kmig_zdec *z;

	/* 16 KiB of pages in it: kvzalloc() needs no order-3 page. */
	z = kvzalloc(sizeof(*z), GFP_KERNEL_ACCOUNT);
	if (!z)
		return ERR_PTR(-ENOMEM);
	/* kmig_zdec_destroy() undoes any part of this (vfree(NULL) is fine). */
	z->wksp = __vmalloc(bound, KMIG_ZSTD_GFP);
	z->dctx = z->wksp ? zstd_init_dctx(z->wksp, bound) : NULL;
	kmig_obj_inc(KMIG_OBJ_ZSTD);
	if (!z->dctx) {
		kmig_zdec_destroy(z);
		return ERR_PTR(-ENOMEM);
	}
	return z;
}

void kmig_zdec_pool_init(struct kmig_zdec_pool *pool)
{
	spin_lock_init(&pool->lock);
	INIT_LIST_HEAD(&pool->free);
	pool->nr_free = 0;
}

/* At session release: no load runs, every context is back. */
void kmig_zdec_pool_destroy(struct kmig_zdec_pool *pool)
{
	struct kmig_zdec *z, *tmp;

	list_for_each_entry_safe(z, tmp, &pool->free, node) {
		list_del(&z->node);
		kmig_zdec_destroy(z);
	}
	pool->nr_free = 0;
}

/*
 * A context for the caller alone until kmig_zdec_put(): an idle one, or a
 * new one charged to the caller's memory cgroup (it may sleep).
 */
struct kmig_zdec *kmig_zdec_get(struct kmig_zdec_pool *pool)
{
	struct kmig_zdec *z;

	spin_lock(&pool->lock);
	z = list_first_entry_or_null(&pool->free, struct kmig_zdec, node);
	if (z) {
		list_del(&z->node);
		pool->nr_free--;
	}
	spin_unlock(&pool->lock);
	return z ?: kmig_zdec_create();
}

void kmig_zdec_put(struct kmig_zdec_pool *pool, struct kmig_zdec *z)
{
	spin_lock(&pool->lock);
	if (pool->nr_free < KMIG_ZDEC_POOL_MAX) {
		list_add(&z->node, &pool->free);
		pool->nr_free++;
		z = NULL;
	}
	spin_unlock(&pool->lock);
	/* vfree() may sleep: outside the spinlock. */
	kmig_zdec_destroy(z);
}

/*
 * Decompresses the @len-byte frame at @src into the context's own buffer
 * and returns it, or ERR_PTR(-EINVAL) unless the frame is valid and holds
 * exactly @npages pages (1..KMIG_ZSTD_RUN_MAX). zstd never writes past
 * the buffer's capacity, whatever the frame claims. The caller owns @z
 * (kmig_zdec_get()).
 */
const void *kmig_zdec_pages(struct kmig_zdec *z, const void *src, size_t len,
			    u32 npages)
{
	size_t got;

	if (!npages || npages > KMIG_ZSTD_RUN_MAX)
		return ERR_PTR(-EINVAL);
	got = zstd_decompress_dctx(z->dctx, z->pages, sizeof(z->pages), src,
				   len);
	if (zstd_is_error(got) || got != (size_t)npages * KMIG_PAGE_SIZE)
		return ERR_PTR(-EINVAL);
	return z->pages;
}
