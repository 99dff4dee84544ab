/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kmig-vmm's command line.
 */
#ifndef KMIG_VMM_OPTIONS_H
#define KMIG_VMM_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

/* The largest --rate, MiB/s (also the bound on a state blob's rate). */
#define MAX_RATE_MIB	(1U << 20)

struct vmm_options {
	const char *control;	/* --control: the control socket's path */
	uint64_t ram_size;	/* --mem, in bytes */
	int nr_vcpus;		/* --vcpus */
	bool memfd;		/* --memfd: RAM from a memfd, not anonymous */
	const char *workload;	/* --workload, as given */
	bool incoming;		/* --incoming: a migration destination */
	uint32_t dirty_ring;	/* --dirty-ring: entries per vCPU, 0 = bitmap */
	bool manual_protect;	/* --manual-protect */
	int64_t check_after_ms;	/* --check-after, -1 when not given */
	uint32_t rate_mib;	/* --rate: MiB/s for counter and fills, 0 = no limit */
	bool rate_given;	/* --rate was on the command line */
	bool no_dirty_mark;	/* --no-dirty-mark: never KMIG_DIRTY_MARK */
};

/* Parses argv; prints usage and exits on --help or a bad option. */
void options_parse(int argc, char **argv, struct vmm_options *opt);

#endif /* KMIG_VMM_OPTIONS_H */
