// SPDX-License-Identifier: GPL-2.0
/*
 * Open a generic netlink socket to the kmig family and run dumps on it.
 */
#include <stdio.h>

#include <netlink/errno.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <linux/kmig.h>

#include "genl.h"

int kmig_genl_open(struct kmig_genl *g)
{
	int err;

	g->sk = nl_socket_alloc();
	if (!g->sk) {
		fprintf(stderr, "kmig: cannot allocate a netlink socket\n");
		return -1;
	}
	err = genl_connect(g->sk);
	if (err < 0) {
		fprintf(stderr, "kmig: generic netlink: %s\n", nl_geterror(err));
		goto err_free;
	}
	g->family = genl_ctrl_resolve(g->sk, KMIG_GENL_NAME);
	if (g->family == -NLE_OBJ_NOTFOUND) {
		fprintf(stderr,
			"kmig: generic netlink family '%s' not found (is kmig.ko loaded?)\n",
			KMIG_GENL_NAME);
		goto err_free;
	}
	if (g->family < 0) {
		fprintf(stderr, "kmig: resolving generic netlink family '%s': %s\n",
			KMIG_GENL_NAME, nl_geterror(g->family));
		goto err_free;
	}
	return 0;

err_free:
	nl_socket_free(g->sk);
	g->sk = NULL;
	return -1;
}

void kmig_genl_close(struct kmig_genl *g)
{
	nl_socket_free(g->sk);
	g->sk = NULL;
}

int kmig_genl_dump(struct kmig_genl *g, __u8 cmd,
		   int (*cb)(struct nl_msg *msg, void *arg), void *arg)
{
	int err;

	err = nl_socket_modify_cb(g->sk, NL_CB_VALID, NL_CB_CUSTOM, cb, arg);
	if (err < 0)
		return err;
	err = genl_send_simple(g->sk, g->family, cmd, KMIG_GENL_VERSION,
			       NLM_F_DUMP);
	if (err < 0)
		return err;
	/* Reads until NLMSG_DONE; a kernel error in the dump comes back here. */
	return nl_recvmsgs_default(g->sk);
}

/* A doit request @cmd for session @id; waits for the kernel's ack. */
static int kmig_genl_session_do(struct kmig_genl *g, __u8 cmd, __u32 id)
{
	struct nl_msg *msg;
	int err;

	msg = nlmsg_alloc();
	if (!msg)
		return -NLE_NOMEM;
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, g->family, 0,
			 NLM_F_ACK, cmd, KMIG_GENL_VERSION) ||
	    nla_put_u32(msg, KMIG_A_SESSION_ID, id) < 0) {
		nlmsg_free(msg);
		return -NLE_NOMEM;
	}
	/* The dump callback installed by kmig_genl_dump() must not see acks. */
	err = nl_socket_modify_cb(g->sk, NL_CB_VALID, NL_CB_DEFAULT, NULL, NULL);
	if (err >= 0)
		err = nl_send_auto(g->sk, msg);
	nlmsg_free(msg);
	if (err < 0)
		return err;
	return nl_wait_for_ack(g->sk);
}

int kmig_genl_cancel(struct kmig_genl *g, __u32 id)
{
	return kmig_genl_session_do(g, KMIG_NL_CMD_SESSION_CANCEL, id);
}

int kmig_genl_postcopy(struct kmig_genl *g, __u32 id)
{
	return kmig_genl_session_do(g, KMIG_NL_CMD_SESSION_POSTCOPY, id);
}

const char *kmig_genl_admin_strerror(int err)
{
	switch (err) {
	case -NLE_OBJ_NOTFOUND:
		return "no such session";
	case -NLE_PERM:
	case -NLE_NOACCESS:
		return "permission denied (needs CAP_NET_ADMIN)";
	default:
		return nl_geterror(err);
	}
}
