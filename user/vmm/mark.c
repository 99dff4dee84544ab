// SPDX-License-Identifier: GPL-2.0
/*
 * Reporting the VMM's own writes to guest RAM (KMIG_DIRTY_MARK); see
 * mark.h.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "libkmig.h"
#include "mark.h"
#include "ram.h"
#include "util.h"
#include "vmm.h"

#define MARK_MAX_RANGES	8

void mark_init(struct vmm *vmm)
{
	struct mark *m = &vmm->mark;

	pthread_mutex_init(&m->lock, NULL);
	m->fd = -1;
	m->disabled = vmm->opt.no_dirty_mark;
}

static void add(uint64_t *counter, uint64_t n)
{
	__atomic_add_fetch(counter, n, __ATOMIC_RELAXED);
}

/* Under m->lock: a session that can mark, or -1 (tried again next time). */
static int open_session(struct mark *m)
{
	struct kmig_info info;
	int fd, ret;

	fd = kmig_open();
	if (fd < 0) {
		/* No module: nothing can migrate this VM now. */
		if (fd != -ENOENT && fd != -ENXIO && fd != -ENODEV &&
		    !m->warned) {
			m->warned = true;
			vmm_warn("open %s: %s: the VMM's writes to guest RAM go unreported",
				 KMIG_DEVICE_PATH, kmig_strerror(fd));
		}
		return -1;
	}
	ret = kmig_get_info(fd, &info);
	if (ret < 0 || !(info.features & KMIG_FEATURE_DIRTY_MARK)) {
		vmm_warn("kmig.ko has no KMIG_DIRTY_MARK%s%s: a live migration of this VM loses what the VMM writes into guest RAM",
			 ret < 0 ? ": " : "", ret < 0 ? kmig_strerror(ret) : "");
		close(fd);
		__atomic_store_n(&m->disabled, true, __ATOMIC_RELAXED);
		return -1;
	}
	__atomic_store_n(&m->fd, fd, __ATOMIC_RELEASE);
	return fd;
}

static int session(struct mark *m)
{
	int fd = __atomic_load_n(&m->fd, __ATOMIC_ACQUIRE);

	if (fd >= 0)
		return fd;
	pthread_mutex_lock(&m->lock);
	fd = m->fd;
	if (fd < 0 && !m->disabled)
		fd = open_session(m);
	pthread_mutex_unlock(&m->lock);
	return fd;
}

void mark_written(struct vmm *vmm, const struct mark_range *r, unsigned int nr)
{
	struct kmig_dirty_range ranges[MARK_MAX_RANGES];
	struct mark *m = &vmm->mark;
	uint64_t pages = 0;
	__u64 marked = 0;
	unsigned int i;
	int fd, ret;

	if (nr > MARK_MAX_RANGES)
		vmm_die("mark_written: %u ranges, at most %d", nr,
			MARK_MAX_RANGES);
	memset(ranges, 0, sizeof(ranges));
	for (i = 0; i < nr; i++) {
		ranges[i].gpa = ram_offset_gpa(&vmm->ram, r[i].offset);
		ranges[i].npages = r[i].npages;
		pages += r[i].npages;
	}
	fd = __atomic_load_n(&m->disabled, __ATOMIC_RELAXED) ? -1 :
	     session(m);
	if (fd < 0) {
		add(&m->unreported, pages);
		return;
	}
	ret = kmig_dirty_mark(fd, vmm->vm_fd, ranges, nr, &marked);
	if (ret < 0) {
		add(&m->unreported, pages);
		pthread_mutex_lock(&m->lock);
		if (!m->warned) {
			m->warned = true;
			vmm_warn("KMIG_DIRTY_MARK: %s: a live migration of this VM may lose what the VMM writes into guest RAM",
				 kmig_strerror(ret));
		}
		pthread_mutex_unlock(&m->lock);
		return;
	}
	add(&m->calls, 1);
	add(&m->pages, pages);
	add(&m->marked, marked);
}

void mark_fini(struct vmm *vmm)
{
	struct mark *m = &vmm->mark;

	if (m->pages || m->unreported)
		vmm_warn("dirty marks: %llu pages written by the VMM reported in %llu KMIG_DIRTY_MARK calls, %llu of them taken by a migration; %llu not reported%s",
			 (unsigned long long)m->pages,
			 (unsigned long long)m->calls,
			 (unsigned long long)m->marked,
			 (unsigned long long)m->unreported,
			 vmm->opt.no_dirty_mark ? " (--no-dirty-mark)" : "");
	if (m->fd >= 0)
		close(m->fd);
	m->fd = -1;
}
