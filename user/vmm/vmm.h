/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kmig-vmm's state: one VM, its RAM, its vCPUs and the threads that run
 * them. Which file does what:
 *
 *   main.c          start-up and shut-down
 *   options.c       the command line
 *   vm.c            /dev/kvm, the VM, irqchip, dirty-log mode, memslots
 *   ram.c           guest RAM (anonymous or memfd) and its regions
 *   vcpu.c          vCPU creation and the KVM_RUN loop of each vCPU thread
 *   runctl.c        start, pause (kick and park), resume, quit
 *   pace.c          holding a vCPU's writes to a rate
 *   ring.c          KVM's dirty ring: who harvests a full ring
 *   boot.c          a fresh guest: page tables, GDT, code, long mode
 *   guest.S         the guest's code: the workloads
 *   workload.c      --workload, and each vCPU's slice of RAM
 *   hostwrite.c     the host-write device: the VMM writes guest RAM
 *   mark.c          reporting the VMM's own writes (KMIG_DIRTY_MARK)
 *   check.c         the workload checkers
 *   msrs.c          which MSRs the state blob carries
 *   state_save.c    VMM_GET_STATE's blob (layout in state.h)
 *   state_load.c    VMM_SET_STATE
 *   server.c        the control socket and the main thread's event loop
 *   requests.c      what each control request does (kmig_vmm.h)
 *   hold.c          the migration hold: who migrates, what if it goes away
 *   postcopy.c      postcopy: the userfaultfd, discarded pages, orphans
 *   status.c        VMM_STATUS: run state and the guest's progress
 *   util.c          diagnostics and clocks
 */
#ifndef KMIG_VMM_VMM_H
#define KMIG_VMM_VMM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <linux/kvm.h>

#include "guest_layout.h"
#include "hold.h"
#include "mark.h"
#include "options.h"
#include "pace.h"
#include "postcopy.h"
#include "ram.h"
#include "workload.h"

struct vmm;

struct vmm_vcpu {
	struct vmm *vmm;
	int id;
	int fd;
	struct kvm_run *run;
	struct kvm_dirty_gfn *ring;	/* mapped dirty ring, or NULL */
	pthread_t thread;
	struct pace pace;

	/* Under vmm->lock. */
	bool parked;			/* out of KVM_RUN, waiting */
	bool failed;			/* stopped on an exit it cannot handle */
	char failure[160];

	/* The vCPU thread's own. */
	bool exit_pending;		/* KVM_RUN returned an exit to complete */
	bool done_reported;
	uint64_t pages_written;		/* from the guest's pacing exits */
	uint64_t hostwrites;		/* host-write requests served */
	uint64_t ring_full_waits;
};

struct vmm {
	struct vmm_options opt;
	struct workload wl;
	bool have_workload;	/* false on --incoming until VMM_SET_STATE */
	bool state_loaded;	/* VMM_SET_STATE succeeded */

	int kvm_fd;
	int vm_fd;
	size_t run_size;
	struct ram ram;
	int nr_vcpus;
	struct vmm_vcpu vcpu[GUEST_MAX_VCPUS];

	/* MSRs the vCPUs can read, from KVM_GET_MSR_INDEX_LIST (msrs.c). */
	uint32_t *msr_index;
	uint32_t nr_msrs;
	uint32_t xsave_size;	/* KVM_GET_XSAVE2 size, 0 = KVM_GET_XSAVE */

	/* Run control (runctl.c). vCPUs run while started && !paused. */
	pthread_mutex_t lock;
	pthread_cond_t wake;	/* vCPU threads wait here */
	pthread_cond_t parked_cond; /* the pauser waits here */
	bool started;
	bool paused;
	bool quit;
	int nr_parked;
	uint64_t start_ns;

	/*
	 * Dirty ring harvesting (ring.c): while no control client holds the
	 * VM fd, nobody migrates, and a vCPU with a full ring empties it
	 * itself; ring_lock orders that against a client taking over.
	 */
	pthread_mutex_t ring_lock;
	int ring_claims;

	/* The migration hold (hold.c); the main thread's only. */
	struct hold hold;

	/* Postcopy's userfaultfd (postcopy.c); the main thread's only. */
	struct postcopy postcopy;

	/* The VMM's own writes to guest RAM, reported (mark.c). */
	struct mark mark;
};

#endif /* KMIG_VMM_VMM_H */
