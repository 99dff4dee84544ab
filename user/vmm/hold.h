/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The migration hold (VMM_HOLD in kmig_vmm.h): which control client
 * migrates this VM and how far it got, so that whatever happens to that
 * client the guest ends up running on exactly one host.
 *
 * While a client holds the VM, only it may pause, resume, load or start
 * the guest. When its connection closes before it committed, GO was never
 * sent and the destination cannot be running the guest: a paused guest is
 * resumed here. After it committed the destination may be running it, so
 * a paused guest stays paused, "orphaned", until an operator resumes it,
 * or until a recovering kmigctl (migrate --resume) takes the commit over:
 * it then holds the VM in COMMITTED as the first one did.
 *
 * Everything here runs on the main thread, as the control requests do.
 */
#ifndef KMIG_VMM_HOLD_H
#define KMIG_VMM_HOLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct request_client;
struct request_reply;
struct vmm;

struct hold {
	const struct request_client *holder;	/* NULL: nobody migrates */
	pid_t pid;		/* the holder's, from SO_PEERCRED */
	uint32_t phase;		/* VMM_PHASE_*; NONE: no holder */
	bool orphaned;		/* VMM_ST_ORPHANED */
	/*
	 * The holder took over an orphaned commit (VMM_HOLD COMMITTED from a
	 * new client): when it lets go with the guest still paused, the VMM
	 * is orphaned again.
	 */
	bool took_over;
};

/* VMM_HOLD from @cl: the reply is the status after the change. */
void hold_request(struct vmm *vmm, const struct request_client *cl,
		  const void *payload, size_t len, struct request_reply *r);

/*
 * Whether @cl may pause, resume, load or start the guest now; when it may
 * not, the error reply is in @r.
 */
bool hold_permits(struct vmm *vmm, const struct request_client *cl,
		  struct request_reply *r);

/* The guest was resumed on request: whoever asked decided for this host. */
void hold_resumed(struct vmm *vmm);

/* @cl's connection closed: acts on its hold, if it had one. */
void hold_client_gone(struct vmm *vmm, const struct request_client *cl);

#endif /* KMIG_VMM_HOLD_H */
