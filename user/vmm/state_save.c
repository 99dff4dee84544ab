// SPDX-License-Identifier: GPL-2.0
/*
 * VMM_GET_STATE: the device-state blob (layout in state.h), taken while
 * every vCPU is parked.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "msrs.h"
#include "state.h"
#include "util.h"
#include "vmm.h"

#define ALIGN8(n)	(((n) + 7) & ~(size_t)7)
#define NR_IRQCHIPS	3	/* KVM_IRQCHIP_PIC_MASTER, _PIC_SLAVE, _IOAPIC */

struct blob {
	uint8_t *buf;
	size_t len;
	size_t cap;
	uint32_t nr_sections;
	char *err;
	size_t errlen;
	int ret;		/* first error */
};

static void blob_fail(struct blob *b, int ret, const char *what, int index)
{
	if (b->ret)
		return;
	b->ret = ret;
	snprintf(b->err, b->errlen, "%s (%d): %s", what, index, strerror(-ret));
}

static void blob_add(struct blob *b, uint32_t type, uint32_t index,
		     const void *data, size_t len)
{
	struct state_section sec = { .type = type, .index = index, .len = len };
	size_t need = b->len + sizeof(sec) + ALIGN8(len);
	uint8_t *buf;

	if (b->ret)
		return;
	if (need > b->cap) {
		size_t cap = need > 2 * b->cap ? need : 2 * b->cap;

		buf = realloc(b->buf, cap);
		if (!buf) {
			blob_fail(b, -ENOMEM, "state blob", 0);
			return;
		}
		b->buf = buf;
		b->cap = cap;
	}
	memcpy(b->buf + b->len, &sec, sizeof(sec));
	memcpy(b->buf + b->len + sizeof(sec), data, len);
	memset(b->buf + b->len + sizeof(sec) + len, 0, ALIGN8(len) - len);
	b->len = need;
	b->nr_sections++;
}

/* One fixed-size KVM_GET_* ioctl into a section. */
static void save_ioctl(struct blob *b, int fd, unsigned long req,
		       const char *name, uint32_t type, uint32_t index,
		       void *buf, size_t len)
{
	if (ioctl(fd, req, buf)) {
		blob_fail(b, -errno, name, index);
		return;
	}
	blob_add(b, type, index, buf, len);
}

static void save_cpuid(struct blob *b, struct vmm_vcpu *v)
{
	struct kvm_cpuid2 *cpuid = NULL;
	uint32_t nent = 64;

	for (;;) {
		free(cpuid);
		cpuid = calloc(1, sizeof(*cpuid) +
				  nent * sizeof(struct kvm_cpuid_entry2));
		if (!cpuid) {
			blob_fail(b, -ENOMEM, "CPUID", v->id);
			return;
		}
		cpuid->nent = nent;
		if (!ioctl(v->fd, KVM_GET_CPUID2, cpuid))
			break;
		if (errno != E2BIG || nent >= 4096) {
			blob_fail(b, -errno, "KVM_GET_CPUID2", v->id);
			free(cpuid);
			return;
		}
		nent *= 2;
	}
	blob_add(b, STATE_CPUID, v->id, cpuid, sizeof(*cpuid) +
		 cpuid->nent * sizeof(struct kvm_cpuid_entry2));
	free(cpuid);
}

static void save_xsave(struct blob *b, struct vmm *vmm, struct vmm_vcpu *v)
{
	size_t len = vmm->xsave_size ?: sizeof(struct kvm_xsave);
	void *xsave;

	if (!vmm->xsave_size &&
	    ioctl(vmm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE) <= 0)
		return;		/* the FPU section has it all */
	xsave = calloc(1, len);
	if (!xsave) {
		blob_fail(b, -ENOMEM, "xsave", v->id);
		return;
	}
	if (vmm->xsave_size)
		save_ioctl(b, v->fd, KVM_GET_XSAVE2, "KVM_GET_XSAVE2",
			   STATE_XSAVE, v->id, xsave, len);
	else
		save_ioctl(b, v->fd, KVM_GET_XSAVE, "KVM_GET_XSAVE",
			   STATE_XSAVE, v->id, xsave, len);
	free(xsave);
}

static void save_vcpu(struct blob *b, struct vmm *vmm, struct vmm_vcpu *v)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_fpu fpu;
	struct kvm_xcrs xcrs;
	struct kvm_lapic_state lapic;
	struct kvm_vcpu_events events;
	struct kvm_mp_state mp_state;
	struct kvm_debugregs debugregs;
	struct kvm_msrs *msrs;
	uint64_t khz;
	int r;

	save_cpuid(b, v);
	save_ioctl(b, v->fd, KVM_GET_REGS, "KVM_GET_REGS", STATE_REGS, v->id,
		   &regs, sizeof(regs));
	save_ioctl(b, v->fd, KVM_GET_SREGS, "KVM_GET_SREGS", STATE_SREGS,
		   v->id, &sregs, sizeof(sregs));
	save_ioctl(b, v->fd, KVM_GET_FPU, "KVM_GET_FPU", STATE_FPU, v->id,
		   &fpu, sizeof(fpu));
	save_xsave(b, vmm, v);
	if (ioctl(vmm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XCRS) > 0)
		save_ioctl(b, v->fd, KVM_GET_XCRS, "KVM_GET_XCRS", STATE_XCRS,
			   v->id, &xcrs, sizeof(xcrs));
	msrs = msrs_get(vmm, v->fd);
	if (msrs)
		blob_add(b, STATE_MSRS, v->id, msrs, sizeof(*msrs) +
			 msrs->nmsrs * sizeof(struct kvm_msr_entry));
	else
		blob_fail(b, -EIO, "KVM_GET_MSRS", v->id);
	free(msrs);
	save_ioctl(b, v->fd, KVM_GET_LAPIC, "KVM_GET_LAPIC", STATE_LAPIC,
		   v->id, &lapic, sizeof(lapic));
	save_ioctl(b, v->fd, KVM_GET_VCPU_EVENTS, "KVM_GET_VCPU_EVENTS",
		   STATE_EVENTS, v->id, &events, sizeof(events));
	save_ioctl(b, v->fd, KVM_GET_MP_STATE, "KVM_GET_MP_STATE",
		   STATE_MP_STATE, v->id, &mp_state, sizeof(mp_state));
	if (ioctl(vmm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_DEBUGREGS) > 0)
		save_ioctl(b, v->fd, KVM_GET_DEBUGREGS, "KVM_GET_DEBUGREGS",
			   STATE_DEBUGREGS, v->id, &debugregs,
			   sizeof(debugregs));
	if (ioctl(vmm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_GET_TSC_KHZ) > 0) {
		r = ioctl(v->fd, KVM_GET_TSC_KHZ);
		if (r > 0) {
			khz = r;
			blob_add(b, STATE_TSC_KHZ, v->id, &khz, sizeof(khz));
		}
	}
}

static void save_vm(struct blob *b, struct vmm *vmm)
{
	struct state_config config = {
		.ram_size = vmm->ram.size,
		.nr_vcpus = vmm->nr_vcpus,
		.rate_mib = vmm->opt.rate_mib,
	};
	struct kvm_clock_data clock;
	struct kvm_irqchip chip;
	uint32_t i;

	snprintf(config.workload, sizeof(config.workload), "%s", vmm->wl.spec);
	blob_add(b, STATE_CONFIG, 0, &config, sizeof(config));
	memset(&clock, 0, sizeof(clock));
	save_ioctl(b, vmm->vm_fd, KVM_GET_CLOCK, "KVM_GET_CLOCK", STATE_CLOCK,
		   0, &clock, sizeof(clock));
	for (i = 0; i < NR_IRQCHIPS; i++) {
		memset(&chip, 0, sizeof(chip));
		chip.chip_id = i;
		save_ioctl(b, vmm->vm_fd, KVM_GET_IRQCHIP, "KVM_GET_IRQCHIP",
			   STATE_IRQCHIP, i, &chip, sizeof(chip));
	}
}

int state_save(struct vmm *vmm, void **blob, size_t *len, char *err,
	       size_t errlen)
{
	struct blob b = { .err = err, .errlen = errlen };
	struct state_header head = { .version = STATE_VERSION };
	int i;

	/* Room for the header, written last. */
	b.cap = 64 * 1024;
	b.buf = malloc(b.cap);
	if (!b.buf) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	b.len = sizeof(head);
	save_vm(&b, vmm);
	for (i = 0; i < vmm->nr_vcpus; i++)
		save_vcpu(&b, vmm, &vmm->vcpu[i]);
	if (b.ret) {
		free(b.buf);
		return b.ret;
	}
	memcpy(head.magic, STATE_MAGIC, sizeof(head.magic));
	head.nr_sections = b.nr_sections;
	head.size = b.len;
	memcpy(b.buf, &head, sizeof(head));
	*blob = b.buf;
	*len = b.len;
	return 0;
}
