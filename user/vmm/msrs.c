// SPDX-License-Identifier: GPL-2.0
/*
 * The vCPUs' MSRs for the state blob.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "msrs.h"
#include "util.h"
#include "vmm.h"

static struct kvm_msrs *msrs_alloc(uint32_t n)
{
	struct kvm_msrs *m = calloc(1, sizeof(*m) +
				       n * sizeof(struct kvm_msr_entry));

	if (m)
		m->nmsrs = n;
	return m;
}

/* KVM_GET_MSRS/SET_MSRS return how many entries they processed. */
static int read_one(int vcpu_fd, uint32_t index, uint64_t *value)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry entry;
	} one = { .hdr.nmsrs = 1, .entry.index = index };

	if (ioctl(vcpu_fd, KVM_GET_MSRS, &one) != 1)
		return -1;
	*value = one.entry.data;
	return 0;
}

void msrs_probe(struct vmm *vmm)
{
	struct kvm_msr_list probe = { .nmsrs = 0 }, *list;
	uint32_t i;
	uint64_t value;

	/* The first call fails with E2BIG and says how many there are. */
	if (!ioctl(vmm->kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe) ||
	    errno != E2BIG)
		vmm_die_errno("KVM_GET_MSR_INDEX_LIST");
	list = calloc(1, sizeof(*list) + probe.nmsrs * sizeof(uint32_t));
	vmm->msr_index = calloc(probe.nmsrs ?: 1, sizeof(uint32_t));
	if (!list || !vmm->msr_index)
		vmm_die("out of memory");
	list->nmsrs = probe.nmsrs;
	if (ioctl(vmm->kvm_fd, KVM_GET_MSR_INDEX_LIST, list))
		vmm_die_errno("KVM_GET_MSR_INDEX_LIST");
	/*
	 * The list is KVM's superset (Intel and AMD MSRs, features this CPUID
	 * lacks); a read through vCPU 0 tells what this guest really has.
	 */
	for (i = 0; i < list->nmsrs; i++)
		if (!read_one(vmm->vcpu[0].fd, list->indices[i], &value))
			vmm->msr_index[vmm->nr_msrs++] = list->indices[i];
	free(list);
}

struct kvm_msrs *msrs_get(struct vmm *vmm, int vcpu_fd)
{
	struct kvm_msrs *m = msrs_alloc(vmm->nr_msrs);
	uint32_t i;

	if (!m)
		return NULL;
	for (i = 0; i < vmm->nr_msrs; i++)
		m->entries[i].index = vmm->msr_index[i];
	if (ioctl(vcpu_fd, KVM_GET_MSRS, m) != (int)vmm->nr_msrs) {
		free(m);
		return NULL;
	}
	return m;
}

int msrs_set(int vcpu_fd, const struct kvm_msrs *msrs, char *err,
	     size_t errlen)
{
	struct kvm_msrs *rest = msrs_alloc(msrs->nmsrs);
	uint32_t done = 0, n;
	uint64_t have;
	int r, ret = 0;

	if (!rest)
		return -ENOMEM;
	while (done < msrs->nmsrs) {
		n = msrs->nmsrs - done;
		rest->nmsrs = n;
		memcpy(rest->entries, &msrs->entries[done],
		       n * sizeof(struct kvm_msr_entry));
		r = ioctl(vcpu_fd, KVM_SET_MSRS, rest);
		if (r < 0) {
			ret = -errno;
			snprintf(err, errlen, "KVM_SET_MSRS: %s", strerror(errno));
			break;
		}
		done += r;
		if ((uint32_t)r == n)
			break;
		/* Entry @done was refused: harmless if it already matches. */
		if (read_one(vcpu_fd, msrs->entries[done].index, &have) ||
		    have != msrs->entries[done].data) {
			snprintf(err, errlen,
				 "KVM refused MSR 0x%x = 0x%llx",
				 msrs->entries[done].index,
				 (unsigned long long)msrs->entries[done].data);
			ret = -EINVAL;
			break;
		}
		done++;
	}
	free(rest);
	return ret;
}
