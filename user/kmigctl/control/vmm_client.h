/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kmigctl's side of a VMM's control socket (user/include/kmig_vmm.h): one
 * request, one reply, over SOCK_SEQPACKET.
 */
#ifndef KMIGCTL_VMM_CLIENT_H
#define KMIGCTL_VMM_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "kmig_vmm.h"

struct vmm_client {
	int fd;
	/* vmm_hello.version once vmm_get_hello() succeeded, else 0. */
	uint32_t version;
	char path[108];
};

/* What VMM_HELLO told us. */
struct vmm_info {
	struct vmm_hello hello;
	struct vmm_region *regions;	/* hello.nr_regions; free() it */
	int vm_fd;			/* the KVM VM fd (SCM_RIGHTS) */
};

/* Connects to @path. Returns 0, or -errno with a message in @err. */
int vmm_open(struct vmm_client *v, const char *path, char *err, size_t n);
void vmm_close(struct vmm_client *v);

/*
 * One request. On success *@out (may be NULL) gets the reply payload
 * (malloc'ed, free() it; NULL when empty) and *@out_len its length. A VMM
 * error comes back as its -errno status with the VMM's message in @err.
 */
int vmm_call(struct vmm_client *v, uint32_t type, const void *in,
	     uint32_t in_len, void **out, uint32_t *out_len, char *err,
	     size_t n);

/* VMM_HELLO: checks the reply's shape and takes the VM fd. */
int vmm_get_hello(struct vmm_client *v, struct vmm_info *info, char *err,
		  size_t n);
void vmm_info_free(struct vmm_info *info);

/* VMM_STATUS: the VMM's run state, its holder and the guest's progress. */
int vmm_status(struct vmm_client *v, struct vmm_status *st, char *err,
	       size_t n);
/* VMM_HOLD(@phase): take, commit or release the VMM; *@st (may be NULL) after. */
int vmm_hold(struct vmm_client *v, uint32_t phase, struct vmm_status *st,
	     char *err, size_t n);

/*
 * Postcopy on the destination (v3; from the client holding the VM). The
 * calls refuse a VMM older than version 3 with -EPROTONOSUPPORT.
 * vmm_postcopy_begin() puts the VMM's userfaultfd in *@uffd (close it
 * when done; the VMM keeps its own copy until vmm_postcopy_end()).
 * vmm_discard() sends @nr ranges in as many VMM_DISCARD requests as fit
 * VMM_MSG_MAX; a bad range in one request discards nothing of it.
 */
int vmm_postcopy_begin(struct vmm_client *v, int *uffd, char *err, size_t n);
int vmm_discard(struct vmm_client *v, const struct vmm_discard *d,
		uint32_t nr, char *err, size_t n);
int vmm_postcopy_end(struct vmm_client *v, char *err, size_t n);
/*
 * VMM_POSTCOPY_MISSING, from the client that sent VMM_POSTCOPY_BEGIN on
 * this connection: *@bitmap (malloc'ed, free() it) gets one bit per page
 * of guest RAM, counted through the regions in VMM_HELLO order (bit i is
 * byte i / 8, bit i % 8), set when the page is missing; *@nr_pages their
 * number. The reply's length is checked against it (-EBADMSG).
 */
int vmm_postcopy_missing(struct vmm_client *v, uint8_t **bitmap,
			 uint64_t *nr_pages, char *err, size_t n);

/* "VMM_PAUSE" etc., for messages. */
const char *vmm_msg_name(uint32_t type);

#endif /* KMIGCTL_VMM_CLIENT_H */
