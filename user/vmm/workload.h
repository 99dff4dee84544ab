/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The built-in guest workloads: parsing --workload, and where each vCPU
 * works. The same layout function serves the boot code (which writes it
 * into the guest's blocks) and the checker (which recomputes it), so the
 * two cannot disagree.
 */
#ifndef KMIG_VMM_WORKLOAD_H
#define KMIG_VMM_WORKLOAD_H

#include <stddef.h>
#include <stdint.h>

#define WORKLOAD_SPEC_MAX	64	/* = sizeof(vmm_hello.workload) */

struct workload {
	char spec[WORKLOAD_SPEC_MAX];	/* as given, e.g. "dirty:16:64" */
	int mode;			/* GUEST_MODE_* */
	uint32_t dirty_rate_mib;	/* dirty, hostwrite: MiB/s over all vCPUs */
	/*
	 * Bytes of data RAM the workload uses from GUEST_DATA up: dirty's
	 * working set, hostwrite's region, or a fill's size (zero:MiB,
	 * text:MiB, random:MiB); 0 = all of it.
	 */
	uint64_t ws;
};

/* One vCPU's parameters: the inputs of its block (guest_layout.h). */
struct workload_slice {
	uint64_t mode;
	uint64_t first;		/* RAM offset of the first page */
	uint64_t pages;
	uint64_t batch;
	uint64_t seed;
	uint64_t touch;		/* idle */
	uint64_t stride;	/* idle */
	uint64_t ring;		/* hostwrite: the used ring page's RAM offset */
};

/* 0, or -EINVAL with a message for the user in @err. */
int workload_parse(const char *spec, struct workload *wl, char *err,
		   size_t errlen);

/* 0, or -EINVAL when the workload does not fit @ram_size (message in @err). */
int workload_fits(const struct workload *wl, uint64_t ram_size, char *err,
		  size_t errlen);

void workload_slice(const struct workload *wl, uint64_t ram_size,
		    int nr_vcpus, int id, struct workload_slice *s);

/*
 * Bytes per second one vCPU may write; 0 = unpaced. @rate_mib is --rate,
 * which paces counter and the fills; dirty and hostwrite carry their own.
 */
uint64_t workload_vcpu_rate(const struct workload *wl, uint32_t rate_mib,
			    int nr_vcpus);

const char *workload_mode_name(int mode);

#endif /* KMIG_VMM_WORKLOAD_H */
