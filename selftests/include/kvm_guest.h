/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A minimal KVM VMM for the kmig selftests: a VM in one of KVM's three
 * dirty-logging modes, guest RAM in memslots with KVM_MEM_LOG_DIRTY_PAGES,
 * and 1..4 vCPUs in 64-bit long mode that run lib/guest_code.S to write a
 * chosen list of pages and exit.
 *
 * Functions here abort (see die()) on anything KVM must not refuse; tests
 * probe optional features with guest_dirty_mode_supported() first.
 */
#ifndef KMIG_SELFTEST_KVM_GUEST_H
#define KMIG_SELFTEST_KVM_GUEST_H

#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>
#include <linux/kvm.h>

#include "guest_layout.h"

#define GUEST_MAX_VCPUS	4
#define GUEST_MAX_SLOTS	8

enum guest_dirty_mode {
	GUEST_DIRTY_BITMAP,		/* KVM_GET_DIRTY_LOG clears on read */
	GUEST_DIRTY_MANUAL,		/* MANUAL_PROTECT2 */
	GUEST_DIRTY_MANUAL_INITSET,	/* MANUAL_PROTECT2 + INITIALLY_SET */
	GUEST_DIRTY_RING,		/* KVM_CAP_DIRTY_LOG_RING */
};

struct guest_vm_opts {
	enum guest_dirty_mode mode;
	__u32 ring_bytes;	/* ring mode: bytes per vCPU ring; 0: 64 KiB */
	__u64 data_pages;	/* pages in the data memslot (slot 0) */
	bool memfd;		/* back guest RAM by a memfd, not anonymous */
	bool data_no_log;	/* data memslot without KVM_MEM_LOG_DIRTY_PAGES */
	int nr_vcpus;		/* 0..GUEST_MAX_VCPUS */
};

struct guest_slot {
	bool used;
	__u32 id;
	__u32 flags;		/* KVM_MEM_* */
	__u64 gpa;
	__u64 npages;
	void *hva;
	int memfd;		/* -1 for anonymous memory */
};

struct guest_vm;

struct guest_vcpu {
	struct guest_vm *vm;
	int id;
	int fd;
	struct kvm_run *run;
	struct kvm_dirty_gfn *ring;	/* ring mode: KVM's ring, mmapped */
	__u32 ring_entries;
	__u32 ring_fetch;		/* next entry guest_kvm_harvest() reads */
	__u64 *list;			/* hva of this vCPU's page list */
	__u64 list_gpa;
	unsigned long ring_full_exits;	/* KVM_EXIT_DIRTY_RING_FULL seen */
	unsigned long runs;
};

/*
 * Called on the vCPU's thread after KVM_EXIT_DIRTY_RING_FULL; it must empty
 * the ring (KMIG_DIRTY_SYNC) before the run loop re-enters KVM_RUN.
 */
typedef void (*guest_ring_full_fn)(struct guest_vcpu *vcpu, void *opaque);

struct guest_vm {
	int kvm_fd;		/* /dev/kvm */
	int fd;			/* the VM; -1 once guest_vm_close_fds() ran */
	struct guest_vm_opts opts;
	__u32 ring_bytes;
	size_t run_size;
	struct guest_slot slots[GUEST_MAX_SLOTS];
	int nr_vcpus;
	struct guest_vcpu vcpus[GUEST_MAX_VCPUS];
	guest_ring_full_fn ring_full;
	void *ring_full_opaque;
};

const char *guest_dirty_mode_name(enum guest_dirty_mode mode);
/* Whether /dev/kvm exists and supports @mode; on false, @why says why. */
bool guest_dirty_mode_supported(enum guest_dirty_mode mode, const char **why);

/* Creates the VM, its memslots and vCPUs, and warms the vCPUs up. */
struct guest_vm *guest_vm_create(const struct guest_vm_opts *opts);
/* Closes the VM and vCPU fds (what a VMM's exit does); memory stays. */
void guest_vm_close_fds(struct guest_vm *vm);
void guest_vm_free(struct guest_vm *vm);

/*
 * Adds memslot @id of @npages at @gpa (GUEST_EXTRA_GPA(n) for extra slots)
 * with KVM_MEM_* @flags, backed like the VM's other RAM.
 */
struct guest_slot *guest_vm_add_slot(struct guest_vm *vm, __u32 id, __u64 gpa,
				     __u64 npages, __u32 flags);
/* Raw KVM_SET_USER_MEMORY_REGION size 0: returns 0 or -errno. */
int guest_vm_del_slot(struct guest_vm *vm, __u32 id);
struct guest_slot *guest_vm_slot(struct guest_vm *vm, __u32 id);
__u64 guest_page_gpa(struct guest_vm *vm, __u32 slot, __u64 page);

/* One KVM_RUN to completion: the guest stores @val in each page in @gpas. */
void guest_vcpu_write_gpas(struct guest_vcpu *vcpu, const __u64 *gpas,
			   __u64 n, __u8 val);
/* Same, for page indices of memslot @slot. */
void guest_vcpu_write_pages(struct guest_vcpu *vcpu, __u32 slot,
			    const __u64 *pages, __u64 n, __u8 val);
/* Pages [first, first + n) of memslot @slot. */
void guest_vcpu_write_range(struct guest_vcpu *vcpu, __u32 slot, __u64 first,
			    __u64 n, __u8 val);
/* A run that writes nothing. */
void guest_vcpu_idle(struct guest_vcpu *vcpu);
/*
 * All vCPUs at once, each on its own thread: vCPU i writes pages[i][0..n[i])
 * of memslot @slot. Returns when every vCPU has finished its run.
 */
void guest_vm_write_parallel(struct guest_vm *vm, __u32 slot,
			     const __u64 *const *pages, const __u64 *n, __u8 val);

/*
 * KVM's own dirty log for memslot @slot, without kmig: GET_DIRTY_LOG (and
 * CLEAR_DIRTY_LOG in manual modes) or a walk of every vCPU's ring followed
 * by KVM_RESET_DIRTY_RINGS. ORs the pages into @bitmap, and those of the
 * system memslot into @sys unless it is NULL. Ring entries of other
 * memslots are dropped; returns their number (0 in bitmap modes).
 */
__u64 guest_kvm_harvest(struct guest_vm *vm, __u32 slot, __u64 *bitmap,
			__u64 *sys);

/*
 * A VMM in a child process, for lifetime tests: the child creates a bitmap
 * mode VM with @data_pages and one vCPU, sends the VM fd over a unix socket
 * (SCM_RIGHTS) and then keeps its guest writing pages until it is killed or
 * the socket closes.
 */
struct guest_child {
	pid_t pid;
	int sock;
	int vm_fd;		/* the parent's copy of the VM fd */
	int child_vm_fd;	/* the fd number in the child (debugfs name) */
};
void guest_child_spawn(struct guest_child *child, __u64 data_pages);
/* SIGKILL and reap the child. */
void guest_child_kill(struct guest_child *child);

/*
 * KVM names each VM's debugfs directory "<pid>-<vm fd>" and removes it only
 * when the VM is destroyed: tests use it to see whether a struct kvm leaked.
 * guest_debugfs_ready() mounts debugfs when needed.
 */
bool guest_debugfs_ready(void);
void guest_debugfs_vm_dir(char *buf, size_t len, pid_t pid, int vm_fd);
/* Polls up to @ms for @path to (dis)appear; returns whether it exists. */
bool guest_path_exists_after(const char *path, bool want, int ms);

#endif /* KMIG_SELFTEST_KVM_GUEST_H */
