/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kmigctl's connection to the "kmig" generic netlink family (libnl-genl-3).
 */
#ifndef KMIGCTL_GENL_H
#define KMIGCTL_GENL_H

#include <netlink/genl/genl.h>

struct kmig_genl {
	struct nl_sock *sk;
	int family;		/* resolved id of KMIG_GENL_NAME */
};

/*
 * Connects and resolves the family. On failure prints why on stderr
 * (including "is kmig.ko loaded?" when the family is not registered) and
 * returns -1.
 */
int kmig_genl_open(struct kmig_genl *g);
void kmig_genl_close(struct kmig_genl *g);

/*
 * Sends a dump request for @cmd and feeds every reply message to @cb.
 * Returns 0 or a negative libnl error (-NLE_DUMP_INTR: the kernel's list
 * changed under the dump, so the caller should start again).
 */
int kmig_genl_dump(struct kmig_genl *g, __u8 cmd,
		   int (*cb)(struct nl_msg *msg, void *arg), void *arg);

/*
 * KMIG_NL_CMD_SESSION_CANCEL for session @id; waits for the kernel's ack.
 * Returns 0 or a negative libnl error (-NLE_OBJ_NOTFOUND: no such session,
 * -NLE_PERM: not CAP_NET_ADMIN).
 */
int kmig_genl_cancel(struct kmig_genl *g, __u32 id);

/*
 * KMIG_NL_CMD_SESSION_POSTCOPY for session @id (the kernel records the
 * request); errors as kmig_genl_cancel().
 */
int kmig_genl_postcopy(struct kmig_genl *g, __u32 id);

/*
 * What an error of a netns-admin command (cancel, postcopy request) means
 * for the user: "no such session", "permission denied (needs
 * CAP_NET_ADMIN)", else libnl's words.
 */
const char *kmig_genl_admin_strerror(int err);

#endif /* KMIGCTL_GENL_H */
