// SPDX-License-Identifier: GPL-2.0
/*
 * `kmigctl resume --vmm SOCK`: the operator's way out of the "outcome
 * unknown" state of the commit protocol (commit.h). After a migration
 * sent GO and heard no ACK, the source VM stays paused, because the
 * destination may be running it; once the operator has made sure it does
 * not, this resumes it here. Refused while a live migration holds the VMM
 * (that one decides), and loud when the VMM says the destination's state
 * is unknown.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "kmigctl.h"
#include "options.h"
#include "vmm_client.h"

static void resume_usage(FILE *fp)
{
	fprintf(fp,
		"Usage: kmigctl resume --vmm SOCKET\n"
		"Resume the paused VM of the VMM at SOCKET: after `kmigctl migrate`\n"
		"ended with \"outcome unknown\" (exit status 4), once you made sure\n"
		"the destination does not run the VM. Refused while a migration\n"
		"holds that VMM.\n"
		"Exit status: 0 resumed (or already running), 1 refused or failed,\n"
		"2 usage.\n");
}

static int resume_parse(int argc, char **argv, const char **vmm)
{
	static const struct option opts[] = {
		{ "vmm", required_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*vmm = NULL;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":v:h", opts, NULL)) != -1) {
		switch (c) {
		case 'v':
			*vmm = optarg;
			break;
		case 'h':
			resume_usage(stdout);
			return 1;
		default:
			opt_unknown("resume", c, argv);
			return -1;
		}
	}
	if (optind < argc || !*vmm) {
		fprintf(stderr, "kmig: resume: %s\n", optind < argc ?
			"unexpected argument" : "--vmm is required");
		return -1;
	}
	return 0;
}

static const char *resume_phase_name(uint32_t phase)
{
	return phase == VMM_PHASE_COMMITTED ? "after GO" :
	       phase == VMM_PHASE_MIGRATING ? "before GO" : "none";
}

int cmd_resume(int argc, char **argv)
{
	struct vmm_client v = { .fd = -1 };
	struct vmm_status st;
	const char *sock;
	char err[256];
	int ret;

	ret = resume_parse(argc, argv, &sock);
	if (ret) {
		if (ret < 0)
			resume_usage(stderr);
		return ret < 0 ? KMIGCTL_EXIT_USAGE : KMIGCTL_EXIT_OK;
	}
	ret = vmm_open(&v, sock, err, sizeof(err));
	if (!ret)
		ret = vmm_status(&v, &st, err, sizeof(err));
	if (ret)
		goto fail;
	if (st.holder_pid) {
		snprintf(err, sizeof(err),
			 "a live migration (pid %d, %s) holds the VMM at %s: it decides; cancel it with `kmigctl cancel` or wait for it",
			 st.holder_pid, resume_phase_name(st.phase), sock);
		goto fail;
	}
	if (!(st.flags & VMM_ST_STARTED)) {
		snprintf(err, sizeof(err),
			 "the VM at %s never started here (a destination VMM): nothing to resume",
			 sock);
		goto fail;
	}
	if (!(st.flags & VMM_ST_PAUSED)) {
		printf("the VM at %s is running: nothing to resume\n", sock);
		vmm_close(&v);
		return KMIGCTL_EXIT_OK;
	}
	if (st.flags & VMM_ST_ORPHANED)
		fprintf(stderr,
			"kmig: resume: warning: a migration handed this VM to a destination and its outcome is unknown; if the destination runs it, it now runs twice: stop it there\n");
	ret = vmm_call(&v, VMM_RESUME, NULL, 0, NULL, NULL, err, sizeof(err));
	if (ret)
		goto fail;
	printf("resumed the VM at %s\n", sock);
	vmm_close(&v);
	return KMIGCTL_EXIT_OK;

fail:
	fprintf(stderr, "kmig: resume: %s\n", err);
	vmm_close(&v);
	return KMIGCTL_EXIT_FAILURE;
}
