// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_state: the device-state blob that the source's DEVICE_STATE frame
 * carries and the destination VMM loads (VMM_SET_STATE): state_parse()
 * (vmm/state_load.c), the checks state_load() makes before any KVM ioctl,
 * on a model VMM of 2 vCPUs and 64 MiB. Then every section it accepted is
 * read the way the loader hands it to KVM (CPUID and MSR entries by their
 * counts), and the workload it carries is laid out as the VMM would.
 *
 * Input: the blob (struct state_header, sections, state.h).
 *
 * Findings: a sanitizer report (the blob is its own allocation, so a read
 * past it is one); a section accepted outside the blob or with a length
 * that differs from what KVM reads; a blob accepted without a section the
 * loader needs; a message (the VMM's answer, which kmigctl prints) that
 * is not one printable line.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state.h"
#include "util.h"
#include "vmm.h"
#include "workload.h"

#define FUZZ_ASSERT(cond)						\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "fuzz: %s:%d: assertion failed: %s\n", \
				__FILE__, __LINE__, #cond);		\
			abort();					\
		}							\
	} while (0)

#define FUZZ_VCPUS	2
#define FUZZ_RAM	(64 * MIB)

static struct vmm vmm;
static volatile uint8_t sink;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	vmm.nr_vcpus = FUZZ_VCPUS;
	vmm.ram.size = FUZZ_RAM;
	vmm.xsave_size = 0;	/* KVM_GET_XSAVE: struct kvm_xsave */
	return 0;
}

/* What KVM_SET_* reads of a section: all of it, from inside the blob. */
static void read_part(const uint8_t *blob, size_t size,
		      const struct state_part *s)
{
	const uint8_t *p = s->data;
	uint8_t x = 0;
	uint32_t i;

	if (!p)
		return;
	FUZZ_ASSERT(p >= blob && s->len <= size &&
		    (size_t)(p - blob) <= size - s->len);
	for (i = 0; i < s->len; i++)
		x ^= p[i];
	sink = x;
}

static void check_vcpu(const uint8_t *blob, size_t size,
		       const struct state_part *s)
{
	const struct state_part *cpuid = &s[STATE_CPUID - STATE_CPUID];
	const struct state_part *msrs = &s[STATE_MSRS - STATE_CPUID];
	const struct kvm_cpuid2 *c;
	const struct kvm_msrs *m;
	uint64_t x = 0;
	uint32_t i;
	int t;

	for (t = 0; t < STATE_NR_VCPU_TYPES; t++)
		read_part(blob, size, &s[t]);
	/* state_load() requires these: a blob without them must fail. */
	FUZZ_ASSERT(cpuid->data && msrs->data);
	FUZZ_ASSERT(s[STATE_REGS - STATE_CPUID].data &&
		    s[STATE_SREGS - STATE_CPUID].data &&
		    s[STATE_LAPIC - STATE_CPUID].data &&
		    s[STATE_EVENTS - STATE_CPUID].data &&
		    s[STATE_MP_STATE - STATE_CPUID].data);
	FUZZ_ASSERT(s[STATE_XSAVE - STATE_CPUID].data ||
		    s[STATE_FPU - STATE_CPUID].data);
	/* KVM_SET_CPUID2 and msrs_set() read entries by their counts. */
	c = cpuid->data;
	FUZZ_ASSERT(cpuid->len == sizeof(*c) + c->nent * sizeof(c->entries[0]));
	for (i = 0; i < c->nent; i++)
		x += c->entries[i].function + c->entries[i].eax;
	m = msrs->data;
	FUZZ_ASSERT(msrs->len == sizeof(*m) + m->nmsrs * sizeof(m->entries[0]));
	for (i = 0; i < m->nmsrs; i++)
		x += m->entries[i].index + m->entries[i].data;
	sink = x;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct workload_slice slice;
	struct state_parsed p;
	struct workload wl;
	char err[256] = "";
	int i, ret;

	ret = state_parse(&vmm, data, size, &p, &wl, err, sizeof(err));
	if (ret) {
		FUZZ_ASSERT(ret < 0 && err[0]);
		/* It reaches the operator's terminal: one printable line. */
		FUZZ_ASSERT(memchr(err, 0, sizeof(err)));
		for (i = 0; err[i]; i++)
			FUZZ_ASSERT(err[i] >= 0x20 && err[i] < 0x7f);
		return 0;
	}
	FUZZ_ASSERT(p.config);
	read_part(data, size, &(struct state_part){ p.config,
						    sizeof(*p.config) });
	FUZZ_ASSERT(p.config->nr_vcpus == FUZZ_VCPUS &&
		    p.config->ram_size == FUZZ_RAM);
	read_part(data, size, &p.clock);
	for (i = 0; i < STATE_NR_IRQCHIPS; i++)
		read_part(data, size, &p.irqchip[i]);
	for (i = 0; i < FUZZ_VCPUS; i++)
		check_vcpu(data, size, p.vcpu[i]);
	for (i = FUZZ_VCPUS; i < GUEST_MAX_VCPUS; i++)
		FUZZ_ASSERT(!p.vcpu[i][0].data);

	/* The VMM adopts the workload: pacing, and each vCPU's slice. */
	FUZZ_ASSERT(memchr(wl.spec, 0, sizeof(wl.spec)));
	sink = workload_vcpu_rate(&wl, p.config->rate_mib, FUZZ_VCPUS) & 1;
	for (i = 0; i < FUZZ_VCPUS; i++) {
		workload_slice(&wl, FUZZ_RAM, FUZZ_VCPUS, i, &slice);
		FUZZ_ASSERT(slice.first >= GUEST_DATA &&
			    slice.first + slice.pages * GUEST_PAGE_SIZE <= FUZZ_RAM);
	}
	return 0;
}
