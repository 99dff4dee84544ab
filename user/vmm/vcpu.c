// SPDX-License-Identifier: GPL-2.0
/*
 * vCPUs: creation, and the thread that runs each one: KVM_RUN in a loop,
 * handling the few exits the guest makes (pacing and "done" OUTs, the
 * host-write device's requests, a full dirty ring) and parking when
 * runctl asks.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "hostwrite.h"
#include "ring.h"
#include "runctl.h"
#include "util.h"
#include "vcpu.h"
#include "vmm.h"

/* The guest gets what KVM supports, as KVM's own selftests do. */
static void set_supported_cpuid(struct vmm *vmm, struct vmm_vcpu *v)
{
	struct kvm_cpuid2 *cpuid;
	int nent = 64;

	for (;;) {
		cpuid = calloc(1, sizeof(*cpuid) +
				  nent * sizeof(struct kvm_cpuid_entry2));
		if (!cpuid)
			vmm_die("out of memory");
		cpuid->nent = nent;
		if (!ioctl(vmm->kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid))
			break;
		if (errno != E2BIG)
			vmm_die_errno("KVM_GET_SUPPORTED_CPUID");
		free(cpuid);
		nent *= 2;
	}
	if (ioctl(v->fd, KVM_SET_CPUID2, cpuid))
		vmm_die_errno("KVM_SET_CPUID2");
	free(cpuid);
}

void vcpu_create(struct vmm *vmm, int id)
{
	struct kvm_mp_state runnable = { .mp_state = KVM_MP_STATE_RUNNABLE };
	struct vmm_vcpu *v = &vmm->vcpu[id];

	v->vmm = vmm;
	v->id = id;
	v->fd = ioctl(vmm->vm_fd, KVM_CREATE_VCPU, id);
	if (v->fd < 0)
		vmm_die_errno("KVM_CREATE_VCPU %d", id);
	v->run = mmap(NULL, vmm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      v->fd, 0);
	if (v->run == MAP_FAILED)
		vmm_die_errno("mmap kvm_run of vCPU %d", id);
	if (vmm->opt.dirty_ring)
		ring_map(vmm, v);
	set_supported_cpuid(vmm, v);
	/*
	 * With the in-kernel LAPIC, vCPUs other than 0 would wait for an
	 * INIT/SIPI that nobody sends: every vCPU starts runnable, in the
	 * state boot.c (or a migrated state) gives it.
	 */
	if (ioctl(v->fd, KVM_SET_MP_STATE, &runnable))
		vmm_die_errno("KVM_SET_MP_STATE vCPU %d", id);
	pace_set_rate(&v->pace, 0);
}

void vcpu_destroy(struct vmm *vmm, int id)
{
	struct vmm_vcpu *v = &vmm->vcpu[id];

	if (v->ring)
		ring_unmap(vmm, v);
	munmap(v->run, vmm->run_size);
	close(v->fd);
}

static uint64_t block_field(struct vmm_vcpu *v, int field)
{
	uint64_t val;

	memcpy(&val, v->vmm->ram.base + GUEST_BLOCK(v->id) + field,
	       sizeof(val));
	return val;
}

void vcpu_report(struct vmm *vmm)
{
	uint64_t spurious;
	int i;

	for (i = 0; i < vmm->nr_vcpus; i++) {
		struct vmm_vcpu *v = &vmm->vcpu[i];

		/* Interrupts are off: any would be the platform's bug. */
		spurious = vmm->have_workload ?
			   block_field(v, BLK_SPURIOUS) : 0;
		vmm_warn("vCPU %d: %llu pages written, %llu host-write requests, %llu dirty-ring-full waits%s",
			 i, (unsigned long long)v->pages_written,
			 (unsigned long long)v->hostwrites,
			 (unsigned long long)v->ring_full_waits,
			 spurious ? ", took unexpected interrupts" : "");
	}
}

void vcpu_set_pacing(struct vmm *vmm)
{
	uint64_t rate = workload_vcpu_rate(&vmm->wl, vmm->opt.rate_mib,
					   vmm->nr_vcpus);
	int i;

	for (i = 0; i < vmm->nr_vcpus; i++)
		pace_set_rate(&vmm->vcpu[i].pace, rate);
}

void vcpu_pace(struct vmm_vcpu *v, uint32_t pages)
{
	uint64_t until;

	v->pages_written += pages;
	until = pace_account(&v->pace, (uint64_t)pages * GUEST_PAGE_SIZE,
			     vmm_now_ns());
	if (until)
		runctl_sleep_until(v, until);
}

static void handle_done(struct vmm_vcpu *v)
{
	struct vmm *vmm = v->vmm;

	if (v->done_reported)
		return;
	v->done_reported = true;
	vmm_warn("vCPU %d: workload %s done after %.1f s", v->id,
		 vmm->wl.spec, (vmm_now_ns() - vmm->start_ns) / 1e9);
}

static void fail_exit(struct vmm_vcpu *v, const char *what)
{
	struct kvm_regs regs;
	char why[160];

	memset(&regs, 0, sizeof(regs));
	ioctl(v->fd, KVM_GET_REGS, &regs);
	snprintf(why, sizeof(why), "%s (exit reason %u) at rip 0x%llx",
		 what, v->run->exit_reason, (unsigned long long)regs.rip);
	runctl_fail(v, why);
}

/* The guest's exception handler recorded what happened (guest.S). */
static void handle_fault(struct vmm_vcpu *v)
{
	char why[160];

	snprintf(why, sizeof(why),
		 "guest exception %llu (error 0x%llx) at rip 0x%llx, cr2 0x%llx",
		 (unsigned long long)block_field(v, BLK_FAULT_VEC),
		 (unsigned long long)block_field(v, BLK_FAULT_ERR),
		 (unsigned long long)block_field(v, BLK_FAULT_RIP),
		 (unsigned long long)block_field(v, BLK_FAULT_CR2));
	runctl_fail(v, why);
}

static void handle_io(struct vmm_vcpu *v)
{
	struct kvm_run *run = v->run;
	uint32_t val = 0;

	if (run->io.direction == KVM_EXIT_IO_OUT && run->io.count == 1 &&
	    run->io.size <= sizeof(val))
		memcpy(&val, (uint8_t *)run + run->io.data_offset, run->io.size);
	if (run->io.direction == KVM_EXIT_IO_OUT &&
	    run->io.port == GUEST_PORT_PACE && run->io.size == 4) {
		vcpu_pace(v, val);
	} else if (run->io.direction == KVM_EXIT_IO_OUT &&
		   run->io.port == GUEST_PORT_DONE) {
		handle_done(v);
	} else if (run->io.direction == KVM_EXIT_IO_OUT &&
		   run->io.port == GUEST_PORT_FAULT) {
		handle_fault(v);
	} else if (run->io.direction == KVM_EXIT_IO_OUT &&
		   run->io.port == GUEST_PORT_HOSTWRITE) {
		hostwrite_request(v);
	} else {
		char what[64];

		snprintf(what, sizeof(what), "unexpected %s of port 0x%x",
			 run->io.direction == KVM_EXIT_IO_OUT ? "OUT" : "IN",
			 run->io.port);
		fail_exit(v, what);
	}
}

static void *vcpu_thread(void *arg)
{
	struct vmm_vcpu *v = arg;

	while (runctl_wait_runnable(v)) {
		if (ioctl(v->fd, KVM_RUN, 0)) {
			/*
			 * Kicked: KVM completed the previous exit before it
			 * looked for the signal, so nothing is pending now.
			 */
			if (errno == EINTR || errno == EAGAIN) {
				v->exit_pending = false;
				continue;
			}
			vmm_warn_errno("vCPU %d: KVM_RUN", v->id);
			runctl_fail(v, "KVM_RUN failed");
			continue;
		}
		v->exit_pending = true;
		switch (v->run->exit_reason) {
		case KVM_EXIT_IO:
			handle_io(v);
			break;
		case KVM_EXIT_DIRTY_RING_FULL:
			ring_full(v);
			break;
		case KVM_EXIT_INTR:
			break;
		case KVM_EXIT_SHUTDOWN:
			fail_exit(v, "triple fault");
			break;
		case KVM_EXIT_INTERNAL_ERROR:
			fail_exit(v, "KVM internal error");
			break;
		case KVM_EXIT_FAIL_ENTRY:
			fail_exit(v, "VM entry failed");
			break;
		default:
			fail_exit(v, "unexpected exit");
			break;
		}
	}
	return NULL;
}

void vcpu_start_thread(struct vmm *vmm, int id)
{
	struct vmm_vcpu *v = &vmm->vcpu[id];
	char name[16];
	int r;

	r = pthread_create(&v->thread, NULL, vcpu_thread, v);
	if (r) {
		errno = r;
		vmm_die_errno("pthread_create");
	}
	/*
	 * Named like QEMU's ("CPU 0/KVM"), so that tools and benchmarks can
	 * tell the guest's CPU time from the VMM's own.
	 */
	snprintf(name, sizeof(name), "CPU %d/KVM", id);
	pthread_setname_np(v->thread, name);
}
