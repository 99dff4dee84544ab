// SPDX-License-Identifier: LGPL-2.1 OR MIT
/*
 * Source side: set up the send workers and map their rings, run a round,
 * wait on a ring. Draining a ring is static inline in libkmig.h.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "libkmig.h"
#include "ioctl.h"

/* A __u32 field at @off lies inside the header, before the records. */
static int kmig_off_ok(__u32 off, const struct kmig_ring_offsets *o)
{
	return off % sizeof(__u32) == 0 && off + sizeof(__u32) <= o->recs;
}

/*
 * The kernel's offsets must describe a layout that fits the mapping: a
 * module that disagrees would otherwise have us read past the end.
 */
static int kmig_layout_ok(const struct kmig_send_setup *a)
{
	const struct kmig_ring_offsets *o = &a->off;
	__u64 recs_end = (__u64)o->recs + (__u64)a->ring_entries *
					  sizeof(struct kmig_rec);

	return kmig_off_ok(o->head, o) && kmig_off_ok(o->tail, o) &&
	       kmig_off_ok(o->mask, o) && kmig_off_ok(o->entries, o) &&
	       o->recs % sizeof(__u64) == 0 && recs_end <= o->data &&
	       (__u64)o->data + (__u64)a->ring_entries * KMIG_PAGE_SIZE <=
	       a->ring_bytes && a->ring_bytes <= SIZE_MAX;
}

static int kmig_ring_map(int fd, const struct kmig_send_setup *a, __u32 i,
			 struct kmig_ring *r)
{
	const struct kmig_ring_offsets *o = &a->off;
	unsigned char *m;

	m = mmap(NULL, a->ring_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		 (off_t)KMIG_MMAP_RING(i));
	if (m == MAP_FAILED)
		return -errno;

	memset(r, 0, sizeof(*r));
	r->map = m;
	r->map_bytes = a->ring_bytes;
	r->index = i;
	r->khead = (__u32 *)(m + o->head);
	r->ktail = (const __u32 *)(m + o->tail);
	r->recs = (const struct kmig_rec *)(m + o->recs);
	r->data = m + o->data;
	/* Our own copies: the mapping's words are the kernel's to write. */
	r->entries = a->ring_entries;
	r->mask = a->ring_entries - 1;
	if (*(const __u32 *)(m + o->entries) != r->entries ||
	    *(const __u32 *)(m + o->mask) != r->mask) {
		munmap(m, a->ring_bytes);
		return -EPROTO;
	}
	return 0;
}

void kmig_rings_unmap(struct kmig_ring *rings, __u32 nr_workers)
{
	__u32 i;

	if (!rings)
		return;
	for (i = 0; i < nr_workers; i++)
		if (rings[i].map)
			munmap(rings[i].map, rings[i].map_bytes);
	free(rings);
}

int kmig_send_setup_ex(int fd, struct kmig_send_setup *arg,
		       struct kmig_ring **rings)
{
	struct kmig_ring *r;
	__u32 i;
	int ret;

	if (!arg || !rings)
		return -EINVAL;
	arg->size = sizeof(*arg);
	ret = kmig_ioctl(fd, KMIG_SEND_SETUP, arg);
	if (ret < 0)
		return ret;
	/* The kernel accepted these counts; a power of two, as documented. */
	if (!arg->ring_entries || arg->ring_entries & (arg->ring_entries - 1) ||
	    !kmig_layout_ok(arg))
		return -EPROTO;

	r = calloc(arg->nr_workers, sizeof(*r));
	if (!r)
		return -ENOMEM;
	for (i = 0; i < arg->nr_workers; i++) {
		ret = kmig_ring_map(fd, arg, i, &r[i]);
		if (ret < 0) {
			kmig_rings_unmap(r, i);
			return ret;
		}
	}
	*rings = r;
	return 0;
}

int kmig_send_setup(int fd, __u32 nr_workers, __u32 ring_entries,
		    struct kmig_ring **rings)
{
	struct kmig_send_setup arg;

	memset(&arg, 0, sizeof(arg));
	arg.nr_workers = nr_workers;
	arg.ring_entries = ring_entries;
	return kmig_send_setup_ex(fd, &arg, rings);
}

int kmig_send_round(int fd, struct kmig_send_round *out)
{
	struct kmig_send_round arg;
	int ret;

	memset(&arg, 0, sizeof(arg));
	arg.size = sizeof(arg);
	ret = kmig_ioctl(fd, KMIG_SEND_ROUND, &arg);
	/* The kernel writes the counters back on failure too. */
	if (out)
		*out = arg;
	return ret;
}

int kmig_ring_wait(int fd, __u32 ring, __u32 timeout_ms, __u32 *ready)
{
	struct kmig_ring_wait arg;
	int ret;

	memset(&arg, 0, sizeof(arg));
	arg.size = sizeof(arg);
	arg.ring = ring;
	arg.timeout_ms = timeout_ms;
	ret = kmig_ioctl(fd, KMIG_RING_WAIT, &arg);
	if (ret >= 0 && ready)
		*ready = arg.ready;
	return ret;
}
