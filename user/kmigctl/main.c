// SPDX-License-Identifier: GPL-2.0
/*
 * kmigctl: control and inspect kmig (KVM live migration) sessions.
 *
 * A command table: a new command is one entry here and one cmd_*() in its
 * own file.
 */
#include <stdio.h>
#include <string.h>

#include "kmigctl.h"

static const struct kmigctl_cmd kmigctl_cmds[] = {
	{ "status",   "[--json]", "list kmig sessions", cmd_status },
	{ "migrate",  "--vmm SOCK --to ADDR ...", "live-migrate a VM (source)",
	  cmd_migrate },
	{ "incoming", "--vmm SOCK --listen ADDR ...",
	  "receive a live migration (destination)", cmd_incoming },
	{ "postcopy-recover", "--vmm SOCK --listen ADDR ...",
	  "recover a postcopy that broke off (destination)",
	  cmd_postcopy_recover },
	{ "cancel",   "[SESSION_ID]", "cancel a running migration", cmd_cancel },
	{ "postcopy-start", "SESSION_ID",
	  "switch a running migration to postcopy now", cmd_postcopy_start },
	{ "resume",   "--vmm SOCK", "resume a source VM left paused", cmd_resume },
	{ "version",  "",	  "show kmigctl and kmig.ko versions", cmd_version },
};

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

void kmigctl_usage(FILE *fp)
{
	size_t i;

	fprintf(fp, "Usage: kmigctl COMMAND [ARGS]\n"
		    "       kmigctl --help\n\nCommands:\n");
	for (i = 0; i < ARRAY_SIZE(kmigctl_cmds); i++)
		fprintf(fp, "  %-8s %-30s %s\n", kmigctl_cmds[i].name,
			kmigctl_cmds[i].args, kmigctl_cmds[i].help);
	fprintf(fp, "\n`kmigctl COMMAND --help` describes one command.\n");
}

static const struct kmigctl_cmd *kmigctl_find(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(kmigctl_cmds); i++)
		if (!strcmp(kmigctl_cmds[i].name, name))
			return &kmigctl_cmds[i];
	return NULL;
}

int main(int argc, char **argv)
{
	const struct kmigctl_cmd *cmd;

	if (argc < 2) {
		kmigctl_usage(stderr);
		return KMIGCTL_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		kmigctl_usage(stdout);
		return KMIGCTL_EXIT_OK;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V"))
		return cmd_version(1, &argv[1]);

	cmd = kmigctl_find(argv[1]);
	if (!cmd) {
		fprintf(stderr, "kmig: unknown command '%s'\n", argv[1]);
		kmigctl_usage(stderr);
		return KMIGCTL_EXIT_USAGE;
	}
	return cmd->run(argc - 1, &argv[1]);
}
