/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kmigctl's commands. Each takes the arguments after its own name
 * (argv[0] is the command name) and returns the process exit status.
 */
#ifndef KMIGCTL_H
#define KMIGCTL_H

#include <stdio.h>

/* Exit statuses shared by every command. */
#define KMIGCTL_EXIT_OK		0
#define KMIGCTL_EXIT_FAILURE	1	/* the command ran and failed */
#define KMIGCTL_EXIT_USAGE	2	/* bad command line */

struct kmigctl_cmd {
	const char *name;
	const char *args;	/* argument synopsis for the usage text */
	const char *help;	/* one line */
	int (*run)(int argc, char **argv);
};

/* Prints the usage text (all commands) to @fp. */
void kmigctl_usage(FILE *fp);

int cmd_status(int argc, char **argv);
int cmd_migrate(int argc, char **argv);
int cmd_incoming(int argc, char **argv);
int cmd_postcopy_recover(int argc, char **argv);
int cmd_cancel(int argc, char **argv);
int cmd_postcopy_start(int argc, char **argv);
int cmd_resume(int argc, char **argv);
int cmd_version(int argc, char **argv);

#endif /* KMIGCTL_H */
