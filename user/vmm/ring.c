// SPDX-License-Identifier: GPL-2.0
/*
 * KVM's dirty ring (--dirty-ring), as seen from the VMM: see ring.h for
 * who harvests when.
 */
#include <errno.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "ring.h"
#include "runctl.h"
#include "util.h"
#include "vmm.h"

#define RING_WAIT_NS	(1000 * 1000ULL)	/* for kmig's next harvest */

static size_t ring_bytes(struct vmm *vmm)
{
	return (size_t)vmm->opt.dirty_ring * sizeof(struct kvm_dirty_gfn);
}

void ring_enable(struct vmm *vmm)
{
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_DIRTY_LOG_RING,
		.args = { ring_bytes(vmm) },
	};
	int max = ioctl(vmm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_DIRTY_LOG_RING);

	if (max <= 0)
		vmm_die("--dirty-ring: KVM has no KVM_CAP_DIRTY_LOG_RING");
	if (ring_bytes(vmm) > (size_t)max)
		vmm_die("--dirty-ring: %u entries are more than KVM's %zu",
			vmm->opt.dirty_ring, max / sizeof(struct kvm_dirty_gfn));
	if (ioctl(vmm->vm_fd, KVM_ENABLE_CAP, &cap))
		vmm_die_errno("KVM_ENABLE_CAP(KVM_CAP_DIRTY_LOG_RING, %zu bytes)",
			      ring_bytes(vmm));
}

void ring_map(struct vmm *vmm, struct vmm_vcpu *v)
{
	v->ring = mmap(NULL, ring_bytes(vmm), PROT_READ | PROT_WRITE,
		       MAP_SHARED, v->fd,
		       KVM_DIRTY_LOG_PAGE_OFFSET * getpagesize());
	if (v->ring == MAP_FAILED)
		vmm_die_errno("mmap the dirty ring of vCPU %d", v->id);
}

void ring_unmap(struct vmm *vmm, struct vmm_vcpu *v)
{
	munmap(v->ring, ring_bytes(vmm));
	v->ring = NULL;
}

/*
 * Throws this vCPU's dirty entries away. Every entry KVM has published is
 * handed back, wherever it sits: KVM resets from its own reset index
 * while it finds entries marked for reset, so no fetch index is needed.
 */
static void ring_discard(struct vmm_vcpu *v)
{
	struct vmm *vmm = v->vmm;
	uint32_t i, flags;

	for (i = 0; i < vmm->opt.dirty_ring; i++) {
		/* Acquire: pairs with KVM publishing the entry. */
		flags = __atomic_load_n(&v->ring[i].flags, __ATOMIC_ACQUIRE);
		if (flags & KVM_DIRTY_GFN_F_DIRTY)
			/* Release: we are done with the entry. */
			__atomic_store_n(&v->ring[i].flags,
					 KVM_DIRTY_GFN_F_RESET,
					 __ATOMIC_RELEASE);
	}
	if (ioctl(vmm->vm_fd, KVM_RESET_DIRTY_RINGS) < 0)
		vmm_warn_errno("vCPU %d: KVM_RESET_DIRTY_RINGS", v->id);
}

void ring_full(struct vmm_vcpu *v)
{
	struct vmm *vmm = v->vmm;

	pthread_mutex_lock(&vmm->ring_lock);
	if (!vmm->ring_claims) {
		ring_discard(v);
		pthread_mutex_unlock(&vmm->ring_lock);
		return;
	}
	pthread_mutex_unlock(&vmm->ring_lock);
	v->ring_full_waits++;
	runctl_sleep_until(v, vmm_now_ns() + RING_WAIT_NS);
}

void ring_claim(struct vmm *vmm)
{
	/* Waits for a discard in progress: kmig must find a settled ring. */
	pthread_mutex_lock(&vmm->ring_lock);
	vmm->ring_claims++;
	pthread_mutex_unlock(&vmm->ring_lock);
}

void ring_release(struct vmm *vmm)
{
	pthread_mutex_lock(&vmm->ring_lock);
	vmm->ring_claims--;
	pthread_mutex_unlock(&vmm->ring_lock);
}
