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
#include <sys/types.h>

#include "kmig_vmm.h"

struct vmm;

struct request_client {
	int fd;
	pid_t pid;		/* SO_PEERCRED's, 0 if unknown */
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
		struct vmm_status status;
		struct vmm_postcopy postcopy;
	} small;
};

/* Makes @r an error reply with a message for the user; returns @status. */
int request_error(struct request_reply *r, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

void request_handle(struct vmm *vmm, struct request_client *cl,
		    uint32_t type, const void *payload, size_t len,
		    struct request_reply *r);

/* Runs the workload's checker, pausing the guest around it if it runs. */
void request_check(struct vmm *vmm, struct vmm_check *out);

#endif /* KMIG_VMM_REQUESTS_H */
