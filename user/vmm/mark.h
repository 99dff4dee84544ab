/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Reporting the VMM's own writes to guest RAM (KMIG_DIRTY_MARK).
 *
 * KVM's dirty log sees only the guest's writes. Whatever the VMM writes
 * into guest RAM from userspace (here: the host-write device, hostwrite.c)
 * a live migration would never send again once its bulk round has read
 * the page. So after every such write, and before the VMM acts on it as
 * done (completes the request to the guest; a vCPU parks for a pause only
 * after its exit was handled), it calls mark_written() with the pages.
 *
 * The /dev/kmig session this uses is opened on the first mark, not at
 * start-up: a VM whose VMM never writes guest RAM needs none. Without
 * /dev/kmig (kmig.ko not loaded) nothing is marked, and the open is tried
 * again on the next mark: a migration needs the module, so a write made
 * while it was absent happened before any migration started, and the
 * bulk round reads it. --no-dirty-mark turns marking off.
 */
#ifndef KMIG_VMM_MARK_H
#define KMIG_VMM_MARK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct vmm;

/* A range of guest RAM the VMM wrote. */
struct mark_range {
	uint64_t offset;	/* RAM offset of the first page */
	uint32_t npages;
};

struct mark {
	pthread_mutex_t lock;	/* opening the session, the warnings */
	int fd;			/* the /dev/kmig session; -1: none yet */
	bool disabled;		/* --no-dirty-mark, or a module without it */
	bool warned;		/* one warning about a failing mark */
	/* Counters, atomic: every vCPU thread marks. */
	uint64_t calls;		/* KMIG_DIRTY_MARK calls made */
	uint64_t pages;		/* pages reported */
	uint64_t marked;	/* pages a migration in progress took */
	uint64_t unreported;	/* pages written but not reported */
};

void mark_init(struct vmm *vmm);
/* Logs what was marked, closes the session. */
void mark_fini(struct vmm *vmm);

/*
 * The VMM wrote @nr ranges of guest RAM (at most 8): reports them, or
 * counts them as unreported when marking is off or impossible.
 */
void mark_written(struct vmm *vmm, const struct mark_range *r, unsigned int nr);

#endif /* KMIG_VMM_MARK_H */
