// SPDX-License-Identifier: GPL-2.0
/*
 * VMM_SET_STATE: checks a device-state blob (layout in state.h) from end
 * to end, then loads it into the destination's vCPUs, which have never
 * run. A blob comes from another process: nothing in it is trusted
 * before it was checked.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "msrs.h"
#include "state.h"
#include "util.h"
#include "vcpu.h"
#include "vmm.h"

#define ALIGN8(n)	(((n) + 7) & ~(size_t)7)
#define NR_IRQCHIPS	STATE_NR_IRQCHIPS

struct load_ctx {
	struct vmm *vmm;
	char *err;
	size_t errlen;
};

static int fail(struct load_ctx *c, int ret, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct load_ctx *c, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, c->errlen, fmt, ap);
	va_end(ap);
	return ret;
}

/* The payload size a section type must have; 0 when it varies. */
static size_t fixed_len(struct vmm *vmm, uint32_t type)
{
	switch (type) {
	case STATE_CONFIG:
		return sizeof(struct state_config);
	case STATE_CLOCK:
		return sizeof(struct kvm_clock_data);
	case STATE_IRQCHIP:
		return sizeof(struct kvm_irqchip);
	case STATE_REGS:
		return sizeof(struct kvm_regs);
	case STATE_SREGS:
		return sizeof(struct kvm_sregs);
	case STATE_FPU:
		return sizeof(struct kvm_fpu);
	case STATE_XSAVE:
		return vmm->xsave_size ?: sizeof(struct kvm_xsave);
	case STATE_XCRS:
		return sizeof(struct kvm_xcrs);
	case STATE_LAPIC:
		return sizeof(struct kvm_lapic_state);
	case STATE_EVENTS:
		return sizeof(struct kvm_vcpu_events);
	case STATE_MP_STATE:
		return sizeof(struct kvm_mp_state);
	case STATE_DEBUGREGS:
		return sizeof(struct kvm_debugregs);
	case STATE_TSC_KHZ:
		return sizeof(uint64_t);
	}
	return 0;
}

/* CPUID and MSRS: a header with a count, then that many entries. */
static bool counted_len_ok(uint32_t type, const void *data, uint32_t len)
{
	if (type == STATE_CPUID) {
		const struct kvm_cpuid2 *cpuid = data;

		return len >= sizeof(*cpuid) &&
		       cpuid->nent <= (len - sizeof(*cpuid)) /
				      sizeof(struct kvm_cpuid_entry2) &&
		       len == sizeof(*cpuid) +
			      cpuid->nent * sizeof(struct kvm_cpuid_entry2);
	}
	if (type == STATE_MSRS) {
		const struct kvm_msrs *msrs = data;

		return len >= sizeof(*msrs) &&
		       msrs->nmsrs <= (len - sizeof(*msrs)) /
				      sizeof(struct kvm_msr_entry) &&
		       len == sizeof(*msrs) +
			      msrs->nmsrs * sizeof(struct kvm_msr_entry);
	}
	return false;
}

static struct state_part *slot_for(struct state_parsed *p, struct vmm *vmm,
				   const struct state_section *sec)
{
	if (sec->type == STATE_CLOCK && !sec->index)
		return &p->clock;
	if (sec->type == STATE_IRQCHIP && sec->index < NR_IRQCHIPS)
		return &p->irqchip[sec->index];
	if (sec->type >= STATE_CPUID && sec->type < __STATE_VCPU_END &&
	    sec->index < (uint32_t)vmm->nr_vcpus)
		return &p->vcpu[sec->index][sec->type - STATE_CPUID];
	return NULL;
}

static int parse_sections(struct load_ctx *c, const uint8_t *blob,
			  size_t len, struct state_parsed *p)
{
	const struct state_header *head = (const void *)blob;
	size_t off = sizeof(*head), want;
	uint32_t i;

	if (len < sizeof(*head) || memcmp(head->magic, STATE_MAGIC, 8))
		return fail(c, -EINVAL, "not a kmig-vmm state blob");
	if (head->version != STATE_VERSION)
		return fail(c, -EINVAL, "state blob version %u, expected %u",
			    head->version, STATE_VERSION);
	if (head->size != len)
		return fail(c, -EINVAL, "state blob is %zu bytes, header says %llu",
			    len, (unsigned long long)head->size);
	for (i = 0; i < head->nr_sections; i++) {
		const struct state_section *sec = (const void *)(blob + off);
		const void *data = blob + off + sizeof(*sec);
		struct state_part *slot;

		if (len - off < sizeof(*sec) ||
		    len - off - sizeof(*sec) < ALIGN8((size_t)sec->len))
			return fail(c, -EINVAL, "state section %u overruns the blob", i);
		want = fixed_len(c->vmm, sec->type);
		if (want ? sec->len != want :
			   !counted_len_ok(sec->type, data, sec->len))
			return fail(c, -EINVAL,
				    "state section type %u (index %u) has a bad length %u",
				    sec->type, sec->index, sec->len);
		if (sec->type == STATE_CONFIG && !sec->index && !p->config) {
			p->config = data;
		} else {
			slot = slot_for(p, c->vmm, sec);
			if (!slot || slot->data || sec->reserved)
				return fail(c, -EINVAL,
					    "unexpected state section type %u index %u",
					    sec->type, sec->index);
			slot->data = data;
			slot->len = sec->len;
		}
		off += sizeof(*sec) + ALIGN8((size_t)sec->len);
	}
	if (off != len)
		return fail(c, -EINVAL, "%zu stray bytes after the state sections",
			    len - off);
	return 0;
}

static int check_parsed(struct load_ctx *c, struct state_parsed *p,
			struct workload *wl)
{
	static const uint32_t required[] = {
		STATE_CPUID, STATE_REGS, STATE_SREGS, STATE_MSRS, STATE_LAPIC,
		STATE_EVENTS, STATE_MP_STATE,
	};
	const struct state_config *cfg = p->config;
	struct vmm *vmm = c->vmm;
	size_t i;
	int id, ret;

	if (!cfg)
		return fail(c, -EINVAL, "the state blob has no configuration");
	if (cfg->ram_size != vmm->ram.size || cfg->nr_vcpus != (uint32_t)vmm->nr_vcpus)
		return fail(c, -EINVAL,
			    "the source has %llu MiB and %u vCPUs, this VMM %llu MiB and %d",
			    (unsigned long long)(cfg->ram_size / MIB),
			    cfg->nr_vcpus,
			    (unsigned long long)(vmm->ram.size / MIB),
			    vmm->nr_vcpus);
	if (!memchr(cfg->workload, 0, sizeof(cfg->workload)))
		return fail(c, -EINVAL, "the state blob's workload is not a string");
	/*
	 * workload_parse() quotes a spec it does not know in its message,
	 * which reaches the destination's terminal: no control bytes.
	 */
	for (i = 0; cfg->workload[i]; i++)
		if (cfg->workload[i] < 0x20 || cfg->workload[i] > 0x7e)
			return fail(c, -EINVAL,
				    "the state blob's workload is not printable text");
	/* The same bound as --rate: the pacing is the source's choice. */
	if (cfg->rate_mib > MAX_RATE_MIB)
		return fail(c, -EINVAL,
			    "the state blob's rate of %llu MiB/s is over %u",
			    (unsigned long long)cfg->rate_mib, MAX_RATE_MIB);
	ret = workload_parse(cfg->workload, wl, c->err, c->errlen);
	if (!ret)
		ret = workload_fits(wl, vmm->ram.size, c->err, c->errlen);
	if (ret)
		return ret;
	for (id = 0; id < vmm->nr_vcpus; id++) {
		struct state_part *s = p->vcpu[id];

		for (i = 0; i < ARRAY_SIZE(required); i++)
			if (!s[required[i] - STATE_CPUID].data)
				return fail(c, -EINVAL,
					    "the state blob lacks section %u of vCPU %d",
					    required[i], id);
		if (!s[STATE_XSAVE - STATE_CPUID].data &&
		    !s[STATE_FPU - STATE_CPUID].data)
			return fail(c, -EINVAL, "the state blob has no FPU state for vCPU %d",
				    id);
	}
	return 0;
}

/* One KVM_SET_* ioctl from a section, if present. */
static int set_from(struct load_ctx *c, int fd, unsigned long req,
		    const char *name, int index, const struct state_part *s)
{
	if (!s->data)
		return 0;
	/* The ioctls take non-const pointers but do not write. */
	if (ioctl(fd, req, (void *)s->data))
		return fail(c, -errno, "%s (%d): %s", name, index, strerror(errno));
	return 0;
}

static int set_tsc_khz(struct load_ctx *c, struct vmm_vcpu *v,
		       const struct state_part *s)
{
	uint64_t khz;
	int have;

	if (!s->data)
		return 0;
	memcpy(&khz, s->data, sizeof(khz));
	have = ioctl(v->fd, KVM_GET_TSC_KHZ);
	if (have > 0 && (uint64_t)have == khz)
		return 0;
	if (ioctl(v->fd, KVM_SET_TSC_KHZ, (unsigned long)khz))
		return fail(c, -errno, "vCPU %d: the guest's TSC runs at %llu kHz, this host cannot: %s",
			    v->id, (unsigned long long)khz, strerror(errno));
	return 0;
}

static int set_events(struct load_ctx *c, struct vmm_vcpu *v,
		      const struct state_part *s)
{
	struct kvm_vcpu_events events;

	memcpy(&events, s->data, sizeof(events));
	/* As QEMU: the saved NMI, SIPI and shadow state are all valid. */
	events.flags &= KVM_VCPUEVENT_VALID_SMM;
	events.flags |= KVM_VCPUEVENT_VALID_NMI_PENDING |
			KVM_VCPUEVENT_VALID_SIPI_VECTOR |
			KVM_VCPUEVENT_VALID_SHADOW;
	if (ioctl(v->fd, KVM_SET_VCPU_EVENTS, &events))
		return fail(c, -errno, "KVM_SET_VCPU_EVENTS (%d): %s", v->id,
			    strerror(errno));
	return 0;
}

#define S(type)	(&s[(type) - STATE_CPUID])

static int load_vcpu(struct load_ctx *c, struct vmm_vcpu *v,
		     const struct state_part *s)
{
	int ret;

	ret = set_tsc_khz(c, v, S(STATE_TSC_KHZ));
	ret = ret ?: set_from(c, v->fd, KVM_SET_CPUID2, "KVM_SET_CPUID2", v->id,
			      S(STATE_CPUID));
	ret = ret ?: set_from(c, v->fd, KVM_SET_REGS, "KVM_SET_REGS", v->id,
			      S(STATE_REGS));
	if (S(STATE_XSAVE)->data)
		ret = ret ?: set_from(c, v->fd, KVM_SET_XSAVE, "KVM_SET_XSAVE",
				      v->id, S(STATE_XSAVE));
	else
		ret = ret ?: set_from(c, v->fd, KVM_SET_FPU, "KVM_SET_FPU",
				      v->id, S(STATE_FPU));
	ret = ret ?: set_from(c, v->fd, KVM_SET_XCRS, "KVM_SET_XCRS", v->id,
			      S(STATE_XCRS));
	ret = ret ?: set_from(c, v->fd, KVM_SET_SREGS, "KVM_SET_SREGS", v->id,
			      S(STATE_SREGS));
	if (!ret) {
		ret = msrs_set(v->fd, S(STATE_MSRS)->data, c->err, c->errlen);
		if (ret)
			vmm_warn("vCPU %d: %s", v->id, c->err);
	}
	ret = ret ?: set_from(c, v->fd, KVM_SET_MP_STATE, "KVM_SET_MP_STATE",
			      v->id, S(STATE_MP_STATE));
	ret = ret ?: set_from(c, v->fd, KVM_SET_LAPIC, "KVM_SET_LAPIC", v->id,
			      S(STATE_LAPIC));
	ret = ret ?: set_events(c, v, S(STATE_EVENTS));
	ret = ret ?: set_from(c, v->fd, KVM_SET_DEBUGREGS, "KVM_SET_DEBUGREGS",
			      v->id, S(STATE_DEBUGREGS));
	return ret;
}

static int load_vm(struct load_ctx *c, const struct state_parsed *p)
{
	struct vmm *vmm = c->vmm;
	struct kvm_clock_data clock;
	int i, ret = 0;

	for (i = 0; i < NR_IRQCHIPS && !ret; i++)
		ret = set_from(c, vmm->vm_fd, KVM_SET_IRQCHIP, "KVM_SET_IRQCHIP",
			       i, &p->irqchip[i]);
	if (ret || !p->clock.data)
		return ret;
	/* The guest's clock resumes where it stopped, like QEMU's. */
	memcpy(&clock, p->clock.data, sizeof(clock));
	clock.flags = 0;
	if (ioctl(vmm->vm_fd, KVM_SET_CLOCK, &clock))
		return fail(c, -errno, "KVM_SET_CLOCK: %s", strerror(errno));
	return 0;
}

int state_parse(struct vmm *vmm, const void *blob, size_t len,
		struct state_parsed *p, struct workload *wl, char *err,
		size_t errlen)
{
	struct load_ctx c = { .vmm = vmm, .err = err, .errlen = errlen };
	int ret;

	memset(p, 0, sizeof(*p));
	ret = parse_sections(&c, blob, len, p);
	return ret ?: check_parsed(&c, p, wl);
}

int state_load(struct vmm *vmm, const void *blob, size_t len, char *err,
	       size_t errlen)
{
	struct load_ctx c = { .vmm = vmm, .err = err, .errlen = errlen };
	struct state_parsed p;
	struct workload wl;
	int id, ret;

	ret = state_parse(vmm, blob, len, &p, &wl, err, errlen);
	for (id = 0; id < vmm->nr_vcpus && !ret; id++)
		ret = load_vcpu(&c, &vmm->vcpu[id], p.vcpu[id]);
	ret = ret ?: load_vm(&c, &p);
	if (ret)
		return ret;
	vmm->wl = wl;
	vmm->have_workload = true;
	vmm->state_loaded = true;
	if (!vmm->opt.rate_given)
		vmm->opt.rate_mib = p.config->rate_mib;
	vcpu_set_pacing(vmm);
	return 0;
}
