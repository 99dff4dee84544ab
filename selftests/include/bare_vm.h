/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A bare KVM VM: no vCPUs, one anonymous memslot with dirty logging. All
 * that KMIG_ATTACH_VM needs, for tests of the session and control plane
 * that never run a guest (kvm_guest.h is the VMM for those that do).
 */
#ifndef KMIG_SELFTEST_BARE_VM_H
#define KMIG_SELFTEST_BARE_VM_H

#include <stddef.h>
#include <sys/mman.h>

struct bare_vm {
	int kvm_fd;
	int fd;
	void *mem;
	size_t size;
};

/* Nothing open: what a teardown after a skip may safely destroy. */
#define BARE_VM_INIT	((struct bare_vm){ .kvm_fd = -1, .fd = -1, \
					   .mem = MAP_FAILED })

/*
 * Opens /dev/kvm, creates a VM and gives it @size bytes of anonymous RAM
 * as memslot 0 at gpa 0 with KVM_MEM_LOG_DIRTY_PAGES. Returns 0, or
 * -errno with *@step naming the call that failed.
 */
int bare_vm_create(struct bare_vm *vm, size_t size, const char **step);
/* Closes and unmaps whatever bare_vm_create() got; BARE_VM_INIT is fine. */
void bare_vm_destroy(struct bare_vm *vm);

#endif /* KMIG_SELFTEST_BARE_VM_H */
