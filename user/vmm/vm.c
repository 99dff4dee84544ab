// SPDX-License-Identifier: GPL-2.0
/*
 * The KVM VM and its memslots.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include "msrs.h"
#include "ring.h"
#include "util.h"
#include "vcpu.h"
#include "vm.h"
#include "vmm.h"

/* Where QEMU puts the TSS KVM needs on Intel; inside the PCI hole. */
#define VM_TSS_ADDR	0xfeffd000UL

static int check_cap(int fd, long cap)
{
	int r = ioctl(fd, KVM_CHECK_EXTENSION, cap);

	return r < 0 ? 0 : r;
}

static void require_cap(struct vmm *vmm, long cap, const char *name)
{
	if (!check_cap(vmm->kvm_fd, cap))
		vmm_die("KVM lacks %s", name);
}

static void enable_manual_protect(struct vmm *vmm)
{
	int caps = check_cap(vmm->vm_fd, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2);
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
		.args = { KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE },
	};

	if (!(caps & KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE))
		vmm_die("--manual-protect: KVM lacks KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2");
	/* As QEMU: no write-protection pass when logging starts. */
	if (caps & KVM_DIRTY_LOG_INITIALLY_SET)
		cap.args[0] |= KVM_DIRTY_LOG_INITIALLY_SET;
	if (ioctl(vmm->vm_fd, KVM_ENABLE_CAP, &cap))
		vmm_die_errno("KVM_ENABLE_CAP(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2)");
}

static void add_memslots(struct vmm *vmm)
{
	int i;

	for (i = 0; i < vmm->ram.nr_regions; i++) {
		const struct ram_region *r = &vmm->ram.region[i];
		struct kvm_userspace_memory_region slot = {
			.slot = i,
			.flags = KVM_MEM_LOG_DIRTY_PAGES,
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uintptr_t)(vmm->ram.base + r->offset),
		};

		if (ioctl(vmm->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot))
			vmm_die_errno("KVM_SET_USER_MEMORY_REGION slot %d", i);
	}
}

static void probe_xsave(struct vmm *vmm)
{
	int size = check_cap(vmm->vm_fd, KVM_CAP_XSAVE2);

	/* KVM_CAP_XSAVE2 returns the buffer size KVM_GET_XSAVE2 needs. */
	vmm->xsave_size = size > (int)sizeof(struct kvm_xsave) ? size : 0;
}

void vm_create(struct vmm *vmm)
{
	int i;

	vmm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vmm->kvm_fd < 0)
		vmm_die_errno("open /dev/kvm");
	if (ioctl(vmm->kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
		vmm_die("unsupported KVM API version");
	require_cap(vmm, KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT");
	require_cap(vmm, KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP");
	require_cap(vmm, KVM_CAP_VCPU_EVENTS, "KVM_CAP_VCPU_EVENTS");
	require_cap(vmm, KVM_CAP_ADJUST_CLOCK, "KVM_CAP_ADJUST_CLOCK");
	require_cap(vmm, KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID");

	vmm->vm_fd = ioctl(vmm->kvm_fd, KVM_CREATE_VM, 0);
	if (vmm->vm_fd < 0)
		vmm_die_errno("KVM_CREATE_VM");
	/* The VM fd goes to kmigctl; it must not leak into other programs. */
	fcntl(vmm->vm_fd, F_SETFD, FD_CLOEXEC);
	vmm->run_size = ioctl(vmm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if ((long)vmm->run_size <= 0)
		vmm_die_errno("KVM_GET_VCPU_MMAP_SIZE");
	if (ioctl(vmm->vm_fd, KVM_SET_TSS_ADDR, VM_TSS_ADDR))
		vmm_die_errno("KVM_SET_TSS_ADDR");
	/*
	 * In-kernel PIC, IOAPIC and LAPICs: HLT blocks in the kernel, and
	 * the LAPIC state can be saved and restored.
	 */
	if (ioctl(vmm->vm_fd, KVM_CREATE_IRQCHIP, 0))
		vmm_die_errno("KVM_CREATE_IRQCHIP");
	/* Both must happen before the vCPUs exist. */
	if (vmm->opt.dirty_ring)
		ring_enable(vmm);
	if (vmm->opt.manual_protect)
		enable_manual_protect(vmm);
	probe_xsave(vmm);

	ram_create(&vmm->ram, vmm->opt.ram_size, vmm->opt.memfd);
	add_memslots(vmm);

	vmm->nr_vcpus = vmm->opt.nr_vcpus;
	for (i = 0; i < vmm->nr_vcpus; i++)
		vcpu_create(vmm, i);
	msrs_probe(vmm);
}

void vm_destroy(struct vmm *vmm)
{
	int i;

	for (i = 0; i < vmm->nr_vcpus; i++)
		vcpu_destroy(vmm, i);
	free(vmm->msr_index);
	close(vmm->vm_fd);
	ram_destroy(&vmm->ram);
	close(vmm->kvm_fd);
}
