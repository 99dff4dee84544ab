// SPDX-License-Identifier: GPL-2.0
/*
 * Booting a fresh guest (source VMM only). The destination of a migration
 * gets all of this from the source: the system area with the rest of RAM,
 * the vCPU state through VMM_SET_STATE.
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "boot.h"
#include "util.h"
#include "vmm.h"

#define X86_CR0_PE	(1ULL << 0)
#define X86_CR0_NE	(1ULL << 5)
#define X86_CR0_PG	(1ULL << 31)
#define X86_CR4_PAE	(1ULL << 5)
#define X86_CR4_OSFXSR	(1ULL << 9)
#define EFER_LME	(1ULL << 8)
#define EFER_LMA	(1ULL << 10)

#define PTE_P		(1ULL << 0)
#define PTE_RW		(1ULL << 1)
#define PTE_A		(1ULL << 5)
#define PTE_D		(1ULL << 6)
#define PTE_PS		(1ULL << 7)

/* Flat 64-bit code, flat data, as the GDT holds them. */
#define GDT_CODE64	0x00af9b000000ffffULL
#define GDT_DATA	0x00cf93000000ffffULL
#define TSS_LIMIT	0x67
#define TSS_TYPE_BUSY64	0xb
#define IDT_INTERRUPT_GATE 0x8e	/* present, DPL 0, 64-bit interrupt gate */

/* Where RAM offset @off (GiB-aligned) sits in guest-physical space. */
static uint64_t ram_gpa(uint64_t off)
{
	return off < GUEST_LOW_END ? off :
	       off - GUEST_LOW_END + GUEST_HIGH_START;
}

/*
 * Identity-like map with 1 GiB pages: virtual == RAM offset, hiding the
 * PCI hole. Accessed and Dirty are preset so that the CPU never writes
 * the page tables, and they never show up in the dirty log.
 */
static void write_page_tables(struct vmm *vmm)
{
	uint64_t *pml4 = (uint64_t *)(vmm->ram.base + GUEST_PML4);
	uint64_t *pdpt = (uint64_t *)(vmm->ram.base + GUEST_PDPT);
	uint64_t gib;

	pml4[0] = GUEST_PDPT | PTE_P | PTE_RW | PTE_A;
	for (gib = 0; gib * GIB < vmm->ram.size; gib++)
		pdpt[gib] = ram_gpa(gib * GIB) | PTE_P | PTE_RW | PTE_A |
			    PTE_D | PTE_PS;
}

static void write_gdt(struct vmm *vmm)
{
	uint64_t *gdt = (uint64_t *)(vmm->ram.base + GUEST_GDT);
	uint64_t base = GUEST_TSS;

	gdt[GUEST_CODE_SEL / 8] = GDT_CODE64;
	gdt[GUEST_DATA_SEL / 8] = GDT_DATA;
	/* A 64-bit TSS descriptor takes two slots. */
	gdt[GUEST_TSS_SEL / 8] = TSS_LIMIT | (base & 0xffffff) << 16 |
				 (uint64_t)TSS_TYPE_BUSY64 << 40 | 1ULL << 47 |
				 (base >> 24 & 0xff) << 56;
	gdt[GUEST_TSS_SEL / 8 + 1] = base >> 32;
}

static void write_block(struct vmm *vmm, int id)
{
	uint64_t *blk = (uint64_t *)(vmm->ram.base + GUEST_BLOCK(id));
	struct workload_slice s;

	workload_slice(&vmm->wl, vmm->ram.size, vmm->nr_vcpus, id, &s);
	blk[BLK_MODE / 8] = s.mode;
	blk[BLK_FIRST / 8] = s.first;
	blk[BLK_PAGES / 8] = s.pages;
	blk[BLK_BATCH / 8] = s.batch;
	blk[BLK_SEED / 8] = s.seed;
	blk[BLK_TOUCH / 8] = s.touch;
	blk[BLK_STRIDE / 8] = s.stride;
	blk[BLK_RING / 8] = s.ring;
}

/* 64-bit interrupt gates to guest_isr's stubs. */
static void write_idt(struct vmm *vmm)
{
	uint64_t *idt = (uint64_t *)(vmm->ram.base + GUEST_IDT);
	uint64_t isr, i;

	for (i = 0; i < GUEST_IDT_ENTRIES; i++) {
		isr = GUEST_CODE + (guest_isr - guest_code_start) +
		      i * GUEST_ISR_SIZE;
		idt[2 * i] = (isr & 0xffff) | (uint64_t)GUEST_CODE_SEL << 16 |
			     (uint64_t)IDT_INTERRUPT_GATE << 40 |
			     (isr >> 16 & 0xffff) << 48;
		idt[2 * i + 1] = isr >> 32;
	}
}

void boot_write_memory(struct vmm *vmm)
{
	size_t code_len = guest_code_end - guest_code_start;
	int id;

	if (code_len > GUEST_CODE_MAX)
		vmm_die("guest code is %zu bytes, room for %u", code_len,
			GUEST_CODE_MAX);
	write_page_tables(vmm);
	write_gdt(vmm);
	write_idt(vmm);
	memcpy(vmm->ram.base + GUEST_CODE, guest_code_start, code_len);
	for (id = 0; id < vmm->nr_vcpus; id++)
		write_block(vmm, id);
}

static void set_long_mode(struct vmm_vcpu *v)
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
		.base = GUEST_TSS, .limit = TSS_LIMIT, .selector = GUEST_TSS_SEL,
		.type = TSS_TYPE_BUSY64, .present = 1,
	};
	struct kvm_sregs sregs;

	if (ioctl(v->fd, KVM_GET_SREGS, &sregs))
		vmm_die_errno("KVM_GET_SREGS");
	sregs.cs = code;
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
	sregs.tr = tss;
	memset(&sregs.ldt, 0, sizeof(sregs.ldt));
	sregs.ldt.unusable = 1;
	sregs.gdt.base = GUEST_GDT;
	sregs.gdt.limit = GUEST_TSS_SEL + 16 - 1;
	/* Interrupts stay off; the IDT turns surprises into reports. */
	sregs.idt.base = GUEST_IDT;
	sregs.idt.limit = GUEST_IDT_ENTRIES * 16 - 1;
	sregs.cr0 = X86_CR0_PE | X86_CR0_NE | X86_CR0_PG;
	sregs.cr3 = GUEST_PML4;
	sregs.cr4 = X86_CR4_PAE | X86_CR4_OSFXSR;
	sregs.efer = EFER_LME | EFER_LMA;
	if (ioctl(v->fd, KVM_SET_SREGS, &sregs))
		vmm_die_errno("KVM_SET_SREGS (long mode)");
}

void boot_vcpu(struct vmm *vmm, int id)
{
	struct vmm_vcpu *v = &vmm->vcpu[id];
	struct kvm_regs regs = {
		.rip = GUEST_CODE + (guest_entry - guest_code_start),
		.rdi = GUEST_BLOCK(id),
		.rsp = GUEST_STACK_TOP(id),
		.rflags = 2,	/* bit 1 is reserved and must be set */
	};

	set_long_mode(v);
	if (ioctl(v->fd, KVM_SET_REGS, &regs))
		vmm_die_errno("KVM_SET_REGS");
}
