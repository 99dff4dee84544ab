/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Postcopy on the destination (kmig_vmm.h, "Postcopy (v3)"): guest RAM
 * registered with a userfaultfd whose faults the migrating client
 * resolves from another process, discarding stale pages so that they
 * fault, and what happens when that client goes away.
 *
 * The VMM keeps its own copy of the userfaultfd from VMM_POSTCOPY_BEGIN
 * to VMM_POSTCOPY_END: with the last copy closed the kernel would fill
 * every missing page with zeros and the guest would run on a partial
 * image. It never reads the fd itself.
 *
 * Everything here runs on the main thread, as the control requests do;
 * runctl_pause() and status.c read postcopy_active() there too.
 */
#ifndef KMIG_VMM_POSTCOPY_H
#define KMIG_VMM_POSTCOPY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct request_client;
struct request_reply;
struct vmm;

struct postcopy {
	int uffd;		/* the VMM's copy; -1: postcopy not active */
	/* Its client went away and none has reattached: VMM_ST_ORPHANED. */
	bool orphaned;
	/*
	 * The holder that sent VMM_POSTCOPY_BEGIN on its connection and so
	 * serves the faults now; NULL while orphaned, and outside postcopy.
	 */
	const struct request_client *client;
};

void postcopy_init(struct vmm *vmm);

/* VMM_POSTCOPY_BEGIN, VMM_DISCARD, VMM_POSTCOPY_END from @cl. */
void postcopy_begin(struct vmm *vmm, const struct request_client *cl,
		    struct request_reply *r);
void postcopy_discard(struct vmm *vmm, const struct request_client *cl,
		      const void *payload, size_t len,
		      struct request_reply *r);
void postcopy_end(struct vmm *vmm, const struct request_client *cl,
		  struct request_reply *r);
/* VMM_POSTCOPY_MISSING from @cl: the bitmap of pages not present. */
void postcopy_missing(struct vmm *vmm, const struct request_client *cl,
		      struct request_reply *r);

/* Begun and not ended: VMM_ST_POSTCOPY. */
static inline bool postcopy_active(const struct postcopy *pc)
{
	return pc->uffd >= 0;
}

/*
 * Whether @cl may run the guest (@type VMM_RESUME, VMM_START) or check it
 * (VMM_CHECK); when not, the -EPERM reply is in @r. While orphaned,
 * nobody may; during postcopy otherwise, only the client serving the
 * faults (postcopy.client) may resume it.
 */
bool postcopy_permits_run(struct vmm *vmm, const struct request_client *cl,
			  uint32_t type, struct request_reply *r);

/* The holder's connection closed during postcopy: pause, orphan. */
void postcopy_client_gone(struct vmm *vmm);

/*
 * Whether the page at RAM offset @offset can be read without waiting for
 * the client: always outside postcopy, else when it is resident.
 */
bool postcopy_page_present(struct vmm *vmm, uint64_t offset);

/*
 * The VMM quits: unregisters guest RAM, which wakes vCPUs blocked on
 * missing pages (so that they can be joined), and closes the fd.
 */
void postcopy_fini(struct vmm *vmm);

#endif /* KMIG_VMM_POSTCOPY_H */
