// SPDX-License-Identifier: GPL-2.0
/*
 * `kmigctl postcopy-start SESSION_ID`: ask the migration of a kmig session
 * to switch to postcopy now (KMIG_NL_CMD_SESSION_POSTCOPY). The kernel only
 * records the request; the `kmigctl migrate` driving the session reads it
 * after its next round (precopy.c) and switches if it was started with a
 * --postcopy option, else it warns and goes on with precopy.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>


#include "genl.h"
#include "kmigctl.h"
#include "options.h"
#include "print.h"

static void postcopy_start_usage(FILE *fp)
{
	fprintf(fp, "Usage: kmigctl postcopy-start SESSION_ID [--json]\n"
		    "Ask the migration of kmig session SESSION_ID (the id `kmigctl\n"
		    "migrate` prints) to switch to postcopy after its current round.\n"
		    "Only a migration started with a --postcopy option can.\n"
		    "Needs CAP_NET_ADMIN.\n"
		    "  -j, --json   one JSON object {id, requested, error}\n");
}

int cmd_postcopy_start(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct kmig_genl g;
	struct printer p;
	bool json = false;
	uint64_t id = 0;
	int c, err;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			postcopy_start_usage(stdout);
			return KMIGCTL_EXIT_OK;
		default:
			opt_unknown("postcopy-start", c, argv);
			postcopy_start_usage(stderr);
			return KMIGCTL_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "kmig: postcopy-start: SESSION_ID is required\n");
		postcopy_start_usage(stderr);
		return KMIGCTL_EXIT_USAGE;
	}
	if (opt_u64("postcopy-start", "SESSION_ID", argv[optind], 1,
		    UINT32_MAX, &id))
		return KMIGCTL_EXIT_USAGE;
	if (++optind < argc) {
		fprintf(stderr, "kmig: postcopy-start: unexpected argument '%s'\n",
			argv[optind]);
		postcopy_start_usage(stderr);
		return KMIGCTL_EXIT_USAGE;
	}

	if (kmig_genl_open(&g) < 0)
		return KMIGCTL_EXIT_FAILURE;
	err = kmig_genl_postcopy(&g, id);
	kmig_genl_close(&g);

	print_init(&p, stdout, json);
	print_open_object(&p, NULL);
	print_uint(&p, PRINT_ANY, "id", "session %u: ", id);
	print_bool(&p, PRINT_JSON, "requested", NULL, !err);
	if (err) {
		print_string(&p, PRINT_ANY, "error", "%s\n",
			     kmig_genl_admin_strerror(err));
		fprintf(stderr, "kmig: postcopy-start: session %u: %s\n",
			(unsigned int)id, kmig_genl_admin_strerror(err));
	} else {
		print_text(&p, "postcopy requested\n");
	}
	print_close_object(&p);
	print_finish(&p);
	return err ? KMIGCTL_EXIT_FAILURE : KMIGCTL_EXIT_OK;
}
