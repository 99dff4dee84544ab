// SPDX-License-Identifier: GPL-2.0
/* A bare KVM VM for the session and control-plane tests (bare_vm.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/kvm.h>

#include "bare_vm.h"

int bare_vm_create(struct bare_vm *vm, size_t size, const char **step)
{
	struct kvm_userspace_memory_region region = {
		.flags = KVM_MEM_LOG_DIRTY_PAGES, .memory_size = size,
	};

	*vm = BARE_VM_INIT;
	*step = "open /dev/kvm";
	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0)
		return -errno;
	*step = "KVM_CREATE_VM";
	vm->fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->fd < 0)
		return -errno;
	*step = "mmap guest RAM";
	vm->mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vm->mem == MAP_FAILED)
		return -errno;
	vm->size = size;
	*step = "KVM_SET_USER_MEMORY_REGION";
	region.userspace_addr = (uintptr_t)vm->mem;
	if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &region))
		return -errno;
	return 0;
}

void bare_vm_destroy(struct bare_vm *vm)
{
	if (vm->fd >= 0)
		close(vm->fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	if (vm->mem != MAP_FAILED)
		munmap(vm->mem, vm->size);
	*vm = BARE_VM_INIT;
}
