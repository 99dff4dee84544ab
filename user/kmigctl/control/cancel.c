// SPDX-License-Identifier: GPL-2.0
/*
 * `kmigctl cancel [SESSION_ID]`: cancel a migration through the kernel
 * (KMIG_NL_CMD_SESSION_CANCEL). The kmig calls of whoever drives that
 * session then fail with -ECANCELED, and `kmigctl migrate` backs out,
 * resuming the source VM. Without an id: every session in state
 * "tracking", i.e. every running source.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>


#include "genl.h"
#include "kmigctl.h"
#include "options.h"
#include "print.h"
#include "session.h"

static void cancel_usage(FILE *fp)
{
	fprintf(fp, "Usage: kmigctl cancel [SESSION_ID] [--json]\n"
		    "Cancel the migration of kmig session SESSION_ID (see kmigctl\n"
		    "status), or of every session that is migrating (state tracking).\n"
		    "Needs CAP_NET_ADMIN.\n"
		    "  -j, --json   one JSON array of {id, cancelled, error}\n");
}

/* Cancels one session and prints the outcome; 0 or -1. */
static int cancel_one(struct kmig_genl *g, struct printer *p, __u32 id)
{
	int err = kmig_genl_cancel(g, id);

	print_open_object(p, NULL);
	print_uint(p, PRINT_ANY, "id", "session %u: ", id);
	print_bool(p, PRINT_JSON, "cancelled", NULL, !err);
	if (err) {
		print_string(p, PRINT_ANY, "error", "%s\n",
			     kmig_genl_admin_strerror(err));
		fprintf(stderr, "kmig: cancel: session %u: %s\n", id,
			kmig_genl_admin_strerror(err));
	} else {
		print_text(p, "cancelled\n");
	}
	print_close_object(p);
	return err ? -1 : 0;
}

int cmd_cancel(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct kmig_session_stats *sessions = NULL;
	struct kmig_genl g;
	struct printer p;
	bool json = false, have_id = false;
	size_t nr = 0, i, done = 0;
	uint64_t id = 0;
	int c, rc = KMIGCTL_EXIT_OK;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			cancel_usage(stdout);
			return KMIGCTL_EXIT_OK;
		default:
			opt_unknown("cancel", c, argv);
			cancel_usage(stderr);
			return KMIGCTL_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		if (opt_u64("cancel", "SESSION_ID", argv[optind], 1, UINT32_MAX,
			    &id))
			return KMIGCTL_EXIT_USAGE;
		have_id = true;
		optind++;
	}
	if (optind < argc) {
		fprintf(stderr, "kmig: cancel: unexpected argument '%s'\n",
			argv[optind]);
		cancel_usage(stderr);
		return KMIGCTL_EXIT_USAGE;
	}

	if (kmig_genl_open(&g) < 0)
		return KMIGCTL_EXIT_FAILURE;
	if (!have_id && session_dump_all(&g, &sessions, &nr) < 0) {
		kmig_genl_close(&g);
		return KMIGCTL_EXIT_FAILURE;
	}

	print_init(&p, stdout, json);
	print_open_array(&p, NULL);
	if (have_id) {
		if (cancel_one(&g, &p, id))
			rc = KMIGCTL_EXIT_FAILURE;
	} else {
		for (i = 0; i < nr; i++) {
			if (!SESSION_HAS(&sessions[i], KMIG_A_SESSION_STATE) ||
			    sessions[i].state != KMIG_SESSION_TRACKING)
				continue;
			if (cancel_one(&g, &p, sessions[i].id))
				rc = KMIGCTL_EXIT_FAILURE;
			done++;
		}
	}
	print_close_array(&p);
	print_finish(&p);
	free(sessions);
	kmig_genl_close(&g);

	if (!have_id && !done) {
		fprintf(stderr, "kmig: cancel: no session is migrating (none in state tracking)\n");
		rc = KMIGCTL_EXIT_FAILURE;
	}
	return rc;
}
