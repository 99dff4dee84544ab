// SPDX-License-Identifier: GPL-2.0
/*
 * vCPUs in 64-bit long mode, entered directly through KVM_SET_SREGS (no
 * firmware, no mode switch in the guest), and the run loop that drives the
 * routines of guest_code.S.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "kvm_internal.h"
#include "test_util.h"

#define X86_CR0_PE	(1ULL << 0)
#define X86_CR0_NE	(1ULL << 5)
#define X86_CR0_PG	(1ULL << 31)
#define X86_CR4_PAE	(1ULL << 5)
#define X86_CR4_OSFXSR	(1ULL << 9)
#define EFER_LME	(1ULL << 8)
#define EFER_LMA	(1ULL << 10)

/* A handler that leaves the ring full makes KVM_RUN exit at once again. */
#define MAX_STUCK_RING_FULL	100

extern const char guest_code_start[], guest_write_list[], guest_write_range[];

static __u64 code_gpa(const char *routine)
{
	return GUEST_CODE_GPA + (routine - guest_code_start);
}

/* The guest gets what KVM supports, as KVM's own selftests do. */
static void set_cpuid(struct guest_vm *vm, struct guest_vcpu *v)
{
	struct kvm_cpuid2 *cpuid;
	int nent = 128;

	for (;;) {
		cpuid = calloc(1, sizeof(*cpuid) +
				  nent * sizeof(struct kvm_cpuid_entry2));
		CHECK(cpuid, "out of memory");
		cpuid->nent = nent;
		if (!ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid))
			break;
		if (errno != E2BIG)
			die_errno("KVM_GET_SUPPORTED_CPUID");
		free(cpuid);
		nent *= 2;
	}
	if (ioctl(v->fd, KVM_SET_CPUID2, cpuid))
		die_errno("KVM_SET_CPUID2");
	free(cpuid);
}

static void set_long_mode(struct guest_vcpu *v)
{
	struct kvm_segment code = {
		.limit = 0xffffffff, .selector = GUEST_CODE_SEL, .type = 11,
		.present = 1, .s = 1, .l = 1, .g = 1,
	};
	struct kvm_segment data = {
		.limit = 0xffffffff, .selector = GUEST_DATA_SEL, .type = 3,
		.present = 1, .s = 1, .db = 1, .g = 1,
	};
	struct kvm_segment tss = {
		.base = GUEST_TSS_GPA, .limit = 0x67, .selector = GUEST_TSS_SEL,
		.type = 11, .present = 1,
	};
	struct kvm_sregs sregs;

	if (ioctl(v->fd, KVM_GET_SREGS, &sregs))
		die_errno("KVM_GET_SREGS");
	sregs.cs = code;
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
	sregs.tr = tss;
	memset(&sregs.ldt, 0, sizeof(sregs.ldt));
	sregs.ldt.unusable = 1;
	sregs.gdt.base = GUEST_GDT_GPA;
	sregs.gdt.limit = GUEST_TSS_SEL + 16 - 1;
	sregs.idt.base = 0;
	sregs.idt.limit = 0;
	sregs.cr0 = X86_CR0_PE | X86_CR0_NE | X86_CR0_PG;
	sregs.cr3 = GUEST_PML4_GPA;
	sregs.cr4 = X86_CR4_PAE | X86_CR4_OSFXSR;
	sregs.efer = EFER_LME | EFER_LMA;
	if (ioctl(v->fd, KVM_SET_SREGS, &sregs))
		die_errno("KVM_SET_SREGS (long mode)");
}

void guest_vcpu_setup(struct guest_vm *vm, int id)
{
	struct guest_vcpu *v = &vm->vcpus[id];
	char *sys = guest_vm_slot(vm, GUEST_SYS_SLOT)->hva;

	v->vm = vm;
	v->id = id;
	v->fd = CHECK_SYS(ioctl(vm->fd, KVM_CREATE_VCPU, id));
	v->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      v->fd, 0);
	if (v->run == MAP_FAILED)
		die_errno("mmap kvm_run");
	if (vm->opts.mode == GUEST_DIRTY_RING) {
		v->ring = mmap(NULL, vm->ring_bytes, PROT_READ | PROT_WRITE,
			       MAP_SHARED, v->fd,
			       KVM_DIRTY_LOG_PAGE_OFFSET * getpagesize());
		if (v->ring == MAP_FAILED)
			die_errno("mmap dirty ring");
		v->ring_entries = vm->ring_bytes / sizeof(struct kvm_dirty_gfn);
	}
	v->list_gpa = GUEST_LIST_GPA + id * GUEST_LIST_BYTES;
	v->list = (__u64 *)(sys + v->list_gpa);
	set_cpuid(vm, v);
	set_long_mode(v);
}

static void get_regs(struct guest_vcpu *v, struct kvm_regs *regs)
{
	if (ioctl(v->fd, KVM_GET_REGS, regs))
		die_errno("KVM_GET_REGS");
}

static void run(struct guest_vcpu *v, const char *routine, __u64 rdi,
		__u64 rsi, __u64 rdx)
{
	struct kvm_regs regs = {
		.rip = code_gpa(routine), .rdi = rdi, .rsi = rsi, .rdx = rdx,
		.rflags = 2,	/* bit 1 is reserved and must be set */
	};
	struct guest_vm *vm = v->vm;
	__u64 last_rdi = ~0ULL;
	int stuck = 0;

	if (ioctl(v->fd, KVM_SET_REGS, &regs))
		die_errno("KVM_SET_REGS");
	for (;;) {
		if (ioctl(v->fd, KVM_RUN, 0)) {
			if (errno == EINTR)
				continue;
			die_errno("KVM_RUN (vCPU %d)", v->id);
		}
		switch (v->run->exit_reason) {
		case KVM_EXIT_IO:
			if (v->run->io.direction != KVM_EXIT_IO_OUT ||
			    v->run->io.port != GUEST_DONE_PORT)
				break;
			v->runs++;
			return;
		case KVM_EXIT_DIRTY_RING_FULL:
			v->ring_full_exits++;
			CHECK(vm->ring_full, "vCPU %d: dirty ring full and no handler",
			      v->id);
			/* RDI walks the list: unchanged means no progress. */
			get_regs(v, &regs);
			stuck = regs.rdi == last_rdi ? stuck + 1 : 0;
			last_rdi = regs.rdi;
			CHECK(stuck < MAX_STUCK_RING_FULL,
			      "vCPU %d: dirty ring still full after %d handler calls",
			      v->id, stuck);
			vm->ring_full(v, vm->ring_full_opaque);
			continue;
		case KVM_EXIT_INTR:
			continue;
		}
		get_regs(v, &regs);
		/* A shutdown here is how a host without nested 64-bit fails. */
		die("vCPU %d: unexpected exit %u%s (io port 0x%x) at rip 0x%llx",
		    v->id, v->run->exit_reason,
		    v->run->exit_reason == KVM_EXIT_SHUTDOWN ?
		    " (KVM_EXIT_SHUTDOWN: triple fault)" : "",
		    v->run->io.port, (unsigned long long)regs.rip);
	}
}

void guest_vcpu_write_gpas(struct guest_vcpu *v, const __u64 *gpas, __u64 n,
			   __u8 val)
{
	CHECK(n <= GUEST_LIST_ENTRIES, "%llu pages in one run",
	      (unsigned long long)n);
	/*
	 * The host's stores into the list are invisible to KVM's dirty log;
	 * the list pages were mapped by the warm-up, so the guest's reads of
	 * them cause no faults and no dirty entries.
	 */
	memcpy(v->list, gpas, n * sizeof(*gpas));
	run(v, guest_write_list, v->list_gpa, n, val);
}

void guest_vcpu_write_pages(struct guest_vcpu *v, __u32 slot,
			    const __u64 *pages, __u64 n, __u8 val)
{
	__u64 *gpas = malloc((n ?: 1) * sizeof(*gpas)), i;

	CHECK(gpas, "out of memory");
	for (i = 0; i < n; i++)
		gpas[i] = guest_page_gpa(v->vm, slot, pages[i]);
	guest_vcpu_write_gpas(v, gpas, n, val);
	free(gpas);
}

void guest_vcpu_write_range(struct guest_vcpu *v, __u32 slot, __u64 first,
			    __u64 n, __u8 val)
{
	if (n)
		guest_page_gpa(v->vm, slot, first + n - 1); /* range check */
	run(v, guest_write_range, n ? guest_page_gpa(v->vm, slot, first) : 0,
	    n, val);
}

void guest_vcpu_idle(struct guest_vcpu *v)
{
	run(v, guest_write_list, v->list_gpa, 0, 0);
}

/*
 * Touch every page the guest itself uses (code, GDT, page tables, the whole
 * list area) once before any tracking starts: KVM may log a page as dirty
 * when it first maps it for a guest read, and that must not show up in a
 * tracked round. The stores go to the scratch page of the system memslot.
 */
void guest_vcpu_warm_up(struct guest_vcpu *v)
{
	__u64 i;

	for (i = 0; i < GUEST_LIST_ENTRIES; i++)
		v->list[i] = GUEST_SCRATCH_GPA;
	run(v, guest_write_list, v->list_gpa, GUEST_LIST_ENTRIES, 0);
	run(v, guest_write_range, GUEST_SCRATCH_GPA, 1, 0);
}

struct parallel_job {
	struct guest_vcpu *vcpu;
	__u32 slot;
	const __u64 *pages;
	__u64 n;
	__u8 val;
};

static void *parallel_worker(void *arg)
{
	struct parallel_job *job = arg;

	guest_vcpu_write_pages(job->vcpu, job->slot, job->pages, job->n,
			       job->val);
	return NULL;
}

void guest_vm_write_parallel(struct guest_vm *vm, __u32 slot,
			     const __u64 *const *pages, const __u64 *n, __u8 val)
{
	struct parallel_job jobs[GUEST_MAX_VCPUS];
	pthread_t threads[GUEST_MAX_VCPUS];
	int i, r;

	for (i = 0; i < vm->nr_vcpus; i++) {
		jobs[i] = (struct parallel_job) {
			.vcpu = &vm->vcpus[i], .slot = slot, .pages = pages[i],
			.n = n[i], .val = val,
		};
		r = pthread_create(&threads[i], NULL, parallel_worker, &jobs[i]);
		CHECK(!r, "pthread_create: %s", strerror(r));
	}
	for (i = 0; i < vm->nr_vcpus; i++)
		pthread_join(threads[i], NULL);
}
