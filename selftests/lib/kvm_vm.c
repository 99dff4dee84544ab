// SPDX-License-Identifier: GPL-2.0
/*
 * Test VMs: creation in a chosen dirty-logging mode, guest RAM in memslots,
 * and the system memslot that holds the guest's page tables, GDT and code.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "kvm_guest.h"
#include "kvm_internal.h"
#include "test_util.h"

#define DEFAULT_RING_BYTES	(64 * 1024)

/* x86 paging-structure entry bits */
#define PTE_P		(1ULL << 0)
#define PTE_RW		(1ULL << 1)
#define PTE_A		(1ULL << 5)
#define PTE_D		(1ULL << 6)
#define PTE_PS		(1ULL << 7)

extern const char guest_code_start[], guest_code_end[];

const char *guest_dirty_mode_name(enum guest_dirty_mode mode)
{
	switch (mode) {
	case GUEST_DIRTY_BITMAP:		return "bitmap";
	case GUEST_DIRTY_MANUAL:		return "manual";
	case GUEST_DIRTY_MANUAL_INITSET:	return "manual-initset";
	case GUEST_DIRTY_RING:			return "ring";
	}
	return "?";
}

bool guest_dirty_mode_supported(enum guest_dirty_mode mode, const char **why)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	bool ok = true;
	int r = 0;

	if (kvm < 0) {
		*why = "no /dev/kvm";
		return false;
	}
	switch (mode) {
	case GUEST_DIRTY_BITMAP:
		break;
	case GUEST_DIRTY_MANUAL:
	case GUEST_DIRTY_MANUAL_INITSET:
		r = ioctl(kvm, KVM_CHECK_EXTENSION,
			  KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2);
		ok = r > 0 && (mode == GUEST_DIRTY_MANUAL ||
			       (r & KVM_DIRTY_LOG_INITIALLY_SET));
		*why = "KVM lacks KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2";
		break;
	case GUEST_DIRTY_RING:
		r = ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_DIRTY_LOG_RING);
		ok = r > 0;
		*why = "KVM lacks KVM_CAP_DIRTY_LOG_RING";
		break;
	}
	close(kvm);
	return ok;
}

static void enable_cap(struct guest_vm *vm, __u32 cap, __u64 arg0)
{
	struct kvm_enable_cap ec = { .cap = cap, .args[0] = arg0 };

	if (ioctl(vm->fd, KVM_ENABLE_CAP, &ec))
		die_errno("KVM_ENABLE_CAP %u (arg 0x%llx)", cap,
			  (unsigned long long)arg0);
}

static void set_dirty_mode(struct guest_vm *vm)
{
	__u64 manual = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE;
	int max;

	switch (vm->opts.mode) {
	case GUEST_DIRTY_BITMAP:
		break;
	case GUEST_DIRTY_MANUAL_INITSET:
		manual |= KVM_DIRTY_LOG_INITIALLY_SET;
		/* fall through */
	case GUEST_DIRTY_MANUAL:
		/* Before any memslot: INITIALLY_SET acts when logging starts. */
		enable_cap(vm, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, manual);
		break;
	case GUEST_DIRTY_RING:
		/* KVM allocates each vCPU's ring at KVM_CREATE_VCPU. */
		vm->ring_bytes = vm->opts.ring_bytes ?: DEFAULT_RING_BYTES;
		max = ioctl(vm->fd, KVM_CHECK_EXTENSION, KVM_CAP_DIRTY_LOG_RING);
		CHECK(max >= (int)vm->ring_bytes, "ring of %u bytes, KVM max %d",
		      vm->ring_bytes, max);
		enable_cap(vm, KVM_CAP_DIRTY_LOG_RING, vm->ring_bytes);
		break;
	}
}

static void *alloc_ram(struct guest_vm *vm, size_t size, int *memfd)
{
	void *p;

	*memfd = -1;
	if (!vm->opts.memfd) {
		p = mmap(NULL, size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p == MAP_FAILED)
			die_errno("mmap %zu bytes of guest RAM", size);
		return p;
	}
	*memfd = CHECK_SYS(memfd_create("kmig-guest", MFD_CLOEXEC));
	CHECK_SYS(ftruncate(*memfd, size));
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, *memfd, 0);
	if (p == MAP_FAILED)
		die_errno("mmap %zu bytes of memfd guest RAM", size);
	return p;
}

struct guest_slot *guest_vm_slot(struct guest_vm *vm, __u32 id)
{
	int i;

	for (i = 0; i < GUEST_MAX_SLOTS; i++)
		if (vm->slots[i].used && vm->slots[i].id == id)
			return &vm->slots[i];
	die("memslot %u does not exist", id);
}

__u64 guest_page_gpa(struct guest_vm *vm, __u32 slot, __u64 page)
{
	struct guest_slot *s = guest_vm_slot(vm, slot);

	CHECK(page < s->npages, "page %llu of slot %u (%llu pages)",
	      (unsigned long long)page, slot, (unsigned long long)s->npages);
	return s->gpa + page * GUEST_PAGE_SIZE;
}

struct guest_slot *guest_vm_add_slot(struct guest_vm *vm, __u32 id, __u64 gpa,
				     __u64 npages, __u32 flags)
{
	struct kvm_userspace_memory_region r;
	struct guest_slot *s = NULL;
	int i;

	for (i = 0; i < GUEST_MAX_SLOTS && !s; i++)
		if (!vm->slots[i].used)
			s = &vm->slots[i];
	CHECK(s, "more than %d memslots", GUEST_MAX_SLOTS);
	s->id = id;
	s->gpa = gpa;
	s->npages = npages;
	s->flags = flags;
	s->hva = alloc_ram(vm, npages * GUEST_PAGE_SIZE, &s->memfd);
	r = (struct kvm_userspace_memory_region) {
		.slot = id, .flags = flags, .guest_phys_addr = gpa,
		.memory_size = npages * GUEST_PAGE_SIZE,
		.userspace_addr = (unsigned long)s->hva,
	};
	if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &r))
		die_errno("KVM_SET_USER_MEMORY_REGION slot %u gpa 0x%llx", id,
			  (unsigned long long)gpa);
	s->used = true;
	return s;
}

int guest_vm_del_slot(struct guest_vm *vm, __u32 id)
{
	struct guest_slot *s = guest_vm_slot(vm, id);
	struct kvm_userspace_memory_region r = {
		.slot = id, .guest_phys_addr = s->gpa,
	};

	if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &r))
		return -errno;
	munmap(s->hva, s->npages * GUEST_PAGE_SIZE);
	if (s->memfd >= 0)
		close(s->memfd);
	memset(s, 0, sizeof(*s));
	return 0;
}

/*
 * Identity map of the first GUEST_MAPPED_GIB GiB with 1 GiB pages, a flat
 * GDT and the guest code. Accessed/Dirty bits are preset (also the GDT
 * descriptors' accessed and busy bits), so the CPU never writes to these
 * pages and the system memslot stays clean while tests track.
 */
static void setup_system_slot(struct guest_vm *vm)
{
	struct guest_slot *s = guest_vm_add_slot(vm, GUEST_SYS_SLOT,
		GUEST_SYS_GPA, GUEST_SYS_BYTES / GUEST_PAGE_SIZE,
		KVM_MEM_LOG_DIRTY_PAGES);
	char *sys = s->hva;
	__u64 *pml4 = (__u64 *)(sys + GUEST_PML4_GPA);
	__u64 *pdpt = (__u64 *)(sys + GUEST_PDPT_GPA);
	__u64 *gdt = (__u64 *)(sys + GUEST_GDT_GPA);
	__u64 tss = GUEST_TSS_GPA;
	size_t code = guest_code_end - guest_code_start;
	int i;

	/*
	 * khugepaged collapsing these pages would make KVM remap them, and a
	 * page KVM maps again on a guest read can be logged dirty.
	 */
	madvise(sys, GUEST_SYS_BYTES, MADV_NOHUGEPAGE);

	pml4[0] = GUEST_PDPT_GPA | PTE_P | PTE_RW | PTE_A;
	for (i = 0; i < GUEST_MAPPED_GIB; i++)
		pdpt[i] = ((__u64)i << 30) | PTE_P | PTE_RW | PTE_A | PTE_D |
			  PTE_PS;

	gdt[0] = 0;
	gdt[GUEST_CODE_SEL / 8] = 0x00af9b000000ffffULL; /* 64-bit code */
	gdt[GUEST_DATA_SEL / 8] = 0x00cf93000000ffffULL; /* flat data */
	gdt[GUEST_TSS_SEL / 8] = 0x67 | (tss & 0xffffff) << 16 |
				 0x8bULL << 40 | ((tss >> 24) & 0xff) << 56;
	gdt[GUEST_TSS_SEL / 8 + 1] = tss >> 32;

	CHECK(code <= GUEST_SCRATCH_GPA - GUEST_CODE_GPA, "guest code %zu", code);
	memcpy(sys + GUEST_CODE_GPA, guest_code_start, code);
}


struct guest_vm *guest_vm_create(const struct guest_vm_opts *opts)
{
	struct guest_vm *vm = calloc(1, sizeof(*vm));
	int i;

	CHECK(vm, "out of memory");
	CHECK(opts->nr_vcpus >= 0 && opts->nr_vcpus <= GUEST_MAX_VCPUS,
	      "%d vCPUs", opts->nr_vcpus);
	vm->opts = *opts;
	vm->kvm_fd = CHECK_SYS(open("/dev/kvm", O_RDWR | O_CLOEXEC));
	CHECK(ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0) == KVM_API_VERSION,
	      "KVM API version");
	vm->fd = CHECK_SYS(ioctl(vm->kvm_fd, KVM_CREATE_VM, 0));
	vm->run_size = CHECK_SYS(ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0));
	set_dirty_mode(vm);

	setup_system_slot(vm);
	if (opts->data_pages)
		guest_vm_add_slot(vm, GUEST_DATA_SLOT, GUEST_DATA_GPA,
				  opts->data_pages,
				  opts->data_no_log ? 0 : KVM_MEM_LOG_DIRTY_PAGES);

	for (i = 0; i < opts->nr_vcpus; i++)
		guest_vcpu_setup(vm, i);
	vm->nr_vcpus = opts->nr_vcpus;
	for (i = 0; i < vm->nr_vcpus; i++)
		guest_vcpu_warm_up(&vm->vcpus[i]);
	return vm;
}

void guest_vm_close_fds(struct guest_vm *vm)
{
	int i;

	for (i = 0; i < vm->nr_vcpus; i++) {
		struct guest_vcpu *v = &vm->vcpus[i];

		if (v->ring)
			munmap(v->ring, vm->ring_bytes);
		if (v->run)
			munmap(v->run, vm->run_size);
		if (v->fd >= 0)
			close(v->fd);
		v->ring = NULL;
		v->run = NULL;
		v->fd = -1;
	}
	if (vm->fd >= 0)
		close(vm->fd);
	vm->fd = -1;
}

void guest_vm_free(struct guest_vm *vm)
{
	int i;

	if (!vm)
		return;
	guest_vm_close_fds(vm);
	for (i = 0; i < GUEST_MAX_SLOTS; i++) {
		struct guest_slot *s = &vm->slots[i];

		if (!s->used)
			continue;
		munmap(s->hva, s->npages * GUEST_PAGE_SIZE);
		if (s->memfd >= 0)
			close(s->memfd);
	}
	close(vm->kvm_fd);
	free(vm);
}
