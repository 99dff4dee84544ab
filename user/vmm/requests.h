/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What each control request (kmig_vmm.h) does. server.c receives and
 * frames them; the handlers here act on the VMM and build the reply.
 */
#ifndef KMIG_VMM_REQUESTS_H
#define KMIG_VMM_REQUESTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kmig_vmm.h"

struct vmm;

struct request_client {
	int fd;
	bool claimed;		/* got VMM_HELLO: holds the VM fd (ring.h) */
};

struct request_reply {
	int32_t status;		/* 0 or -errno */
	const void *payload;
	size_t len;
	void *to_free;		/* freed after sending */
	int pass_fd;		/* sent with SCM_RIGHTS, or -1 */
	bool quit;		/* exit after sending */
	char msg[256];		/* the payload of an error reply */
	union {			/* small payloads live here */
		struct vmm_check check;
	} small;
};

void request_handle(struct vmm *vmm, struct request_client *cl,
		    uint32_t type, const void *payload, size_t len,
		    struct request_reply *r);

/* Runs the workload's checker, pausing the guest around it if it runs. */
void request_check(struct vmm *vmm, struct vmm_check *out);

#endif /* KMIG_VMM_REQUESTS_H */
